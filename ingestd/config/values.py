"""The kinds of value an option can have (docs/operations.md#configuration): each converter
takes the raw value and whether it came from an ``INGESTD_*`` variable (then it is text), and
returns the typed value or raises :class:`BadValue` saying what is wrong and what is allowed.

A new section's options use these; a kind of value no option had before is added here."""

from __future__ import annotations

import email.utils
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingestd.config.error import BadValue, show
from ingestd.config.model import cwd_path, split_host_port
from ingestd.config.names import name_problem
from ingestd.config.units import duration_seconds, format_duration, size_bytes
from ingestd.intervals import IN_CONFIG, parse_intervals

T = TypeVar("T")

# a converter: (raw value, came from an environment variable) -> typed value
Conv = Callable[[Any, bool], T]


def string(value: Any, from_env: bool) -> str:
    if not isinstance(value, str):
        raise BadValue(f"expected a string, got {show(value)}")
    return value


def nonempty(value: Any, from_env: bool) -> str:
    text = string(value, from_env).strip()
    if not text:
        raise BadValue("must not be empty")
    return text


def optional(conv: Conv[T]) -> Conv[T | None]:
    def read(value: Any, from_env: bool) -> T | None:
        return None if value == "" else conv(value, from_env)

    return read


def _numeric(value: Any, from_env: bool, kind: type[T], expected: str) -> T:
    """``value`` as ``kind`` (int or float): TOML gives a number, a variable its text."""
    if from_env:
        try:
            return kind(value.strip())
        except ValueError:
            raise BadValue(f"expected {expected}, got {show(value)}") from None
    numbers = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, numbers):
        raise BadValue(f"expected {expected}, got {show(value)}")
    return kind(value)


def integer(lo: int | None = None, hi: int | None = None) -> Conv[int]:
    def read(value: Any, from_env: bool) -> int:
        whole = _numeric(value, from_env, int, "an integer")
        _check_range(whole, lo, hi)
        return whole

    return read


def number(
    lo: float | None = None, hi: float | None = None, above: float | None = None
) -> Conv[float]:
    def read(value: Any, from_env: bool) -> float:
        found = _numeric(value, from_env, float, "a number")
        if not math.isfinite(found):
            raise BadValue(f"expected a number, got {show(value)}")
        if above is not None and found <= above:
            raise BadValue(f"{show(value)} is too small; allowed: more than {above:g}")
        _check_range(found, lo, hi)
        return found

    return read


def _check_range(found: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and found < lo) or (hi is not None and found > hi):
        low = "" if lo is None else f"{lo:g}"
        high = "" if hi is None else f"{hi:g}"
        allowed = (
            f"{low} to {high}"
            if lo is not None and hi is not None
            else (f"at least {low}" if lo is not None else f"at most {high}")
        )
        raise BadValue(f"{found:g} is out of range; allowed: {allowed}")


def boolean(value: Any, from_env: bool) -> bool:
    if from_env:
        words = {"true": True, "1": True, "yes": True, "on": True,
                 "false": False, "0": False, "no": False, "off": False}  # fmt: skip
        if value.strip().lower() in words:
            return words[value.strip().lower()]
        raise BadValue(f"expected true or false, got {show(value)}")
    if not isinstance(value, bool):
        raise BadValue(f"expected true or false, got {show(value)}")
    return value


def choice(*allowed: str) -> Conv[str]:
    def read(value: Any, from_env: bool) -> str:
        text = string(value, from_env)
        if text not in allowed:
            raise BadValue(f"{show(value)} is not allowed; allowed: {', '.join(allowed)}")
        return text

    return read


def duration(above: float = 0, hi: float | None = None) -> Conv[float]:
    def read(value: Any, from_env: bool) -> float:
        seconds = duration_seconds(value)
        if seconds <= above:
            raise BadValue(
                f"{show(value)} is too short; allowed: more than {format_duration(above)}"
            )
        if hi is not None and seconds > hi:
            raise BadValue(f"{show(value)} is too long; allowed: at most {format_duration(hi)}")
        return seconds

    return read


def size(value: Any, from_env: bool) -> int:
    found = size_bytes(value)
    if found < 1:
        raise BadValue(f"{show(value)} is too small; allowed: at least 1 byte")
    return found


def size_or_zero(value: Any, from_env: bool) -> int:
    return size_bytes(value)  # 0 allowed: none


def path(value: Any, from_env: bool) -> Path:
    return cwd_path(nonempty(value, from_env))


def list_of(item: Conv[T]) -> Conv[tuple[T, ...]]:
    """A TOML array, or from the environment a comma-separated list."""

    def read(value: Any, from_env: bool) -> tuple[T, ...]:
        if from_env:
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif not isinstance(value, list):
            raise BadValue(f"expected a list, got {show(value)}")
        out = []
        for i, entry in enumerate(value):
            try:
                out.append(item(entry, False))
            except BadValue as e:
                raise BadValue(e.message, f"[{i}]{e.sub}") from None
        return tuple(out)

    return read


def _key_text(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def mapping_of(key: Conv[str], item: Conv[T]) -> Conv[Mapping[str, T]]:
    def read(value: Any, from_env: bool) -> Mapping[str, T]:
        if not isinstance(value, dict):
            raise BadValue(f"expected a table, got {show(value)}")
        out = {}
        for name, entry in value.items():
            sub = f".{_key_text(name)}"
            try:
                out[key(name, False)] = item(entry, False)
            except BadValue as e:
                raise BadValue(e.message, sub + e.sub) from None
        return MappingProxyType(out)

    return read


_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def domain(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env).lower().rstrip(".")
    if not _DOMAIN.fullmatch(text):
        raise BadValue(f"{show(value)} is not a domain name like carrier.example")
    return text


def address(value: Any, from_env: bool) -> str:
    """A bare address, lower-cased: mail systems compare them case-insensitively in practice."""
    text = nonempty(value, from_env)
    local, at, host = text.rpartition("@")
    if not at or not local or re.search(r"[\s<>(),;]", local):
        raise BadValue(f"{show(value)} is not an e-mail address like rates@carrier.example")
    return f"{local.lower()}@{domain(host, from_env)}"


def sender(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env)
    if text.startswith("@"):
        try:
            return "@" + domain(text[1:], from_env)
        except BadValue:
            raise BadValue(f"{show(value)} is not an @domain like @carrier.example") from None
    try:
        return address(text, from_env)
    except BadValue:
        raise BadValue(
            f"{show(value)} is not a sender; allowed: an address (rates@acme.example) "
            "or a domain (@acme.example)"
        ) from None


def from_header(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env)
    _display, addr = email.utils.parseaddr(text)
    try:
        address(addr, from_env)
    except BadValue:
        raise BadValue(
            f"{show(value)} is not a From address like 'Rates Desk <rates@x.example>'"
        ) from None
    return text


def listen(value: Any, from_env: bool) -> str:
    text = string(value, from_env).strip()
    if text:
        try:
            split_host_port(text, default_port=None)
        except ValueError:
            raise BadValue(
                f"{show(value)} is not host:port like 127.0.0.1:2525 or [::1]:2525 "
                '("" disables the listener)'
            ) from None
    return text


def http_url(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env)
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise BadValue(f"{show(value)} is not an http(s) URL like https://rates.carrier.example")
    return text


def nameserver(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env)
    try:
        host, _port = split_host_port(text, default_port=53)
        ipaddress.ip_address(host)
    except ValueError:
        raise BadValue(
            f"{show(value)} is not an IP address or ip:port like 127.0.0.1:5353"
        ) from None
    return text


def _name(what: str, example: str) -> Conv[str]:
    """A converter for a vendor id or a table name: one rule (``name_problem``) for both."""

    def convert(value: Any, from_env: bool) -> str:
        text = string(value, from_env)
        problem = name_problem(text, what)
        if problem is not None:
            raise BadValue(f"{problem}; like {example}")
        return text

    return convert


vendor_id = _name("an id", "'acme'")
table_name = _name("a table name", "'default' or 'premium'")


def timezone(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadValue(
            f"{show(value)} is not an IANA time zone like UTC or Europe/Berlin"
        ) from None
    return text


def _matching(pattern: str, wrong: str) -> Conv[str]:
    """A string that ``pattern`` finds (re.search: anchor it to mean the whole string)."""

    def read(value: Any, from_env: bool) -> str:
        text = nonempty(value, from_env)
        if not re.search(pattern, text):
            raise BadValue(f"{show(value)} {wrong}")
        return text

    return read


currency = _matching(r"^[A-Z]{3}$", "is not a currency; allowed: 3 upper-case letters like USD")
dkim_record = _matching(r"(^|;)\s*p=", "is not a DKIM key record; expected 'v=DKIM1; k=rsa; p=…'")
env_name = _matching(r"^[A-Za-z_][A-Za-z0-9_]*$", "is not an environment variable name")


def intervals(value: Any, from_env: bool) -> tuple[int, int]:
    wrong = f'{show(value)} is not intervals; allowed: "60/60" or [60, 60] (seconds, 1 or more)'
    if isinstance(value, str):
        parts: Any = parse_intervals(value, IN_CONFIG)
        if parts is None:
            raise BadValue(wrong)
    elif isinstance(value, list) and len(value) == 2:
        parts = value
    else:
        raise BadValue(wrong)
    if any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in parts):
        raise BadValue(wrong)
    return parts[0], parts[1]


def regex(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env)
    try:
        re.compile(text)
    except re.error as e:
        raise BadValue(f"{show(value)} is not a valid regular expression: {e}") from None
    return text


def dkim_record_name(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env).lower().rstrip(".")
    selector, marker, host = text.partition("._domainkey.")
    if not marker or not selector or not _DOMAIN.fullmatch(host):
        raise BadValue(f"{show(value)} is not a key name like 'sel1._domainkey.acme.example'")
    return text


SQL_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")


def database_url(value: Any, from_env: bool) -> str:
    text = nonempty(value, from_env)
    m = re.match(r"([A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?://", text)
    if not m:
        raise BadValue(f"{show(value)} is not an SQLAlchemy URL like sqlite:///var/ingestd.db")
    if m[1].lower() not in SQL_BACKENDS:
        raise BadValue(f"database {m[1]!r} is not supported; allowed: {', '.join(SQL_BACKENDS)}")
    return _absolute_sqlite(text)


def _absolute_sqlite(url: str) -> str:
    """sqlite:///var/x.db -> sqlite:////cwd/var/x.db; memory and file: URIs stay as they are."""
    m = re.fullmatch(r"(sqlite(?:\+\w+)?):///([^?]*)(\?.*)?", url)
    if not m or not m[2] or m[2].startswith(("/", ":memory:", "file:")):
        return url
    return f"{m[1]}:///{cwd_path(m[2])}{m[3] or ''}"
