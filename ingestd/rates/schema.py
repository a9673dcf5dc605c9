"""Database tables (docs/operations.md#database).  This is the schema billing systems read;
the README documents it and Alembic migrations create it, with the current views
(``db/migrations/versions/0001_initial.py``).

Storage grows with changed rows, not versions × table size: a rate row lives in the versions
``[version_from, version_to)`` of its table; ``version_to IS NULL`` means "in the latest
version".  A new version inserts the rows it adds and sets ``version_to`` on the rows it drops.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from ingestd.config import NAME_LENGTH
from ingestd.db.columns import BoundedText, Document, RowId, Timestamp, metadata
from ingestd.rates.model import PRICE_PRECISION, PRICE_SCALE, SPECS, Kind, KindSpec

# The free-text fields of rate rows (description, DID status, type, notes, local requirements):
# longer cells are cut to this many characters with a warning (README "The import summary").
# MariaDB's TEXT holds 65,535 bytes, so 4,000 characters of up to 4 bytes fit everywhere.
TEXT_FIELD_LENGTH = 4000

# SQLite has no exact decimal: prices are stored there as canonical decimal text.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def canonical_decimal(value: Decimal) -> str:
    """'0.1584000000' → '0.1584', '1E+1' → '10': the one text form of a price."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Price(TypeDecorator):
    impl = sa.Numeric(PRICE_PRECISION, PRICE_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(PRICE_PRECISION, PRICE_SCALE, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return canonical_decimal(Decimal(value))
        return Decimal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


rate_tables = sa.Table(
    "rate_tables",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # the name rule (config.name_problem) keeps vendor ids and table names within these
    sa.Column("vendor", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("current_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("vendor", "kind", "name"),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("table_id", sa.Integer, sa.ForeignKey("rate_tables.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),  # import | rollback | purge
    sa.Column("mode", sa.String(16), nullable=False),  # full | partial (imports)
    sa.Column("rollback_to", sa.Integer),
    sa.Column("received_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("message_id", sa.String(998)),
    sa.Column("sender", sa.String(320)),
    sa.Column("subject", sa.String(998)),
    sa.Column("file_name", sa.String(255)),
    sa.Column("file_hash", sa.String(64)),  # sha256 of the sheet's bytes
    sa.Column("rows_total", sa.Integer, nullable=False),  # rows in this version
    sa.Column("rows_added", sa.Integer, nullable=False),
    sa.Column("rows_closed", sa.Integer, nullable=False),
    sa.Column("summary", Document, nullable=False),  # the import summary, JSON
    sa.UniqueConstraint("table_id", "number"),
    sa.Index(None, "table_id", "file_hash"),
)


# The latest version's rows of a table as one compressed Arrow IPC file, written in the same
# transaction as the version (SQLite only): an import reads it back in a tenth of a second
# instead of a million rows through the driver (docs/performance.md#targets).  It is used only while
# its version, row count and id sum still match the rows, else the rows are read; it is never the
# data billing reads.
rate_snapshots = sa.Table(
    "rate_snapshots",
    metadata,
    sa.Column("table_id", sa.Integer, sa.ForeignKey("rate_tables.id"), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("id_sum", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


# What a person answered about a vendor's deck of one layout (docs/reading.md#decks-nobody-taught-us
# "vendor profiles that learn"), used for the vendor's next decks whose header has the same
# fingerprint (``sheets.answers``); the sheet name and header cells are kept for people to recognise
# it.
vendor_profiles = sa.Table(
    "vendor_profiles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("vendor", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # answers.header_fingerprint
    sa.Column("answers", Document, nullable=False),  # Answers.as_dict(), JSON
    sa.Column("sheet", sa.String(255)),
    sa.Column("header", Document, nullable=False),  # the header cells as written, JSON list
    sa.Column("source", sa.String(16), nullable=False),  # answer | proven
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("used_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_used_at", Timestamp),
    sa.UniqueConstraint("vendor", "fingerprint"),
)


def _column_type(dtype: pl.DataType) -> sa.types.TypeEngine:
    if dtype.is_decimal():
        return Price()
    if dtype.is_integer():
        return sa.Integer()
    if dtype == pl.Boolean:
        return sa.Boolean(create_constraint=False)
    return BoundedText(TEXT_FIELD_LENGTH)


def _rate_table(spec: KindSpec) -> sa.Table:
    cols = [sa.Column(f.name, _column_type(f.dtype)) for f in spec.fields]
    return sa.Table(
        spec.table,
        metadata,
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("table_id", sa.Integer, sa.ForeignKey("rate_tables.id"), nullable=False),
        sa.Column("version_from", sa.Integer, nullable=False),
        sa.Column("version_to", sa.Integer),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("effective_from", Timestamp, nullable=False),
        *cols,
        sa.Column("effective_to", Timestamp),
        sa.Column("forbidden", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("discontinued", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("description", BoundedText(TEXT_FIELD_LENGTH)),
        sa.Column("currency", sa.String(3)),
        sa.Column("change_class", sa.String(16), nullable=False),
        # the latest version's rows of a table, by code: current views, lookups, diffs
        sa.Index(None, "table_id", "version_to", "code"),
        sa.Index(None, "table_id", "version_from"),
    )


RATE_TABLES: dict[Kind, sa.Table] = {kind: _rate_table(spec) for kind, spec in SPECS.items()}
