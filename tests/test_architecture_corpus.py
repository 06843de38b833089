"""The family of every real model in the corpus, labelled by hand, against the detector.

Each label says what the model is, decided from its source (SOURCES.tsv), its name and
its graph; the detector must agree on every one. The onnx package's light models (the
classic ImageNet CNNs, with their weights replaced by fills) are labelled too.
"""

from __future__ import annotations

import pytest

from helpers import CORPUS, LIGHT, corpus_models
from mkdocs_onnx import analyze

GITHUB = "github/"
LABELS = {
    # Ultra-Light-Fast-Generic-Face-Detector-1MB: RFB / slim SSD-style face detectors
    "Linzaer+Ultra-Light-Fast-Generic-Face-Detector-1MB/masked_face/pretrained/RFB-640-masked_face-v2.onnx": "cnn",
    "Linzaer+Ultra-Light-Fast-Generic-Face-Detector-1MB/models/onnx/version-RFB-320.onnx": "cnn",
    "Linzaer+Ultra-Light-Fast-Generic-Face-Detector-1MB/models/onnx/version-RFB-320_simplified.onnx": "cnn",
    "Linzaer+Ultra-Light-Fast-Generic-Face-Detector-1MB/models/onnx/version-RFB-320_without_postprocessing.onnx": "cnn",
    "Linzaer+Ultra-Light-Fast-Generic-Face-Detector-1MB/models/onnx/version-RFB-640.onnx": "cnn",
    "Linzaer+Ultra-Light-Fast-Generic-Face-Detector-1MB/models/onnx/version-slim-320.onnx": "cnn",
    # scikit-learn (skl2onnx) classifier for the 8x8 digits: a pipeline ending in ZipMap
    "alrevuelta+cONNXr/models/digits.onnx": "classical-ml",
    # MNIST: two convolutions and a dense layer (CNTK's mnist-8 and PyTorch's small variant)
    "kraiskil+onnx2c/examples/atmega_mnist/mnist.simplified.onnx": "cnn",
    "kraiskil+onnx2c/test/mnist/model.onnx": "cnn",
    "webonnx+wonnx/tests/mnist-8.onnx": "cnn",
    # MNIST as three dense layers with batch norm on flattened pixels
    "kraiskil+onnx2c/test/mnist/pytorch.onnx": "mlp",
    "kraiskil+onnx2c/test/simple_networks/treeensembleclassifier.onnx": "classical-ml",
    # Valerio Velardo's "deep learning for audio" lesson 14: Flatten + four Dense layers (Keras)
    "kraiskil+onnx2c/test/velardo/lesson14.onnx": "mlp",
    # Core ML OneHotEncoder/Scaler feature pipeline (BikeSharing)
    "microsoft+onnxconverter-common/tests/coreml_OneHotEncoder_BikeSharing.onnx": "classical-ml",
    # PyTorch CIFAR-10 image classifiers (conv, pool, linear), float16 and float32
    "microsoft+onnxconverter-common/tests/data/image_classifier16.onnx": "cnn",
    "microsoft+onnxconverter-common/tests/data/image_classifier32.onnx": "cnn",
    # Keras conv/deconv encoder-decoder with batch norm (no recurrence, no attention)
    "microsoft+onnxconverter-common/tests/data/test_model_0_no_opt.onnx": "cnn",
    # Keras: kernel-1 Conv1D projections around two stacked LSTMs and a sigmoid gate
    "microsoft+onnxconverter-common/tests/data/test_model_1_no_opt.onnx": "rnn",
    # a toy If/Add/Max control-flow graph with no layers at all
    "microsoft+onnxconverter-common/tests/data/test_subgraph.onnx": "unknown",
    # the PyTorch super-resolution tutorial network (four convs + pixel shuffle)
    "microsoft+onnxjs/test/data/super_resolution/super-resolution-10.onnx": "cnn",
    "microsoft+onnxruntime-extensions/test/data/ppp_vision/pytorch_super_resolution.onnx": "cnn",
    "microsoft+onnxruntime-extensions/test/data/supres.onnx": "cnn",
    "onnx+tutorials/tutorials/assets/super_resolution.onnx": "cnn",
    # Teams background segmentation network (conv encoder-decoder)
    "microsoft+onnxjs/test/data/teams_model/msra_190729.onnx": "cnn",
    # tokenizers: one custom ai.onnx.contrib operator each, no network
    "microsoft+onnxruntime-extensions/test/data/bert-large-uncased-whole-word-masking-finetuned-squad-tokenizer.onnx": "unknown",
    "microsoft+onnxruntime-extensions/test/data/custom_op_gpt2tok.onnx": "unknown",
    "microsoft+onnxruntime-extensions/test/data/test_bert_tokenizer.onnx": "unknown",
    "microsoft+onnxruntime-extensions/tutorials/data/gpt-2/gpt2_tok.onnx": "unknown",
    "microsoft+onnxruntime-extensions/tutorials/demo4dotnet/ClipTokenizerTest/cliptok.onnx": "unknown",
    # FastestDet: a ShuffleNetV2-based single-scale object detector
    "microsoft+onnxruntime-extensions/test/data/ppp_vision/FastestDet.onnx": "cnn",
    # tract's Keras/TF2 example: Dense(32, relu) + Dense(1, sigmoid)
    "sonos+tract/examples/keras-tract-tf2/example.onnx": "mlp",
    # byte-level sentence-boundary tagger: embedding + two bidirectional LSTMs
    "sonos+tract/onnx/test_cases/byte_sb_bidi_lstm/model.onnx": "rnn",
    # quantized LSTM cell written out inside a Scan (QLinearConv gates, Sigmoid/Tanh)
    "sonos+tract/onnx/test_cases/qlstm_3-2-3_T3_S1/model.onnx": "rnn",
    # LightGBM through Hummingbird: tree traversal as Gather/Less/OneHot/ReduceSum tensor ops
    "sonos+tract/onnx/test_cases/lgbm_classifier_tensor/model.onnx": "classical-ml",
    "sonos+tract/onnx/test_cases/lgbm_regressor_tensor/model.onnx": "classical-ml",
    "sonos+tract/onnx/test_cases/linear_classifier/model.onnx": "classical-ml",
    "sonos+tract/onnx/test_cases/linear_regressor/model.onnx": "classical-ml",
    "sonos+tract/onnx/test_cases/xgboost_classifier_tree/model.onnx": "classical-ml",
    "sonos+tract/onnx/test_cases/xgboost_regressor_tree/model.onnx": "classical-ml",
}
LIGHT_LABELS = {name: "cnn" for name in (
    "light_bvlc_alexnet.onnx", "light_densenet121.onnx", "light_inception_v1.onnx", "light_inception_v2.onnx",
    "light_resnet50.onnx", "light_shufflenet.onnx", "light_squeezenet.onnx", "light_vgg19.onnx", "light_zfnet512.onnx",
)}
_ABSENT = f"real-model corpus not present ({CORPUS}); it lives outside the repository"


def _key(path) -> str:
    return str(path.relative_to(CORPUS / "github"))


@pytest.mark.skipif(not CORPUS.is_dir(), reason=_ABSENT)
def test_every_corpus_model_has_a_hand_label():
    found = {_key(p) for p in corpus_models()}
    assert found == set(LABELS), (f"unlabelled: {sorted(found - set(LABELS))}; "
                                  f"labelled but gone: {sorted(set(LABELS) - found)}")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=_ABSENT)
@pytest.mark.parametrize("key", sorted(LABELS))
def test_detector_agrees_with_the_hand_label(key):
    path = CORPUS / "github" / key
    if not path.exists():
        pytest.skip(f"{key} not in this copy of the corpus")
    arch = analyze(path).architecture
    assert arch.family == LABELS[key], f"{key}: detected {arch.family}; evidence: {arch.evidence}"
    assert arch.evidence, "a verdict always comes with its evidence"


@pytest.mark.parametrize("name", sorted(LIGHT_LABELS))
def test_light_models(name):
    arch = analyze(LIGHT / name).architecture
    assert arch.family == LIGHT_LABELS[name], arch.evidence


def test_named_families():
    """The headline cases: mnist-8 is a CNN, the LSTM models RNNs, the tree and linear models classical ML."""
    assert LABELS["webonnx+wonnx/tests/mnist-8.onnx"] == "cnn"
    assert {LABELS[k] for k in LABELS if "lstm" in k.lower()} == {"rnn"}
    assert {LABELS[k] for k in LABELS if any(w in k for w in ("tree", "linear_", "lgbm", "xgboost"))} == {"classical-ml"}
    assert {LABELS[k] for k in LABELS if "tok" in k.lower()} == {"unknown"}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=_ABSENT)
@pytest.mark.parametrize("key, task", [
    ("webonnx+wonnx/tests/mnist-8.onnx", "image-classification"),
    ("Linzaer+Ultra-Light-Fast-Generic-Face-Detector-1MB/models/onnx/version-RFB-320.onnx", "object-detection"),
    ("microsoft+onnxruntime-extensions/test/data/ppp_vision/FastestDet.onnx", "object-detection"),
    ("microsoft+onnxjs/test/data/teams_model/msra_190729.onnx", "segmentation"),
    ("onnx+tutorials/tutorials/assets/super_resolution.onnx", "super-resolution"),
    ("microsoft+onnxruntime-extensions/tutorials/data/gpt-2/gpt2_tok.onnx", "tokenization"),
    ("sonos+tract/onnx/test_cases/xgboost_classifier_tree/model.onnx", "tabular"),
    ("sonos+tract/onnx/test_cases/lgbm_regressor_tensor/model.onnx", "tabular"),
])
def test_task_guesses_on_real_models(key, task):
    path = CORPUS / "github" / key
    if not path.exists():
        pytest.skip(f"{key} not in this copy of the corpus")
    arch = analyze(path).architecture
    assert arch.task_guess == task
    assert any(e.startswith(f"task guessed as {task}:") for e in arch.evidence)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=_ABSENT)
def test_real_model_blocks():
    mnist = analyze(CORPUS / "github/webonnx+wonnx/tests/mnist-8.onnx").architecture
    assert mnist.blocks == ["2 × Conv → ReLU → MaxPool", "dense head: 256 → 10"]
    lstm = analyze(CORPUS / "github/sonos+tract/onnx/test_cases/byte_sb_bidi_lstm/model.onnx").architecture
    assert "1 × LSTM (hidden 128, bidirectional)" in lstm.blocks
    assert any(b.startswith("embeddings") and "token table 256 × 32" in b for b in lstm.blocks)
    qlstm = analyze(CORPUS / "github/sonos+tract/onnx/test_cases/qlstm_3-2-3_T3_S1/model.onnx").architecture
    assert any("Scan over a recurrent cell (QLinearConv, Sigmoid, Tanh)" in b for b in qlstm.blocks)


def test_resnet50_residual_blocks_counted_exactly():
    arch = analyze(LIGHT / "light_resnet50.onnx").architecture
    # 3 + 4 + 6 + 3 bottleneck blocks, the first of each stage with a projection shortcut
    assert "16 residual connections (Add of a shortcut and a path through weights; 4 with a projection shortcut)" in arch.blocks
