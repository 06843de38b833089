"""NVML detection through a stand-in ``pynvml`` module placed in sys.modules."""

from __future__ import annotations

import sys
import types

import pytest

from mkdocs_onnx.hardware import detect_gpu, get_profile, resolve_devices

GiB = 2**30


def fake_pynvml(gpus, init_error=False, with_cores=True, name_as_bytes=False):
    """A pynvml stand-in: each gpu is a dict(name, memory, sm, mem, bus, cores)."""
    mod = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    mod.NVMLError = NVMLError
    mod.NVML_CLOCK_SM, mod.NVML_CLOCK_MEM = 1, 2
    mod.calls = []

    def nvmlInit():
        mod.calls.append("init")
        if init_error:
            raise NVMLError("Driver Not Loaded")

    def nvmlDeviceGetName(handle):
        name = gpus[handle]["name"]
        return name.encode() if name_as_bytes else name

    def nvmlDeviceGetMaxClockInfo(handle, clock):
        return {1: gpus[handle]["sm"], 2: gpus[handle]["mem"]}[clock]

    mod.nvmlInit = nvmlInit
    mod.nvmlShutdown = lambda: mod.calls.append("shutdown")
    mod.nvmlDeviceGetCount = lambda: len(gpus)
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetName = nvmlDeviceGetName
    mod.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=gpus[h]["memory"], free=0, used=0)
    mod.nvmlDeviceGetMaxClockInfo = nvmlDeviceGetMaxClockInfo
    mod.nvmlDeviceGetMemoryBusWidth = lambda h: gpus[h]["bus"]
    if with_cores:
        mod.nvmlDeviceGetNumGpuCores = lambda h: gpus[h]["cores"]
    return mod


def gpu(name, memory, sm=2000, mem=5000, bus=256, cores=8192):
    return {"name": name, "memory": memory, "sm": sm, "mem": mem, "bus": bus, "cores": cores}


@pytest.fixture
def install(monkeypatch):
    def put(module):
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module

    return put


def test_h100_maps_to_its_profile(install):
    nvml = install(fake_pynvml([gpu("NVIDIA H100 80GB HBM3", 81559 * 2**20, sm=1980, mem=2619, bus=5120)]))
    found = detect_gpu()
    assert found.detected and found.profile.id == "h100-sxm"
    assert found.profile.peak_flops == get_profile("h100-sxm").peak_flops
    assert found.profile.memory_bytes == 81559 * 2**20  # NVML's own figure
    assert found.warnings == []
    assert "matched to database entry 'h100-sxm'" in found.how
    assert nvml.calls == ["init", "shutdown"]
    assert found.gpus[0].bus_width_bits == 5120 and found.gpus[0].mem_clock_mhz == 2619


def test_laptop_gpu_maps_to_laptop_profile_not_desktop(install):
    install(fake_pynvml([gpu("NVIDIA GeForce RTX 4050 Laptop GPU", 6 * GiB)], name_as_bytes=True))
    found = detect_gpu()
    assert found.profile.id == "rtx-4050-laptop"
    assert found.profile.kind == "laptop"


def test_unknown_gpu_gets_derived_profile_and_warning(install):
    install(fake_pynvml([gpu("NVIDIA GeForce RTX 4070 Ti SUPER", 16 * GiB, sm=2610, mem=10501, bus=256, cores=8448)]))
    found = detect_gpu()
    p = found.profile
    assert p.id == "detected-nvidia-geforce-rtx-4070-ti-super"
    assert p.memory_bytes == 16 * GiB
    assert p.memory_bandwidth_bytes_per_s == pytest.approx(10501e6 * 2 * 256 / 8)  # 672 GB/s
    assert p.peak_flops == {"fp32": pytest.approx(8448 * 2 * 2610e6)}  # nothing invented for fp16/int8
    assert len(found.warnings) == 1 and "not in the device database" in found.warnings[0]
    assert "derived from NVML" in found.how


def test_unknown_gpu_without_core_count_has_unknown_throughput(install):
    install(fake_pynvml([gpu("NVIDIA Mystery 9000", 12 * GiB)], with_cores=False))
    found = detect_gpu()
    assert found.profile.peak_flops == {}  # no 10 TFLOPS made up
    assert "all throughput" in found.warnings[0]


def test_memory_variant_uses_reported_size_with_warning(install):
    install(fake_pynvml([gpu("NVIDIA GeForce RTX 4060 Ti", 16 * GiB)]))
    found = detect_gpu()
    assert found.profile.id == "rtx-4060-ti"
    assert found.profile.memory_bytes == 16 * GiB
    assert "memory variant" in found.warnings[0]


def test_several_different_gpus_use_gpu0_and_warn(install):
    install(fake_pynvml([gpu("NVIDIA L4", 23034 * 2**20), gpu("Tesla T4", 15360 * 2**20)]))
    found = detect_gpu()
    assert found.profile.id == "l4"
    assert [g.name for g in found.gpus] == ["NVIDIA L4", "Tesla T4"]
    assert "GPU 0 only" in found.warnings[0]


def test_nvml_init_error_falls_back_with_warning(install):
    install(fake_pynvml([], init_error=True))
    found = detect_gpu(fallback="cpu-laptop")
    assert not found.detected
    assert found.profile.id == "cpu-laptop"
    assert "NVML could not start" in found.warnings[0] and "Driver Not Loaded" in found.warnings[0]
    assert "fallback profile 'cpu-laptop'" in found.warnings[0]


def test_no_gpu_falls_back(install):
    install(fake_pynvml([]))
    found = detect_gpu()
    assert found.profile.id == "cpu-server"
    assert "no NVIDIA GPU" in found.warnings[0]


def test_missing_pynvml_falls_back_with_warning(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    found = detect_gpu()
    assert found.profile.id == "cpu-server"
    assert "cannot import pynvml" in found.warnings[0]


def test_no_fallback_gives_no_profile(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    found = detect_gpu(fallback=None)
    assert found.profile is None and found.warnings


def test_resolve_auto_uses_detection(install):
    install(fake_pynvml([gpu("NVIDIA A100-SXM4-80GB", 80 * GiB)]))
    [(profile, how, warnings)] = resolve_devices("auto")
    assert profile.id == "a100-sxm-80gb" and "NVML" in how and warnings == []
    both = resolve_devices(["auto", "t4"])
    assert [p.id for p, _, _ in both] == ["a100-sxm-80gb", "t4"]


def test_the_plugin_fallback_setting_reaches_detection(tmp_path, monkeypatch):
    from conftest import build_project, light_model, make_project

    monkeypatch.setitem(sys.modules, "pynvml", None)  # no NVML on this machine
    root = make_project(tmp_path, {"SqueezeNet": light_model("squeezenet")},
                        plugin={"device": "auto", "device_fallback": "jetson-orin-nano-8gb"})
    card = (build_project(root) / "models" / "squeezenet" / "index.html").read_text()
    assert "Jetson Orin Nano" in card and "cannot import pynvml" in card
