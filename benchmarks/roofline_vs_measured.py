"""The roofline latency bound against latency measured on the build machine's GPU.

A card's latency is a lower bound: each node at the device's peak FLOP/s or peak
bandwidth, whichever is slower, with no launch cost and perfect overlap. Here PyTorch runs
the same models on the GPU that NVML detects, and the measured time must never fall
below the bound; the ratio says how far real kernels are from the peaks. Needs an NVIDIA
GPU and PyTorch with CUDA (not dependencies of the project; the script says so and stops
without them).

    python benchmarks/roofline_vs_measured.py

The models are built here: a wide MLP (GEMM-bound at large batch), a ResNet-style CNN
and a transformer encoder, each exported with torch.onnx and analysed with the device
'auto', at fp32 and fp16, batch 1 and 64.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings


def models():
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1))

        def forward(self, x):
            return torch.relu(x + self.body(x))

    mlp = nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))
    cnn = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.ReLU(), *[Residual(64) for _ in range(4)],
                        nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(), *[Residual(128) for _ in range(4)],
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 1000))
    layer = nn.TransformerEncoderLayer(512, 8, 2048, batch_first=True, dropout=0.0)
    encoder = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False)
    return {"MLP 4096 × 3": (mlp, (4096,)), "ResNet-style CNN": (cnn, (3, 224, 224)),
            "transformer encoder (6 × 512, 128 tokens)": (encoder, (128, 512))}


def measured_seconds(model, example, repeats: int = 50) -> float:
    """Median of CUDA-event timings, after warm-up."""
    import torch

    times = []
    with torch.no_grad():
        for _ in range(10):
            model(example)
        torch.cuda.synchronize()
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            model(example)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def bound_seconds(path: str, batch: int, precision: str) -> tuple[float, str]:
    from mkdocs_onnx import analyze
    from mkdocs_onnx.hardware.estimate import add_estimates

    report = analyze(path, batch_size=batch)
    add_estimates(report, "auto", precision)
    estimate = report.hardware[0]
    return estimate.latency_s, estimate.device


def main() -> int:
    try:
        import torch
    except ImportError:
        print("needs PyTorch with CUDA (pip install torch)")
        return 2
    if not torch.cuda.is_available():
        print("needs an NVIDIA GPU that PyTorch can use")
        return 2
    warnings.simplefilter("ignore")
    print(f"{'model':42s} {'batch':>5s} {'prec':>5s} {'bound µs':>10s} {'measured µs':>12s} {'measured/bound':>14s}")
    below = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, (model, shape) in models().items():
            model.eval()
            path = os.path.join(folder, "model.onnx")
            torch.onnx.export(model, (torch.randn(1, *shape),), path, dynamo=False, input_names=["x"],
                              dynamic_axes={"x": {0: "batch"}})
            for precision, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
                gpu = model.to("cuda", dtype)
                for batch in (1, 64):
                    bound, device = bound_seconds(path, batch, precision)
                    seconds = measured_seconds(gpu, torch.randn(batch, *shape, device="cuda", dtype=dtype))
                    below += seconds < bound
                    print(f"{name:42s} {batch:5d} {precision:>5s} {bound * 1e6:10.1f} {seconds * 1e6:12.1f} "
                          f"{seconds / bound:13.1f}x", flush=True)
    print(f"device: {device}; measured below the bound: {below} (must be 0)")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
