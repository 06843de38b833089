/* mkdocs-onnx: the comparison index of a model zoo (models/index.html).
 *
 * - sorts the table by any column: numbers by the exact value in their data-sort
 *   attribute, text alphabetically; cells without a value (n/a, or a model that could
 *   not be analysed) stay last, in either direction;
 * - filters the rows by name, task, tag and family (search box) and by task and family
 *   (the two selects);
 * - adds a checkbox column: "Compare selected" shows the ticked models side by side,
 *   with each figure's difference from the first model ticked; built from the table
 *   itself, so it works offline and from any static host. The URL keeps the selection
 *   (#compare=slug,slug) so a comparison can be shared.
 *
 * No dependency. Runs on every page load, including Material's instant navigation
 * (document$), and falls back to DOMContentLoaded on other themes.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- number formats
  // The same conventions as mkdocs_onnx/units.py: 3 significant figures,
  // decimal prefixes for counts and FLOPs, binary prefixes for bytes.

  function sig3(x) {
    if (x === 0) return "0";
    x = Number(x.toPrecision(3));
    if (x >= 100) return x.toFixed(0);
    if (x >= 10) return x.toFixed(1);
    if (x >= 1) return x.toFixed(2);
    return x.toFixed(2 - Math.floor(Math.log10(x)));
  }

  function grouped(n) {
    return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function scaled(n, base, prefixes) {
    var i = 0;
    while (n >= base && i < prefixes.length - 1) { n /= base; i += 1; }
    var text = sig3(n);
    if (Number(text) >= 1000 && i < prefixes.length - 1) { n /= base; i += 1; text = sig3(n); }
    return text + " " + prefixes[i];
  }

  var FORMAT = {
    count: function (n) {
      if (n < 10000) return Number.isInteger(n) ? grouped(n) : sig3(n);
      return scaled(n, 1000, ["", "K", "M", "B", "T"]);
    },
    flops: function (n) {
      if (n < 1000) return (Number.isInteger(n) ? grouped(n) : sig3(n)) + " FLOPs";
      return scaled(n, 1000, ["", "K", "M", "G", "T", "P", "E"]) + "FLOPs";
    },
    bytes: function (n) {
      if (n < 1024) return grouped(n) + " B";
      return scaled(n, 1024, ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]) + "B";
    },
    s: function (n) {
      if (n === 0) return "0 s";
      var steps = [[1, "s"], [1e-3, "ms"], [1e-6, "\u00b5s"], [1e-9, "ns"]];
      var bigger = { ms: "s", "\u00b5s": "ms", ns: "\u00b5s" };
      for (var i = 0; i < steps.length; i += 1) {
        var scale = steps[i][0], unit = steps[i][1];
        if (n >= scale || unit === "ns") {
          var v = n / scale;
          if (v >= 1000 && unit === "s") return grouped(v) + " s";
          var text = sig3(v);
          if (Number(text) >= 1000 && unit !== "s") return sig3(Number(text) / 1000) + " " + bigger[unit];
          return text + " " + unit;
        }
      }
      return "n/a";
    }
  };

  function percent(fraction) {
    var p = Math.abs(fraction) * 100;
    if (p === 0) return "0%";
    var text = p >= 100 ? p.toFixed(0) : sig3(p);
    if (text === "100" && p !== 100) text = String(Number(p.toPrecision(4))); // 99.97%, not 100%
    return text + "%";
  }

  /* "+1.20 M (+40.0%)": value against base, in the column's unit. */
  function difference(value, base, unit) {
    var d = value - base;
    if (d === 0) return { text: "same", direction: "same" };
    var sign = d > 0 ? "+" : "-";
    var text = sign + FORMAT[unit](Math.abs(d));
    if (base !== 0) text += " (" + sign + percent(d / base) + ")";
    return { text: text, direction: d > 0 ? "up" : "down" };
  }

  // ---------------------------------------------------------------- helpers

  function text(el) {
    return (el.textContent || "").replace(/\s+/g, " ").trim();
  }

  function make(tag, attrs, content) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (content !== undefined) el.textContent = content;
    return el;
  }

  function number(raw) {
    return raw === "" || raw === null ? NaN : Number(raw);
  }

  var collator = typeof Intl !== "undefined" && Intl.Collator
    ? new Intl.Collator(undefined, { numeric: true, sensitivity: "base" })
    : { compare: function (a, b) { return a < b ? -1 : a > b ? 1 : 0; } };

  // ---------------------------------------------------------------- the index

  function init() {
    var table = document.getElementById("model-index");
    if (!table || table.hasAttribute("data-onnx-ready") || !table.tHead || !table.tBodies.length) return;
    table.setAttribute("data-onnx-ready", "");
    var head = table.tHead.rows[0];
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var state = { selected: [] };

    addSelectColumn(head, rows, state);
    markColumns(head, rows);
    setUpSorting(head, tbody);
    setUpFilter(rows);
    setUpCompare(head, rows, state);
    var controls = document.getElementById("model-index-controls");
    if (controls) controls.hidden = false;
  }

  function addSelectColumn(head, rows, state) {
    var th = make("th", { "class": "onnx-select", scope: "col", title: "Tick models to compare them side by side" });
    th.appendChild(make("span", { "class": "onnx-sr-only" }, "Compare"));
    head.insertBefore(th, head.cells[0]);
    rows.forEach(function (row) {
      var slug = row.getAttribute("data-slug") || "";
      var name = row.getAttribute("data-name") || slug;
      var td = make("td", { "class": "onnx-select" });
      var box = make("input", { type: "checkbox", value: slug, "aria-label": "Compare " + name });
      td.appendChild(box);
      row.insertBefore(td, row.cells[0]);
      box.addEventListener("change", function () {
        var at = state.selected.indexOf(slug);
        if (box.checked && at < 0) state.selected.push(slug);
        if (!box.checked && at >= 0) state.selected.splice(at, 1);
        if (state.onChange) state.onChange();
      });
    });
  }

  function markColumns(head, rows) {
    Array.prototype.forEach.call(head.cells, function (th, i) {
      var cls = th.getAttribute("data-sort-method") === "number" ? "onnx-num" : i === 1 ? "onnx-model" : "";
      if (!cls) return;
      th.classList.add(cls);
      rows.forEach(function (row) { if (row.cells[i]) row.cells[i].classList.add(cls); });
    });
  }

  function sortKey(cell, numeric) {
    var raw = cell ? (cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : text(cell)) : "";
    if (numeric) {
      var n = number(raw);
      return { empty: isNaN(n), value: n };
    }
    return { empty: raw === "", value: raw };
  }

  function setUpSorting(head, tbody) {
    Array.prototype.forEach.call(head.cells, function (th) {
      if (th.classList.contains("onnx-select")) return;
      var button = make("button", { type: "button", "class": "onnx-sort" });
      while (th.firstChild) button.appendChild(th.firstChild);
      button.title = "Sort by " + (th.getAttribute("data-label") || text(button));
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(head.cells, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        sortRows(tbody, th.cellIndex, th.getAttribute("data-sort-method") === "number", ascending ? 1 : -1);
      });
    });
  }

  function sortRows(tbody, index, numeric, direction) {
    var keyed = Array.prototype.map.call(tbody.rows, function (row, position) {
      var key = sortKey(row.cells[index], numeric);
      return { row: row, position: position, empty: key.empty, value: key.value };
    });
    keyed.sort(function (a, b) {
      if (a.empty !== b.empty) return a.empty ? 1 : -1; // no value: last, either way
      var c = 0;
      if (!a.empty) c = numeric ? a.value - b.value : collator.compare(a.value, b.value);
      return c !== 0 ? c * direction : a.position - b.position; // ties keep their order
    });
    keyed.forEach(function (k) { tbody.appendChild(k.row); });
  }

  function setUpFilter(rows) {
    var search = document.getElementById("model-filter");
    var task = document.getElementById("model-filter-task");
    var family = document.getElementById("model-filter-family");
    var count = document.getElementById("model-filter-count");
    var haystacks = rows.map(function (row) {
      return ["name", "task", "family", "tags"].map(function (k) {
        return row.getAttribute("data-" + k) || "";
      }).join(" ").toLowerCase();
    });

    function apply() {
      var words = search ? search.value.toLowerCase().split(/\s+/).filter(Boolean) : [];
      var t = task ? task.value : "";
      var f = family ? family.value : "";
      var shown = 0;
      rows.forEach(function (row, i) {
        var visible = (!t || row.getAttribute("data-task") === t)
          && (!f || row.getAttribute("data-family") === f)
          && words.every(function (w) { return haystacks[i].indexOf(w) >= 0; });
        row.hidden = !visible;
        if (visible) shown += 1;
      });
      if (count) {
        count.textContent = shown === rows.length
          ? rows.length + (rows.length === 1 ? " model" : " models")
          : shown + " of " + rows.length + " models shown";
      }
    }

    if (search) {
      search.addEventListener("input", apply);
      search.addEventListener("keydown", function (event) {
        if (event.key === "Escape") { search.value = ""; apply(); }
      });
    }
    if (task) task.addEventListener("change", apply);
    if (family) family.addEventListener("change", apply);
    apply();
  }

  // ---------------------------------------------------------------- compare selected

  function setUpCompare(head, rows, state) {
    var button = document.getElementById("model-compare");
    var clear = document.getElementById("model-compare-clear");
    var panel = document.getElementById("model-compare-panel");
    if (!button || !panel) return;
    var bySlug = {};
    rows.forEach(function (row) { bySlug[row.getAttribute("data-slug")] = row; });

    function boxOf(slug) {
      var row = bySlug[slug];
      return row ? row.querySelector("td.onnx-select input") : null;
    }

    function update() {
      var n = state.selected.length;
      button.disabled = n < 2;
      button.textContent = n ? "Compare selected (" + n + ")" : "Compare selected";
      if (clear) clear.disabled = n === 0;
      if (!panel.hidden) {
        if (n >= 2) show(false); else hide();
      }
    }

    function hide() {
      panel.hidden = true;
      while (panel.firstChild) panel.removeChild(panel.firstChild);
      if (/^#compare=/.test(window.location.hash) && window.history.replaceState) {
        window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
      }
    }

    function show(scroll) {
      var chosen = state.selected.map(function (s) { return bySlug[s]; }).filter(Boolean);
      while (panel.firstChild) panel.removeChild(panel.firstChild);
      panel.appendChild(buildPanel(head, chosen, hide));
      panel.hidden = false;
      if (window.history.replaceState) {
        window.history.replaceState(window.history.state, "", "#compare=" + state.selected.map(encodeURIComponent).join(","));
      }
      if (scroll && panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
    }

    state.onChange = update;
    button.addEventListener("click", function () { if (state.selected.length >= 2) show(true); });
    if (clear) {
      clear.addEventListener("click", function () {
        state.selected.slice().forEach(function (slug) { var box = boxOf(slug); if (box) box.checked = false; });
        state.selected = [];
        hide();
        update();
      });
    }

    var match = /^#compare=(.+)$/.exec(window.location.hash);
    if (match) {
      match[1].split(",").map(decodeURIComponent).forEach(function (slug) {
        var box = boxOf(slug);
        if (box && state.selected.indexOf(slug) < 0) { box.checked = true; state.selected.push(slug); }
      });
      if (state.selected.length >= 2) show(false);
    }
    update();
  }

  function buildPanel(head, chosen, close) {
    var fragment = document.createDocumentFragment();
    var bar = make("div", { "class": "onnx-compare-bar" });
    bar.appendChild(make("strong", {}, "Side by side: " + chosen.length + " models"));
    bar.appendChild(make("span", { "class": "onnx-compare-note" },
      "Differences are relative to the first model ticked, " + (chosen[0].getAttribute("data-name") || "") + "."));
    var closer = make("button", { type: "button", "class": "md-button", id: "model-compare-close" }, "Close");
    closer.addEventListener("click", close);
    bar.appendChild(closer);
    fragment.appendChild(bar);

    var scroller = make("div", { "class": "onnx-compare-scroll" });
    var table = make("table", { id: "model-compare-table" });
    var thead = make("thead");
    var top = make("tr");
    top.appendChild(make("th", { scope: "col" }, "Figure"));
    chosen.forEach(function (row) {
      var th = make("th", { scope: "col", "data-model": row.getAttribute("data-slug") || "" });
      var link = row.cells[1] && row.cells[1].querySelector("a");
      th.appendChild(link ? link.cloneNode(true) : document.createTextNode(row.getAttribute("data-name") || ""));
      top.appendChild(th);
    });
    thead.appendChild(top);
    table.appendChild(thead);

    var tbody = make("tbody");
    Array.prototype.forEach.call(head.cells, function (th, index) {
      if (index < 2) return; // the checkbox and the model name
      var unit = th.getAttribute("data-unit") || "";
      var numeric = th.getAttribute("data-sort-method") === "number";
      var tr = make("tr", { "data-column": th.getAttribute("data-label") || text(th) });
      tr.appendChild(make("th", { scope: "row" }, th.getAttribute("data-label") || text(th)));
      var base = chosen[0].cells[index];
      chosen.forEach(function (row, i) {
        var cell = row.cells[index];
        var td = make("td");
        if (numeric) td.className = "onnx-num";
        if (cell) {
          if (cell.hasAttribute("data-sort")) td.setAttribute("data-value", cell.getAttribute("data-sort"));
          Array.prototype.forEach.call(cell.childNodes, function (node) { td.appendChild(node.cloneNode(true)); });
          var v = number(cell.getAttribute("data-sort"));
          var b = base ? number(base.getAttribute("data-sort")) : NaN;
          if (i > 0 && FORMAT[unit] && !isNaN(v) && !isNaN(b)) {
            var d = difference(v, b, unit);
            td.appendChild(make("br"));
            td.appendChild(make("small", { "class": "onnx-delta onnx-delta--" + d.direction }, d.text));
          }
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    scroller.appendChild(table);
    fragment.appendChild(scroller);
    return fragment;
  }

  // ---------------------------------------------------------------- start

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(function () { init(); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
