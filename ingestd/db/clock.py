"""The one clock of the database: naive UTC in whole seconds, as every timestamp column holds
it (``db.columns.Timestamp``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@overload
def as_stored(moment: datetime) -> datetime: ...
@overload
def as_stored(moment: None) -> None: ...
def as_stored(moment: datetime | None) -> datetime | None:
    """``moment`` as the columns hold it: an aware instant converted to UTC, then naive, in
    whole seconds (None stays None)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)
