"""Writing a version of a rate table: in one transaction that holds the table's lock, the rows
it drops closed and the rows it adds inserted in bulk (``executemany`` on SQLite and MariaDB,
``COPY`` on PostgreSQL), and on SQLite a snapshot of the latest rows beside it; the current
rows read ahead on a second thread while a deck is read (``RowsAhead``)."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ingestd.db.clock import utcnow
from ingestd.db.columns import fit_row
from ingestd.db.engine import Database
from ingestd.errors import RefusedError
from ingestd.rates.model import (
    PRICE,
    TIME,
    Kind,
    KindSpec,
    in_code_order,
    price_text,
    spec_for,
)
from ingestd.rates.records import Provenance, TableRef, table_ref
from ingestd.rates.rows import fetch, read_rows
from ingestd.rates.schema import (
    RATE_TABLES,
    rate_snapshots,
    rate_tables,
    versions,
)

log = logging.getLogger("ingestd.store")

# Called with a stage name at the points where a crash must leave the store consistent; tests
# set it to kill the process there ("rows_written": rows are in, the commit is not).
FAULT_HOOK: Callable[[str], None] | None = None
CHUNK = 5000


def fault(stage: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(stage)


class Writer:
    """What an import may do inside the locked transaction of one rate table."""

    def __init__(self, store: Database, conn: Connection, table: TableRef):
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
            fault("rows_written")
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

    def __init__(self, store: Database, vendor: str, kind: Kind | str, name: str):
        self._result: tuple[int, int, pl.DataFrame, _SnapshotBase | None] | None = None
        self._thread = threading.Thread(
            target=self._read, args=(store, vendor, Kind(kind), name), name="rows-ahead"
        )
        self._thread.start()

    def _read(self, store: Database, vendor: str, kind: Kind, name: str) -> None:
        try:
            with store.engine.connect() as conn:
                row = _table_row(conn, vendor, kind, name, lock=False)
                if row is None or not row["current_version"]:
                    return
                table = table_ref(row)
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


def lock_table(conn: Connection, vendor: str, kind: Kind, name: str, *, create: bool) -> TableRef:
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
    return table_ref(row)


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
        added = fetch(conn, table, live_since, spec_for(table.kind).table).sort(
            "code", "effective_from"
        )
        changed = closed.len() + added.height
        if closed.len():
            current = current.filter(~pl.col("id").is_in(closed.implode()))
        current = _merge_in_code_order(current, added.select(current.columns))
    if (count, id_sum) != (current.height, int(current["id"].sum() or 0)):
        return None
    return current, _SnapshotBase(int(found.version), int(found.row_count), changed)


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
