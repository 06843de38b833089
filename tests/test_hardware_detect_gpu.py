"""NVML detection on a real NVIDIA GPU, checked against nvidia-smi.

The other detection tests use a stand-in ``pynvml``; these read the driver itself, so
they run only on a machine with an NVIDIA GPU and skip elsewhere, saying why.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mkdocs_onnx.hardware import detect_gpu, resolve_devices
from mkdocs_onnx.hardware.detect import derive_profile
from mkdocs_onnx.hardware.profiles import find_profile

MiB = 2**20
# A datasheet's bandwidth and FP32 peak against the same figures computed from the
# clocks, bus width and core count the driver reports: boost clocks and rounding in
# datasheets stay well inside this.
DATASHEET_TOLERANCE = 0.05


def nvidia_smi() -> list[dict[str, str]]:
    """What nvidia-smi reports for each GPU, read independently of NVML's Python binding."""
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no nvidia-smi on this machine: no NVIDIA driver, nothing to detect")
    fields = ["index", "name", "memory.total", "clocks.max.sm", "clocks.max.memory"]
    done = subprocess.run(
        ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        pytest.skip(f"nvidia-smi lists no GPU (exit {done.returncode}: {done.stderr.strip()[:200]})")
    return [dict(zip(fields, (cell.strip() for cell in line.split(","))))
            for line in done.stdout.strip().splitlines()]


@pytest.fixture(scope="module")
def gpus():
    return nvidia_smi()


@pytest.fixture(scope="module")
def found(gpus):
    detection = detect_gpu(fallback=None)
    if not detection.detected:
        pytest.fail(f"nvidia-smi lists {len(gpus)} GPU(s) but detection did not find them: {detection.how}")
    return detection


def test_detection_lists_every_gpu_nvidia_smi_lists(gpus, found):
    assert [gpu.name for gpu in found.gpus] == [row["name"] for row in gpus]
    for gpu, row in zip(found.gpus, gpus):
        # nvidia-smi prints whole MiB; NVML gives bytes
        assert abs(gpu.memory_total_bytes - int(row["memory.total"]) * MiB) < MiB
        assert gpu.sm_clock_mhz == int(row["clocks.max.sm"])
        assert gpu.mem_clock_mhz == int(row["clocks.max.memory"])


def test_the_profile_describes_gpu_0(gpus, found):
    row = gpus[0]
    assert f"'{row['name']}'" in found.how
    assert abs(found.profile.memory_bytes - int(row["memory.total"]) * MiB) < MiB


def test_the_database_entry_agrees_with_the_driver(found):
    """Bandwidth and FP32 peak from the datasheet, against the driver's clocks and widths."""
    gpu = found.gpus[0]
    entry = find_profile(gpu.name)
    if entry is None:
        pytest.skip(f"'{gpu.name}' is not in the device database: its profile is derived from NVML")
    assert found.profile.id == entry.id
    derived = derive_profile(gpu)
    checked = 0
    if derived.memory_bandwidth_bytes_per_s is not None:
        ratio = derived.memory_bandwidth_bytes_per_s / entry.memory_bandwidth_bytes_per_s
        assert abs(ratio - 1) <= DATASHEET_TOLERANCE, (derived.source, entry.source)
        checked += 1
    if "fp32" in derived.peak_flops and "fp32" in entry.peak_flops:
        ratio = derived.peak_flops["fp32"] / entry.peak_flops["fp32"]
        assert abs(ratio - 1) <= DATASHEET_TOLERANCE, (derived.source, entry.source)
        checked += 1
    if not checked:
        pytest.skip(f"the driver reports neither clocks and bus width nor core count for '{gpu.name}'")


def test_auto_resolves_to_the_detected_gpu(gpus):
    [(profile, how, _warnings)] = resolve_devices("auto", fallback=None)
    assert how.startswith("detected via NVML") and f"'{gpus[0]['name']}'" in how
    assert profile.name == (find_profile(gpus[0]["name"]) or profile).name


def test_a_site_built_with_device_auto_shows_the_gpu(tmp_path, gpus):
    from conftest import build_project, light_model, make_project

    root = make_project(tmp_path, {"SqueezeNet": light_model("squeezenet")}, plugin={"device": "auto"})
    card = (build_project(root) / "models" / "squeezenet" / "index.html").read_text()
    assert "detected via NVML" in card
    assert gpus[0]["name"] in card
