"""The events' payloads, in the Standard Webhooks shape ``{"type", "timestamp", "data"}``
(docs/http.md#webhooks), built from what an import or a message did.

An event's id is derived from what it is about (the table and version, the held entry), so
announcing the same thing twice (a notify stage run again after a crash) is the same event, and
the receivers' de-duplication by ``webhook-id`` holds across it."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ingestd.events import EventType
from ingestd.rates.model import iso
from ingestd.rates.schema import canonical_decimal

# rows of a rates.changed event carried inline; more are a link to the diff
CHANGES_INLINE = 1_000


@dataclass(frozen=True)
class Event:
    id: str
    type: EventType
    vendor: str | None
    data: dict[str, Any]

    def body(self, now: datetime | None = None) -> str:
        """The JSON body sent, byte for byte the same on every retry."""
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        stamp = moment.isoformat().replace("+00:00", "Z")
        return json.dumps(
            {"type": str(self.type), "timestamp": stamp, "data": self.data},
            ensure_ascii=False,
            default=str,
        )


def event_id(*about: object) -> str:
    """A stable id for the event about ``about`` (``msg_`` and 32 hex digits)."""
    text = "\x1f".join(str(part) for part in about)
    return "msg_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def random_id() -> str:
    return "msg_" + uuid.uuid4().hex


def table_links(base: str | None, vendor: str, kind: str, table: str, version: int) -> dict:
    """Where the API shows a version (none when the daemon serves no HTTP)."""
    if base is None:
        return {}
    link = f"{base}/api/v1/tables/{vendor}/{kind}/{table}"
    return {
        "version": f"{link}/versions/{version}",
        "rows": f"{link}/rows?version={version}",
        "diff": f"{link}/diff?from={version - 1}&to={version}",
    }


def version_created(summary: dict[str, Any], *, source: str, base: str | None) -> Event:
    """A deck was imported as a new version (``summary``: an import summary's ``as_dict``)."""
    vendor, kind, table, version = (summary[k] for k in ("vendor", "kind", "table", "version"))
    data = {
        "vendor": vendor,
        "table": table,
        "kind": kind,
        "version": version,
        "mode": summary.get("mode"),
        "source": source,
        "file_name": summary.get("file_name"),
        "file_hash": summary.get("file_hash"),
        "received_at": summary.get("received_at"),
        "rows": summary.get("rows") or {},
        "counts": summary.get("counts") or {},
        "links": table_links(base, vendor, kind, table, version),
    }
    return Event(
        event_id(EventType.VERSION_CREATED, vendor, kind, table, version),
        EventType.VERSION_CREATED,
        vendor,
        data,
    )


def rates_changed(
    summary: dict[str, Any], changes: pl.DataFrame, *, base: str | None
) -> Event | None:
    """The prices a new version changed (None when it changed none): every row when they are
    few, else the count and the link to the diff."""
    if changes.is_empty():
        return None
    vendor, kind, table, version = (summary[k] for k in ("vendor", "kind", "table", "version"))
    links = table_links(base, vendor, kind, table, version)
    inline = changes.height <= CHANGES_INLINE
    data = {
        "vendor": vendor,
        "table": table,
        "kind": kind,
        "version": version,
        "total": changes.height,
        "changes": [_change(row) for row in changes.iter_rows(named=True)] if inline else None,
        "links": links,
    }
    return Event(
        event_id(EventType.RATES_CHANGED, vendor, kind, table, version),
        EventType.RATES_CHANGED,
        vendor,
        data,
    )


def _change(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = iso(value)
        elif value is not None and key.endswith("price"):
            value = canonical_decimal(value)
        elif value is not None and not isinstance(value, str | int | bool | float):
            value = str(value)
        out[key] = value
    return out


def import_refused(summary: dict[str, Any], *, source: str, about: object) -> Event:
    """A deck was refused; ``about`` makes the id (the message row and sheet, or nothing: an
    upload refused twice is told twice)."""
    data = {
        "vendor": summary.get("vendor"),
        "table": summary.get("table"),
        "kind": summary.get("kind"),
        "source": source,
        "file_name": summary.get("file_name"),
        "file_hash": summary.get("file_hash"),
        "reason": summary.get("reason"),
        "message": summary.get("message"),
        "rejected": len(summary.get("rejected") or ()),
    }
    eid = event_id(EventType.IMPORT_REFUSED, about) if about is not None else random_id()
    return Event(eid, EventType.IMPORT_REFUSED, summary.get("vendor"), data)


def message_quarantined(held: dict[str, Any], *, base: str | None) -> Event:
    """A message is held for a person (``held``: the outcome's ``as_dict``)."""
    data = {
        "message": held.get("message_row"),
        "quarantine_id": held.get("quarantine_id"),
        "reason": held.get("reason"),
        "detail": held.get("message"),
        "from": held.get("from"),
        "vendor": held.get("vendor"),
        "subject": held.get("subject"),
        "message_id": held.get("message_id"),
    }
    if base is not None and held.get("quarantine_id"):
        data["link"] = f"{base}/api/v1/quarantine/{held['quarantine_id']}"
    return Event(
        event_id(EventType.MESSAGE_QUARANTINED, held.get("quarantine_id")),
        EventType.MESSAGE_QUARANTINED,
        held.get("vendor"),
        data,
    )


def delivery_failed(what: str, ident: int, target: str, attempts: int, error: str) -> Event:
    """Mail (``what`` "mail") or a webhook delivery ("webhook") was given up on."""
    data = {"what": what, "id": ident, "to": target, "attempts": attempts, "error": error}
    return Event(
        event_id(EventType.DELIVERY_FAILED, what, ident), EventType.DELIVERY_FAILED, None, data
    )
