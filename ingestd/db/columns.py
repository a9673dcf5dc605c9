"""The metadata every table of ingestd's database is defined on, and the column types they
share (docs/operations.md "Database")."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class BoundedText(TypeDecorator):
    """Text of at most ``length`` characters, kept so by ingestd (``rates.store.fit_row``) on
    every database alike; the column itself is TEXT, as the migrations made it."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, length: int):
        super().__init__()
        self.length = length


# Bytes of any size: MySQL/MariaDB's BLOB stops at 64 KiB, and a message with its attachment
# is larger.
Blob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
# JSON documents and error texts of any size (an import summary lists every rejected row):
# MySQL/MariaDB's TEXT stops at 64 KiB, so these are LONGTEXT there.
Document = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


# Naive UTC, whole seconds; on SQLite the text form SQLite's own datetime() produces, so that
# consumers can compare with datetime('now').
Timestamp = sa.DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


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
