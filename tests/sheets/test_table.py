"""docs/reading.md#finding-the-table: finding the rate table of a deck as carriers send it — header
under a notice block, columns by meaning, data rows without blanks, sections and footnotes."""

from __future__ import annotations

import datetime as dt
import io
import time

import openpyxl
import polars as pl
import pytest

from ingestd.errors import SheetError
from ingestd.rates.export import extended_columns, opentwps_columns
from ingestd.rates.model import Kind
from ingestd.sheets import currencies, headers, vocabulary
from ingestd.sheets.find import find_tables
from ingestd.sheets.read import read_sheets
from ingestd.sheets.sheet import Sheet


def csv_sheets(*lines: str, name: str = "deck") -> list[Sheet]:
    return read_sheets("\r\n".join(lines).encode() + b"\r\n", filename=f"{name}.csv")


def one(*lines: str, **kw):
    (table,) = find_tables(csv_sheets(*lines), **kw)
    return table


def workbook(sheets: dict[str, list[list]]) -> list[Sheet]:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return read_sheets(buf.getvalue())


def named(table, field: str) -> list[str]:
    """The header texts of the columns a field was given."""
    return [table.headers[c] for c in table.columns[field]]


def cells(table, field: str) -> list[str | None]:
    (column,) = table.columns[field]
    return table.data.get_column(column).to_list()


# --- the vocabulary --------------------------------------------------------------------------


def test_vocabulary_is_unambiguous():
    assert headers.ambiguous_spellings() == {}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Rates (USD / Min)", "rates usd min"),
        ("Price($)", "price"),
        ("Dial Code(s)", "dial codes"),
        ("Price1", "price 1"),
        ("MCCMNC E.212", "mccmnc e212"),
        ("  Eff.  Date ", "eff date"),
        ("NPA-NXX", "npa nxx"),
    ],
)
def test_header_key_ignores_case_spacing_and_punctuation(text, key):
    assert headers.header_key(text) == key


@pytest.mark.parametrize(
    ("text", "currency"),
    [("USD per minute", "USD"), ("US$", "USD"), ("€", "EUR"), ("eur", "EUR"), ("GBP", "GBP")],
)
def test_currency_in_text(text, currency):
    assert currencies.currency_in(text) == currency


def test_unknown_header_matches_nothing():
    assert headers.match_header("Time Type") is None
    assert headers.match_header("") is None


# --- every synonym group, through find_tables -------------------------------------------------

SYNONYMS = [
    # (header line, data line, field → headers expected)
    ("Prefix,Rate", "44,0.1", {"code": ["Prefix"], "price": ["Rate"]}),
    ("Code,Price", "44,0.1", {"code": ["Code"], "price": ["Price"]}),
    ("Dial Code(s),Price($)", "44,0.1", {"code": ["Dial Code(s)"], "price": ["Price($)"]}),
    ("City Code(s),Rates (USD / Min)", "44,0.1", {"code": ["City Code(s)"]}),
    ("Complete Code,Rate/Min", "44,0.1", {"code": ["Complete Code"], "price": ["Rate/Min"]}),
    ("Dial Codes,Price 1", "44,0.1", {"code": ["Dial Codes"], "price": ["Price 1"]}),
    ("Prefix E164,Price1,Price N", "44,0.1,0.1", {"price": ["Price1"], "price_n": ["Price N"]}),
    ("Prefix,Cost", "44,0.1", {"price": ["Cost"]}),
    ("Prefix,Rate per minute", "44,0.1", {"price": ["Rate per minute"]}),
    (
        "Country Code,Area Code,Rate",
        "44,20,0.1",
        {"country_code": ["Country Code"], "area_code": ["Area Code"]},
    ),
    ("NPANXX,Rate", "201200,0.01", {"npanxx": ["NPANXX"]}),
    ("NPA-NXX,Rate", "201-200,0.01", {"npanxx": ["NPA-NXX"]}),
    ("NPA,NXX,Rate", "201,200,0.01", {"npa": ["NPA"], "nxx": ["NXX"]}),
    ("MCC,MNC,Price", "234,10,0.01", {"mcc": ["MCC"], "mnc": ["MNC"]}),
    ("MCCMNC,Price", "23410,0.01", {"mccmnc": ["MCCMNC"]}),
    ("MCC-MNC,Price", "23410,0.01", {"mccmnc": ["MCC-MNC"]}),
    ("MCCMNC E.212,Price", "23410,0.01", {"mccmnc": ["MCCMNC E.212"]}),
    ("Number,MRC,NRC", "4420123,1,2", {"number": ["Number"], "mrc": ["MRC"], "nrc": ["NRC"]}),
    ("DID,Monthly,Setup", "4420123,1,2", {"number": ["DID"], "mrc": ["Monthly"], "nrc": ["Setup"]}),
    (
        "Phone Number,MRC,Channels",
        "4420123,1,2",
        {"number": ["Phone Number"], "capacity": ["Channels"]},
    ),
    (
        "Number e164,Inbound Voice Price,Inbound SMS Price,Interval,MRC,"
        "Documents Verification Required,Status,Type,Voice,SMS,Fax,Video,Capacity,Notes,"
        "Local Requirements",
        "4420123,0.01,0.01,60,1,yes,active,local,1,0,0,0,2,n,address",
        {
            "number": ["Number e164"],
            "inbound_voice_price": ["Inbound Voice Price"],
            "inbound_sms_price": ["Inbound SMS Price"],
            "interval": ["Interval"],
            "docs_required": ["Documents Verification Required"],
            "did_status": ["Status"],
            "did_type": ["Type"],
            "voice": ["Voice"],
            "sms": ["SMS"],
            "fax": ["Fax"],
            "video": ["Video"],
            "capacity": ["Capacity"],
            "notes": ["Notes"],
            "local_requirements": ["Local Requirements"],
        },
    ),
    ("Destination,Prefix,Rate", "UK,44,0.1", {"destination": ["Destination"]}),
    ("Description,Prefix,Rate", "UK,44,0.1", {"destination": ["Description"]}),
    (
        "Country,Network,Prefix,Rate",
        "UK,EE,447,0.1",
        {"country": ["Country"], "network": ["Network"]},
    ),
    (
        "Prefix,Current Rate,New Rate",
        "44,0.1,0.2",
        {"price": ["New Rate"], "price_current": ["Current Rate"]},
    ),
    ("Prefix,Old Rate,New Rate", "44,0.1,0.2", {"price_current": ["Old Rate"]}),
    (
        "NPANXX,Interstate,Intrastate,Indeterminate",
        "201200,0.01,0.02,0.03",
        {"price_jurisdiction": ["Interstate", "Intrastate", "Indeterminate"]},
    ),
    (
        "Prefix,Rate,Valid From,End Date,Timezone",
        "44,0.1,2026-01-01,2026-12-31,UTC",
        {"effective_from": ["Valid From"], "effective_to": ["End Date"], "timezone": ["Timezone"]},
    ),
    (
        "Prefix,Rate,Effective Date,Valid To",
        "44,0.1,2026-01-01,2026-12-31",
        {"effective_from": ["Effective Date"], "effective_to": ["Valid To"]},
    ),
    (
        "Prefix,Rate,Effective,Expiry",
        "44,0.1,2026-01-01,2026-12-31",
        {"effective_from": ["Effective"], "effective_to": ["Expiry"]},
    ),
    ("Prefix,Rate,Eff. Date", "44,0.1,2026-01-01", {"effective_from": ["Eff. Date"]}),
    ("Prefix,Rate,Effective From", "44,0.1,2026-01-01", {"effective_from": ["Effective From"]}),
    ("Prefix,Rate,Start Date", "44,0.1,2026-01-01", {"effective_from": ["Start Date"]}),
    (
        "Prefix,Rate,Interval 1,Interval N",
        "44,0.1,60,1",
        {"interval1": ["Interval 1"], "interval_n": ["Interval N"]},
    ),
    (
        "Prefix,Rate,Initial Increment,Subsequent Increment",
        "44,0.1,60,1",
        {"interval1": ["Initial Increment"], "interval_n": ["Subsequent Increment"]},
    ),
    (
        "Prefix,Rate,Min Duration,Next Interval",
        "44,0.1,60,1",
        {"interval1": ["Min Duration"], "interval_n": ["Next Interval"]},
    ),
    (
        "Prefix,Rate,First Interval,Increment",
        "44,0.1,60,6",
        {"interval1": ["First Interval"], "interval_n": ["Increment"]},
    ),
    ("Prefix,Rate,Pulse", "44,0.1,60/1", {"pulse": ["Pulse"]}),
    ("Prefix,Rate,Billing", "44,0.1,60/1", {"pulse": ["Billing"]}),
    ("Prefix,Rate,Increment(s)", "44,0.1,60/1", {"pulse": ["Increment(s)"]}),
    ("Prefix,Rate,Increment", "44,0.1,60/1", {"pulse": ["Increment"]}),  # by its cells
    ("Prefix,Rate,Billing Increment", "44,0.1,30/6", {"pulse": ["Billing Increment"]}),
    ("Prefix,Rate,Interval", "44,0.1,60", {"pulse": ["Interval"]}),  # a voice deck's interval
    ("Prefix,Rate,Change", "44,0.1,Increase", {"status": ["Change"]}),
    ("Prefix,Rate,Rate Change", "44,0.1,No Change", {"status": ["Rate Change"]}),
    ("Prefix,Rate,Status", "44,0.1,Closed", {"status": ["Status"]}),
    ("Prefix,Rate,Change Indicator", "44,0.1,New", {"status": ["Change Indicator"]}),
    (
        "Prefix,Rate,Forbidden,Discontinued,Currency",
        "44,0.1,0,1,EUR",
        {"forbidden": ["Forbidden"], "discontinued": ["Discontinued"], "currency": ["Currency"]},
    ),
    ("Prefix,Rate,Code Change", "44,0.1,Added", {"code_change": ["Code Change"]}),
    (
        "Prefix,Rate,Dial Code Change Indicator",
        "44,0.1,Removed",
        {"code_change": ["Dial Code Change Indicator"]},
    ),
    ("Prefix,Rate,Area Code Change", "44,0.1,Added", {"code_change": ["Area Code Change"]}),
]


@pytest.mark.parametrize(("header", "row", "expected"), SYNONYMS, ids=[s[0] for s in SYNONYMS])
def test_synonyms(header, row, expected):
    table = one("Rate notice", "", header, row)
    assert table.header_row == 3
    for name, texts in expected.items():
        assert named(table, name) == texts


def test_every_field_has_a_synonym_case():
    covered = {name for _, _, expected in SYNONYMS for name in expected}
    assert set(vocabulary.FIELDS) - covered == set()


# --- notice block ----------------------------------------------------------------------------


def test_header_under_a_notice_block_with_facts():
    sheets = workbook(
        {
            "Rates": [
                ["Carrier Ltd."],
                [],
                ["Wholesale Rates Notification"],
                ["Product Name:", "Premium CLI"],
                ["Increase Validity Date:", dt.datetime(2026, 9, 23)],
                ["Decrease Validity Date:", "16/09/2026"],
                ["Date Issued:", dt.datetime(2026, 9, 16, 11, 30)],
                ["Currency: EUR per minute"],
                [],
                ["Destination", "Prefix", "Rate", "Effective Date"],
                ["Germany", "49", 0.01, dt.datetime(2026, 9, 23)],
                ["France", "33", 0.02, dt.datetime(2026, 9, 16)],
            ]
        }
    )
    (table,) = find_tables(sheets)
    assert table.header_row == 10
    assert table.layout == "header" and table.kind == Kind.VOICE
    facts = table.notice
    assert facts.currency == "EUR"
    assert facts.product == "Premium CLI"
    assert facts.issue_date == dt.datetime(2026, 9, 16, 11, 30)
    assert facts.increase_date == dt.datetime(2026, 9, 23)
    assert facts.decrease_date == dt.datetime(2026, 9, 16)
    assert facts.title == "Carrier Ltd."
    assert "Wholesale Rates Notification" in facts.lines
    assert facts.as_dict()["issue_date"] == "2026-09-16 11:30:00"
    assert table.data.get_column("source_row").to_list() == [11, 12]


def test_notice_dates_take_the_date_order_the_table_proves():
    table = one(
        "Issue date:,05/06/2026",
        "Prefix,Rate,Effective Date",
        "44,0.1,23/06/2026",
    )
    assert table.notice.issue_date == dt.datetime(2026, 6, 5)


def test_an_ambiguous_notice_date_is_left_out_with_a_warning():
    table = one("Issue date:,05/06/2026", "Prefix,Rate", "44,0.1")
    assert table.notice.issue_date is None
    assert any("05/06/2026" in w and "ambiguous" in w for w in table.warnings)
    table = one("Issue date:,05/06/2026", "Prefix,Rate", "44,0.1", date_order="mdy")
    assert table.notice.issue_date == dt.datetime(2026, 5, 6)


def test_currency_named_by_the_price_header():
    table = one("Prefix,Price (EUR)", "44,0.1")
    assert table.header_currency == "EUR"
    assert table.notice.currency is None


# --- keys ------------------------------------------------------------------------------------


def test_split_country_and_area_columns_stay_split_when_there_is_no_code():
    table = one("Country Code,Area Code,Rate", "44,20,0.1", "44,,0.2")
    assert set(table.columns) == {"country_code", "area_code", "price"}
    assert cells(table, "area_code") == ["20", None]
    assert table.data.height == 2


def test_a_lone_area_code_column_is_the_code():
    table = one("Destination,Area Code,Rate", "UK,4420,0.1")
    assert named(table, "code") == ["Area Code"]
    assert "area_code" not in table.columns
    assert any("only code column" in w for w in table.warnings)


def test_mcc_and_mnc_make_an_sms_table_with_leading_zeros_kept():
    table = one("Country,Network,MCC,MNC,Price", "UK,EE,234,30,0.01", "AF,AWCC,412,01,0.02")
    assert table.kind == Kind.SMS and table.kind_source == "columns"
    assert cells(table, "mnc") == ["30", "01"]


def test_did_columns_make_a_did_table():
    table = one("Number,Country,MRC,NRC,Status,Type", "4420123456,UK,1.5,0,available,local")
    assert table.kind == Kind.DID
    assert named(table, "did_status") == ["Status"]
    assert named(table, "did_type") == ["Type"]
    assert "status" not in table.columns


def test_current_and_new_rate_new_wins():
    table = one("Prefix,Rate,New Rate", "44,0.1,0.2")
    assert named(table, "price") == ["New Rate"]
    assert named(table, "price_current") == ["Rate"]
    only_current = one("Prefix,Current Rate", "44,0.1")
    assert named(only_current, "price") == ["Current Rate"]
    assert "price_current" not in only_current.columns


def test_jurisdiction_columns_in_sheet_order():
    table = one("NPA,NXX,Indeterminate,Interstate Rate,Intrastate Rate", "201,200,0.3,0.1,0.2")
    assert table.columns["price_jurisdiction"] == ("c2", "c3", "c4")
    assert table.kind == Kind.VOICE


def test_plain_increments_stay_intervals():
    table = one("Prefix,Rate,Increment", "44,0.1,6", "49,0.1,1")
    assert named(table, "interval_n") == ["Increment"]
    assert "pulse" not in table.columns


def test_duplicate_headers_first_wins_and_says_so():
    table = one("Prefix,Rate Change,Rate,Rate Change", "44,Increase,0.1,Decrease")
    assert table.columns["status"] == ("c1",)
    (warning,) = [w for w in table.warnings if "Rate Change" in w]
    assert "column B" in warning and "column D" in warning and "differ in 1 rows" in warning


# --- data rows -------------------------------------------------------------------------------


def test_blank_rows_repeated_headers_sections_and_footnotes_are_not_data():
    table = one(
        "Price list",
        "Destination,Prefix,Rate",  # row 2
        "Europe",  # section title
        "Germany,49,0.01",
        "",
        "France,33,0.02",
        "Destination,Prefix,Rate",  # repeated on a new page
        "Asia",
        "Japan,81,0.05",
        "Vanuatu,,0.9",  # no code but a price: data (the normalizer rejects it)
        "",
        "Rates are subject to change without notice.",
        "Billed 60/60: Fiji, Haiti",
    )
    assert table.header_row == 2
    assert table.data.get_column("source_row").to_list() == [4, 6, 9, 10]
    assert table.skipped == {"blank": 2, "repeated_header": 1, "section": 2, "footnote": 2}
    assert "Billed 60/60: Fiji, Haiti" in table.notice.lines
    assert "Europe" not in table.notice.lines
    assert table.data.schema["source_row"] == pl.Int64
    assert all(table.data.schema[c] == pl.String for c in table.data.columns if c != "source_row")


def test_data_keeps_every_sheet_column():
    table = one("Prefix,Rate,Time Type", "44,0.1,STD")
    assert table.data.columns == ["source_row", "c0", "c1", "c2"]
    assert any("Time Type" in w for w in table.warnings)


# --- other layouts ---------------------------------------------------------------------------


def test_transmission_guidelines_layout_without_header():
    table = one(
        "44,United Kingdom,0.0123,60,0.0100,6,,,,,2026-01-01,2026-12-31",
        "4420,London,0.0200,1,0.02,1",
        "49,Germany,0.01",
        "",
        "end of file",
    )
    assert table.layout == "guidelines" and table.header_row is None
    assert table.kind == Kind.VOICE and table.kind_source == "layout"
    assert table.columns == {
        "code": ("c0",),
        "destination": ("c1",),
        "price": ("c2",),
        "interval1": ("c3",),
        "price_n": ("c4",),
        "interval_n": ("c5",),
        "effective_from": ("c10",),
        "effective_to": ("c11",),
    }
    assert table.data.get_column("source_row").to_list() == [1, 2, 3]
    assert table.skipped["footnote"] == 1 and table.skipped["blank"] == 1


def test_short_guidelines_rows_map_only_the_columns_present():
    table = one("44,United Kingdom,0.0123", "49,Germany,0.01")
    assert set(table.columns) == {"code", "destination", "price"}


def test_text_that_is_not_a_deck_is_not_the_guidelines_layout():
    with pytest.raises(SheetError) as caught:
        one("hello,world,again", "some,more,text")
    assert caught.value.reason == "no_table"


def test_code_changes_sheet():
    sheets = workbook(
        {
            "Numbering": [
                ["If a dial code is deleted, it ends the day before the rate's date."],
                ["Dial Code Change Indicator", "Destination", "Code"],
                ["Added", "UK Mobile", "447"],
                ["Removed", "UK Fixed", "4420"],
            ]
        }
    )
    (table,) = find_tables(sheets)
    assert table.layout == "code_changes" and table.header_row == 2
    assert named(table, "code_change") == ["Dial Code Change Indicator"]
    assert table.data.height == 2
    assert table.notice.lines[0].startswith("If a dial code is deleted")


@pytest.mark.parametrize(("kind", "expected"), [(Kind.VOICE, "code"), (Kind.SMS, "mccmnc")])
def test_opentwps_exports_are_tables(kind, expected):
    heads = [h for h, _ in opentwps_columns(kind)] + [h for h, _ in extended_columns(kind)]
    values = {"voice": "44", "sms": "23410"}[kind]
    row = ",".join([values, "0.1"] + [""] * (len(heads) - 2))
    table = one(",".join(heads), row)
    assert table.kind == kind
    assert table.columns[expected] == ("c0",)
    assert "price" in table.columns
    if kind == Kind.VOICE:
        assert named(table, "price_n") == ["Price N"]
        assert named(table, "destination") == ["Description"]
        assert named(table, "effective_to") == ["End Date"]


def test_opentwps_did_export_is_a_did_table():
    heads = [h for h, _ in opentwps_columns(Kind.DID)] + [h for h, _ in extended_columns(Kind.DID)]
    table = one(",".join(heads), ",".join(["4420123"] + ["1"] * (len(heads) - 1)))
    assert table.kind == Kind.DID
    assert named(table, "number") == ["Number e164"]
    assert named(table, "did_status") == ["Status"]
    assert named(table, "interval") == ["Interval"]


# --- kind ------------------------------------------------------------------------------------


def test_a_given_kind_wins_when_the_columns_do_not_contradict_it():
    table = one("Network,Code,Price", "EE,23430,0.01", kind="sms", kind_source="vendor")
    assert table.kind == Kind.SMS and table.kind_source == "vendor"
    assert named(table, "mccmnc") == ["Code"]


def test_wrong_kind():
    with pytest.raises(SheetError) as caught:
        one("MCC,MNC,Price", "234,30,0.01", kind="voice")
    assert caught.value.reason == "wrong_kind"
    assert "sms" in caught.value.message
    with pytest.raises(SheetError) as caught:
        one("Number,MRC", "4420123,1", kind=Kind.VOICE)
    assert caught.value.reason == "wrong_kind"


def test_a_sheet_of_another_kind_is_left_out_when_the_asked_kind_is_there():
    sheets = workbook(
        {
            "Voice": [["Prefix", "Rate"], ["44", 0.1]],
            "SMS": [["MCC", "MNC", "Price"], ["234", "30", 0.01]],
        }
    )
    assert [(t.sheet, t.kind) for t in find_tables(sheets)] == [
        ("Voice", Kind.VOICE),
        ("SMS", Kind.SMS),
    ]
    (table,) = find_tables(sheets, kind="voice")
    assert table.sheet == "Voice" and table.kind_source == "command line"
    assert any("'SMS'" in w for w in table.warnings)


# --- vendor overrides ------------------------------------------------------------------------


def test_override_sheet_is_a_glob():
    sheets = workbook(
        {
            "Voice A": [["Prefix", "Rate"], ["44", 0.1]],
            "Voice B": [["Prefix", "Rate"], ["49", 0.2]],
        }
    )
    (table,) = find_tables(sheets, sheet="*b")
    assert table.sheet == "Voice B"
    with pytest.raises(SheetError) as caught:
        find_tables(sheets, sheet="Prices")
    assert caught.value.reason == "bad_override"
    assert "'Voice A'" in caught.value.message


def test_override_header_row_and_columns():
    lines = ("Code,Rate", "Note: below", "Bestemming,Kengetal,Tarief", "Germany,49,0.01")
    assert one(*lines).header_row == 1  # the vocabulary (no Dutch) picks the first row
    table = one(*lines, header_row=3, columns={"Kengetal": "code", "tarief": "price"})
    assert table.header_row == 3
    assert named(table, "code") == ["Kengetal"] and named(table, "price") == ["Tarief"]
    assert table.data.get_column("source_row").to_list() == [4]
    table = one(*lines, header_row=3, columns={"Kengetal": "code", "Tarief": "price", "X": "fax"})
    assert any("not in header row 3: 'X'" in w for w in table.warnings)


def test_override_columns_beat_the_vocabulary_and_can_ignore():
    table = one(
        "Prefix,Rate,Promo Rate,Rate Change",
        "44,0.1,0.05,Increase",
        columns={"Promo Rate": "price", "Rate Change": "ignore"},
    )
    assert named(table, "price") == ["Promo Rate"]
    assert "status" not in table.columns
    assert any("'Rate'" in w for w in table.warnings)


def test_bad_override_names_the_allowed_fields():
    with pytest.raises(SheetError) as caught:
        one("Prefix,Rate", "44,0.1", columns={"Rate": "cost"})
    assert caught.value.reason == "bad_override"
    assert "'cost'" in caught.value.message
    assert "price" in caught.value.message and "effective_from" in caught.value.message


def test_no_table_message_says_what_was_looked_for_and_how_to_fix_it():
    sheets = workbook(
        {
            "Notes": [["Thank you for your business"]],
            "Tarife": [["Ziel", "Vorwahl", "Gültig ab"], ["Germany", "49", "2026-01-01"]],
        }
    )
    with pytest.raises(SheetError) as caught:
        find_tables(sheets)
    message = caught.value.message
    assert caught.value.reason == "no_table"
    first, fix = message.split("\n")
    assert "'Notes'" in first and "'Tarife'" in first and "row 1" in first
    assert "Ziel | Vorwahl | Gültig ab" in first and "no price column" in first
    assert '--map "<header as written>=<field>"' in fix
    assert "header_row" in fix and "columns" in fix and "sheet" in fix


def test_no_table_message_shows_the_best_candidate_row():
    with pytest.raises(SheetError) as caught:
        one("Rates", "Destination,Prefix,Valid From", "UK,44,2026-01-01")
    message = caught.value.message
    assert "row 2" in message and "Destination | Prefix | Valid From" in message
    assert "no price column" in message


def test_a_header_without_data_rows_is_skipped_silently():
    sheets = workbook(
        {
            "Empty": [["Destination", "Prefix", "Rate"]],
            "Rates": [["Destination", "Prefix", "Rate"], ["UK", "44", 0.1]],
        }
    )
    assert [t.sheet for t in find_tables(sheets)] == ["Rates"]


# --- large sheets ----------------------------------------------------------------------------


def test_a_million_rows_are_classified_with_columns_not_loops():
    rows = 1_000_000
    body = pl.select(
        pl.lit("Somewhere").alias("c0"),
        (pl.int_range(rows) + 100_000).cast(pl.String).alias("c1"),
        pl.lit("0.0123").alias("c2"),
        pl.lit("60/1").alias("c3"),
    )
    header = pl.DataFrame(
        [["Currency:", "USD", None, None], ["Destination", "Prefix", "Rate", "Billing"]],
        schema=body.columns,
        orient="row",
    )
    started = time.perf_counter()
    (table,) = find_tables([Sheet("big", pl.concat([header, body]))])
    elapsed = time.perf_counter() - started
    assert table.data.height == rows and table.notice.currency == "USD"
    # well under a second on a laptop, a few on a loaded machine; a loop takes minutes
    assert elapsed < 10, f"{elapsed:.2f}s"


# --- the corpus ------------------------------------------------------------------------------


def test_airtel(corpus):
    sheets = read_sheets((corpus / "Airtel.xlsx").read_bytes(), filename="Airtel.xlsx")
    tables = find_tables(sheets)
    assert [(t.sheet, t.layout) for t in tables] == [
        ("Pricing", "header"),
        ("Numbering_plan", "code_changes"),
    ]  # Time Band (a header, no rows) is skipped
    pricing = tables[0]
    # the sheet's 10th non-empty row; blank rows 2-3, 5-6 and 14 count as rows
    assert pricing.header_row == 15
    assert named(pricing, "code") == ["Complete Code"]
    assert named(pricing, "country_code") == ["Country Code"]
    assert named(pricing, "area_code") == ["Area Code"]
    assert named(pricing, "price") == ["Rates (USD / Min)"]
    assert named(pricing, "effective_from") == ["Valid From"]
    assert named(pricing, "pulse") == ["Pulse"]
    assert named(pricing, "destination") == ["Destination"]
    assert pricing.columns["status"] == ("c7",)  # the first "Rate Change"
    assert any("column K 'Rate Change'" in w and "agree" in w for w in pricing.warnings)
    assert pricing.kind == Kind.VOICE and pricing.kind_source == "columns"
    assert pricing.data.height == 18_254
    assert pricing.data.get_column("source_row")[0] == 16
    assert pricing.header_currency == "USD"
    facts = pricing.notice
    assert facts.currency == "USD"
    assert facts.product == "Wholesale Gold+"
    assert facts.increase_date == dt.datetime(2023, 5, 16)
    assert facts.decrease_date == dt.datetime(2023, 5, 10)
    assert facts.issue_date == dt.datetime(2023, 5, 9, 11, 33, 1)
    plan = tables[1]
    assert plan.header_row == 2
    assert named(plan, "code_change") == ["Dial Code Change Indicator"]
    assert named(plan, "code") == ["Area Code"]  # complete codes there
    assert plan.data.height == 18_254


def test_acme_rate_notice(corpus):
    data = (corpus / "acme_rate_notice.csv").read_bytes()
    (table,) = find_tables(read_sheets(data, filename="acme_rate_notice.csv"))
    assert table.header_row == 7
    assert table.data.height == 8
    assert table.data.get_column("source_row").to_list() == list(range(8, 16))
    assert table.skipped == {"blank": 1, "repeated_header": 0, "section": 0, "footnote": 1}
    assert any(line.startswith("Rates are subject to change") for line in table.notice.lines)
    assert table.notice.currency == "USD"
    assert table.notice.issue_date == dt.datetime(2026, 9, 16)
    assert named(table, "code") == ["Dial Codes"]
    assert named(table, "price") == ["Rate/Min"]
    assert named(table, "pulse") == ["Billing"]
    assert named(table, "status") == ["Change"]
    assert named(table, "country") == ["Country"] and named(table, "network") == ["Network"]


def test_mcc_mnc_table_as_an_sms_deck(corpus):
    # the list has no price: with a price column added it is an SMS deck, MNCs intact
    frame = read_sheets((corpus / "mcc-mnc-table.csv").read_bytes())[0].frame
    price = ["Price"] + ["0.01"] * (frame.height - 1)
    frame = frame.with_columns(pl.Series(f"c{frame.width}", price, dtype=pl.String))
    (table,) = find_tables([Sheet("sms", frame)])
    assert table.kind == Kind.SMS
    assert named(table, "mcc") == ["MCC"] and named(table, "mnc") == ["MNC"]
    assert table.data.height == 2599
    mnc = table.data.get_column(table.columns["mnc"][0])
    assert "01" in mnc.to_list() and "001" in mnc.to_list()
