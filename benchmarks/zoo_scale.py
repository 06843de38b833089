"""Site build time for zoos of 10, 50 and 200 models, cold and warm, and the cores a cold build uses.

The zoos are generated here (onnx.helper): small CNNs and MLPs of different widths, so
that every file is distinct. Each build runs `mkdocs build` in a subprocess; CPU time over
wall time shows how many cores the build kept busy. A warm build does what every build
does (MkDocs renders the pages, one after another); what a cold build does on top of it,
analysing the models and drawing their charts, runs on every core: its cores are the
extra CPU time of the cold build over its extra wall time.

    python benchmarks/zoo_scale.py [--sizes 10 50 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper, numpy_helper


def _weight(rng, name: str, shape) -> onnx.TensorProto:
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def make_model(i: int, path: str) -> None:
    rng = np.random.default_rng(i)
    channels, hidden = 4 + i % 13, 16 + i
    inits = [_weight(rng, "c1", (channels, 3, 3, 3)), _weight(rng, "b1", (channels,)),
             _weight(rng, "w1", (channels * 16 * 16, hidden)), _weight(rng, "w2", (hidden, 10))]
    nodes = [
        helper.make_node("Conv", ["x", "c1", "b1"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("MatMul", ["f", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["a"]),
        helper.make_node("MatMul", ["a", "w2"], ["y"]),
    ]
    graph = helper.make_graph(nodes, f"net{i}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], inits)
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def make_zoo(root: str, n: int) -> None:
    os.makedirs(os.path.join(root, "docs"))
    os.makedirs(os.path.join(root, "models"))
    with open(os.path.join(root, "docs", "index.md"), "w") as f:
        f.write("# Benchmark zoo\n")
    entries = []
    for i in range(n):
        make_model(i, os.path.join(root, "models", f"net{i}.onnx"))
        entries.append({"name": f"Net {i}", "path": f"models/net{i}.onnx", "task": ["image-classification", "tabular"][i % 2]})
    with open(os.path.join(root, "models.yml"), "w") as f:
        yaml.safe_dump({"models": entries}, f)
    config = {"site_name": "bench", "theme": {"name": "material", "font": False},
              "markdown_extensions": ["attr_list", "md_in_html", "admonition", "pymdownx.details", "pymdownx.superfences",
                                      {"pymdownx.tabbed": {"alternate_style": True}}, "tables", "footnotes", "toc"],
              "plugins": ["search", {"onnx": {"device": ["h100-sxm", "t4"]}}]}
    with open(os.path.join(root, "mkdocs.yml"), "w") as f:
        yaml.safe_dump(config, f)


def timed_build(root: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the build and its worker processes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=root, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {'models':>6s} {'cold s':>8s} {'cores used':>10s} {'warm s':>8s} {'cold/warm':>9s}"
          f" {'cold extra s':>12s} {'its cores':>9s}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as root:
            make_zoo(root, n)
            cold, cold_cpu = timed_build(root)
            warm, warm_cpu = timed_build(root)
        extra = cold - warm
        extra_cores = f"{(cold_cpu - warm_cpu) / extra:9.2f}" if extra > 0.2 else f"{'-':>9s}"  # shorter is noise
        print(f"{'':8s} {n:6d} {cold:8.1f} {cold_cpu / cold:10.2f} {warm:8.1f} {cold / warm:8.1f}x"
              f" {extra:12.1f} {extra_cores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
