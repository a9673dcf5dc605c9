"""Reading a rate table's rows into polars, around SQLAlchemy's per-row machinery: the
driver's cursor straight into a frame (docs/performance.md#targets)."""

from __future__ import annotations

import polars as pl
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


def read_rows(conn: Connection, table: TableRef, version: int | None) -> pl.DataFrame:
    spec = spec_for(table.kind)
    if version is None:
        where = "version_to IS NULL"
    else:
        v = int(version)
        where = f"version_from <= {v} AND (version_to IS NULL OR version_to > {v})"
    return fetch(conn, table, where, spec.table).sort("code", "effective_from")


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
