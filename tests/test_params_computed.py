"""Constants an exporter computed or wrote as literals are not parameters.

A model exported with a fixed sequence length holds its causal mask and the sine/cosine
tables of its position encoding as constants, and every export holds the literals of its
formulas (ε, 1/√d, GELU's constants) as rank-0 tensors. PyTorch's parameter count, and so
every published one, leaves them out: the expected counts here are the weights' elements,
written out by hand.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import model, value
from mkdocs_onnx import analyze
from mkdocs_onnx.analysis import analyze_model
from mkdocs_onnx.analysis import external

S, D = 8, 16  # tokens, width
WEIGHTS = 3 * D * D  # Q, K and V projections


def attention(scores_op: str = "", mask=None, position=None, cos_sin=None, extra_nodes=(), extra_inits=(),
              seed: int = 0) -> onnx.ModelProto:
    """One self-attention head over X[1, S, D]: its projections are the only weights.

    ``mask`` is Added to (``scores_op='Add'``) or Multiplies (``'Mul'``) the scores;
    ``position`` is Added to X first; ``cos_sin`` rotates Q as rotary embedding does.
    """
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array((rng.standard_normal((D, D)) * 0.02).astype(np.float32), w) for w in ("Wq", "Wk", "Wv")]
    nodes = []
    x = "X"
    if position is not None:
        inits.append(numpy_helper.from_array(position.astype(np.float32), "position"))
        nodes.append(helper.make_node("Add", ["X", "position"], ["Xp"]))
        x = "Xp"
    nodes += [helper.make_node("MatMul", [x, w], [o]) for w, o in (("Wq", "q"), ("Wk", "k"), ("Wv", "v"))]
    q = "q"
    if cos_sin is not None:
        cos, sin = cos_sin
        inits += [numpy_helper.from_array(cos.astype(np.float32), "cos"), numpy_helper.from_array(sin.astype(np.float32), "sin")]
        nodes += [helper.make_node("Mul", ["q", "cos"], ["q_cos"]), helper.make_node("Mul", ["q", "sin"], ["q_sin"]),
                  helper.make_node("Add", ["q_cos", "q_sin"], ["q_rope"])]
        q = "q_rope"
    nodes += [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
              helper.make_node("MatMul", [q, "kt"], ["scores"])]
    scores = "scores"
    if mask is not None:
        inits.append(numpy_helper.from_array(mask, "mask"))
        nodes.append(helper.make_node(scores_op, ["scores", "mask"], ["masked"]))
        scores = "masked"
    nodes += [helper.make_node("Softmax", [scores], ["p"], axis=-1), helper.make_node("MatMul", ["p", "v"], ["ctx"])]
    nodes += list(extra_nodes)
    out = nodes[-1].output[0]
    return model(nodes, [value("X", [1, S, D])], [value(out, None)], inits + list(extra_inits))


def causal(fill: float, dtype=np.float32) -> np.ndarray:
    """Zeros where a token may look (itself and before), ``fill`` after: [1, S, S]."""
    return np.triu(np.full((S, S), fill, dtype), 1)[None]


LOWEST = float(np.finfo(np.float32).min)


@pytest.mark.parametrize("scores_op, mask", [
    ("Add", causal(-np.inf)),  # torch's masked_fill(-inf)
    ("Add", causal(LOWEST)),  # transformers' torch.finfo(dtype).min
    ("Add", causal(-10000.0)),  # BERT-era extended masks
    ("Add", causal(-np.inf, np.float16)),
    ("Mul", np.tril(np.ones((S, S), np.float32))[None]),  # a multiplicative 0/1 mask
    ("Add", (np.triu(np.full((S, S), -np.inf, np.float32), 1) + np.tril(np.full((S, S), -np.inf, np.float32), -3))[None]),
    ("Add", np.zeros((1, S, S), np.float32)),  # an encoder exported without a padding mask: hides nothing
])
def test_a_causal_mask_folded_into_a_constant_is_not_a_parameter(scores_op, mask):
    r = analyze_model(attention(scores_op, mask if mask.dtype != np.float16 else mask.astype(np.float32)))
    assert r.params.total == WEIGHTS
    assert r.params.constants == S * S


@pytest.mark.parametrize("what, mask", [
    ("a learned bias on the scores (relative positions)", np.random.default_rng(1).standard_normal((1, S, S)).astype(np.float32)),
    ("an identity: no token sees another", np.eye(S, dtype=np.float32)[None]),
    ("a learned bias per head", np.random.default_rng(2).standard_normal((4, S, S)).astype(np.float32)),
])
def test_a_constant_on_the_scores_that_is_no_causal_mask_stays_a_weight(what, mask):
    r = analyze_model(attention("Add", mask))
    assert r.params.total == WEIGHTS + mask.size, what


def test_alibi_position_bias_is_not_a_parameter():
    """BLOOM's ALiBi, folded at a fixed length: head h adds slope_h × key position, slope_h = 2^(-8(h+1)/H)."""
    heads = 4
    slopes = 2.0 ** (-8.0 * np.arange(1, heads + 1) / heads)
    bias = (slopes[:, None, None] * np.arange(S)[None, None, :]).astype(np.float32)  # [heads, 1, S]
    r = analyze_model(attention("Add", bias))
    assert r.params.total == WEIGHTS
    assert r.params.constants == heads * S


def rope_tables(base: float = 10000.0) -> tuple[np.ndarray, np.ndarray]:
    """Rotary embedding's tables as transformers computes them: θ_i = base^(-2i/D), [1, S, D]."""
    inv_freq = base ** (-np.arange(0, D, 2) / D)
    freqs = np.outer(np.arange(S), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb)[None], np.sin(emb)[None]


def sinusoidal_encoding() -> np.ndarray:
    """'Attention is all you need': sin at even columns, cos at odd, 10000^(-2i/D). [S, D]"""
    pe = np.zeros((S, D))
    angles = np.outer(np.arange(S), 10000.0 ** (-np.arange(0, D, 2) / D))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def test_rotary_tables_are_not_parameters():
    r = analyze_model(attention(cos_sin=rope_tables()))
    assert r.params.total == WEIGHTS
    assert r.params.constants == 2 * S * D


def test_a_sinusoidal_position_encoding_is_not_a_parameter_but_a_learned_one_is():
    fixed = analyze_model(attention(position=sinusoidal_encoding()))
    learned = analyze_model(attention(position=np.random.default_rng(2).standard_normal((S, D)) * 0.02))
    assert fixed.params.total == WEIGHTS
    assert learned.params.total == WEIGHTS + S * D


@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_a_table_filled_with_one_value_is_no_position_encoding(fill):
    """All zeros is sin(p·0) and all ones cos(p·0): a fill (test weights often are), not an encoding."""
    r = analyze_model(attention(position=np.full((S, D), fill)))
    assert r.params.total == WEIGHTS + S * D


def test_rotary_inverse_frequencies_are_not_parameters():
    """With the length left free, the tables are computed in the graph from base^(-2i/D)."""
    half = D // 2
    inv_freq = numpy_helper.from_array((10000.0 ** (-np.arange(0, D, 2) / D)).astype(np.float32), "inv_freq")
    positions = numpy_helper.from_array(np.arange(S, dtype=np.float32).reshape(S, 1), "positions")
    nodes = [helper.make_node("Mul", ["positions", "inv_freq"], ["freqs"]),  # [S, D/2]
             helper.make_node("Concat", ["freqs", "freqs"], ["emb"], axis=-1),
             helper.make_node("Cos", ["emb"], ["cos_t"]), helper.make_node("Sin", ["emb"], ["sin_t"]),
             helper.make_node("Mul", ["ctx", "cos_t"], ["rotated"]), helper.make_node("Mul", ["rotated", "sin_t"], ["out"])]
    r = analyze_model(attention(extra_nodes=nodes, extra_inits=[inv_freq, positions]))
    assert r.params.total == WEIGHTS + S  # the positions 0..S-1 are an arange, not a frequency ladder
    assert r.params.constants == half


def test_scalar_literals_are_not_parameters_but_a_one_element_bias_and_a_prelu_slope_are():
    """1/√D and GELU's 0.5 are rank-0 literals; Linear(D, 1)'s bias is [1]; PReLU's one slope is learned."""
    literal = [numpy_helper.from_array(np.array(1 / np.sqrt(D), np.float32), "scale"),
               numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    learned = [numpy_helper.from_array(np.ones((D, 1), np.float32), "w_out"),
               numpy_helper.from_array(np.array([0.1], np.float32), "b_out"),
               numpy_helper.from_array(np.array(0.25, np.float32), "slope")]
    nodes = [helper.make_node("Mul", ["ctx", "scale"], ["scaled"]), helper.make_node("Mul", ["scaled", "half"], ["halved"]),
             helper.make_node("MatMul", ["halved", "w_out"], ["o"]), helper.make_node("Add", ["o", "b_out"], ["ob"]),
             helper.make_node("PRelu", ["ob", "slope"], ["y"])]
    r = analyze_model(attention(extra_nodes=nodes, extra_inits=literal + learned))
    assert r.params.total == WEIGHTS + D + 1 + 1
    assert r.params.constants == 2


def test_rotary_caches_of_group_query_attention_are_not_parameters():
    """GroupQueryAttention reads cos_cache and sin_cache at inputs 7 and 8 (ONNX Runtime's schema)."""
    heads, kv_heads, d = 4, 2, 8
    hidden = heads * d
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((hidden, hidden)).astype(np.float16), "Wq"),
             numpy_helper.from_array(rng.standard_normal((hidden, kv_heads * d)).astype(np.float16), "Wk"),
             numpy_helper.from_array(rng.standard_normal((hidden, kv_heads * d)).astype(np.float16), "Wv"),
             numpy_helper.from_array(rng.standard_normal((64, d // 2)).astype(np.float16), "cos_cache"),
             numpy_helper.from_array(rng.standard_normal((64, d // 2)).astype(np.float16), "sin_cache"),
             numpy_helper.from_array(np.array([S - 1], np.int32), "seqlens_k"),
             numpy_helper.from_array(np.array(S, np.int32), "total_len")]
    nodes = [helper.make_node("MatMul", ["X", w], [o]) for w, o in (("Wq", "q"), ("Wk", "k"), ("Wv", "v"))]
    nodes.append(helper.make_node("GroupQueryAttention", ["q", "k", "v", "", "", "seqlens_k", "total_len", "cos_cache", "sin_cache"],
                                  ["y", "present_key", "present_value"], domain="com.microsoft",
                                  num_heads=heads, kv_num_heads=kv_heads, do_rotary=1))
    m = model(nodes, [value("X", [1, S, hidden], TensorProto.FLOAT16)], [value("y", [1, S, hidden], TensorProto.FLOAT16)],
              inits, extra_opsets=[("com.microsoft", 1)])
    r = analyze_model(m)
    assert r.params.total == hidden * hidden + 2 * hidden * kv_heads * d
    assert r.params.constants == 2 * 64 * d // 2 + 2


# --- constants saved in an external data file --------------------------------------------------


def reshaped_attention() -> onnx.ModelProto:
    """The attention above, its output Reshaped by a constant target, under an additive causal mask."""
    shape = numpy_helper.from_array(np.array([S, D], np.int64), "flat")
    return attention("Add", causal(-np.inf), extra_nodes=[helper.make_node("Reshape", ["ctx", "flat"], ["y"])],
                     extra_inits=[shape])


def test_small_constants_saved_externally_are_read_and_weights_are_not(tmp_path, monkeypatch):
    """Saved with every tensor in the data file (size_threshold=0), the model gives the report it
    gives inline: the Reshape target and the mask are read from the file, the weights are not."""
    inline = analyze_model(reshaped_attention())
    path = tmp_path / "model.onnx"
    onnx.save_model(reshaped_attention(), path, save_as_external_data=True, location="model.data", size_threshold=0)
    read = []
    original = external._read
    monkeypatch.setattr(external, "_read", lambda t, base: read.append(t.name) or original(t, base))
    saved = analyze(path)
    assert sorted(read) == ["flat", "mask"]
    assert (saved.params, saved.flops.total, saved.memory.peak_activation_bytes) == \
        (inline.params, inline.flops.total, inline.memory.peak_activation_bytes)
    assert not saved.flops.uncounted
    assert saved.architecture.family == inline.architecture.family == "transformer-decoder"


def test_an_external_location_outside_the_model_folder_is_not_opened(tmp_path):
    inside = tmp_path / "zoo"
    inside.mkdir()
    (tmp_path / "secret.bin").write_bytes(np.array([S, D], np.int64).tobytes())
    m = reshaped_attention()
    flat = next(t for t in m.graph.initializer if t.name == "flat")
    flat.ClearField("raw_data")
    flat.data_location = TensorProto.EXTERNAL
    flat.external_data.add(key="location", value="../secret.bin")
    onnx.save_model(m, inside / "model.onnx")
    r = analyze(inside / "model.onnx")
    assert r.model.missing_external_data == ["../secret.bin"]  # not even its size is taken
    assert r.params.total == WEIGHTS  # analysed all the same: only the Reshape's output size is unknown
    assert r.memory.activations_unknown == 1


@pytest.mark.parametrize("keep, family", [
    (np.ones((96, 96), bool), "transformer-encoder"),  # wav2vec2's: every frame sees every frame
    (np.tril(np.ones((96, 96), bool)), "transformer-decoder"),  # GPT-2's 'bias' buffer
])
def test_a_boolean_mask_larger_than_a_small_constant_is_read_whole(tmp_path, keep, family):
    """9,216 elements: past what is decoded as a small constant, yet its values decide causality,
    inline or in external data alike."""
    n = keep.shape[0]
    inits = [numpy_helper.from_array(np.full((D, D), 0.01, np.float32), w) for w in ("Wq", "Wk", "Wv")]
    inits += [numpy_helper.from_array(keep[None, None], "keep"), numpy_helper.from_array(np.array(-np.inf, np.float32), "ninf")]
    nodes = [helper.make_node("MatMul", ["X", w], [o]) for w, o in (("Wq", "q"), ("Wk", "k"), ("Wv", "v"))]
    nodes += [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
              helper.make_node("MatMul", ["q", "kt"], ["scores"]),
              helper.make_node("Where", ["keep", "scores", "ninf"], ["masked"]),
              helper.make_node("Softmax", ["masked"], ["p"], axis=-1), helper.make_node("MatMul", ["p", "v"], ["y"])]
    m = model(nodes, [value("X", [1, 1, n, D])], [value("y", [1, 1, n, D])], inits)
    inline = analyze_model(m)
    path = tmp_path / "model.onnx"
    onnx.save_model(m, path, save_as_external_data=True, location="model.data", size_threshold=1024)
    for report in (inline, analyze(path)):
        assert report.architecture.family == family, report.architecture.evidence
        assert report.params.total == WEIGHTS


def test_a_data_file_linked_into_the_model_folder_is_read(tmp_path):
    """git-annex and DVC keep a model's files as links into a store elsewhere: the name is inside."""
    store, zoo = tmp_path / "store", tmp_path / "zoo"
    store.mkdir()
    zoo.mkdir()
    onnx.save_model(reshaped_attention(), store / "model.onnx", save_as_external_data=True, location="model.data",
                    size_threshold=0)
    (zoo / "model.onnx").symlink_to(store / "model.onnx")
    (zoo / "model.data").symlink_to(store / "model.data")
    r = analyze(zoo / "model.onnx")
    assert not r.flops.uncounted and r.architecture.family == "transformer-decoder"
    assert r.params.total == WEIGHTS


def test_position_tables_saved_externally_are_read_to_tell_and_projections_are_not(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    onnx.save_model(attention(cos_sin=rope_tables()), path, save_as_external_data=True, location="model.data",
                    size_threshold=0)
    read = []
    original = external._read
    monkeypatch.setattr(external, "_read", lambda t, base: read.append(t.name) or original(t, base))
    r = analyze(path)
    assert sorted(read) == ["cos", "sin"]  # read by Mul only; Wq, Wk and Wv are read by MatMul
    assert r.params.total == WEIGHTS


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("base", [10000.0, 500000.0])  # Llama 2's and Llama 3's rotary bases
def test_long_rotary_tables_are_recognised_at_any_precision(dtype, base):
    """2,048 positions × 128: a float16 table's rounding must not add up over the positions."""
    from mkdocs_onnx.analysis.computed import is_position_table

    inv_freq = base ** (-np.arange(0, 128, 2) / 128)
    emb = np.concatenate([np.outer(np.arange(2048), inv_freq)] * 2, axis=-1)
    assert is_position_table(np.cos(emb).astype(dtype)[None, None])
    assert is_position_table(np.sin(emb).astype(dtype)[None, None])
    learned = np.random.default_rng(4).standard_normal((2048, 128)).astype(dtype) * 0.02
    learned[0] = 1  # even with a first row like a cosine's
    assert not is_position_table(learned)


@pytest.mark.parametrize("external_data", [False, True])
def test_rotary_tables_past_the_small_constant_size_are_judged_whole(tmp_path, external_data):
    """A static export at 256 positions × 64: 16,384 elements a table, inline or saved apart."""
    positions, width = 256, 64
    inv_freq = 10000.0 ** (-np.arange(0, width, 2) / width)
    emb = np.concatenate([np.outer(np.arange(positions), inv_freq)] * 2, axis=-1)[None]
    inits = [numpy_helper.from_array(np.full((width, width), 0.01, np.float32), "W"),
             numpy_helper.from_array(np.cos(emb).astype(np.float32), "cos"),
             numpy_helper.from_array(np.sin(emb).astype(np.float32), "sin")]
    nodes = [helper.make_node("MatMul", ["X", "W"], ["q"]),
             helper.make_node("Mul", ["q", "cos"], ["qc"]), helper.make_node("Mul", ["q", "sin"], ["qs"]),
             helper.make_node("Add", ["qc", "qs"], ["qr"]), helper.make_node("Transpose", ["qr"], ["qt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["qr", "qt"], ["scores"]), helper.make_node("Softmax", ["scores"], ["p"], axis=-1)]
    m = model(nodes, [value("X", [1, positions, width])], [value("p", [1, positions, positions])], inits)
    if external_data:
        path = tmp_path / "model.onnx"
        onnx.save_model(m, path, save_as_external_data=True, location="model.data")
        r = analyze(path)
    else:
        r = analyze_model(m)
    assert r.params.total == width * width
    assert r.params.constants == 2 * positions * width


def test_torchscript_literals_of_shape_one_are_not_parameters_but_a_one_output_bias_is():
    """Exporters write some literals with shape [1]: a -inf fill, 1.0 over a scale, attention's
    scale shared by every layer's Mul. A trained bias of shape [1], read once, holds none of
    the values no training leaves (0, ±1, ±inf)."""
    literals = [numpy_helper.from_array(np.array([1.0], np.float32), "one"),
                numpy_helper.from_array(np.array([-np.inf], np.float32), "fill"),
                numpy_helper.from_array(np.array([0.42], np.float32), "scale")]
    learned = [numpy_helper.from_array(np.ones((D, 1), np.float32), "w_out"),
               numpy_helper.from_array(np.array([0.1], np.float32), "b_out")]
    nodes = [helper.make_node("Div", ["one", "ctx"], ["inverse"]), helper.make_node("Max", ["inverse", "fill"], ["kept"]),
             helper.make_node("Mul", ["kept", "scale"], ["once"]), helper.make_node("Mul", ["once", "scale"], ["twice"]),
             helper.make_node("MatMul", ["twice", "w_out"], ["o"]), helper.make_node("Add", ["o", "b_out"], ["y"])]
    r = analyze_model(attention(extra_nodes=nodes, extra_inits=literals + learned))
    assert r.params.total == WEIGHTS + D + 1
    assert r.params.constants == 3


def test_constant_nodes_holding_rotary_frequencies_and_tables_are_not_parameters():
    """TorchScript keeps constants in Constant nodes: the frequencies as [1, D/2, 1], expanded
    and multiplied by the positions, and a folded cos table."""
    inv_freq = (10000.0 ** (-np.arange(0, D, 2) / D)).astype(np.float32).reshape(1, D // 2, 1)
    cos, _ = rope_tables()
    positions = numpy_helper.from_array(np.arange(S, dtype=np.float32).reshape(1, 1, S), "positions")
    nodes = [helper.make_node("Constant", [], ["inv_freq"], value=numpy_helper.from_array(inv_freq)),
             helper.make_node("Constant", [], ["cos_table"], value=numpy_helper.from_array(cos.astype(np.float32))),
             helper.make_node("MatMul", ["inv_freq", "positions"], ["freqs"]),  # [1, D/2, S]
             helper.make_node("Cos", ["freqs"], ["c"]), helper.make_node("Sin", ["freqs"], ["s"]),
             helper.make_node("Mul", ["ctx", "cos_table"], ["y"])]
    r = analyze_model(attention(extra_nodes=nodes, extra_inits=[positions]))
    assert r.params.total == WEIGHTS + S  # the positions 0..S-1 are read by a MatMul, as a weight would be
    assert r.params.constants == D // 2 + S * D
