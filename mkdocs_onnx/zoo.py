"""The model zoo, independent of MkDocs: manifest entries in, card contexts and site files out.

:func:`build_cards` resolves each entry's file, analyses it (through the disk cache), adds
the hardware estimates and the summary. A model that fails becomes a card that shows the
error (and a warning naming the entry), or, in strict mode, a :class:`ZooError`.

:func:`site_files` turns the cards into every generated file, keyed by site-relative path
(``models/index.md``, ``models/<slug>/index.md``, charts, JSON, CSV, a copy of the model).
The same inputs give the same bytes: no timestamps, no absolute paths, sorted keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional, Union

import onnx

from mkdocs_onnx.analysis import analyze
from mkdocs_onnx.analysis.report import Report
from mkdocs_onnx.cache import DownloadError, JsonCache, ReportCache, cache_key, code_digest, download, file_sha256
from mkdocs_onnx.errors import MkdocsOnnxError
from mkdocs_onnx.manifest.entry import ModelEntry
from mkdocs_onnx.manifest.sources import package_file
from mkdocs_onnx.parallel import run_all, worker_count
from mkdocs_onnx.render.context import CardContext
from mkdocs_onnx.units import format_duration

INDEX = "models/index.md"


class ZooError(MkdocsOnnxError):
    """Strict mode: a model failed. The message is ``model 'NAME' (LOCATION): reason``."""


@dataclass
class ZooSettings:
    cache_dir: str
    device: Any = "auto"  # profile id | list of ids | custom mapping | "auto" | None (no estimates)
    device_fallback: Optional[str] = "cpu-server"  # what "auto" uses without a GPU (None: no estimates)
    precision: str = "fp32"  # or "auto": each model's own precision (its dominant weight dtype)
    summary: dict[str, Any] = field(default_factory=dict)
    strict: bool = False
    batch_size: int = 1
    workers: Optional[int] = None  # processes for cold builds; None: one per core


@dataclass(frozen=True)
class FileCopy:
    """A generated file whose content is an existing file on disk (copied, not read into memory)."""

    path: str


SiteContent = Union[str, bytes, FileCopy]


# --- building the cards ---------------------------------------------------------------


def resolve_hardware(device_setting: Any, fallback: Optional[str] = "cpu-server") -> list[tuple[Any, str, list[str]]]:
    """The device profiles to estimate for (raises DeviceError for a bad setting)."""
    if device_setting in (None, [], {}):
        return []
    from mkdocs_onnx.hardware.profiles import resolve_devices

    return list(resolve_devices(device_setting, fallback))


def build_cards(
    entries: list[ModelEntry],
    settings: ZooSettings,
    log: logging.Logger | logging.LoggerAdapter = logging.getLogger(__name__),
    devices: Optional[list[tuple[Any, str, list[str]]]] = None,
) -> list[CardContext]:
    """One CardContext per entry, in manifest order."""
    if devices is None:
        devices = resolve_hardware(settings.device, settings.device_fallback)
    notes = _device_notes(devices, log)
    cache = ReportCache(settings.cache_dir)
    cards = []
    started = time.perf_counter()
    prefetch = analyse_missing(entries, settings, cache)
    fresh = prefetch.fresh
    for entry in entries:
        card = CardContext(entry=entry, device_notes=list(notes))
        card_started = time.perf_counter()
        try:
            _analyse(card, settings, cache, devices, log, fresh, prefetch.located.get(id(entry)))
        except (MkdocsOnnxError, OSError) as exc:
            _fail(card, _reason(exc, entry), settings, log)
        except Exception as exc:  # a bug in an analyzer stage must not take the whole site down
            _fail(card, f"internal error ({type(exc).__name__}: {exc})", settings, log)
        if card.ok:  # a failure has logged its own warning
            if card.from_cache:
                log.info("%s from the cache", entry.name)
            else:
                seconds = card.analysis_seconds or time.perf_counter() - card_started
                log.info("analysed %s in %s", entry.name, _seconds(seconds))
        cards.append(card)
    log.info(
        "%d models: %d analysed, %d from the cache, %d failed, in %s",
        len(cards), sum(1 for c in cards if c.ok and not c.from_cache), sum(1 for c in cards if c.from_cache),
        sum(1 for c in cards if not c.ok),
        _seconds(time.perf_counter() - started),
    )
    return cards


def _seconds(s: float) -> str:
    """0.00234 -> "2.34 ms", 12.34 -> "12.3 s": three significant digits, never a rounded zero."""
    return format_duration(s)


def _analyse(card: CardContext, settings: ZooSettings, cache: ReportCache, devices, log,
             fresh: Optional[dict[str, float]] = None, located: Optional[Located] = None) -> None:
    """Fill ``card``; ``fresh`` maps the keys analysed just now (in parallel) to their time;
    ``located`` is what :func:`locate` gave for the entry already (hashing a file once)."""
    entry = card.entry
    path, key, digest = located or locate(entry, settings)
    started = time.perf_counter()
    report, card.from_cache = cache.get_or_compute(key, lambda: _analysis(path, entry, settings.batch_size, digest))
    if fresh and key in fresh:  # analysed just now, for the first entry with this file
        card.from_cache, card.analysis_seconds = False, fresh.pop(key)
    else:
        card.analysis_seconds = 0.0 if card.from_cache else time.perf_counter() - started
    # The cache is keyed by content: the same file may be listed under another name or place.
    report.model.name = entry.name
    report.model.path = entry.location
    report.hardware = []
    for profile, _how, _warnings in devices:
        precision = None if settings.precision == "auto" else settings.precision
        try:
            report.hardware.append(_estimate(report, profile, precision))
        except MkdocsOnnxError as exc:
            card.device_notes.append(f"{getattr(profile, 'id', profile)}: no estimate ({exc})")
    card.report = report
    card.model_file = f"{entry.slug}.onnx"
    try:
        card.summary = _summary(report, entry, settings, log)
    except Exception as exc:  # the figures stand without a summary; say why it is missing
        log.warning("model '%s': no summary (%s: %s)", entry.name, type(exc).__name__, exc)


class Located(NamedTuple):
    path: str  # the entry's local file
    key: str  # the cache key of its report
    sha256: str  # the file's checksum, handed to the analyzer so that it does not hash the file again


def locate(entry: ModelEntry, settings: ZooSettings) -> Located:
    """The entry's local file (downloaded if need be), its report's cache key and its checksum."""
    path = model_path(entry, settings.cache_dir)
    digest = file_sha256(path)
    if entry.sha256 and entry.source != "url" and digest != entry.sha256:
        raise ZooError(f"sha256 is {digest}, the manifest says {entry.sha256}")
    return Located(path, cache_key(digest, {"dims": entry.dims, "batch_size": settings.batch_size,
                                            **analysis_code()}), digest)


def analysis_code() -> dict[str, str]:
    """What a report depends on besides its file and settings: the analysis code, and
    onnx's version (shape inference is onnx's)."""
    return {"analysis": code_digest("mkdocs_onnx.analysis"), "onnx": onnx.__version__}


def _analysis(path: str, entry: ModelEntry, batch_size: int, sha256: str) -> Report:
    return analyze(path, name=entry.name, dims=entry.dims or None, batch_size=batch_size, sha256=sha256)


def _timed_analysis(path: str, entry: ModelEntry, batch_size: int, sha256: str) -> tuple[Report, float]:
    started = time.perf_counter()
    return _analysis(path, entry, batch_size, sha256), time.perf_counter() - started


@dataclass
class Prefetch:
    """What :func:`analyse_missing` did."""

    fresh: dict[str, float] = field(default_factory=dict)  # cache key analysed now -> seconds
    cached: list[str] = field(default_factory=list)  # names of entries already in the cache
    failed: dict[str, str] = field(default_factory=dict)  # entry name -> why it has no report
    # id(entry) -> locate(entry): the file, cache key and checksum, for the build to reuse
    located: dict[int, Located] = field(default_factory=dict, repr=False)


def analyse_missing(entries: list[ModelEntry], settings: ZooSettings,
                    cache: Optional[ReportCache] = None) -> Prefetch:
    """Analyse, in parallel, the entries whose reports are not cached yet, into the cache.

    The sequential build then finds every report cached, and reports failures on cards.
    """
    cache = cache or ReportCache(settings.cache_dir)
    done = Prefetch()
    jobs: dict[str, tuple[Located, ModelEntry]] = {}  # key -> (where, first entry with that file)
    for entry in entries:
        try:
            located = locate(entry, settings)
        except (MkdocsOnnxError, OSError) as exc:
            done.failed[entry.name] = _reason(exc, entry)
            continue
        done.located[id(entry)] = located
        if cache.contains(located.key):
            done.cached.append(entry.name)
        else:
            jobs.setdefault(located.key, (located, entry))
    keys = list(jobs)
    calls = [(located.path, entry, settings.batch_size, located.sha256) for located, entry in jobs.values()]
    for i, result in run_all(_timed_analysis, calls, worker_count(len(calls), settings.workers)):
        key, entry = keys[i], jobs[keys[i]][1]
        if isinstance(result, tuple):
            cache.put(key, result[0])
            done.fresh[key] = result[1]
        else:
            done.failed[entry.name] = _reason(result, entry)
    return done


def _estimate(report: Report, profile: Any, precision: Optional[str]):
    from mkdocs_onnx.hardware.estimate import estimate

    return estimate(report, profile, precision=precision)


def _summary(report: Report, entry: ModelEntry, settings: ZooSettings, log):
    from mkdocs_onnx import summary  # looked up at call time, so that tests can stand in for it

    return summary.summarize(report, entry, settings.summary, cache_dir=settings.cache_dir, log=log)


def model_path(entry: ModelEntry, cache_dir: str) -> str:
    """The local file of ``entry``, downloading ``url:`` models; raises ZooError saying why not."""
    if entry.source == "url":
        try:
            entry.resolved_path = download(entry.location, entry.sha256 or "", cache_dir)
        except DownloadError as exc:
            raise ZooError(str(exc)) from None
        return entry.resolved_path
    if entry.source == "package" and entry.resolved_path is None:
        try:
            entry.resolved_path = package_file(entry.location)
        except LookupError as exc:
            raise ZooError(str(exc)) from None
    path = entry.resolved_path or ""
    if not os.path.exists(path):
        package = entry.location.split("/", 1)[0]
        raise ZooError(f"file not found in the installed package '{package}'" if entry.source == "package"
                       else "file not found")
    if not os.path.isfile(path):
        raise ZooError("not a file (a folder?)")
    return path


def _reason(exc: BaseException, entry: ModelEntry) -> str:
    """One line, with the machine's absolute path replaced by the manifest's location."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if entry.resolved_path:
        text = text.replace(entry.resolved_path, entry.location)
    prefix = f"{entry.location}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _fail(card: CardContext, reason: str, settings: ZooSettings, log) -> None:
    entry = card.entry
    message = f"model '{entry.name}' ({entry.location}): {reason}"
    if settings.strict:
        raise ZooError(message)
    card.report, card.error, card.model_file = None, reason, None
    log.warning("%s; its card shows the error", message)


def _device_notes(devices, log) -> list[str]:
    """How each device profile was chosen, and what went wrong choosing it (also logged)."""
    notes = []
    for profile, how, warnings in devices:
        notes.extend([how, *warnings] if how else warnings)
        for warning in warnings:
            log.info("device %s: %s", getattr(profile, "id", profile), warning)
    return notes


# --- the generated files --------------------------------------------------------------


def site_files(
    cards: list[CardContext], *, site_url: Optional[str] = None, cache_dir: Optional[str] = None
) -> dict[str, SiteContent]:
    """Every generated file, by site-relative path (sorted), for the given cards.

    With ``cache_dir``, charts are reused from ``<cache_dir>/charts`` when the reports and
    the chart code are unchanged (drawing them is most of a rebuild's time).
    """
    from mkdocs_onnx.render import charts as chart_module
    from mkdocs_onnx.render.card import NODES_FILE, REPORT_FILE, render_card
    from mkdocs_onnx.render.compare import compare_folder, render_compare, variant_groups
    from mkdocs_onnx.render.index import models_csv, models_json, nodes_csv, render_index

    store = ChartCache(cache_dir) if cache_dir else None
    serialized = _Serialized()
    if store is not None:
        _draw_missing(store, chart_module.card_charts, [(c.report, serialized.text(c.report)) for c in cards if c.ok])
    files: dict[str, SiteContent] = {}
    compare_dir = compare_folder(cards)
    groups = variant_groups(cards)
    for card in cards:
        folder = f"models/{card.entry.slug}"
        charts = []
        if card.ok:
            charts = _charts(store, chart_module.card_charts, card.report, serialized.text(card.report))
        compare = [(g.base, f"../{compare_dir}/{g.slug}/index.md") for g in groups if any(card is m for m in g.members)]
        files[f"{folder}/index.md"] = render_card(card, charts, site_url=site_url, models_dir="models",
                                                  compare=compare)
        for chart in charts:
            files[f"{folder}/{chart.filename}"] = chart.svg
        if card.ok:
            files[f"{folder}/{REPORT_FILE}"] = serialized.text(card.report) + "\n"
            files[f"{folder}/{NODES_FILE}"] = nodes_csv(card.report)
            if card.model_file and card.entry.resolved_path:
                files[f"{folder}/{card.model_file}"] = FileCopy(card.entry.resolved_path)

    for group in groups:
        folder = f"models/{compare_dir}/{group.slug}"
        base = group.base_card
        reports = [(c.entry.name, c.report) for c in group.members if c.ok]
        charts = []
        if base is not None and base.ok and len(reports) > 1:
            charts = _charts(store, chart_module.compare_charts, reports, serialized.named(reports))
        files[f"{folder}/index.md"] = render_compare(group, charts)
        for chart in charts:
            files[f"{folder}/{chart.filename}"] = chart.svg

    reports = [(c.entry.name, c.report) for c in cards if c.ok]
    charts = _charts(store, chart_module.index_charts, reports, serialized.named(reports))
    for chart in charts:
        files[f"models/{chart.filename}"] = chart.svg
    files[INDEX] = render_index(cards, charts, compare_folder=compare_dir)
    files["models/models.json"] = models_json(cards, report_dict=serialized.data)
    files["models/models.csv"] = models_csv(cards)
    return dict(sorted(files.items()))


def compare_pages(cards: list[CardContext]) -> list[tuple[str, str]]:
    """(title, site-relative path) of every variant comparison page, in nav order."""
    from mkdocs_onnx.render.compare import compare_folder, variant_groups

    folder = compare_folder(cards)
    return [(f"{g.base} variants", f"models/{folder}/{g.slug}/index.md") for g in variant_groups(cards)]


class ChartCache(JsonCache):
    """Rendered charts (lists of ChartRef) by a key over their input and the chart code."""

    def __init__(self, cache_dir: str) -> None:
        super().__init__(cache_dir, "charts")

    def _decode(self, data: Any) -> list:
        from mkdocs_onnx.render.charts import ChartRef

        return [ChartRef(**item) for item in data]

    def _encode(self, value: list) -> str:
        return json.dumps([dataclasses.asdict(chart) for chart in value], sort_keys=True, ensure_ascii=False)


class _Serialized:
    """The JSON form of each report, computed once per build (serialising a report is a
    good part of a warm build): ``report.json``, ``models.json`` and the chart cache keys
    are all made from it."""

    def __init__(self) -> None:
        self._done: dict[int, tuple[Report, dict[str, Any], str]] = {}

    def _get(self, report: Report) -> tuple[Report, dict[str, Any], str]:
        found = self._done.get(id(report))
        if found is None or found[0] is not report:
            data = report.to_dict()
            # the text of Report.to_json(), without serialising the report a second time
            found = (report, data, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
            self._done[id(report)] = found
        return found

    def data(self, report: Report) -> dict[str, Any]:
        """``report.to_dict()`` (shared: do not modify it)."""
        return self._get(report)[1]

    def text(self, report: Report) -> str:
        """``report.to_json()``."""
        return self._get(report)[2]

    def named(self, reports: list[tuple[str, Report]]) -> str:
        """The chart key text of a list of (name, report)."""
        return json.dumps([[name, self.data(report)] for name, report in reports], sort_keys=True)


def _charts(store: Optional[ChartCache], draw: Callable[[Any], list], subject: Any, data: str) -> list:
    """``draw(subject)``, from the cache when one is given; ``data``: the subject's JSON text."""
    if store is None:
        return draw(subject)
    return store.get_or_compute(_chart_key(draw, data), lambda: draw(subject))[0]


def _chart_key(draw: Callable[[Any], list], data: str) -> str:
    digest = hashlib.sha256(data.encode("utf-8")).hexdigest()
    code = [code_digest("mkdocs_onnx.render"), code_digest("mkdocs_onnx.units")]  # charts write figures too
    return cache_key(digest, {"chart": draw.__name__, "code": code})


def _draw_missing(store: ChartCache, draw: Callable[[Any], list], subjects: list[tuple[Any, str]]) -> None:
    """Draw the charts not in the cache yet on every core (drawing dominates a cold build).

    ``subjects``: (subject, its JSON text) pairs."""
    missing = {}
    for subject, data in subjects:
        key = _chart_key(draw, data)
        if not store.contains(key):
            missing.setdefault(key, subject)
    keys = list(missing)
    for i, charts in run_all(draw, [(s,) for s in missing.values()], worker_count(len(missing))):
        if isinstance(charts, list):
            store.put(keys[i], charts)
