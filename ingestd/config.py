"""Typed settings and vendor entries (docs/operations.md#configuration), loaded from TOML and
validated once.

Everything the rest of ingestd reads is a frozen dataclass built here; no other module looks at
raw TOML or at ``INGESTD_*`` variables. Every mistake is a :class:`ConfigError` whose text names
the file (or variable), the dotted key, what is wrong and what is allowed.

Rules shared by every option:
- relative paths (state_dir, dir, *_file, sqlite URLs) are resolved against the working directory
  at load time, so the daemon can later change directory without moving its files;
- an empty string for an optional option means "not set";
- secrets are never inline: ``password_file`` (a file holding it) or ``password_env`` (the
  variable holding it); read them with ``ImapAccount.password()``, ``OutboundConfig.password()``.
"""

from __future__ import annotations

import difflib
import email.utils
import fnmatch
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingestd.errors import IngestdError
from ingestd.events import EventType
from ingestd.intervals import IN_CONFIG, parse_intervals

T = TypeVar("T")

ENV_PREFIX = "INGESTD_"
CONFIG_ENV = "INGESTD_CONFIG"
DEFAULT_CONFIG = Path("config/ingestd.toml")
VENDORS_DIR = "vendors.d"  # next to the main file: one TOML file per vendor

NOTICE_CHANGES = ("increase", "decrease", "new", "removal", "interval_change")
# vendor ids and rate table names: one rule for both (README "Command line"); the database's
# columns for them (rates/schema.py) hold NAME_LENGTH characters, so nothing is ever truncated
NAME_LENGTH = 64
VENDOR_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
NAME_RULE = f"a-z 0-9 . _ - (not first), at most {NAME_LENGTH} characters"


def name_problem(text: str, what: str = "a name") -> str | None:
    """Why ``text`` cannot be a vendor id or rate table name (``what`` it is meant to be: "a
    vendor id", "a table name"), or None when it can."""
    if len(text) > NAME_LENGTH:
        length = f"{len(text)} characters, at most {NAME_LENGTH}"
        return f"{text[:20]!r}… is too long for {what}: {length}"
    if not VENDOR_ID.fullmatch(text):
        return f"{text!r} is not {what}; allowed: {NAME_RULE}"
    return None


class ConfigError(IngestdError):
    """A configuration mistake; ``str(e)`` is one line: where, which key, what, what is allowed."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        variable: str | None = None,
    ):
        self.message = message
        self.file = file
        self.key = key
        self.variable = variable  # the INGESTD_* variable the bad value came from
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.file, f"${self.variable}" if self.variable else None, self.key]
        return ": ".join([part for part in where if part] + [self.message])


# --- the settings ---------------------------------------------------------------------------


def _cwd_path(text: str | Path) -> Path:
    # abspath, not resolve(): keep symlinks as the operator wrote them
    return Path(os.path.abspath(os.fspath(text)))


@dataclass(frozen=True)
class DaemonConfig:
    state_dir: Path = field(default_factory=lambda: _cwd_path("var"))
    log_format: Literal["kv", "json"] = "kv"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # a folder whose files replace the bundled templates/ of the same name (docs/mail.md#mail-out)
    templates_dir: Path | None = None
    # seconds a SIGTERM may take before the daemon exits leaving unfinished work to the next start
    stop_timeout: float = 30.0
    # bytes of workbook sheets kept under state_dir/cache/sheets so that a sheet sent again is
    # parsed only where its rows changed (docs/performance.md#targets); 0 = keep none
    sheet_cache_size: int = 2 * 2**30


@dataclass(frozen=True)
class DatabaseConfig:
    url: str  # SQLAlchemy URL; a sqlite path is always absolute here


@dataclass(frozen=True)
class SmtpConfig:
    listen: str = "127.0.0.1:2525"  # "" = no SMTP listener
    recipients: tuple[str, ...] = ("rates@localhost",)  # lower-cased; others get 550 at RCPT
    max_message_size: int = 50 * 1024 * 1024
    max_sessions: int = 50
    # seconds a session may wait before its next command, and a message's DATA may take (RFC
    # 5321 §4.5.3.2: 5 minutes); then it is closed, so idle or slow sockets free their slot
    timeout: float = 300.0
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    require_starttls: bool = False
    lmtp_socket: Path | None = None

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """(host, port) to bind, without IPv6 brackets; None when the listener is disabled."""
        return _split_host_port(self.listen, default_port=None) if self.listen else None


def read_secret(
    password_file: Path | None,
    password_env: str | None,
    *,
    what: str,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """The secret from its file (trailing newline dropped) or variable; None when neither is set."""
    env = os.environ if env is None else env
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise ConfigError(
                f"cannot read password_file {password_file}: {e.strerror}", key=what
            ) from None
    if password_env is not None:
        if password_env not in env:
            raise ConfigError(f"password_env names ${password_env}, which is not set", key=what)
        return env[password_env]
    return None


@dataclass(frozen=True)
class ImapAccount:
    name: str
    host: str
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str = ""
    password_file: Path | None = None
    password_env: str | None = None
    folder: str = "INBOX"
    processed_folder: str = "ingestd/processed"
    quarantine_folder: str = "ingestd/quarantine"
    poll_interval: float = 60.0  # seconds; used when the server has no IDLE
    idle_renew: float = 600.0  # seconds; RFC 2177 servers may drop IDLE after 29 minutes

    def password(self, env: Mapping[str, str] | None = None) -> str:
        secret = read_secret(
            self.password_file, self.password_env, what=f"imap account {self.name!r}", env=env
        )
        if secret is None:
            raise ConfigError("no password_file or password_env", key=f"imap {self.name!r}")
        return secret


@dataclass(frozen=True)
class HttpConfig:
    """``[http]``: the API, health and metrics (docs/http.md#server)."""

    listen: str = ""  # "" = no HTTP server; the example configuration serves 127.0.0.1:8025
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    public_url: str | None = None  # how links in mail and webhooks name this server
    max_body_size: int = 50 * 1024 * 1024  # a request body (a deck upload) larger is 413
    rate_limit: int = 600  # requests a minute per client (API key, else address); 0 = none
    max_connections: int = 100  # open at once; more are answered 503
    upload_wait: float = 5.0  # seconds an upload's answer waits for its import, then 202

    @property
    def base_url(self) -> str:
        """The server's address for links: ``public_url``, else what it listens on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert_file else "http"
        return f"{scheme}://{self.listen}"


@dataclass(frozen=True)
class WebhookConfig:
    """One ``[[webhooks]]`` receiver (docs/http.md#webhooks)."""

    url: str
    secret_file: Path
    events: tuple[str, ...] = tuple(e.value for e in EventType if e is not EventType.TEST)
    vendors: tuple[str, ...] | None = None  # None: every vendor's events

    def wants(self, event: str, vendor: str | None) -> bool:
        """Whether this receiver is sent ``event`` about ``vendor`` (an event about no vendor,
        a failed delivery, goes to every receiver that takes its type)."""
        if event not in self.events:
            return False
        return self.vendors is None or vendor is None or vendor in self.vendors

    def secret(self) -> str:
        """The ``whsec_`` secret from its file (``ingestd webhooks secret`` makes one)."""
        try:
            text = self.secret_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(
                f"cannot read secret_file {self.secret_file}: {e.strerror}",
                key=f"webhooks {self.url!r}",
            ) from None
        if not text.startswith("whsec_") or len(text) < 20:
            raise ConfigError(
                f"secret_file {self.secret_file} does not hold a whsec_ secret "
                "(make one with `ingestd webhooks secret`)",
                key=f"webhooks {self.url!r}",
            )
        return text


@dataclass(frozen=True)
class DnsConfig:
    nameservers: tuple[str, ...] = ()  # () = the system resolver; "ip" or "ip:port"
    timeout: float = 5.0  # one query (docs/mail.md#vendor-authentication)
    budget: float = 10.0  # every DKIM key lookup of one message together
    max_signatures: int = 5  # DKIM signatures examined per message; the rest are ignored

    @property
    def nameserver_addresses(self) -> tuple[tuple[str, int], ...]:
        """(ip, port) pairs, port 53 when not given."""
        return tuple(_split_host_port(ns, default_port=53) for ns in self.nameservers)


@dataclass(frozen=True)
class OutboundConfig:
    transport: Literal["file", "smtp"] = "file"
    dir: Path = field(default_factory=lambda: _cwd_path("var/outbox"))  # .eml drop (file)
    from_addr: str = "Rates Desk <rates@localhost>"  # TOML key: from
    host: str | None = None  # relay (smtp)
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    timeout: float = 30.0
    dkim_domain: str | None = None  # sign outgoing mail when domain, selector and key are set
    dkim_selector: str | None = None
    dkim_key_file: Path | None = None
    # a loop breaker, not a quota: counted per recipient and per source class
    # (docs/mail.md#mail-out)
    max_per_recipient_per_day: int = 50

    def password(self, env: Mapping[str, str] | None = None) -> str | None:
        return read_secret(self.password_file, self.password_env, what="outbound", env=env)


@dataclass(frozen=True)
class Subscriber:
    """Who gets price-change notices; vendor/table None = every vendor/table."""

    address: str
    vendor: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class NotifyConfig:
    rates_team: tuple[str, ...] = ("rates-team@localhost",)
    price_change_subscribers: tuple[Subscriber, ...] = ()
    # seconds per period: alerts about unauthenticated mail go out as one digest per period,
    # and what a daily cap held back is announced once per period (docs/mail.md#mail-out)
    unauthenticated_digest: float = 3600.0
    # a message that imports more decks than this gets one summary report instead of one each
    reports_per_message: int = 5


_NO_ENTRIES: Mapping[str, Any] = MappingProxyType({})
_DEFAULT_NOTICE = MappingProxyType(
    {"increase": 168.0, "decrease": 0.0, "new": 0.0, "removal": 0.0, "interval_change": 168.0}
)


@dataclass(frozen=True)
class Policy:
    # hours of notice per change class (docs/semantics.md#rate-semantics); interval_change follows
    # increase unless given
    notice_hours: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_NOTICE)
    short_notice: Literal["defer", "reject", "accept"] = "defer"
    max_rejected_share: float = 0.05  # more rejected rows than this refuses the sheet
    max_discontinue_share: float = 0.20  # a full deck discontinuing more is held
    stale_deck_days: int = 90  # a deck whose newest date is older is held
    max_price_factor: float = 10.0  # a price moving more than this factor is held
    discontinued_retention_days: int = 90
    low_price_share: float = 0.2  # a price below this share of its country's median is warned

    def notice_for(self, change: str) -> timedelta:
        """Notice period for a change class; "discontinued" is an alias of "removal"."""
        name = "removal" if change == "discontinued" else str(change)
        if name not in self.notice_hours:
            raise ValueError(
                f"no notice period for {change!r}; allowed: {', '.join(NOTICE_CHANGES)}"
            )
        return timedelta(hours=self.notice_hours[name])


@dataclass(frozen=True)
class Limits:
    # one attachment or file, bytes: room for a max_rows (2M-row) CSV deck of ~110 MB
    max_file_size: int = 200 * 1024 * 1024
    max_unpacked_size: int = 200 * 1024 * 1024  # everything unpacked from one archive, bytes
    max_rows: int = 2_000_000
    max_columns: int = 200
    # characters in one cell: Excel's own limit, so no spreadsheet a vendor sends exceeds it
    max_cell_size: int = 32_767
    max_zip_members: int = 50
    max_nesting: int = 3  # archives and forwarded messages inside each other
    # rate sheet files in one message (attachments, ZIP members, forwarded messages' sheets):
    # a message with more is held whole (README "Receiving mail", quarantine too_many_sheets)
    max_sheets_per_message: int = 50
    # MIME boundary lines in one message (a bound on its parts, found before it is parsed): a
    # message with more is held whole (quarantine too_many_parts); 10,000 parse in about a second
    max_mime_parts: int = 10_000


@dataclass(frozen=True)
class TableRule:
    """Which attachment goes to which rate table. Every condition given must match (globs are
    case-insensitive, the subject is a regex searched anywhere); rules are tried in order, the
    first match wins, so two rules with one name mean "either". No condition = any attachment."""

    name: str
    kind: Literal["voice", "sms", "did", "auto"] = "auto"
    mode: Literal["full", "partial", "auto"] = "auto"  # auto: subject/file name, else default_mode
    match_filename: str | None = None
    match_subject: str | None = None
    match_sheet: str | None = None

    def matches(
        self, *, filename: str | None = None, subject: str | None = None, sheet: str | None = None
    ) -> bool:
        """True when every condition of the rule holds for this attachment (and sheet)."""
        checks = (
            (self.match_filename, filename, _glob_matches),
            (self.match_subject, subject, lambda pattern, text: bool(re.search(pattern, text))),
            (self.match_sheet, sheet, _glob_matches),
        )
        return all(
            pattern is None or (value is not None and test(pattern, value))
            for pattern, value, test in checks
        )


def _glob_matches(pattern: str, text: str) -> bool:
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


@dataclass(frozen=True)
class Vendor:
    id: str
    name: str = ""
    known: bool = True  # False: not configured (Config.vendor gave defaults)
    senders: tuple[str, ...] = ()  # lower-cased "addr@domain" or "@domain"
    dkim_domains: tuple[str, ...] = ()  # () = the From domain's organizational domain
    dkim_keys: Mapping[str, str] = field(default_factory=lambda: _NO_ENTRIES)
    confirm_to: tuple[str, ...] = ()  # () = the authenticated sender
    timezone: str = "UTC"
    currency: str | None = None
    date_order: Literal["auto", "dmy", "mdy", "ymd"] = "auto"
    default_mode: Literal["full", "partial"] = "partial"
    policy: Policy = field(default_factory=Policy)
    tables: tuple[TableRule, ...] = ()  # () = one table per kind named "default"
    sheet: str | None = None  # name (glob) of the only sheet to read
    header_row: int | None = None  # 1-based row of the header, as a spreadsheet shows it
    columns: Mapping[str, str] = field(default_factory=lambda: _NO_ENTRIES)
    hyphen: Literal["auto", "range", "pair"] = "auto"  # in code cells: 447400-447409 vs 93-76
    default_intervals: tuple[int, int] | None = None  # (interval 1, interval N)
    # destination name glob (case-insensitive) -> intervals
    increment_rules: Mapping[str, tuple[int, int]] = field(default_factory=lambda: _NO_ENTRIES)
    duplicate_policy: Literal["refuse", "first", "last"] = "refuse"

    @classmethod
    def unknown(cls, vendor_id: str, policy: Policy) -> Vendor:
        """A vendor that is not configured: every default, and ``known`` False."""
        problem = name_problem(vendor_id, "a vendor id")
        if problem is not None:
            raise ConfigError(problem, key="vendor")
        return cls(id=vendor_id, name=vendor_id, known=False, policy=policy)


@dataclass(frozen=True)
class Config:
    path: Path | None  # the file read (absolute), None = built-in defaults
    daemon: DaemonConfig
    database: DatabaseConfig
    smtp: SmtpConfig
    imap: tuple[ImapAccount, ...]
    dns: DnsConfig
    http: HttpConfig
    webhooks: tuple[WebhookConfig, ...]
    outbound: OutboundConfig
    notify: NotifyConfig
    policy: Policy
    limits: Limits
    vendors: tuple[Vendor, ...]

    def vendor(self, vendor_id: str) -> Vendor:
        for vendor in self.vendors:
            if vendor.id == vendor_id:
                return vendor
        return Vendor.unknown(vendor_id, self.policy)


# --- durations and sizes --------------------------------------------------------------------


class _Bad(Exception):
    """A value is wrong; the reader adds where it came from. ``sub`` extends the key."""

    def __init__(self, message: str, sub: str = ""):
        super().__init__(message)
        self.message = message
        self.sub = sub


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


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
        raise _Bad(f"expected {expected}, got {_show(value)}")
    if isinstance(value, str):
        m = _NUMBER_UNIT.fullmatch(value.strip())
        if not m:
            raise _Bad(f"expected {expected}, got {_show(value)}")
        number, unit = Decimal(m[1]), m[2]
    else:
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad(f"expected {expected}, got {_show(value)}")
        number, unit = Decimal(repr(value) if isinstance(value, float) else value), ""
    if number < 0:
        raise _Bad(f"expected {expected}, got {_show(value)}")
    if number.adjusted() > 15:  # also keeps Decimal arithmetic away from overflow
        raise _Bad(f"{_show(value)} is too large")
    return number, unit


def _duration(value: object) -> float:
    expected = "a duration like 60s, 5m, 2h, 7d, 500ms (a plain number is seconds)"
    number, unit = _number_and_unit(value, expected)
    if unit and unit not in _DURATION_UNITS:
        raise _Bad(f"{_show(value)}: unknown unit {unit!r}; allowed: ms, s, m, h, d")
    return float(number * _DURATION_UNITS[unit or "s"])


def _size(value: object) -> int:
    expected = "a size like 512KB, 50MB, 1GB (a plain integer is bytes)"
    if isinstance(value, float):
        raise _Bad(f"expected {expected}, got {_show(value)}")
    number, unit = _number_and_unit(value, expected)
    if unit.lower() not in _SIZE_UNITS:
        raise _Bad(f"{_show(value)}: unknown unit {unit!r}; allowed: B, KB, MB, GB, TB")
    scaled = number * _SIZE_UNITS[unit.lower()]
    if unit.lower() in ("", "b") and scaled != scaled.to_integral_value():
        raise _Bad(f"expected {expected}, got {_show(value)}")
    return int(scaled.to_integral_value())  # 0.1MB is not whole bytes: rounded


def parse_duration(text: str | int | float, *, key: str) -> float:
    """Seconds from "60s", "5m", "2h", "7d", "500ms", or a plain number of seconds."""
    try:
        return _duration(text)
    except _Bad as e:
        raise ConfigError(e.message, key=key) from None


def parse_size(text: str | int, *, key: str) -> int:
    """Bytes from "512KB", "50MB", "1.5MB", "1GB" (1 KB = 1024 bytes, 1 MB = 1024*1024 bytes),
    or a plain integer of bytes."""
    try:
        return _size(text)
    except _Bad as e:
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


# --- value converters: (raw value, came from an environment variable) -> typed value ----------

Conv = Callable[[Any, bool], T]


def _string(value: Any, from_env: bool) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected a string, got {_show(value)}")
    return value


def _nonempty(value: Any, from_env: bool) -> str:
    text = _string(value, from_env).strip()
    if not text:
        raise _Bad("must not be empty")
    return text


def _optional(conv: Conv[T]) -> Conv[T | None]:
    def read(value: Any, from_env: bool) -> T | None:
        return None if value == "" else conv(value, from_env)

    return read


def _integer(lo: int | None = None, hi: int | None = None) -> Conv[int]:
    def read(value: Any, from_env: bool) -> int:
        if from_env:
            try:
                number = int(value.strip())
            except ValueError:
                raise _Bad(f"expected an integer, got {_show(value)}") from None
        elif isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"expected an integer, got {_show(value)}")
        else:
            number = value
        _check_range(number, lo, hi)
        return number

    return read


def _number(
    lo: float | None = None, hi: float | None = None, above: float | None = None
) -> Conv[float]:
    def read(value: Any, from_env: bool) -> float:
        if from_env:
            try:
                number = float(value.strip())
            except ValueError:
                raise _Bad(f"expected a number, got {_show(value)}") from None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"expected a number, got {_show(value)}")
        else:
            number = float(value)
        if not math.isfinite(number):
            raise _Bad(f"expected a number, got {_show(value)}")
        if above is not None and number <= above:
            raise _Bad(f"{_show(value)} is too small; allowed: more than {above:g}")
        _check_range(number, lo, hi)
        return number

    return read


def _check_range(number: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        low = "" if lo is None else f"{lo:g}"
        high = "" if hi is None else f"{hi:g}"
        allowed = (
            f"{low} to {high}"
            if lo is not None and hi is not None
            else (f"at least {low}" if lo is not None else f"at most {high}")
        )
        raise _Bad(f"{number:g} is out of range; allowed: {allowed}")


def _boolean(value: Any, from_env: bool) -> bool:
    if from_env:
        words = {"true": True, "1": True, "yes": True, "on": True,
                 "false": False, "0": False, "no": False, "off": False}  # fmt: skip
        if value.strip().lower() in words:
            return words[value.strip().lower()]
        raise _Bad(f"expected true or false, got {_show(value)}")
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_show(value)}")
    return value


def _choice(*allowed: str) -> Conv[str]:
    def read(value: Any, from_env: bool) -> str:
        text = _string(value, from_env)
        if text not in allowed:
            raise _Bad(f"{_show(value)} is not allowed; allowed: {', '.join(allowed)}")
        return text

    return read


def _duration_conv(above: float = 0, hi: float | None = None) -> Conv[float]:
    def read(value: Any, from_env: bool) -> float:
        seconds = _duration(value)
        if seconds <= above:
            raise _Bad(f"{_show(value)} is too short; allowed: more than {format_duration(above)}")
        if hi is not None and seconds > hi:
            raise _Bad(f"{_show(value)} is too long; allowed: at most {format_duration(hi)}")
        return seconds

    return read


def _size_conv(value: Any, from_env: bool) -> int:
    size = _size(value)
    if size < 1:
        raise _Bad(f"{_show(value)} is too small; allowed: at least 1 byte")
    return size


def _size_or_none(value: Any, from_env: bool) -> int:
    return _size(value)  # 0 allowed: none


def _path(value: Any, from_env: bool) -> Path:
    return _cwd_path(_nonempty(value, from_env))


def _list(item: Conv[T]) -> Conv[tuple[T, ...]]:
    """A TOML array, or from the environment a comma-separated list."""

    def read(value: Any, from_env: bool) -> tuple[T, ...]:
        if from_env:
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif not isinstance(value, list):
            raise _Bad(f"expected a list, got {_show(value)}")
        out = []
        for i, entry in enumerate(value):
            try:
                out.append(item(entry, False))
            except _Bad as e:
                raise _Bad(e.message, f"[{i}]{e.sub}") from None
        return tuple(out)

    return read


def _key_text(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _mapping(key: Conv[str], item: Conv[T]) -> Conv[Mapping[str, T]]:
    def read(value: Any, from_env: bool) -> Mapping[str, T]:
        if not isinstance(value, dict):
            raise _Bad(f"expected a table, got {_show(value)}")
        out = {}
        for name, entry in value.items():
            sub = f".{_key_text(name)}"
            try:
                out[key(name, False)] = item(entry, False)
            except _Bad as e:
                raise _Bad(e.message, sub + e.sub) from None
        return MappingProxyType(out)

    return read


_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def _domain(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env).lower().rstrip(".")
    if not _DOMAIN.fullmatch(text):
        raise _Bad(f"{_show(value)} is not a domain name like carrier.example")
    return text


def _address(value: Any, from_env: bool) -> str:
    """A bare address, lower-cased: mail systems compare them case-insensitively in practice."""
    text = _nonempty(value, from_env)
    local, at, domain = text.rpartition("@")
    if not at or not local or re.search(r"[\s<>(),;]", local):
        raise _Bad(f"{_show(value)} is not an e-mail address like rates@carrier.example")
    return f"{local.lower()}@{_domain(domain, from_env)}"


def _sender(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env)
    if text.startswith("@"):
        try:
            return "@" + _domain(text[1:], from_env)
        except _Bad:
            raise _Bad(f"{_show(value)} is not an @domain like @carrier.example") from None
    try:
        return _address(text, from_env)
    except _Bad:
        raise _Bad(
            f"{_show(value)} is not a sender; allowed: an address (rates@acme.example) "
            "or a domain (@acme.example)"
        ) from None


def _from_header(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env)
    _name, addr = email.utils.parseaddr(text)
    try:
        _address(addr, from_env)
    except _Bad:
        raise _Bad(
            f"{_show(value)} is not a From address like 'Rates Desk <rates@x.example>'"
        ) from None
    return text


def _split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
    """("host", port) from "host:port", "[v6]:port", or (with a default port) "host"/"v6"."""
    host, sep, port = text.rpartition(":")
    if text.startswith("[") and "]" in text:
        host, _, rest = text[1:].partition("]")
        sep, port = (":", rest[1:]) if rest.startswith(":") else ("", "")
        if rest and not rest.startswith(":"):
            raise ValueError(text)
    elif not sep or ":" in host:  # no port, or a bare IPv6 address
        host, sep, port = text, "", ""
    if not sep:
        if default_port is None:
            raise ValueError(text)
        return host, default_port
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(text)
    return host, int(port)


def _listen(value: Any, from_env: bool) -> str:
    text = _string(value, from_env).strip()
    if text:
        try:
            _split_host_port(text, default_port=None)
        except ValueError:
            raise _Bad(
                f"{_show(value)} is not host:port like 127.0.0.1:2525 or [::1]:2525 "
                '("" disables the listener)'
            ) from None
    return text


def _nameserver(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env)
    try:
        host, _port = _split_host_port(text, default_port=53)
        ipaddress.ip_address(host)
    except ValueError:
        raise _Bad(f"{_show(value)} is not an IP address or ip:port like 127.0.0.1:5353") from None
    return text


def _name(what: str, example: str) -> Conv[str]:
    """A converter for a vendor id or a table name: one rule (``name_problem``) for both."""

    def convert(value: Any, from_env: bool) -> str:
        text = _string(value, from_env)
        problem = name_problem(text, what)
        if problem is not None:
            raise _Bad(f"{problem}; like {example}")
        return text

    return convert


_vendor_id = _name("an id", "'acme'")
_table_name = _name("a table name", "'default' or 'premium'")


def _timezone(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad(f"{_show(value)} is not an IANA time zone like UTC or Europe/Berlin") from None
    return text


def _matching(pattern: str, wrong: str) -> Conv[str]:
    """A string that ``pattern`` finds (re.search: anchor it to mean the whole string)."""

    def read(value: Any, from_env: bool) -> str:
        text = _nonempty(value, from_env)
        if not re.search(pattern, text):
            raise _Bad(f"{_show(value)} {wrong}")
        return text

    return read


_currency = _matching(r"^[A-Z]{3}$", "is not a currency; allowed: 3 upper-case letters like USD")
_dkim_record = _matching(r"(^|;)\s*p=", "is not a DKIM key record; expected 'v=DKIM1; k=rsa; p=…'")
_env_name = _matching(r"^[A-Za-z_][A-Za-z0-9_]*$", "is not an environment variable name")


def _intervals(value: Any, from_env: bool) -> tuple[int, int]:
    wrong = f'{_show(value)} is not intervals; allowed: "60/60" or [60, 60] (seconds, 1 or more)'
    if isinstance(value, str):
        parts: Any = parse_intervals(value, IN_CONFIG)
        if parts is None:
            raise _Bad(wrong)
    elif isinstance(value, list) and len(value) == 2:
        parts = value
    else:
        raise _Bad(wrong)
    if any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in parts):
        raise _Bad(wrong)
    return parts[0], parts[1]


def _regex(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env)
    try:
        re.compile(text)
    except re.error as e:
        raise _Bad(f"{_show(value)} is not a valid regular expression: {e}") from None
    return text


def _dkim_record_name(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env).lower().rstrip(".")
    selector, marker, domain = text.partition("._domainkey.")
    if not marker or not selector or not _DOMAIN.fullmatch(domain):
        raise _Bad(f"{_show(value)} is not a key name like 'sel1._domainkey.acme.example'")
    return text


# --- reading one TOML table -----------------------------------------------------------------

_REQUIRED: Any = object()
_PASSWORD_HINT = (
    "a password is never written in the configuration; use password_file (a file holding it) "
    "or password_env (the name of a variable holding it)"
)


class _Table:
    """One TOML table being read: remembers the keys asked for, so leftovers are typos.

    ``env`` maps lower-case key names to (variable, text) overrides for this table."""

    def __init__(
        self,
        data: dict[str, Any],
        *,
        file: str | None,
        prefix: str,
        env: dict[str, tuple[str, str]] | None = None,
        env_prefix: str = "",
    ):
        self.data = data
        self.file = file
        self.prefix = prefix
        self.env = env or {}
        self.env_prefix = env_prefix
        self.allowed: list[str] = []
        self.subtables: list[str] = []
        self.env_used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=self.key(name))

    def get(self, name: str, conv: Conv[T], default: Any = None) -> T:
        self.allowed.append(name)
        if name in self.env:
            variable, text = self.env[name]
            self.env_used.add(name)
            try:
                return conv(text, True)
            except _Bad as e:
                raise ConfigError(
                    e.message, key=self.key(name) + e.sub, variable=variable
                ) from None
        if name not in self.data:
            if default is _REQUIRED:
                raise self.error(name, "missing; this key is required")
            return default
        try:
            return conv(self.data[name], False)
        except _Bad as e:
            raise ConfigError(e.message, file=self.file, key=self.key(name) + e.sub) from None

    def table(self, name: str) -> _Table:
        self.allowed.append(name)
        self.subtables.append(name)
        data = self.data.get(name, {})
        if not isinstance(data, dict):
            raise self.error(name, f"expected a table, got {_show(data)}")
        start = f"{name}_"  # INGESTD_POLICY_NOTICE_HOURS_INCREASE -> notice_hours.increase
        env = {k[len(start) :]: v for k, v in self.env.items() if k.startswith(start)}
        self.env_used.update(start + k for k in env)
        env_prefix = f"{self.env_prefix}{start.upper()}"
        return _Table(data, file=self.file, prefix=self.key(name), env=env, env_prefix=env_prefix)

    def tables(self, name: str) -> list[_Table]:
        """An array of tables ([[name]])."""
        self.allowed.append(name)
        data = self.data.get(name, [])
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise self.error(name, f"expected an array of tables ([[{name}]]), got {_show(data)}")
        return [
            _Table(d, file=self.file, prefix=f"{self.key(name)}[{i}]") for i, d in enumerate(data)
        ]

    def finish(self) -> None:
        """Refuse keys and variables nobody asked for (typos such as notice_hour)."""
        for name in self.data:
            if name not in self.allowed:
                raise self.error(name, _unknown_message(name, self.allowed, "key"))
        for name, (variable, _text) in self.env.items():
            if name not in self.env_used:
                names = [
                    f"{self.env_prefix}{a.upper()}" + ("_*" if a in self.subtables else "")
                    for a in self.allowed
                ]
                raise ConfigError(_unknown_message(variable, names, "variable"), variable=variable)


def _unknown_message(name: str, allowed: list[str], what: str) -> str:
    if name == "password" and "password_file" in allowed:
        return _PASSWORD_HINT
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what}{hint}; allowed: {', '.join(allowed)}"


# --- the sections ---------------------------------------------------------------------------

SECTIONS = (
    "daemon", "database", "smtp", "imap", "dns", "http", "webhooks", "outbound", "notify",
    "policy", "limits", "vendors",
)  # fmt: skip
# the sections whose scalar options INGESTD_<SECTION>_<KEY> overrides
ENV_SECTIONS = (
    "daemon", "database", "smtp", "dns", "http", "outbound", "notify", "policy", "limits",
)  # fmt: skip
_SQL_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")


def _database_url(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env)
    m = re.match(r"([A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?://", text)
    if not m:
        raise _Bad(f"{_show(value)} is not an SQLAlchemy URL like sqlite:///var/ingestd.db")
    if m[1].lower() not in _SQL_BACKENDS:
        raise _Bad(f"database {m[1]!r} is not supported; allowed: {', '.join(_SQL_BACKENDS)}")
    return _absolute_sqlite(text)


def _absolute_sqlite(url: str) -> str:
    """sqlite:///var/x.db -> sqlite:////cwd/var/x.db; memory and file: URIs stay as they are."""
    m = re.fullmatch(r"(sqlite(?:\+\w+)?):///([^?]*)(\?.*)?", url)
    if not m or not m[2] or m[2].startswith(("/", ":memory:", "file:")):
        return url
    return f"{m[1]}:///{_cwd_path(m[2])}{m[3] or ''}"


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs and check-config."""
    m = re.match(r"([^:/]+://)([^/?#]*)@", url)
    if not m or ":" not in m[2]:
        return url
    user = m[2].split(":", 1)[0]
    return f"{m[1]}{user}:***@{url[m.end() :]}"


def _parse_daemon(t: _Table) -> DaemonConfig:
    config = DaemonConfig(
        state_dir=t.get("state_dir", _path, _cwd_path("var")),
        log_format=t.get("log_format", _choice("kv", "json"), "kv"),
        log_level=t.get("log_level", _choice("debug", "info", "warning", "error"), "info"),
        templates_dir=t.get("templates_dir", _optional(_path)),
        stop_timeout=t.get("stop_timeout", _duration_conv(hi=3600), 30.0),
        sheet_cache_size=t.get("sheet_cache_size", _size_or_none, DaemonConfig.sheet_cache_size),
    )
    t.finish()
    return config


def _parse_smtp(t: _Table) -> SmtpConfig:
    d = SmtpConfig()
    config = SmtpConfig(
        listen=t.get("listen", _listen, d.listen),
        recipients=t.get("recipients", _list(_address), d.recipients),
        max_message_size=t.get("max_message_size", _size_conv, d.max_message_size),
        max_sessions=t.get("max_sessions", _integer(lo=1), d.max_sessions),
        timeout=t.get("timeout", _duration_conv(hi=3600), d.timeout),
        tls_cert_file=t.get("tls_cert_file", _optional(_path)),
        tls_key_file=t.get("tls_key_file", _optional(_path)),
        require_starttls=t.get("require_starttls", _boolean, False),
        lmtp_socket=t.get("lmtp_socket", _optional(_path)),
    )
    t.finish()  # first: a misspelt key explains the checks below better than they do
    if (config.tls_cert_file is None) != (config.tls_key_file is None):
        raise t.error("tls_key_file", "tls_cert_file and tls_key_file go together; set both")
    if config.require_starttls and config.tls_cert_file is None:
        raise t.error("require_starttls", "needs tls_cert_file and tls_key_file")
    return config


def _parse_http(t: _Table) -> HttpConfig:
    d = HttpConfig()
    config = HttpConfig(
        listen=t.get("listen", _listen, d.listen),
        tls_cert_file=t.get("tls_cert_file", _optional(_path)),
        tls_key_file=t.get("tls_key_file", _optional(_path)),
        public_url=t.get("public_url", _optional(_http_url)),
        max_body_size=t.get("max_body_size", _size_conv, d.max_body_size),
        rate_limit=t.get("rate_limit", _integer(lo=0), d.rate_limit),
        max_connections=t.get("max_connections", _integer(lo=1), d.max_connections),
        upload_wait=t.get("upload_wait", _duration_conv(hi=600), d.upload_wait),
    )
    t.finish()
    if (config.tls_cert_file is None) != (config.tls_key_file is None):
        raise t.error("tls_key_file", "tls_cert_file and tls_key_file go together; set both")
    return config


def _parse_webhook(t: _Table) -> WebhookConfig:
    events = t.get(
        "events",
        _list(_choice(*(e.value for e in EventType if e is not EventType.TEST))),
        WebhookConfig.events,
    )
    config = WebhookConfig(
        url=t.get("url", _http_url, _REQUIRED),
        secret_file=t.get("secret_file", _path, _REQUIRED),
        events=tuple(events),
        vendors=t.get("vendors", _optional(_list(_vendor_id)), None),
    )
    t.finish()
    if not config.events:
        raise t.error("events", "name at least one event")
    return config


def _http_url(value: Any, from_env: bool) -> str:
    text = _nonempty(value, from_env)
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise _Bad(f"{_show(value)} is not an http(s) URL like https://rates.carrier.example")
    return text


def _parse_secret(t: _Table) -> tuple[str | None, Path | None, str | None]:
    if "password" in t.data:
        raise t.error("password", _PASSWORD_HINT)
    username = t.get("username", _optional(_nonempty))
    password_file = t.get("password_file", _optional(_path))
    password_env = t.get("password_env", _optional(_env_name))
    if password_file and password_env:
        raise t.error("password_env", "give password_file or password_env, not both")
    return username, password_file, password_env


def _parse_imap(t: _Table) -> ImapAccount:
    name = t.get("name", _nonempty, _REQUIRED)
    host = t.get("host", _nonempty, _REQUIRED)
    security = t.get("security", _choice("tls", "starttls", "none"), "tls")
    port = t.get("port", _integer(1, 65535), 993 if security == "tls" else 143)
    username, password_file, password_env = _parse_secret(t)
    account = ImapAccount(
        name=name, host=host, port=port, security=security, username=username or "",
        password_file=password_file, password_env=password_env,
        folder=t.get("folder", _nonempty, "INBOX"),
        processed_folder=t.get("processed_folder", _nonempty, "ingestd/processed"),
        quarantine_folder=t.get("quarantine_folder", _nonempty, "ingestd/quarantine"),
        poll_interval=t.get("poll_interval", _duration_conv(), 60.0),
        # RFC 2177: servers may end an IDLE after 30 minutes; renew well before 29
        idle_renew=t.get("idle_renew", _duration_conv(hi=29 * 60), 600.0),
    )  # fmt: skip
    t.finish()
    if username is None:
        raise t.error("username", "missing; this key is required")
    if password_file is None and password_env is None:
        raise t.error("password_file", f"missing; {_PASSWORD_HINT}")
    return account


def _parse_dns(t: _Table) -> DnsConfig:
    config = DnsConfig(
        nameservers=t.get("nameservers", _list(_nameserver), ()),
        timeout=t.get("timeout", _duration_conv(), 5.0),
        budget=t.get("budget", _duration_conv(hi=3600), DnsConfig.budget),
        max_signatures=t.get("max_signatures", _integer(1, 100), DnsConfig.max_signatures),
    )
    t.finish()
    return config


_RELAY_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _parse_outbound(t: _Table, state_dir: Path) -> OutboundConfig:
    d = OutboundConfig()
    transport = t.get("transport", _choice("file", "smtp"), "file")
    security = t.get("security", _choice("starttls", "tls", "none"), "starttls")
    username, password_file, password_env = _parse_secret(t)
    config = OutboundConfig(
        transport=transport,
        dir=t.get("dir", _path, state_dir / "outbox"),
        from_addr=t.get("from", _from_header, d.from_addr),
        host=t.get("host", _optional(_nonempty)),
        port=t.get("port", _integer(1, 65535), _RELAY_PORTS[security]),
        security=security, username=username, password_file=password_file,
        password_env=password_env,
        timeout=t.get("timeout", _duration_conv(), d.timeout),
        dkim_domain=t.get("dkim_domain", _optional(_domain)),
        dkim_selector=t.get("dkim_selector", _optional(_nonempty)),
        dkim_key_file=t.get("dkim_key_file", _optional(_path)),
        max_per_recipient_per_day=t.get(
            "max_per_recipient_per_day", _integer(lo=1), d.max_per_recipient_per_day
        ),
    )  # fmt: skip
    t.finish()
    if transport == "smtp" and config.host is None:
        raise t.error("host", 'missing; transport = "smtp" needs the relay host')
    if username and password_file is None and password_env is None:
        raise t.error("password_file", f"missing for username {username!r}; {_PASSWORD_HINT}")
    dkim = {"dkim_domain": config.dkim_domain, "dkim_selector": config.dkim_selector,
            "dkim_key_file": config.dkim_key_file}  # fmt: skip
    if any(dkim.values()) and not all(dkim.values()):
        missing = next(name for name, value in dkim.items() if not value)
        raise t.error(missing, "DKIM signing needs dkim_domain, dkim_selector and dkim_key_file")
    return config


def _parse_subscriber(value: Any, from_env: bool) -> Subscriber:
    if isinstance(value, str):
        return Subscriber(_address(value, from_env))
    if not isinstance(value, dict):
        raise _Bad(f"expected an address or a table {{address, vendor, table}}, got {_show(value)}")
    t = _Table(value, file=None, prefix="")
    try:
        subscriber = Subscriber(
            address=t.get("address", _address, _REQUIRED),
            vendor=t.get("vendor", _optional(_vendor_id)),
            table=t.get("table", _optional(_table_name)),
        )
        t.finish()
    except ConfigError as e:
        raise _Bad(e.message, f".{e.key}") from None
    return subscriber


def _parse_notify(t: _Table) -> NotifyConfig:
    d = NotifyConfig()
    config = NotifyConfig(
        rates_team=t.get("rates_team", _list(_address), d.rates_team),
        price_change_subscribers=t.get("price_change_subscribers", _list(_parse_subscriber), ()),
        unauthenticated_digest=t.get(
            "unauthenticated_digest", _duration_conv(above=0.999, hi=86400),
            d.unauthenticated_digest,
        ),
        reports_per_message=t.get("reports_per_message", _integer(lo=1), d.reports_per_message),
    )  # fmt: skip
    t.finish()
    return config


def _parse_policy(
    t: _Table, base: Policy, base_explicit: frozenset[str]
) -> tuple[Policy, frozenset[str]]:
    """The policy of ``t`` on top of ``base``; also which notice keys were ever given, because
    interval_change follows the effective increase unless someone set it."""
    notice = t.table("notice_hours")
    hours = dict(base.notice_hours)
    explicit = set(base_explicit)
    for change in NOTICE_CHANGES:
        value = notice.get(change, _number(lo=0))
        if value is not None:
            hours[change] = value
            explicit.add(change)
    notice.finish()
    if "interval_change" not in explicit:
        hours["interval_change"] = hours["increase"]
    share = _number(lo=0, hi=1)
    policy = Policy(
        notice_hours=MappingProxyType(hours),
        short_notice=t.get("short_notice", _choice("defer", "reject", "accept"), base.short_notice),
        max_rejected_share=t.get("max_rejected_share", share, base.max_rejected_share),
        max_discontinue_share=t.get("max_discontinue_share", share, base.max_discontinue_share),
        stale_deck_days=t.get("stale_deck_days", _integer(lo=1), base.stale_deck_days),
        max_price_factor=t.get("max_price_factor", _number(above=1), base.max_price_factor),
        discontinued_retention_days=t.get(
            "discontinued_retention_days", _integer(lo=0), base.discontinued_retention_days
        ),
        low_price_share=t.get("low_price_share", share, base.low_price_share),
    )
    t.finish()
    return policy, frozenset(explicit)


def _parse_limits(t: _Table) -> Limits:
    d = Limits()
    limits = Limits(
        max_file_size=t.get("max_file_size", _size_conv, d.max_file_size),
        max_unpacked_size=t.get("max_unpacked_size", _size_conv, d.max_unpacked_size),
        max_rows=t.get("max_rows", _integer(lo=1), d.max_rows),
        max_columns=t.get("max_columns", _integer(lo=1), d.max_columns),
        # at most the csv module's field limit, which reads CSV text polars cannot
        max_cell_size=t.get("max_cell_size", _integer(lo=1, hi=131_072), d.max_cell_size),
        max_zip_members=t.get("max_zip_members", _integer(lo=1), d.max_zip_members),
        max_nesting=t.get("max_nesting", _integer(lo=0), d.max_nesting),
        max_mime_parts=t.get("max_mime_parts", _integer(lo=1), d.max_mime_parts),
        max_sheets_per_message=t.get(
            "max_sheets_per_message", _integer(lo=1), d.max_sheets_per_message
        ),
    )
    t.finish()
    return limits


def _parse_table_rule(t: _Table) -> TableRule:
    name = t.get("name", _table_name, _REQUIRED)
    kind = t.get("kind", _choice("voice", "sms", "did", "auto"), "auto")
    mode = t.get("mode", _choice("full", "partial", "auto"), "auto")
    match = t.table("match")
    rule = TableRule(
        name=name, kind=kind, mode=mode,
        match_filename=match.get("filename", _optional(_nonempty)),
        match_subject=match.get("subject", _optional(_regex)),
        match_sheet=match.get("sheet", _optional(_nonempty)),
    )  # fmt: skip
    match.finish()
    t.finish()
    return rule


def _parse_vendor(t: _Table, policy: Policy, explicit: frozenset[str]) -> Vendor:
    vendor_id = t.get("id", _vendor_id, _REQUIRED)
    vendor_policy, _ = _parse_policy(t.table("policy"), policy, explicit)
    vendor = Vendor(
        id=vendor_id,
        name=t.get("name", _nonempty, vendor_id),
        known=True,
        senders=t.get("senders", _list(_sender), ()),
        dkim_domains=t.get("dkim_domains", _list(_domain), ()),
        dkim_keys=t.get("dkim_keys", _mapping(_dkim_record_name, _dkim_record), _NO_ENTRIES),
        confirm_to=t.get("confirm_to", _list(_address), ()),
        timezone=t.get("timezone", _timezone, "UTC"),
        currency=t.get("currency", _optional(_currency)),
        date_order=t.get("date_order", _choice("auto", "dmy", "mdy", "ymd"), "auto"),
        default_mode=t.get("default_mode", _choice("full", "partial"), "partial"),
        policy=vendor_policy,
        tables=tuple(_parse_table_rule(rule) for rule in t.tables("tables")),
        sheet=t.get("sheet", _optional(_nonempty)),
        header_row=t.get("header_row", _optional(_integer(lo=1))),
        columns=t.get("columns", _mapping(_nonempty, _nonempty), _NO_ENTRIES),
        hyphen=t.get("hyphen", _choice("auto", "range", "pair"), "auto"),
        default_intervals=t.get("default_intervals", _optional(_intervals)),
        increment_rules=t.get("increment_rules", _mapping(_nonempty, _intervals), _NO_ENTRIES),
        duplicate_policy=t.get("duplicate_policy", _choice("refuse", "first", "last"), "refuse"),
    )
    t.finish()
    return vendor


# --- loading --------------------------------------------------------------------------------


def default_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """$INGESTD_CONFIG, else ./config/ingestd.toml if it exists, else None (built-in defaults)."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read the configuration: {e.strerror}", file=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"not valid TOML: {e}", file=str(path)) from None


def _env_overrides(env: Mapping[str, str], section: str) -> dict[str, tuple[str, str]]:
    start = f"{ENV_PREFIX}{section.upper()}_"
    return {
        name[len(start) :].lower(): (name, value)
        for name, value in env.items()
        if name.startswith(start)
    }


def _vendor_files(path: Path) -> list[_Table]:
    """vendors.d/*.toml next to the main file, by file name; each file is one vendor entry."""
    folder = path.parent / VENDORS_DIR
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    return [_Table(_read_toml(file), file=str(file), prefix="") for file in files]


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, check and type the configuration once; a :class:`ConfigError` names any mistake."""
    env = os.environ if env is None else env
    file_path = Path(path) if path is not None else default_config_path(env)
    raw = _read_toml(file_path) if file_path is not None else {}
    label = str(file_path) if file_path is not None else None
    root = _Table(raw, file=label, prefix="")
    root.allowed = list(SECTIONS)
    root.finish()  # a misspelt section first: its options would all look unknown

    def section(name: str) -> _Table:
        data = raw.get(name, {})
        if not isinstance(data, dict):
            raise root.error(name, f"expected a table [{name}], got {_show(data)}")
        overrides = _env_overrides(env, name) if name in ENV_SECTIONS else {}
        prefix = f"{ENV_PREFIX}{name.upper()}_"
        return _Table(data, file=label, prefix=name, env=overrides, env_prefix=prefix)

    daemon = _parse_daemon(section("daemon"))
    db = section("database")
    database = DatabaseConfig(
        url=db.get("url", _database_url, f"sqlite:///{daemon.state_dir / 'ingestd.db'}")
    )
    db.finish()
    smtp = _parse_smtp(section("smtp"))
    imap_tables = root.tables("imap")
    imap = tuple(_parse_imap(t) for t in imap_tables)
    _refuse_duplicates(
        "imap account", "name", [(a.name, t) for a, t in zip(imap, imap_tables, strict=True)]
    )
    dns = _parse_dns(section("dns"))
    http = _parse_http(section("http"))
    webhook_tables = root.tables("webhooks")
    webhooks = tuple(_parse_webhook(t) for t in webhook_tables)
    _refuse_duplicates(
        "webhook url", "url", [(w.url, t) for w, t in zip(webhooks, webhook_tables, strict=True)]
    )
    outbound = _parse_outbound(section("outbound"), daemon.state_dir)
    notify_table = section("notify")
    notify = _parse_notify(notify_table)
    policy, explicit = _parse_policy(section("policy"), Policy(), frozenset())
    limits = _parse_limits(section("limits"))

    vendor_tables = root.tables("vendors")
    if file_path is not None:
        vendor_tables += _vendor_files(file_path)
    vendors = tuple(_parse_vendor(t, policy, explicit) for t in vendor_tables)
    _refuse_duplicates(
        "vendor id", "id", [(v.id, t) for v, t in zip(vendors, vendor_tables, strict=True)]
    )
    _check_subscribers(notify, {v.id for v in vendors}, notify_table)
    return Config(
        path=_cwd_path(file_path) if file_path is not None else None,
        daemon=daemon, database=database, smtp=smtp, imap=imap, dns=dns, http=http,
        webhooks=webhooks,
        outbound=outbound,
        notify=notify, policy=policy, limits=limits, vendors=vendors,
    )  # fmt: skip


def _refuse_duplicates(what: str, key: str, entries: list[tuple[str, _Table]]) -> None:
    """Names must be unique; the error is at the second place and names the first."""
    seen: dict[str, _Table] = {}
    for name, t in entries:
        if name in seen:
            first = seen[name]
            where = f"{first.file}: {first.key(key)}" if first.file else first.key(key)
            raise t.error(key, f"duplicate {what} {name!r}; already defined at {where}")
        seen[name] = t


def _check_subscribers(notify: NotifyConfig, vendor_ids: set[str], t: _Table) -> None:
    for i, subscriber in enumerate(notify.price_change_subscribers):
        if subscriber.vendor is not None and subscriber.vendor not in vendor_ids:
            configured = ", ".join(sorted(vendor_ids)) or "none"
            raise t.error(
                f"price_change_subscribers[{i}].vendor",
                f"{subscriber.vendor!r} is not a configured vendor; configured: {configured}",
            )


def describe(config: Config) -> dict[str, Any]:
    """A JSON-serialisable summary for ``ingestd check-config --json`` (no secrets)."""
    policy = config.policy
    return {
        "path": str(config.path) if config.path else None,
        "state_dir": str(config.daemon.state_dir),
        "database_url": mask_url(config.database.url),
        "smtp_listen": config.smtp.listen or None,
        "smtp_recipients": list(config.smtp.recipients),
        "max_message_size": format_size(config.smtp.max_message_size),
        "imap_accounts": len(config.imap),
        "http_listen": config.http.listen or None,
        "outbound_transport": config.outbound.transport,
        "outbound_dir": str(config.outbound.dir) if config.outbound.transport == "file" else None,
        "vendors": [vendor.id for vendor in config.vendors],
        "policy": {
            "notice_hours": dict(policy.notice_hours),
            "short_notice": policy.short_notice,
            "max_rejected_share": policy.max_rejected_share,
            "max_discontinue_share": policy.max_discontinue_share,
            "stale_deck_days": policy.stale_deck_days,
            "max_price_factor": policy.max_price_factor,
            "discontinued_retention_days": policy.discontinued_retention_days,
            "low_price_share": policy.low_price_share,
        },
    }
