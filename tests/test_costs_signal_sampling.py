"""FLOPs formulas of sampling (AffineGrid, GridSample, RoiAlign, DeformConv), signal
processing (DFT, STFT, windows) and Det.

Every expected value is worked out here from the operator's definition and the counting
conventions of the formula modules: a weighted sum of n values is n multiplies and n − 1
adds; a length-L Fourier transform costs 5·L·log2(L) (complex input) or 2.5·L·log2(L)
(real input), as FFT counts are conventionally given.
"""

from __future__ import annotations

import numpy as np
import pytest
from cost_helpers import flops, ints, node_case
from mkdocs_onnx.analysis.analyzer import analyze_model
from mkdocs_onnx.analysis.costs import Uncountable

# --- GridSample, AffineGrid ----------------------------------------------------------


def test_grid_sample_bilinear_reads_four_points_per_output_value():
    inputs = [("X", (1, 3, 4, 4)), ("grid", (1, 5, 6, 2))]
    outputs = 1 * 3 * 5 * 6  # (N, C, H_out, W_out)
    assert flops("GridSample", inputs, mode="bilinear") == outputs * (4 + 3)  # 4 products, 3 adds
    assert flops("GridSample", inputs, [("Y", (1, 3, 5, 6))], mode="linear") == outputs * 7  # opset 20's name
    assert flops("GridSample", inputs, mode="bicubic") == outputs * (16 + 15)  # 4 × 4 points
    assert flops("GridSample", inputs, mode="nearest") == 0  # a copy


def test_grid_sample_volumetric_linear_reads_eight_points():
    assert flops("GridSample", [("X", (2, 4, 3, 3, 3)), ("grid", (2, 2, 2, 2, 3))], mode="linear") == \
        (2 * 4 * 2 * 2 * 2) * (8 + 7)


def test_grid_sample_default_mode_is_bilinear_and_unknown_modes_are_uncountable():
    inputs = [("X", (1, 1, 2, 2)), ("grid", (1, 1, 1, 2))]
    assert flops("GridSample", inputs) == 7
    with pytest.raises(Uncountable, match="mode 'area'"):
        flops("GridSample", inputs, mode="area")


def test_affine_grid_applies_theta_to_every_position():
    # theta (N, 2, 3), size (N, C, H, W) = (2, 3, 4, 5): grid (2, 4, 5, 2); x' = a·x + b·y + c
    got = flops("AffineGrid", [("theta", (2, 2, 3)), ("size", (4,))], constants={"size": ints(2, 3, 4, 5)})
    assert got == (2 * 4 * 5 * 2) * (2 + 2)  # 2 multiplies, 2 adds per coordinate
    got_3d = flops("AffineGrid", [("theta", (1, 3, 4)), ("size", (5,))], [("Y", (1, 2, 3, 4, 3))])
    assert got_3d == (2 * 3 * 4 * 3) * (3 + 3)


# --- RoiAlign ----------------------------------------------------------------------------


def test_roi_align_samples_each_bin_then_pools():
    inputs = [("X", (1, 8, 16, 16)), ("rois", (3, 4)), ("batch_indices", (3,))]
    bins = 3 * 8 * 2 * 2  # (num_rois, C, output_height, output_width)
    samples = 2 * 2  # sampling_ratio² bilinear samples of 4 points each: 7 FLOPs
    avg = flops("RoiAlign", inputs, output_height=2, output_width=2, sampling_ratio=2)
    assert avg == bins * (samples * 7 + (samples - 1) + 1)  # adds, then one divide
    maximum = flops("RoiAlign", inputs, output_height=2, output_width=2, sampling_ratio=2, mode="max")
    assert maximum == bins * (samples * 7 + samples - 1)  # comparisons


def test_roi_align_adaptive_sampling_is_data_dependent():
    with pytest.raises(Uncountable, match="RoI's size"):
        flops("RoiAlign", [("X", (1, 8, 16, 16)), ("rois", (3, 4)), ("batch_indices", (3,))], sampling_ratio=0)


# --- DeformConv ----------------------------------------------------------------------


def test_deform_conv_is_a_conv_over_bilinear_samples():
    # X (1, 4, 5, 5), W (6, 4, 3, 3), no padding: output (1, 6, 3, 3)
    x, w, offset = ("X", (1, 4, 5, 5)), ("W", (6, 4, 3, 3)), ("offset", (1, 2 * 9, 3, 3))
    conv = 2 * (6 * 3 * 3) * (4 * 3 * 3)  # a MAC per output value per weight
    samples = 1 * 4 * (3 * 3) * (3 * 3)  # every input channel at every tap of every output position
    assert flops("DeformConv", [x, w, offset]) == conv + samples * 7  # bilinear: 4 products, 3 adds
    with_bias_and_mask = [x, w, offset, ("B", (6,)), ("mask", (1, 9, 3, 3))]
    assert flops("DeformConv", with_bias_and_mask) == conv + 6 * 3 * 3 + samples * (7 + 1)


# --- DFT, STFT, windows ------------------------------------------------------------------


def test_dft_counts_an_fft_per_transform():
    # two transforms of 8 points along axis 1 of (batch, signal, 1|2)
    assert flops("DFT", [("x", (2, 8, 1))]) == 2 * 2.5 * 8 * 3  # real input: half a complex FFT
    assert flops("DFT", [("x", (2, 8, 2))]) == 2 * 5 * 8 * 3
    padded = flops("DFT", [("x", (2, 8, 1)), ("dft_length", ())], constants={"dft_length": np.array(16)})
    assert padded == 2 * 2.5 * 16 * 4  # zero-padded to 16 points
    inverse = flops("DFT", [("x", (2, 8, 2))], [("Y", (2, 8, 2))], inverse=1)
    assert inverse == 2 * 5 * 8 * 3 + 2 * 8 * 2  # + the 1/L scaling of both parts of every value


def test_dft_axis_from_the_attribute_or_a_constant_input():
    x = ("x", (3, 4, 16, 2))  # transforms along axis 2: 3 × 4 of 16 points
    assert flops("DFT", [x], axis=2) == 12 * 5 * 16 * 4  # opset 17: an attribute
    axis = flops("DFT", [x, ("", None), ("axis", ())], constants={"axis": np.array(-2)})
    assert axis == 12 * 5 * 16 * 4  # opset 20: an input
    with pytest.raises(Uncountable, match="default"):  # 1 in opset 17, -2 from opset 20
        flops("DFT", [x])


def test_stft_windows_and_transforms_each_frame():
    # 64 samples in frames of 16 every 16: (64 − 16) / 16 + 1 = 4 frames
    inputs = [("signal", (1, 64, 1)), ("frame_step", ()), ("window", (16,))]
    per_frame = 16 + 2.5 * 16 * 4  # window multiplies, then a real 16-point transform
    assert flops("STFT", inputs, constants={"frame_step": np.array(16)}) == 4 * per_frame
    no_window = [("signal", (1, 64, 1)), ("frame_step", ()), ("", None), ("frame_length", ())]
    consts = {"frame_step": np.array(16), "frame_length": np.array(16)}
    assert flops("STFT", no_window, constants=consts) == 4 * 2.5 * 16 * 4


def test_window_generators():
    size = {"size": np.array(10)}
    assert flops("HannWindow", [("size", ())], constants=size) == 10 * 4  # angle, cos, multiply, subtract
    assert flops("HammingWindow", [("size", ())], [("Y", (10,))]) == 10 * 4
    assert flops("BlackmanWindow", [("size", ())], constants=size) == 10 * 8  # two cosine terms


# --- Det ---------------------------------------------------------------------------------


def test_det_counts_an_lu_factorisation_and_the_diagonal_product():
    # 3×3 by hand: step 1 eliminates 2 rows (2 divides, 2 × 2 multiply-subtracts), step 2 one
    # row (1 divide, 1 multiply-subtract): 3 divides + 10; then u11 · u22 · u33: 2 multiplies
    assert flops("Det", [("X", (2, 3, 3))]) == 2 * (3 + 10 + 2)
    # 4×4: 3 + 2 + 1 divides; 2 × (9 + 4 + 1) multiplies and subtracts; 3 multiplies
    assert flops("Det", [("X", (4, 4))]) == 6 + 28 + 3


# --- linear attention and causal convolutions with state (opset 27) ----------------------


def test_causal_conv_with_state_is_a_depthwise_conv_per_position():
    inputs = [("input", (2, 16, 10)), ("weight", (16, 1, 4))]  # 4 taps per channel
    assert flops("CausalConvWithState", inputs) == 2 * 16 * 10 * (2 * 4)
    with_bias = inputs + [("bias", (16,))]
    assert flops("CausalConvWithState", with_bias, activation="silu") == 2 * 16 * 10 * (2 * 4 + 1 + (4 + 1))


def test_linear_attention_counts_the_recurrence_per_token():
    # B = 1, T = 3 tokens, 4 query heads sharing 2 KV heads, d_k = 8, d_v = 6
    q, k, v = ("query", (1, 3, 4 * 8)), ("key", (1, 3, 2 * 8)), ("value", (1, 3, 2 * 6))
    state = 8 * 6
    readout = 4 * (2 * state + 6)  # 4 query heads: qᵀS (a MAC per state entry), then × scale
    heads = dict(q_num_heads=4, kv_num_heads=2)
    # linear: S += k ⊗ v, a multiply and an add per state entry
    assert flops("LinearAttention", [q, k, v], update_rule="linear", **heads) == 3 * (2 * 2 * state + readout)
    # gated, a decay per head: exp(g) once, S·exp(g), k ⊗ v, the add
    gated = [q, k, v, ("", None), ("decay", (1, 3, 2))]
    assert flops("LinearAttention", gated, update_rule="gated", **heads) == 3 * (2 * (3 * state + 1) + readout)
    # gated_delta, a decay per key dimension (8 per head) and β per head:
    # exp(g) ⊙ S; (exp(g)·S)ᵀk, a MAC per entry; v − that and × β, per value dim; k ⊗ u and the add
    delta = [q, k, v, ("", None), ("decay", (1, 3, 2 * 8)), ("beta", (1, 3, 2))]
    per_head = 8 + state + 2 * state + 6 + 6 + state + state
    assert flops("LinearAttention", delta, **heads) == 3 * (2 * per_head + readout)  # the default rule
    with pytest.raises(Uncountable, match="decay"):
        flops("LinearAttention", [q, k, v], update_rule="gated", **heads)


# --- losses, Col2Im, strings, and what cannot be counted --------------------------------


def test_negative_log_likelihood_loss_by_reduction_and_weights():
    inputs = [("input", (3, 5)), ("target", (3,))]  # 3 loss elements
    assert flops("NegativeLogLikelihoodLoss", inputs, reduction="none") == 3  # one negation each
    assert flops("NegativeLogLikelihoodLoss", inputs, reduction="sum") == 3 + 2
    assert flops("NegativeLogLikelihoodLoss", inputs) == 3 + 2 + 1  # mean, the default: sum, then divide
    weighted = inputs + [("weight", (5,))]
    # × weight each; mean divides by the sum of the picked weights (2 more adds)
    assert flops("NegativeLogLikelihoodLoss", weighted) == 3 * 2 + 2 + 1 + 2
    spatial = [("input", (2, 4, 3, 3)), ("target", (2, 3, 3))]  # 2 × 3 × 3 = 18 elements
    assert flops("NegativeLogLikelihoodLoss", spatial) == 18 + 17 + 1
    # ignore_index: each target compared with it; the mean's divisor counts the kept ones (17 adds)
    assert flops("NegativeLogLikelihoodLoss", inputs, ignore_index=1, reduction="none") == 3 + 3
    assert flops("NegativeLogLikelihoodLoss", inputs, ignore_index=1) == 3 + 3 + 2 + 1 + 2
    assert flops("NegativeLogLikelihoodLoss", weighted, ignore_index=1) == 3 * 2 + 3 + 2 + 1 + 2


def test_softmax_cross_entropy_is_a_log_softmax_then_the_loss():
    inputs = [("scores", (3, 5)), ("labels", (3,))]
    assert flops("SoftmaxCrossEntropyLoss", inputs) == 5 * 15 + (3 + 2 + 1)  # 5 per score (as LogSoftmax)


def test_col2im_adds_every_column_value_into_the_image():
    assert flops("Col2Im", [("input", (1, 2 * 2 * 2, 4)), ("image_shape", (2,)), ("block_shape", (2,))]) == 32


def test_string_operators_do_no_arithmetic_and_data_dependent_ones_say_why():
    assert flops("StringNormalizer", [("X", (4,))]) == 0
    with pytest.raises(Uncountable, match="scores"):
        flops("NonMaxSuppression", [("boxes", (1, 6, 4)), ("scores", (1, 1, 6))])
    with pytest.raises(Uncountable, match="random sampling"):
        flops("RandomNormalLike", [("X", (2, 3))])


# --- the onnx package's own node cases, end to end --------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("test_gridsample_bilinear", 1 * 1 * 2 * 4 * 7),  # X (1, 1, 3, 2), grid (1, 2, 4, 2)
    ("test_gridsample_bicubic", 1 * 1 * 2 * 4 * 31),
    ("test_gridsample_nearest", 0),
    ("test_roialign_aligned_false", 3 * 1 * 5 * 5 * (4 * 7 + 4)),  # 3 RoIs, 5×5 bins, ratio 2
    ("test_roialign_mode_max", 3 * 1 * 5 * 5 * (4 * 7 + 3)),
    ("test_hannwindow", 10 * 4),
    # B = 2, T = 1, 4 heads of d_k = d_v = 8, a decay per key dimension: per head 8 exps +
    # 5 × 64 + 2 × 8 to update, 2 × 64 + 8 to read out
    ("test_linear_attention_decode_step", 2 * 4 * ((8 + 5 * 64 + 2 * 8) + (2 * 64 + 8))),
    ("test_linear_attention_linear_t1_no_past", 2 * 4 * (2 * 64 + (2 * 64 + 8))),
    ("test_causal_conv_with_state_silu_fp16", 2 * 4 * 8 * (2 * 4 + 5)),  # 4 taps, then x·sigmoid(x)
    ("test_col2im", 1 * 5 * 5),  # input (1, 5, 5): 25 values added into the image
    # input (3, 5, 6), target (3, 6): 18 elements, each compared with ignore_index, negated
    # and weighted; mean: 17 adds, 17 more for the sum of the weights, a divide
    ("test_nllloss_NCd1_mean_weight_negative_ii", 18 * 3 + 17 + 17 + 1),
])
def test_onnx_node_cases_are_counted(name, expected):
    case = node_case(name)
    if case is None:
        pytest.skip(f"{name} is not among this onnx version's node test cases")
    report = analyze_model(case.model, name=name)
    assert report.flops.uncounted_ops == {}
    assert report.flops.total == expected


def test_mel_weight_matrix_counts_the_points_and_each_filter_weight():
    # 4 mel bins over 0–4000 Hz of a 32-point DFT at 8 kHz. Mel points, as the spec's reference
    # places them: 6 points a step of (mel(4000) − mel(0)) / 6 apart, back to hertz, then to
    # the spectrogram bin floor(33 · hz / 8000).
    import math

    mel = lambda hz: 2595 * math.log10(1 + hz / 700)  # noqa: E731
    step = (mel(4000) - mel(0)) / 6
    bins = [math.floor(33 * (700 * (10 ** (i * step / 2595) - 1)) / 8000) for i in range(6)]
    weights = sum((c - a + 1 if c > a else 0) + max(b - c, 0) for a, c, b in zip(bins, bins[1:], bins[2:]))
    consts = {"n": np.array(4), "dft": np.array(32), "rate": np.array(8000), "lo": np.array(0.0), "hi": np.array(4000.0)}
    inputs = [(name, ()) for name in consts]
    assert bins == [0, 1, 2, 4, 7, 11]
    # filters (0, 1, 2), (1, 2, 4), (2, 4, 7), (4, 7, 11): rising edge c − a + 1 weights, falling b − c
    assert weights == (2 + 1) + (2 + 2) + (3 + 3) + (4 + 4)
    assert flops("MelWeightMatrix", inputs, constants=consts) == 9 * 6 + 10 + 2 * weights
