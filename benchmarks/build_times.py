"""Cold and warm build times of the demo site, and their ratio.

A cold build starts from an empty cache and analyses every model; a warm build finds
every report (and chart) in the cache. Both run `mkdocs build` in this process on the
repository's own mkdocs.yml, into a temporary site directory.

    python benchmarks/build_times.py [--repeat N]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

from mkdocs.commands.build import build
from mkdocs.config import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed_build(cache_dir: str, site_dir: str) -> float:
    config = load_config(os.path.join(REPO, "mkdocs.yml"), site_dir=site_dir)
    config.plugins["onnx"].config.cache_dir = cache_dir
    started = time.perf_counter()
    build(config)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold/warm pairs to time (default 3)")
    args = parser.parse_args()
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    cold, warm = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            cache, site = os.path.join(tmp, "cache"), os.path.join(tmp, "site")
            cold.append(timed_build(cache, site))
            warm.append(timed_build(cache, site))
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"demo site, median of {args.repeat}: cold build {c:.2f} s, warm build {w:.2f} s, cold/warm {c / w:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
