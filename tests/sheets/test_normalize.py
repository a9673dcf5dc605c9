"""docs/reading.md#cells: a found table → normalized decks, one table per trick a real deck
plays."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import missing

from ingestd.errors import SheetError
from ingestd.rates.model import Kind, spec_for
from ingestd.sheets.normalize import normalize
from ingestd.sheets.notice import NoticeFacts
from ingestd.sheets.prose import read_increment_notes
from ingestd.sheets.table import FoundTable

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus"


def found(
    columns: list[tuple[str, str | None]],
    *rows: list[str | None],
    kind: Kind | str = Kind.VOICE,
    layout: str = "header",
    notice: NoticeFacts | None = None,
    header_row: int | None = 1,
) -> FoundTable:
    """A table as ``find_tables`` hands it over: ``columns`` are (header, field) in sheet
    order (field None: a column not read), ``rows`` the data rows under the header."""
    fields: dict[str, tuple[str, ...]] = {}
    headers = {}
    for i, (header, name) in enumerate(columns):
        headers[f"c{i}"] = header
        if name:
            fields[name] = (*fields.get(name, ()), f"c{i}")
    first = (header_row or 0) + 1
    data = pl.DataFrame(
        [list(r) + [None] * (len(columns) - len(r)) for r in rows],
        schema={f"c{i}": pl.String for i in range(len(columns))},
        orient="row",
    ).with_columns(pl.int_range(first, first + len(rows), dtype=pl.Int64).alias("source_row"))
    return FoundTable(
        sheet="Rates",
        layout=layout,
        kind=Kind(kind),
        kind_source="columns",
        header_row=header_row,
        columns=fields,
        headers=headers,
        data=data,
        notice=notice or NoticeFacts(),
    )


def one(table: FoundTable, **options):
    decks = normalize(table, **options)
    assert len(decks) == 1
    return decks[0]


def column(deck, *names: str) -> list:
    if len(names) == 1:
        return deck.rows.get_column(names[0]).to_list()
    return list(deck.rows.select(names).iter_rows())


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def d(text: str) -> Decimal:
    return Decimal(text)


CODE_RATE = [("Code", "code"), ("Rate", "price")]


# --- the shape -------------------------------------------------------------------------------


def test_a_plain_deck_gives_the_kinds_row_shape_and_the_report():
    notice = NoticeFacts(currency="USD", product="Wholesale Gold+", title="Acme")
    deck = one(
        found(
            [("Destination", "destination"), ("Prefix", "code"), ("Price($)", "price"),
             ("Valid From", "effective_from"), ("Remarks", None)],
            ["Germany Fixed", "49", "0.0078", "2026-09-16", "x"],
            ["United Kingdom", "44", "0.15840000000000001", "ASAP"],
            notice=notice,
        )
    )  # fmt: skip
    assert list(deck.rows.columns) == [*spec_for("voice").schema(), "source_row", "vendor_class"]
    assert deck.rows.to_dicts() == [
        {
            "code": "49",
            "effective_from": at("2026-09-16"),
            "price1": d("0.0078"),
            "price_n": d("0.0078"),
            "interval1": 1,
            "interval_n": 1,
            "effective_to": None,
            "forbidden": False,
            "discontinued": False,
            "description": "Germany Fixed",
            "currency": "USD",
            "source_row": 2,
            "vendor_class": None,
        },
        {
            "code": "44",
            "effective_from": None,
            "price1": d("0.1584"),
            "price_n": d("0.1584"),
            "interval1": 1,
            "interval_n": 1,
            "effective_to": None,
            "forbidden": False,
            "discontinued": False,
            "description": "United Kingdom",
            "currency": "USD",
            "source_row": 3,
            "vendor_class": None,
        },
    ]
    assert deck.errors == [] and deck.warnings == []
    assert deck.report() == {
        "sheet": "Rates",
        "layout": "header",
        "header_row": 1,
        "kind": "voice",
        "kind_source": "columns",
        "mapping": {
            "Destination": "destination",
            "Prefix": "code",
            "Price($)": "price",
            "Valid From": "effective_from",
        },
        "date_order": None,
        "hyphen": None,
        "increments": {"default 1/1": 2},
        "increment_rules": [],
        "currency": "USD",
        "product": "Wholesale Gold+",
        "notice": notice.as_dict(),
        "rows": {"seen": 2, "accepted": 2, "rejected": 0},
        "skipped": {},
        "table_suffix": None,
        "warnings": [],
        "doubts": [],
        "fingerprint": None,
        "columns": [],
        "sheets": [],
        "code_changes": {},
    }


def test_wrong_options_are_the_callers_mistake():
    table = found(CODE_RATE, ["44", "0.1"])
    for wrong in (
        {"timezone": "Mars/Olympus"},
        {"currency": "dollars"},
        {"date_order": "ydm"},
        {"hyphen": "dash"},
        {"duplicate_policy": "newest"},
        {"default_intervals": (0, 1)},
        {"increment_rules": {"Fiji": (60,)}},
    ):
        with pytest.raises(ValueError):
            normalize(table, **wrong)


def test_a_table_without_codes_is_refused():
    with pytest.raises(SheetError) as caught:
        normalize(found([("Rate", "price")], ["0.1"]))
    assert caught.value.reason == "no_code_column"


def test_blank_rows_are_skipped_and_counted():
    deck = one(found(CODE_RATE, ["44", "0.1"], [None, " "], ["49", "0.2"]))
    assert column(deck, "code", "source_row") == [("44", 2), ("49", 4)]
    assert deck.skipped == {"blank": 1}
    assert deck.total_rows == 2


# --- codes -----------------------------------------------------------------------------------


def test_a_cell_with_a_list_and_a_range_becomes_one_row_per_code():
    deck = one(
        found(
            CODE_RATE,
            ["49152, 49162, 49172-49174", "0.0495"],
            ["234803; 234806 | 234703", "0.1123"],
            ["336 07\n336 08", "0.052"],
            ["+521", "0.0151"],
            ["447400-447409", "0.0112"],
        )
    )
    assert column(deck, "code", "source_row") == [
        ("49152", 2), ("49162", 2), ("49172", 2), ("49173", 2), ("49174", 2),
        ("234803", 3), ("234806", 3), ("234703", 3),
        ("33607", 4), ("33608", 4),
        ("521", 5),
        *((f"44740{i}", 6) for i in range(10)),
    ]  # fmt: skip
    assert set(column(deck, "price1")[-10:]) == {d("0.0112")}
    assert deck.total_rows == 5


def test_a_range_too_long_or_with_ends_of_unequal_length_is_a_row_error():
    deck = one(
        found(CODE_RATE, ["44740-44749", "0.1"], ["4474-44749", "0.1"], ["100000-199999", "0.1"])
    )
    assert column(deck, "code") == [f"4474{i}" for i in range(10)]
    assert [(e.row, e.reason) for e in deck.errors] == [(3, "bad_range"), (4, "bad_range")]
    assert deck.errors[0].message.startswith("Code '4474-44749' is not a range of codes")
    assert deck.errors[0].cells == ("4474-44749", "0.1")


def test_hyphens_of_country_area_pairs_are_joined():
    deck = one(found(CODE_RATE, ["93-76", "0.1"], ["44-20", "0.2"], ["1-201", "0.3"], ["7", "0.4"]))
    assert column(deck, "code") == ["9376", "4420", "1201", "7"]


def test_a_column_of_pairs_and_ranges_is_read_item_by_item():
    deck = one(
        found(
            CODE_RATE, ["93-76", "0.1"], ["447400-447402", "0.2"], ["1264-581", "0.3"],
            ["1 876 - 3", "0.4"], ["33612-33613", "0.5"],
        )
    )  # fmt: skip
    assert column(deck, "code", "source_row") == [
        ("9376", 2), ("447400", 3), ("447401", 3), ("447402", 3), ("1264581", 4), ("18763", 5),
        ("33612", 6), ("33613", 6),
    ]  # fmt: skip
    assert deck.errors == []


def test_a_column_whose_items_stay_ambiguous_is_refused_until_the_vendor_says():
    # "44-44" could be a pair or a range of one, and the column proves both meanings
    table = found(CODE_RATE, ["93-76", "0.1"], ["447400-447409", "0.2"], ["44-44", "0.3"])
    with pytest.raises(SheetError) as caught:
        normalize(table)
    assert caught.value.reason == "mixed_hyphens"
    assert "'93-76'" in caught.value.message and "hyphen" in caught.value.message
    as_ranges = one(table, hyphen="range")
    assert len(as_ranges.rows) == 11 and [e.reason for e in as_ranges.errors] == ["bad_range"]
    as_pairs = one(table, hyphen="pair")
    assert column(as_pairs, "code") == ["9376", "447400447409", "4444"]


def test_excel_damage_is_repaired_or_the_row_rejected():
    deck = one(
        found(
            CODE_RATE,
            ["7.9407E+4", "0.1"],
            ["7940.0", "0.2"],
            ["1.23456789012346E+17", "0.3"],  # lost digits to Excel's 15 significant digits
            ["0044 20", "0.4"],
            ["", "0.5"],
        )
    )
    assert column(deck, "code") == ["79407", "7940", "4420"]
    assert [(e.row, e.reason, e.code) for e in deck.errors] == [
        (4, "bad_code", "1.23456789012346E+17"),
        (6, "missing_code", None),
    ]
    assert deck.errors[0].cells == ("1.23456789012346E+17", "0.3")
    assert deck.errors[0].sheet == "Rates"


def test_country_code_and_area_code_are_joined():
    deck = one(
        found(
            [("Country Code", "country_code"), ("Area Code", "area_code"), ("Rate", "price")],
            ["93", "76", "0.1"],
            ["+44", "20 7", "0.2"],
            ["93", None, "0.3"],
            ["1", "201, 202", "0.4"],
            ["x", "1", "0.5"],
        )
    )
    assert column(deck, "code", "source_row") == [
        ("9376", 2), ("44207", 3), ("93", 4), ("1201", 5), ("1202", 5),
    ]  # fmt: skip
    assert [(e.row, e.reason) for e in deck.errors] == [(6, "bad_code")]
    assert deck.errors[0].message.startswith("Country Code 'x'")


def test_npanxx_codes_get_the_nanp_country_code():
    deck = one(
        found(
            [("NPA-NXX", "npanxx"), ("Rate", "price")],
            ["201-555", "0.01"],
            ["212200", "0.02"],
            ["213300-213302", "0.03"],
            ["2015", "0.04"],
        )
    )
    assert column(deck, "code") == ["1201555", "1212200", "1213300", "1213301", "1213302"]
    assert [(e.row, e.reason) for e in deck.errors] == [(5, "bad_code")]


def test_npa_and_nxx_columns_are_joined():
    deck = one(
        found(
            [("NPA", "npa"), ("NXX", "nxx"), ("Rate", "price")],
            ["201", "555", "0.01"],
            ["212", None, "0.02"],
            ["212", "2", "0.03"],
        )
    )
    assert column(deck, "code") == ["1201555", "1212"]
    assert [(e.row, e.reason) for e in deck.errors] == [(4, "bad_code")]


def test_jurisdiction_price_columns_become_one_deck_each():
    table = found(
        [("NPANXX", "npanxx"), ("Interstate Rate", "price_jurisdiction"),
         ("Intrastate Rate", "price_jurisdiction"), ("Indeterminate", "price_jurisdiction")],
        ["201555", "0.01", "0.02", "0.03"],
        ["212200", "0.04", "bad", "0.06"],
    )  # fmt: skip
    decks = normalize(table)
    assert [deck.table_suffix for deck in decks] == ["interstate", "intrastate", "indeterminate"]
    assert [column(deck, "code", "price1") for deck in decks] == [
        [("1201555", d("0.01")), ("1212200", d("0.04"))],
        [("1201555", d("0.02"))],
        [("1201555", d("0.03")), ("1212200", d("0.06"))],
    ]
    assert [(e.row, e.reason) for e in decks[1].errors] == [(3, "bad_price")]
    assert decks[1].errors[0].message == "Intrastate Rate 'bad' is not a price"
    assert all(deck.total_rows == 2 for deck in decks)


def test_mcc_and_mnc_keep_their_leading_zeros():
    deck = one(
        found(
            [("MCC", "mcc"), ("MNC", "mnc"), ("Price", "price")],
            ["412", "01", "0.02"],
            ["310", "001", "0.03"],
            ["310", "010", "0.04"],
            ["001", "1", "0.05"],  # Excel dropped a zero: 01 or 001?
            ["234", None, "0.06"],
            kind="sms",
        )
    )
    assert list(deck.rows.columns) == [*spec_for("sms").schema(), "source_row", "vendor_class"]
    assert column(deck, "code") == ["41201", "310001", "310010", "234"]
    assert [(e.row, e.reason) for e in deck.errors] == [(5, "bad_code")]
    assert deck.errors[0].message.startswith("MNC '1'")


def test_every_mccmnc_of_the_real_list_survives_exactly():
    path = CORPUS / "mcc-mnc-table.csv"
    if not path.is_file():
        missing(f"the shared corpus is not at {CORPUS}")
    table = pl.read_csv(path, infer_schema=False).unique(["MCC", "MNC"], maintain_order=True)
    rows = [
        [mcc, mnc, country, network, f"0.{i:04d}"]
        for i, (mcc, mnc, country, network) in enumerate(
            table.select("MCC", "MNC", "Country", "Network").iter_rows()
        )
    ]
    deck = one(
        found(
            [("MCC", "mcc"), ("MNC", "mnc"), ("Country", "country"), ("Network", "network"),
             ("SMS Rate", "price")],
            *rows,
            kind="sms",
        )
    )  # fmt: skip
    expected = [mcc + mnc for mcc, mnc, *_ in rows]
    assert deck.errors == []
    assert column(deck, "code") == expected
    assert any(len(mnc) == 3 and mnc.startswith("0") for _, mnc, *_ in rows)
    assert column(deck, "description")[0] == f"{rows[0][2]} – {rows[0][3]}"


def test_an_mccmnc_column_is_read_as_written():
    deck = one(
        found([("MCCMNC", "mccmnc"), ("Price", "price")], ["00101", "0.1"], ["310-001", "0.2"],
              kind="sms")
    )  # fmt: skip
    assert column(deck, "code") == ["00101", "310001"]


# --- prices and currency ---------------------------------------------------------------------


def test_decimal_commas_and_thousands_are_decided_per_column():
    deck = one(found(CODE_RATE, ["44", "0,0495"], ["49", "1.234,5"], ["33", "12"]))
    assert column(deck, "price1") == [d("0.0495"), d("1234.5"), d("12")]


def test_the_currency_comes_from_the_cells_the_header_the_notice_or_the_vendor():
    cells = one(found(CODE_RATE, ["44", "€0,05"], ["49", "0.10 USD"], ["33", "0.2"]))
    assert column(cells, "currency") == ["EUR", "USD", None]
    assert cells.currency == "EUR" and "several currencies" in cells.warnings[0]
    header = one(found([("Code", "code"), ("Rates (GBP / Min)", "price")], ["44", "0.1"]))
    assert column(header, "currency") == ["GBP"]
    notice = one(found(CODE_RATE, ["44", "0.1"], notice=NoticeFacts(currency="EUR")),
                 currency="USD")  # fmt: skip
    assert column(notice, "currency") == ["EUR"]
    vendor = one(found(CODE_RATE, ["44", "0.1"]), currency="usd")
    assert column(vendor, "currency") == ["USD"]


def test_a_currency_column_wins_and_is_checked():
    deck = one(
        found([*CODE_RATE, ("Currency", "currency")], ["44", "$0.1", "eur"], ["49", "0.1", "?"])
    )
    assert column(deck, "currency") == ["EUR"]
    assert [(e.row, e.reason) for e in deck.errors] == [(3, "bad_currency")]


def test_price_errors_are_row_errors_with_the_leftmost_problem_first():
    deck = one(
        found(
            [*CODE_RATE, ("Effective", "effective_from")],
            ["44", "-0.1", "soon"],
            ["49", "abc", "2026-01-01"],
            ["33", "", ""],
            ["34", "0", ""],
        )
    )
    assert column(deck, "code", "price1") == [("34", d("0"))]
    assert [(e.row, e.reason) for e in deck.errors] == [
        (2, "negative_price"), (3, "bad_price"), (4, "missing_price"),
    ]  # fmt: skip
    assert deck.errors[0].message == "Rate '-0.1' is negative; Effective 'soon' is not a date"


def test_the_new_rate_wins_over_the_current_one_where_it_is_given():
    deck = one(
        found(
            [("Code", "code"), ("Current Rate", "price_current"), ("New Rate", "price")],
            ["44", "0.10", "0.12"],
            ["49", "0.20", ""],
            ["33", "junk", "0.30"],
            ["34", "junk", ""],
        )
    )
    assert column(deck, "code", "price1") == [("44", d("0.12")), ("49", d("0.20")),
                                              ("33", d("0.30"))]  # fmt: skip
    assert [(e.row, e.reason) for e in deck.errors] == [(5, "bad_price")]


def test_price_n_defaults_to_price1():
    deck = one(
        found([*CODE_RATE, ("Price N", "price_n")], ["44", "0.1", "0.05"], ["49", "0.2", ""])
    )
    assert column(deck, "price1", "price_n") == [(d("0.1"), d("0.05")), (d("0.2"), d("0.2"))]


# --- dates -----------------------------------------------------------------------------------


DATED = [*CODE_RATE, ("Effective", "effective_from")]


def test_day_first_and_month_first_columns():
    dmy = one(found(DATED, ["44", "0.1", "23/09/2026"], ["49", "0.1", "01/10/2026"]))
    assert column(dmy, "effective_from") == [at("2026-09-23"), at("2026-10-01")]
    assert dmy.date_order == "dmy"
    mdy = one(found(DATED, ["44", "0.1", "09/23/2026"], ["49", "0.1", "10/01/2026"]))
    assert column(mdy, "effective_from") == [at("2026-09-23"), at("2026-10-01")]
    assert mdy.date_order == "mdy"


def test_a_column_of_ambiguous_dates_holds_the_deck_until_someone_says():
    table = found(DATED, ["44", "0.1", "01/02/2026"], ["49", "0.1", "03/04/2026"])
    held = one(table)
    (doubt,) = held.doubts
    assert doubt.topic == "date_order" and doubt.answer == "--date-order dmy"
    assert "'01/02/2026'" in doubt.subject and "day-first" in doubt.question
    assert column(held, "effective_from") == [at("2026-02-01"), at("2026-04-03")]  # as asked
    deck = one(table, date_order="mdy")
    assert deck.doubts == []
    assert column(deck, "effective_from") == [at("2026-01-02"), at("2026-03-04")]
    assert deck.date_order == "mdy"


def test_an_ambiguous_end_date_column_follows_the_start_dates_proof():
    deck = one(
        found(
            [*DATED, ("End Date", "effective_to")],
            ["44", "0.1", "23/09/2026", "01/02/2027"],
        )
    )
    assert column(deck, "effective_from", "effective_to") == [(at("2026-09-23"), at("2027-02-01"))]


def test_excel_serial_dates_and_the_vendors_time_zone():
    deck = one(
        found(DATED, ["44", "0.1", "46288"], ["49", "0.1", "2026-09-23 12:00"]),
        timezone="Europe/Berlin",
    )
    assert column(deck, "effective_from") == [at("2026-09-22 22:00"), at("2026-09-23 10:00")]


def test_a_timezone_column_wins_per_row():
    deck = one(
        found(
            [*DATED, ("Timezone", "timezone")],
            ["44", "0.1", "2026-01-16 10:00", "Europe/London"],
            ["49", "0.1", "2026-01-16 10:00", ""],
            ["33", "0.1", "2026-01-16 10:00", "Mars/Olympus"],
        ),
        timezone="Asia/Tokyo",
    )
    assert column(deck, "effective_from") == [at("2026-01-16 10:00"), at("2026-01-16 01:00")]
    assert [(e.row, e.reason) for e in deck.errors] == [(4, "bad_timezone")]
    assert deck.errors[0].message == "Timezone 'Mars/Olympus' is not a time zone"


def test_without_a_date_column_the_notice_dates_are_defaults():
    notice = NoticeFacts(increase_date=at("2023-05-16"), decrease_date=at("2023-05-10"))
    deck = one(
        found(
            [*CODE_RATE, ("Rate Change", "status")],
            ["44", "0.2", "Increase"],
            ["49", "0.1", "Decrease"],
            ["33", "0.1", "No Change"],
            ["34", "0.1", "New"],
            notice=notice,
        ),
        timezone="Europe/Berlin",
    )
    assert column(deck, "effective_from") == [
        at("2023-05-15 22:00"), at("2023-05-09 22:00"), None, None,
    ]  # fmt: skip


def test_blank_dates_take_the_notice_date_but_asap_stays_asap():
    notice = NoticeFacts(increase_date=at("2023-05-16"))
    deck = one(
        found(
            [*DATED, ("Change", "status")],
            ["44", "0.2", "", "Increase"],
            ["49", "0.2", "ASAP", "Increase"],
            notice=notice,
        )
    )
    assert column(deck, "effective_from") == [at("2023-05-16"), None]


# --- increments ------------------------------------------------------------------------------


def test_pulses_give_both_intervals():
    deck = one(
        found([*CODE_RATE, ("Billing", "pulse")], ["44", "0.1", "60/1"], ["49", "0.1", "60/60"],
              ["33", "0.1", "1/1"], ["34", "0.1", ""], ["35", "0.1", "per call"])
    )  # fmt: skip
    assert column(deck, "interval1", "interval_n") == [(60, 1), (60, 60), (1, 1), (1, 1)]
    assert deck.increments == {"pulse": 3, "default 1/1": 1}
    assert [(e.row, e.reason) for e in deck.errors] == [(6, "bad_interval")]


def test_separate_interval_columns():
    deck = one(
        found(
            [*CODE_RATE, ("Interval 1", "interval1"), ("Interval N", "interval_n")],
            ["44", "0.1", "60", "6"],
            ["49", "0.1", "30", ""],
            ["33", "0.1", "", ""],
        )
    )
    assert column(deck, "interval1", "interval_n") == [(60, 6), (30, 30), (1, 1)]
    assert deck.increments == {"column": 2, "default 1/1": 1}


def test_increments_from_the_notes():
    notice = NoticeFacts(
        lines=(
            "Issue date: 16/09/2026",
            "The following countries will be billed 60/60: Fiji, Haiti, …",
            "Cuba and Chad: 30/6",
            "Note: billed 60/1 for Peru",
        )
    )
    deck = one(
        found(
            [("Country", "country"), ("Network", "network"), *CODE_RATE, ("Pulse", "pulse")],
            ["Fiji", "Mobile", "679", "0.5"],
            ["Haiti", None, "509", "0.4"],
            ["Cuba", "Fixed", "53", "0.6"],
            ["Peru", "Fixed", "51", "0.1"],
            ["Chad", "Mobile", "235", "0.3", "1/1"],  # its own cell wins
            notice=notice,
        )
    )
    assert column(deck, "code", "interval1", "interval_n") == [
        ("679", 60, 60), ("509", 60, 60), ("53", 30, 6), ("51", 60, 1), ("235", 1, 1),
    ]  # fmt: skip
    assert deck.increments == {"pulse": 1, "notes": 4}


def test_notes_rules_are_read_by_name():
    reading = read_increment_notes(
        ["Fiji, Haiti: 60/60", "billed in 60/60 increments: Côte d'Ivoire; Mali & Niger etc.",
         "Valid from: 01/02/2026", "Billing 60/60 applies", "Currency: USD"]
    )  # fmt: skip
    assert [(r.names, r.first, r.next, r.source) for r in reading.rules] == [
        (("Fiji", "Haiti"), 60, 60, "notes"),
        (("Côte d'Ivoire", "Mali", "Niger"), 60, 60, "notes"),
    ]
    # increments for no destination: held with a question, not applied to every row
    assert reading.unread == ("Billing 60/60 applies",) and reading.default is None


def test_vendor_rules_and_default_increments():
    notice = NoticeFacts(lines=("Germany: 30/30",))
    table = found(
        [("Destination", "destination"), *CODE_RATE, ("Billing", "pulse")],
        ["Germany Mobile", "4915", "0.1"],
        ["Germany Fixed", "49", "0.1", "1/1"],
        ["France", "33", "0.1"],
        ["Fiji", "679", "0.1"],
        notice=notice,
    )
    deck = one(
        table,
        default_intervals=(60, 60),
        increment_rules={"germany m*": (60, 1), "Fiji": (30, 6)},
    )
    assert column(deck, "interval1", "interval_n") == [(60, 1), (1, 1), (60, 60), (30, 6)]
    assert deck.increments == {"pulse": 1, "vendor rule": 2, "vendor default": 1}
    assert one(table).increments == {"pulse": 1, "notes": 1, "default 1/1": 2}


# --- status words and flags ------------------------------------------------------------------


def test_status_words_give_the_vendor_class_and_the_flags():
    deck = one(
        found(
            [*CODE_RATE, ("Change", "status")],
            ["1", "0.1", "Increase"],
            ["2", "0.1", " increased "],
            ["3", "0.1", "DOWN"],
            ["4", "0.1", "Added"],
            ["5", "0.1", "No Change on Pending Increase"],
            ["6", "", "Closed"],
            ["7", "0.1", "Removed"],
            ["8", "", "Blocked"],
            ["9", "0.1", "Barred"],
            ["10", "0.1", "Rerouted"],
            ["11", "0.1", ""],
            ["12", "", "Increase"],
        )
    )
    assert column(deck, "code", "vendor_class", "discontinued", "forbidden", "price1") == [
        ("1", "increase", False, False, d("0.1")),
        ("2", "increase", False, False, d("0.1")),
        ("3", "decrease", False, False, d("0.1")),
        ("4", "new", False, False, d("0.1")),
        ("5", "unchanged", False, False, d("0.1")),
        ("6", "discontinued", True, False, d("0")),
        ("7", "discontinued", True, False, d("0.1")),
        ("8", "forbidden", False, True, d("0")),
        ("9", "forbidden", False, True, d("0.1")),
        ("10", None, False, False, d("0.1")),
        ("11", None, False, False, d("0.1")),
    ]
    assert deck.warnings == [
        "column 'Change' has words that are not change words, read as no word: 'Rerouted'"
    ]
    assert [(e.row, e.reason, e.message) for e in deck.errors] == [
        (13, "missing_price", "Rate '' is empty"),
    ]


def test_flag_columns():
    deck = one(
        found(
            [*CODE_RATE, ("Blocked", "forbidden"), ("Discontinued", "discontinued")],
            ["44", "0.1", "Y", "0"],
            ["49", "0.1", "", "yes"],
            ["33", "0.1", "maybe", ""],
        )
    )
    assert column(deck, "forbidden", "discontinued") == [(True, False), (False, True)]
    assert [(e.row, e.reason) for e in deck.errors] == [(4, "bad_flag")]


# --- DIDs ------------------------------------------------------------------------------------


def test_did_numbers_with_flags_and_prices():
    deck = one(
        found(
            [("Number", "number"), ("Monthly", "mrc"), ("Setup", "nrc"), ("SMS", "sms"),
             ("Fax", "fax"), ("KYC", "docs_required"), ("Channels", "capacity"),
             ("Type", "did_type"), ("Notes", "notes")],
            ["+44 20 7946 0000", "1.50", "5", "Y", "no", "yes", "10", "Geographic", "London"],
            ["4420794600010-4420794600011", "1.50", "", "N", "x", "", "", "", ""],
            ["4420794600020", "1.50", "", "maybe", "", "", "ten", "", ""],
            kind="did",
        )
    )  # fmt: skip
    assert list(deck.rows.columns) == [*spec_for("did").schema(), "source_row", "vendor_class"]
    first = deck.rows.row(0, named=True)
    assert {
        k: first[k]
        for k in (
            "code",
            "mrc",
            "nrc",
            "sms",
            "fax",
            "docs_required",
            "voice",
            "video",
            "capacity",
            "type",
            "notes",
            "interval",
            "inbound_voice_price",
        )
    } == {
        "code": "442079460000",
        "mrc": d("1.50"),
        "nrc": d("5"),
        "sms": True,
        "fax": False,
        "docs_required": True,
        "voice": True,
        "video": False,
        "capacity": 10,
        "type": "Geographic",
        "notes": "London",
        "interval": 1,
        "inbound_voice_price": None,
    }
    assert column(deck, "code", "sms", "fax") == [
        ("442079460000", True, False),
        ("4420794600010", False, True),
        ("4420794600011", False, True),
    ]
    assert [(e.row, e.reason) for e in deck.errors] == [(4, "bad_flag")]
    assert (
        deck.errors[0].message == "SMS 'maybe' is not a yes/no value (1/0, true/false, "
        "yes/no, y/n, x); Channels 'ten' is not a whole number"
    )


# --- other layouts ---------------------------------------------------------------------------


def test_the_guidelines_layout_keeps_end_dates():
    deck = one(
        found(
            [("", "code"), ("", "destination"), ("", "price"), ("", "interval1"),
             ("", "price_n"), ("", "interval_n"), ("", "effective_from"), ("", "effective_to")],
            ["44", "UK", "0.10", "60", "0.05", "6", "2026-09-16 00:00", "2026-09-16 00:01"],
            ["49", "Germany", "0.20", "1", "", "", "2026-09-16", ""],
            layout="guidelines",
            header_row=None,
        )
    )  # fmt: skip
    assert deck.layout == "guidelines" and deck.header_row is None
    assert column(deck, "code", "price1", "price_n", "interval1", "interval_n", "effective_to") == [
        ("44", d("0.10"), d("0.05"), 60, 6, at("2026-09-16 00:01")),
        ("49", d("0.20"), d("0.20"), 1, 1, None),
    ]
    assert column(deck, "source_row") == [1, 2]
    assert list(deck.mapping.values())[:2] == ["code", "destination"]
    assert list(deck.mapping)[:2] == ["column A", "column B"]


def test_a_code_changes_sheet_discontinues_removed_codes():
    deck = one(
        found(
            [("Dial Code Change Indicator", "code_change"), ("Destination", "destination"),
             ("Code", "code"), ("Date", "effective_from")],
            ["Code Added", "Germany", "4916", "2026-09-20"],
            ["Code Removed", "Germany", "4917", "2026-09-20"],
            ["No Change", "France", "33", ""],
            ["Deleted", "Nigeria", "234805", ""],
            ["Increase", "Chad", "235", ""],
            ["Blocked", "Chad", "2359", ""],
            layout="code_changes",
        )
    )  # fmt: skip
    assert deck.layout == "code_changes"
    assert column(
        deck,
        "code",
        "effective_from",
        "discontinued",
        "forbidden",
        "price1",
        "description",
        "vendor_class",
    ) == [
        ("4917", at("2026-09-20"), True, False, d("0"), "Germany", "discontinued"),
        ("234805", None, True, False, d("0"), "Nigeria", "discontinued"),
        ("2359", None, False, True, d("0"), "Chad", "forbidden"),
    ]
    assert deck.errors == []
    assert deck.total_rows == 6
    assert deck.skipped == {"no_code_change": 2}
    assert deck.code_changes == {"removed": 2, "blocked": 1, "added": 1, "unchanged": 2}
    # the added code waits for the price sheet's rate (deck.combine)
    assert deck.additions.select("source_row", "codes", "reason").rows() == [(2, ["4916"], None)]
    assert deck.additions.get_column("cells").to_list() == [
        ["Code Added", "Germany", "4916", "2026-09-20"]
    ]


# --- conflicts -------------------------------------------------------------------------------


CONFLICTING = (
    ["44", "0.1"],
    ["49", "0.2"],
    ["44", "0.15"],
    ["49", "0.2"],
    ["33, 33", "0.3"],
)


def test_the_same_code_twice_with_different_values_is_a_conflict():
    deck = one(found(CODE_RATE, *CONFLICTING))
    assert column(deck, "code", "source_row") == [("49", 3), ("33", 6)]
    assert [(e.row, e.reason, e.code) for e in deck.errors] == [
        (2, "conflict", "44"), (4, "conflict", "44"),
    ]  # fmt: skip
    assert "also in row 4" in deck.errors[0].message
    assert "also in row 2" in deck.errors[1].message
    assert "duplicate_policy" in deck.errors[0].message
    assert deck.errors[1].cells == ("44", "0.15")
    assert len(deck.warnings) == 1 and "same values" in deck.warnings[0]


@pytest.mark.parametrize(("policy", "price", "row"), [("first", "0.1", 2), ("last", "0.15", 4)])
def test_the_duplicate_policy_says_which_row_wins(policy, price, row):
    deck = one(found(CODE_RATE, *CONFLICTING), duplicate_policy=policy)
    assert deck.errors == []
    assert sorted(column(deck, "code", "price1", "source_row")) == [
        ("33", d("0.3"), 6), ("44", d(price), row), ("49", d("0.2"), 3),
    ]  # fmt: skip
    assert any(f"the {policy} row wins" in w for w in deck.warnings)


def test_the_same_code_at_different_times_is_no_conflict():
    deck = one(found(DATED, ["44", "0.1", "2026-01-01"], ["44", "0.2", "2026-02-01"]))
    assert deck.errors == [] and len(deck.rows) == 2


def test_a_different_description_alone_is_no_conflict():
    deck = one(
        found([("Destination", "destination"), *CODE_RATE], ["UK", "44", "0.1"],
              ["United Kingdom", "44", "0.1"])
    )  # fmt: skip
    assert deck.errors == [] and column(deck, "description") == ["UK"]


def test_any_jurisdiction_header_gives_a_valid_table_name():
    """A vendor's ``columns`` may call any header a jurisdiction price: its table's name still
    follows the rule of table names (README "Command line")."""
    from ingestd.config import name_problem

    table = found(
        [("NPANXX", "npanxx"), ("Tarif ÉTÉ / Zone 2", "price_jurisdiction"),
         ("ÄÖÜ", "price_jurisdiction"), ("x" * 300, "price_jurisdiction")],
        ["201555", "0.01", "0.02", "0.03"],
    )  # fmt: skip
    suffixes = [deck.table_suffix for deck in normalize(table)]
    assert suffixes[:2] == ["tarif_t_zone_2", "c2"]
    assert suffixes[2] == "x" * 64
    assert [name_problem(s) for s in suffixes] == [None, None, None]
