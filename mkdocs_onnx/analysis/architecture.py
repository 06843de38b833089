"""Architecture family, task guess, building blocks and transformer figures, from graph structure.

Families are decided from what the graph does, never from operator-count thresholds:

- a **dense layer** is a matrix multiply by a weight; one MatMul does not make a CNN an MLP;
- a **CNN** convolves with spatial kernels (kernel-1 convolutions are per-step projections);
- an **RNN** has LSTM/GRU/RNN nodes, or a Loop/Scan whose body carries a state to the next
  step through a weight (a written-out, possibly quantized, cell);
- **attention** is a fused attention operator or MatMul(activation, activation) → Softmax →
  MatMul(activation, activation), with scale and mask glue in between;
- a **decoder** masks its scores causally (Trilu, a triangular constant, positions compared),
  keeps a KV cache (inputs/outputs named past/present) or rotates queries and keys (RoPE);
- **classical ML** is ai.onnx.ml operators, or a tree ensemble compiled to tensor ops:
  threshold comparisons whose outcome selects node indices from constant tables.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

import onnx

from mkdocs_onnx.analysis import structure as st
from mkdocs_onnx.analysis.index import IndexedModel
from mkdocs_onnx.analysis.report import Architecture, TensorInfo
from mkdocs_onnx.analysis.shapes import graph_inputs, tensor_info
from mkdocs_onnx.analysis.task import guess_task
from mkdocs_onnx.analysis.transformer import transformer_facts

# Kept for callers that import them from here.
CONV_OPS = st.CONV_OPS
RNN_OPS = st.RNN_OPS
FUSED_ATTENTION_OPS = st.FUSED_ATTENTION_OPS
STANDARD_DOMAINS = {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training"}
TRANSFORMERS = {"transformer-encoder", "transformer-decoder", "encoder-decoder", "vision-transformer"}
_MAX_STEM_CONVS = 4
_KNOWN_DOMAINS = STANDARD_DOMAINS | {"com.microsoft"}


def detect(model: onnx.ModelProto, types: Optional[dict] = None, values: Optional[dict] = None,
           inputs: Optional[list[TensorInfo]] = None, index: Optional[IndexedModel] = None,
           outputs: Optional[list[TensorInfo]] = None) -> Architecture:
    """The model's family with its evidence, a task guess, its blocks and (transformers) figures.

    ``types`` and ``values`` are the analyzer's inferred tensor types and small constant
    values (shapes make head counts and widths readable); ``inputs`` are the graph inputs
    as declared, before any dim was bound, and ``outputs`` the graph outputs likewise (with
    the inferred shape where the file declares none): the task guess quotes them as the
    card lists them. ``index`` is the analyzer's index of ``model`` (built here when not given).
    """
    try:
        return _detect(model, types, values, inputs, index, outputs)
    except RecursionError:
        raise
    except Exception as e:  # a graph shaped like nothing anticipated must not cost the rest of the report
        return Architecture(family="unknown", evidence=[
            f"the structure analysis stopped ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            "family not determined"])


def _detect(model: onnx.ModelProto, types: Optional[dict], values: Optional[dict],
            inputs: Optional[list[TensorInfo]], index: Optional[IndexedModel],
            outputs: Optional[list[TensorInfo]] = None) -> Architecture:
    ix = st.ModelIndex(index or IndexedModel(model), types, values)
    found = _Found(ix)
    evidence: list[str] = []
    family = _decide(ix, found, evidence)
    arch = Architecture(family=family, evidence=evidence)
    arch.blocks = _blocks(ix, found, family)
    if family in TRANSFORMERS or (family == "hybrid" and found.attention):
        arch.transformer = transformer_facts(ix, family, found.attention, found.embeddings, found.mlps, inputs)
    declared_inputs = inputs if inputs is not None else [tensor_info(v) for v in graph_inputs(model.graph)]
    declared_outputs = outputs if outputs is not None else [tensor_info(v, types) for v in model.graph.output]
    tf = arch.transformer
    task, why = guess_task(
        family, declared_inputs, declared_outputs,
        vocab_size=tf.vocab_size if tf else None, hidden_size=tf.hidden_size if tf else None,
        detection_ops="NonMaxSuppression" in ix.by_op,
    )
    if task:
        arch.task_guess = task
        arch.task_evidence = why
        evidence.append(f"task guessed as {task}: {why}")
    return arch


class _Found:
    """Everything found in the graph, once.

    A finder runs only when the model holds an op type it starts from (most models hold
    few of them): the nodes-by-op-type table answers that without a walk.
    """

    def __init__(self, ix: st.ModelIndex):
        # ix.holds(ops), asked here of the op types directly: eight questions, no method call each
        lacks = ix.by_op.keys().isdisjoint
        self.recurrences = st.recurrences(ix) if not lacks(st.RECURRENCE_OPS) else []
        inside = st.recurrent_bodies(ix, self.recurrences) if self.recurrences else _NO_IDS
        self.convs = st.weighted_convs(ix, inside) if not lacks(st.CONV_OPS) else []
        self.spatial = [c for c in self.convs if not c.pointwise]
        self.pointwise = [c for c in self.convs if c.pointwise]
        self.dense = _dense_layers(ix, inside) if not lacks(st.DENSE_OPS) else {}
        self.attention = st.find_attention(ix, inside) if not lacks(st.ATTENTION_STARTS) else []
        if len(self.attention) > 1:  # fused ones first, then patterns: in index order together
            self.attention.sort(key=lambda a: ix.position.get(id(a.node), 0))
        self.tree_comparisons, self.tree_gathers = st.tree_traversal(ix) if not lacks(st.COMPARISONS) else (0, _NO_IDS)
        self.norms = st.find_norms(ix, inside) if not lacks(st.NORM_STARTS) else []
        self.embeddings = st.find_embeddings(ix, self.tree_gathers) if not lacks(st.EMBEDDING_OPS) else []
        self.residuals = st.find_residuals(ix, inside) if not lacks(st.RESIDUAL_OPS) else []
        self.mlps = st.find_mlps(ix, self.dense) if self.dense else []
        self.ml_ops, self.custom = _op_domains(ix)


_NO_IDS: frozenset = frozenset()  # no node ids: nothing to skip


def _dense_layers(ix: st.ModelIndex, inside: set[int]) -> dict[int, st.Dense]:
    """id(node) -> its dense layer, for the matrix multiplies by a weight (outside ``inside``), in index order."""
    return {id(n): d for n in st.outside(ix.nodes_of(st.DENSE_OPS), inside) if (d := st.dense_layer(ix, n)) is not None}


def _op_domains(ix: st.ModelIndex) -> tuple[dict[str, int], dict[str, int]]:
    """(ai.onnx.ml op type -> count, custom-domain 'domain.op type' -> count)."""
    functions = ix.model.functions  # model-local functions' domains are known too (most files define none)
    known_domains = _KNOWN_DOMAINS | {f.domain for f in functions} if functions else _KNOWN_DOMAINS
    ml_ops: dict[str, int] = {}
    custom: dict[str, int] = {}
    for (domain, op_type), n in ix.index.op_counts().items():
        if domain == "ai.onnx.ml":
            ml_ops[op_type] = ml_ops.get(op_type, 0) + n
        elif domain not in known_domains:
            op = f"{domain}.{op_type}"
            custom[op] = custom.get(op, 0) + n
    return ml_ops, custom


def _plural(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _kernels(convs: list[st.ConvInfo]) -> str:
    # counted as tuples, only the three shown written out (distinct tuples give distinct texts)
    kernels = Counter(c.kernel for c in convs if c.kernel)
    return ", ".join("×".join(map(str, kernel)) for kernel, _ in kernels.most_common(3))


def _decide(ix: st.ModelIndex, f: _Found, ev: list[str]) -> str:
    if f.spatial:
        n = len(f.spatial)
        ev.append(f"{_plural(n, 'convolution node')} with spatial kernel{'s' * (n != 1)} ({_kernels(f.spatial)})")
    pointwise = f.pointwise
    if pointwise:
        ev.append(f"{_plural(len(pointwise), 'pointwise (kernel 1) convolution node')}")
    if f.recurrences:
        kinds = Counter(r.kind for r in f.recurrences)
        parts = []
        for kind, n in kinds.items():
            if kind in ("Loop", "Scan"):
                cell = next(r for r in f.recurrences if r.kind == kind).cell_ops
                parts.append(f"{n} {kind} over a written-out recurrent cell (state fed back through "
                             f"{', '.join(cell) or 'weights'})")
            else:
                parts.append(f"{n} {kind}")
        ev.append("recurrence: " + "; ".join(parts))
    if f.attention:
        fused = [a for a in f.attention if a.kind == "fused"]
        pattern = [a for a in f.attention if a.kind == "pattern"]
        bits = []
        if fused:
            bits.append(f"{len(fused)} fused ({', '.join(sorted({a.node.op_type for a in fused}))})")
        if pattern:
            bits.append(f"{len(pattern)} as MatMul → Softmax → MatMul of activations")
        ev.append(f"{_plural(len(f.attention), 'attention block')}: " + ", ".join(bits))
    if f.dense:
        ev.append(f"{_plural(len(f.dense), 'dense layer')} (matrix multiplies by a weight)")
    if f.norms and f.attention:
        kinds = Counter(k for _, k in f.norms)
        ev.append("normalization: " + ", ".join(f"{n} × {k}" for k, n in kinds.most_common()))
    if f.ml_ops:
        ev.append("ai.onnx.ml operators: " + ", ".join(f"{op}" + (f" ×{n}" if n > 1 else "")
                                                     for op, n in sorted(f.ml_ops.items())))
    if f.tree_comparisons:
        ev.append(f"tree traversal in tensor ops: {_plural(f.tree_comparisons, 'threshold comparison')} "
                  "(Less/Greater against constant thresholds) selecting node indices or path weights")

    neural = bool(f.attention or f.recurrences or f.spatial)
    if f.ml_ops and not neural:
        if f.dense:
            ev.append("the dense layers sit inside a scikit-learn style pipeline (ai.onnx.ml pre/post-processing)")
        return "classical-ml"
    if f.tree_comparisons and not neural and not f.convs and not f.mlps:
        return "classical-ml"
    if f.attention:
        return _transformer_family(ix, f, ev)
    if f.recurrences:
        if f.spatial:
            ev.append("convolutions with spatial kernels feed the recurrence: a convolutional-recurrent network")
            return "hybrid"
        if pointwise:
            ev.append("the kernel-1 convolutions are per-step projections, not spatial filters")
        return "rnn"
    if f.convs:
        return "cnn"
    if f.dense:
        if not f.mlps:
            ev.append("no activation between dense layers" if len(f.dense) > 1 else "a single dense layer (a linear model)")
        return "mlp"
    if f.custom and not f.dense:
        ev.append("only custom-domain operators do the work (" + ", ".join(sorted(f.custom)) + "); no neural-network layer")
    else:
        ev.append("no convolution, recurrence, attention, dense layer or tree ensemble found")
    return "unknown"


def _transformer_family(ix: st.ModelIndex, f: _Found, ev: list[str]) -> str:
    if f.recurrences:
        ev.append("attention together with recurrence")
        return "hybrid"
    first_attention = min(ix.position.get(id(a.score or a.node), 0) for a in f.attention)
    patch = [c for c in f.spatial if c.kernel and c.strides and tuple(c.kernel) == tuple(c.strides)
             and min(c.kernel) >= 2 and ix.position.get(id(c.node), 0) < first_attention]
    others = [c for c in f.spatial if c not in patch]
    if patch and len(others) <= 2:
        k = patch[0].kernel
        ev.append(f"patch embedding: a {'×'.join(map(str, k))} convolution with stride equal to its kernel cuts "
                  "the image into patches before attention")
        return "vision-transformer"
    if f.spatial:
        stem = all(ix.position.get(id(c.node), 0) < first_attention for c in f.spatial)
        if not (stem and len(f.spatial) <= _MAX_STEM_CONVS):
            ev.append("convolutions and attention together (a convolutional network with attention blocks)")
            return "hybrid"
        ev.append(f"a convolutional front end ({_plural(len(f.spatial), 'convolution')}) before the attention layers")
    signals = _decoder_signals(ix, f)
    cross = [a for a in f.attention if a.cross]
    self_attn = [a for a in f.attention if not a.cross]
    causal = [a for a in self_attn if a.causal or a.cache_inputs]
    if cross:
        source = cross[0].k_source or ""
        where = f"input '{source}'" if source in ix.graph_inputs else f"'{source}', computed in this graph"
        ev.append(f"{_plural(len(cross), 'cross-attention block')}: keys and values are projected from another "
                  f"sequence than the queries ({where})")
        ev.extend(signals)
        return "encoder-decoder"
    if signals and causal and len(causal) < len(self_attn) and any(not (a.causal or a.cache_inputs) for a in self_attn):
        ev.extend(signals)
        ev.append(f"{len(self_attn) - len(causal)} self-attention blocks unmasked (encoder) and {len(causal)} causal (decoder)")
        return "encoder-decoder"
    if signals:
        ev.extend(signals)
        return "transformer-decoder"
    ev.append("no causal mask, KV cache or rotary embedding: bidirectional self-attention")
    return "transformer-encoder"


def _decoder_signals(ix: st.ModelIndex, f: _Found) -> list[str]:
    signals = []
    causal = sorted({why for a in f.attention for why in a.causal})
    if causal:
        signals.append("causal masking: " + "; ".join(causal))
    names = [*ix.main.inputs, *ix.main.outputs]
    cache = [n for n in names if st.is_cache_name(n)]
    if cache:
        signals.append("KV-cache inputs/outputs: " + ", ".join(cache[:4]) + (f" (+{len(cache) - 4} more)" if len(cache) > 4 else ""))
    if any(a.rotary for a in f.attention) or "RotaryEmbedding" in ix.by_op:
        signals.append("rotary position embeddings on queries and keys")
    return signals


# --- Blocks --------------------------------------------------------------------------------------------------


def _blocks(ix: st.ModelIndex, f: _Found, family: str) -> list[str]:
    blocks: list[str] = []
    emb = f.embeddings
    if emb:
        parts = []
        for role in ("token", "position", "token type", "rotary (cos/sin)", "lookup"):
            for e in [e for e in emb if e.role == role]:
                parts.append(f"{role} table {e.rows if e.rows is not None else '?'} × {e.dim if e.dim is not None else '?'}")
        blocks.append("embeddings (Gather on a weight): " + "; ".join(dict.fromkeys(parts)))
    if f.attention:
        blocks.extend(_transformer_layers(ix, f))
    if f.recurrences:
        blocks.extend(_recurrent_blocks(f))
    if f.convs:
        blocks.extend(_conv_stacks(ix, f.convs))
    if f.residuals:
        proj = sum(1 for r in f.residuals if r.projection)
        blocks.append(f"{_plural(len(f.residuals), 'residual connection')} (Add of a shortcut and a path through weights"
                      + (f"; {proj} with a projection shortcut" if proj else "") + ")")
    if f.norms and not f.attention:
        kinds = Counter(k for _, k in f.norms)
        blocks.append("normalization: " + ", ".join(f"{n} × {k}" for k, n in kinds.most_common()))
    if not f.attention:
        chain = _dense_chain(ix, f)
        if chain:
            blocks.append(chain)
    if f.ml_ops:
        blocks.append("ai.onnx.ml: " + ", ".join(f"{op}" + (f" ×{n}" if n > 1 else "") for op, n in sorted(f.ml_ops.items())))
    if f.tree_comparisons:
        blocks.append(f"tree ensemble as tensor ops: {_plural(f.tree_comparisons, 'traversal step')} "
                      f"(compare with thresholds, Gather the next node from {_plural(len(f.tree_gathers), 'table lookup')})")
    if f.custom:
        blocks.append("custom operators: " + ", ".join(f"{op}" + (f" ×{n}" if n > 1 else "") for op, n in sorted(f.custom.items())))
    return blocks


def _conv_stacks(ix: st.ModelIndex, convs: list[st.ConvInfo]) -> list[str]:
    """The four commonest conv stacks with their counts, and how many convolutions the others hold."""
    stacks = Counter(" → ".join(st.conv_stack(ix, c.node)) for c in convs)
    lines = [f"{n} × {stack}" for stack, n in stacks.most_common(4)]
    if len(stacks) > 4:
        others = stacks.most_common()[4:]
        lines.append(f"{sum(n for _, n in others)} more convolutions in {len(others)} other arrangements")
    return lines


def _attention_text(a: st.AttentionBlock) -> str:
    kind = "cross-attention" if a.cross else ("causal self-attention" if a.causal or a.cache_inputs else "self-attention")
    details = []
    if a.heads:
        details.append(f"{a.heads} heads")
    if a.variant:
        details.append(a.variant + (f", {a.kv_heads} KV heads" if a.variant != "MHA" else ""))
    if a.head_dim:
        details.append(f"head dim {a.head_dim}")
    if a.rotary:
        details.append("rotary")
    if a.kind == "fused":
        details.append(f"fused {a.node.op_type}")
    return kind + (f" ({', '.join(details)})" if details else "")


def _mlp_text(m: st.MLPBlock) -> str:
    first = m.first[0]
    dims = [first.in_dim, first.out_dim, m.last.out_dim]
    shown = " → ".join("?" if d is None else str(d) for d in dims)
    return f"MLP ({shown}, {'gated ' if m.gated else ''}{m.activation})"


def _transformer_layers(ix: st.ModelIndex, f: _Found) -> list[str]:
    """One line per run of identical layers: '12 × encoder layer: self-attention (...) + MLP (...)'."""
    pos = ix.position
    layers: list[tuple[int, list[str]]] = []  # (where the layer's attention ends, its parts)
    for a in f.attention:
        if a.cross and layers:  # cross-attention belongs to the decoder layer of the self-attention before it
            layers[-1][1].append(_attention_text(a))
        else:
            layers.append((pos.get(id(a.value or a.node), 0), [_attention_text(a)]))
    for m in sorted(f.mlps, key=lambda m: pos.get(id(m.last.node), 0)):
        at = pos.get(id(m.last.node), 0)
        idx = max((k for k, (start, _) in enumerate(layers) if start < at), default=None)
        if idx is not None and not any(p.startswith("MLP") for p in layers[idx][1]):
            layers[idx][1].append(_mlp_text(m))
    lines: list[str] = []
    run: list[str] = []
    count = 0
    for _, parts in layers:
        if parts == run:
            count += 1
            continue
        if run:
            lines.append(_layer_line(count, run))
        run, count = parts, 1
    if run:
        lines.append(_layer_line(count, run))
    return lines


def _layer_line(count: int, parts: list[str]) -> str:
    kind = "decoder layer" if any(p.startswith(("causal", "cross")) for p in parts) else "encoder layer"
    return f"{count} × {kind}: " + " + ".join(parts)


def _recurrent_blocks(f: _Found) -> list[str]:
    lines = []
    groups = Counter()
    for r in f.recurrences:
        if r.kind in ("Loop", "Scan"):
            groups[f"{r.kind} over a recurrent cell ({', '.join(r.cell_ops)})"] += 1
        else:
            hidden = f"hidden {r.hidden}, " if r.hidden else ""
            groups[f"{r.kind} ({hidden}{r.direction})"] += 1
    for text, n in groups.items():
        lines.append(f"{n} × {text}")
    return lines


def _dense_chain(ix: st.ModelIndex, f: _Found) -> Optional[str]:
    """Dense layers outside attention, in order: '784 → 128 → 64 → 10 (ReLU)'."""
    dense = list(f.dense.values())  # in index order, as found
    if not dense:
        return None
    dims: list[Optional[int]] = [dense[0].in_dim]
    for d in dense:
        dims.append(d.out_dim)
    acts = sorted({m.activation for m in f.mlps})
    where = "dense head" if f.convs or f.recurrences else "dense layers"
    shown = " → ".join("?" if d is None else str(d) for d in dims)
    return f"{where}: {shown}" + (f" ({', '.join(acts)} between layers)" if acts else "")
