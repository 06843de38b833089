"""Analysis time per model: mkdocs-onnx against onnx-tool and against the floor.

The floor is what any analysis must at least do: ``onnx.load`` and
``onnx.shape_inference.infer_shapes``. onnx-tool is timed as its documentation uses it:
``onnx_tool.Model(path)``, ``graph.shape_infer()``, ``graph.profile()`` (skipped, with a
note, when the package is not installed: ``pip install onnx-tool``). Each figure is the
best of several runs in this process (more for sub-millisecond calls, whose best of a
few is noise).

    python benchmarks/analysis_speed.py [MODEL.onnx ...]

Without arguments: the onnx package's light_* models, the demo zoo's models and, when
present, the real-model corpus next to the repository; then four of the light models
written with their weights in the file, as a zoo publishes them (the light models hold
placeholders instead, which keeps their files, and the floor, small). Last, the fixed
cost of a call: each of the three on a model of one Relu, generated here.
"""

from __future__ import annotations

import glob
import math
import os
import sys
import time
import warnings

import numpy as np
import onnx

from mkdocs_onnx import analyze

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_models() -> list[str]:
    light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    corpus = os.path.join(REPO, "..", "shared", "onnx-corpus")
    return (sorted(glob.glob(os.path.join(light, "*.onnx"))) + sorted(glob.glob(os.path.join(REPO, "models", "*.onnx")))
            + sorted(glob.glob(os.path.join(corpus, "**", "*.onnx"), recursive=True)))


def best_of(fn, runs: int, min_seconds: float = 0.25) -> float:
    """Best time of ``runs`` calls or more: sub-millisecond calls are repeated until
    ``min_seconds`` have passed (at most 100 × ``runs`` calls), or their best is noise."""
    best = math.inf
    calls = 0
    deadline = time.perf_counter() + min_seconds
    while calls < runs or (time.perf_counter() < deadline and calls < 100 * runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
        calls += 1
    return best


def floor(path: str) -> None:
    onnx.shape_inference.infer_shapes(onnx.load(path))


def onnx_tool_profile(path: str) -> None:
    import onnx_tool

    model = onnx_tool.Model(path)
    model.graph.shape_infer()
    model.graph.profile()


def labels(paths: list[str]) -> dict[str, str]:
    """Each file's name, with its folder where several files share the name (model.onnx)."""
    names = [os.path.basename(p) for p in paths]
    full = {p: os.path.join(os.path.basename(os.path.dirname(p)), n) if names.count(n) > 1 else n
            for p, n in zip(paths, names)}
    return {p: label if len(label) <= 40 else "…" + label[-39:] for p, label in full.items()}


def geomean(xs: list[float]) -> float:
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


def main(paths: list[str], weights: bool = False) -> int:
    """``weights``: also time light models written with their weights (see :func:`with_weights`)."""
    try:
        import onnx_tool  # noqa: F401
        have_tool = True
    except ImportError:
        have_tool = False
        print("onnx-tool is not installed: its column is skipped (pip install onnx-tool)")
    warnings.simplefilter("ignore")
    summarise(compare(labels(paths), have_tool))
    if weights:
        with_weights(have_tool)
    fixed_cost(have_tool)
    return 0


def compare(models: dict[str, str], have_tool: bool) -> list[tuple[float, float, float | None]]:
    """Time every model (path -> label) three ways, print a line each; (floor s, ours s, onnx-tool s or None)."""
    rows = []
    print(f"{'model':40s} {'floor ms':>9s} {'ours ms':>9s} {'ours/floor':>10s} {'onnx-tool ms':>12s} {'ours/tool':>9s}")
    for path, label in models.items():
        try:
            base = best_of(lambda: floor(path), 5)
        except Exception as e:  # a model the floor itself cannot handle is no comparison
            print(f"{label:40s} floor failed: {type(e).__name__}")
            continue
        ours = best_of(lambda: analyze(path), 5)
        tool = None
        line = f"{label:40s} {base * 1e3:9.2f} {ours * 1e3:9.2f} {ours / base:9.2f}x"
        if have_tool:
            try:
                tool = best_of(lambda: onnx_tool_profile(path), 3)
                line += f" {tool * 1e3:12.2f} {ours / tool:8.2f}x"
            except Exception as e:  # onnx-tool fails on many real models; say so
                line += f" {'failed':>12s} ({type(e).__name__})"
        rows.append((base, ours, tool))
        print(line)
    return rows


WITH_WEIGHTS = ("light_squeezenet.onnx", "light_densenet121.onnx", "light_inception_v2.onnx", "light_resnet50.onnx")


def with_weights(have_tool: bool) -> None:
    """The light models stand for real ones without their weights, which makes their files
    small and the floor cheap. A published model holds its weights: here a few of them are
    written with their weights in the file (random values of the real shapes, 5-100 MB)."""
    import tempfile

    light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    print("\nThe same architectures with their weights in the file, as a zoo publishes them:")
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for name in WITH_WEIGHTS:
            path = os.path.join(tmp, name.replace("light_", ""))
            onnx.save(materialized(onnx.load(os.path.join(light, name))), path)
            models[path] = f"{os.path.basename(path)} ({os.path.getsize(path) / 2**20:.0f} MiB)"
        summarise(compare(models, have_tool))


def materialized(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with each ConstantOfShape placeholder (fed by a constant shape) replaced by an
    initializer of random float32 values of that shape."""
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    shapes = {t.name: tuple(numpy_helper.to_array(t)) for t in model.graph.initializer
              if t.data_type == onnx.TensorProto.INT64 and len(t.dims) == 1}
    kept = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in shapes:
            weight = (rng.standard_normal(shapes[node.input[0]]) * 0.02).astype(np.float32)
            model.graph.initializer.append(numpy_helper.from_array(weight, node.output[0]))
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def fixed_cost(have_tool: bool) -> None:
    """What a call costs whatever the model: each tool on a model of one Relu, generated here.
    Below a millisecond, this (reading and hashing the file, building the report) is most of it."""
    import tempfile

    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "relu.onnx")
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
        base, ours = best_of(lambda: floor(path), 5), best_of(lambda: analyze(path), 5)
        line = f"fixed cost per call (a one-Relu model): floor {base * 1e3:.3f} ms, ours {ours * 1e3:.3f} ms"
        if have_tool:
            line += f", onnx-tool {best_of(lambda: onnx_tool_profile(path), 5) * 1e3:.3f} ms"
    print(line)


def summarise(rows: list[tuple[float, float, float | None]]) -> None:
    """Ratios over all models, then by the floor's size: below a millisecond, a fixed cost per
    call (reading the file, building the report) weighs more than the graph does."""
    def line(label: str, subset) -> str:
        if not subset:
            return f"{label}: no models"
        ratios = [ours / base for base, ours, _ in subset]
        extra = sorted((ours - base) * 1e3 for base, ours, _ in subset)
        return (f"{label} ({len(subset)} models): ours/floor geometric mean {geomean(ratios):.2f}x, "
                f"{sum(r <= 2 for r in ratios)} at or under 2x, median extra time {extra[len(extra) // 2]:.2f} ms")

    print(line("all", rows))
    total_floor, total_ours = sum(r[0] for r in rows), sum(r[1] for r in rows)
    print(f"all models together (what a build of them spends analysing): ours {total_ours * 1e3:.1f} ms, "
          f"floor {total_floor * 1e3:.1f} ms, ours/floor {total_ours / total_floor:.2f}x")
    print(line("floor >= 1 ms", [r for r in rows if r[0] >= 1e-3]))
    print(line("floor < 1 ms", [r for r in rows if r[0] < 1e-3]))
    with_tool = [(ours, tool) for _, ours, tool in rows if tool is not None]
    if with_tool:
        faster = sum(ours < tool for ours, tool in with_tool)
        print(f"onnx-tool ({len(with_tool)} models it handles): ours/onnx-tool geometric mean "
              f"{geomean([ours / tool for ours, tool in with_tool]):.2f}x, ours faster on {faster}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or default_models(), weights=len(sys.argv) == 1))
