"""Cell parsers (docs/reading.md#cells): strings in, typed values and per-cell reason codes out.

Every parser takes a ``pl.Series`` of strings (nulls allowed) and returns the parsed values and
an ``errors`` series of the same length holding a reason code per cell, or null when the cell is
fine.  The work is done with polars expressions over the whole column; a rule that needs to look
at the whole column (decimal comma vs thousands separator, day-first vs month-first dates) is
decided once per column.

One module per kind of cell: ``sheets.codes`` (codes, lists and ranges), ``sheets.prices``,
``sheets.currencies``, ``sheets.dates``, ``sheets.increments`` (intervals and pulses) and
``sheets.vendor_words`` (ASAP, yes/no and change words).  This module holds what they share: the
reason codes, the work once per distinct cell, and text cells.

Reason codes (``REASON_TEXT`` says each one in words): ``missing_code``, ``bad_code``,
``bad_range``, ``bad_price``, ``negative_price``, ``absurd_price``, ``bad_date``,
``ambiguous_date``, ``bad_timezone``, ``bad_interval`` (of ``parse_pulse`` and, unless the
caller names another, ``parse_ints``), ``bad_flag``, ``bad_currency``.
"""

from __future__ import annotations

import polars as pl

from ingestd.rates.export import FORMULA_START

WORK = "cell"  # the column name the parsers work on

# What each reason code means, for the messages of row errors: "<header> '<cell>' <text>".
REASON_TEXT = {
    "missing_code": "is empty",
    "bad_code": "is not a code (digits only, at most 15)",
    "bad_range": "is not a range of codes (two ends of one country and of equal length, at most "
    "10,000 codes) nor a country code and the digits that follow it",
    "missing_price": "is empty",
    "bad_price": "is not a price",
    "negative_price": "is negative",
    "absurd_price": "is above 1,000,000",
    "bad_date": "is not a date",
    "ambiguous_date": "could be day-first or month-first (set date_order)",
    "bad_timezone": "is not a time zone",
    "bad_interval": "is not a whole number of seconds",
    "bad_number": "is not a whole number",
    "bad_flag": "is not a yes/no value (1/0, true/false, yes/no, y/n, x)",
    "bad_currency": "is not a three-letter currency code",
}


def cell_frame(s: pl.Series) -> pl.DataFrame:
    """``s`` as the one column (``WORK``) the parsers work on."""
    return pl.DataFrame({WORK: s.cast(pl.String)})


def per_cell(s: pl.Series, *columns: pl.Expr) -> pl.DataFrame:
    """``columns`` computed once per distinct cell of ``s`` (decks repeat their pulses, flags
    and words) and spread back over its rows."""
    blanks = s.null_count()
    if blanks and blanks * 2 >= s.len():
        return _per_filled_cell(s, columns)
    frame = cell_frame(s)
    return spread(frame, frame.unique().select(pl.col(WORK), *columns), [WORK]).drop(WORK)


def _per_filled_cell(s: pl.Series, columns: tuple[pl.Expr, ...]) -> pl.DataFrame:
    """``per_cell`` of a column mostly blank (a flag column, a column the sheet does not
    have): only the filled cells are looked at, the blank ones take what a blank cell gives,
    instead of hashing a million nulls twice."""
    blank = cell_frame(pl.Series([None], dtype=pl.String)).select(*columns)
    where = s.is_not_null().arg_true()
    filled = per_cell(s.gather(where), *columns) if where.len() else blank.clear()
    out = []
    for name, dtype in filled.schema.items():
        column = pl.repeat(blank.get_column(name)[0], s.len(), dtype=dtype, eager=True)
        if where.len():
            column.scatter(where, filled.get_column(name))
        out.append(column.alias(name))
    return pl.DataFrame(out)


def spread(frame: pl.DataFrame, parsed: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Results computed once per distinct cell (decks repeat their prices and dates) spread
    back over the rows of ``frame``, in their order."""
    return frame.select(keys).join(
        parsed, on=keys, how="left", nulls_equal=True, maintain_order="left"
    )


def is_blank(cell: pl.Expr) -> pl.Expr:
    """Null, or nothing but spaces."""
    return cell.is_null() | (cell.str.strip_chars() == "")


def first_reason(rules: list[tuple[pl.Expr, str | None]]) -> pl.Expr:
    """The reason of the first condition that holds (None: the cell is fine), else null."""
    expr = pl.lit(None, dtype=pl.String)
    for condition, reason in reversed(rules):
        expr = pl.when(condition).then(pl.lit(reason, dtype=pl.String)).otherwise(expr)
    return expr


def raw_cells(row: tuple) -> tuple[str, ...]:
    """A sheet row as a row error shows it: text cells, trailing empty cells dropped."""
    cells = [cell if cell is not None else "" for cell in row]
    while cells and not cells[-1]:
        cells.pop()
    return tuple(cells)


def clean_text(cells: pl.Series, *, neutralized: bool = False) -> pl.Series:
    """Text cells: surrounding spaces go, blank is null; with ``neutralized`` the quote an
    exporter (ours, ``rates.export``) puts before text that looks like a formula goes too."""
    text = cells.cast(pl.String).str.strip_chars()
    text = pl.select(pl.when(text != "").then(text)).to_series()
    if neutralized:
        text = pl.select(
            pl.when(text.str.contains(FORMULA_START.replace("'*", "'+")))
            .then(text.str.slice(1))
            .otherwise(text)
        ).to_series()
    return text.rename(cells.name)
