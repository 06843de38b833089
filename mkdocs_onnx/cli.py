"""The `mkdocs-onnx` command: analyse a model on the terminal, list device profiles,
start a new model zoo."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence

from mkdocs_onnx.errors import MkdocsOnnxError

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def _dim(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with a positive integer VALUE, got {text!r}")
    return name, int(value)


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N, got {text!r}")
    return int(index), int(count)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mkdocs-onnx", description="Verified model cards for ONNX models.")
    commands = parser.add_subparsers(dest="command", required=True)

    analyze = commands.add_parser("analyze", help="analyse one ONNX model and print its report")
    analyze.add_argument("model", help="path of the .onnx file")
    analyze.add_argument("--dim", action="append", type=_dim, default=[], metavar="NAME=VALUE",
                         help="bind a symbolic dim (repeatable)")
    analyze.add_argument("--batch-size", type=_positive, default=1, help="value for batch-like dims (default 1)")
    analyze.add_argument("--device", action="append", default=[], metavar="NAME",
                         help="add hardware estimates for a device profile id or name, or 'auto' (repeatable)")
    analyze.add_argument("--precision", choices=PRECISIONS, default=None,
                         help="precision of the hardware estimates (default: that of the weights)")
    analyze.add_argument("--format", choices=("json", "markdown"), default="json")
    analyze.add_argument("--name", default=None, help="model name shown in the report (default: file name)")

    commands.add_parser("devices", help="list the device profiles")

    shard = commands.add_parser(
        "analyze-manifest", help="analyse the models of a manifest, or one shard of them, into the cache",
        description="Analyse the models listed in MANIFEST into the cache that `mkdocs build` reads, so that "
                    "CI runners can share the work: shard I of N takes entries I, I+N, I+2N, ... in manifest "
                    "order. Copy the shards' cache folders into one and `mkdocs build` analyses nothing.",
    )
    shard.add_argument("manifest", help="path of models.yml")
    shard.add_argument("--shard", type=_shard, default=(1, 1), metavar="I/N", help="which shard (default 1/1: all)")
    shard.add_argument("--cache-dir", default=".cache/mkdocs-onnx", help="cache folder (the plugin's cache_dir)")
    shard.add_argument("--batch-size", type=_positive, default=1, help="value for batch-like dims (default 1)")
    shard.add_argument("--workers", type=_positive, default=None, help="processes (default: one per core)")

    new = commands.add_parser(
        "new", help="create a model zoo (mkdocs.yml, models.yml, docs/index.md) that builds at once",
        description="Create a model zoo in DIR: mkdocs.yml with the onnx plugin, models.yml listing a "
                    "model that ships with the onnx package, and a landing page. DIR must be new or empty.",
    )
    new.add_argument("dir", metavar="DIR", help="folder to create (new or empty)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "analyze":
            return _analyze(args)
        if args.command == "devices":
            from mkdocs_onnx.hardware.profiles import device_table

            print(device_table())
            return 0
        if args.command == "new":
            return _new(args.dir)
        if args.command == "analyze-manifest":
            return _analyze_manifest(args)
    except MkdocsOnnxError as e:
        print(f"mkdocs-onnx: {e}", file=sys.stderr)
        return 1
    return 2


def _analyze_manifest(args: argparse.Namespace) -> int:
    """Exit 0 when every model of the shard has its report in the cache, 1 otherwise."""
    from mkdocs_onnx.manifest.load import load_manifest
    from mkdocs_onnx.zoo import ZooSettings, analyse_missing

    index, count = args.shard
    entries = load_manifest(args.manifest)[index - 1::count]
    settings = ZooSettings(cache_dir=args.cache_dir, batch_size=args.batch_size, workers=args.workers)
    done = analyse_missing(entries, settings)
    for name, reason in done.failed.items():
        print(f"mkdocs-onnx: model '{name}': {reason}", file=sys.stderr)
    print(f"shard {index}/{count}: {len(entries)} models, {len(done.fresh)} analysed, "
          f"{len(done.cached)} already cached, {len(done.failed)} failed (cache: {args.cache_dir})")
    return 1 if done.failed else 0


def _analyze(args: argparse.Namespace) -> int:
    from mkdocs_onnx.analysis import analyze

    report = analyze(args.model, name=args.name, dims=dict(args.dim), batch_size=args.batch_size)
    if args.device:
        from mkdocs_onnx.hardware import add_estimates

        for warning in add_estimates(report, args.device, args.precision):
            print(f"mkdocs-onnx: warning: {warning}", file=sys.stderr)
    if args.format == "json":
        print(report.to_json())
    else:
        from mkdocs_onnx.render.terminal import render_text_card

        print(render_text_card(report), end="")
    return 0


# --- mkdocs-onnx new ----------------------------------------------------------------

STARTER_IGNORED = shutil.ignore_patterns("site", ".cache", "__pycache__", "*.pyc")


def starter_dir() -> Path:
    """The starter that ``new`` copies: ``site_template/`` of this checkout (an editable
    install), or the copy of it that wheels carry as ``mkdocs_onnx/_starter/``."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_starter", package.parent / "site_template"):
        if (candidate / "mkdocs.yml").is_file() and (candidate / "models.yml").is_file():
            return candidate
    raise MkdocsOnnxError(f"the starter template is missing from this installation ({package / '_starter'})")


def _new(target: str) -> int:
    path = Path(target)
    if path.exists() and not path.is_dir():
        print(f"mkdocs-onnx: {target} exists and is not a folder; choose a new or empty folder", file=sys.stderr)
        return 2
    if path.is_dir() and any(path.iterdir()):
        print(f"mkdocs-onnx: {target} is not empty; refusing to overwrite it (choose a new or empty folder)",
              file=sys.stderr)
        return 2
    source = starter_dir()
    try:
        shutil.copytree(source, path, ignore=STARTER_IGNORED, dirs_exist_ok=True)
    except OSError as exc:
        print(f"mkdocs-onnx: cannot create {target}: {exc}", file=sys.stderr)
        return 1
    shown = os.path.normpath(target)
    print(f"Created a model zoo in {shown}:")
    for name, what in (("mkdocs.yml", "site settings, with the onnx plugin"),
                       ("models.yml", "the models: add yours here"),
                       ("docs/index.md", "the landing page")):
        print(f"  {os.path.join(shown, name):<{len(shown) + 16}} {what}")
    print(f"Next: cd {shown} && mkdocs serve   (or mkdocs build, into {os.path.join(shown, 'site')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
