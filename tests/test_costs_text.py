"""Text operators and tokenizers (mkdocs_onnx.analysis.costs.text): known zeros, one uncounted with its reason."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.analysis.costs import Uncountable
from mkdocs_onnx.analysis.costs.text import DEFAULT_DOMAIN_TEXT_OPS, EXTENSIONS_TEXT_OPS

try:
    from cost_helpers import flops, node_case
except ImportError:  # tests/ is a package
    from tests.cost_helpers import flops, node_case

CONTRIB = "ai.onnx.contrib"
S, I64 = TensorProto.STRING, TensorProto.INT64


def _tokenizer_model(op: str, inputs: list[str] = ("text",)):
    """A tokenizer model as onnxruntime-extensions' converters write one: a batch of strings in, token ids out."""
    node = helper.make_node(op, list(inputs), ["input_ids", "attention_mask"], domain=CONTRIB, name="tok")
    graph = helper.make_graph(
        [node], "tokenizer", [helper.make_tensor_value_info("text", S, ["batch"])],
        [helper.make_tensor_value_info("input_ids", I64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", I64, ["batch", "tokens"])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(CONTRIB, 1)])


@pytest.mark.parametrize("op", ["GPT2Tokenizer", "CLIPTokenizer", "BertTokenizer", "HfBertTokenizer"])
def test_a_tokenizer_is_a_known_zero_whose_bytes_stay_unknown(op):
    report = analyze_model(_tokenizer_model(op))
    assert report.flops.total == 0 and report.flops.uncounted == [] and not report.flops.none_counted
    (node,) = report.nodes
    assert node.flops == 0
    assert node.bytes_written is None  # the number of tokens follows the text


def test_a_sentencepiece_tokenizer_is_uncounted_with_its_reason():
    report = analyze_model(_tokenizer_model("SentencepieceTokenizer"))
    (uncounted,) = report.flops.uncounted
    assert uncounted.op_type == f"{CONTRIB}.SentencepieceTokenizer"
    assert "lattice" in uncounted.reason and "depends on the text" in uncounted.reason
    with pytest.raises(Uncountable):
        flops("SentencepieceTokenizer", [("text", (1,))], domain=CONTRIB)


def test_every_text_op_counts_zero_in_its_domain():
    for op in EXTENSIONS_TEXT_OPS:
        assert flops(op, [("text", (2,))], domain=CONTRIB) == 0, op
    for op in DEFAULT_DOMAIN_TEXT_OPS:
        assert flops(op, [("text", (2,))]) == 0, op


@pytest.mark.parametrize("op,word", [("SuperResolutionPreProcess", "decoding"), ("DecodeImage", "decoding"),
                                     ("SuperResolutionPostProcess", "encoding"), ("EncodeImage", "encoding")])
def test_extension_image_codecs_are_uncounted_with_their_reason(op, word):
    with pytest.raises(Uncountable, match=word):
        flops(op, [("image", (100,))], domain=CONTRIB)


@pytest.mark.parametrize("case", ["test_string_split_basic", "test_regex_full_match_basic", "test_strnormalizer_export_monday_casesensintive_lower"])
def test_default_domain_string_cases_count_zero(case):
    found = node_case(case)
    if found is None:
        pytest.skip(f"the installed onnx has no node case {case}")
    report = analyze_model(found.model)
    assert report.flops.total == 0 and report.flops.uncounted == []
