"""The one clock of the database: naive UTC in whole seconds, as every timestamp column holds
it (``db.columns.Timestamp``)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
