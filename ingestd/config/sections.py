"""Each section of the configuration file read into its dataclass (``model.py``), with the
checks that need more than one of its options (docs/operations.md#configuration).

A section's parser reads every option with ``t.get(name, converter, default)`` (converters in
``values.py``), calls ``t.finish()`` first so that a misspelt key is reported before anything
else, then checks how its options go together with ``t.error(key, ...)``. A new section gets
its ``parse_<section>`` here, its name in ``load.SECTIONS`` and its call in
``load.load_config``; checks across sections live in ``load.py``."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import ingestd.config.values as values
from ingestd.config.error import BadValue, ConfigError, show
from ingestd.config.model import (
    NO_ENTRIES,
    NOTICE_CHANGES,
    WEBHOOK_EVENTS,
    DaemonConfig,
    DatabaseConfig,
    DnsConfig,
    HttpConfig,
    ImapAccount,
    Limits,
    NotifyConfig,
    OutboundConfig,
    Policy,
    SmtpConfig,
    Subscriber,
    TableRule,
    Vendor,
    WebhookConfig,
    cwd_path,
)
from ingestd.config.table import PASSWORD_HINT, REQUIRED, TomlTable


def parse_daemon(t: TomlTable) -> DaemonConfig:
    config = DaemonConfig(
        state_dir=t.get("state_dir", values.path, cwd_path("var")),
        log_format=t.get("log_format", values.choice("kv", "json"), "kv"),
        log_level=t.get("log_level", values.choice("debug", "info", "warning", "error"), "info"),
        templates_dir=t.get("templates_dir", values.optional(values.path)),
        stop_timeout=t.get("stop_timeout", values.duration(hi=3600), 30.0),
        sheet_cache_size=t.get(
            "sheet_cache_size", values.size_or_zero, DaemonConfig.sheet_cache_size
        ),
    )
    t.finish()
    return config


def parse_database(t: TomlTable, state_dir: Path) -> DatabaseConfig:
    config = DatabaseConfig(
        url=t.get("url", values.database_url, f"sqlite:///{state_dir / 'ingestd.db'}")
    )
    t.finish()
    return config


def parse_smtp(t: TomlTable) -> SmtpConfig:
    d = SmtpConfig()
    config = SmtpConfig(
        listen=t.get("listen", values.listen, d.listen),
        recipients=t.get("recipients", values.list_of(values.address), d.recipients),
        max_message_size=t.get("max_message_size", values.size, d.max_message_size),
        max_sessions=t.get("max_sessions", values.integer(lo=1), d.max_sessions),
        timeout=t.get("timeout", values.duration(hi=3600), d.timeout),
        tls_cert_file=t.get("tls_cert_file", values.optional(values.path)),
        tls_key_file=t.get("tls_key_file", values.optional(values.path)),
        require_starttls=t.get("require_starttls", values.boolean, False),
        lmtp_socket=t.get("lmtp_socket", values.optional(values.path)),
    )
    t.finish()  # first: a misspelt key explains the checks below better than they do
    if (config.tls_cert_file is None) != (config.tls_key_file is None):
        raise t.error("tls_key_file", "tls_cert_file and tls_key_file go together; set both")
    if config.require_starttls and config.tls_cert_file is None:
        raise t.error("require_starttls", "needs tls_cert_file and tls_key_file")
    return config


def _secret(t: TomlTable) -> tuple[str | None, Path | None, str | None]:
    if "password" in t.data:
        raise t.error("password", PASSWORD_HINT)
    username = t.get("username", values.optional(values.nonempty))
    password_file = t.get("password_file", values.optional(values.path))
    password_env = t.get("password_env", values.optional(values.env_name))
    if password_file and password_env:
        raise t.error("password_env", "give password_file or password_env, not both")
    return username, password_file, password_env


def parse_imap(t: TomlTable) -> ImapAccount:
    name = t.get("name", values.nonempty, REQUIRED)
    host = t.get("host", values.nonempty, REQUIRED)
    security = t.get("security", values.choice("tls", "starttls", "none"), "tls")
    port = t.get("port", values.integer(1, 65535), 993 if security == "tls" else 143)
    username, password_file, password_env = _secret(t)
    account = ImapAccount(
        name=name, host=host, port=port, security=security, username=username or "",
        password_file=password_file, password_env=password_env,
        folder=t.get("folder", values.nonempty, "INBOX"),
        processed_folder=t.get("processed_folder", values.nonempty, "ingestd/processed"),
        quarantine_folder=t.get("quarantine_folder", values.nonempty, "ingestd/quarantine"),
        poll_interval=t.get("poll_interval", values.duration(), 60.0),
        # RFC 2177: servers may end an IDLE after 30 minutes; renew well before 29
        idle_renew=t.get("idle_renew", values.duration(hi=29 * 60), 600.0),
    )  # fmt: skip
    t.finish()
    if username is None:
        raise t.error("username", "missing; this key is required")
    if password_file is None and password_env is None:
        raise t.error("password_file", f"missing; {PASSWORD_HINT}")
    return account


def parse_dns(t: TomlTable) -> DnsConfig:
    config = DnsConfig(
        nameservers=t.get("nameservers", values.list_of(values.nameserver), ()),
        timeout=t.get("timeout", values.duration(), 5.0),
        budget=t.get("budget", values.duration(hi=3600), DnsConfig.budget),
        max_signatures=t.get("max_signatures", values.integer(1, 100), DnsConfig.max_signatures),
    )
    t.finish()
    return config


def parse_http(t: TomlTable) -> HttpConfig:
    d = HttpConfig()
    config = HttpConfig(
        listen=t.get("listen", values.listen, d.listen),
        tls_cert_file=t.get("tls_cert_file", values.optional(values.path)),
        tls_key_file=t.get("tls_key_file", values.optional(values.path)),
        public_url=t.get("public_url", values.optional(values.http_url)),
        max_body_size=t.get("max_body_size", values.size, d.max_body_size),
        rate_limit=t.get("rate_limit", values.integer(lo=0), d.rate_limit),
        max_connections=t.get("max_connections", values.integer(lo=1), d.max_connections),
        upload_wait=t.get("upload_wait", values.duration(hi=600), d.upload_wait),
    )
    t.finish()
    if (config.tls_cert_file is None) != (config.tls_key_file is None):
        raise t.error("tls_key_file", "tls_cert_file and tls_key_file go together; set both")
    return config


def parse_webhook(t: TomlTable) -> WebhookConfig:
    config = WebhookConfig(
        url=t.get("url", values.http_url, REQUIRED),
        secret_file=t.get("secret_file", values.path, REQUIRED),
        events=t.get("events", values.list_of(values.choice(*WEBHOOK_EVENTS)), WEBHOOK_EVENTS),
        vendors=t.get("vendors", values.optional(values.list_of(values.vendor_id)), None),
    )
    t.finish()
    if not config.events:
        raise t.error("events", "name at least one event")
    return config


_RELAY_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def parse_outbound(t: TomlTable, state_dir: Path) -> OutboundConfig:
    d = OutboundConfig()
    transport = t.get("transport", values.choice("file", "smtp"), "file")
    security = t.get("security", values.choice("starttls", "tls", "none"), "starttls")
    username, password_file, password_env = _secret(t)
    config = OutboundConfig(
        transport=transport,
        dir=t.get("dir", values.path, state_dir / "outbox"),
        from_addr=t.get("from", values.from_header, d.from_addr),
        host=t.get("host", values.optional(values.nonempty)),
        port=t.get("port", values.integer(1, 65535), _RELAY_PORTS[security]),
        security=security, username=username, password_file=password_file,
        password_env=password_env,
        timeout=t.get("timeout", values.duration(), d.timeout),
        dkim_domain=t.get("dkim_domain", values.optional(values.domain)),
        dkim_selector=t.get("dkim_selector", values.optional(values.nonempty)),
        dkim_key_file=t.get("dkim_key_file", values.optional(values.path)),
        max_per_recipient_per_day=t.get(
            "max_per_recipient_per_day", values.integer(lo=1), d.max_per_recipient_per_day
        ),
    )  # fmt: skip
    t.finish()
    if transport == "smtp" and config.host is None:
        raise t.error("host", 'missing; transport = "smtp" needs the relay host')
    if username and password_file is None and password_env is None:
        raise t.error("password_file", f"missing for username {username!r}; {PASSWORD_HINT}")
    dkim = {"dkim_domain": config.dkim_domain, "dkim_selector": config.dkim_selector,
            "dkim_key_file": config.dkim_key_file}  # fmt: skip
    if any(dkim.values()) and not all(dkim.values()):
        missing = next(name for name, value in dkim.items() if not value)
        raise t.error(missing, "DKIM signing needs dkim_domain, dkim_selector and dkim_key_file")
    return config


def _subscriber(value: Any, from_env: bool) -> Subscriber:
    if isinstance(value, str):
        return Subscriber(values.address(value, from_env))
    if not isinstance(value, dict):
        raise BadValue(
            f"expected an address or a table {{address, vendor, table}}, got {show(value)}"
        )
    t = TomlTable(value, file=None, prefix="")
    try:
        subscriber = Subscriber(
            address=t.get("address", values.address, REQUIRED),
            vendor=t.get("vendor", values.optional(values.vendor_id)),
            table=t.get("table", values.optional(values.table_name)),
        )
        t.finish()
    except ConfigError as e:
        raise BadValue(e.message, f".{e.key}") from None
    return subscriber


def parse_notify(t: TomlTable) -> NotifyConfig:
    d = NotifyConfig()
    config = NotifyConfig(
        rates_team=t.get("rates_team", values.list_of(values.address), d.rates_team),
        price_change_subscribers=t.get("price_change_subscribers", values.list_of(_subscriber), ()),
        unauthenticated_digest=t.get(
            "unauthenticated_digest", values.duration(above=0.999, hi=86400),
            d.unauthenticated_digest,
        ),
        reports_per_message=t.get(
            "reports_per_message", values.integer(lo=1), d.reports_per_message
        ),
    )  # fmt: skip
    t.finish()
    return config


def parse_policy(
    t: TomlTable, base: Policy, base_explicit: frozenset[str]
) -> tuple[Policy, frozenset[str]]:
    """The policy of ``t`` on top of ``base``; also which notice keys were ever given, because
    interval_change follows the effective increase unless someone set it."""
    notice = t.table("notice_hours")
    hours = dict(base.notice_hours)
    explicit = set(base_explicit)
    for change in NOTICE_CHANGES:
        value = notice.get(change, values.number(lo=0))
        if value is not None:
            hours[change] = value
            explicit.add(change)
    notice.finish()
    if "interval_change" not in explicit:
        hours["interval_change"] = hours["increase"]
    share = values.number(lo=0, hi=1)
    policy = Policy(
        notice_hours=MappingProxyType(hours),
        short_notice=t.get(
            "short_notice", values.choice("defer", "reject", "accept"), base.short_notice
        ),
        max_rejected_share=t.get("max_rejected_share", share, base.max_rejected_share),
        max_discontinue_share=t.get("max_discontinue_share", share, base.max_discontinue_share),
        stale_deck_days=t.get("stale_deck_days", values.integer(lo=1), base.stale_deck_days),
        max_price_factor=t.get("max_price_factor", values.number(above=1), base.max_price_factor),
        discontinued_retention_days=t.get(
            "discontinued_retention_days", values.integer(lo=0), base.discontinued_retention_days
        ),
        low_price_share=t.get("low_price_share", share, base.low_price_share),
    )
    t.finish()
    return policy, frozenset(explicit)


def parse_limits(t: TomlTable) -> Limits:
    d = Limits()
    limits = Limits(
        max_file_size=t.get("max_file_size", values.size, d.max_file_size),
        max_unpacked_size=t.get("max_unpacked_size", values.size, d.max_unpacked_size),
        max_rows=t.get("max_rows", values.integer(lo=1), d.max_rows),
        max_columns=t.get("max_columns", values.integer(lo=1), d.max_columns),
        # at most the csv module's field limit, which reads CSV text polars cannot
        max_cell_size=t.get("max_cell_size", values.integer(lo=1, hi=131_072), d.max_cell_size),
        max_zip_members=t.get("max_zip_members", values.integer(lo=1), d.max_zip_members),
        max_nesting=t.get("max_nesting", values.integer(lo=0), d.max_nesting),
        max_mime_parts=t.get("max_mime_parts", values.integer(lo=1), d.max_mime_parts),
        max_sheets_per_message=t.get(
            "max_sheets_per_message", values.integer(lo=1), d.max_sheets_per_message
        ),
    )
    t.finish()
    return limits


def _table_rule(t: TomlTable) -> TableRule:
    name = t.get("name", values.table_name, REQUIRED)
    kind = t.get("kind", values.choice("voice", "sms", "did", "auto"), "auto")
    mode = t.get("mode", values.choice("full", "partial", "auto"), "auto")
    match = t.table("match")
    rule = TableRule(
        name=name, kind=kind, mode=mode,
        match_filename=match.get("filename", values.optional(values.nonempty)),
        match_subject=match.get("subject", values.optional(values.regex)),
        match_sheet=match.get("sheet", values.optional(values.nonempty)),
    )  # fmt: skip
    match.finish()
    t.finish()
    return rule


def parse_vendor(t: TomlTable, policy: Policy, explicit: frozenset[str]) -> Vendor:
    vendor_id = t.get("id", values.vendor_id, REQUIRED)
    vendor_policy, _ = parse_policy(t.table("policy"), policy, explicit)
    vendor = Vendor(
        id=vendor_id,
        name=t.get("name", values.nonempty, vendor_id),
        known=True,
        senders=t.get("senders", values.list_of(values.sender), ()),
        dkim_domains=t.get("dkim_domains", values.list_of(values.domain), ()),
        dkim_keys=t.get(
            "dkim_keys", values.mapping_of(values.dkim_record_name, values.dkim_record), NO_ENTRIES
        ),
        confirm_to=t.get("confirm_to", values.list_of(values.address), ()),
        timezone=t.get("timezone", values.timezone, "UTC"),
        currency=t.get("currency", values.optional(values.currency)),
        date_order=t.get("date_order", values.choice("auto", "dmy", "mdy", "ymd"), "auto"),
        default_mode=t.get("default_mode", values.choice("full", "partial"), "partial"),
        policy=vendor_policy,
        tables=tuple(_table_rule(rule) for rule in t.tables("tables")),
        sheet=t.get("sheet", values.optional(values.nonempty)),
        header_row=t.get("header_row", values.optional(values.integer(lo=1))),
        columns=t.get("columns", values.mapping_of(values.nonempty, values.nonempty), NO_ENTRIES),
        hyphen=t.get("hyphen", values.choice("auto", "range", "pair"), "auto"),
        default_intervals=t.get("default_intervals", values.optional(values.intervals)),
        increment_rules=t.get(
            "increment_rules", values.mapping_of(values.nonempty, values.intervals), NO_ENTRIES
        ),
        duplicate_policy=t.get(
            "duplicate_policy", values.choice("refuse", "first", "last"), "refuse"
        ),
    )
    t.finish()
    return vendor
