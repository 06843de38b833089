"""Device profiles: the bundled database (devices.yaml), lookups by id/name, custom profiles.

A profile is plain data: memory size, memory bandwidth and DENSE peak throughput per
precision. Nothing here measures anything; see ``devices.yaml`` for the conventions.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from mkdocs_onnx.errors import DeviceError

PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
KINDS = ("datacenter", "workstation", "laptop", "edge", "cpu", "custom")
DATABASE_PATH = Path(__file__).with_name("devices.yaml")

_FIELDS = (
    "id", "name", "aliases", "vendor", "kind", "architecture", "memory_bytes",
    "memory_bandwidth_bytes_per_s", "peak_flops", "source", "notes",
)


@dataclass(frozen=True)
class DeviceProfile:
    id: str
    name: str
    vendor: str
    kind: str
    memory_bytes: int
    memory_bandwidth_bytes_per_s: Optional[float]  # None: unknown (derived profiles only)
    peak_flops: dict[str, float] = field(default_factory=dict, hash=False)  # precision -> dense FLOP/s (OPS)
    aliases: tuple[str, ...] = ()
    architecture: str = ""
    source: str = ""
    notes: str = ""

    def supports(self, precision: str) -> bool:
        return precision in self.peak_flops

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["aliases"] = list(self.aliases)
        return data


# ----------------------------------------------------------------------------- names


def normalize_name(text: str) -> str:
    """Lookup key: case, spaces, dashes, "NVIDIA"/"GeForce"/"Tesla" prefixes and a
    trailing "GPU" do not matter; "Laptop", "Ti", memory sizes and form factors do.

    "NVIDIA GeForce RTX 4050 Laptop GPU" and "rtx-4050-laptop" -> "rtx4050laptop".
    """
    text = re.sub(r"\((tm|r)\)|[®™]", " ", str(text).lower())
    tokens = re.split(r"[\s_\-/,]+", text.strip())
    while tokens and tokens[0] in ("nvidia", "geforce", "tesla", "amd", "apple"):
        tokens.pop(0)
    if len(tokens) > 1 and tokens[-1] == "gpu":
        tokens.pop()
    return "".join(tokens)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "device"


# ----------------------------------------------------------------------------- quantities

_BYTE_UNITS = {
    "": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_FLOP_UNITS = {
    "": 1, "flops": 1, "ops": 1, "gflops": 1e9, "tflops": 1e12, "pflops": 1e15,
    "gops": 1e9, "tops": 1e12, "pops": 1e15,
}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z/]*)\s*$")


def parse_quantity(value: Any, what: str, kind: str) -> float:
    """A positive number, or a string such as "24 GiB", "936 GB/s", "82.6 TFLOPS", "1e12".

    ``kind`` is "bytes", "bandwidth" or "flops". Raises DeviceError naming ``what``.
    """
    if isinstance(value, bool):
        raise DeviceError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        number, scale = float(value), 1.0
    elif isinstance(value, str) and (m := _QUANTITY.match(value)):
        unit = m.group(2).lower()
        if kind == "bandwidth":
            if unit and not unit.endswith("/s"):
                raise DeviceError(f"{what}: bandwidth unit must be per second (e.g. '936 GB/s'), got {value!r}")
            unit = unit[:-2]
        units = _FLOP_UNITS if kind == "flops" else _BYTE_UNITS
        if unit not in units:
            raise DeviceError(f"{what}: unknown unit in {value!r} (known: {', '.join(u for u in units if u)})")
        number, scale = float(m.group(1)), float(units[unit])
    else:
        raise DeviceError(f"{what}: expected a number or a quantity like '24 GiB', got {value!r}")
    if not number > 0 or number == float("inf"):
        raise DeviceError(f"{what}: must be a positive number, got {value!r}")
    return number * scale


# ----------------------------------------------------------------------------- building profiles


def _text(data: Mapping[str, Any], key: str, where: str, default: Optional[str] = None) -> str:
    value = data.get(key, default)
    if value is None:
        raise DeviceError(f"{where}: field '{key}' is required")
    if not isinstance(value, str) or (key in ("id", "name") and not value.strip()):
        raise DeviceError(f"{where}: field '{key}' must be a non-empty string, got {value!r}")
    return value.strip()


def _build(data: Mapping[str, Any], where: str, strict: bool) -> DeviceProfile:
    """Validate one mapping into a profile. ``strict``: every field of the database format."""
    if not isinstance(data, Mapping):
        raise DeviceError(f"{where}: a device profile must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise DeviceError(f"{where}: unknown field '{unknown[0]}' (known fields: {', '.join(_FIELDS)})")
    if strict:
        for key in _FIELDS:
            if key not in data and key != "notes":
                raise DeviceError(f"{where}: field '{key}' is required")

    ident = _text(data, "id", where)
    if strict and ident != slugify(ident):
        raise DeviceError(f"{where}: field 'id' must be a lowercase slug like 'h100-sxm', got {ident!r}")
    kind = _text(data, "kind", where)
    if kind not in KINDS:
        raise DeviceError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")

    aliases = data.get("aliases") or []
    if not isinstance(aliases, (list, tuple)) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise DeviceError(f"{where}: field 'aliases' must be a list of names")

    for key in ("memory_bytes", "memory_bandwidth_bytes_per_s", "peak_flops"):
        if data.get(key) is None:
            raise DeviceError(f"{where}: field '{key}' is required")
    memory = parse_quantity(data["memory_bytes"], f"{where}: field 'memory_bytes'", "bytes")
    bandwidth = parse_quantity(
        data["memory_bandwidth_bytes_per_s"], f"{where}: field 'memory_bandwidth_bytes_per_s'", "bandwidth"
    )

    peaks_in = data.get("peak_flops")
    if not isinstance(peaks_in, Mapping) or not peaks_in:
        raise DeviceError(
            f"{where}: field 'peak_flops' must map precisions ({', '.join(PRECISIONS)}) to dense FLOP/s"
        )
    peaks: dict[str, float] = {}
    for precision, value in peaks_in.items():
        if precision not in PRECISIONS:
            raise DeviceError(
                f"{where}: field 'peak_flops.{precision}': unknown precision (known: {', '.join(PRECISIONS)})"
            )
        peaks[precision] = parse_quantity(value, f"{where}: field 'peak_flops.{precision}'", "flops")

    return DeviceProfile(
        id=ident,
        name=_text(data, "name", where, default=ident),
        vendor=_text(data, "vendor", where, default="custom"),
        kind=kind,
        memory_bytes=int(memory),
        memory_bandwidth_bytes_per_s=bandwidth,
        peak_flops={p: peaks[p] for p in PRECISIONS if p in peaks},
        aliases=tuple(a.strip() for a in aliases),
        architecture=str(data.get("architecture") or ""),
        source=_text(data, "source", where, default="custom profile"),
        notes=str(data.get("notes") or ""),
    )


def profile_from_mapping(data: Mapping[str, Any], where: str = "devices") -> DeviceProfile:
    """A custom profile as written in mkdocs.yml.

    Fields as in devices.yaml; sizes may carry units ("24 GiB", "936 GB/s", "82.6 TFLOPS").
    ``base: <id>`` starts from a database profile and overrides the fields given
    (``peak_flops`` entries are merged). Without ``base``: ``id`` or ``name``,
    ``memory_bytes``, ``memory_bandwidth_bytes_per_s`` and ``peak_flops`` are required.
    """
    if not isinstance(data, Mapping):
        raise DeviceError(f"{where}: a device profile must be a mapping, got {type(data).__name__}")
    data = dict(data)
    merged: dict[str, Any] = {"kind": "custom", "source": "custom profile (mkdocs.yml)"}
    if "base" in data:
        base_id = data.pop("base")
        if not isinstance(base_id, str):
            raise DeviceError(f"{where}: field 'base' must be a device id, got {base_id!r}")
        base = get_profile(base_id)
        merged = base.to_dict()
        merged["aliases"] = []
        merged["id"] = f"{base.id}-custom"
        merged["name"] = f"{base.name} (custom)"
        merged["source"] = f"{base.source}; overridden in mkdocs.yml"
        merged["peak_flops"] = {**base.peak_flops, **(data.pop("peak_flops", None) or {})}
    if "id" not in data and "name" in data and isinstance(data["name"], str):
        data["id"] = slugify(data["name"])
    merged.update(data)
    if "id" not in merged:
        raise DeviceError(f"{where}: field 'id' (or 'name') is required")
    return _build(merged, f"{where} '{merged['id']}'", strict=False)


# ----------------------------------------------------------------------------- the database


@functools.lru_cache(maxsize=None)
def _database() -> tuple[tuple[DeviceProfile, ...], dict[str, DeviceProfile]]:
    try:
        entries = yaml.safe_load(DATABASE_PATH.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DeviceError(f"cannot read the device database {DATABASE_PATH}: {exc}") from exc
    if not isinstance(entries, list):
        raise DeviceError(f"{DATABASE_PATH}: expected a list of device profiles")
    profiles: list[DeviceProfile] = []
    index: dict[str, DeviceProfile] = {}
    for number, entry in enumerate(entries, 1):
        where = f"{DATABASE_PATH.name} entry {number}"
        if isinstance(entry, Mapping) and "id" in entry:
            where += f" ({entry['id']})"
        profile = _build(entry, where, strict=True)
        for key in {normalize_name(k) for k in (profile.id, profile.name, *profile.aliases)}:
            other = index.setdefault(key, profile)
            if other is not profile:
                raise DeviceError(f"{where}: name key {key!r} is already used by '{other.id}'")
        profiles.append(profile)
    return tuple(profiles), index


def load_database() -> dict[str, DeviceProfile]:
    """All bundled profiles by id, in file order (a fresh dict; the profiles are shared)."""
    return {p.id: p for p in _database()[0]}


def find_profile(id_or_name: str) -> Optional[DeviceProfile]:
    """The database profile whose id, name or alias matches (normalised), else None."""
    return _database()[1].get(normalize_name(id_or_name))


def get_profile(id_or_name: str) -> DeviceProfile:
    """Like find_profile, but an unknown device raises DeviceError with suggestions."""
    if not isinstance(id_or_name, str) or not id_or_name.strip():
        raise DeviceError(f"device: expected a device id or name, got {id_or_name!r}")
    profile = find_profile(id_or_name)
    if profile is None:
        ids = list(load_database())
        close = difflib.get_close_matches(slugify(id_or_name), ids, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise DeviceError(
            f"unknown device {id_or_name!r}.{hint} Run `mkdocs-onnx devices` for the list, "
            "or describe it as a mapping (id, memory_bytes, memory_bandwidth_bytes_per_s, peak_flops)."
        )
    return profile


Resolved = tuple[DeviceProfile, str, list[str]]


def resolve_devices(setting: Union[None, str, Mapping[str, Any], list[Any]],
                    fallback: Optional[str] = "cpu-server") -> list[Resolved]:
    """Turn the ``devices`` setting into (profile, how it was obtained, warnings) triples.

    ``setting``: "auto" (NVML detection; without a GPU the ``fallback`` profile, or no
    device when it is None), a device id or name, a mapping (custom profile), or a list
    of these. None or an empty list gives no devices.
    A device listed twice is kept once, with a warning.
    """
    if setting is None:
        return []
    items = setting if isinstance(setting, (list, tuple)) else [setting]
    resolved: list[Resolved] = []
    for position, item in enumerate(items, 1):
        where = f"devices[{position}]" if isinstance(setting, (list, tuple)) else "devices"
        if isinstance(item, str) and item.strip().lower() == "auto":
            from mkdocs_onnx.hardware.detect import detect_gpu  # detect imports this module

            found = detect_gpu(fallback=fallback)
            if found.profile is None:
                continue
            entry: Resolved = (found.profile, found.how, list(found.warnings))
        elif isinstance(item, str):
            profile = get_profile(item)
            entry = (profile, f"database entry '{profile.id}'", [])
        elif isinstance(item, Mapping):
            entry = (profile_from_mapping(item, where), "custom profile from mkdocs.yml", [])
        else:
            raise DeviceError(f"{where}: expected 'auto', a device id or a mapping, got {item!r}")
        earlier = next((r for r in resolved if r[0].id == entry[0].id), None)
        if earlier is not None:
            earlier[2].append(f"device '{entry[0].id}' is listed more than once; kept once")
            continue
        resolved.append(entry)
    return resolved


# ----------------------------------------------------------------------------- listing


def device_table(profiles: Optional[Mapping[str, DeviceProfile]] = None) -> str:
    """A plain-text table of the profiles (the database by default)."""
    profiles = load_database() if profiles is None else profiles

    def tflops(p: DeviceProfile, precision: str) -> str:
        value = p.peak_flops.get(precision)
        return "-" if value is None else f"{value / 1e12:.1f}"

    header = ("id", "name", "kind", "memory GiB", "bandwidth GB/s", "fp32 TFLOPS", "fp16 TFLOPS")
    rows = [header] + [
        (
            p.id, p.name, p.kind, f"{p.memory_bytes / 2**30:.0f}",
            "-" if p.memory_bandwidth_bytes_per_s is None else f"{p.memory_bandwidth_bytes_per_s / 1e9:.0f}",
            tflops(p, "fp32"), tflops(p, "fp16"),
        )
        for p in profiles.values()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = {3, 4, 5, 6}
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
