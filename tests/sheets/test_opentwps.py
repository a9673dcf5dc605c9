"""Reading files already in OpenTWPS layout (docs/operations.md#exports,
docs/reading.md#finding-the-table)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest

from ingestd.errors import SheetError
from ingestd.rates.model import Kind, spec_for
from ingestd.sheets.opentwps import read_opentwps

VOICE = (
    "Prefix E164,Price1,Price N,Valid From,Timezone,Interval 1,Interval N,Forbidden,Discontinued"
)


def csv(*lines: str) -> bytes:
    return "\r\n".join(lines).encode() + b"\r\n"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_header_under_a_notice_block():
    deck = read_opentwps(
        csv(
            "Acme Voice Wholesale,,",
            "Issue date:,16/09/2026",
            "",
            VOICE,
            "44,0.1584,0.15,2026-09-23 00:00:00,UTC,60,1,0,0",
            "4420,0.2,0.2,,UTC,1,1,1,0",
        ),
        filename="acme.csv",
    )
    assert deck.kind == Kind.VOICE
    assert (deck.sheet, deck.header_row, deck.total_rows) == ("acme", 4, 2)
    assert deck.errors == [] and deck.warnings == []
    assert list(deck.rows.columns) == [*spec_for("voice").schema(), "source_row"]
    first, second = deck.rows.to_dicts()
    assert first == {
        "code": "44",
        "effective_from": at("2026-09-23"),
        "price1": Decimal("0.1584"),
        "price_n": Decimal("0.15"),
        "interval1": 60,
        "interval_n": 1,
        "effective_to": None,
        "forbidden": False,
        "discontinued": False,
        "description": None,
        "currency": None,
        "source_row": 5,
    }
    assert second["effective_from"] is None  # ASAP
    assert second["forbidden"] is True and second["source_row"] == 6


def test_headers_match_without_case_or_spaces():
    deck = read_opentwps(csv(" prefix e164 ;PRICE1 ", "44;0,5"))
    assert deck.rows["price1"].to_list() == [Decimal("0.5")]


@pytest.mark.parametrize(
    ("header", "row", "kind"),
    [
        ("MCCMNC E.212,Price,Effective From,forbidden,discontinued", "00101,0.01,,0,0", "sms"),
        ("Number e164,MRC,NRC,Voice,SMS", "4420123456,1.5,10,1,0", "did"),
        ("Prefix E164,Price1", "44,0.1", "voice"),
    ],
)
def test_the_kind_is_inferred_from_the_key_header(header, row, kind):
    deck = read_opentwps(csv(header, row))
    assert deck.kind == kind
    assert deck.rows.height == 1


def test_sms_codes_keep_leading_zeros():
    deck = read_opentwps(csv("MCCMNC E.212,Price", "00101,0.01", "310260,0.02"))
    assert deck.rows["code"].to_list() == ["00101", "310260"]


def test_a_file_of_another_kind_is_refused():
    with pytest.raises(SheetError) as caught:
        read_opentwps(csv("MCCMNC E.212,Price", "310260,0.02"), kind="voice")
    assert caught.value.reason == "wrong_kind"


def test_no_table_lists_the_expected_headers():
    with pytest.raises(SheetError) as caught:
        read_opentwps(csv("Code,Rate", "44,0.1"))
    assert caught.value.reason == "no_table"
    for header in ("Prefix E164", "Price1", "MCCMNC E.212", "Number e164"):
        assert header in caught.value.message
    with pytest.raises(SheetError) as caught:
        read_opentwps(csv("Prefix E164,Description", "44,x"), kind="voice")
    assert caught.value.reason == "no_table"  # a key header alone is not a table


def test_missing_optional_columns_take_the_opentwps_defaults():
    deck = read_opentwps(csv("Prefix E164,Price1", "44,0.1", "49,0.2"))
    rows = deck.rows.to_dicts()
    assert [r["price_n"] for r in rows] == [Decimal("0.1"), Decimal("0.2")]  # copies Price1
    assert {(r["interval1"], r["interval_n"]) for r in rows} == {(1, 1)}
    assert {(r["forbidden"], r["discontinued"]) for r in rows} == {(False, False)}
    assert {r["effective_from"] for r in rows} == {None}


def test_blank_optional_cells_take_the_defaults_too():
    deck = read_opentwps(csv(VOICE, "44,0.1,,,,,,,"))
    row = deck.rows.row(0, named=True)
    assert (row["price_n"], row["interval1"], row["interval_n"]) == (Decimal("0.1"), 1, 1)
    assert (row["forbidden"], row["discontinued"]) == (False, False)


def test_did_defaults():
    deck = read_opentwps(csv("Number e164,MRC", "4420123456,1.5"))
    row = deck.rows.row(0, named=True)
    assert (row["interval"], row["voice"], row["sms"], row["docs_required"]) == (
        1,
        True,
        False,
        False,
    )
    assert row["capacity"] is None and row["status"] is None


def test_the_timezone_column_converts_valid_from_to_utc():
    deck = read_opentwps(
        csv(
            VOICE,
            "1,0.1,0.1,2023-05-16 10:00:00,Europe/Berlin,1,1,0,0",
            "2,0.1,0.1,2023-05-16 10:00:00,UTC+2,1,1,0,0",
            "3,0.1,0.1,2023-05-16 10:00:00,GMT,1,1,0,0",
            "4,0.1,0.1,2023-05-16 10:00:00,,1,1,0,0",
            "5,0.1,0.1,2023-05-16 10:00:00,+05:30,1,1,0,0",
            "6,0.1,0.1,2023-05-16 10:00:00,Nowhere/Land,1,1,0,0",
        ),
        timezone="America/New_York",
    )
    assert deck.rows["effective_from"].to_list() == [
        at("2023-05-16 08:00"),
        at("2023-05-16 08:00"),
        at("2023-05-16 10:00"),
        at("2023-05-16 14:00"),  # blank: the timezone argument
        at("2023-05-16 04:30"),
    ]
    (error,) = deck.errors
    assert (error.reason, error.row) == ("bad_timezone", 7)


def test_row_errors_carry_reason_row_sheet_and_cells():
    deck = read_opentwps(
        csv(
            "Rates",
            VOICE,
            "44,0.1,0.1,2023-05-16,UTC,60,1,0,0",
            "7.94E+4,0.1,0.1,,UTC,60,1,0,0",
            "49,abc,0.1,,UTC,60,1,0,0",
            "33,-0.1,0.1,,UTC,60,1,0,0",
            "34,0.1,0.1,someday,UTC,60,1,0,0",
            "35,0.1,0.1,,UTC,sixty,1,0,0",
            "36,0.1,0.1,,UTC,60,1,maybe,0",
            ",0.1,0.1,,UTC,60,1,0,0",
            "37,,0.1,,UTC,60,1,0,0",
            "38,9999999,0.1,,UTC,60,1,0,0",
            "39,abc,0.1,never,UTC,60,1,0,0",
        ),
        filename="deck.csv",
    )
    assert deck.rows["code"].to_list() == ["44"]
    assert deck.total_rows == 11
    got = [(e.row, e.reason, e.sheet) for e in deck.errors]
    assert got == [
        (4, "bad_code", "deck"),
        (5, "bad_price", "deck"),
        (6, "negative_price", "deck"),
        (7, "bad_date", "deck"),
        (8, "bad_interval", "deck"),
        (9, "bad_flag", "deck"),
        (10, "missing_code", "deck"),
        (11, "missing_price", "deck"),
        (12, "absurd_price", "deck"),
        (13, "bad_price", "deck"),
    ]
    by_row = {e.row: e for e in deck.errors}
    assert by_row[5].cells == ("49", "abc", "0.1", "", "UTC", "60", "1", "0", "0")
    assert by_row[5].code == "49"
    assert "Price1 'abc'" in by_row[5].message
    # every problem of a row is named; the first one is the reason
    assert "Price1" in by_row[13].message and "Valid From 'never'" in by_row[13].message


def test_conflicting_duplicates_are_rejected_and_identical_ones_read_once():
    deck = read_opentwps(
        csv(
            VOICE,
            "44,0.1,0.1,2023-05-16,UTC,1,1,0,0",
            "49,0.2,0.2,,UTC,1,1,0,0",
            "44,0.3,0.3,2023-05-16,UTC,1,1,0,0",  # conflicts with row 2
            "49,0.2,0.2,,UTC,1,1,0,0",  # the same as row 3
            "44,0.3,0.3,2023-06-01,UTC,1,1,0,0",  # another date: a second rate, fine
        )
    )
    assert deck.rows.select("code", "source_row").rows() == [("49", 3), ("44", 6)]
    conflicts = [e for e in deck.errors if e.reason == "conflict"]
    assert [e.row for e in conflicts] == [2, 4]
    assert all("2" in e.message and "4" in e.message for e in conflicts)
    assert conflicts[0].cells[:2] == ("44", "0.1")
    assert len(deck.warnings) == 1 and "rows 3, 5" in deck.warnings[0]


def test_blank_rows_and_repeated_headers_are_skipped():
    deck = read_opentwps(csv(VOICE, "44,0.1", ",,,", "", VOICE, "49,0.2"))
    assert deck.rows.select("code", "source_row").rows() == [("44", 2), ("49", 6)]
    assert deck.total_rows == 2 and deck.errors == []


def test_currency_column_wins_over_the_argument():
    header = "Prefix E164,Price1,Currency"
    deck = read_opentwps(csv(header, "44,0.1,eur", "49,0.1,", "33,0.1,Euro"), currency="usd")
    assert deck.rows["currency"].to_list() == ["EUR", "USD"]
    assert [(e.row, e.reason) for e in deck.errors] == [(4, "bad_currency")]
    with pytest.raises(ValueError):
        read_opentwps(csv(header, "44,0.1,"), currency="dollars")


def test_extended_columns_are_read():
    deck = read_opentwps(
        csv(
            "Prefix E164,Price1,Valid From,Description,End Date,Change Class",
            "44,0.1,2023-05-16,'=UK mobile,2023-06-01 12:00:00,increase",
            "49,0.1,,'-,,new",
            "33,0.1,,''+1,,",
            "34,0.1,,'plain,,",
        )
    )
    rows = deck.rows.to_dicts()
    # one quote before a formula character came from the exporter and goes; others stay
    assert [r["description"] for r in rows] == ["=UK mobile", "-", "'+1", "'plain"]
    assert rows[0]["effective_to"] == at("2023-06-01 12:00")
    assert "change_class" not in deck.rows.columns and deck.warnings == []


def test_unknown_and_doubled_columns_are_warned_about():
    deck = read_opentwps(csv("Prefix E164,Price1,Rate,Price1", "44,0.1,9,0.2"))
    assert deck.rows["price1"].to_list() == [Decimal("0.1")]
    assert any("'Rate'" in w for w in deck.warnings)
    assert any("twice" in w for w in deck.warnings)


def test_date_order_is_passed_on():
    deck = read_opentwps(csv("Prefix E164,Price1,Valid From", "44,0.1,01/02/2023"))
    assert [e.reason for e in deck.errors] == ["ambiguous_date"]
    assert "date_order" in deck.errors[0].message
    deck = read_opentwps(
        csv("Prefix E164,Price1,Valid From", "44,0.1,01/02/2023"), date_order="dmy"
    )
    assert deck.rows["effective_from"].to_list() == [at("2023-02-01")]


def test_xlsx_with_a_notice_block_and_real_cells():
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes["A1"] = "Read me"
    sheet = book.create_sheet("Rates")
    sheet.append(["Acme"])
    sheet.append(["Currency", "USD"])
    sheet.append(VOICE.split(","))
    sheet.append([44, 0.1584, 0.15, dt.datetime(2023, 5, 16, 12), "UTC", 60, 1, False, True])
    sheet.append([7940.0, 0.2, None, None, None, None, None, None, None])
    buf = io.BytesIO()
    book.save(buf)
    deck = read_opentwps(buf.getvalue(), kind="voice")
    assert (deck.sheet, deck.header_row) == ("Rates", 3)
    rows = deck.rows.to_dicts()
    assert [r["code"] for r in rows] == ["44", "7940"]
    assert rows[0]["effective_from"] == at("2023-05-16 12:00")
    assert rows[0]["discontinued"] is True and rows[0]["forbidden"] is False
    assert rows[1]["price_n"] == Decimal("0.2")


def test_json_export_layout():
    document = {
        "kind": "sms",
        "columns": ["MCCMNC E.212", "Price", "Effective From", "forbidden", "discontinued"],
        "rows": [["310260", "0.02", None, False, True], ["00101", "0.5", "2023-05-16", 0, 0]],
    }
    deck = read_opentwps(json.dumps(document).encode(), filename="sms.json")
    assert deck.kind == "sms" and deck.sheet == "sms"
    assert deck.rows.select("code", "price", "discontinued").rows() == [
        ("310260", Decimal("0.02"), True),
        ("00101", Decimal("0.5"), False),
    ]
    for broken in (
        b'{"columns": [1, 2], "rows": [[1]]}',
        b'{"columns": ["Prefix E164", "Price1"]',
        b'{"columns": ["Prefix E164", "Price1"], "rows": [["44", [1]]]}',
        b'{"rows": []}',
    ):
        with pytest.raises(SheetError) as caught:
            read_opentwps(broken)
        assert caught.value.reason == "unreadable"
    empty = read_opentwps(b'{"columns": ["Prefix E164", "Price1"], "rows": []}')
    assert empty.rows.is_empty() and empty.total_rows == 0
