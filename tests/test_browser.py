"""The demo site as its readers use it: headless Chromium (Playwright) on a local server.

Builds the demo zoo (models.yml at the repository root, with a throwaway cache) into a
temporary folder, serves it with http.server on 127.0.0.1 and drives the index (sorting,
filtering, comparing ticked models), a card, a variant comparison page and Material's
instant navigation, with no console error allowed. Screenshots go to pytest's tmp_path.

Skips when the playwright package or a Chromium binary (/usr/bin/chromium, or chromium
on PATH) is missing.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading

import pytest
import yaml

from conftest import ROOT

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    pytest.skip("the playwright package is not installed (pip install -e '.[test]')", allow_module_level=True)

CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")) if p and os.path.isfile(p)),
    None,
)
if CHROMIUM is None:  # pragma: no cover - depends on the environment
    pytest.skip("no Chromium browser: neither /usr/bin/chromium nor chromium on PATH (Debian: apt-get install chromium)",
                allow_module_level=True)

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# --------------------------------------------------------------------------- fixtures


def build_demo(folder) -> str:
    """The demo zoo built into ``folder/site`` with its own cache; returns the site path."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    config["docs_dir"] = os.path.join(ROOT, config.get("docs_dir", "docs"))
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "onnx" in plugin:
            plugin["onnx"]["manifest"] = os.path.join(ROOT, "models.yml")
            plugin["onnx"]["cache_dir"] = str(folder / "cache")
    (folder / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    site = folder / "site"
    build(load_config(config_file=str(folder / "mkdocs.yml"), site_dir=str(site), strict=True))
    return str(site)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def base_url(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def models(site):
    with open(os.path.join(site, "models", "models.json"), encoding="utf-8") as fh:
        return {m["slug"]: m for m in json.load(fh)}


class Page:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(self, page, tmp_path):
        self.page = page
        self.tmp_path = tmp_path
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def shot(self, name: str, **kw) -> None:
        self.page.screenshot(path=str(self.tmp_path / f"{name}.png"), **kw)


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
    p = Page(context.new_page(), tmp_path)
    yield p
    context.close()
    assert p.errors == [], "errors in the browser console"


def open_index(page: Page, base_url: str, fragment: str = ""):
    page.page.goto(base_url + "models/" + fragment)
    page.page.wait_for_selector("#model-index[data-onnx-ready]")
    return page.page


def visible_slugs(p) -> list[str]:
    return p.eval_on_selector_all("#model-index tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.slug)")


def assert_images_loaded(p, selector: str = "article img") -> int:
    images = p.locator(selector)
    n = images.count()
    for i in range(n):
        image = images.nth(i)
        image.scroll_into_view_if_needed()  # they load lazily
        image.evaluate("img => img.complete && img.naturalWidth > 0 ? true : new Promise((ok, fail) => {"
                       " img.addEventListener('load', () => ok(true));"
                       " img.addEventListener('error', () => fail(new Error('image failed: ' + img.src))); })")
        assert image.evaluate("img => img.naturalWidth") > 0, image.get_attribute("src")
        assert image.get_attribute("alt"), f"image without alt text: {image.get_attribute('src')}"
    return n


# --------------------------------------------------------------------------- the index


def test_index_sorts_by_parameters_and_by_name(page, base_url, models):
    p = open_index(page, base_url)
    assert p.is_visible("#model-index-controls") and p.is_visible("#model-filter")
    params = {slug: m["report"]["params"]["total"] for slug, m in models.items()}

    p.click('#model-index th[data-label="Parameters"] button')
    order = visible_slugs(p)
    assert sorted(order) == sorted(models)
    assert [params[s] for s in order] == sorted(params.values())
    assert p.get_attribute('#model-index th[data-label="Parameters"]', "aria-sort") == "ascending"
    page.shot("index-sorted-by-parameters")

    p.click('#model-index th[data-label="Parameters"] button')
    assert [params[s] for s in visible_slugs(p)] == sorted(params.values(), reverse=True)
    assert p.get_attribute('#model-index th[data-label="Parameters"]', "aria-sort") == "descending"

    latency = '#model-index th[data-label^="Latency"] button'
    p.click(latency)
    device = p.get_attribute('#model-index th[data-label^="Latency"]', "data-label")[len("Latency ("):-1]
    lat = {s: next(h["latency_s"] for h in m["report"]["hardware"] if h["device"] == device) for s, m in models.items()}
    assert [lat[s] for s in visible_slugs(p)] == sorted(lat.values())

    p.click('#model-index th[data-label="Model"] button')
    names = [models[s]["name"].lower() for s in visible_slugs(p)]
    assert names == sorted(names)


def test_index_filters_by_task_family_and_search(page, base_url, models):
    p = open_index(page, base_url)
    everything = sorted(models)
    assert sorted(visible_slugs(p)) == everything

    p.select_option("#model-filter-task", "text-classification")
    expected = sorted(s for s, m in models.items() if m["task"] == "text-classification")
    assert expected and sorted(visible_slugs(p)) == expected
    assert p.text_content("#model-filter-count") == f"{len(expected)} of {len(models)} models shown"
    page.shot("index-filtered-by-task")

    p.select_option("#model-filter-task", "")
    p.select_option("#model-filter-family", "mlp")
    assert sorted(visible_slugs(p)) == sorted(s for s, m in models.items() if m["report"]["architecture"]["family"] == "mlp")

    p.select_option("#model-filter-family", "")
    p.fill("#model-filter", "transformer")

    def matches(m, word):
        fields = [m["name"], m["task"], m["report"]["architecture"]["family"], *m["tags"]]
        return any(word in f.lower() for f in fields)

    expected = sorted(s for s, m in models.items() if matches(m, "transformer"))
    assert expected and sorted(visible_slugs(p)) == expected

    p.fill("#model-filter", "imagenet efficient")  # every word must match (tags here)
    assert sorted(visible_slugs(p)) == sorted(
        s for s, m in models.items() if matches(m, "imagenet") and matches(m, "efficient"))

    p.press("#model-filter", "Escape")
    assert sorted(visible_slugs(p)) == everything


def test_compare_selected_models_side_by_side(page, base_url, models):
    p = open_index(page, base_url)
    assert p.is_disabled("#model-compare")
    picked = ["squeezenet-1-1", "resnet-50", "mnist-mlp"]
    for slug in picked:
        p.check(f'#model-index tr[data-slug="{slug}"] td.onnx-select input')
    assert p.text_content("#model-compare") == "Compare selected (3)"
    p.click("#model-compare")
    p.wait_for_selector("#model-compare-table")
    assert p.eval_on_selector_all("#model-compare-table thead th[data-model]", "ths => ths.map(t => t.dataset.model)") == picked
    row = p.locator('#model-compare-table tr[data-column="Parameters"] td')
    values = [int(row.nth(i).get_attribute("data-value")) for i in range(len(picked))]
    assert values == [models[s]["report"]["params"]["total"] for s in picked]
    deltas = [row.nth(i).locator(".onnx-delta").count() for i in range(len(picked))]
    assert deltas == [0, 1, 1]  # differences against the first model ticked
    assert row.nth(1).locator(".onnx-delta").text_content().startswith("+")  # ResNet-50 is bigger
    assert "#compare=squeezenet-1-1,resnet-50,mnist-mlp" in p.url
    page.shot("index-compare-selected")

    # the URL keeps the comparison: opening it shows the same panel
    p.goto(p.url)
    p.wait_for_selector("#model-compare-table")
    assert p.eval_on_selector_all("#model-compare-table thead th[data-model]", "ths => ths.map(t => t.dataset.model)") == picked

    p.click("#model-compare-clear")
    assert p.is_hidden("#model-compare-panel") and p.is_disabled("#model-compare")


def test_index_scrolls_sideways_to_the_hardware_columns_with_the_names_in_view(page, base_url):
    p = open_index(page, base_url)
    heads = p.eval_on_selector_all("#model-index thead th", "ths => ths.map(t => t.dataset.label || '')")
    assert any(h.startswith("Latency (") for h in heads) and any(h.startswith("Fits (") for h in heads)
    numeric = p.eval_on_selector_all("#model-index td.onnx-num", "tds => tds.map(t => getComputedStyle(t).whiteSpace)")
    assert numeric and set(numeric) == {"nowrap"}
    box = p.evaluate("""() => {
        const table = document.getElementById("model-index");
        let scroller = table.parentElement;
        while (scroller && getComputedStyle(scroller).overflowX !== "auto") scroller = scroller.parentElement;
        scroller.scrollLeft = scroller.scrollWidth;
        const name = table.querySelector("tbody td.onnx-model").getBoundingClientRect();
        const last = table.querySelector("thead th:last-child").getBoundingClientRect();
        const frame = scroller.getBoundingClientRect();
        return {scrolled: scroller.scrollLeft, nameLeft: name.left, frameLeft: frame.left,
                lastRight: last.right, frameRight: frame.right};
    }""")
    assert box["scrolled"] > 0  # the table is wider than the content column
    assert box["nameLeft"] >= box["frameLeft"] - 1  # the model names stay in view (sticky)
    assert box["lastRight"] <= box["frameRight"] + 1  # the last device column can be reached
    page.shot("index-scrolled-to-the-devices")


def test_index_charts_load_and_have_alt_text(page, base_url):
    p = open_index(page, base_url)
    assert assert_images_loaded(p) >= 2  # parameters vs FLOPs, latency per device
    page.shot("index-full", full_page=True)


# --------------------------------------------------------------------------- cards, compare pages


def test_card_opens_from_the_index_and_its_images_load(page, base_url):
    p = open_index(page, base_url)
    p.click('#model-index a:text-is("SqueezeNet 1.1")')
    p.wait_for_url("**/models/squeezenet-1-1/")
    p.wait_for_selector("article h1:has-text('SqueezeNet 1.1')")
    assert assert_images_loaded(p) >= 4
    for download in ("report.json", "nodes.csv"):
        link = p.locator(f'article a[href$="/{download}"], article a[href="{download}"]')
        assert link.count() == 1
        assert p.request.get(base_url + "models/squeezenet-1-1/" + download).ok
    page.shot("card", full_page=True)

    # back to the index by Material's instant navigation: the script runs again
    p.locator(".md-nav--primary a.md-nav__link", has_text=re.compile(r"^\s*Overview\s*$")).first.click()
    p.wait_for_url("**/models/")
    p.wait_for_selector("#model-index[data-onnx-ready]")
    p.click('#model-index th[data-label="FLOPs"] button')
    assert p.get_attribute('#model-index th[data-label="FLOPs"]', "aria-sort") == "ascending"


def test_variant_comparison_page(page, base_url, models):
    p = open_index(page, base_url)
    p.click('article a:text-is("compare side by side") >> nth=0')
    p.wait_for_url("**/models/compare/*/")
    p.wait_for_selector("#variant-compare")
    slugs = p.eval_on_selector_all("#variant-compare thead th[data-model]", "ths => ths.map(t => t.dataset.model)")
    base = models[slugs[0]]
    assert all(models[s]["variant_of"] == base["name"] for s in slugs[1:])
    flops = p.locator('#variant-compare tr[data-metric="flops"] td')
    assert [int(flops.nth(i).get_attribute("data-value")) for i in range(len(slugs))] == [
        models[s]["report"]["flops"]["total"] for s in slugs]
    assert assert_images_loaded(p) >= 1
    page.shot("compare-page", full_page=True)


def test_dark_scheme(browser, base_url, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    p = Page(context.new_page(), tmp_path)
    try:
        open_index(p, base_url)
        assert p.page.get_attribute("body", "data-md-color-scheme") == "slate"
        assert assert_images_loaded(p.page) >= 2
        p.shot("index-dark", full_page=True)
    finally:
        context.close()
    assert p.errors == []
