"""The plugin end to end: a real MkDocs build of a small zoo in a temporary folder."""

from __future__ import annotations

import html.parser
import logging
import os
import posixpath
import subprocess
import sys
from urllib.parse import unquote, urlsplit

import pytest
from mkdocs.exceptions import Abort, PluginError

from conftest import ROOT, build_project, light_model, make_project

LIGHT = {"SqueezeNet": light_model("squeezenet"), "AlexNet": light_model("bvlc_alexnet"),
         "ZFNet": light_model("zfnet512")}
SLUGS = ["squeezenet", "alexnet", "zfnet"]


class _Links(html.parser.HTMLParser):
    """Every <img src>, <a href> and <link href>, and the rows of each <table>."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.tables: list[list[list[str]]] = []  # table -> rows -> hrefs in the row
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("src"):
            self.refs.append(("img", attrs["src"]))
        if tag in ("a", "link") and attrs.get("href"):
            self.refs.append((tag, attrs["href"]))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag == "a" and attrs.get("href") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(attrs["href"])


def parse(path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def internal_target(site, page, ref: str):
    """The file in site/ an internal reference points at, or None for external ones."""
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    base = "" if parts.path.startswith("/") else posixpath.dirname(page.relative_to(site).as_posix())
    target = posixpath.normpath(posixpath.join(base, unquote(parts.path).lstrip("/")))
    if target.startswith(".."):
        return site / "OUTSIDE-THE-SITE" / target
    path = site / target
    return path / "index.html" if ref.split("#")[0].split("?")[0].endswith("/") or path.is_dir() else path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("zoo"), LIGHT)
    return root, build_project(root)


def test_every_image_and_internal_link_resolves(built):
    _, site = built
    pages = sorted(site.rglob("*.html"))
    assert site / "models" / "index.html" in pages
    broken, images = [], 0
    for page in pages:
        for kind, ref in parse(page).refs:
            target = internal_target(site, page, ref)
            if target is None:
                continue
            images += kind == "img"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {kind} {ref}")
    assert not broken, "\n".join(broken)
    assert images >= len(SLUGS)  # the cards' charts are there and were checked


def test_site_layout(built):
    root, site = built
    models = site / "models"
    for name in ("index.html", "models.json", "models.csv"):
        assert (models / name).is_file()
    for slug, source in zip(SLUGS, LIGHT.values()):
        folder = models / slug
        assert (folder / "index.html").is_file()
        assert (folder / "report.json").is_file() and (folder / "nodes.csv").is_file()
        assert list(folder.glob("*.svg"))
        assert (folder / f"{slug}.onnx").read_bytes() == open(source, "rb").read()
    assert sorted(p.name for p in (root / "docs").iterdir()) == ["index.md"]  # nothing written to docs_dir


def test_index_table_has_one_row_per_model(built):
    _, site = built
    parser = parse(site / "models" / "index.html")
    tables = [t for t in parser.tables if any(_card_slug(h) for row in t for h in row)]
    assert tables, "no table on the index links to the cards"
    rows = [row for row in tables[0] if any(_card_slug(h) for h in row)]
    assert sorted({_card_slug(h) for row in rows for h in row} - {None}) == sorted(SLUGS)
    assert len(rows) == len(SLUGS)


def _card_slug(href: str):
    path = urlsplit(href).path.strip("./")
    return path if path in SLUGS else None


def test_generated_pages_in_the_nav(tmp_path, monkeypatch):
    navs = _spy_nav(monkeypatch)
    build_project(make_project(tmp_path, dict(list(LIGHT.items())[:2])))
    titles = _titles(navs[-1])
    assert titles[-1] == ("Models", ["Overview", "SqueezeNet", "AlexNet"])
    assert navs[-1].pages[-1].file.src_uri == "models/alexnet/index.md"
    assert navs[-1].pages[-1].previous_page.title == "SqueezeNet"


def test_explicit_nav_gets_the_section_appended(tmp_path, monkeypatch):
    navs = _spy_nav(monkeypatch)
    build_project(make_project(tmp_path, {"SqueezeNet": LIGHT["SqueezeNet"]}, nav=[{"Home": "index.md"}]))
    assert _titles(navs[-1]) == ["Home", ("Models", ["Overview", "SqueezeNet"])]


def test_explicit_nav_naming_the_index_is_kept(tmp_path, monkeypatch):
    navs = _spy_nav(monkeypatch)
    nav = [{"Home": "index.md"}, {"Zoo": "models/index.md"}]
    site = build_project(make_project(tmp_path, {"SqueezeNet": LIGHT["SqueezeNet"]}, nav=nav))
    assert _titles(navs[-1]) == ["Home", "Zoo"]
    assert (site / "models" / "squeezenet" / "index.html").is_file()


def test_custom_nav_title(tmp_path, monkeypatch):
    navs = _spy_nav(monkeypatch)
    build_project(make_project(tmp_path, {"SqueezeNet": LIGHT["SqueezeNet"]}, plugin={"nav_title": "Zoo"}))
    assert _titles(navs[-1])[-1][0] == "Zoo"


def test_a_zoo_bigger_than_nav_max_cards_lists_only_its_overview(tmp_path, monkeypatch):
    # the index table leads to every card; a nav of hundreds of cards would be printed on every page
    navs = _spy_nav(monkeypatch)
    site = build_project(make_project(tmp_path, dict(list(LIGHT.items())[:2]), plugin={"nav_max_cards": 1}))
    assert _titles(navs[-1])[-1] == ("Models", ["Overview"])
    for slug in ("squeezenet", "alexnet"):
        assert (site / "models" / slug / "index.html").is_file()  # built all the same, linked from the index
    assert 'href="squeezenet/"' in (site / "models" / "index.html").read_text(encoding="utf-8")


def _spy_nav(monkeypatch):
    from mkdocs_onnx.plugin import OnnxPlugin

    navs = []
    original = OnnxPlugin.on_nav

    def spy(self, nav, config, files):
        navs.append(original(self, nav, config, files))
        return navs[-1]

    monkeypatch.setattr(OnnxPlugin, "on_nav", spy)
    return navs


def _titles(nav):
    return [(i.title, [c.title for c in i.children]) if i.is_section else i.title for i in nav.items]


# --- broken models -------------------------------------------------------------------

BROKEN = {"Good": LIGHT["SqueezeNet"], "Ghost": None, "Garbage": b"this is not an ONNX model\n"}


def test_broken_entries_become_error_cards(tmp_path, caplog):
    root = make_project(tmp_path, BROKEN)
    with caplog.at_level(logging.WARNING):
        site = build_project(root)
    ghost = (site / "models" / "ghost" / "index.html").read_text()
    garbage = (site / "models" / "garbage" / "index.html").read_text()
    assert "file not found" in ghost and "models/m1.onnx" in ghost
    assert "not an ONNX model" in garbage
    assert str(tmp_path) not in ghost + garbage  # no machine paths on the page
    assert not (site / "models" / "ghost" / "report.json").exists()
    assert (site / "models" / "good" / "report.json").is_file()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("model 'Ghost' (models/m1.onnx)" in w for w in warnings), warnings
    assert any("model 'Garbage' (models/m2.onnx)" in w for w in warnings), warnings
    assert "Ghost" in (site / "models" / "index.html").read_text()


def plugin_error(root, caplog) -> str:
    """Build, expecting MkDocs to abort on a PluginError; return the error it logged."""
    with caplog.at_level(logging.ERROR), pytest.raises(Abort) as info:
        build_project(root)
    error = info.value.__context__
    assert isinstance(error, PluginError), error
    assert error.__cause__ is None and error.__suppress_context__  # no chained traceback
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert str(error) in logged
    return str(error)


@pytest.mark.parametrize("name, reason", [("Ghost", "file not found"), ("Garbage", "not an ONNX model")])
def test_strict_mode_fails_naming_the_model(tmp_path, caplog, name, reason):
    models = {"Good": BROKEN["Good"], name: BROKEN[name]}
    root = make_project(tmp_path, models, plugin={"strict": True})
    message = plugin_error(root, caplog)
    assert message.startswith(f"model '{name}' (models/m1.onnx): {reason}"), message
    assert "\n" not in message


def test_strict_mode_cli_has_no_traceback(tmp_path):
    root = make_project(tmp_path, {"Ghost": None}, plugin={"strict": True})
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=root, capture_output=True, text=True)
    assert run.returncode == 1
    assert "model 'Ghost' (models/m0.onnx): file not found" in run.stderr
    assert "Traceback" not in run.stderr


def test_manifest_error_is_a_plugin_error(tmp_path, caplog):
    root = make_project(tmp_path, {"A": LIGHT["SqueezeNet"]}, extra_manifest="- name: B\n  pth: x.onnx\n")
    line = (root / "models.yml").read_text().splitlines().index("  pth: x.onnx") + 1
    message = plugin_error(root, caplog)
    assert message == f"models.yml:{line}: entry 'B': field 'pth': unknown field; did you mean 'path'?"


def test_unknown_device_is_a_plugin_error(tmp_path, caplog):
    root = make_project(tmp_path, {"A": LIGHT["SqueezeNet"]}, plugin={"device": "no-such-gpu-xyz"})
    assert "no-such-gpu-xyz" in plugin_error(root, caplog)


def test_config_validation(tmp_path):
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort

    root = make_project(tmp_path, {"A": LIGHT["SqueezeNet"]}, plugin={"precision": "fp64"})
    with pytest.raises(Abort):
        load_config(config_file=str(root / "mkdocs.yml"))


def test_config_defaults(tmp_path):
    from mkdocs.config import load_config

    root = make_project(tmp_path, {"A": LIGHT["SqueezeNet"]})
    config = load_config(config_file=str(root / "mkdocs.yml"))
    plugin = config.plugins["onnx"].config
    assert plugin.manifest == "models.yml" and plugin.precision == "fp32" and plugin.strict is False
    assert plugin.summary.model == "gpt-4o-mini" and plugin.summary.api_key_env == "OPENAI_API_KEY"
    assert plugin.summary.base_url is None and plugin.summary.max_tokens == 400
    assert plugin.cache_dir == ".cache" and plugin.nav_title == "Models" and plugin.nav_max_cards == 50


# --- determinism and the cache -------------------------------------------------------


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_builds_are_byte_identical(tmp_path):
    root = make_project(tmp_path, {**LIGHT, "Ghost": None})
    first = _tree(build_project(root, "site1") / "models")  # analyses
    second = _tree(build_project(root, "site2") / "models")  # from the cache
    assert first.keys() == second.keys()
    differ = [k for k in first if first[k] != second[k]]
    assert differ == [], _first_difference(first, second, differ)


def _first_difference(first, second, differ):
    import difflib

    if not differ:
        return ""
    a, b = (t[differ[0]].decode(errors="replace").splitlines() for t in (first, second))
    return differ[0] + ":\n" + "\n".join(list(difflib.unified_diff(a, b, lineterm="", n=0))[:12])


@pytest.mark.usefixtures("in_process")
def test_second_build_analyses_nothing_and_a_change_reanalyses_one(tmp_path, monkeypatch):
    import mkdocs_onnx.zoo as zoo

    calls = []
    real = zoo.analyze

    def counting(path, **kwargs):
        calls.append(os.path.basename(path))
        return real(path, **kwargs)

    monkeypatch.setattr(zoo, "analyze", counting)
    lenet = os.path.join(ROOT, "models", "lenet5.onnx")
    root = make_project(tmp_path, {"SqueezeNet": LIGHT["SqueezeNet"], "LeNet": lenet})
    build_project(root)
    assert sorted(calls) == ["m0.onnx", "m1.onnx"]
    calls.clear()
    build_project(root)
    assert calls == []

    import onnx

    model = onnx.load(str(root / "models" / "m1.onnx"))
    model.doc_string = "changed"
    onnx.save(model, str(root / "models" / "m1.onnx"))
    build_project(root)
    assert calls == ["m1.onnx"]


def test_on_serve_watches_manifest_and_model_files(tmp_path):
    from mkdocs.config import load_config

    root = make_project(tmp_path, {"SqueezeNet": LIGHT["SqueezeNet"], "Ghost": None})
    config = load_config(config_file=str(root / "mkdocs.yml"))
    plugin = config.plugins["onnx"]
    plugin.on_config(config)

    class Server:
        watched: list = []

        def watch(self, path, *args, **kwargs):
            self.watched.append(path)

    server = Server()
    plugin.on_serve(server, config=config, builder=None)
    assert str(root / "models.yml") in server.watched
    assert str(root / "models" / "m0.onnx") in server.watched


def test_config_adds_the_raw_html_extension_once(tmp_path):
    from mkdocs.config import load_config

    from mkdocs_onnx.render.rawhtml import RawHtmlExtension

    root = make_project(tmp_path, {"A": LIGHT["SqueezeNet"]})
    config = load_config(config_file=str(root / "mkdocs.yml"))
    plugin = config.plugins["onnx"]
    plugin.on_config(config)
    plugin.on_config(config)
    assert sum(isinstance(e, RawHtmlExtension) for e in config.markdown_extensions) == 1


def test_cards_tables_are_html_on_the_built_site(built):
    """The plugin's extension passes the cards' tables through, in the device tabs too:
    no table ends up inside a paragraph and no marker is left on the page."""
    _, site = built
    for slug in SLUGS:
        page = (site / "models" / slug / "index.html").read_text(encoding="utf-8")
        article = page.split("<article", 1)[1].split("</article>", 1)[0]
        assert "data-md-raw" not in article
        assert "<p><table" not in article and "<p><ul" not in article and "<p><div" not in article
        # one device (t4) in three tab groups: its estimate, its batch scaling, its specifications
        blocks = article.split('<div class="tabbed-block">')[1:]
        assert len(blocks) == 3
        assert blocks[0].count("<table>") >= 1 and blocks[1].count("<table>") >= 1  # estimate, batch scaling
        assert '<sup id="fnref:memreq"><a class="footnote-ref" href="#fn:memreq">' in blocks[0]
        assert '<li id="fn:memreq">' in article and 'href="#fnref:memreq"' in article
