"""Hardware estimates: device profiles, NVML detection and a per-node roofline."""

from mkdocs_onnx.hardware.detect import Detection, GpuInfo, detect_gpu
from mkdocs_onnx.hardware.estimate import add_estimates, estimate
from mkdocs_onnx.units import format_duration
from mkdocs_onnx.hardware.profiles import (
    DeviceProfile,
    device_table,
    get_profile,
    load_database,
    profile_from_mapping,
    resolve_devices,
)

__all__ = [
    "Detection", "DeviceProfile", "add_estimates", "GpuInfo", "detect_gpu", "device_table", "estimate",
    "format_duration", "get_profile", "load_database", "profile_from_mapping", "resolve_devices",
]
