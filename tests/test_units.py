"""Unit formatting (mkdocs_onnx.units)."""

from __future__ import annotations

import pytest

from mkdocs_onnx.units import (
    UNITS_NOTE,
    exact,
    format_bandwidth,
    format_bytes,
    format_count,
    format_duration,
    format_flop_rate,
    format_flops,
    format_intensity,
    format_percent,
    format_rate,
)


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0"),
        (5, "5"),
        (5994, "5,994"),
        (9999, "9,999"),
        (10_000, "10.0 K"),
        (25_557_032, "25.6 M"),
        (999_999, "1.00 M"),  # rounding up moves to the next prefix
        (1_200_000_000, "1.20 B"),
        (3.5e12, "3.50 T"),
    ],
)
def test_format_count(n, text):
    assert format_count(n) == text


@pytest.mark.parametrize(
    "n, text",
    [(0, "0 FLOPs"), (850, "850 FLOPs"), (1_594_080, "1.59 MFLOPs"), (3.2e9, "3.20 GFLOPs"), (2.5e12, "2.50 TFLOPs")],
)
def test_format_flops(n, text):
    assert format_flops(n) == text


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1,023 B"),
        (1024, "1.00 KiB"),
        (23_976, "23.4 KiB"),
        (1.5 * 2**30, "1.50 GiB"),
        (2**20 - 1, "1.00 MiB"),
    ],
)
def test_format_bytes_binary(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    "s, text",
    [
        (1.5e-6, "1.50 µs"),
        (300e-9, "300 ns"),
        (0.0123, "12.3 ms"),
        (2, "2.00 s"),
        (0.99999, "1.00 s"),
        (999.9996e-6, "1.00 ms"),
        (2.7e-10, "0.270 ns"),
        (5000, "5,000 s"),
        (0, "0 s"),
    ],
)
def test_format_duration(s, text):
    assert format_duration(s) == text


@pytest.mark.parametrize("s", [1e-12, 3e-15, 4.9e-10, 1e-9 / 3])
def test_duration_never_a_rounded_zero(s):
    text = format_duration(s)
    assert any(ch in "123456789" for ch in text), text


def test_none_is_not_available():
    for f in (format_count, format_flops, format_bytes, format_duration, format_rate, format_percent,
              format_intensity, format_bandwidth, format_flop_rate):
        assert f(None) == "n/a"
    assert str(exact(None)) == "n/a"
    assert format_count(float("nan")) == "n/a"


def test_other_units():
    assert format_flop_rate(1e13) == "10.0 TFLOP/s"
    assert format_bandwidth(192e9) == "179 GiB/s"
    assert format_percent(0.4937) == "49.4%"
    assert format_percent(1e-6) != "0%"
    assert format_rate(1234.5) == "1,230/s"
    assert format_intensity(12.345) == "12.3 FLOPs/byte"


def test_exact_keeps_the_value_at_hand():
    assert str(exact(5994, "5,994")) == '<span title="5994 exactly">5,994</span>'
    assert str(exact(5994)) == '<span title="5994 exactly">5,994</span>'
    assert str(exact(1.5e-6, format_duration(1.5e-6), "s")) == '<span title="1.5e-06 s exactly">1.50 µs</span>'
    assert 'title="1024 bytes exactly"' in str(exact(1024.0, "1.00 KiB", "bytes"))


def test_units_note_says_binary():
    assert "binary" in UNITS_NOTE and "KiB" in UNITS_NOTE and "1,024" in UNITS_NOTE
