"""docs/operations.md#exports: OpenTWPS exports, and export → re-import gives the same table."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd.rates.export import write_export
from ingestd.rates.model import PRICE, Kind, price_text, spec_for
from ingestd.rates.schema import canonical_decimal
from ingestd.sheets.opentwps import read_opentwps


def voice_rows(**overrides) -> pl.DataFrame:
    row = {
        "code": "44",
        "effective_from": dt.datetime(2023, 5, 16, 12, 30),
        "price1": Decimal("0.1584"),
        "price_n": Decimal("1"),
        "interval1": 60,
        "interval_n": 1,
        "effective_to": None,
        "forbidden": False,
        "discontinued": True,
        "description": 'UK, "mobile"',
        "currency": "USD",
    }
    row.update(overrides)
    return pl.DataFrame([row], schema=spec_for("voice").schema())


def export(frame, kind, fmt, **kw) -> bytes:
    out = io.BytesIO()
    assert write_export(frame, kind, fmt, out, **kw) == frame.height
    return out.getvalue()


def test_csv_has_the_exact_opentwps_headers_and_canonical_values():
    text = export(voice_rows(), "voice", "csv").decode()
    assert text.split("\r\n") == [
        "Prefix E164,Price1,Price N,Valid From,Timezone,Interval 1,Interval N,Forbidden,"
        "Discontinued",
        "44,0.1584,1,2023-05-16 12:30:00,UTC,60,1,0,1",
        "",
    ]


@pytest.mark.parametrize("kind", list(Kind))
def test_headers_of_each_kind(kind):
    spec = spec_for(kind)
    empty = pl.DataFrame(schema=spec.schema())
    header = export(empty, kind, "csv").decode().splitlines()[0]
    assert header.split(",") == spec.opentwps_headers()
    extended = export(empty, kind, "csv", extended=True).decode().splitlines()[0].split(",")
    added = ["Description", "End Date", "Currency", "Change Class"]
    if kind == Kind.DID:  # OpenTWPS has no flag columns for numbers
        added += ["Forbidden", "Discontinued"]
    assert extended == spec.opentwps_headers() + added


def test_prices_are_exact_text_never_floats_or_exponents():
    frame = pl.concat(
        [
            voice_rows(code=str(i), price1=Decimal(p), price_n=Decimal(p))
            for i, p in enumerate(["0", "0.0000000001", "100000.123456789", "12.50", "1E+2"])
        ]
    )
    lines = export(frame, "voice", "csv").decode().splitlines()[1:]
    assert [line.split(",")[1] for line in lines] == [
        "0",
        "0.0000000001",
        "100000.123456789",
        "12.5",
        "100",
    ]


@given(st.lists(st.decimals(min_value=0, max_value=10**17, places=10), max_size=20))
def test_price_text_is_the_canonical_decimal_of_the_store(values):
    texts = pl.select(price_text(pl.Series(values, dtype=PRICE))).to_series().to_list()
    assert texts == [canonical_decimal(v) for v in values]


def test_asap_is_empty_and_the_extended_columns_follow():
    frame = voice_rows(
        effective_from=None, effective_to=dt.datetime(2023, 6, 1), description=None
    ).with_columns(pl.lit("increase").alias("change_class"))
    lines = export(frame, "voice", "csv", extended=True).decode().splitlines()
    assert lines[1] == "44,0.1584,1,,UTC,60,1,0,1,,2023-06-01 00:00:00,USD,increase"


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+44 mobile", "'+44 mobile"),
        ("-", "'-"),
        ("@SUM", "'@SUM"),
        ("'=already quoted", "''=already quoted"),
        ("it's fine", "it's fine"),
        ("'plain", "'plain"),
    ],
)
def test_formula_text_is_neutralized_in_csv_and_xlsx_but_not_json(text, written):
    frame = voice_rows(description=text)
    line = export(frame, "voice", "csv", extended=True).decode().splitlines()[1]
    assert line.split(",")[9] == written
    sheet = openpyxl.load_workbook(io.BytesIO(export(frame, "voice", "xlsx", extended=True)))
    assert sheet["voice"]["J2"].value == written
    assert sheet["voice"]["J2"].data_type == "s"  # text, not a formula
    document = json.loads(export(frame, "voice", "json", extended=True))
    assert document["rows"][0][9] == text


def test_xlsx_keeps_prices_as_text_and_numbers_as_numbers():
    book = openpyxl.load_workbook(io.BytesIO(export(voice_rows(), "voice", "xlsx")))
    assert book.sheetnames == ["voice"]
    sheet = book["voice"]
    assert [c.value for c in sheet[1]] == spec_for("voice").opentwps_headers()
    assert [c.value for c in sheet[2]] == [
        "44", "0.1584", "1", "2023-05-16 12:30:00", "UTC", 60, 1, 0, 1,
    ]  # fmt: skip


def test_xlsx_replaces_characters_xml_cannot_hold():
    frame = voice_rows(description="bell\x07")
    book = openpyxl.load_workbook(io.BytesIO(export(frame, "voice", "xlsx", extended=True)))
    assert book["voice"]["J2"].value == "bell\ufffd"


def test_json_layout():
    document = json.loads(export(voice_rows(), "voice", "json", extended=True))
    assert document["kind"] == "voice"
    assert document["columns"][:2] == ["Prefix E164", "Price1"]
    assert document["rows"] == [
        [
            "44", "0.1584", "1", "2023-05-16 12:30:00", "UTC", 60, 1, False, True,
            'UK, "mobile"', None, "USD", None,
        ]
    ]  # fmt: skip
    empty = json.loads(export(pl.DataFrame(schema=spec_for("sms").schema()), "sms", "json"))
    assert empty["rows"] == []


def test_bad_calls():
    with pytest.raises(ValueError):
        write_export(voice_rows(), "voice", "pdf", io.BytesIO())
    with pytest.raises(ValueError):
        write_export(voice_rows().drop("currency"), "voice", "csv", io.BytesIO())


# --- round trip ------------------------------------------------------------------------------

moments = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
prices = st.decimals(min_value=0, max_value=999_999, places=8, allow_nan=False)
intervals = st.integers(min_value=1, max_value=3600)
currencies = st.none() | st.sampled_from(["USD", "EUR", "GBP"])
# text as a normalized row holds it: no surrounding spaces, never blank, no control characters
tricky = st.sampled_from(
    ["a, b", 'say "hi"', "=1+2", "+44", "-", "@x", "'=q", "''-", "line\nbreak", "Zürich €", "日本"]
)
plain = (
    st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n"), max_size=12)
    .map(str.strip)
    .filter(bool)
)
texts = st.none() | tricky | plain


def common(code, effective_from):
    return {
        "code": code,
        "effective_from": effective_from,
        "effective_to": st.none() | moments,
        "forbidden": st.booleans(),
        "discontinued": st.booleans(),
        "description": texts,
        "currency": currencies,
    }


ROWS = {
    Kind.VOICE: st.fixed_dictionaries(
        common(st.from_regex(r"[1-9][0-9]{0,11}", fullmatch=True), st.none() | moments)
        | {"price1": prices, "price_n": prices, "interval1": intervals, "interval_n": intervals}
    ),
    Kind.SMS: st.fixed_dictionaries(
        common(st.from_regex(r"[0-7][0-9]{4,5}", fullmatch=True), st.none() | moments)
        | {"price": prices}
    ),
    Kind.DID: st.fixed_dictionaries(
        common(st.from_regex(r"[1-9][0-9]{6,14}", fullmatch=True), st.none())
        | {
            "inbound_voice_price": st.none() | prices,
            "inbound_sms_price": st.none() | prices,
            "interval": intervals,
            "mrc": st.none() | prices,
            "nrc": st.none() | prices,
            "docs_required": st.booleans(),
            "status": texts,
            "type": texts,
            "voice": st.booleans(),
            "sms": st.booleans(),
            "fax": st.booleans(),
            "video": st.booleans(),
            "capacity": st.none() | st.integers(min_value=0, max_value=10_000),
            "notes": texts,
            "local_requirements": texts,
        }
    ),
}


def frames(kind: Kind):
    rows = st.lists(ROWS[kind], max_size=8, unique_by=lambda r: (r["code"], r["effective_from"]))
    return rows.map(lambda rs: pl.DataFrame(rs, schema=spec_for(kind).schema()))


def round_trip(frame: pl.DataFrame, kind: Kind, fmt: str) -> None:
    data = export(frame, kind, fmt, extended=True)
    deck = read_opentwps(data, kind=kind if frame.is_empty() else None)
    if frame.is_empty():
        assert deck.rows.is_empty()
        return
    assert deck.kind == kind
    assert deck.errors == [] and deck.warnings == []
    assert deck.total_rows == frame.height
    assert deck.rows["source_row"].to_list() == list(range(2, frame.height + 2))
    got = deck.rows.drop("source_row").sort("code", "effective_from", nulls_last=True)
    want = frame.sort("code", "effective_from", nulls_last=True)
    assert got.schema == want.schema
    assert got.to_dicts() == want.to_dicts()


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("fmt", ["csv", "json"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_csv_json(kind, fmt, data):
    round_trip(data.draw(frames(kind)), kind, fmt)


@pytest.mark.parametrize("kind", list(Kind))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_xlsx(kind, data):
    round_trip(data.draw(frames(kind)), kind, "xlsx")
