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

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import phonenumbers
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ingestd.db.engine import Database
from ingestd.errors import RefusedError, UsageError
from ingestd.rates.diff import Diff
from ingestd.rates.model import (
    Kind,
    iso,
    spec_for,
)
from ingestd.rates.records import TableRef, VersionInfo, table_ref, version_info
from ingestd.rates.rows import (
    count_rows,
    fetch,
    read_part,
    read_rows,
    read_rows_in_parts,
    read_rows_of_codes,
)
from ingestd.rates.schema import (
    rate_tables,
    versions,
)
from ingestd.rates.timeline import in_effect_at
from ingestd.rates.writer import Writer, fault, lock_table
from ingestd.sheets.codes import ascii_digits
from ingestd.sheets.doubt import Proven

log = logging.getLogger("ingestd.store")

# the readings a deck's values may leave open, and what its vendor's earlier decks can prove
PROVEN_READINGS = {"date_order": ("dmy", "mdy"), "hyphen": ("range", "pair")}


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
            return [table_ref(r) for r in conn.execute(q).mappings()]

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
            return [version_info(r) for r in conn.execute(q).mappings()]

    def version(self, table: TableRef, number: int) -> VersionInfo:
        q = sa.select(versions).where(versions.c.table_id == table.id, versions.c.number == number)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            raise RefusedError(
                "no_version",
                f"{table.label} has no version {number} (latest: {table.current_version})",
            )
        return version_info(row)

    def rows(self, table: TableRef, version: int | None = None) -> pl.DataFrame:
        """The rows of a version (default: the latest) with ``id`` and ``change_class``."""
        with self.engine.connect() as conn:
            return read_rows(conn, table, version)

    def rows_of_codes(self, table: TableRef, version: int, codes: Sequence[str]) -> pl.DataFrame:
        """The rows of a version for ``codes`` only (read by the code index)."""
        with self.engine.connect() as conn:
            return read_rows_of_codes(conn, table, version, codes)

    def rows_in_parts(
        self, table: TableRef, version: int | None = None, rows: int = 50_000
    ) -> Iterator[pl.DataFrame]:
        """The rows of a version in parts of about ``rows`` rows, a code's rows together, read
        as they are asked for (one connection open meanwhile)."""
        with self.engine.connect() as conn:
            yield from read_rows_in_parts(conn, table, version, rows)

    def rows_page(
        self, table: TableRef, version: int | None, after: str | None, rows: int
    ) -> tuple[pl.DataFrame, bool]:
        """About ``rows`` rows of a version after the code ``after``, a code's rows together,
        and whether more follow (``rows.read_part``)."""
        with self.engine.connect() as conn:
            return read_part(conn, table, version, after, rows)

    def count_rows(self, table: TableRef, version: int | None = None) -> int:
        with self.engine.connect() as conn:
            return count_rows(conn, table, version)

    def diff(self, table: TableRef, a: int, b: int) -> Diff:
        for n in (a, b):
            if n != 0:
                self.version(table, n)
        lo, hi = sorted((a, b))
        spec = spec_for(table.kind)
        t = spec.table
        with self.engine.connect() as conn:
            # rows that entered after lo and are still there at hi, and rows of lo gone by hi
            entered = fetch(
                conn,
                table,
                f"version_from > {lo} AND version_from <= {hi} "
                f"AND (version_to IS NULL OR version_to > {hi})",
                t,
            )
            left = fetch(
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
            rows = fetch(conn, table, f"version_to IS NULL AND code IN ({quoted})", spec.table)
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
                writer = Writer(self, conn, lock_table(conn, vendor, kind, name, create=create))
                yield writer
                if writer.written is not None:
                    fault("before_commit")
                    trans.commit()
                else:
                    trans.rollback()
            except BaseException:
                if trans.is_active:
                    trans.rollback()
                raise
