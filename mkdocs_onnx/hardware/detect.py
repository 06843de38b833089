"""Find the local NVIDIA GPU through NVML (the ``pynvml`` module of nvidia-ml-py).

A GPU whose name is in the database gets that profile (with NVML's memory size). An
unknown GPU gets a profile derived only from what NVML reports; throughput it cannot
derive stays unknown. Without NVML or a GPU, the fallback profile is used, with a warning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from mkdocs_onnx.hardware.profiles import DeviceProfile, find_profile, get_profile, slugify

GiB = 2**30
_MEMORY_TOLERANCE = 0.10  # a reported size further than this from the database's: a variant


@dataclass
class GpuInfo:
    index: int
    name: str
    memory_total_bytes: Optional[int] = None
    sm_clock_mhz: Optional[int] = None  # maximum SM clock
    mem_clock_mhz: Optional[int] = None  # maximum memory clock (NVML's convention: half the data rate)
    cores: Optional[int] = None  # CUDA cores, where the driver reports them
    bus_width_bits: Optional[int] = None


@dataclass
class Detection:
    profile: Optional[DeviceProfile]  # None only when nothing was found and fallback=None
    how: str  # one sentence for the report: where the profile came from
    warnings: list[str] = field(default_factory=list)
    gpus: list[GpuInfo] = field(default_factory=list)
    detected: bool = False  # True when the profile describes a GPU NVML found


def detect_gpu(fallback: Optional[str] = "cpu-server", nvml: Optional[Any] = None) -> Detection:
    """Profile of GPU 0 as NVML reports it; all GPUs are listed in ``Detection.gpus``.

    ``nvml``: a pynvml-like module, for tests; by default ``import pynvml`` at call time.
    """
    if nvml is None:
        try:
            import pynvml as nvml  # type: ignore[import-not-found,no-redef]
        except ImportError as exc:
            return _fallback(fallback, f"NVML is not available (cannot import pynvml: {exc})")

    nvml_error: Any = getattr(nvml, "NVMLError", None) or Exception
    try:
        nvml.nvmlInit()
    except (nvml_error, OSError) as exc:
        return _fallback(fallback, f"NVML could not start ({_describe(exc)}): no NVIDIA driver or GPU here?")
    try:
        count = int(nvml.nvmlDeviceGetCount())
        gpus = [_query(nvml, i) for i in range(count)]
    except (nvml_error, OSError) as exc:
        return _fallback(fallback, f"NVML failed while listing GPUs ({_describe(exc)})")
    finally:
        _optional(nvml, "nvmlShutdown")
    if not gpus:
        return _fallback(fallback, "NVML reports no NVIDIA GPU")

    gpu = gpus[0]
    warnings: list[str] = []
    if len({g.name for g in gpus}) > 1:
        names = ", ".join(f"{g.index}: {g.name}" for g in gpus)
        warnings.append(f"found {len(gpus)} different GPUs ({names}); estimates use GPU 0 only")
    count_text = f"GPU 0 of {len(gpus)}" if len(gpus) > 1 else "GPU 0"

    known = find_profile(gpu.name)
    if known is not None:
        profile = _with_reported_memory(known, gpu, warnings)
        how = f"detected via NVML: {count_text} is '{gpu.name}', matched to database entry '{known.id}'"
    else:
        profile = derive_profile(gpu)
        warnings.append(_derived_warning(gpu, profile))
        how = f"detected via NVML: {count_text} is '{gpu.name}', not in the database; profile derived from NVML"
    return Detection(profile=profile, how=how, warnings=warnings, gpus=gpus, detected=True)


def derive_profile(gpu: GpuInfo) -> DeviceProfile:
    """A profile from NVML facts only: nothing is assumed for what NVML did not report."""
    bandwidth = None
    if gpu.mem_clock_mhz and gpu.bus_width_bits:
        # NVML's memory clock is half the data rate (DDR): bytes/s = clock x 2 x bus bits / 8
        bandwidth = gpu.mem_clock_mhz * 1e6 * 2 * gpu.bus_width_bits / 8
    peaks = {}
    if gpu.cores and gpu.sm_clock_mhz:
        peaks["fp32"] = gpu.cores * 2 * gpu.sm_clock_mhz * 1e6  # one FMA (2 FLOPs) per core per clock
    facts = [
        f"memory {gpu.memory_total_bytes} B" if gpu.memory_total_bytes else "memory unknown",
        f"bandwidth = {gpu.mem_clock_mhz} MHz x 2 x {gpu.bus_width_bits} bit / 8" if bandwidth else "bandwidth unknown",
        f"fp32 = {gpu.cores} cores x 2 x {gpu.sm_clock_mhz} MHz" if peaks else "throughput unknown",
    ]
    return DeviceProfile(
        id="detected-" + slugify(gpu.name),
        name=gpu.name,
        vendor="NVIDIA",
        kind="laptop" if "laptop" in gpu.name.lower() else "custom",
        memory_bytes=int(gpu.memory_total_bytes or 0),
        memory_bandwidth_bytes_per_s=bandwidth,
        peak_flops=peaks,
        source="derived from NVML: " + "; ".join(facts),
        notes="tensor-core (fp16/bf16/int8) throughput is not reported by NVML and is left unknown",
    )


# ----------------------------------------------------------------------------- helpers


def _fallback(fallback: Optional[str], reason: str) -> Detection:
    if fallback is None:
        return Detection(profile=None, how=f"no device: {reason}", warnings=[f"{reason}; no fallback device set"])
    profile = get_profile(fallback)
    return Detection(
        profile=profile,
        how=f"fallback profile '{profile.id}' ({reason})",
        warnings=[
            f"{reason}; using the fallback profile '{profile.id}' ({profile.name}) - "
            "the estimates describe that profile, not this machine"
        ],
    )


def _query(nvml: Any, index: int) -> GpuInfo:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = nvml.nvmlDeviceGetName(handle)
    if isinstance(name, bytes):  # older pynvml returns bytes
        name = name.decode("utf-8", "replace")
    memory = _optional(nvml, "nvmlDeviceGetMemoryInfo", handle)
    sm, mem = getattr(nvml, "NVML_CLOCK_SM", 1), getattr(nvml, "NVML_CLOCK_MEM", 2)
    return GpuInfo(
        index=index,
        name=str(name).strip(),
        memory_total_bytes=_positive(getattr(memory, "total", None)),
        sm_clock_mhz=_positive(_optional(nvml, "nvmlDeviceGetMaxClockInfo", handle, sm)),
        mem_clock_mhz=_positive(_optional(nvml, "nvmlDeviceGetMaxClockInfo", handle, mem)),
        cores=_positive(_optional(nvml, "nvmlDeviceGetNumGpuCores", handle)),
        bus_width_bits=_positive(_optional(nvml, "nvmlDeviceGetMemoryBusWidth", handle)),
    )


def _optional(nvml: Any, function: str, *args: Any) -> Any:
    """Call an NVML function that may be missing (old bindings) or unsupported (NVMLError)."""
    call: Optional[Callable[..., Any]] = getattr(nvml, function, None)
    if call is None:
        return None
    try:
        return call(*args)
    except Exception:  # NVMLError_NotSupported and friends: the fact stays unknown
        return None


def _positive(value: Any) -> Optional[int]:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _with_reported_memory(profile: DeviceProfile, gpu: GpuInfo, warnings: list[str]) -> DeviceProfile:
    """Use the memory size NVML reports; say so when it is far from the database's."""
    reported = gpu.memory_total_bytes
    if not reported or reported == profile.memory_bytes:
        return profile
    if abs(reported - profile.memory_bytes) > _MEMORY_TOLERANCE * profile.memory_bytes:
        warnings.append(
            f"NVML reports {reported / GiB:.1f} GiB on '{gpu.name}' but database entry '{profile.id}' "
            f"lists {profile.memory_bytes / GiB:.1f} GiB (a memory variant?); using the reported size"
        )
    return dataclasses.replace(
        profile,
        memory_bytes=reported,
        notes=(profile.notes + "; " if profile.notes else "") + "memory size as reported by NVML",
    )


def _derived_warning(gpu: GpuInfo, profile: DeviceProfile) -> str:
    unknown = []
    if profile.memory_bandwidth_bytes_per_s is None:
        unknown.append("memory bandwidth")
    if not profile.peak_flops:
        unknown.append("all throughput")
    missing = f" Unknown: {', '.join(unknown)}." if unknown else ""
    return (
        f"GPU '{gpu.name}' is not in the device database; using a profile derived from NVML "
        f"({profile.source}). Tensor-core (fp16/bf16/int8) peaks are unknown, so only fp32 can be "
        f"estimated.{missing} Name a database device or a custom profile in mkdocs.yml for better figures."
    )


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = ["Detection", "GpuInfo", "derive_profile", "detect_gpu"]
