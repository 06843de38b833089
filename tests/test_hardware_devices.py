"""The bundled device database, profile lookups, custom profiles and duration formatting."""

from __future__ import annotations

import re

import pytest

from mkdocs_onnx.errors import DeviceError
from mkdocs_onnx.hardware import device_table, get_profile, load_database, profile_from_mapping, resolve_devices
from mkdocs_onnx.units import format_duration
from mkdocs_onnx.hardware.profiles import KINDS, PRECISIONS, normalize_name, slugify

GiB = 2**30
DB = load_database()
NVIDIA_TENSOR_ARCHS = {"Turing", "Ampere", "Ada Lovelace", "Hopper", "Blackwell"}


def nvidia(arches=NVIDIA_TENSOR_ARCHS):
    return [p for p in DB.values() if p.vendor == "NVIDIA" and p.architecture in arches]


def geforce(p):
    return "GeForce" in p.name


def test_database_size_and_required_devices():
    assert len(DB) >= 40
    required = """b200 h200 h100-sxm h100-pcie h100-nvl a100-sxm-40gb a100-sxm-80gb a100-pcie-40gb a100-pcie-80gb
    l40s l40 l4 a10 a30 t4 v100-sxm2-16gb v100-sxm2-32gb rtx-6000-ada rtx-a6000 rtx-5090 rtx-5080 rtx-5070-ti
    rtx-5070 rtx-4090 rtx-4080 rtx-4070-ti rtx-4070 rtx-4060-ti rtx-4060 rtx-3090 rtx-3080 rtx-3070 rtx-3060
    rtx-4090-laptop rtx-4080-laptop rtx-4070-laptop rtx-4060-laptop rtx-4050-laptop rtx-3080-laptop
    rtx-3060-laptop jetson-agx-orin-64gb jetson-orin-nx-16gb jetson-orin-nano-8gb mi300x apple-m1 apple-m2
    apple-m3 apple-m4 apple-m1-max apple-m4-pro cpu-laptop cpu-server""".split()
    assert not [i for i in required if i not in DB]


def test_every_entry_is_valid():
    for ident, p in DB.items():
        assert ident == p.id == slugify(p.id)
        assert p.name and p.vendor and p.source and p.architecture
        assert p.kind in KINDS and p.kind != "custom"
        assert isinstance(p.memory_bytes, int) and p.memory_bytes >= GiB
        assert 1e10 <= p.memory_bandwidth_bytes_per_s <= 2e13, ident
        assert p.peak_flops and "fp32" in p.peak_flops, ident
        assert list(p.peak_flops) == [q for q in PRECISIONS if q in p.peak_flops]
        assert all(1e11 <= v <= 1e16 for v in p.peak_flops.values()), ident
        assert isinstance(p.aliases, tuple)


def test_load_database_is_deterministic_and_a_copy():
    again = load_database()
    assert list(again) == list(DB)
    again.pop("t4")
    assert "t4" in load_database()


def test_fp16_equals_bf16_on_ampere_and_later():
    for p in nvidia(NVIDIA_TENSOR_ARCHS - {"Turing"}):
        assert p.peak_flops["bf16"] == p.peak_flops["fp16"], p.id


def test_int8_is_twice_fp16_on_tensor_core_parts():
    for p in nvidia():
        ratio = p.peak_flops["int8"] / p.peak_flops["fp16"]
        # GeForce fp16 is the FP32-accumulate rate, which runs at half speed: int8 = 4x
        assert ratio == pytest.approx(4.0 if geforce(p) else 2.0, rel=0.03), p.id


def test_fp8_where_present():
    for p in DB.values():
        if "fp8" not in p.peak_flops:
            continue
        if geforce(p):  # FP8 with FP32 accumulate: 2x the fp16 (FP32-accumulate) rate
            assert p.peak_flops["fp8"] == pytest.approx(2 * p.peak_flops["fp16"], rel=0.01), p.id
        else:
            assert p.peak_flops["fp8"] == pytest.approx(p.peak_flops["int8"], rel=0.01), p.id


def test_tensor_rates_are_ordered():
    for p in DB.values():
        pf = p.peak_flops
        if "tf32" in pf:
            assert pf["tf32"] <= pf["fp16"], p.id
        if p.vendor == "NVIDIA" and p.architecture in NVIDIA_TENSOR_ARCHS | {"Volta"}:
            assert pf["fp16"] > pf["fp32"], p.id


def test_datasheet_spot_checks():
    h100 = DB["h100-sxm"].peak_flops
    assert h100["fp16"] == pytest.approx(989.4e12, rel=0.01)
    assert h100["fp8"] == pytest.approx(1978.9e12, rel=0.01)
    assert h100["int8"] == pytest.approx(1978.9e12, rel=0.01)
    assert h100["tf32"] == pytest.approx(494.5e12, rel=0.01)
    assert h100["fp32"] == pytest.approx(67e12, rel=0.01)
    assert DB["h100-sxm"].memory_bandwidth_bytes_per_s == pytest.approx(3.35e12)
    assert DB["h100-sxm"].memory_bytes == 80 * GiB
    assert DB["a100-sxm-80gb"].peak_flops["fp16"] == pytest.approx(312e12)
    assert DB["a100-sxm-40gb"].memory_bandwidth_bytes_per_s == pytest.approx(1555e9)
    assert DB["t4"].peak_flops["fp16"] == pytest.approx(65e12)
    assert "bf16" not in DB["t4"].peak_flops and "int8" not in DB["v100-sxm2-16gb"].peak_flops
    assert DB["rtx-4090"].memory_bytes == 24 * GiB
    assert DB["rtx-4090"].peak_flops["fp32"] == pytest.approx(82.6e12, rel=0.01)
    assert DB["rtx-4090"].peak_flops["fp16"] == pytest.approx(165.2e12, rel=0.01)
    assert DB["l4"].peak_flops["fp16"] == pytest.approx(121e12, rel=0.01)
    assert DB["mi300x"].peak_flops["fp16"] == pytest.approx(1307.4e12, rel=0.01)


def test_lookup_by_id_name_alias_and_normalised_spelling():
    assert get_profile("h100-sxm").id == "h100-sxm"
    assert get_profile("NVIDIA H100 80GB HBM3").id == "h100-sxm"
    assert get_profile("H100 SXM5").id == "h100-sxm"
    assert get_profile("  nvidia geforce rtx 4090 ").id == "rtx-4090"
    assert get_profile("RTX4090").id == "rtx-4090"
    assert get_profile("NVIDIA GeForce RTX 4090 Laptop GPU").id == "rtx-4090-laptop"
    assert get_profile("rtx 4070 ti").id == "rtx-4070-ti"
    assert get_profile("Tesla T4").id == get_profile("NVIDIA T4").id == "t4"
    assert normalize_name("NVIDIA GeForce RTX 4050 Laptop GPU") == normalize_name("rtx-4050-laptop")
    assert normalize_name("RTX 4090") != normalize_name("RTX 4090 Laptop")


def test_unknown_device_suggests():
    with pytest.raises(DeviceError, match="unknown device 'h100-sxm5x'.*h100-sxm"):
        get_profile("h100-sxm5x")


def test_custom_profile_with_units():
    p = profile_from_mapping({"name": "My Board", "memory_bytes": "24 GiB", "memory_bandwidth_bytes_per_s": "936 GB/s",
                              "peak_flops": {"fp32": "35.6 TFLOPS", "fp16": 71e12, "int8": "284 TOPS"}})
    assert p.id == "my-board" and p.kind == "custom"
    assert p.memory_bytes == 24 * GiB
    assert p.memory_bandwidth_bytes_per_s == pytest.approx(936e9)
    assert p.peak_flops == {"fp32": pytest.approx(35.6e12), "fp16": 71e12, "int8": pytest.approx(284e12)}
    assert profile_from_mapping({"id": "x", "memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": "1e11",
                                 "peak_flops": {"fp32": "1.0e+12"}}).peak_flops["fp32"] == 1e12


def test_custom_profile_from_a_base():
    p = profile_from_mapping({"base": "rtx-4060-ti", "memory_bytes": "16 GiB", "peak_flops": {"fp32": "22 TFLOPS"}})
    assert p.id == "rtx-4060-ti-custom" and p.memory_bytes == 16 * GiB
    assert p.peak_flops["fp32"] == 22e12 and p.peak_flops["int8"] == DB["rtx-4060-ti"].peak_flops["int8"]


@pytest.mark.parametrize(
    "mapping, field",
    [
        ({"id": "x", "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp32": 1e12}}, "memory_bytes"),
        ({"id": "x", "memory_bytes": 1e9, "peak_flops": {"fp32": 1e12}}, "memory_bandwidth_bytes_per_s"),
        ({"id": "x", "memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": 1e9}, "peak_flops"),
        ({"id": "x", "memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp64": 1}}, "peak_flops.fp64"),
        ({"id": "x", "memory_bytes": -5, "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp32": 1}}, "memory_bytes"),
        ({"id": "x", "memory_bytes": "12 parsecs", "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp32": 1}}, "memory_bytes"),
        ({"id": "x", "memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": "9 GB", "peak_flops": {"fp32": 1}}, "memory_bandwidth_bytes_per_s"),
        ({"id": "x", "memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp32": True}}, "peak_flops.fp32"),
        ({"id": "x", "memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp32": 1}, "kind": "toaster"}, "kind"),
        ({"id": "x", "memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp32": 1}, "memroy": 1}, "memroy"),
        ({"memory_bytes": 1e9, "memory_bandwidth_bytes_per_s": 1e9, "peak_flops": {"fp32": 1}}, "id"),
        ({"base": "not-a-gpu"}, "not-a-gpu"),
    ],
)
def test_custom_profile_errors_name_the_field(mapping, field):
    with pytest.raises(DeviceError, match=f"'{re.escape(field)}'"):
        profile_from_mapping(mapping)


def test_resolve_devices_forms():
    [(p, how, warnings)] = resolve_devices("h100-sxm")
    assert p.id == "h100-sxm" and "database" in how and warnings == []
    custom = {"id": "board", "memory_bytes": "8 GiB", "memory_bandwidth_bytes_per_s": "100 GB/s", "peak_flops": {"fp32": "1 TFLOPS"}}
    listed = resolve_devices(["t4", custom, "Tesla T4"])
    assert [p.id for p, _, _ in listed] == ["t4", "board"]
    assert "more than once" in listed[0][2][0]
    assert resolve_devices(custom)[0][1] == "custom profile from mkdocs.yml"
    assert resolve_devices(None) == [] and resolve_devices([]) == []
    with pytest.raises(DeviceError, match=r"devices\[2\]"):
        resolve_devices(["t4", 42])


def test_device_table_lists_everything():
    table = device_table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "kind"]
    assert len(lines) == len(DB) + 2
    assert any(line.startswith("h100-sxm ") and "989.4" in line for line in lines)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (4.52e-6, "4.52 µs"),
        (0.0003e-3, "300 ns"),
        (1.5, "1.50 s"),
        (0.0451, "45.1 ms"),
        (2e-3, "2.00 ms"),
        (999.96e-9, "1.00 µs"),
        (1e-12, "0.00100 ns"),
        (123.456, "123 s"),
        (None, "n/a"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_duration_never_rounds_to_zero():
    for exponent in range(-15, 3):
        text = format_duration(1.234 * 10**exponent)
        assert text.split()[0].strip("0.") != "", text
