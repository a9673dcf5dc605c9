"""Versioned rate tables in SQLite, PostgreSQL or MariaDB (docs/operations.md#database,
docs/semantics.md#rate-semantics "Versions").

The hot paths go around SQLAlchemy's per-row machinery on purpose (docs/performance.md#targets):
rows are read with the driver's cursor into polars, and written with ``executemany`` in one
transaction (SQLite, MariaDB) or ``COPY`` (PostgreSQL).  Everything else uses SQLAlchemy Core.

A version is written in one transaction that first locks its rate table (``BEGIN IMMEDIATE``
on SQLite, ``SELECT … FOR UPDATE`` elsewhere), so imports into one table are serialized and a
crash leaves the previous version intact.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import phonenumbers
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ingestd.db.clock import utcnow
from ingestd.db.columns import BoundedText
from ingestd.db.engine import Database
from ingestd.errors import RefusedError, UsageError
from ingestd.rates.model import (
    PRICE,
    SPECS,
    TIME,
    Kind,
    KindSpec,
    in_code_order,
    iso,
    price_text,
    spec_for,
)
from ingestd.rates.schema import (
    RATE_TABLES,
    canonical_decimal,
    rate_snapshots,
    rate_tables,
    versions,
)
from ingestd.rates.semantics import in_effect_at
from ingestd.sheets.cells import ascii_digits
from ingestd.sheets.doubt import Proven

log = logging.getLogger("ingestd.store")

# Called with a stage name at the points where a crash must leave the store consistent; tests
# set it to kill the process there ("rows_written": rows are in, the commit is not).
FAULT_HOOK: Callable[[str], None] | None = None
CHUNK = 5000
# the readings a deck's values may leave open, and what its vendor's earlier decks can prove
PROVEN_READINGS = {"date_order": ("dmy", "mdy"), "hyphen": ("range", "pair")}


def _fault(stage: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(stage)


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


@functools.cache
def text_lengths(table: sa.Table) -> Mapping[str, int]:
    """The characters each bounded text column of ``table`` holds (``String(n)``,
    ``BoundedText``). SQLite ignores the length, PostgreSQL refuses a longer value and
    MariaDB's TEXT stops at 64 KB: ingestd keeps values within it, the same on all three.
    Worked out once per table (the tables are module-level and fixed)."""
    return MappingProxyType(
        {
            column.name: column.type.length
            for column in table.columns
            if isinstance(column.type, sa.String | BoundedText) and column.type.length
        }
    )


def fit_row(table: sa.Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` for a row of ``table``, every text longer than its column cut to the column's
    length: what a message fills in (subject, sender, file name, Message-ID, …) never fails
    an insert."""
    lengths = text_lengths(table)
    return {
        name: value[: lengths[name]] if isinstance(value, str) and name in lengths else value
        for name, value in values.items()
    }


def lookup_digits(number: str, kind: Kind) -> str:
    """The digits a number typed for a lookup is matched by (README "Command line"): digits of
    any script as ASCII; spaces, dashes, dots and parentheses left out. An E.164 number written
    internationally (``+44 (0) 20 7946 0018``, ``0044 20 …``) loses its international prefix
    and the trunk prefix its country writes in parentheses after the country code; a whole
    number is read by libphonenumber (letters, extensions, a trunk prefix written without
    parentheses), a prefix too short to be a number by its digits."""
    text = ascii_digits(number).strip()
    international = re.match(r"\+|00", text)
    if kind is Kind.SMS or international is None:
        digits = _digits_only(text)
    else:
        digits = _international_digits(text[international.end() :].lstrip())
    if not digits:
        raise UsageError(f"{number!r} holds no digits")
    return digits


# "44 (0) 20 …" after the "+": the country code, then a trunk prefix in parentheses
_WRITTEN_TRUNK = re.compile(r"([0-9][0-9 .\-]*?)[ .\-]*\(\s*([0-9]+)\s*\)")


def _international_digits(text: str) -> str:
    """The E.164 digits of a number written after its international prefix."""
    trunk = _WRITTEN_TRUNK.match(text)
    if trunk is not None and trunk.group(2) in _trunk_prefixes(_digits_only(trunk.group(1))):
        text = trunk.group(1) + " " + text[trunk.end() :]
    try:
        number = phonenumbers.parse("+" + text, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return _digits_only(text)


def _trunk_prefixes(country_code: str) -> set[str]:
    """The national (trunk) prefixes of a country calling code's regions (``0`` for 44, ``8``
    for 7, none for 39: Italy's leading 0 is part of the number), from libphonenumber."""
    if not country_code or len(country_code) > 3:
        return set()
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(country_code), ())
    found = set()
    for region in regions:
        meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
            int(country_code), region
        )
        if meta is not None and meta.national_prefix:
            found.add(meta.national_prefix)
    return found


def _digits_only(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


class Store(Database):
    """The rate tables of one database."""

    # --- reading ---------------------------------------------------------------------------

    def tables(self, vendor: str | None = None) -> list[TableRef]:
        q = sa.select(rate_tables).order_by(
            rate_tables.c.vendor, rate_tables.c.kind, rate_tables.c.name
        )
        if vendor is not None:
            q = q.where(rate_tables.c.vendor == vendor)
        with self.engine.connect() as conn:
            return [_table_ref(r) for r in conn.execute(q).mappings()]

    def find_table(
        self, vendor: str, *, name: str | None = None, kind: str | None = None
    ) -> TableRef:
        """The one table that vendor/name/kind designate, or a clear error listing the choices."""
        found = [
            t
            for t in self.tables(vendor)
            if (name is None or t.name == name) and (kind is None or t.kind == kind)
        ]
        if len(found) == 1:
            return found[0]
        if not found:
            have = ", ".join(t.label for t in self.tables(vendor)) or "none"
            wanted = "/".join(x for x in (vendor, kind, name) if x)
            raise RefusedError("no_table", f"no rate table {wanted}; tables of {vendor}: {have}")
        choices = ", ".join(t.label for t in found)
        raise UsageError(f"{vendor} has several tables ({choices}): say which with --table/--kind")

    def versions(self, table: TableRef) -> list[VersionInfo]:
        q = sa.select(versions).where(versions.c.table_id == table.id).order_by(versions.c.number)
        with self.engine.connect() as conn:
            return [_version_info(r) for r in conn.execute(q).mappings()]

    def version(self, table: TableRef, number: int) -> VersionInfo:
        q = sa.select(versions).where(versions.c.table_id == table.id, versions.c.number == number)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            raise RefusedError(
                "no_version",
                f"{table.label} has no version {number} (latest: {table.current_version})",
            )
        return _version_info(row)

    def rows(self, table: TableRef, version: int | None = None) -> pl.DataFrame:
        """The rows of a version (default: the latest) with ``id`` and ``change_class``."""
        with self.engine.connect() as conn:
            return read_rows(conn, table, version)

    def diff(self, table: TableRef, a: int, b: int) -> Diff:
        for n in (a, b):
            if n != 0:
                self.version(table, n)
        lo, hi = sorted((a, b))
        spec = spec_for(table.kind)
        t = spec.table
        with self.engine.connect() as conn:
            # rows that entered after lo and are still there at hi, and rows of lo gone by hi
            entered = _fetch(
                conn,
                table,
                f"version_from > {lo} AND version_from <= {hi} "
                f"AND (version_to IS NULL OR version_to > {hi})",
                t,
            )
            left = _fetch(
                conn,
                table,
                f"version_from <= {lo} AND version_to IS NOT NULL "
                f"AND version_to > {lo} AND version_to <= {hi}",
                t,
            )
        added, removed = (entered, left) if a <= b else (left, entered)
        return Diff.build(spec, a, b, added, removed)

    def lookup(self, table: TableRef, number: str, at: datetime) -> dict | None:
        """The rate in effect at ``at`` for a number: longest prefix (voice), the MCCMNC (sms),
        the number itself (did).  Discontinued and expired rows do not match."""
        digits = lookup_digits(number, table.kind)
        keys = (
            [digits[:n] for n in range(1, len(digits) + 1)]
            if table.kind is Kind.VOICE
            else [digits]
        )
        spec = spec_for(table.kind)
        quoted = ", ".join(f"'{k}'" for k in keys)  # digits only: safe to inline
        with self.engine.connect() as conn:
            rows = _fetch(conn, table, f"version_to IS NULL AND code IN ({quoted})", spec.table)
        if rows.is_empty():
            return None
        live = (
            in_effect_at(rows, at.replace(tzinfo=None))
            .filter(~pl.col("discontinued"))
            .sort(pl.col("code").str.len_chars(), descending=True)
        )
        if live.is_empty():
            return None
        hit = live.row(0, named=True)
        hit["effective_to"] = hit.pop("effective_until")
        return hit

    def proven_readings(self, vendor: str) -> dict[str, Proven]:
        """What the vendor's latest decks proved of the readings their values decide, by the
        choice in their detection reports (``date_order``: "dmy" or "mdy"; ``hyphen``: "range"
        or "pair"), each with the version that proved it; a choice none proved is absent.
        Only those two values of each summary are read, by the database's JSON functions."""
        summary = (
            sa.cast(versions.c.summary, postgresql.JSONB)
            if self.dialect == "postgresql"
            else sa.type_coerce(versions.c.summary, sa.JSON)
        )
        q = (
            sa.select(
                rate_tables.c.kind,
                rate_tables.c.name,
                versions.c.number,
                *[summary[("sheet", c)].as_string().label(c) for c in PROVEN_READINGS],
            )
            .join(versions, versions.c.table_id == rate_tables.c.id)
            .where(rate_tables.c.vendor == vendor, versions.c.origin == "import")
            .order_by(versions.c.created_at.desc(), versions.c.id.desc())
            .limit(50)
        )
        found: dict[str, Proven] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(q).mappings():
                for choice, meanings in PROVEN_READINGS.items():
                    if choice not in found and row[choice] in meanings:
                        where = f"{vendor}/{row['kind']}/{row['name']} version {row['number']}"
                        found[choice] = Proven(row[choice], where)
        return found

    def status(self) -> dict:
        with self.engine.connect() as conn:
            tables = conn.execute(sa.select(sa.func.count()).select_from(rate_tables)).scalar_one()
            nversions = conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one()
            last = conn.execute(
                sa.select(
                    rate_tables.c.vendor,
                    rate_tables.c.kind,
                    rate_tables.c.name,
                    versions.c.number,
                    versions.c.created_at,
                    versions.c.file_name,
                )
                .join(versions, versions.c.table_id == rate_tables.c.id)
                .where(versions.c.number == rate_tables.c.current_version)
                .order_by(versions.c.created_at.desc())
                .limit(20)
            ).all()
        return {
            "tables": tables,
            "versions": nversions,
            "last_imports": [
                {
                    "vendor": v,
                    "kind": k,
                    "table": n,
                    "version": num,
                    "imported_at": iso(at),
                    "file_name": fn,
                }
                for v, k, n, num, at, fn in last
            ],
        }

    # --- writing ---------------------------------------------------------------------------

    def begin_write(self):
        """``engine.begin()`` for a transaction that writes. On SQLite it takes the write lock
        at BEGIN (IMMEDIATE): a deferred transaction that reads, then writes after another
        connection committed, fails at once with "database is locked" (a WAL snapshot cannot
        be upgraded, so the busy timeout does not help); IMMEDIATE waits its turn instead."""
        return self.engine.execution_options(ingestd_write=True).begin()

    @contextmanager
    def writing(
        self, vendor: str, kind: Kind | str, name: str, *, create: bool = True
    ) -> Iterator[Writer]:
        """One transaction holding the table's lock; committed only if a version was written."""
        kind = Kind(kind)
        with self.engine.connect() as conn:
            conn.execution_options(ingestd_write=True)
            trans = conn.begin()
            try:
                writer = Writer(self, conn, _lock_table(conn, vendor, kind, name, create=create))
                yield writer
                if writer.written is not None:
                    _fault("before_commit")
                    trans.commit()
                else:
                    trans.rollback()
            except BaseException:
                if trans.is_active:
                    trans.rollback()
                raise


class Writer:
    """What an import may do inside the locked transaction of one rate table."""

    def __init__(self, store: Store, conn: Connection, table: TableRef):
        self.store = store
        self.conn = conn
        self.table = table
        self.spec = spec_for(table.kind)
        self.written: int | None = None
        self._current: pl.DataFrame | None = None  # the latest version's rows, once read
        self._snapshot: _SnapshotBase | None = None  # the snapshot they were read from

    def duplicate_of(self, file_hash: str) -> tuple[int, str | None] | None:
        """The latest version that already holds this exact file, if any, and the Message-ID
        it came with."""
        q = (
            sa.select(versions.c.number, versions.c.message_id)
            .where(
                versions.c.table_id == self.table.id,
                versions.c.file_hash == file_hash,
                versions.c.origin == "import",
            )
            .order_by(versions.c.number.desc())
            .limit(1)
        )
        found = self.conn.execute(q).first()
        return None if found is None else (found.number, found.message_id)

    def current_rows(self, ahead: RowsAhead | None = None) -> pl.DataFrame:
        """The latest version's rows (with ``id``), sorted by code and effective_from; those
        read ``ahead`` if they are this table's at its current version."""
        if self._current is None:
            found = ahead.take(self.table) if ahead is not None else None
            if found is None:
                found = _current_rows(self.conn, self.table)
            self._current, self._snapshot = found
        return self._current

    def rows_at(self, version: int) -> pl.DataFrame:
        return read_rows(self.conn, self.table, version)

    def write_version(
        self,
        inserts: pl.DataFrame,
        closes: pl.Series,
        provenance: Provenance,
        summary: dict | Callable[[], dict],
    ) -> int:
        """Write a new version: close the rows it drops, insert the rows it adds.  ``summary``
        may be a function, called once the rows are in (what it reports may be worked out
        meanwhile)."""
        if self.written is not None:
            raise RuntimeError("one version per transaction")
        number = self.table.current_version + 1
        now = utcnow()
        table = RATE_TABLES[self.table.kind]
        ids = closes.to_list()
        for i in range(0, len(ids), CHUNK):
            self.conn.execute(
                sa.update(table).where(table.c.id.in_(ids[i : i + CHUNK])).values(version_to=number)
            )
        # the snapshot stays while few rows changed since it: they are read back beside it
        keep = self._snapshot is not None and self._snapshot.keeps(inserts.height + len(ids))
        first_id = None if keep else _next_row_id(self.conn, table)
        # a new snapshot is built from values alone (polars, off the GIL) while the driver
        # inserts: two cores busy instead of one (docs/performance.md#targets)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot") as pool:
            snapshot = (
                pool.submit(_snapshot_rows, self._current, closes, inserts, first_id)
                if self._current is not None and first_id is not None
                else None
            )
            _bulk_insert(self.conn, self.spec, self.table.id, number, inserts)
            _fault("rows_written")
            if not keep:
                self._write_snapshot(number, inserts.height, first_id, snapshot)
        if self._current is not None:  # the rows read in this transaction, less and plus
            total = self._current.height - len(ids) + inserts.height
        else:
            total = self.conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.table_id == self.table.id, table.c.version_to.is_(None))
            ).scalar_one()
        self.conn.execute(
            versions.insert().values(
                fit_row(
                    versions,
                    {
                        "table_id": self.table.id,
                        "number": number,
                        "origin": provenance.origin,
                        "mode": provenance.mode,
                        "rollback_to": provenance.rollback_to,
                        "received_at": provenance.received_at,
                        "created_at": now,
                        "message_id": provenance.message_id,
                        "sender": provenance.sender,
                        "subject": provenance.subject,
                        "file_name": provenance.file_name,
                        "file_hash": provenance.file_hash,
                        "rows_total": total,
                        "rows_added": inserts.height,
                        "rows_closed": len(ids),
                        "summary": json.dumps(
                            summary() if callable(summary) else summary,
                            default=str,
                            sort_keys=True,
                        ),
                    },
                )
            )
        )
        currency = self.table.currency or _single_currency(inserts)
        self.conn.execute(
            rate_tables.update()
            .where(rate_tables.c.id == self.table.id)
            .values(current_version=number, updated_at=now, currency=currency)
        )
        self.written = number
        return number

    def _write_snapshot(
        self, number: int, count: int, first_id: int | None, rows: Future | None
    ) -> None:
        """Keep the new version's rows as the table's snapshot when they are known exactly:
        the rows read before, less the closed ones, plus the inserted ones with the ids SQLite
        gave them (checked, not assumed); otherwise drop the old snapshot so nobody trusts
        it."""
        self.conn.execute(rate_snapshots.delete().where(rate_snapshots.c.table_id == self.table.id))
        if rows is None or first_id is None:
            return
        if not _numbered_from(self.conn, self.spec, first_id, count):
            return
        row_count, id_sum, data = rows.result()
        self.conn.execute(
            rate_snapshots.insert().values(
                table_id=self.table.id,
                version=number,
                row_count=row_count,
                id_sum=id_sum,
                data=data,
            )
        )


def _current_rows(conn: Connection, table: TableRef) -> tuple[pl.DataFrame, _SnapshotBase | None]:
    """The latest version's rows, from the snapshot where it serves, else from the rows."""
    found = _read_snapshot(conn, table)
    return found if found is not None else (read_rows(conn, table, None), None)


class RowsAhead:
    """A table's current rows read on another thread, on a connection of its own, before the
    import takes the table's lock (while its deck is still being read: a tenth of a second of
    a million-row re-import, docs/performance.md#targets).  A version's rows never change, so they
    are used if the table is still at that version once locked; otherwise, or if the read failed,
    they are read again under the lock."""

    def __init__(self, store: Store, vendor: str, kind: Kind | str, name: str):
        self._result: tuple[int, int, pl.DataFrame, _SnapshotBase | None] | None = None
        self._thread = threading.Thread(
            target=self._read, args=(store, vendor, Kind(kind), name), name="rows-ahead"
        )
        self._thread.start()

    def _read(self, store: Store, vendor: str, kind: Kind, name: str) -> None:
        try:
            with store.engine.connect() as conn:
                row = _table_row(conn, vendor, kind, name, lock=False)
                if row is None or not row["current_version"]:
                    return
                table = _table_ref(row)
                rows, base = _current_rows(conn, table)
                self._result = (table.id, table.current_version, rows, base)
        except (sa.exc.SQLAlchemyError, pl.exceptions.PolarsError, OSError) as e:
            # only an optimisation: the import reads the rows itself, and reports what fails
            log.debug("event=store.rows_ahead_failed error=%s", f"{e}"[:200])

    def take(self, table: TableRef) -> tuple[pl.DataFrame, _SnapshotBase | None] | None:
        """The rows read ahead if they are ``table``'s at its current version (once)."""
        self._thread.join()
        found, self._result = self._result, None
        if found is None or found[:2] != (table.id, table.current_version):
            return None
        return found[2], found[3]


def _snapshot_rows(
    current: pl.DataFrame, closes: pl.Series, inserts: pl.DataFrame, first_id: int
) -> tuple[int, int, bytes]:
    """The rows of the version being written, if SQLite numbers the inserted rows from
    ``first_id`` on: their count, the sum of their ids and their compressed Arrow IPC bytes
    (the frame itself is not kept: memory, docs/performance.md#targets)."""
    ids = pl.int_range(first_id, first_id + inserts.height, dtype=pl.Int64, eager=True)
    target = current.schema
    kept = current.filter(~pl.col("id").is_in(closes.implode()))
    added = inserts.with_columns(id=ids).select(list(target)).cast(dict(target))
    # both in code order, merged by code: the rows of one code put the kept ones first,
    # which is their order unless a new row goes before a kept one (rare: then sorted); one
    # copy of a million rows instead of three (memory, docs/performance.md#targets)
    if not in_code_order(added):  # a plan's rows come in code order: no copy to sort
        added = added.sort("code", "effective_from")
    rows = _merge_in_code_order(kept, added)
    del kept, added
    buffer = io.BytesIO()
    # lz4: twice the bytes of zstd here, but read and written in two thirds of the time
    rows.write_ipc(buffer, compression="lz4")
    count = rows.height
    id_sum = int(rows["id"].sum() or 0)
    return count, id_sum, buffer.getvalue()


def _merge_in_code_order(rows: pl.DataFrame, added: pl.DataFrame) -> pl.DataFrame:
    """Rows in code order with some more in code order: merged by code, the rows of one code
    put the first frame's first, which is their order unless an added row goes before one of
    them (rare: then sorted); one copy of a million rows instead of three (memory,
    docs/performance.md#targets)."""
    if added.is_empty():
        return rows
    if rows.is_empty():  # a first import: the added rows are the version
        return added
    if in_code_order(rows):
        merged = rows.merge_sorted(added, key="code")
        return merged if in_code_order(merged) else merged.sort("code", "effective_from")
    return pl.concat([rows, added]).sort("code", "effective_from")


# --- helpers -----------------------------------------------------------------------------------


def _table_ref(row: Any) -> TableRef:
    return TableRef(
        id=row["id"],
        vendor=row["vendor"],
        name=row["name"],
        kind=Kind(row["kind"]),
        current_version=row["current_version"],
        currency=row["currency"],
    )


def _version_info(row: Any) -> VersionInfo:
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


def _single_currency(frame: pl.DataFrame) -> str | None:
    if "currency" not in frame.columns:
        return None
    values = frame["currency"].drop_nulls().unique()
    return values[0] if values.len() == 1 else None


def _table_row(conn: Connection, vendor: str, kind: Kind, name: str, *, lock: bool) -> Any:
    """The rate_tables row of vendor/kind/name (None if there is none), locked for the
    transaction with ``lock``."""
    q = sa.select(rate_tables).where(
        rate_tables.c.vendor == vendor,
        rate_tables.c.kind == str(kind),
        rate_tables.c.name == name,
    )
    if lock and conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already holds it
        q = q.with_for_update()
    return conn.execute(q).mappings().first()


def _lock_table(conn: Connection, vendor: str, kind: Kind, name: str, *, create: bool) -> TableRef:
    def select():
        return _table_row(conn, vendor, kind, name, lock=True)

    row = select()
    if row is None:
        if not create:
            raise RefusedError("no_table", f"no rate table {vendor}/{kind}/{name}")
        now = utcnow()
        try:
            with conn.begin_nested():
                conn.execute(
                    rate_tables.insert().values(
                        vendor=vendor,
                        kind=str(kind),
                        name=name,
                        current_version=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            pass  # another daemon sharing the database created it a moment ago: lock that one
        row = select()
    return _table_ref(row)


def _fetch(conn: Connection, table: TableRef, where: str, sql_table: str) -> pl.DataFrame:
    """Rows of a table by a WHERE clause built from trusted integers only, into polars."""
    spec = spec_for(table.kind)
    names = ["id", *spec.row_columns, "change_class"]
    quote = conn.dialect.identifier_preparer.quote  # `interval` is a keyword in MySQL
    sql = (
        f"SELECT {', '.join(quote(n) for n in names)} FROM {sql_table} "
        f"WHERE table_id = {int(table.id)} AND {where}"
    )
    return _to_frame(_query_frame(conn, sql, names), names, spec)


def _query_frame(conn: Connection, sql: str, names: list[str]) -> pl.DataFrame:
    """A query's rows as columns, by the fastest path each database offers
    (docs/performance.md#targets)."""
    dialect = conn.dialect.name
    raw = conn.connection.dbapi_connection
    if dialect == "postgresql":
        # COPY in this transaction: text, so NUMERIC stays exact
        buffer = bytearray()
        with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buffer += chunk
        if not buffer:
            return pl.DataFrame(schema=dict.fromkeys(names, pl.String))
        return pl.read_csv(bytes(buffer), has_header=False, new_columns=names, infer_schema=False)
    # SQLite: the driver's cursor. (A second SQLite library in the process, as connectorx or
    # ADBC bring, must not open the same file: POSIX locks are per process, and its close would
    # drop ours and delete the WAL under us.)
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    if dialect == "sqlite":  # storage types are known: no inference over a million rows
        return pl.DataFrame(rows, schema=_sqlite_types(names), orient="row")
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def _sqlite_types(names: list[str]) -> dict[str, pl.DataType]:
    """How SQLite hands the columns over: prices and times as text, flags as integers."""
    model = {"id": pl.Int64, "change_class": pl.String}
    for spec in SPECS.values():
        model.update(spec.schema())
    text = (PRICE, TIME, pl.String)
    return {n: pl.String if model[n] in text else pl.Int64 for n in names}


def _next_row_id(conn: Connection, table: sa.Table) -> int | None:
    """The id SQLite gives the next row (one above the largest); None on other databases."""
    if conn.dialect.name != "sqlite":
        return None
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one() + 1


def _numbered_from(conn: Connection, spec: KindSpec, first: int, count: int) -> bool:
    """Whether the rows just inserted have exactly the ids ``first … first+count-1`` in
    insertion order (SQLite's rule for a table without AUTOINCREMENT, checked, not assumed)."""
    if count == 0:
        return True
    table = RATE_TABLES[spec.kind]
    got = conn.execute(
        sa.select(sa.func.count(), sa.func.max(table.c.id)).where(table.c.id >= first)
    ).one()
    return tuple(got) == (count, first + count - 1)


# A snapshot stays while the rows added and closed since it was written are at most this share
# of its rows: an import then writes only its own rows, and reading them back beside the
# snapshot costs a fraction of writing a million rows again (docs/performance.md#targets).  Beyond
# it, the next version writes a new snapshot.
SNAPSHOT_DELTA_SHARE = 0.05


@dataclass(frozen=True)
class _SnapshotBase:
    """The snapshot the current rows were read from: its version, its rows, and how many rows
    were added or closed since."""

    version: int
    rows: int
    changed: int

    def keeps(self, more: int) -> bool:
        """Whether the snapshot may stay once ``more`` rows are added or closed."""
        return self.changed + more <= self.rows * SNAPSHOT_DELTA_SHARE


def _read_snapshot(conn: Connection, table: TableRef) -> tuple[pl.DataFrame, _SnapshotBase] | None:
    """The latest version's rows from the table's snapshot and the rows written since it,
    if together they are still exactly the latest version's rows (count and id sum)."""
    if conn.dialect.name != "sqlite":
        return None
    found = conn.execute(
        sa.select(rate_snapshots).where(rate_snapshots.c.table_id == table.id)
    ).first()
    if found is None or found.version > table.current_version:
        return None
    rows = RATE_TABLES[table.kind]
    # the snapshot is unpacked (polars, off the GIL) while SQLite counts the rows
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot") as pool:
        unpacked = pool.submit(pl.read_ipc, found.data)
        count, id_sum = conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(rows.c.id), 0)).where(
                rows.c.table_id == table.id, rows.c.version_to.is_(None)
            )
        ).one()
        current = unpacked.result()
    changed = 0
    if found.version < table.current_version:
        since = int(found.version)
        closed = pl.Series(
            "id",
            conn.execute(
                sa.select(rows.c.id).where(
                    rows.c.table_id == table.id,
                    rows.c.version_to > since,
                    rows.c.version_from <= since,
                )
            )
            .scalars()
            .all(),
            pl.Int64,
        )
        live_since = f"version_from > {since} AND version_to IS NULL"
        added = _fetch(conn, table, live_since, spec_for(table.kind).table).sort(
            "code", "effective_from"
        )
        changed = closed.len() + added.height
        if closed.len():
            current = current.filter(~pl.col("id").is_in(closed.implode()))
        current = _merge_in_code_order(current, added.select(current.columns))
    if (count, id_sum) != (current.height, int(current["id"].sum() or 0)):
        return None
    return current, _SnapshotBase(int(found.version), int(found.row_count), changed)


def read_rows(conn: Connection, table: TableRef, version: int | None) -> pl.DataFrame:
    spec = spec_for(table.kind)
    if version is None:
        where = "version_to IS NULL"
    else:
        v = int(version)
        where = f"version_from <= {v} AND (version_to IS NULL OR version_to > {v})"
    return _fetch(conn, table, where, spec.table).sort("code", "effective_from")


def _to_frame(raw: pl.DataFrame, names: list[str], spec: KindSpec) -> pl.DataFrame:
    """Driver values (text, or native types) → the model's dtypes."""
    target = {"id": pl.Int64, **spec.schema(), "change_class": pl.String}
    if raw.is_empty():
        return pl.DataFrame(schema=target)
    out = []
    for name in names:
        col = raw[name]
        want = target[name]
        if col.dtype == pl.String and want == PRICE:
            col = col.str.to_decimal(scale=PRICE.scale)
        elif col.dtype == pl.String and want == TIME:
            col = col.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us")
        elif col.dtype == pl.String and want == pl.Boolean:
            # PostgreSQL COPY writes t/f; an empty cell is NULL
            col = pl.select(
                pl.when(col.is_null()).then(None).otherwise(col.is_in(["t", "true", "1"]))
            )
            col = col.to_series()
        elif col.dtype.is_numeric() and want == pl.Boolean:
            col = col != 0
        out.append(col.cast(want).alias(name))
    return pl.DataFrame(out)


def _db_frame(spec: KindSpec, inserts: pl.DataFrame, dialect: str) -> pl.DataFrame:
    """The rows to insert, in column order, as the driver wants them: prices and times as
    text, flags as 0/1 (a Python bool is not one of the types the sqlite3 module binds
    directly: every one goes through its adapter lookup, the dearest part of a million-row
    insert)."""
    frame = inserts.select(*spec.row_columns, "change_class")
    if dialect == "postgresql":
        return frame  # COPY reads polars' CSV text as is
    texts = {
        c: price_text(pl.col(c)) if t == PRICE else pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S")
        for c, t in frame.schema.items()
        if t in (PRICE, TIME)
    }
    return frame.with_columns(
        *(_by_distinct(frame[c], text) for c, text in texts.items()),
        *(pl.col(c).cast(pl.Int8) for c, t in frame.schema.items() if t == pl.Boolean),
    )


# A value written into the statement instead of bound: digits, or text of these characters
# only (no quote, no backslash, whatever the server's escaping rules).
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9 _.:+-]{0,64}")


def _constant_columns(frame: pl.DataFrame) -> dict[str, str]:
    """The columns holding one value in every row, as SQL literals: a first import's
    change_class, a deck without end dates or currency.  Each bound value costs the driver a
    call, and NULL the most (the sqlite3 module looks for an adapter first)."""
    out = {}
    for column in frame.get_columns():
        if column.name == "code":  # the key differs from row to row; it keeps the frame's rows
            continue
        nulls = column.null_count()
        if nulls == column.len():
            out[column.name] = "NULL"
            continue
        if nulls:
            continue
        first = column[0]
        if isinstance(first, int) and not isinstance(first, bool):
            literal = str(int(first))
        elif isinstance(first, str) and _PLAIN_TEXT.fullmatch(first):
            literal = f"'{first}'"
        else:
            continue
        if (column == first).all():
            out[column.name] = literal
    return out


def _by_distinct(column: pl.Series, text: pl.Expr) -> pl.Series:
    """``text`` of a column computed once per distinct value: a deck has a few dates and some
    thousand prices over a million rows, and formatting is the costly part."""
    name = column.name
    distinct = column.unique().to_frame()
    if distinct.height * 4 > column.len():
        return column.to_frame().select(text).to_series()
    mapping = distinct.with_columns(text.alias("_text"))
    return (
        column.to_frame()
        .join(mapping, on=name, how="left", nulls_equal=True, maintain_order="left")
        .get_column("_text")
        .alias(name)
    )


# Rows per INSERT statement on SQLite: one statement carrying many rows binds its parameters in
# one go, which halves the cost of a million-row version against one row per statement
# (docs/performance.md#targets).
SQLITE_ROWS_PER_INSERT = 500


def _bulk_insert(
    conn: Connection, spec: KindSpec, table_id: int, version: int, inserts: pl.DataFrame
) -> None:
    if inserts.is_empty():
        return
    dialect = conn.dialect.name
    frame = _db_frame(spec, inserts, dialect)
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(n) for n in ("table_id", "version_from", *frame.columns))
    raw = conn.connection.dbapi_connection
    if dialect == "postgresql":
        frame = frame.select(
            pl.lit(table_id, pl.Int64).alias("table_id"),
            pl.lit(version, pl.Int64).alias("version_from"),
            pl.all(),
        )
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {spec.table} ({names}) FROM STDIN (FORMAT csv)") as copy,
        ):
            copy.write(frame.write_csv(include_header=False))
        return
    mark = "?" if dialect == "sqlite" else "%s"
    # the table and version are the same for every row, and so are some columns of a deck:
    # literals, not parameters
    constant = _constant_columns(frame)
    row = ", ".join(constant.get(c, mark) for c in frame.columns)
    row = f"({int(table_id)}, {int(version)}, {row})"
    frame = frame.drop(list(constant))
    insert = f"INSERT INTO {spec.table} ({names}) VALUES "
    cursor = raw.cursor()
    try:
        if dialect == "sqlite":
            per = SQLITE_ROWS_PER_INSERT
            full = frame.height - frame.height % per
            if full:
                cursor.executemany(insert + ", ".join([row] * per), _flat_chunks(frame[:full], per))
            if full < frame.height:
                tail = frame[full:]
                cursor.execute(insert + ", ".join([row] * tail.height), _flat(tail))
        else:  # PyMySQL turns executemany of one INSERT … VALUES into multi-row statements
            for chunk in frame.iter_slices(n_rows=CHUNK):
                cursor.executemany(insert + row, chunk.rows())
    finally:
        cursor.close()


def _flat(chunk: pl.DataFrame) -> list[Any]:
    """A chunk's cells row after row, built column-wise (no per-row Python tuples)."""
    width = chunk.width
    cells: list[Any] = [None] * (chunk.height * width)
    for j, column in enumerate(chunk.get_columns()):
        cells[j::width] = column.to_list()
    return cells


def _flat_chunks(frame: pl.DataFrame, per: int) -> Iterator[list[Any]]:
    for chunk in frame.iter_slices(n_rows=per):
        yield _flat(chunk)


@dataclass
class Diff:
    """What changed between two versions: rows added and removed, paired by code and instant."""

    kind: Kind
    from_version: int
    to_version: int
    added: pl.DataFrame
    removed: pl.DataFrame
    changed: pl.DataFrame  # code, effective_from, the old and new values
    counts: dict[str, int]

    @classmethod
    def build(
        cls, spec: KindSpec, a: int, b: int, added: pl.DataFrame, removed: pl.DataFrame
    ) -> Diff:
        key = ["code", "effective_from"]
        # a row closed and put back with the same values (a rollback) is no change
        cols = list(spec.row_columns)
        added, removed = (
            added.join(removed, on=cols, how="anti", nulls_equal=True),
            removed.join(added, on=cols, how="anti", nulls_equal=True),
        )
        changed = added.join(removed, on=key, how="inner", suffix="_old")
        only_added = added.join(removed, on=key, how="anti")
        only_removed = removed.join(added, on=key, how="anti")
        counts: dict[str, int] = {}
        for cls_name, n in added["change_class"].value_counts().iter_rows():
            counts[cls_name] = n
        counts["withdrawn"] = only_removed.filter(
            ~pl.col("code").is_in(added["code"].implode())
        ).height
        return cls(
            spec.kind, a, b, only_added.sort(key), only_removed.sort(key), changed.sort(key), counts
        )

    def as_dict(self, limit: int | None = None) -> dict:
        def rows(frame: pl.DataFrame) -> list[dict]:
            frame = frame.drop([c for c in frame.columns if c in ("id", "id_old")])
            if limit is not None:
                frame = frame.head(limit)
            return [{k: _jsonable(v) for k, v in r.items()} for r in frame.iter_rows(named=True)]

        return {
            "kind": str(self.kind),
            "from": self.from_version,
            "to": self.to_version,
            "counts": self.counts,
            "added": rows(self.added),
            "changed": rows(self.changed),
            "removed": rows(self.removed),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, datetime):
        return iso(value)
    return value
