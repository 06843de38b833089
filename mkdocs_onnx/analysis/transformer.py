"""Transformer figures (layers, width, heads, vocabulary, context, KV cache) read from the graph.

Each figure comes from a weight's dims, an operator attribute or an inferred shape; a
figure the graph does not fix stays None. The evidence list says where each came from.
"""

from __future__ import annotations

from typing import Iterable, Optional

from mkdocs_onnx.analysis.report import TensorInfo, TransformerFacts
from mkdocs_onnx.analysis.structure import (
    LAYOUT_OPS, AttentionBlock, Embedding, MLPBlock, ModelIndex, dense_layer,
)
from mkdocs_onnx.analysis.tensors import bits_per_element, dtype_name


def _common(values: Iterable[Optional[int]]) -> Optional[int]:
    """The value every item agrees on (items that are None are ignored); None if they disagree."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    first = known[0]
    return first if known.count(first) == len(known) else None


def transformer_facts(ix: ModelIndex, family: str, attention: list[AttentionBlock], embeddings: list[Embedding],
                      mlps: list[MLPBlock], inputs: Optional[list[TensorInfo]]) -> TransformerFacts:
    facts = TransformerFacts()
    ev = facts.evidence
    self_attn = [a for a in attention if not a.cross]
    cross = [a for a in attention if a.cross]
    if self_attn:
        facts.layers = len(self_attn)
        ev.append(f"layers: {len(self_attn)} self-attention blocks"
                  + (f" (and {len(cross)} cross-attention blocks)" if cross else ""))
    causal = [a for a in self_attn if a.causal or a.cache_inputs]
    decoder_like = family in ("transformer-decoder", "encoder-decoder")
    if decoder_like:
        if causal:
            facts.decoder_layers = len(causal)
        elif family == "transformer-decoder":
            facts.decoder_layers = len(self_attn) or None
        enc = len(self_attn) - (facts.decoder_layers or 0)
        if family == "encoder-decoder" and enc > 0:
            facts.encoder_layers = enc
    elif self_attn:
        facts.encoder_layers = len(self_attn)

    facts.heads = _common(a.heads for a in self_attn)
    facts.kv_heads = _common(a.kv_heads for a in self_attn)
    facts.head_dim = _common(a.head_dim for a in self_attn)
    if facts.heads:
        variant = _common_str(a.variant for a in self_attn)
        ev.append(f"heads: {facts.heads} query heads" + (f", {facts.kv_heads} key/value heads ({variant})"
                                                          if facts.kv_heads and variant else "")
                  + _head_source(self_attn))
    if facts.head_dim:
        ev.append(f"head dim: {facts.head_dim} (last dim of the queries entering the score MatMul"
                  " or the fused op's projection width ÷ heads)")

    facts.hidden_size = _common(a.hidden for a in self_attn)
    token = [e for e in embeddings if e.role == "token"]
    if facts.hidden_size:
        ev.append(f"hidden size: {facts.hidden_size} (input width of the query projection)")
    elif token and _common(e.dim for e in token):
        facts.hidden_size = _common(e.dim for e in token)
        ev.append(f"hidden size: {facts.hidden_size} (width of the token embedding)")

    if token and _common(e.rows for e in token):
        facts.vocab_size = _common(e.rows for e in token)
        ev.append(f"vocabulary: {facts.vocab_size} (rows of the token embedding table)")
    else:
        head = _lm_head(ix)
        if head is not None:
            facts.vocab_size = head
            ev.append(f"vocabulary: {head} (output width of the final projection to logits)")

    facts.context_length = _context(ix, embeddings, inputs, ev)

    widths = [m.first[0].out_dim for m in mlps if m.first and m.first[0].out_dim and
              facts.hidden_size and m.last.out_dim == facts.hidden_size]
    facts.intermediate_size = _common(widths) if widths else None
    if facts.intermediate_size:
        ev.append(f"MLP width: {facts.intermediate_size} (output of the first dense layer of each feed-forward block)")

    if decoder_like and causal or family == "transformer-decoder":
        _kv_cache(ix, facts, causal or self_attn, ev)
    return facts


def _common_str(values) -> Optional[str]:
    known = [v for v in values if v]
    return known[0] if known and len(set(known)) == 1 else None


def _head_source(blocks: list[AttentionBlock]) -> str:
    if all(b.kind == "fused" for b in blocks):
        return " (fused attention op attributes)"
    return " (query/key shapes at the score MatMul and the projection widths)"


def _lm_head(ix: ModelIndex) -> Optional[int]:
    """Output width of a dense layer producing a rank-3 graph output named like logits."""
    for out in ix.main.outputs:
        if "logit" not in out.lower():
            continue
        origin = ix.through(out, LAYOUT_OPS | {"Add"})
        p = ix.producer.get(origin)
        if p is None:
            continue
        d = dense_layer(ix, p)
        shape = ix.shape(out)
        if d is not None and d.out_dim and shape is not None and len(shape) == 3:
            return d.out_dim
    return None


def _context(ix: ModelIndex, embeddings: list[Embedding], inputs: Optional[list[TensorInfo]], ev: list[str]) -> Optional[int]:
    for role, what in (("position", "rows of the learned position table"),
                       ("rotary (cos/sin)", "rows of the precomputed rotary cos/sin table")):
        tables = [e for e in embeddings if e.role == role and e.rows]
        if tables and _common(e.rows for e in tables):
            rows = _common(e.rows for e in tables)
            ev.append(f"context: {rows} tokens ({what})")
            return rows
    for t in inputs or []:
        n = t.name.lower()
        if t.shape is not None and len(t.shape) == 2 and ("ids" in n or "token" in n) and isinstance(t.shape[1], int):
            ev.append(f"context: {t.shape[1]} tokens (fixed sequence dim of input '{t.name}')")
            return t.shape[1]
    return None


def _elem_bytes(ix: ModelIndex, block: AttentionBlock) -> Optional[tuple[int, str]]:
    for name in (*block.cache_inputs, block.k_tensor or ""):
        if name:
            elem = ix.elem_type(name)
            bits = bits_per_element(elem)
            if bits:
                return bits // 8, dtype_name(elem)
    return None


def _kv_cache(ix: ModelIndex, facts: TransformerFacts, blocks: list[AttentionBlock], ev: list[str]) -> None:
    per_token = 0
    dtype = None
    for b in blocks:
        eb = _elem_bytes(ix, b)
        if b.kv_heads is None or b.head_dim is None or eb is None:
            per_token = 0
            break
        per_token += 2 * b.kv_heads * b.head_dim * eb[0]
        dtype = eb[1]
    if not per_token:
        return
    facts.kv_cache_bytes_per_token = per_token
    ev.append(f"KV cache: {per_token:,} bytes per token = 2 (K, V) × {len(blocks)} layers × "
              f"{facts.kv_heads or 'per-layer'} KV heads × {facts.head_dim or 'per-layer'} head dim × "
              f"{dtype} bytes")
    present = [o for o in ix.main.outputs if o.lower().startswith("present")]
    shapes = [ix.static_shape(n) for n in present]
    if present and all(shapes):
        total = 0
        for n, s in zip(present, shapes):
            bits = bits_per_element(ix.elem_type(n))
            if bits is None:
                return
            total += _prod(s) * bits // 8
        facts.kv_cache_bytes_at_bound_sequence = total
        ev.append(f"KV cache at the bound sequence: {total:,} bytes (the present.* outputs)")
        return
    total = 0
    for b in blocks:
        s = ix.static_shape(b.k_tensor) if b.k_tensor else None
        eb = _elem_bytes(ix, b)
        if s is None or len(s) != 4 or eb is None or b.kv_heads is None or b.head_dim is None:
            return
        length = s[-1] if s[-2] == b.head_dim else s[-2]
        total += 2 * s[0] * b.kv_heads * b.head_dim * length * eb[0]
    if total:
        facts.kv_cache_bytes_at_bound_sequence = total
        ev.append(f"KV cache at the bound sequence: {total:,} bytes (keys attended by each layer, batch × length as bound)")


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n

