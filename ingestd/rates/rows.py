"""Reading a rate table's rows into polars, around SQLAlchemy's per-row machinery: the
driver's cursor straight into a frame (docs/performance.md#targets)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ingestd.rates.model import (
    PRICE,
    SPECS,
    TIME,
    KindSpec,
    spec_for,
)
from ingestd.rates.records import TableRef


def fetch(conn: Connection, table: TableRef, where: str, sql_table: str) -> pl.DataFrame:
    """Rows of a table by a WHERE clause built from trusted integers only, into polars."""
    spec = spec_for(table.kind)
    names = ["id", *spec.row_columns, "change_class"]
    quote = conn.dialect.identifier_preparer.quote  # `interval` is a keyword in MySQL
    sql = (
        f"SELECT {', '.join(quote(n) for n in names)} FROM {sql_table} "
        f"WHERE table_id = {int(table.id)} AND {where}"
    )
    return to_frame(query_frame(conn, sql, names), names, spec)


def query_frame(conn: Connection, sql: str, names: list[str]) -> pl.DataFrame:
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
        return pl.DataFrame(rows, schema=sqlite_types(names), orient="row")
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def sqlite_types(names: list[str]) -> dict[str, pl.DataType]:
    """How SQLite hands the columns over: prices and times as text, flags as integers."""
    model = {"id": pl.Int64, "change_class": pl.String}
    for spec in SPECS.values():
        model.update(spec.schema())
    text = (PRICE, TIME, pl.String)
    return {n: pl.String if model[n] in text else pl.Int64 for n in names}


def version_where(version: int | None) -> str:
    """The rows of a version (None: the latest), as a WHERE clause of trusted integers."""
    if version is None:
        return "version_to IS NULL"
    v = int(version)
    return f"version_from <= {v} AND (version_to IS NULL OR version_to > {v})"


def read_rows(conn: Connection, table: TableRef, version: int | None) -> pl.DataFrame:
    spec = spec_for(table.kind)
    return fetch(conn, table, version_where(version), spec.table).sort("code", "effective_from")


CODES_PER_QUERY = 2_000


def read_rows_of_codes(
    conn: Connection, table: TableRef, version: int, codes: Sequence[str]
) -> pl.DataFrame:
    """The rows of a version for ``codes`` only, by the (table, version_to, code) index a few
    thousand codes a query: what a change list needs of the version before it, without
    reading the whole table.  The rows still open and the ones closed after ``version`` are
    asked apart, each an index range; ``version_from + 0`` keeps SQLite's planner off the
    version_from index, which would scan every older row."""
    spec = spec_for(table.kind)
    v = int(version)
    parts = []
    for i in range(0, len(codes), CODES_PER_QUERY):
        listed = ", ".join(code_literal(conn, c) for c in codes[i : i + CODES_PER_QUERY])
        for still in ("version_to IS NULL", f"version_to > {v}"):
            where = f"{still} AND version_from + 0 <= {v} AND code IN ({listed})"
            parts.append(fetch(conn, table, where, spec.table))
    if not parts:
        return fetch(conn, table, "1 = 0", spec.table)
    return pl.concat(parts, how="vertical").sort("code", "effective_from")


def code_literal(conn: Connection, code: str) -> str:
    """A code as an SQL literal: digits as they are, anything else quoted by the dialect."""
    return f"'{code}'" if code.isascii() and code.isdigit() else quote_text(conn, code)


def read_rows_in_parts(
    conn: Connection, table: TableRef, version: int | None, rows: int
) -> Iterator[pl.DataFrame]:
    """The rows of a version in parts of about ``rows`` rows by code (``read_part``), so a whole
    table streams in the memory of one part."""
    after: str | None = None
    while True:
        part, more = read_part(conn, table, version, after, rows)
        if not part.is_empty():
            yield part
        if not more:
            return
        after = part["code"][-1]


def read_part(
    conn: Connection, table: TableRef, version: int | None, after: str | None, rows: int
) -> tuple[pl.DataFrame, bool]:
    """The rows of a version whose codes come after ``after`` (None: from the first), about
    ``rows`` of them and never splitting a code's rows (``in_effect_at`` looks at a code's rows
    together), sorted by code and start; and whether rows remain after them.  The part ends
    before the code ``rows`` rows further on, found with one indexed query."""
    spec = spec_for(table.kind)
    where = version_where(version)
    if after is not None:
        where += f" AND code > {quote_text(conn, after)}"
    boundary = conn.execute(
        sa.text(
            f"SELECT code FROM {spec.table} WHERE table_id = {int(table.id)} AND {where} "
            f"ORDER BY code LIMIT 1 OFFSET {int(rows)}"
        )
    ).scalar()
    if boundary is None:
        return fetch(conn, table, where, spec.table).sort("code", "effective_from"), False
    part = fetch(conn, table, f"{where} AND code < {quote_text(conn, boundary)}", spec.table)
    if part.is_empty():  # one code has more rows than a part: it is a part of its own
        part = fetch(conn, table, f"{where} AND code = {quote_text(conn, boundary)}", spec.table)
    return part.sort("code", "effective_from"), True


def count_rows(conn: Connection, table: TableRef, version: int | None) -> int:
    spec = spec_for(table.kind)
    return conn.execute(
        sa.text(
            f"SELECT COUNT(*) FROM {spec.table} "
            f"WHERE table_id = {int(table.id)} AND {version_where(version)}"
        )
    ).scalar_one()


def quote_text(conn: Connection, text: str) -> str:
    """A code as an SQL literal, by the dialect's own quoting (codes are digits, but a literal
    is never built from text without it)."""
    literal = sa.literal(text, sa.String())
    return str(literal.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def to_frame(raw: pl.DataFrame, names: list[str], spec: KindSpec) -> pl.DataFrame:
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
