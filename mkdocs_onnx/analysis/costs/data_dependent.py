"""Operators whose cost no formula can state before the data is seen, each with the reason.

They are registered so that a card says why a node is uncounted (its work follows the
data, or the operator does not define its arithmetic) rather than that no formula exists.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs.registry import EXTENSIONS, MS, NodeContext, Uncountable, cost

_DECODING = "decoding costs what the encoded image demands (data)"
_ENCODING = "encoding costs what the image's content demands (data)"

_REASONS = {
    "NonMaxSuppression": "how many boxes it compares and keeps depends on their scores and overlaps (data)",
    "Unique": "how many values it compares and keeps depends on the values (data)",
    "MaxRoiPool": "the size of each pooling bin follows its RoI's coordinates (data)",
    "SequenceMap": "its body runs once per element of the input sequences, whose length is data",
    "ImageDecoder": _DECODING,
    "TfIdfVectorizer": "the n-grams it matches and counts depend on the tokens (data)",
    **{op: "random sampling: the operator does not define the arithmetic that draws its numbers" for op in (
        "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli", "Multinomial")},
}


@cost(*_REASONS)
@cost("Unique", domain=MS)  # ONNX Runtime's 1-D Unique, from before ONNX had one
def data_dependent(ctx: NodeContext) -> int:
    """Uncounted, with the reason: NonMaxSuppression, Unique, MaxRoiPool, SequenceMap, ImageDecoder, TfIdfVectorizer, random sampling."""
    raise Uncountable(_REASONS[ctx.op_type])


# onnxruntime-extensions' image pre- and post-processing: the super-resolution pair decodes
# the input image (then converts it to YCbCr) and encodes the result.
_EXTENSIONS_REASONS = {
    "DecodeImage": _DECODING,
    "SuperResolutionPreProcess": _DECODING,
    "EncodeImage": _ENCODING,
    "SuperResolutionPostProcess": _ENCODING,
}


@cost(*_EXTENSIONS_REASONS, domain=EXTENSIONS)
def extensions_image_codec(ctx: NodeContext) -> int:
    """Uncounted, with the reason: onnxruntime-extensions' image decoders and encoders."""
    raise Uncountable(_EXTENSIONS_REASONS[ctx.op_type])


# ONNX Runtime's contrib operators whose work follows the data.
_MS_REASONS = {
    **{op: "its attention follows the length of each packed sequence (cumulative_sequence_length, data)"
       for op in ("PackedAttention", "PackedMultiHeadAttention")},
    "SparseAttention": "which key blocks each query attends follows its block layout at the sequence length "
                       "reached at run time (total_sequence_length, data)",
    "LongformerAttention": "its global attention follows which tokens the global input flags (data)",
    "PagedAttention": "each sequence's attention follows its own length and cache blocks, given at run time "
                      "(cumulative_sequence_length, past_seqlens, block_table: data)",
    # not arithmetic the file states: a graph compiled for one execution provider
    **{op: "its work is a graph compiled for one execution provider, held as an opaque binary in the file"
       for op in ("EPContext", "Snpe")},
}


@cost(*_MS_REASONS, domain=MS)
def ms_data_dependent(ctx: NodeContext) -> int:
    """Uncounted, with the reason: packed, sparse, paged and Longformer attention; compiled execution-provider graphs (EPContext, Snpe)."""
    raise Uncountable(_MS_REASONS[ctx.op_type])


# A generation loop's subgraphs, and when each runs.
_GENERATION_PARTS = (("encoder", "once"), ("init_decoder", "once, for the prompt"),
                     ("decoder", "once per generated token"))


@cost("BeamSearch", "GreedySearch", "Sampling", "WhisperBeamSearch", domain=MS)
def generation(ctx: NodeContext) -> int:
    """Uncounted: a generation loop runs its decoder once per generated token, until max_length or until every sequence ends (data); the reason gives what one run of each subgraph costs when its dims are bound."""
    parts = []
    for attribute, when in _GENERATION_PARTS:
        graph = ctx.subgraph(attribute)
        if graph is None:
            continue
        body = ctx.subgraph_cost(graph)
        if body.uncounted:
            parts.append(f"its {attribute} ({when}) has {body.uncounted} uncounted node(s): bind its dims with dims: "
                         "in models.yml to count one run")
        else:
            parts.append(f"its {attribute} ({when}) costs {body.flops:,} FLOPs a run")
    raise Uncountable("it runs its decoder once per generated token, until max_length or until every sequence ends: "
                      "how many times follows the text (data)" + "".join(f"; {part}" for part in parts))
