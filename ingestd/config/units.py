"""Durations and sizes as the configuration spells them: "60s", "5m", "7d", "500ms"; "512KB",
"50MB", "1GB" (binary units) — read into seconds and bytes, and written back in the shortest
exact spelling (docs/operations.md#configuration)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from ingestd.config.error import BadValue, ConfigError, show

_NUMBER_UNIT = re.compile(r"((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)")
# lower case only: "1M" would read as a minute to us and as a month to someone else
_DURATION_UNITS = {
    "ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600),
    "d": Decimal(86400),
}  # fmt: skip
# binary units: 1 KB = 1024 bytes, 1 MB = 1024*1024 bytes (what operators mean by "50MB")
_SIZE_UNITS = {
    "": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
    "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4, "tb": 1024**4,
    "tib": 1024**4,
}  # fmt: skip


def _number_and_unit(value: object, expected: str) -> tuple[Decimal, str]:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadValue(f"expected {expected}, got {show(value)}")
    if isinstance(value, str):
        m = _NUMBER_UNIT.fullmatch(value.strip())
        if not m:
            raise BadValue(f"expected {expected}, got {show(value)}")
        number, unit = Decimal(m[1]), m[2]
    else:
        if isinstance(value, float) and not math.isfinite(value):
            raise BadValue(f"expected {expected}, got {show(value)}")
        number, unit = Decimal(repr(value) if isinstance(value, float) else value), ""
    if number < 0:
        raise BadValue(f"expected {expected}, got {show(value)}")
    if number.adjusted() > 15:  # also keeps Decimal arithmetic away from overflow
        raise BadValue(f"{show(value)} is too large")
    return number, unit


def duration_seconds(value: object) -> float:
    expected = "a duration like 60s, 5m, 2h, 7d, 500ms (a plain number is seconds)"
    number, unit = _number_and_unit(value, expected)
    if unit and unit not in _DURATION_UNITS:
        raise BadValue(f"{show(value)}: unknown unit {unit!r}; allowed: ms, s, m, h, d")
    return float(number * _DURATION_UNITS[unit or "s"])


def size_bytes(value: object) -> int:
    expected = "a size like 512KB, 50MB, 1GB (a plain integer is bytes)"
    if isinstance(value, float):
        raise BadValue(f"expected {expected}, got {show(value)}")
    number, unit = _number_and_unit(value, expected)
    if unit.lower() not in _SIZE_UNITS:
        raise BadValue(f"{show(value)}: unknown unit {unit!r}; allowed: B, KB, MB, GB, TB")
    scaled = number * _SIZE_UNITS[unit.lower()]
    if unit.lower() in ("", "b") and scaled != scaled.to_integral_value():
        raise BadValue(f"expected {expected}, got {show(value)}")
    return int(scaled.to_integral_value())  # 0.1MB is not whole bytes: rounded


def parse_duration(text: str | int | float, *, key: str) -> float:
    """Seconds from "60s", "5m", "2h", "7d", "500ms", or a plain number of seconds."""
    try:
        return duration_seconds(text)
    except BadValue as e:
        raise ConfigError(e.message, key=key) from None


def parse_size(text: str | int, *, key: str) -> int:
    """Bytes from "512KB", "50MB", "1.5MB", "1GB" (1 KB = 1024 bytes, 1 MB = 1024*1024 bytes),
    or a plain integer of bytes."""
    try:
        return size_bytes(text)
    except BadValue as e:
        raise ConfigError(e.message, key=key) from None


def format_size(size: int) -> str:
    """The shortest exact spelling parse_size reads back: 52428800 -> "50MB"."""
    for unit, factor in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def format_duration(seconds: float) -> str:
    """The shortest exact spelling parse_duration reads back: 604800 -> "7d"."""
    exact = Decimal(repr(float(seconds)))  # repr is the shortest text that reads back the float
    millis = exact * 1000
    if millis != millis.to_integral_value():
        return f"{exact}s"
    millis = int(millis)
    for unit in ("d", "h", "m", "s", "ms"):
        factor = int(_DURATION_UNITS[unit] * 1000)
        if millis % factor == 0 and (millis or unit == "s"):
            return f"{millis // factor}{unit}"
    raise AssertionError("unreachable: every whole number of milliseconds ends at ms")
