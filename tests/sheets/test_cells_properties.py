"""docs/reading.md#cells, properties of the cell parsers over any text a sheet can hold: they never
raise, keep one answer per cell, answer with known reason codes, and their output is canonical (read
again, it gives itself back)."""

from __future__ import annotations

import sys
import unicodedata

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd.sheets.cells import REASON_TEXT
from ingestd.sheets.codes import expand_codes, parse_codes
from ingestd.sheets.dates import DATE_RANGE, parse_datetimes
from ingestd.sheets.prices import parse_prices
from ingestd.sheets.vendor_words import _word_keys, word_key

# any text, NUL and huge cells included, mixed with text that looks like the cells of a deck
# (so that the parsers' interesting paths are walked, not only their "bad_…" answer)
DECK_LIKE = st.text(alphabet="0123456789+-–.,;|/: eE$€\n\t\x00", max_size=40)
WORDS = st.sampled_from(
    ["ASAP", "Immediate", "16-May-23", "May 16, 2023", "45062.5", "2023-05-16T10:30:00+02:00",
     "05/16/2023 2:30 PM", "7.9407E+4", "447400-447409", "93-76", "1,234.56", "€0,05", "US$1"]
)  # fmt: skip
CELLS = st.one_of(st.text(), DECK_LIKE, WORDS, st.none())
HUGE = st.builds(lambda c, n: c * n, st.sampled_from(["9", "0,", "1-", "\x00", "é"]),
                 st.integers(10_000, 200_000))  # fmt: skip
COLUMNS = st.lists(st.one_of(CELLS, HUGE), max_size=25)

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def series(cells: list[str | None]) -> pl.Series:
    return pl.Series("cell", cells, dtype=pl.String)


def known(errors: pl.Series, allowed: set[str]) -> bool:
    return set(errors.drop_nulls().to_list()) <= allowed and allowed <= set(REASON_TEXT)


@PROPERTIES
@given(COLUMNS, st.booleans())
def test_codes(cells, international):
    codes, errors = parse_codes(series(cells), international_prefix=international)
    assert len(codes) == len(errors) == len(cells)
    assert known(errors, {"missing_code", "bad_code"})
    assert (codes.is_null() == errors.is_not_null()).all()
    canonical = codes.drop_nulls()
    again, problems = parse_codes(canonical, international_prefix=international)
    assert again.to_list() == canonical.to_list()
    assert problems.null_count() == len(canonical)
    assert canonical.str.contains(r"^[0-9]{1,15}$").all()


@PROPERTIES
@given(COLUMNS, st.booleans(), st.sampled_from(["auto", "range", "pair"]))
def test_code_lists_and_ranges(cells, international, hyphen):
    frame, meaning = expand_codes(series(cells), hyphen=hyphen, international_prefix=international)
    assert meaning in (None, "range", "pair", "both", "mixed")
    assert set(frame.get_column("row").unique().to_list()) == set(range(len(cells)))
    assert frame.get_column("row").is_sorted()
    assert known(frame.get_column("error"), {"missing_code", "bad_code", "bad_range"})
    canonical = frame.get_column("code").drop_nulls()
    again, problems = parse_codes(canonical, international_prefix=international)
    assert again.to_list() == canonical.to_list() and problems.null_count() == len(canonical)


# the zero of every script's decimal digits (ASCII, full-width, Arabic-Indic, Devanagari, …)
ZEROS = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.decimal(chr(c), None) == 0]
# a code cell as written in ASCII, and the same cell in other scripts: a character of it is
# (ASCII character, zero of the script its digit is written in, full-width sign or not)
WRITTEN = st.lists(
    st.tuples(st.sampled_from("0123456789+-,; "), st.sampled_from(ZEROS), st.booleans()),
    max_size=24,
)


def in_scripts(written: list[tuple[str, str, bool]]) -> str:
    return "".join(
        chr(ord(zero) + int(ch))
        if ch.isdigit()
        else chr(ord(ch) + 0xFEE0)
        if full_width and ch != " "
        else ch
        for ch, zero, full_width in written
    )


@PROPERTIES
@given(st.lists(WRITTEN, max_size=20), st.booleans(), st.sampled_from(["auto", "range", "pair"]))
def test_codes_written_in_any_script_read_as_in_ascii(cells, international, hyphen):
    ascii_cells = series(["".join(ch for ch, _, _ in cell) for cell in cells])
    other = series([in_scripts(cell) for cell in cells])
    assert all(a.isascii() for a in ascii_cells.to_list())
    codes, errors = parse_codes(other, international_prefix=international)
    expected, expected_errors = parse_codes(ascii_cells, international_prefix=international)
    assert codes.to_list() == expected.to_list()
    assert errors.to_list() == expected_errors.to_list()
    frame, meaning = expand_codes(other, hyphen=hyphen, international_prefix=international)
    plain, plain_meaning = expand_codes(
        ascii_cells, hyphen=hyphen, international_prefix=international
    )
    assert meaning == plain_meaning
    assert frame.select("row", "code", "error").equals(plain.select("row", "code", "error"))


@PROPERTIES
@given(COLUMNS)
def test_prices(cells):
    prices, errors = parse_prices(series(cells))
    assert len(prices) == len(errors) == len(cells)
    assert known(errors, {"bad_price", "negative_price", "absurd_price"})
    assert (prices.is_not_null() & errors.is_not_null()).sum() == 0
    canonical = prices.drop_nulls()
    assert (canonical >= 0).all() and (canonical <= 1_000_000).all()
    again, problems = parse_prices(canonical.cast(pl.String))
    assert again.to_list() == canonical.to_list()
    assert problems.null_count() == len(canonical)


@PROPERTIES
@given(
    COLUMNS,
    st.sampled_from(["auto", "dmy", "mdy", "ymd"]),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "+05:30"]),
    st.lists(st.one_of(st.none(), st.sampled_from(["Asia/Tokyo", "Mars/Olympus", "UTC-3"]))),
)
def test_datetimes(cells, order, timezone, zones):
    zones = (zones * len(cells))[: len(cells)] if zones else None
    values, errors, decided = parse_datetimes(
        series(cells),
        date_order=order,
        timezone=timezone,
        zones=pl.Series(zones, dtype=pl.String) if zones is not None else None,
    )
    assert len(values) == len(errors) == len(cells)
    assert decided in (None, "dmy", "mdy", "ymd")
    assert known(errors, {"bad_date", "ambiguous_date", "bad_timezone"})
    assert (values.is_not_null() & errors.is_not_null()).sum() == 0
    canonical = values.drop_nulls()
    assert all(DATE_RANGE[0] <= v < DATE_RANGE[1] for v in canonical.to_list())
    written = canonical.dt.to_string("%Y-%m-%d %H:%M:%S%.6f")
    again, problems, _ = parse_datetimes(written, date_order=order)
    assert again.to_list() == canonical.to_list()
    assert problems.null_count() == len(canonical)


WORDISH = st.text(alphabet=" \t\x0b\x1c\x1f_-.!:aBcÉé NoSí", max_size=12)


@PROPERTIES
@given(st.lists(st.one_of(WORDISH, st.text(max_size=8), st.none()), max_size=30))
def test_words_keyed_as_a_column_are_keyed_as_word_key_keys_each(cells):
    """The whole-column keying of ASCII words is ``word_key`` itself."""
    keys = {word_key(cell) for cell in cells if cell is not None}
    assert _word_keys(series(cells), keys) == {
        cell: word_key(cell) for cell in cells if cell is not None
    }
