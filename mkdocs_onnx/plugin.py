"""The MkDocs plugin: adapts MkDocs events to :mod:`mkdocs_onnx.zoo`.

``on_config`` reads the manifest, adds the index script and style sheet to
``extra_javascript`` / ``extra_css`` and the Markdown extension that passes the cards'
HTML tables through unparsed (:mod:`mkdocs_onnx.render.rawhtml`), ``on_files`` analyses
the models and adds the generated pages and those two assets (in memory: nothing is
written into docs_dir),
``on_nav`` adds the "Models" section, ``on_page_markdown`` gives the wide index and
comparison pages the room of the table of contents, ``on_serve`` watches models.yml and
the model files.
"""

from __future__ import annotations

import os
import time
from typing import Optional

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation, Section, _add_parent_links, _add_previous_and_next_links, _get_by_type
from mkdocs.structure.pages import Page

from mkdocs_onnx.errors import MkdocsOnnxError
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.manifest.load import load_manifest
from mkdocs_onnx.render.context import CardContext
from mkdocs_onnx.render.escape import md_heading
from mkdocs_onnx.render.rawhtml import RawHtmlExtension
from mkdocs_onnx.units import format_duration
from mkdocs_onnx.zoo import (
    INDEX,
    FileCopy,
    ZooError,
    ZooSettings,
    build_cards,
    compare_pages,
    resolve_hardware,
    site_files,
)

log = get_plugin_logger(__name__)

ASSETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "render", "assets")
# site path -> file in the package: the index's sort/filter/compare script and the style sheet
ASSETS = {
    "assets/mkdocs-onnx/zoo.css": os.path.join(ASSETS_DIR, "zoo.css"),
    "assets/mkdocs-onnx/zoo.js": os.path.join(ASSETS_DIR, "zoo.js"),
}

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "auto")


class SummaryConfig(base.Config):
    model = c.Type(str, default="gpt-4o-mini")
    base_url = c.Optional(c.Type(str))
    api_key_env = c.Type(str, default="OPENAI_API_KEY")
    temperature = c.Type((int, float), default=0.2)
    max_tokens = c.Type(int, default=400)
    timeout = c.Type((int, float), default=30)
    retries = c.Type(int, default=2)


class OnnxPluginConfig(base.Config):
    manifest = c.Type(str, default="models.yml")
    device = c.Type((str, list, dict), default="auto")
    device_fallback = c.Type(str, default="cpu-server")  # the profile "auto" uses without a GPU
    precision = c.Choice(PRECISIONS, default="fp32")
    summary = c.SubConfig(SummaryConfig)
    cache_dir = c.Type(str, default=".cache/mkdocs-onnx")
    strict = c.Type(bool, default=False)
    nav_title = c.Type(str, default="Models")
    # A bigger zoo lists only its overview (and comparisons) in the navigation: the index
    # table leads to every card, and a nav of hundreds of pages is printed on every page.
    nav_max_cards = c.Type(int, default=50)


class OnnxPlugin(BasePlugin[OnnxPluginConfig]):
    def __init__(self) -> None:
        self.entries: list[ModelEntry] = []
        self.cards: list[CardContext] = []
        self.manifest_path = ""
        self.devices: list = []
        self.wide_pages: set[str] = set()

    # --- config ----------------------------------------------------------------------

    def _here(self, config: MkDocsConfig, path: str) -> str:
        root = os.path.dirname(os.path.abspath(config.config_file_path or "mkdocs.yml"))
        return os.path.normpath(os.path.join(root, os.path.expanduser(path)))

    def on_config(self, config: MkDocsConfig) -> Optional[MkDocsConfig]:
        self.manifest_path = self._here(config, self.config.manifest)
        try:
            self.entries = load_manifest(self.manifest_path, display=self.config.manifest)
            self.devices = resolve_hardware(self.config.device, self.config.device_fallback)
        except MkdocsOnnxError as exc:
            raise PluginError(str(exc)) from None
        for uri in ASSETS:
            extra = config.extra_css if uri.endswith(".css") else config.extra_javascript
            if not any(str(item) == uri for item in extra):
                extra.append(uri)
        extensions = config.markdown_extensions
        if not any(isinstance(e, RawHtmlExtension) or e == "mkdocs_onnx.render.rawhtml" for e in extensions):
            extensions.append(RawHtmlExtension())
        return config

    # --- files -----------------------------------------------------------------------

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        settings = ZooSettings(
            cache_dir=self._here(config, self.config.cache_dir),
            device=self.config.device,
            device_fallback=self.config.device_fallback,
            precision=self.config.precision,
            summary=dict(self.config.summary),
            strict=self.config.strict,
        )
        try:
            self.cards = build_cards(self.entries, settings, log, devices=self.devices)
            started = time.perf_counter()
            generated = site_files(self.cards, site_url=config.site_url, cache_dir=settings.cache_dir)
        except ZooError as exc:
            raise PluginError(str(exc)) from None
        pages = compare_pages(self.cards)
        log.info(
            "wrote %d cards, %d comparison %s and the index in %s",
            len(self.cards), len(pages), "page" if len(pages) == 1 else "pages",
            format_duration(time.perf_counter() - started),
        )

        self.wide_pages = {INDEX, *(path for _title, path in pages)}
        generated.update({uri: FileCopy(path) for uri, path in ASSETS.items()})
        for uri, content in generated.items():
            existing = files.get_file_from_path(uri)
            if existing is not None:
                log.warning("docs_dir has its own %s; the generated one replaces it", uri)
                files.remove(existing)
            kwargs = {"abs_src_path": content.path} if isinstance(content, FileCopy) else {"content": content}
            # NOT_IN_NAV: kept out of the automatic nav, which on_nav extends with its own section.
            files.append(File.generated(config, uri, inclusion=InclusionLevel.NOT_IN_NAV, **kwargs))
        return files

    # --- nav -------------------------------------------------------------------------

    def on_nav(self, nav: Navigation, config: MkDocsConfig, files: Files) -> Navigation:
        if any(page.file.src_uri == INDEX for page in nav.pages):
            return nav  # the user placed the index in their own nav
        children = [self._page(files, config, INDEX, "Overview")]
        if len(self.cards) <= self.config.nav_max_cards:
            for card in self.cards:
                children.append(self._page(files, config, f"models/{card.entry.slug}/index.md", card.entry.name))
        comparisons = [self._page(files, config, uri, title) for title, uri in compare_pages(self.cards)]
        comparisons = [p for p in comparisons if p is not None]
        if comparisons:
            children.append(Section("Comparisons", comparisons))
        section = Section(self.config.nav_title, [p for p in children if p is not None])
        nav.items.append(section)
        nav.pages = _get_by_type(nav.items, Page)
        _add_previous_and_next_links(nav.pages)
        _add_parent_links(nav.items)
        return nav

    @staticmethod
    def _page(files: Files, config: MkDocsConfig, uri: str, title: str) -> Optional[Page]:
        file = files.get_file_from_path(uri)
        if file is None:
            return None
        # Material prints nav titles unescaped and un-escapes the <title> once: model names
        # come from users, so they get the heading treatment (no "<" or ">" survives).
        safe_title = str(md_heading(title))
        page = file.page if isinstance(file.page, Page) else Page(safe_title, file, config)
        page.title = safe_title
        return page

    # --- pages -----------------------------------------------------------------------

    def on_page_markdown(self, markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
        """The index and the comparison pages are wide tables: they get the room of the
        table of contents (Material's ``hide: [toc]``), unless the page says otherwise."""
        if page.file.src_uri in self.wide_pages and "hide" not in page.meta:
            page.meta["hide"] = ["toc"]
        return markdown

    # --- serve -----------------------------------------------------------------------

    def on_serve(self, server, config: MkDocsConfig, builder):
        server.watch(self.manifest_path)
        for entry in self.entries:
            if entry.source in ("path", "package") and entry.resolved_path and os.path.exists(entry.resolved_path):
                server.watch(entry.resolved_path)
        return server
