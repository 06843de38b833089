"""A guess at the model's task from its inputs and outputs (and the family found).

Only a guess, and said so on the card with its reason; a task given in models.yml
replaces it. Returns None when the inputs and outputs say nothing clear.
"""

from __future__ import annotations

import re
from typing import Optional

from mkdocs_onnx.analysis.report import TensorInfo

_AUDIO = re.compile(r"audio|wave|wav\b|pcm|speech|input_features|mel|spectrogram|mfcc|fbank|samples", re.I)
_BOXES = re.compile(r"box|bbox|detection|anchor|priors|landmark", re.I)
_MASK = re.compile(r"mask|seg|matte|alpha|parsing", re.I)
_EMBED = re.compile(r"embed|pooler|pooled|feature|vector|encoding|last_hidden_state|hidden_states", re.I)
_IDS = re.compile(r"ids|token|input_ids|word", re.I)
_LABEL = re.compile(r"label|probab|class|score|variable|output_label|prediction", re.I)
_FLAT_IMAGES = {784: "28 × 28", 1024: "32 × 32", 3072: "32 × 32 × 3"}
_INTS = {"int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"}


def guess_task(family: str, inputs: list[TensorInfo], outputs: list[TensorInfo], *,
               vocab_size: Optional[int] = None, hidden_size: Optional[int] = None,
               detection_ops: bool = False, custom_only: bool = False) -> tuple[Optional[str], str]:
    """(task, reason) or (None, "")."""
    inputs = [t for t in inputs if t.dtype != "unknown" or t.shape is not None]
    if not inputs:
        return None, ""
    strings = [t for t in inputs if t.dtype == "string"]
    id_outputs = [o for o in outputs if o.dtype in _INTS and _IDS.search(o.name)]
    if strings and id_outputs:
        return "tokenization", (f"text input '{strings[0].name}' (string) becomes token ids "
                                f"'{id_outputs[0].name}'")
    if strings:
        return None, ""

    image = next((t for t in inputs if _is_image(t)), None)
    if image is not None:
        return _image_task(image, outputs, detection_ops, hidden_size)

    audio = next((t for t in inputs if _AUDIO.search(t.name) and t.dtype.startswith("float")), None)
    if audio is not None:
        return "speech/audio", f"input '{audio.name}' is named as audio or spectral features"

    ids = next((t for t in inputs if t.dtype in _INTS and _IDS.search(t.name) and t.shape is not None
                and len(t.shape) == 2), None)
    if ids is not None:
        return _text_task(family, ids, outputs, vocab_size, hidden_size)

    flat = next((t for t in inputs if t.shape is not None and len(t.shape) == 2 and t.dtype.startswith("float")), None)
    if flat is not None:
        width = flat.shape[1]
        if isinstance(width, int) and width in _FLAT_IMAGES and family in ("mlp", "cnn"):
            return "image-classification", (f"input '{flat.name}' holds {width} features: a flattened "
                                            f"{_FLAT_IMAGES[width]} image, with {_classes(outputs)}")
        if family in ("classical-ml", "mlp") and _is_small_head(outputs):
            return "tabular", f"input '{flat.name}' is a [batch, {width}] feature vector and the output is {_classes(outputs)}"
    return None, ""


_SPATIAL_NAME = re.compile(r"height|width|^h$|^w$|size|^x$|^y$", re.I)
_NOT_IMAGE = re.compile(r"past|present|cache|^key|^value|\.key|\.value|attention_mask|hidden|state", re.I)


def _is_image(t: TensorInfo) -> bool:
    if t.shape is None or len(t.shape) != 4 or not t.dtype.startswith(("float", "uint8")) or _NOT_IMAGE.search(t.name):
        return False
    c_first, c_last = t.shape[1], t.shape[3]
    spatial_first, spatial_last = t.shape[2:], t.shape[1:3]
    return (_channels(c_first) and _spatial(spatial_first)) or (_channels(c_last) and _spatial(spatial_last))


_CHANNEL_NAME = re.compile(r"channel", re.I)


def _channels(c) -> bool:
    """An image's channel dim: 1 to 4, or a symbolic dim named so (Optimum's 'num_channels')."""
    return (isinstance(c, int) and c in (1, 2, 3, 4)) or (isinstance(c, str) and bool(_CHANNEL_NAME.search(c)))


def _spatial(dims) -> bool:
    return all((isinstance(d, int) and d >= 8) or (isinstance(d, str) and _SPATIAL_NAME.search(d)) for d in dims)


def _hw(t: TensorInfo):
    if t.shape is None or len(t.shape) != 4:
        return None
    return tuple(t.shape[2:]) if _channels(t.shape[1]) or not _channels(t.shape[3]) else tuple(t.shape[1:3])


def _image_task(image: TensorInfo, outputs: list[TensorInfo], detection_ops: bool,
                hidden_size: Optional[int]) -> tuple[Optional[str], str]:
    hw = _hw(image)
    where = f"image input '{image.name}' {_fmt(image.shape)}"
    boxes = [o for o in outputs if _BOXES.search(o.name)]
    if boxes or detection_ops:
        why = f"output '{boxes[0].name}' names boxes" if boxes else "the graph runs NonMaxSuppression"
        return "object-detection", f"{where}; {why}"
    for o in outputs:
        ohw = _hw(o)
        if ohw is None or hw is None:
            continue
        if all(isinstance(a, int) and isinstance(b, int) for a, b in zip(hw, ohw)) and \
                ohw[0] >= 2 * hw[0] and ohw[0] % hw[0] == 0 and ohw[1] % hw[1] == 0 and ohw[0] // hw[0] == ohw[1] // hw[1]:
            return "super-resolution", f"{where}; output '{o.name}' {_fmt(o.shape)} is {ohw[0] // hw[0]}× larger"
        if ohw == hw or _MASK.search(o.name):
            return "segmentation", f"{where}; output '{o.name}' {_fmt(o.shape)} is a per-pixel map of the same size"
    for o in outputs:  # a vision transformer's backbone: its width, for every patch token (ViT, DINO)
        if o.shape is not None and len(o.shape) == 3 and hidden_size and o.shape[-1] == hidden_size:
            return "embedding", f"{where}; output '{o.name}' {_fmt(o.shape)} is the hidden state of every patch token"
    dense = [o for o in outputs if o.shape is not None and len(o.shape) == 3 and isinstance(o.shape[1], int)
             and o.shape[1] >= 100 and isinstance(o.shape[2], int) and o.shape[2] >= 5]
    if dense:
        o = dense[0]
        return "object-detection", (f"{where}; output '{o.name}' {_fmt(o.shape)} lists {o.shape[1]} candidate "
                                    f"boxes × {o.shape[2]} values")
    if any(_EMBED.search(o.name) for o in outputs):
        o = next(o for o in outputs if _EMBED.search(o.name))
        return "embedding", f"{where}; output '{o.name}' is named as an embedding"
    if _is_small_head(outputs):
        return "image-classification", f"{where}; output is {_classes(outputs)}"
    return None, ""


def _text_task(family: str, ids: TensorInfo, outputs: list[TensorInfo], vocab_size, hidden_size) -> tuple[Optional[str], str]:
    where = f"token-id input '{ids.name}'"
    names = {o.name.lower() for o in outputs}
    if {"start_logits", "end_logits"} <= names:
        return "question-answering", f"{where}; outputs 'start_logits' and 'end_logits' score where the answer starts and ends"
    for o in outputs:
        if o.shape is None or len(o.shape) != 3:
            continue
        last = o.shape[-1]
        if isinstance(last, int) and ((vocab_size and last == vocab_size) or ("logit" in o.name.lower() and last >= 1000)):
            return "language-modelling", f"{where}; output '{o.name}' {_fmt(o.shape)} scores every vocabulary entry at every position"
    if any(_EMBED.search(o.name) for o in outputs):
        o = next(o for o in outputs if _EMBED.search(o.name))
        return "embedding", f"{where}; output '{o.name}' is named as hidden states or an embedding"
    for o in outputs:
        if o.shape is not None and len(o.shape) == 3 and hidden_size and o.shape[-1] == hidden_size:
            return "embedding", f"{where}; output '{o.name}' {_fmt(o.shape)} is the hidden state of every token"
    if family == "transformer-decoder":
        return "language-modelling", f"{where} into a causal decoder"
    if _is_small_head(outputs):
        return "text-classification", f"{where}; output is {_classes(outputs)}"
    return None, ""


def _is_small_head(outputs: list[TensorInfo]) -> bool:
    for o in outputs:
        if o.shape is None:
            continue
        if len(o.shape) == 2 and isinstance(o.shape[1], int) and 1 <= o.shape[1] <= 100_000:
            return True
        if len(o.shape) <= 1 and _LABEL.search(o.name):
            return True
    return False


def _classes(outputs: list[TensorInfo]) -> str:
    for o in outputs:
        if o.shape is not None and len(o.shape) == 2 and isinstance(o.shape[1], int):
            n = o.shape[1]
            return f"one score per class ({n}) in '{o.name}'" if n > 1 else f"one value per row in '{o.name}'"
    o = outputs[0] if outputs else None
    return f"a label in '{o.name}'" if o is not None else "a small head"


def _fmt(shape) -> str:
    if shape is None:
        return "[?]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
