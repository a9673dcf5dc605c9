"""Rate tables: which there are, their versions, their rows at a version or an instant, the
diff of two versions, exports, lookups, rollback and purge.

A table is named as the command line names it: the vendor, and the table's name and kind when
the vendor has several (``Store.find_table``: an unknown one is refused with reason
``no_table``, an ambiguous one is a usage error)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import polars as pl

from ingestd import ingest
from ingestd.db.clock import utcnow
from ingestd.rates.diff import Diff
from ingestd.rates.export import write_csv, write_export
from ingestd.rates.model import Kind, iso, spec_for
from ingestd.rates.records import TableRef, VersionInfo
from ingestd.rates.schema import canonical_decimal
from ingestd.rates.timeline import in_effect_at
from ingestd.service.app import App


@dataclass(frozen=True)
class TableVersions:
    table: TableRef
    versions: list[VersionInfo]

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table.as_dict(), "versions": [v.as_dict() for v in self.versions]}


@dataclass(frozen=True)
class TableDiff:
    table: TableRef
    diff: Diff

    def as_dict(self, limit: int | None = None) -> dict[str, Any]:
        return {"table": self.table.as_dict(), **self.diff.as_dict(limit)}


@dataclass(frozen=True)
class Rows:
    """The rows of a version (``version`` None: the latest), or of it the ones in effect at
    ``at``."""

    table: TableRef
    version: int | None
    at: datetime | None
    frame: pl.DataFrame

    def write(self, out: BinaryIO, fmt: str = "csv", *, extended: bool = False) -> int:
        """Write them as an OpenTWPS file (csv, xlsx or json); returns how many rows."""
        return write_export(self.frame, self.table.kind, fmt, out, extended=extended)

    def export(self, fmt: str = "csv", *, extended: bool = False) -> bytes:
        out = io.BytesIO()
        self.write(out, fmt, extended=extended)
        return out.getvalue()


@dataclass(frozen=True)
class Lookup:
    """The rate of ``number`` in ``table`` at ``at``: the row that matched (its prices exact
    decimals, ``effective_to`` the end of its effect), or None."""

    table: TableRef
    number: str
    at: datetime
    match: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        match = None
        if self.match is not None:
            prices = spec_for(self.table.kind).prices
            match = {
                k: (
                    canonical_decimal(v)
                    if k in prices and v is not None
                    else iso(v) or "-"
                    if isinstance(v, datetime)
                    else v
                )
                for k, v in self.match.items()
                if k != "id"
            }
        return {
            "table": self.table.as_dict(),
            "number": self.number,
            "at": iso(self.at) or "-",
            "match": match,
        }

    @property
    def price(self) -> Any:
        """The price that decides (the kind's first rate price), None without a match."""
        if self.match is None:
            return None
        return self.match.get(spec_for(self.table.kind).rate_prices[0])


@dataclass(frozen=True)
class Rollback:
    """``table`` as it was found, and the version the rollback wrote."""

    table: TableRef
    to: int
    version: VersionInfo

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table.as_dict(), "version": self.version.as_dict()}


def tables(app: App, vendor: str | None = None) -> list[TableRef]:
    """Every rate table (of one vendor), by vendor, kind and name."""
    return app.store.tables(vendor)


def find_table(
    app: App, vendor: str, *, table: str | None = None, kind: str | None = None
) -> TableRef:
    return app.store.find_table(vendor, name=table, kind=kind)


def versions(
    app: App, vendor: str, *, table: str | None = None, kind: str | None = None
) -> TableVersions:
    found = find_table(app, vendor, table=table, kind=kind)
    return TableVersions(found, app.store.versions(found))


def version(
    app: App, vendor: str, number: int, *, table: str | None = None, kind: str | None = None
) -> VersionInfo:
    """One version; one the table does not have is refused (``no_version``)."""
    return app.store.version(find_table(app, vendor, table=table, kind=kind), number)


def rows(
    app: App,
    vendor: str,
    *,
    table: str | None = None,
    kind: str | None = None,
    version: int | None = None,
    at: datetime | None = None,
) -> Rows:
    """The rows of ``version`` (default: the latest), only those in effect at ``at`` when
    given (naive UTC)."""
    found = find_table(app, vendor, table=table, kind=kind)
    if version is not None:
        app.store.version(found, version)  # refused when there is no such version
    frame = app.store.rows(found, version)
    if at is not None:
        frame = in_effect_at(frame, at).select(frame.columns)
    return Rows(found, version, at, frame)


def export(
    app: App,
    vendor: str,
    *,
    table: str | None = None,
    kind: str | None = None,
    version: int | None = None,
    at: datetime | None = None,
    fmt: str = "csv",
    extended: bool = False,
    out: BinaryIO | None = None,
) -> bytes | int:
    """The rows as an OpenTWPS file: written to ``out`` (returns how many rows), else
    returned as bytes."""
    selected = rows(app, vendor, table=table, kind=kind, version=version, at=at)
    if out is not None:
        return selected.write(out, fmt, extended=extended)
    return selected.export(fmt, extended=extended)


@dataclass(frozen=True)
class RowsPage:
    """A page of a version's rows: ``frame`` (only those in effect at the instant asked), the
    last code the page read (where the next begins), whether more follow."""

    frame: pl.DataFrame
    last: str
    more: bool


def rows_page(
    app: App,
    table: TableRef,
    *,
    version: int | None,
    after: str | None,
    rows: int,
    at: datetime | None = None,
) -> RowsPage:
    """About ``rows`` rows of a version from the code after ``after``, a code's rows
    together, read by one indexed query whatever the table's size."""
    part, more = app.store.rows_page(table, version, after, rows)
    last = part["code"][-1] if not part.is_empty() else (after or "")
    if at is not None:
        part = in_effect_at(part, at).select(part.columns)
    return RowsPage(part, last, more)


def csv_parts(
    app: App, table: TableRef, *, version: int | None = None, at: datetime | None = None
) -> Iterator[bytes]:
    """The OpenTWPS CSV of a version (only the rows in effect at ``at`` when given) in pieces,
    read part by part from the store: a table of any size in the memory of one part."""
    header = True
    for part in app.store.rows_in_parts(table, version):
        if at is not None:
            part = in_effect_at(part, at).select(part.columns)
        if part.is_empty() and not header:
            continue
        out = io.BytesIO()
        write_csv(part, table.kind, out, header=header)
        header = False
        yield out.getvalue()
    if header:  # an empty table: the header alone
        out = io.BytesIO()
        write_csv(app.store.rows(table, version).clear(), table.kind, out, header=True)
        yield out.getvalue()


def diff(
    app: App,
    vendor: str,
    from_version: int,
    to_version: int,
    *,
    table: str | None = None,
    kind: str | None = None,
) -> TableDiff:
    """What changed from one version to another (either order; 0 is the empty table)."""
    found = find_table(app, vendor, table=table, kind=kind)
    return TableDiff(found, app.store.diff(found, from_version, to_version))


def lookup(
    app: App,
    vendor: str,
    number: str,
    *,
    table: str | None = None,
    kind: str | None = None,
    at: datetime | None = None,
) -> Lookup:
    """The rate for a number at an instant (default: now): longest prefix (voice), the MCCMNC
    (sms), the number itself (did)."""
    found = find_table(app, vendor, table=table, kind=kind)
    at = at or utcnow()
    return Lookup(found, number, at, app.store.lookup(found, number, at))


def lookup_all(
    app: App, number: str, *, kind: str = Kind.VOICE, at: datetime | None = None
) -> list[Lookup]:
    """The rate for a number in every vendor's tables of ``kind`` that has one, cheapest
    first (by the kind's deciding price as the tables state it, each in its own currency);
    forbidden destinations after the others."""
    at = at or utcnow()
    found = [
        Lookup(t, number, at, app.store.lookup(t, number, at))
        for t in app.store.tables()
        if t.kind == kind
    ]
    hits = [h for h in found if h.match is not None]
    return sorted(
        hits,
        key=lambda h: (bool(h.match["forbidden"]), h.price is None, h.price or 0, h.table.label),
    )


def rollback(
    app: App, vendor: str, to: int, *, table: str | None = None, kind: str | None = None
) -> Rollback:
    """A new version whose content equals version ``to`` (history is never rewritten)."""
    found = find_table(app, vendor, table=table, kind=kind)
    number = ingest.rollback(app.store, found, to)
    return Rollback(found, to, app.store.version(found, number))


def purge(
    app: App,
    vendor: str,
    *,
    table: str | None = None,
    kind: str | None = None,
    now: datetime | None = None,
    retention_days: float | None = None,
) -> VersionInfo | None:
    """A new version without the codes discontinued longer ago than ``retention_days``
    (default: the vendor's ``discontinued_retention_days``); None when there is nothing to
    purge."""
    found = find_table(app, vendor, table=table, kind=kind)
    if retention_days is None:
        retention_days = app.config.vendor(found.vendor).policy.discontinued_retention_days
    number = ingest.purge_discontinued(
        app.store, found, now=now or utcnow(), retention_days=retention_days
    )
    return None if number is None else app.store.version(found, number)
