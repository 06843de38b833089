"""Signal processing: DFT, STFT, the window generators, MelWeightMatrix and com.microsoft
Rfft/Irfft.

A discrete Fourier transform of length L is counted as an FFT is conventionally counted
(as FFTW reports it): 5·L·log2(L) FLOPs for complex input, half that for real input,
whatever L is. The spec leaves the algorithm open; a direct O(L²) evaluation would cost
more, so the figure is what a good implementation needs.
"""

from __future__ import annotations

import math

import numpy as np

from mkdocs_onnx.analysis.costs._common import shape_or_compute
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, numel, shape


def fft_flops(length: int, transforms: int, complex_input: bool) -> int:
    """FLOPs of ``transforms`` transforms of ``length`` points: 5·L·log2(L) each (2.5·L·log2(L) for real input)."""
    per_point = 5.0 if complex_input else 2.5
    return round(transforms * per_point * length * math.log2(length)) if length > 1 else 0


def _scalar_input(ctx: NodeContext, i: int, what: str, kind: type = int):
    """Constant scalar input ``i`` (named ``what`` in the reason when it is not one), as ``kind``."""
    value = ctx.input_value(i)
    if value is None or value.size != 1:
        raise Uncountable(f"{ctx.op_type} {what} (input {i}) is not a constant scalar")
    return kind(value.reshape(-1)[0])


def _dft_axis(ctx: NodeContext, rank: int) -> int:
    """The transformed axis: opset 17's attribute (default 1), opset 20's input (default -2)."""
    axis = ctx.attr("axis")
    if axis is None and ctx.has_input(2):
        axis = _scalar_input(ctx, 2, "axis")
    if axis is None:
        if rank != 3:  # the two defaults name the same axis only for (batch, signal, 1|2)
            raise Uncountable("DFT axis not given: its default is 1 in opset 17 and -2 from opset 20")
        axis = 1
    return axis % rank


@cost("DFT")
def dft(ctx: NodeContext) -> int:
    """DFT: transforms × 5·L·log2(L) (complex input) or 2.5·L·log2(L) (real input), + output_elements when inverse (the 1/L scaling); L = dft_length or the axis' size."""
    x = ctx.input_shape(0)  # (..., signal dims, 1 for real or 2 for complex)
    axis = _dft_axis(ctx, len(x))
    length = _scalar_input(ctx, 1, "dft_length") if ctx.has_input(1) else x[axis]
    transforms = numel(x) // (x[axis] * x[-1]) if x[axis] else 0
    flops = fft_flops(length, transforms, complex_input=x[-1] == 2)
    if ctx.attr("inverse", 0):  # scaled by 1/L: one multiply per output number (2 per complex value)
        flops += numel(ctx.output_shape(0))
    return flops


def _one_signal_dim(ctx: NodeContext) -> None:
    if ctx.attr("signal_ndim", 1) != 1:
        raise Uncountable(f"{ctx.op_type} over {ctx.attr('signal_ndim')} signal dims is not counted (only 1)")


@cost("Rfft", domain=MS)
def rfft(ctx: NodeContext) -> int:
    """Rfft: a real FFT of the last dim's n points, 2.5·n·log2(n) per transform, + 2·(n/2 + 1) multiplies if normalized."""
    _one_signal_dim(ctx)
    x = ctx.input_shape(0)
    n, transforms = x[-1], numel(x[:-1])
    return fft_flops(n, transforms, complex_input=False) + (transforms * 2 * (n // 2 + 1) if ctx.attr("normalized", 0) else 0)


@cost("Irfft", domain=MS)
def irfft(ctx: NodeContext) -> int:
    """Irfft: the inverse of Rfft, (…, n/2 + 1, 2) back to n real points: 2.5·n·log2(n) per transform, + n if normalized."""
    _one_signal_dim(ctx)
    x = ctx.input_shape(0)
    n, transforms = 2 * (x[-2] - 1), numel(x[:-2])
    return fft_flops(n, transforms, complex_input=False) + (transforms * n if ctx.attr("normalized", 0) else 0)


@shape("Rfft", domain=MS)
def rfft_shape(ctx: NodeContext) -> list[TypeInfo]:
    """(…, n) real → (…, n/2 + 1, 2): the non-negative frequencies, real and imaginary parts."""
    elem, x = ctx.input_type(0)
    return [(elem, None if x is None else (*x[:-1], x[-1] // 2 + 1, 2))]


@shape("Irfft", domain=MS)
def irfft_shape(ctx: NodeContext) -> list[TypeInfo]:
    elem, x = ctx.input_type(0)
    return [(elem, None if x is None else (*x[:-2], 2 * (x[-2] - 1)))]


@cost("STFT")
def stft(ctx: NodeContext) -> int:
    """STFT: batch × frames × (frame_length × (1 or 2) window multiplies when a window is given + one DFT of frame_length: 5·L·log2(L) complex, 2.5·L·log2(L) real)."""
    signal = ctx.input_shape(0)  # (batch, signal_length, 1 for real or 2 for complex)
    if ctx.has_input(3):
        length = _scalar_input(ctx, 3, "frame_length")
    elif ctx.has_input(2):
        length = ctx.input_shape(2)[0]
    else:
        raise Uncountable("STFT has neither a window nor a frame_length")
    step = _scalar_input(ctx, 1, "frame_step")
    out = shape_or_compute(ctx, lambda: (signal[0], (signal[1] - length) // step + 1, length // 2 + 1, 2))
    frames = signal[0] * out[1]
    complex_input = signal[-1] == 2
    window = length * (2 if complex_input else 1) if ctx.has_input(2) else 0
    return frames * window + fft_flops(length, frames, complex_input)


@cost("HannWindow", "HammingWindow")
def cosine_window(ctx: NodeContext) -> int:
    """HannWindow, HammingWindow: 4 × size (w[n] = a0 − a1·cos(2π·n/N): a multiply for the angle, the cosine, a multiply, a subtract)."""
    return 4 * _window_size(ctx)


@cost("BlackmanWindow")
def blackman_window(ctx: NodeContext) -> int:
    """BlackmanWindow: 8 × size (w[n] = a0 − a1·cos(2π·n/N) + a2·cos(4π·n/N): two angles, two cosines, two multiplies, two adds)."""
    return 8 * _window_size(ctx)


def _window_size(ctx: NodeContext) -> int:
    return numel(shape_or_compute(ctx, lambda: (_scalar_input(ctx, 0, "size"),)))


@cost("MelWeightMatrix")
def mel_weight_matrix(ctx: NodeContext) -> int:
    """MelWeightMatrix: 9 per mel point (to mel: 2, to hertz: 4, to a bin: 3) for num_mel_bins + 2 points, 10 for the edges' two mel values and the step, and 2 (a subtract, a divide) per filter weight computed."""
    num_mel_bins, dft_length, sample_rate = (_scalar_input(ctx, i, what) for i, what in
                                             enumerate(("num_mel_bins", "dft_length", "sample_rate")))
    lower, upper = (_scalar_input(ctx, i, what, float) for i, what in ((3, "lower_edge_hertz"), (4, "upper_edge_hertz")))
    weights = sum(_triangle_sizes(num_mel_bins, dft_length, sample_rate, lower, upper))
    return 9 * (num_mel_bins + 2) + 10 + 2 * weights


def _triangle_sizes(num_mel_bins: int, dft_length: int, sample_rate: int, lower: float, upper: float):
    """The weights each triangular filter sets, with its points placed as the spec's reference does."""
    to_mel = lambda hz: 2595 * math.log10(1 + hz / 700)  # noqa: E731
    step = (to_mel(upper) - to_mel(lower)) / (num_mel_bins + 2)
    mels = np.arange(num_mel_bins + 2) * step + to_mel(lower)
    bins = (((dft_length + 1) * (700 * np.expm1(mels / 2595 * math.log(10)))) // sample_rate).astype(int)
    for left, center, right in zip(bins, bins[1:], bins[2:]):
        yield (center - left + 1 if center > left else 0) + max(right - center, 0)
