"""Billing increments in cells (docs/reading.md#intervals): an interval in whole seconds, a
pulse ``60/1`` (also ``60-1``, ``60+1``, ``60:1``)."""

from __future__ import annotations

import polars as pl

from ingestd.intervals import IN_CELLS, pair_pattern
from ingestd.sheets.cells import WORK, first_reason, is_blank, per_cell

_INT32_MAX = 2**31 - 1


def parse_ints(s: pl.Series, *, reason: str = "bad_interval") -> tuple[pl.Series, pl.Series]:
    """Whole non-negative numbers (``60``, ``60.0``); anything else is ``reason``."""
    cell = pl.col(WORK)
    digits = cell.str.strip_chars().str.extract(r"^\+?([0-9]+)(?:\.0*)?$", 1)
    number = digits.cast(pl.Int64, strict=False)
    valid = number.is_not_null() & (number <= _INT32_MAX)
    errors = first_reason([(is_blank(cell), None), (~valid, reason)])
    out = per_cell(
        s, pl.when(valid).then(number).cast(pl.Int32).alias("value"), errors.alias("error")
    )
    return out.get_column("value").rename(s.name), out.get_column("error")


def parse_pulse(s: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Billing increments: ``60/1`` (also ``60-1``, ``60+1``, ``60:1``) → first 60, next 1;
    a single number ``60`` means 60/60."""
    cell = pl.col(WORK)
    text = cell.str.strip_chars()
    pair = pair_pattern(IN_CELLS)
    single = r"^([0-9]{1,5})$"
    first = pl.coalesce(text.str.extract(pair, 1), text.str.extract(single, 1)).cast(pl.Int32)
    after = pl.coalesce(text.str.extract(pair, 2), text.str.extract(single, 1)).cast(pl.Int32)
    valid = (first > 0) & (after > 0)
    errors = first_reason([(is_blank(cell), None), (~valid.fill_null(False), "bad_interval")])
    out = per_cell(
        s,
        pl.when(valid).then(first).alias("first"),
        pl.when(valid).then(after).alias("next"),
        errors.alias("error"),
    )
    return out.get_column("first"), out.get_column("next"), out.get_column("error")
