"""The records of the rate store: a rate table, a version and where it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingestd.rates.model import Kind, iso


@dataclass(frozen=True)
class TableRef:
    id: int
    vendor: str
    name: str
    kind: Kind
    current_version: int
    currency: str | None = None

    @property
    def label(self) -> str:
        return f"{self.vendor}/{self.kind}/{self.name}"

    def as_dict(self) -> dict:
        return {
            "vendor": self.vendor,
            "table": self.name,
            "kind": str(self.kind),
            "version": self.current_version,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class VersionInfo:
    number: int
    origin: str
    mode: str
    received_at: datetime | None
    created_at: datetime
    file_name: str | None
    file_hash: str | None
    message_id: str | None
    sender: str | None
    rows_total: int
    rows_added: int
    rows_closed: int
    rollback_to: int | None
    summary: dict = field(repr=False)

    def as_dict(self) -> dict:
        return {
            "version": self.number,
            "origin": self.origin,
            "mode": self.mode,
            "received_at": iso(self.received_at),
            "imported_at": iso(self.created_at),
            "file_name": self.file_name,
            "file_hash": self.file_hash,
            "message_id": self.message_id,
            "sender": self.sender,
            "rows": self.rows_total,
            "added": self.rows_added,
            "closed": self.rows_closed,
            "rollback_to": self.rollback_to,
            "counts": self.summary.get("counts", {}),
        }


@dataclass(frozen=True)
class Provenance:
    """Where a version came from (docs/semantics.md#rate-semantics: message, sender, file name,
    hash, times)."""

    origin: str = "import"
    mode: str = "partial"
    received_at: datetime | None = None
    message_id: str | None = None
    sender: str | None = None
    subject: str | None = None
    file_name: str | None = None
    file_hash: str | None = None
    rollback_to: int | None = None


def table_ref(row: Any) -> TableRef:
    return TableRef(
        id=row["id"],
        vendor=row["vendor"],
        name=row["name"],
        kind=Kind(row["kind"]),
        current_version=row["current_version"],
        currency=row["currency"],
    )


def version_info(row: Any) -> VersionInfo:
    columns = {
        "number",
        "origin",
        "mode",
        "received_at",
        "created_at",
        "file_name",
        "file_hash",
        "message_id",
        "sender",
        "rows_total",
        "rows_added",
        "rows_closed",
        "rollback_to",
    }
    return VersionInfo(**{c: row[c] for c in columns}, summary=json.loads(row["summary"] or "{}"))
