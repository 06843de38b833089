"""Peak memory (RSS) of analysing a model whose weights live in a multi-GB external file.

The model is generated here: a stack of dense layers whose weights are declared as
external data in one file of the requested size. The data file is created sparse (its
content never matters: the analyzer must not read it), so the benchmark needs no
gigabytes of free disk. Analysis runs in a fresh subprocess whose peak RSS is measured.

    python benchmarks/external_data_memory.py [--gib 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper

HIDDEN = 8192  # one 8192 x 8192 float32 weight is 256 MiB


def make_model(folder: str, gib: float) -> tuple[str, int]:
    layers = max(1, int(gib * 2**30 // (HIDDEN * HIDDEN * 4)))
    nodes, weights, offset = [], [], 0
    x = "x"
    for i in range(layers):
        w = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[HIDDEN, HIDDEN])
        w.data_location = TensorProto.EXTERNAL
        length = HIDDEN * HIDDEN * 4
        for key, value in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(length))):
            w.external_data.add(key=key, value=value)
        offset += length
        weights.append(w)
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"]))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"a{i}"]))
        x = f"a{i}"
    graph = helper.make_graph(nodes, "dense-stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", HIDDEN])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", HIDDEN])], weights)
    path = os.path.join(folder, "model.onnx")
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with open(os.path.join(folder, "weights.bin"), "wb") as f:
        f.truncate(offset)  # sparse: the size is real, the blocks are not allocated
    return path, offset


CHILD = """
import json, resource, sys, time
from mkdocs_onnx import analyze
started = time.perf_counter()
r = analyze(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started, "params": r.params.total,
                  "external": r.model.external_data_bytes,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

BASELINE = """
import json, resource
import mkdocs_onnx.analysis
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0, help="size of the external data (default 4 GiB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path, data_bytes = make_model(folder, args.gib)
        base = run(BASELINE)
        result = run(CHILD, path)
    rss = result["rss_kib"] * 1024
    print(f"external data {data_bytes / 2**30:.2f} GiB ({result['external']:,} bytes reported), "
          f"{result['params']:,} parameters")
    print(f"analysis {result['seconds'] * 1e3:.0f} ms, peak RSS {rss / 2**20:.0f} MiB "
          f"(interpreter with the package imported: {base['rss_kib'] / 1024:.0f} MiB); "
          f"RSS / data size = {rss / data_bytes:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
