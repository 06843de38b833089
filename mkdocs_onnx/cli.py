"""The `mkdocs-onnx` command: analyse a model on the terminal, list device profiles."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from mkdocs_onnx.errors import MkdocsOnnxError

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def _dim(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with a positive integer VALUE, got {text!r}")
    return name, int(value)


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
    except MkdocsOnnxError as e:
        print(f"mkdocs-onnx: {e}", file=sys.stderr)
        return 1
    return 2


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


if __name__ == "__main__":
    sys.exit(main())
