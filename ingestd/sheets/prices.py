"""Price cells (docs/reading.md#prices): exact decimals from text with a decimal point or comma,
currency signs and codes, thousands separators and spreadsheet float noise."""

from __future__ import annotations

import polars as pl

from ingestd.rates.model import PRICE
from ingestd.sheets.cells import WORK, cell_frame, first_reason, is_blank, spread

ABSURD_PRICE = 1_000_000
# Excel keeps 15 significant digits; more in a price is binary float noise
PRICE_SIGNIFICANT_DIGITS = 15

_CURRENCY_MARKS = r"(?:[A-Z]{1,2})?\$|[€£¥₹\s']"
_CURRENCY_CODE = r"^[A-Za-z]{3}|[A-Za-z]{3}$"
_NUMBER = r"^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def parse_prices(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Exact prices (``PRICE``) from text with decimal point or comma, currency marks,
    thousands separators and float noise.  Empty cells are null without an error.

    ``1,234`` alone could be either; the column decides: if other cells show that ``.`` is the
    decimal separator (``0.15``, ``1,234.50``), a lone ``,`` with three digits after it groups
    thousands, and the other way round; with no evidence, a lone separator is decimal.
    """
    frame = cell_frame(s)
    out = spread(frame, _prices(frame.unique()), [WORK])
    return out.get_column("price").rename(s.name), out.get_column("error")


def _prices(frame: pl.DataFrame) -> pl.DataFrame:
    # each step reads the columns the previous one wrote, so every part is computed once
    cell, body, last = pl.col(WORK), pl.col("body"), pl.col("last")
    dots, commas = pl.col("dots"), pl.col("commas")
    frame = frame.with_columns(
        cell.str.replace_all("\u2212", "-")  # a typographic minus
        .str.replace_all(_CURRENCY_MARKS, "")
        .str.replace_all(_CURRENCY_CODE, "")
        .alias("body")
    )
    frame = frame.with_columns(
        body.str.starts_with("-").alias("negative"),
        body.str.strip_prefix("-").str.strip_prefix("+").alias("body"),
    )
    frame = frame.with_columns(
        body.str.count_matches(".", literal=True).alias("dots"),
        body.str.count_matches(",", literal=True).alias("commas"),
        body.str.extract(r"([.,])([0-9]*)(?:[eE][+-]?[0-9]+)?$", 1).alias("last"),
        body.str.extract(r"([.,])([0-9]*)(?:[eE][+-]?[0-9]+)?$", 2).alias("tail"),
        body.str.extract(r"^([0-9]*)[.,]", 1).alias("head"),
    )
    both = (dots > 0) & (commas > 0)
    lone = (dots + commas) == 1
    # a lone separator is decimal unless it could group thousands ("1,234", "12.345")
    plain_lone = lone & (
        (pl.col("tail").str.len_chars() != 3)
        | pl.col("head").is_in(["", "0"])
        | (pl.col("head").str.len_chars() > 3)
    )
    other = pl.when(last == ".").then(pl.lit(",")).otherwise(pl.lit("."))
    frame = frame.with_columns(
        # what each cell proves on its own
        pl.when(both | plain_lone).then(last).alias("decimal"),
        # "1.234.567": a repeated separator groups thousands
        pl.when(both).then(other).when(~lone & (dots + commas > 1)).then(last).alias("thousands"),
        (lone & ~plain_lone).fill_null(False).alias("ambiguous"),
        # "1,234.5.6": the decimal separator twice is malformed
        (both & (pl.when(last == ".").then(dots).otherwise(commas) > 1)).alias("repeated"),
    )
    evidence = frame.select(
        comma=((pl.col("decimal") == ",") | (pl.col("thousands") == ".")).any(),
        dot=((pl.col("decimal") == ".") | (pl.col("thousands") == ",")).any(),
    ).row(0, named=True)
    grouping = []  # a separator the column proves to group thousands
    if evidence["dot"] and not evidence["comma"]:
        grouping.append(",")
    if evidence["comma"] and not evidence["dot"]:
        grouping.append(".")
    decimal = (
        pl.when(pl.col("ambiguous") & ~last.is_in(grouping)).then(last).otherwise(pl.col("decimal"))
    )
    frame = frame.with_columns(
        pl.when(decimal == ".")
        .then(body.str.replace_all(",", "", literal=True))
        .when(decimal == ",")
        .then(body.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .otherwise(body.str.replace_all(r"[.,]", ""))
        .alias("normal")
    )
    normal = pl.col("normal")
    frame = frame.with_columns(
        (~pl.col("repeated") & normal.str.contains(_NUMBER)).alias("number"),
        (normal.str.extract(r"^0*([0-9]*)", 1).str.len_chars() > len(str(ABSURD_PRICE))).alias(
            "huge"
        ),
    )
    frame = frame.with_columns(
        pl.when(pl.col("number") & ~pl.col("huge"))
        .then(normal)
        .cast(pl.Decimal(38, 20), strict=False)
        .alias("value")
    )
    frame = frame.with_columns(_round_noise(pl.col("value")).alias("value"))
    value = pl.col("value")
    blank = is_blank(cell)
    errors = first_reason(
        [
            (blank, None),
            (~pl.col("number"), "bad_price"),
            (pl.col("negative") & (value != 0), "negative_price"),
            (pl.col("huge") | value.is_null() | (value > ABSURD_PRICE), "absurd_price"),
        ],
    )
    return frame.select(
        cell,
        pl.when(errors.is_null() & ~blank).then(value.abs().cast(PRICE)).alias("price"),
        errors.alias("error"),
    )


def _round_noise(value: pl.Expr) -> pl.Expr:
    """Round once to the price scale or to 15 significant digits (Excel's; more is binary
    float noise), whichever keeps fewer decimals: only values of 100,000 and more have 15
    significant digits within the price scale."""
    rounded = value.round(PRICE.scale)
    for whole in range(PRICE_SIGNIFICANT_DIGITS - PRICE.scale + 1, len(str(ABSURD_PRICE)) + 1):
        # a value with `whole` digits before the point keeps 15 - whole decimals
        rounded = (
            pl.when(value.abs() >= 10 ** (whole - 1))
            .then(value.round(PRICE_SIGNIFICANT_DIGITS - whole))
            .otherwise(rounded)
        )
    return rounded
