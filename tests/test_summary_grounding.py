"""The grounding check: architecture claims and figures against the Report."""

from __future__ import annotations

import pytest

from mkdocs_onnx.summary.grounding import architecture_problems, check, find_figures, matches

try:
    from test_summary_support import cnn_entry, small_cnn_report
except ImportError:  # pragma: no cover
    from tests.test_summary_support import cnn_entry, small_cnn_report

from helpers import MNIST


@pytest.fixture(scope="module")
def cnn():
    return small_cnn_report(latency_s=4.5e-6)  # 2,010 params, 69,590 FLOPs, 7.85 KiB weights, 24.5 KiB peak


def with_family(report, family, **ops):
    import copy

    r = copy.deepcopy(report)
    r.architecture.family = family
    r.graph.op_counts = {**r.graph.op_counts, **ops}
    return r


# --- architecture ---------------------------------------------------------------------

IDENTITY_CLAIMS = [
    "The model is a multi-layer perceptron.",
    "It is a multilayer perceptron designed for digits.",
    "This MLP model classifies digits.",
    "An MLP for digit classification.",
    "tiny-cnn is structured as a multi-layer perceptron (MLP) designed for digit classification.",
    "The model, a small feed-forward network, reads digits.",
    "This transformer has a few parameters.",
    "It is a transformer.",
    "tiny-cnn is an attention-free transformer-based model.",
    "The model, a small recurrent network, reads digits.",
    "It is an LSTM-based classifier.",
    "Architecture: MLP.",
    "The model is a small MLP-like network.",
    "It is a gradient-boosted tree ensemble.",
]


@pytest.mark.parametrize("text", IDENTITY_CLAIMS)
def test_identity_claims_that_contradict_a_cnn_are_rejected(cnn, text):
    problems = architecture_problems(text, cnn)
    assert len(problems) == 1 and problems[0].startswith("calls the model ") and "the graph is a cnn" in problems[0]


def test_mlp_reason_names_claim_and_family(cnn):
    assert architecture_problems("It is a multi-layer perceptron (MLP).", cnn) == [
        "calls the model an MLP but the graph is a cnn"
    ]


NOT_CLAIMS = [
    "A compact CNN that ends in a fully connected layer.",
    "The network is a small convolutional neural network with an MLP head.",
    "Two convolutional layers feed a fully connected classifier.",
    "It is not an MLP: it is a CNN.",
    "Unlike a transformer, it has no attention.",
    "Rather than an MLP, it uses convolutions.",
    "The classifier uses an MLP classifier head.",
    "It uses a feed-forward network at the end.",
    "It is fully convolutional.",
    "It is a convolutional model.",
    "It behaves like an MLP on flattened features.",
    "tiny-cnn is a LeNet-style CNN with 2 conv layers and a dense layer.",
    "Smaller than a typical transformer, it runs anywhere.",
    "The dense layers at the end are fully connected.",
    "It has no recurrent connections and no LSTM cells.",
    "Hugging Face Transformers exporter output; ONNX Runtime runs it anywhere.",
]


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_parts_negations_and_correct_claims_pass_for_a_cnn(cnn, text):
    assert architecture_problems(text, cnn) == []


def test_claims_are_judged_against_the_actual_family(cnn):
    mlp = with_family(cnn, "mlp")
    assert architecture_problems("It is a multi-layer perceptron with 2,010 parameters.", mlp) == []
    assert architecture_problems("It is a convolutional neural network.", mlp) == [
        "calls the model a CNN but the graph is an mlp"
    ]
    encoder = with_family(cnn, "transformer-encoder")
    assert architecture_problems("This transformer encoder has an MLP block in each layer.", encoder) == []
    assert architecture_problems("It is a BERT-style transformer model.", encoder) == []
    assert architecture_problems("It is a vision transformer.", encoder) == [
        "calls the model a vision transformer but the graph is a transformer-encoder"
    ]
    vit = with_family(cnn, "vision-transformer")
    assert architecture_problems("It is a vision transformer (ViT).", vit) == []
    assert architecture_problems("This ViT is a transformer.", vit) == []
    hybrid = with_family(cnn, "hybrid")
    assert architecture_problems("It is a CNN-LSTM model.", hybrid) == []
    rnn = with_family(cnn, "rnn", GRU=1)
    assert architecture_problems("It is a recurrent neural network.", rnn) == []
    assert architecture_problems("It is a GRU network.", rnn) == []
    assert architecture_problems("It is an LSTM network.", rnn) == [
        "calls the model an LSTM but its recurrent cells are GRU"
    ]
    unknown = with_family(cnn, "unknown")
    assert architecture_problems("It is an MLP.", unknown) == [
        "calls the model an MLP but the graph is of no recognised family"
    ]


def test_competitor_summary_of_the_real_mnist_is_rejected():
    if not MNIST.exists():
        pytest.skip("real-model corpus not present")
    from mkdocs_onnx import analyze
    from mkdocs_onnx.analysis.report import HardwareEstimate

    report = analyze(str(MNIST))
    report.hardware.append(HardwareEstimate("NVIDIA GeForce RTX 4050 Laptop GPU", "fp32", 125_000_000, True, 9.0e-7,
                                            "memory bandwidth", 1.0))
    text = ('The model "mnist.onnx" is a multi-layer perceptron (MLP) designed for digit classification tasks, '
            "with a size of approximately 23.9 KB and a total of 5,998 parameters. It requires about 1.6 million "
            "floating-point operations (FLOPs) and has a low theoretical latency of approximately 0.0003 ms.")
    problems = check(text, report)
    assert problems[0] == "calls the model an MLP but the graph is a cnn"
    assert any(p.startswith('"0.0003 ms" matches no latency') for p in problems)
    assert len(problems) == 2  # 23.9 KB, 5,998 parameters and 1.6 million FLOPs are within tolerance


# --- figures --------------------------------------------------------------------------

GROUNDED_FIGURES = [
    "It has 2,010 parameters.",
    "It has about 2K parameters.",
    "It has 2.01 thousand trainable params.",
    "A 2,010-parameter network.",
    "One inference costs 69.6 KFLOPs.",
    "One inference costs about 70 thousand FLOPs.",
    "One inference costs 69,590 floating-point operations.",
    "One inference costs 34.8 K MACs.",
    "Weights take 7.85 KiB; weights take 8 KB; the file is 8,398 bytes.",
    "Peak activations reach 24.5 KiB (25 kB).",
    "It needs 64.0 MiB on the Test GPU, which has 16 GB of memory.",
    "Latency is at least 4.50 µs.",
    "Latency is about 4.5 us, i.e. 4,500 ns.",
    "It runs in under 1 ms.",
    "It takes 28x28 images, predicts 10 classes, uses opset 17, batch 1, 99% of FLOPs are Conv.",
    "The device reaches 8.1 TFLOP/s and 320 GB/s.",
]


@pytest.mark.parametrize("text", GROUNDED_FIGURES)
def test_grounded_figures_pass(cnn, text):
    assert check(text, cnn, cnn_entry()) == []


UNGROUNDED_FIGURES = [
    ("Its theoretical latency is approximately 0.0003 ms.", "0.0003 ms", "latency"),
    ("It runs in 12 ms.", "12 ms", "latency"),
    ("It has 5,994 parameters.", "5,994 parameters", "parameter count"),
    ("It has 2.0 M parameters.", "2.0 M parameters", "parameter count"),
    ("One inference costs 69.6 GFLOPs.", "69.6 GFLOPs", "FLOP count"),
    ("Weights take 512 MB.", "512 MB", "size"),
    ("Weights take 0 bytes.", "0 bytes", "size"),
    ("It runs in over 1 ms.", "1 ms", "latency"),
]


@pytest.mark.parametrize("text,figure,kind", UNGROUNDED_FIGURES)
def test_ungrounded_figures_are_rejected(cnn, text, figure, kind):
    problems = check(text, cnn, cnn_entry())
    assert len(problems) == 1 and problems[0].startswith(f'"{figure}" matches no {kind} in the report')


def test_latency_matches_any_batch_and_nearest_is_named(cnn):
    import copy

    r = copy.deepcopy(cnn)
    r.hardware[0].details["batches"] = [{"batch": 1, "latency_s": 4.5e-6}, {"batch": 64, "latency_s": 2.1e-4}]
    assert check("At batch 64 it needs at least 210 µs.", r) == []
    (problem,) = check("It needs 0.0003 ms.", r)
    assert problem.endswith("(nearest: 4.50 µs)")


def test_figures_from_the_manifest_description_are_accepted(cnn):
    entry = cnn_entry()
    entry.description = "Runs in 3 ms on a Raspberry Pi."
    assert check("The publisher reports 3 ms on a Raspberry Pi.", cnn, entry) == []
    assert check("The publisher reports 3 ms on a Raspberry Pi.", cnn, cnn_entry()) != []


def test_figure_parsing():
    found = {(f.kind, f.text) for f in find_figures(
        "5,994 parameters, 1.2B parameters, a 7B model, 1.60 MFLOPs, 1.6 million FLOPs, 23.4 KiB, 24 KB, 512 B, "
        "899 ns, 0.9 µs, 12 ms, 2 seconds, 28x28, 10 classes, 320 GB/s, 1,100 inferences per second, mnist-8"
    )}
    assert found == {
        ("params", "5,994 parameters"), ("params", "1.2B parameters"), ("params", "7B model"),
        ("flops", "1.60 MFLOPs"), ("flops", "1.6 million FLOPs"), ("bytes", "23.4 KiB"), ("bytes", "24 KB"),
        ("bytes", "512 B"), ("duration", "899 ns"), ("duration", "0.9 µs"), ("duration", "12 ms"),
        ("duration", "2 seconds"),
    }


def test_tolerance_is_five_percent_or_the_rounding_shown():
    (f,) = find_figures("1.6 MFLOPs")
    assert matches(f, 1_598_698) and matches(f, 1_650_000) and not matches(f, 1_700_000)
    (f,) = find_figures("2 MB")  # one digit shown: 1.5 .. 2.5 MB
    assert matches(f, 2_400_000) and not matches(f, 3_200_000)
    (f,) = find_figures("0.0003 ms")
    assert matches(f, 3.1e-7) and not matches(f, 4.5e-6) and not matches(f, 9e-7)
