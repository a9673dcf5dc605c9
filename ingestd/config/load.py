"""Loading the configuration: which file (``--config``, ``$INGESTD_CONFIG``, then
``config/ingestd.toml``), its sections in order with the ``INGESTD_<SECTION>_<KEY>``
variables over them, the vendor files of ``vendors.d/``, and the checks across sections
(docs/operations.md#configuration)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingestd.config.error import ConfigError, show
from ingestd.config.model import Config, NotifyConfig, Policy, cwd_path
from ingestd.config.sections import (
    parse_daemon,
    parse_database,
    parse_dns,
    parse_http,
    parse_imap,
    parse_limits,
    parse_notify,
    parse_outbound,
    parse_policy,
    parse_smtp,
    parse_vendor,
    parse_webhook,
)
from ingestd.config.table import TomlTable

ENV_PREFIX = "INGESTD_"
CONFIG_ENV = "INGESTD_CONFIG"
DEFAULT_CONFIG = Path("config/ingestd.toml")
VENDORS_DIR = "vendors.d"  # next to the main file: one TOML file per vendor

SECTIONS = (
    "daemon", "database", "smtp", "imap", "dns", "http", "webhooks", "outbound", "notify",
    "policy", "limits", "vendors",
)  # fmt: skip
# the sections whose scalar options INGESTD_<SECTION>_<KEY> overrides
ENV_SECTIONS = (
    "daemon", "database", "smtp", "dns", "http", "outbound", "notify", "policy", "limits",
)  # fmt: skip


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


def _vendor_files(path: Path) -> list[TomlTable]:
    """vendors.d/*.toml next to the main file, by file name; each file is one vendor entry."""
    folder = path.parent / VENDORS_DIR
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    return [TomlTable(_read_toml(file), file=str(file), prefix="") for file in files]


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, check and type the configuration once; a :class:`ConfigError` names any mistake."""
    env = os.environ if env is None else env
    file_path = Path(path) if path is not None else default_config_path(env)
    raw = _read_toml(file_path) if file_path is not None else {}
    label = str(file_path) if file_path is not None else None
    root = TomlTable(raw, file=label, prefix="")
    root.allowed = list(SECTIONS)
    root.finish()  # a misspelt section first: its options would all look unknown

    def section(name: str) -> TomlTable:
        data = raw.get(name, {})
        if not isinstance(data, dict):
            raise root.error(name, f"expected a table [{name}], got {show(data)}")
        overrides = _env_overrides(env, name) if name in ENV_SECTIONS else {}
        prefix = f"{ENV_PREFIX}{name.upper()}_"
        return TomlTable(data, file=label, prefix=name, env=overrides, env_prefix=prefix)

    daemon = parse_daemon(section("daemon"))
    database = parse_database(section("database"), daemon.state_dir)
    smtp = parse_smtp(section("smtp"))
    imap_tables = root.tables("imap")
    imap = tuple(parse_imap(t) for t in imap_tables)
    _refuse_duplicates(
        "imap account", "name", [(a.name, t) for a, t in zip(imap, imap_tables, strict=True)]
    )
    dns = parse_dns(section("dns"))
    http = parse_http(section("http"))
    webhook_tables = root.tables("webhooks")
    webhooks = tuple(parse_webhook(t) for t in webhook_tables)
    _refuse_duplicates(
        "webhook url", "url", [(w.url, t) for w, t in zip(webhooks, webhook_tables, strict=True)]
    )
    outbound = parse_outbound(section("outbound"), daemon.state_dir)
    notify_table = section("notify")
    notify = parse_notify(notify_table)
    policy, explicit = parse_policy(section("policy"), Policy(), frozenset())
    limits = parse_limits(section("limits"))

    vendor_tables = root.tables("vendors")
    if file_path is not None:
        vendor_tables += _vendor_files(file_path)
    vendors = tuple(parse_vendor(t, policy, explicit) for t in vendor_tables)
    _refuse_duplicates(
        "vendor id", "id", [(v.id, t) for v, t in zip(vendors, vendor_tables, strict=True)]
    )
    _check_subscribers(notify, {v.id for v in vendors}, notify_table)
    return Config(
        path=cwd_path(file_path) if file_path is not None else None,
        daemon=daemon, database=database, smtp=smtp, imap=imap, dns=dns, outbound=outbound,
        notify=notify, policy=policy, limits=limits, vendors=vendors, http=http,
        webhooks=webhooks,
    )  # fmt: skip


def _refuse_duplicates(what: str, key: str, entries: list[tuple[str, TomlTable]]) -> None:
    """Names must be unique; the error is at the second place and names the first."""
    seen: dict[str, TomlTable] = {}
    for name, t in entries:
        if name in seen:
            first = seen[name]
            where = f"{first.file}: {first.key(key)}" if first.file else first.key(key)
            raise t.error(key, f"duplicate {what} {name!r}; already defined at {where}")
        seen[name] = t


def _check_subscribers(notify: NotifyConfig, vendor_ids: set[str], t: TomlTable) -> None:
    for i, subscriber in enumerate(notify.price_change_subscribers):
        if subscriber.vendor is not None and subscriber.vendor not in vendor_ids:
            configured = ", ".join(sorted(vendor_ids)) or "none"
            raise t.error(
                f"price_change_subscribers[{i}].vendor",
                f"{subscriber.vendor!r} is not a configured vendor; configured: {configured}",
            )
