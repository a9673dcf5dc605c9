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

The modules, in the order a file passes through them:
- ``load.py``: which file, its sections in order, ``vendors.d/``, the checks across sections;
- ``sections.py``: one ``parse_<section>`` per section, with the checks among its options;
- ``table.py``: one TOML table read key by key, variables over it, typos refused;
- ``values.py``: the kinds of value (address, duration, size, choice, …) and their errors;
- ``units.py``: durations and sizes, read and written back; ``names.py``: the vendor id rule;
- ``model.py``: the dataclasses everyone reads; ``error.py``: :class:`ConfigError`;
- ``summary.py``: what ``ingestd check-config`` shows, secrets masked.

A new section (``[http]``, say): its dataclass in ``model.py``, its ``parse_http`` with its
checks in ``sections.py``, its name in ``load.SECTIONS`` (and ``ENV_SECTIONS`` when variables
may override it), its call and its field of :class:`Config` in ``load.load_config``, what
check-config shows of it in ``summary.describe``, and its names here.

This package's face is what other modules import: ``from ingestd.config import Config``."""

from ingestd.config.error import ConfigError
from ingestd.config.load import default_config_path, load_config
from ingestd.config.model import (
    Config,
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
    read_secret,
)
from ingestd.config.names import NAME_LENGTH, name_problem
from ingestd.config.summary import describe, mask_url
from ingestd.config.units import format_duration, format_size, parse_duration, parse_size

__all__ = [
    "NAME_LENGTH",
    "Config",
    "ConfigError",
    "DaemonConfig",
    "DatabaseConfig",
    "DnsConfig",
    "HttpConfig",
    "ImapAccount",
    "Limits",
    "NotifyConfig",
    "OutboundConfig",
    "Policy",
    "SmtpConfig",
    "Subscriber",
    "TableRule",
    "Vendor",
    "WebhookConfig",
    "default_config_path",
    "describe",
    "format_duration",
    "format_size",
    "load_config",
    "mask_url",
    "name_problem",
    "parse_duration",
    "parse_size",
    "read_secret",
]
