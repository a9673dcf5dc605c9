"""The settings: one frozen dataclass per section of the configuration file, the vendor entries
and :class:`Config` holding them all (docs/operations.md#configuration). This is what the rest
of ingestd reads; how a section is read from TOML and checked is in ``sections.py``.

A new section gets its dataclass here, with the defaults of its options as field defaults."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ingestd.config.error import ConfigError
from ingestd.config.names import name_problem
from ingestd.events import EventType

NOTICE_CHANGES = ("increase", "decrease", "new", "removal", "interval_change")
NO_ENTRIES: Mapping[str, Any] = MappingProxyType({})


def cwd_path(text: str | Path) -> Path:
    """A path resolved against the working directory now, so the daemon may change directory."""
    # abspath, not resolve(): keep symlinks as the operator wrote them
    return Path(os.path.abspath(os.fspath(text)))


def split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
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


@dataclass(frozen=True)
class DaemonConfig:
    state_dir: Path = field(default_factory=lambda: cwd_path("var"))
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
        return split_host_port(self.listen, default_port=None) if self.listen else None


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


WEBHOOK_EVENTS = tuple(e.value for e in EventType if e is not EventType.TEST)


@dataclass(frozen=True)
class WebhookConfig:
    """One ``[[webhooks]]`` receiver (docs/http.md#webhooks)."""

    url: str
    secret_file: Path
    events: tuple[str, ...] = WEBHOOK_EVENTS
    vendors: tuple[str, ...] | None = None  # None: every vendor's events

    def wants(self, event: str, vendor: str | None) -> bool:
        """Whether this receiver is sent ``event`` about ``vendor`` (an event about no vendor,
        a failed delivery, goes to every receiver that takes its type)."""
        if event not in self.events:
            return False
        return self.vendors is None or vendor is None or vendor in self.vendors

    def secret(self) -> str:
        """The ``whsec_`` secret from its file (``ingestd webhooks secret`` makes one)."""
        where = f"webhooks {self.url!r}"
        try:
            text = self.secret_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(
                f"cannot read secret_file {self.secret_file}: {e.strerror}", key=where
            ) from None
        if not text.startswith("whsec_") or len(text) < 20:
            raise ConfigError(
                f"secret_file {self.secret_file} does not hold a whsec_ secret "
                "(make one with `ingestd webhooks secret`)",
                key=where,
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
        return tuple(split_host_port(ns, default_port=53) for ns in self.nameservers)


@dataclass(frozen=True)
class OutboundConfig:
    transport: Literal["file", "smtp"] = "file"
    dir: Path = field(default_factory=lambda: cwd_path("var/outbox"))  # .eml drop (file)
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
    dkim_keys: Mapping[str, str] = field(default_factory=lambda: NO_ENTRIES)
    confirm_to: tuple[str, ...] = ()  # () = the authenticated sender
    timezone: str = "UTC"
    currency: str | None = None
    date_order: Literal["auto", "dmy", "mdy", "ymd"] = "auto"
    default_mode: Literal["full", "partial"] = "partial"
    policy: Policy = field(default_factory=Policy)
    tables: tuple[TableRule, ...] = ()  # () = one table per kind named "default"
    sheet: str | None = None  # name (glob) of the only sheet to read
    header_row: int | None = None  # 1-based row of the header, as a spreadsheet shows it
    columns: Mapping[str, str] = field(default_factory=lambda: NO_ENTRIES)
    hyphen: Literal["auto", "range", "pair"] = "auto"  # in code cells: 447400-447409 vs 93-76
    default_intervals: tuple[int, int] | None = None  # (interval 1, interval N)
    # destination name glob (case-insensitive) -> intervals
    increment_rules: Mapping[str, tuple[int, int]] = field(default_factory=lambda: NO_ENTRIES)
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
    outbound: OutboundConfig
    notify: NotifyConfig
    policy: Policy
    limits: Limits
    vendors: tuple[Vendor, ...]
    http: HttpConfig = HttpConfig()
    webhooks: tuple[WebhookConfig, ...] = ()

    def vendor(self, vendor_id: str) -> Vendor:
        for vendor in self.vendors:
            if vendor.id == vendor_id:
                return vendor
        return Vendor.unknown(vendor_id, self.policy)
