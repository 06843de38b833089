"""Text: string operators and tokenizers, of the default domain and of onnxruntime-extensions.

Splitting, joining, matching and case-mapping strings, and tokenizers that merge byte
pairs (GPT-2, CLIP, RoBERTa) or match word pieces (BERT), compare characters and look
vocabulary entries up: no arithmetic on numbers, so they count 0 FLOPs, a known zero.
Their output lengths follow the text, so their bytes stay unknown.

A SentencePiece tokenizer is the exception: a unigram model adds piece scores along a
lattice over the text, as many as the text and vocabulary make (uncounted, with why).
"""

from __future__ import annotations

from onnx import TensorProto

from mkdocs_onnx.analysis.costs.registry import EXTENSIONS, MS, NodeContext, TypeInfo, Uncountable, cost, shape

DEFAULT_DOMAIN_TEXT_OPS = ("StringConcat", "StringSplit", "StringNormalizer", "RegexFullMatch")

MS_TEXT_OPS = ("Tokenizer",)  # ONNX Runtime's: splits strings at separators or regex matches

EXTENSIONS_TEXT_OPS = (
    # string operators
    "StringEqual", "StringToHashBucket", "StringToHashBucketFast", "StringJoin", "StringLower", "StringUpper",
    "StringStrip", "StringSplit", "StringConcat", "StringLength", "StringSlice", "StringMapping", "MaskedFill",
    "StringRegexReplace", "StringRegexSplitWithOffsets", "StringECMARegexReplace", "StringECMARegexSplitWithOffsets",
    "StringToVector", "VectorToString", "StringRaggedTensorToDense", "BlingFireSentenceBreaker",
    # tokenizers and detokenizers that merge byte pairs or match vocabulary entries
    "GPT2Tokenizer", "CLIPTokenizer", "RobertaTokenizer", "BpeDecoder", "SpmTokenizer", "HfJsonTokenizer",
    "WordpieceTokenizer", "BasicTokenizer", "BertTokenizer", "HfBertTokenizer", "BertTokenizerDecoder",
    "TrieTokenizer", "TrieDetokenizer", "SentencepieceDecoder",
)


@cost(*DEFAULT_DOMAIN_TEXT_OPS)
@cost(*EXTENSIONS_TEXT_OPS, domain=EXTENSIONS)
@cost(*MS_TEXT_OPS, domain=MS)
def text(ctx: NodeContext) -> int:
    """0 FLOPs: string operations and byte-pair or word-piece tokenizers do no arithmetic on numbers."""
    return 0


@shape("Tokenizer", domain=MS)
def tokenizer_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Strings (C) or (N, C) → their tokens (C, D) or (N, C, D): D, the most tokens in a string, follows the text."""
    x = ctx.input_type(0)[1]
    return [(TensorProto.STRING, (*x, None) if x is not None else None)]


@cost("SentencepieceTokenizer", domain=EXTENSIONS)
def sentencepiece(ctx: NodeContext) -> int:
    """Uncounted: a unigram model's lattice search over the text adds as many scores as the text demands."""
    raise Uncountable("a unigram SentencePiece model adds piece scores along a lattice over the text: "
                      "how many depends on the text (data)")
