"""What ``ingestd check-config`` shows of a configuration: a summary without secrets, and a
database URL with its password masked (docs/operations.md#configuration)."""

from __future__ import annotations

import re
from typing import Any

from ingestd.config.model import Config
from ingestd.config.units import format_size


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs and check-config."""
    m = re.match(r"([^:/]+://)([^/?#]*)@", url)
    if not m or ":" not in m[2]:
        return url
    user = m[2].split(":", 1)[0]
    return f"{m[1]}{user}:***@{url[m.end() :]}"


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
