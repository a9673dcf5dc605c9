"""docs/reading.md#cells: cell parsers, one table of cases per rule plus properties."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.rates.model import PRICE, TIME
from ingestd.sheets.codes import expand_codes, parse_codes
from ingestd.sheets.currencies import currency_marks, parse_currencies
from ingestd.sheets.dates import parse_datetimes, parse_timezone
from ingestd.sheets.increments import parse_ints, parse_pulse
from ingestd.sheets.prices import parse_prices
from ingestd.sheets.regions import nanp_areas
from ingestd.sheets.vendor_words import CHANGE_WORDS, parse_change_words, parse_flags, word_key


def one(parse, cell, **kw):
    """(value, error) of a single cell."""
    values, errors, *_ = parse(pl.Series([cell], dtype=pl.String), **kw)
    return values[0], errors[0]


# --- codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "code", "error"),
    [
        ("44", "44", None),
        (" 44 20 ", "4420", None),
        ("+44", "44", None),
        ("0044", "44", None),
        ("01144", "44", None),
        ("7.9407E+4", "79407", None),
        ("7.9407e4", "79407", None),
        ("7940.0", "7940", None),
        ("7940.00", "7940", None),
        ("7.94E+4", None, "bad_code"),  # the mantissa is too short: digits were lost
        ("7.9407E+2", None, "bad_code"),  # not a whole number
        ("1.23456789012345678E+17", None, "bad_code"),  # more than 15 significant digits
        ("1234567890123456", None, "bad_code"),  # longer than E.164 allows
        ("7940.5", None, "bad_code"),
        ("44-20", None, "bad_code"),
        ("UK", None, "bad_code"),
        ("0", None, "bad_code"),  # E.164 digits never start with 0
        ("000110", None, "bad_code"),  # "00" goes, "0110" is no E.164 prefix
        ("+", None, "bad_code"),
        ("", None, "missing_code"),
        ("   ", None, "missing_code"),
        (None, None, "missing_code"),
    ],
)
def test_parse_codes(cell, code, error):
    assert one(parse_codes, cell) == (code, error)


def expanded(cells, **kw):
    frame, meaning = expand_codes(pl.Series(cells, dtype=pl.String), **kw)
    return list(frame.select("row", "code", "error").iter_rows()), meaning


def test_lists_and_ranges_give_one_code_per_row():
    assert expanded(["49152, 49162; 4917-4918", " ", "33 607 | +521\n44", ","]) == (
        [
            (0, "49152", None), (0, "49162", None), (0, "4917", None), (0, "4918", None),
            (1, None, "missing_code"),
            (2, "33607", None), (2, "521", None), (2, "44", None),
            (3, None, "missing_code"),
        ],
        "range",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("cells", "meaning", "codes"),
    [
        (["447400-447402"], "range", ["447400", "447401", "447402"]),
        (["20-21"], "pair", ["2021"]),  # Egypt and no country: only Egypt's 2021 is a code
        (["20-21", "93-76"], "pair", ["2021", "9376"]),
        (["1-201", "44 – 20"], "pair", ["1201", "4420"]),
        (["49", "44"], None, ["49", "44"]),
    ],
)
def test_hyphens_mean_ranges_or_pairs_per_column(cells, meaning, codes):
    rows, decided = expanded(cells)
    assert decided == meaning
    assert [code for _, code, _ in rows] == codes


# docs/reading.md#decks-nobody-taught-us: a hyphen after a country code (NANP ones included) joins;
# between two codes of one country of the same length it is a range; written as carriers write them
@pytest.mark.parametrize(
    ("cell", "codes"),
    [
        ("1264-581", ["1264581"]),  # Anguilla
        ("1 264-581", ["1264581"]),
        ("1264 - 581", ["1264581"]),
        ("+1264-581", ["1264581"]),
        ("+1 264 - 581", ["1264581"]),
        ("1-264-581", ["1264581"]),
        ("001264-581", ["1264581"]),
        ("1264–581", ["1264581"]),  # an en dash
        ("1876-3", ["18763"]),  # Jamaica
        ("1658-2", ["16582"]),  # Jamaica's second area code
        ("1242-35", ["124235"]),  # Bahamas
        ("1809-220", ["1809220"]),  # Dominican Republic, three area codes
        ("1849-8", ["18498"]),
        ("1787-4", ["17874"]),  # Puerto Rico
        ("1939 - 2", ["19392"]),
        ("1201-555", ["1201555"]),  # US: NPA-NXX
        ("1416-555", ["1416555"]),  # Canada
        ("1-201", ["1201"]),
        ("44-20", ["4420"]),
        ("52-55", ["5255"]),  # Mexico City
        ("7-495", ["7495"]),  # Moscow
        ("880-17", ["88017"]),  # Bangladesh mobile
        ("93-76", ["9376"]),
        ("44-20-7", ["44207"]),
        ("4420-4429", [f"442{i}" for i in range(10)]),
        ("33612-33619", [f"3361{i}" for i in range(2, 10)]),
        ("3361200-3361299", [f"33612{i:02}" for i in range(100)]),
        ("447400 - 447402", ["447400", "447401", "447402"]),
        ("18763-18765", ["18763", "18764", "18765"]),  # both Jamaica
        ("1201200-1201202", ["1201200", "1201201", "1201202"]),
        ("+447400-+447401", ["447400", "447401"]),
    ],
)
def test_hyphens_read_by_numbering_knowledge(cell, codes):
    rows, meaning = expanded([cell])
    assert [code for _, code, _ in rows] == codes
    assert [error for _, _, error in rows] == [None] * len(codes)
    assert meaning == ("pair" if len(codes) == 1 else "range")


@pytest.mark.parametrize(
    "cell",
    [
        "1264-1268",  # Anguilla to Antigua: no range, and 1268 cannot follow 1264
        "1876-1877",  # Jamaica to the US
        "21-22",  # no country code starts either end
        "4474-44749",
        "1-10000000",  # after 1 comes an area code, never 1
        "1264-0123",  # a NANP number never goes on with 0 or 1
        "447409-447400",
        "44-20-",
    ],
)
def test_a_hyphen_that_is_neither_a_range_nor_a_pair_rejects_the_item(cell):
    rows, _ = expanded([cell, "44"])
    assert rows[0][1] is None and rows[0][2] in ("bad_range", "bad_code")
    assert rows[-1] == (1, "44", None)


def test_a_column_mixing_pairs_and_ranges_is_read_item_by_item():
    rows, meaning = expanded(
        ["1264-581", "447400-447402", "52-55, 3361200-3361201", "1876-3", "7-495", "4420-4421"]
    )
    assert meaning == "both"
    assert rows == [
        (0, "1264581", None),
        (1, "447400", None), (1, "447401", None), (1, "447402", None),
        (2, "5255", None), (2, "3361200", None), (2, "3361201", None),
        (3, "18763", None),
        (4, "7495", None),
        (5, "4420", None), (5, "4421", None),
    ]  # fmt: skip


def test_an_item_that_could_be_either_takes_what_the_column_proves():
    # "44-44" is the country code joined to itself or a range of one: the others decide
    assert expanded(["44-44", "93-76"]) == ([(0, "4444", None), (1, "9376", None)], "pair")
    assert expanded(["44-44", "4420-4421"])[0][0] == (0, "44", None)
    assert expanded(["44-44"]) == ([(0, "44", None)], "range")
    # the column proves both meanings: this item stays ambiguous and the caller refuses
    assert expanded(["44-44", "93-76", "4420-4421"])[1] == "mixed"


def test_a_vendor_setting_forces_one_meaning_for_every_item():
    rows, meaning = expanded(["93-76", "447400-447409"], hyphen="range")
    assert meaning == "range"
    assert rows[0] == (0, None, "bad_range") and len(rows) == 11
    rows, meaning = expanded(["93-76", "4474-4473", "1-264-581"], hyphen="pair")
    assert [code for _, code, _ in rows] == ["9376", "44744473", "1264581"]


def test_mccmnc_items_that_could_be_either_follow_the_column():
    pairs, meaning = expanded(["310-311", "001-01"], international_prefix=False)
    assert meaning == "pair" and [code for _, code, _ in pairs] == ["310311", "00101"]
    ranges, meaning = expanded(["310-311", "31026-31027"], international_prefix=False)
    assert meaning == "range"
    assert [code for _, code, _ in ranges] == ["310", "311", "31026", "31027"]
    _, meaning = expanded(["310-311", "001-01", "31026-31027"], international_prefix=False)
    assert meaning == "mixed"


def test_nanp_area_codes_come_from_the_numbering_metadata():
    areas = nanp_areas()
    assert {areas[c] for c in ("1264", "1876", "1658", "1242", "1809", "1829", "1849")} == {
        "AI", "JM", "BS", "DO",
    }  # fmt: skip
    assert (areas["1787"], areas["1939"]) == ("PR", "PR")
    assert areas["1201"] == "US" and areas["1416"] == "CA" and areas["1800"] in ("US", "CA")
    assert "1911" not in areas and "1100" not in areas  # no NPA starts with 1 or is N11


@pytest.mark.parametrize(
    "cell",
    ["4474-44749", "1-10000000", "100000-199999", "447409-447400", "44-4a"],
)
def test_bad_ranges(cell):
    rows, _ = expanded([cell, "447400-447401"])
    assert rows[0][2] in ("bad_range", "bad_code") and rows[0][1] is None


def test_mccmnc_pairs_and_ranges_keep_their_zeros():
    pairs, meaning = expanded(["001-01", "310-001"], international_prefix=False)
    assert meaning == "pair" and [code for _, code, _ in pairs] == ["00101", "310001"]
    ranges, meaning = expanded(["00101-00102"], international_prefix=False)
    assert meaning == "range" and [code for _, code, _ in ranges] == ["00101", "00102"]
    with pytest.raises(ValueError):
        expand_codes(pl.Series(["1"]), hyphen="dash")


def test_mccmnc_keeps_its_leading_zeros():
    assert one(parse_codes, "00101", international_prefix=False) == ("00101", None)
    assert one(parse_codes, "00101") == ("101", None)


@given(st.integers(min_value=1, max_value=10**15 - 1))
def test_excel_scientific_codes_come_back_when_exact(number):
    digits = str(number)
    mantissa = f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else digits
    codes, errors = parse_codes(pl.Series([f"{mantissa}E+{len(digits) - 1}", f"{digits}.0"]))
    assert codes.to_list() == [digits, digits]
    assert errors.null_count() == 2


# --- prices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "price", "error"),
    [
        ("0.1584", "0.1584", None),
        ("0,1584", "0.1584", None),
        ("$0.15", "0.15", None),
        ("0.15 USD", "0.15", None),
        ("USD 0.15", "0.15", None),
        ("€1.234,56", "1234.56", None),
        ("1,234.56", "1234.56", None),
        ("1'234.56", "1234.56", None),
        ("US$0.15", "0.15", None),
        ("1.234.567,5", "1234567.5", "absurd_price"),
        ("12,5", "12.5", None),
        ("0.15840000000000001", "0.1584", None),
        ("0.30000000000000004", "0.3", None),
        ("123456.12345678901", "123456.123456789", None),  # 15 significant digits
        ("1e-5", "0.00001", None),
        ("1.5E+3", "1500", None),
        (".5", "0.5", None),
        ("0", "0", None),
        ("-0", "0", None),
        ("-0.1", None, "negative_price"),
        ("\u22120.1", None, "negative_price"),
        ("$-0.1", None, "negative_price"),
        ("abc", None, "bad_price"),
        ("0.1x", None, "bad_price"),
        ("1,234.5.6", None, "bad_price"),
        ("1,2,3.4.5", None, "bad_price"),
        ("2000000", None, "absurd_price"),
        ("1e30", None, "absurd_price"),
        ("1000000", "1000000", None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_prices(cell, price, error):
    value, problem = one(parse_prices, cell)
    assert problem == error
    if error is None:
        assert value == (Decimal(price) if price is not None else None)
    else:
        assert value is None


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # a lone separator before three digits is decided by the rest of the column
        (["1,234", "0.15"], ["1234", "0.15"]),
        (["1,234", "0,15"], ["1.234", "0.15"]),
        (["1.234", "0,15"], ["1234", "0.15"]),
        (["1.234", "2.5"], ["1.234", "2.5"]),
        (["1.234", "1,000,000"], ["1.234", "1000000"]),
        # no evidence: a lone separator is decimal
        (["1,234"], ["1.234"]),
        (["1.234"], ["1.234"]),
    ],
)
def test_thousands_or_decimal_is_decided_per_column(cells, expected):
    values, errors = parse_prices(pl.Series(cells))
    assert errors.null_count() == len(cells)
    assert values.to_list() == [Decimal(e) for e in expected]


def test_prices_are_exact_decimals():
    values, _ = parse_prices(pl.Series(["0.1", None]))
    assert values.dtype == PRICE
    assert values[0] == Decimal("0.1")


prices = st.decimals(min_value=0, max_value=999_999, places=6, allow_nan=False)


@given(st.lists(prices, min_size=1, max_size=20), st.sampled_from([".", ","]))
def test_any_decimal_written_with_point_or_comma_reads_back(values, separator):
    cells = [format(v, "f").replace(".", separator) for v in values]
    # unambiguous cells ("0.5", "12.25") tell the column which separator is decimal
    cells.append("0" + separator + "5")
    parsed, errors = parse_prices(pl.Series(cells))
    assert errors.null_count() == len(cells)
    assert parsed.to_list()[:-1] == values


def excel_digits(text: str) -> Decimal:
    """15 significant digits, at most 10 decimals, rounded once, half to even."""
    exact = Decimal(text)
    whole = len(str(int(exact))) if exact >= 1 else 0
    return exact.quantize(Decimal(1).scaleb(-min(10, 15 - whole)), rounding=ROUND_HALF_EVEN)


@given(st.floats(min_value=0, max_value=999_999, allow_nan=False))
def test_float_noise_is_dropped(number):
    cells = [repr(number), f"{number:.17g}"]
    parsed, errors = parse_prices(pl.Series(cells))
    assert errors.null_count() == 2
    assert parsed.to_list() == [excel_digits(cell) for cell in cells]
    assert abs(parsed[0] - Decimal(repr(number))) <= Decimal("5e-10")


# --- dates -----------------------------------------------------------------------------------


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("cell", "when", "error"),
    [
        ("ASAP", None, None),
        ("asap", None, None),
        ("Immediate", None, None),
        ("immediately", None, None),
        ("Now", None, None),
        ("", None, None),
        (None, None, None),
        ("2023-05-16", "2023-05-16 00:00", None),
        ("2023-05-16T10:30", "2023-05-16 10:30", None),
        ("2023-05-16 10:30:05", "2023-05-16 10:30:05", None),
        ("2023-05-16T10:30:05Z", "2023-05-16 10:30:05", None),
        ("2023-05-16T10:30:00+02:00", "2023-05-16 08:30", None),
        ("2023-05-16 10:30 -0500", "2023-05-16 15:30", None),
        ("2023-05-16 10:30:00.250", "2023-05-16 10:30:00.250", None),
        ("2023/05/16", "2023-05-16 00:00", None),
        ("16-May-23", "2023-05-16 00:00", None),
        ("16-May-2023", "2023-05-16 00:00", None),
        ("16 September 2023", "2023-09-16 00:00", None),
        ("May 16, 2023", "2023-05-16 00:00", None),
        ("16/05/2023", "2023-05-16 00:00", None),  # proves day-first on its own
        ("16.05.2023 14:00", "2023-05-16 14:00", None),
        ("05/16/2023 2:30 PM", "2023-05-16 14:30", None),
        ("05/05/23", "2023-05-05 00:00", None),  # the same either way
        ("45062", "2023-05-16 00:00", None),  # Excel serial, 1900 system
        ("45062.5", "2023-05-16 12:00", None),
        ("05/06/2023", None, "ambiguous_date"),
        ("2023-02-30", None, "bad_date"),
        ("31/31/2023", None, "bad_date"),
        ("13:00 PM", None, "bad_date"),
        ("16-Foo-23", None, "bad_date"),
        ("soon", None, "bad_date"),
        ("2023", None, "bad_date"),
        ("0001-01-01", None, "bad_date"),  # no rate date; and UTC of it is no Python date
        ("9999-12-31 23:30-05:00", None, "bad_date"),
    ],
)
def test_parse_datetimes(cell, when, error):
    value, problem = one(parse_datetimes, cell)
    assert problem == error
    assert value == (at(when) if when else None)


def test_dates_are_naive_utc_microseconds():
    values, _, _ = parse_datetimes(pl.Series(["2023-05-16"]))
    assert values.dtype == TIME


@pytest.mark.parametrize(
    ("cells", "order", "expected"),
    [
        (["01/02/2023", "13/02/2023"], "dmy", ["2023-02-01", "2023-02-13"]),
        (["01/02/2023", "02/13/2023"], "mdy", ["2023-01-02", "2023-02-13"]),
        (["01-02-2023", "ASAP", "2023-05-16"], None, [None, None, "2023-05-16"]),
    ],
)
def test_day_first_or_month_first_is_decided_once_per_column(cells, order, expected):
    values, errors, decided = parse_datetimes(pl.Series(cells))
    assert decided == order
    assert values.to_list() == [at(e) if e else None for e in expected]
    if order is None:
        assert errors.to_list()[0] == "ambiguous_date"


def test_both_proofs_in_one_column_make_every_numeric_date_ambiguous():
    values, errors, decided = parse_datetimes(
        pl.Series(["13/02/2023", "02/13/2023", "05/05/2023", "2023-05-16"])
    )
    assert decided is None
    assert errors.to_list() == ["ambiguous_date"] * 3 + [None]
    assert values[3] == at("2023-05-16")


def test_a_forced_order_wins_over_the_values():
    values, errors, decided = parse_datetimes(
        pl.Series(["01/02/2023", "13/02/2023"]), date_order="mdy"
    )
    assert decided == "mdy"
    assert values[0] == at("2023-01-02")
    assert errors.to_list() == [None, "bad_date"]
    with pytest.raises(ValueError):
        parse_datetimes(pl.Series(["x"]), date_order="ydm")


def test_year_first_short_dates_when_told():
    values, errors, decided = parse_datetimes(
        pl.Series(["23/05/16", "23.12.01", "2023-05-16", "16/05/2023"]), date_order="ymd"
    )
    assert decided == "ymd"
    assert values.to_list()[:3] == [at("2023-05-16"), at("2023-12-01"), at("2023-05-16")]
    assert errors.to_list() == [None, None, None, "bad_date"]


def test_excel_1904_serials():
    assert one(parse_datetimes, "43600", excel_1904=True)[0] == at("2023-05-16")


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("UTC", "2023-05-16 10:00"),
        ("Europe/Berlin", "2023-05-16 08:00"),  # summer time: UTC+2
        ("America/New_York", "2023-05-16 14:00"),
        ("UTC+2", "2023-05-16 08:00"),
        ("GMT-05:00", "2023-05-16 15:00"),
        ("+0530", "2023-05-16 04:30"),
    ],
)
def test_naive_values_are_in_the_given_zone(timezone, expected):
    assert one(parse_datetimes, "2023-05-16 10:00", timezone=timezone)[0] == at(expected)


def test_a_zone_per_cell_and_an_offset_in_the_value_win():
    values, errors, _ = parse_datetimes(
        pl.Series(["2023-01-16 10:00"] * 4 + ["2023-01-16 10:00Z"]),
        timezone="Asia/Tokyo",
        zones=pl.Series(["Europe/Berlin", None, " ", "Mars/Olympus", "Europe/Berlin"]),
    )
    assert values.to_list() == [
        at("2023-01-16 09:00"),
        at("2023-01-16 01:00"),
        at("2023-01-16 01:00"),
        None,
        at("2023-01-16 10:00"),
    ]
    assert errors.to_list() == [None, None, None, "bad_timezone", None]


def test_a_wall_time_in_the_spring_gap_is_no_date():
    value, error = one(parse_datetimes, "2023-03-26 02:30", timezone="Europe/Berlin")
    assert (value, error) == (None, "bad_date")


def test_parse_timezone():
    assert parse_timezone("UTC") == 0
    assert parse_timezone("GMT+2") == 120
    assert parse_timezone("-03:30") == -210
    assert parse_timezone("Europe/Berlin") == "Europe/Berlin"
    for wrong in ("Mars/Olympus", "UTC+25", ""):
        with pytest.raises(ValueError):
            parse_timezone(wrong)


moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31))


@given(st.lists(moments, min_size=1, max_size=10), st.sampled_from(["T", " "]))
def test_any_datetime_written_iso_reads_back(values, separator):
    cells = [v.isoformat(sep=separator) for v in values]
    parsed, errors, _ = parse_datetimes(pl.Series(cells))
    assert errors.null_count() == len(cells)
    assert parsed.to_list() == values


@given(
    st.lists(st.dates(dt.date(1990, 1, 1), dt.date(2099, 12, 31)), min_size=1, max_size=10),
    st.dates(dt.date(1990, 1, 1), dt.date(2099, 12, 31)),
    st.sampled_from(["dmy", "mdy"]),
    st.sampled_from(["/", ".", "-"]),
)
def test_a_proving_value_decides_the_order(values, proof, order, separator):
    proof = proof.replace(day=13 + proof.day % 16)  # a day above 12 proves the order

    def written(d: dt.date) -> str:
        first, second = (d.day, d.month) if order == "dmy" else (d.month, d.day)
        return f"{first:02d}{separator}{second:02d}{separator}{d.year}"

    cells = [written(proof)] + [written(v) for v in values]
    parsed, errors, decided = parse_datetimes(pl.Series(cells))
    assert decided == order
    assert errors.null_count() == len(cells)
    assert [p.date() for p in parsed] == [proof, *values]


# --- numbers, flags, increments --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value", "error"),
    [
        ("60", 60, None),
        ("60.0", 60, None),
        (" 1 ", 1, None),
        ("+30", 30, None),
        ("0", 0, None),
        ("-1", None, "bad_interval"),
        ("1.5", None, "bad_interval"),
        ("sixty", None, "bad_interval"),
        ("99999999999", None, "bad_interval"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_ints(cell, value, error):
    assert one(parse_ints, cell) == (value, error)


def test_parse_ints_reason_is_the_callers():
    assert one(parse_ints, "many", reason="bad_number") == (None, "bad_number")


# yes/no in the languages of docs/reading.md#decks-nobody-taught-us, any case and accents, ticks and
# crosses
YES_CELLS = (
    "Sí", "SI", "si", "S", "Sim", "SIM", "Oui", "OUI.", "O", "Ja", "JA", "J", "Да", "ДА", "Evet",
    "EVET", "E", "نعم", "是", "有", "✓", "✔", "☑", "✅", "○", "Verdadero", "Vrai", "Wahr", "Vero",
)  # fmt: skip
NO_CELLS = (
    "NO", "Não", "NAO", "nao", "Non", "NON", "Nein", "NEIN", "Нет", "нет", "Hayır", "HAYIR",
    "hayir", "H", "لا", "否", "无", "✗", "✘", "×", "❌", "Falso", "Faux", "Falsch",
)  # fmt: skip


@pytest.mark.parametrize(
    ("cell", "value", "error"),
    [
        *[(word, True, None) for word in ("1", "true", "TRUE", "yes", "Y", "x", "X ")],
        *[(word, False, None) for word in ("0", "false", "No", "n")],
        *[(word, True, None) for word in YES_CELLS],
        *[(word, False, None) for word in NO_CELLS],
        ("peut-être", None, "bad_flag"),
        ("vielleicht", None, "bad_flag"),
        ("", None, None),
        (None, None, None),
        ("maybe", None, "bad_flag"),
        ("2", None, "bad_flag"),
    ],
)
def test_parse_flags(cell, value, error):
    assert one(parse_flags, cell) == (value, error)


@pytest.mark.parametrize(
    ("cell", "first", "after", "error"),
    [
        ("60/1", 60, 1, None),
        ("60-1", 60, 1, None),
        ("60+1", 60, 1, None),
        ("60 / 60", 60, 60, None),
        ("1/1", 1, 1, None),
        ("30:6", 30, 6, None),
        ("60", 60, 60, None),
        ("0/1", None, None, "bad_interval"),
        ("60/", None, None, "bad_interval"),
        ("per minute", None, None, "bad_interval"),
        ("", None, None, None),
        (None, None, None, None),
    ],
)
def test_parse_pulse(cell, first, after, error):
    firsts, nexts, errors = parse_pulse(pl.Series([cell], dtype=pl.String))
    assert (firsts[0], nexts[0], errors[0]) == (first, after, error)


@settings(max_examples=50)
@given(st.lists(st.text(max_size=12), max_size=30))
def test_parsers_never_raise_and_keep_the_length(cells):
    series = pl.Series(cells, dtype=pl.String)
    for parse in (parse_codes, parse_prices, parse_ints, parse_flags, parse_pulse):
        out = parse(series)
        assert all(len(part) == len(cells) for part in out)
    values, errors, _ = parse_datetimes(series)
    assert len(values) == len(errors) == len(cells)
    # every non-blank cell is either a value or an error, never silently lost
    for cell, value, error in zip(cells, *parse_prices(series), strict=True):
        assert (value is None) != (error is None) or not cell.strip()


# --- currencies and change words -------------------------------------------------------------


def test_parse_currencies():
    values, errors = parse_currencies(
        pl.Series(["usd", " EUR ", "$", "€", "US$", "", None, "x", "Euro"])
    )
    assert values.to_list() == ["USD", "EUR", "USD", "EUR", "USD", None, None, None, None]
    assert errors.to_list() == [None] * 7 + ["bad_currency"] * 2


def test_currency_marks_of_price_cells():
    marks = currency_marks(pl.Series(["$0.15", "0.15 EUR", "£1", "0.1 usd", "0.15", "1e5", None]))
    assert marks.to_list() == ["USD", "EUR", "GBP", "USD", None, None, None]


@pytest.mark.parametrize(
    ("words", "change"),
    [
        (["Code Removal", "Removed", "Deleted", "Closed", "CODE REMOVED", "code_deleted",
          "Eliminado", "ELIMINADA", "Baja", "BAJA", "Dado de baja", "Eliminación", "Removido",
          "Excluído", "Supprimé", "SUPPRIMEE", "Fermé", "Gelöscht", "GELOESCHT", "Entfernt",
          "Eliminato", "Rimosso", "Удален", "Удалён", "УДАЛЕНО", "Закрыт", "Kaldırıldı",
          "KALDIRILDI", "Silindi", "محذوف", "تم الحذف", "删除", "已删除", "关闭"],
         "discontinued"),
        (["Code Added", "Destination Added", "New Code", "New", "ADDED", "Nuevo", "NUEVA",
          "Alta", "Añadido", "Agregado", "Novo", "Adicionado", "Nouveau", "Ajouté", "AJOUTEE",
          "Neu", "NEU", "Hinzugefügt", "Nuovo", "Aggiunto", "Новый", "Добавлен", "Yeni",
          "Eklendi", "جديد", "مضاف", "新增", "新"],
         "new"),
        (["Increase", "Aumento", "Subida", "Alza", "Hausse", "Augmentation", "Erhöhung",
          "ERHOEHUNG", "Rialzo", "Повышение", "Artış", "ARTIS", "Zam", "زيادة", "上调", "涨价"],
         "increase"),
        (["Decrease", "Disminución", "DISMINUCION", "Bajada", "Rebaja", "Reducción", "Redução",
          "Baisse", "Diminution", "Senkung", "Riduzione", "Понижение", "Снижение", "Azalış",
          "AZALIS", "İndirim", "تخفيض", "下调", "降价"],
         "decrease"),
        (["No Change", "Unchanged", "no-change", "Sin cambios", "Sin cambio", "Sem alteração",
          "Inchangé", "Sans changement", "Unverändert", "UNVERAENDERT", "Keine Änderung",
          "Invariato", "Без изменений", "Değişiklik yok", "بدون تغيير", "不变", "无变化"],
         "unchanged"),
        (["Blocked", "Bloqueado", "Bloqué", "Gesperrt", "Заблокировано", "محظور", "禁止"],
         "forbidden"),
    ],
)  # fmt: skip
def test_change_words_in_the_languages_vendors_write(words, change):
    classes, unknown = parse_change_words(pl.Series(words, dtype=pl.String))
    assert dict(zip(words, classes.to_list(), strict=True)) == {word: change for word in words}
    assert unknown.null_count() == len(words)


def test_no_change_word_belongs_to_two_classes():
    classes = {}
    for change, words in CHANGE_WORDS.items():
        for word in words:
            assert classes.setdefault(word_key(word), change) == change, word


@pytest.mark.parametrize(
    "word",
    ["ASAP", "asap.", "Immediate", "Immediately", "Effective immediately", "Inmediato",
     "INMEDIATA", "De inmediato", "Imediato", "IMEDIATAMENTE", "Immédiat", "IMMEDIATE",
     "immédiatement", "Avec effet immédiat", "Sofort", "AB SOFORT", "Umgehend", "Immediato",
     "Subito", "Немедленно", "НЕМЕДЛЕННО", "Сразу", "Hemen", "Derhal", "Anında", "فوري",
     "فوراً", "立即", "立即生效", "即刻生效"],
)  # fmt: skip
def test_asap_words_in_the_languages_vendors_write(word):
    values, errors, _ = parse_datetimes(pl.Series([word, "2027-01-15"], dtype=pl.String))
    assert values.to_list() == [None, dt.datetime(2027, 1, 15)]
    assert errors.to_list() == [None, None]


def test_change_words():
    classes, unknown = parse_change_words(
        pl.Series(["Increase", " no  change ", "Closed", "BLOCKED.", "Code Added", "Undefined",
                   "-", "Rerouted", None])
    )  # fmt: skip
    assert classes.to_list() == [
        "increase", "unchanged", "discontinued", "forbidden", "new", None, None, None, None,
    ]  # fmt: skip
    assert unknown.to_list() == [None] * 7 + ["Rerouted", None]


_MOSTLY_BLANK = st.lists(
    st.one_of(
        st.none(),
        st.none(),
        st.none(),
        st.sampled_from(["yes", "X", " 0 ", "maybe", "60/1", "60", "0/0", "Increase", "closed "]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(cells=_MOSTLY_BLANK)
def test_a_mostly_blank_column_reads_as_each_cell_reads_alone(cells):
    """Mostly blank columns take a path of their own (only filled cells are looked at): each
    cell reads as it does among filled cells."""
    column = pl.Series("c", cells, dtype=pl.String)
    for parse in (parse_flags, parse_pulse, parse_change_words):
        whole = parse(column)
        for i, cell in enumerate(cells):
            # the cell beside two filled ones: the general path
            alone = parse(pl.Series("c", [cell, "1", "2"], dtype=pl.String))
            assert [part[i] for part in whole] == [part[0] for part in alone], (parse, cell)
