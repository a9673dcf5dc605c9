"""docs/operations.md#exports: export then re-import of a table gives the same table, for every kind
and format, through the real importer and store."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd.config import load_config
from ingestd.ingest import import_sheet
from ingestd.rates.export import write_export
from ingestd.rates.model import Kind, spec_for
from ingestd.rates.store import Store

RECEIVED = datetime(2025, 3, 1, 12, 0, 0)

prices = st.decimals(min_value=0, max_value=Decimal("99.99999999"), places=8, allow_nan=False)
text = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
dates = st.datetimes(min_value=RECEIVED + timedelta(days=30), max_value=datetime(2030, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)


@st.composite
def rows(draw, kind: Kind) -> list[dict]:
    spec = spec_for(kind)
    n = draw(st.integers(1, 25))
    width = {Kind.VOICE: (1, 12), Kind.SMS: (5, 6), Kind.DID: (8, 15)}[kind]
    codes = draw(
        st.lists(
            st.from_regex(rf"[1-9][0-9]{{{width[0] - 1},{width[1] - 1}}}", fullmatch=True),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    out = []
    for code in codes:
        row: dict = {
            "code": code,
            "effective_from": draw(dates) if spec.from_header else None,
            "effective_to": None,
            "forbidden": draw(st.booleans()) if kind is not Kind.DID else False,
            "discontinued": False,
            "description": draw(st.none() | text),
            "currency": "USD",
        }
        for f in spec.fields:
            if f.dtype.is_decimal():
                row[f.name] = draw(prices)
            elif f.dtype.is_integer():
                row[f.name] = draw(st.integers(1, 3600))
            elif f.dtype == pl.Boolean:
                row[f.name] = draw(st.booleans())
            else:
                row[f.name] = draw(st.none() | text)
        if kind is Kind.VOICE and draw(st.booleans()):
            row["price_n"] = row["price1"]
        out.append(row)
    return out


def _import(store: Store, kind: Kind, data: bytes, name: str, table: str):
    outcome = import_sheet(
        store,
        load_config(None, env={}),
        "rt",
        data,
        file_name=name,
        received_at=RECEIVED,
        table=table,
        kind=str(kind),
        mode="full",
    )
    assert outcome.status == "imported", outcome.as_dict()
    return store.find_table("rt", name=table, kind=str(kind))


def _content(store: Store, table) -> pl.DataFrame:
    cols = list(spec_for(table.kind).row_columns)
    return store.rows(table).select(cols).sort("code", "effective_from")


def round_trip(store: Store, kind: Kind, generated: list[dict], fmt: str) -> None:
    spec = spec_for(kind)
    tag = uuid.uuid4().hex[:8]  # a fresh pair of tables for each example
    frame = pl.DataFrame(generated, schema=spec.schema())
    first = io.BytesIO()
    write_export(frame, kind, fmt, first, extended=True)
    a = _import(store, kind, first.getvalue(), f"deck.{fmt}", f"a-{tag}")
    content_a = _content(store, a)
    expected = (
        frame.with_columns(pl.col("effective_from").fill_null(RECEIVED))
        .select(content_a.columns)
        .sort("code", "effective_from")
    )
    assert content_a.equals(expected), (content_a, expected)

    again = io.BytesIO()
    write_export(store.rows(a), kind, fmt, again, extended=True)
    b = _import(store, kind, again.getvalue(), f"export.{fmt}", f"b-{tag}")
    assert _content(store, b).equals(content_a)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('rt') / 'rt.db'}")
    store.upgrade()
    yield store
    store.close()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
@pytest.mark.parametrize("kind", list(Kind))
def test_export_then_import_gives_the_same_table(sqlite_store, kind, fmt):
    @settings(
        max_examples=15 if fmt == "xlsx" else 30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(rows(kind))
    def check(generated):
        round_trip(sqlite_store, kind, generated, fmt)

    check()


@pytest.mark.parametrize("kind", list(Kind))
def test_round_trip_on_every_database(db_url, kind):
    store = Store(db_url)
    store.upgrade()

    @settings(
        max_examples=5,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(rows(kind))
    def check(generated):
        round_trip(store, kind, generated, "csv")

    try:
        check()
    finally:
        store.close()
