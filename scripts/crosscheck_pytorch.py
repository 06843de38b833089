#!/usr/bin/env python3
"""Export real architectures from PyTorch and check the analyzer's counts against PyTorch's own.

    pip install torch torchvision transformers onnxscript
    python scripts/crosscheck_pytorch.py [NAME ...]

Each model is built from its configuration (small sizes, nothing downloaded), its weights
drawn at random (so that no two tensors are alike and no exporter merges them), exported
with ``torch.onnx.export(dynamo=True)`` at a fixed input size, and analysed. Printed, per
model: the parameters PyTorch counts (``sum(p.numel() for p in model.parameters())``) and
the analyzer's, and the FLOPs of the matrix products (MatMul, Gemm, Conv) against
``torch.utils.flop_counter.FlopCounterMode``. Expected differences: exporters fold
BatchNorm into the convolutions before it (the file then holds fewer parameters, as the
last column says), and some fold the rows of learned position embeddings a fixed input
size reads into a new constant (the file then holds them twice: BERT with some
transformers versions); FlopCounterMode leaves out PyTorch's fused attention kernels
(scaled_dot_product_attention, nn.MultiheadAttention's fast path), which the ONNX file
writes out as MatMuls, hence ratios above 1 for transformers. These packages are not the
project's dependencies: the script says so and stops when one is missing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings

MATRIX_PRODUCTS = {"MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"}


def models():
    """name -> (model, example inputs): a few of each family a zoo publishes."""
    import torch
    import torchvision.models as vision
    import transformers as hf

    def ids(n=16):
        return (torch.randint(0, 1000, (1, n)),)

    def image(size=224):
        return (torch.randn(1, 3, size, size),)

    small = dict(num_hidden_layers=2, num_attention_heads=4, vocab_size=1000)
    return {
        "gpt2": lambda: (hf.GPT2LMHeadModel(hf.GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1000)), ids()),
        "bert": lambda: (hf.BertModel(hf.BertConfig(hidden_size=128, intermediate_size=256, **small)), ids()),
        "llama": lambda: (hf.LlamaForCausalLM(hf.LlamaConfig(hidden_size=128, intermediate_size=256, num_key_value_heads=2,
                                                               **small)), ids()),
        "mistral": lambda: (hf.MistralForCausalLM(hf.MistralConfig(hidden_size=128, intermediate_size=256,
                                                                   num_key_value_heads=2, sliding_window=8, **small)), ids()),
        "bloom": lambda: (hf.BloomForCausalLM(hf.BloomConfig(hidden_size=128, n_layer=2, n_head=4, vocab_size=1000)), ids()),
        "vit": lambda: (hf.ViTModel(hf.ViTConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                                 num_attention_heads=4), add_pooling_layer=False), image()),
        "resnet18": lambda: (vision.resnet18(weights=None), image()),
        "convnext_tiny": lambda: (vision.convnext_tiny(weights=None), image()),
        "lstm": lambda: (_LSTM(), ids()),
    }


def _LSTM():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.lstm, self.head = torch.nn.Embedding(1000, 64), torch.nn.LSTM(64, 128, 2, batch_first=True), \
                torch.nn.Linear(128, 5)

        def forward(self, tokens):
            return self.head(self.lstm(self.embed(tokens))[0][:, -1])
    return Net()


def check(name, make, folder: str) -> str:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mkdocs_onnx import analyze

    torch.manual_seed(0)
    model, inputs = make()
    model.eval()
    if getattr(model, "config", None) is not None:
        model.config.use_cache = False
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
        params = sum(p.numel() for p in model.parameters())
        with FlopCounterMode(display=False) as counter:
            model(*inputs)
        path = os.path.join(folder, f"{name}.onnx")
        torch.onnx.export(model, inputs, dynamo=True, optimize=True).save(path)
    report = analyze(path)
    products = sum(v for k, v in report.flops.by_op_type.items() if k in MATRIX_PRODUCTS)
    torch_flops = counter.get_total_flops()
    note = "same" if report.params.total == params else (
        "BatchNorm folded by the exporter" if report.params.total < params and "resnet" in name else "differs")
    return (f"{name:14s} {params:>12,} {report.params.total:>12,}  {torch_flops:>15,} {products:>15,} "
            f"{products / torch_flops:6.3f}  {note}")


def main(names: list[str]) -> int:
    try:
        import onnxscript  # noqa: F401
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"needs torch, torchvision, transformers and onnxscript ({e.name} is missing)")
        return 2
    warnings.simplefilter("ignore")
    chosen = {k: v for k, v in models().items() if not names or k in names}
    print(f"{'model':14s} {'torch params':>12s} {'ours':>12s}  {'torch FLOPs':>15s} {'ours (products)':>15s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as folder:
        for name, make in chosen.items():
            print(check(name, make, folder), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
