"""docs/reading.md#decks-nobody-taught-us, columns typed by their content: each type written as
different vendors write it (languages, number formats, digit scripts, blanks and a bad cell or two),
the pairs of types that look alike told apart, and the sample that keeps a 1M-row deck as cheap as a
1k one."""

from __future__ import annotations

import itertools
import time

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd.sheets.content import (
    CONTENT_SAMPLE,
    CONTENT_TYPES,
    ColumnContent,
    sample_rows,
    summary,
    type_column,
    type_columns,
)


def typed(*cells: str | None) -> ColumnContent:
    return type_column(pl.Series("c0", list(cells), dtype=pl.String))


# --- each type, as vendors write it ------------------------------------------------------------

PULSES = [
    ("60/60", "60/60", "1/1", "", "30/6", "60/60", None),
    ("1+1", "1+1", "60+60", "1+1", "6+6", "1+1", "see notes"),  # one bad cell of seven
    ("60-60", "60-60", "1-1", "30-30", "60-60"),
    ("60:60", "60:60", "1:1", "6:6"),
    ("60 / 60", "1 / 1", "30 / 6", "  60/1  "),
    ("６０/６０", "１/１", "60/60", "６０/１"),  # full-width digits
]
DATES = [
    ("2026-01-01", "2026-02-15", "", "2025-12-31", None),
    ("15/01/2026", "01/02/2026", "28/02/2026", "03/03/2026"),  # day-first
    ("01/15/2026", "02/01/2026", "12/31/2025"),  # month-first
    ("01/02/2026", "03/04/2026", "05/06/2026"),  # either order: still dates
    ("28.02.2026", "01.03.2026", "15.03.2026"),
    ("01-Jan-2026", "15-Feb-2026", "1-Mar-26", "01-Jan-2026"),
    ("Jan 15, 2026", "Feb 1, 2026", "Mar 3, 2026"),
    ("2026-01-01 00:00:00", "2026-03-01 00:00:00", "2026-01-01 00:00:00"),  # workbook dates
    ("2026-01-01T00:00:00Z", "2026-02-01T12:30:00+02:00", "2026-03-01T00:00:00Z"),
    ("Immediate", "2026-01-01", "Immediate", "ASAP"),
    ("Inmediato", "01/02/2026", "Inmediato", "15/03/2026"),
    ("Sofort", "01.03.2026", "Sofort", "Ab sofort"),
    ("Немедленно", "2026-01-01", "Немедленно"),
    ("立即", "2026/01/01", "立即", "立即生效"),
    ("ＡＳＡＰ", "２０２６-０１-０１", "2026-02-01"),  # full-width
    ("2026-01-01", "2026-01-01", "2026-01-01", "2026-01-01", "soon"),  # one bad cell of five
]
FLAGS = [
    ("Yes", "No", "yes", "", "NO", "Yes"),
    ("Y", "N", "Y", "Y", None),
    ("TRUE", "FALSE", "TRUE", "true"),
    ("x", "", "x", "x", None, ""),  # ticks
    ("yes", "-", "no", "yes", "n/a"),  # "-" and "n/a" say nothing
]
CHANGES = [
    ("Increase", "Decrease", "No Change", "New", ""),
    ("Aumento", "Baja", "Sin cambios", "Nuevo", "Eliminado"),
    ("Erhöhung", "Senkung", "Unverändert", "Neu", "Gelöscht"),
    ("Hausse", "Baisse", "Inchangé", "Nouveau", "Supprimé"),
    ("повышение", "понижение", "без изменений", "новый"),
    ("上调", "下调", "不变", "新增", "删除"),
    ("Increase", "-", "New", "Deleted", "n/a", "Closed"),
    ("RATE INCREASE", "code added", "No_Change", "Code Removed"),
]
CURRENCIES = [
    ("USD", "USD", "EUR", "", "USD"),
    ("usd", "eur", "gbp", "usd"),
    ("$", "€", "£", "$"),
    ("US$", "USD", "USD", "CHF"),
]
MCCMNCS = [
    ("23410", "310260", "26201", "20801", "405854"),
    ("23410", "23415", "23430", "", "23433"),
    ("72405", "72406", "72410", "72411", "not yet"),  # one bad cell of five
    ("460 00", "460 01", "460 03"),  # written with a space
]
NUMBERS = [
    ("442079460958", "33142685300", "4930123456", "12125550100"),
    ("+44 20 7946 0958", "+33 1 42 68 53 00", "+49 30 123456", "+1 212 555 0100"),
    ("0044 20 7946 0958", "0033142685300", "00493012345678", ""),
    ("٤٤٢٠٧٩٤٦٠٩٥٨", "٣٣١٤٢٦٨٥٣٠٠", "٤٩٣٠١٢٣٤٥٦"),  # Arabic-Indic digits
]
CODES = [
    ("44", "4420", "1876", "33", "", "7495"),
    ("49152, 49162", "4930", "49", "4940; 4989"),  # lists
    ("447400-447409", "447410-447419", "4420", "44"),  # ranges
    ("93-76", "93-70", "93-79", "9320"),  # country code + area joined
    ("+44", "+33", "+49 30", "+1 876"),
    ("336 07", "336 08", "44 20", "44 113"),
    ("4.4E+1", "3.3E+1", "4.9E+1", "4.42E+2"),  # Excel scientific, every digit kept
    ("7940.0", "4420.0", "33.0"),  # Excel floats
    ("７９４０", "٤٤٢٠", "33", "३३"),  # full-width, Arabic-Indic, Devanagari
    ("44", "4420", "1876", "33", "4478", "withdrawn?"),  # one bad cell of six
]
SECONDS = [
    ("60", "60", "1", "", "60"),
    ("1", "1", "60", "60", "6", "1"),
    ("60.0", "60.0", "1.0", "30.0"),  # workbook numbers
    ("30", "6", "30", "6", None),
    ("６０", "６０", "１"),
    ("60", "60", "60", "60", "sixty"),
]
PRICES = [
    ("0.012", "0.0150", "0.1", "", "0.2500"),
    ("0,0120", "0,0150", "1,2500", "0,0990"),  # decimal comma
    ("$0.012", "$0.015", "$1.20"),
    ("0,0150 €", "0,0200 €", "0,1 €"),
    ("USD 0.012", "USD 0.5", "USD 0.0075"),
    ("0.012", "1", "0.5", "0.25", "2"),  # a few whole prices among fractions
    ("0.0123", "0.0456", "n/a", "-", "0.0789"),  # no rate: says nothing
    ("1,234.50", "0.75", "12.5", "0.25", "0.0125"),  # a thousands separator, one rate too high
    ("0.012", "0.015", "0.02", "0.03", "call us"),  # one bad cell of five
]
TEXTS = [
    ("Afghanistan", "Germany Mobile", "Côte d'Ivoire", "中国", "Россия"),
    ("United Kingdom - Mobile - Vodafone", "Mexico Mexico City", "US Alaska"),
    ("Alemania Móvil", "Brasil Fixo", "Francia", ""),
    ("New Zealand", "New Caledonia", "Newfoundland"),  # "New" is a change word, these are not
]


@pytest.mark.parametrize(
    "kind, cells",
    [("pulse", cells) for cells in PULSES]
    + [("date", cells) for cells in DATES]
    + [("flag", cells) for cells in FLAGS]
    + [("change", cells) for cells in CHANGES]
    + [("currency", cells) for cells in CURRENCIES]
    + [("number", cells) for cells in NUMBERS]
    + [("code", cells) for cells in CODES]
    + [("seconds", cells) for cells in SECONDS]
    + [("price", cells) for cells in PRICES]
    + [("text", cells) for cells in TEXTS],
)
def test_a_column_is_typed_by_its_cells(kind, cells):
    content = typed(*cells)
    assert content.kind == kind, (content.types, content.shares)
    assert content.fits(kind)
    assert content.shares[kind] >= 0.8


@pytest.mark.parametrize("cells", MCCMNCS)
def test_mccmnc_columns(cells):
    content = typed(*cells)
    assert content.fits("mccmnc"), content.shares
    assert content.kind in ("mccmnc", "code")


def test_mccmnc_leads_only_when_every_cell_is_one():
    assert typed("23410", "310260", "26201", "20801").types == ("mccmnc", "code")
    # a code column with a few cells that happen to have a real MCC
    mixed = typed("23410", "26201", "20801", "310260", "4420")
    assert mixed.types == ("code", "mccmnc")
    assert mixed.kind == "code"


def test_mccmnc_needs_a_real_mcc():
    # 100, 111, 199 are no mobile country code; 1 is the NANP calling code
    content = typed("10010", "11120", "19930", "10011")
    assert not content.fits("mccmnc")
    assert content.kind == "code"


# --- the pairs that look alike -----------------------------------------------------------------


def test_seconds_codes_and_prices_are_told_apart():
    seconds = typed("60", "60", "1", "60", "1")
    codes = typed("44", "4420", "1876", "33", "4478")
    prices = typed("0.012", "0.015", "0.02", "0.0123")
    assert seconds.types == ("seconds",)
    assert codes.types == ("code",)
    assert prices.types == ("price",)
    # one cell may fit several types; the column does not
    assert seconds.shares["code"] == 1.0 and seconds.shares["price"] == 1.0


def test_whole_prices_are_no_prices_and_fractions_no_codes():
    assert typed("1", "2", "5", "7", "3").types == ()  # whole numbers, mostly no increments
    assert not typed("44.5", "44", "4420", "33", "49").fits("code")


def test_numbers_and_codes():
    numbers = typed("442079460958", "33142685300", "4930123456")
    prefixes = typed("4420", "447400", "33", "4930")
    assert numbers.types == ("number", "code")
    assert prefixes.types == ("code",)


def test_flags_of_zero_and_one_and_seconds():
    assert typed("0", "1", "1", "0").types == ("flag", "seconds")
    assert typed("1", "1", "1").types == ("seconds", "flag")
    assert typed("0", "0", "0").types == ("flag",)  # 0 seconds is no increment
    assert typed("60", "1", "60").types == ("seconds",)


def test_dates_and_codes():
    # a yyyymmdd date the date parser does not read is held, not taken for codes or numbers
    assert typed("20260101", "20260215", "20251231").types == ()
    # an Excel serial is a date only when a header says so
    assert not typed("46023", "46054", "46082").fits("date")
    assert not typed("2026-01-01", "2026-02-01", "2026-03-01").fits("code")


def test_pulses_and_dates():
    pulses = typed("1/1", "60/60", "30/6", "1/1")
    dates = typed("01/02/2026", "15/02/2026", "03/04/2026")
    assert pulses.types == ("pulse",)
    assert dates.types == ("date",)


def test_every_code_of_a_range_must_start_with_a_country_code():
    # 420 and 421 are country codes, 422 … 429 are not; a range stays in one country
    assert typed("4200-4209", "4200-4209", "421", "4209").kind == "code"
    assert not typed("4200-4219", "4200-4219", "4200-4219").fits("code")
    assert not typed("4200-4299", "4200-4299", "4200-4299").fits("code")


def test_pulses_with_hyphens_are_not_ranges_of_codes():
    assert typed("60-60", "1-1", "60-60", "30-30").types == ("pulse",)


def test_nanp_pairs_are_not_pulses():
    assert not typed("1264-581", "1876-3", "1268-464", "1284-340").fits("pulse")


def test_nanp_pairs_are_codes():
    assert typed("1264-581", "1876-3", "1268-464", "1284-340").kind == "code"


@pytest.mark.parametrize(
    "cells",
    [("Sí", "No", "Sí"), ("Oui", "Non", "Oui"), ("Ja", "Nein", "Ja"), ("Да", "Нет", "Да"),
     ("是", "否", "是"), ("Sim", "Não", "Sim")],
)  # fmt: skip
def test_flags_in_other_languages(cells):
    assert typed(*cells).kind == "flag"


def test_yes_no_words_of_other_languages_are_not_taken_for_anything_else():
    for cells in (("Sí", "No", "Sí"), ("Ja", "Nein", "Ja"), ("是", "否", "是")):
        assert typed(*cells).kind in ("flag", "text")


def test_destinations_and_change_words():
    destinations = typed("New Zealand", "Newfoundland", "New Caledonia", "Down Under Telecom")
    changes = typed("New", "New", "Increase", "Down")
    assert destinations.types == ("text",)
    assert changes.types == ("change",)


def test_currency_codes_and_other_three_letter_words():
    assert typed("USA", "GER", "FRA").types == ("text",)  # country abbreviations
    assert typed("USD", "EUR", "USD").types == ("currency",)


# --- the column as a whole ---------------------------------------------------------------------


def test_too_few_cells_prove_nothing_but_text():
    assert typed("60/60", "1/1", None, "").types == ()
    assert typed("Zambia", None).types == ("text",)
    assert typed(None, "", "  ").kind is None


def test_a_column_with_too_many_bad_cells_fits_nothing():
    content = typed("0.012", "0.015", "tbc", "ask", "0.02")
    assert content.shares["price"] == pytest.approx(0.6)
    assert not content.fits("price")


def test_filled_examples_and_shares():
    content = typed(" 4420 ", "4420", None, "", "-", "N/A", "1876", "33", "44")
    assert content.filled == 5  # blanks and cells that say nothing are not looked at
    assert content.examples == ("4420", "1876", "33")  # distinct, as written
    assert content.shares["code"] == 1.0
    assert content.shares["seconds"] == pytest.approx(0.6)  # 1876, 33 and 44 could be seconds
    assert content.column == "c0"
    assert type_column(pl.Series("prefix", ["44"]), "c7").column == "c7"


def test_summary_says_what_a_column_holds():
    assert summary(typed("4420", "4478", "33")) == "codes like '4420', '4478'"
    assert summary(typed("0.0123", "0.02", "0.015")) == "prices like '0.0123', '0.02'"
    assert summary(typed("60/60", "1/1", "60/60")) == "billing increments like '60/60', '1/1'"
    assert summary(typed("60", "1", "60")) == "whole seconds like '60', '1'"
    assert summary(typed("Yes", "No", "Yes")).startswith("yes/no flags")
    assert summary(typed(None, "")) == "empty"
    assert "'tbc'" in summary(typed("tbc", "12ab", "9x9"))


def test_type_columns_types_the_sheet_columns():
    data = pl.DataFrame(
        {
            "c0": ["Afghanistan", "Albania", "Algeria", "Andorra"],
            "c1": ["93", "355", "213", "376"],
            "c2": ["0.1500", "0.0900", "0.1200", "0.0500"],
            "c3": ["60/60", "60/60", "1/1", "60/60"],
            "c4": [None, None, None, None],
            "source_row": ["2", "3", "4", "5"],
        }
    )
    found = type_columns(data)
    assert list(found) == ["c0", "c1", "c2", "c3", "c4"]
    assert [found[name].kind for name in found] == ["text", "code", "price", "pulse", None]
    assert list(type_columns(data, ["c2"])) == ["c2"]


def test_type_columns_of_no_rows_and_no_columns():
    empty = pl.DataFrame({"c0": [], "c1": []}, schema={"c0": pl.String, "c1": pl.String})
    assert {name: found.kind for name, found in type_columns(empty).items()} == {
        "c0": None, "c1": None
    }  # fmt: skip
    assert type_columns(pl.DataFrame({"source_row": ["1"]})) == {}


def test_columns_do_not_sway_each_other():
    # the one column decides its own date order, hyphen meaning and decimal separator
    data = pl.DataFrame(
        {
            "c0": ["13/02/2026", "14/02/2026", "15/02/2026"],  # day-first
            "c1": ["02/13/2026", "02/14/2026", "02/15/2026"],  # month-first
            "c2": ["447400-447409", "447410-447419", "447420-447429"],  # ranges
            "c3": ["93-76", "93-70", "93-79"],  # pairs
            "c4": ["1,234", "2,345", "3,456"],  # nothing says thousands: decimal commas
            "c5": ["0.75", "12.5", "0.125"],  # "." is decimal here, so "," would group thousands
        }
    )
    alone = {name: type_column(data.get_column(name)) for name in data.columns}
    together = type_columns(data)
    assert together == alone
    assert [together[name].kind for name in data.columns] == [
        "date", "date", "code", "code", "price", "price"
    ]  # fmt: skip


# --- the sample --------------------------------------------------------------------------------


def test_sample_rows_of_a_small_frame_is_the_frame():
    data = pl.DataFrame({"c0": [str(i) for i in range(CONTENT_SAMPLE)]})
    assert sample_rows(data).equals(data)


def test_sample_rows_of_a_million_rows():
    n = 1_000_000
    data = pl.DataFrame({"row": pl.int_range(n, eager=True)})
    sample = sample_rows(data)
    rows = sample.get_column("row").to_list()
    assert len(rows) <= CONTENT_SAMPLE
    assert rows[0] == 0 and rows[-1] == n - 1
    assert rows == sorted(set(rows))  # distinct, in sheet order
    assert min(b - a for a, b in itertools.pairwise(rows)) >= 1
    assert max(b - a for a, b in itertools.pairwise(rows)) < n // 50  # spread out
    assert sample_rows(data).equals(sample)  # deterministic
    assert sample_rows(data, 10).height == 10


def million_rows() -> pl.DataFrame:
    n = 1_000_000
    i = pl.int_range(n, eager=True)
    return pl.DataFrame(
        {
            "c0": (i % 5000 + 4400).cast(pl.String),
            "c1": pl.repeat("Germany Mobile", n, eager=True),
            "c2": "0." + (i % 9000 + 1000).cast(pl.String),
            "c3": pl.repeat("2026-01-01", n, eager=True),
            "c4": pl.Series(["60/60", "1/1"] * (n // 2)),
        }
    )


def fastest(run, times: int = 5) -> float:
    """The best of ``times`` runs: what the work costs, without the pauses another process on a
    loaded machine (or another xdist worker) gives it."""
    elapsed = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        elapsed.append(time.perf_counter() - started)
    return min(elapsed)


def test_type_columns_of_a_million_rows_costs_what_its_sample_does():
    data = million_rows()
    sample = sample_rows(data)
    found = type_columns(data)
    assert found == type_columns(sample)
    assert [found[name].kind for name in data.columns] == [
        "code", "text", "price", "date", "pulse"
    ]  # fmt: skip
    million = fastest(lambda: type_columns(data))
    alone = fastest(lambda: type_columns(sample))
    print(f"type_columns: 1,000,000 rows x 5 columns {million * 1000:.1f} ms, "
          f"their {sample.height}-row sample {alone * 1000:.1f} ms")  # fmt: skip
    assert million < 2 * alone + 0.05  # a scan of a million cells would take seconds


# --- properties --------------------------------------------------------------------------------

DECK_LIKE = st.text(alphabet="0123456789+-–.,;|/: eE$€xyYN\n\t", max_size=30)
WORDS = st.sampled_from(
    ["ASAP", "Immediate", "16-May-23", "45062.5", "447400-447409", "93-76", "1,234.56", "€0,05",
     "60/60", "Yes", "-", "n/a", "USD", "Nuevo", "23410", "4.4E+1", "1264-581"]
)  # fmt: skip
CELLS = st.one_of(st.text(max_size=40), DECK_LIKE, WORDS, st.none())
PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(st.lists(CELLS, max_size=40))
def test_any_column_is_typed_without_raising(cells):
    content = type_column(pl.Series("c0", cells, dtype=pl.String))
    assert set(content.shares) == set(CONTENT_TYPES)
    assert all(0.0 <= share <= 1.0 for share in content.shares.values())
    assert 0 <= content.filled <= len(cells)
    assert set(content.types) <= set(CONTENT_TYPES)
    assert len(set(content.types)) == len(content.types)
    assert content.kind == (content.types[0] if content.types else None)
    assert len(content.examples) <= 3


@st.composite
def sheets(draw) -> pl.DataFrame:
    height = draw(st.integers(1, 12))
    width = draw(st.integers(1, 4))
    cells = st.lists(CELLS, min_size=height, max_size=height)
    return pl.DataFrame({f"c{i}": pl.Series(draw(cells), dtype=pl.String) for i in range(width)})


@settings(PROPERTIES, max_examples=60)
@given(sheets())
def test_columns_typed_together_are_typed_as_alone(data):
    together = type_columns(data)
    for name in data.columns:
        assert together[name] == type_column(data.get_column(name), name)


# numbers with a fraction that is not zero, as a sheet or Python writes them
FRACTIONS = st.one_of(
    st.builds(
        "{}.{}".format,
        st.integers(-(10**6), 10**6),
        st.from_regex(r"[0-9]{0,5}[1-9]", fullmatch=True),
    ),
    st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: x != int(x)).map(repr),
)


@settings(PROPERTIES, max_examples=100)
@given(st.lists(FRACTIONS, min_size=3, max_size=30), st.booleans())
def test_a_column_of_fractions_is_never_codes(cells, comma):
    if comma:
        cells = [cell.replace(".", ",") for cell in cells]
    assert not typed(*cells).fits("code")
