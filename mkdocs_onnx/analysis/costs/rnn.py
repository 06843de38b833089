"""Recurrent layers: LSTM, GRU and RNN, and ONNX Runtime's DynamicQuantizeLSTM.

Cost = seq_length × batch × Σ over directions of the cost of one time step for one batch
row, with seq_length and batch read from X (layout 0: (seq, batch, input); layout 1:
(batch, seq, input)); sequence_lens is ignored, so padded steps are counted. H is
hidden_size, I the input size. The products W·x and R·h are multiply-accumulates
(2 FLOPs each) and R·h accumulates onto W·x, so adding the two takes no extra add.
Activations cost what the elementwise operator of the same name costs (Sigmoid 4,
Tanh 1, Relu 1, ...); the defaults are the ONNX defaults.
"""

from __future__ import annotations

from mkdocs_onnx.analysis.costs.elementwise import PER_ELEMENT
from mkdocs_onnx.analysis.costs.quantized import QUANTIZE
from mkdocs_onnx.analysis.costs.registry import MS, NodeContext, TypeInfo, Uncountable, cost, shape

DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
DEFAULT_ACTIVATIONS["DynamicQuantizeLSTM"] = DEFAULT_ACTIVATIONS["LSTM"]
_RANGE = 2  # DynamicQuantizeLinear's running min and max, per element


def _dims(ctx: NodeContext) -> tuple[int, int, int, int, int]:
    """(seq_length, batch, input_size, hidden_size, num_directions)."""
    x = ctx.input_shape(0)
    seq, batch = (x[1], x[0]) if ctx.attr("layout", 0) == 1 else (x[0], x[1])
    hidden = ctx.attr("hidden_size") or _recurrence_width(ctx)
    directions = 2 if ctx.attr("direction", "forward") == "bidirectional" else 1
    return seq, batch, x[2], hidden, directions


def _recurrence_width(ctx: NodeContext) -> int:
    """H from R: ONNX's R is (dirs, gates·H, H); DynamicQuantizeLSTM's is transposed, (dirs, H, 4H)."""
    r = ctx.input_shape(2)
    return r[1] if ctx.op_type == "DynamicQuantizeLSTM" else r[-1]


def _activations(ctx: NodeContext, directions: int) -> list[list[int]]:
    """FLOPs per element of each activation function, per direction."""
    default = DEFAULT_ACTIVATIONS[ctx.op_type]
    names = list(ctx.attr("activations") or default * directions)
    per_dir = len(default)
    costs = []
    for d in range(directions):
        functions = names[d * per_dir:(d + 1) * per_dir] or names[:per_dir]
        unknown = [f for f in functions if f not in PER_ELEMENT]
        if unknown:
            raise Uncountable(f"{ctx.op_type} activation '{unknown[0]}' has no known cost")
        costs.append([PER_ELEMENT[f][0] for f in functions])
    return costs


def _total(ctx: NodeContext, step) -> int:
    seq, batch, i, h, directions = _dims(ctx)
    return seq * batch * sum(step(i, h, act) for act in _activations(ctx, directions))


@cost("LSTM")
def lstm(ctx: NodeContext) -> int:
    """LSTM step per row: 8H(I+H) + 8H if B + 6H if P + 8H if clip + 3H·f + H·g + 3H + H·h + H.

    8H(I+H): W·x and R·h for 4 gates; 8H: the two bias vectors; 6H: peepholes (3 mul +
    3 add); 8H: clipping 4H gate inputs (min, max); f (default Sigmoid, 4) for i, o, f;
    g (Tanh, 1) for the cell candidate; 3H: c = f·c + i·g; h (Tanh) of c and H for o·h(c).
    """
    return _total(ctx, _lstm_step(ctx))


def _lstm_step(ctx: NodeContext):
    extras = (8 if ctx.has_input(3) else 0) + (6 if ctx.has_input(7) else 0)
    extras += 8 if ctx.attr("clip") is not None else 0

    def step(i: int, h: int, act: list[int]) -> int:
        f, g, hh = act
        return 8 * h * (i + h) + extras * h + 3 * h * f + h * g + 3 * h + h * hh + h

    return step


@cost("DynamicQuantizeLSTM", domain=MS)
def dynamic_quantize_lstm(ctx: NodeContext) -> int:
    """DynamicQuantizeLSTM (an LSTM with int8 W and R): LSTM's count, + 5 × X's elements per direction
    (quantizing the inputs, once), + per step and row 5H (quantizing h) and 8H (rescaling W·x and R·h)."""
    seq, batch, i, _, directions = _dims(ctx)
    lstm_step = _lstm_step(ctx)

    def step(i: int, h: int, act: list[int]) -> int:
        return lstm_step(i, h, act) + (_RANGE + QUANTIZE) * h + 2 * 4 * h

    return _total(ctx, step) + directions * (_RANGE + QUANTIZE) * seq * batch * i


@shape("DynamicQuantizeLSTM", domain=MS)
def dynamic_quantize_lstm_shape(ctx: NodeContext) -> list[TypeInfo]:
    """Y (seq, dirs, batch, H), Y_h and Y_c (dirs, batch, H), in X's float type."""
    elem, _ = ctx.input_type(0)
    seq, batch, _, hidden, directions = _dims(ctx)
    shapes = [(seq, directions, batch, hidden), (directions, batch, hidden), (directions, batch, hidden)]
    return [(elem, s) for s in shapes][:len(ctx.node.output)]


@cost("GRU")
def gru(ctx: NodeContext) -> int:
    """GRU step per row: 6H(I+H) + H + H if linear_before_reset + 6H if B + 6H if clip + 2H·f + H·g + 4H.

    6H(I+H): W·x and R·h for 3 gates; H: the reset product r ⊙ h (or r ⊙ (R·h + Rb));
    linear_before_reset adds that product to W·x separately (H); 6H: the two bias
    vectors; f (default Sigmoid, 4) for z and r; g (Tanh, 1) for the candidate;
    4H: h = (1 − z)·h̃ + z·h.
    """
    extras = (6 if ctx.has_input(3) else 0) + (6 if ctx.attr("clip") is not None else 0)
    extras += 1 + (1 if ctx.attr("linear_before_reset", 0) else 0)

    def step(i: int, h: int, act: list[int]) -> int:
        f, g = act
        return 6 * h * (i + h) + extras * h + 2 * h * f + h * g + 4 * h

    return _total(ctx, step)


@cost("RNN")
def rnn(ctx: NodeContext) -> int:
    """RNN step per row: 2H(I+H) (W·x, R·h) + 2H if B + 2H if clip + H·f."""
    extras = (2 if ctx.has_input(3) else 0) + (2 if ctx.attr("clip") is not None else 0)

    def step(i: int, h: int, act: list[int]) -> int:
        (f,) = act
        return 2 * h * (i + h) + extras * h + h * f

    return _total(ctx, step)
