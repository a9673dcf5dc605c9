"""A code's timeline (docs/semantics.md#several-rates-per-code): its rows keyed by
``effective_from``, and which of them is in effect at an instant."""

from __future__ import annotations

from datetime import datetime

import polars as pl


def as_of(frame: pl.DataFrame, at: str, rows: pl.DataFrame, suffix: str) -> pl.DataFrame:
    """``frame`` with, beside each row, the row of ``rows`` of the same code that started last
    at or before the row's ``at``: the columns of ``rows`` but ``code``, their names ending in
    ``suffix``, null where the code had no row yet (see :func:`in_effect`)."""
    other = rows.rename({c: c + suffix for c in rows.columns if c != "code"})
    found = {name: dtype for name, dtype in other.schema.items() if name != "code"}
    if other.is_empty():  # nothing to find (and no as-of join of a million rows)
        return frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in found.items())
    start = "effective_from" + suffix
    return frame.sort("code", at).join_asof(
        other.sort("code", start),
        left_on=at,
        right_on=start,
        by="code",
        strategy="backward",
        check_sortedness=False,  # sorted within each code: what an as-of join by code needs
    )


def in_effect(at: str, suffix: str) -> pl.Expr:
    """Whether the row :func:`as_of` found (its columns ending in ``suffix``) is still in effect
    at ``at``: there is one, it does not discontinue the code, and it has not ended by then."""
    ends = pl.col("effective_to" + suffix)
    return (
        pl.col("effective_from" + suffix).is_not_null()
        & ~pl.col("discontinued" + suffix).fill_null(False)
        & (ends.is_null() | (ends > pl.col(at)))
    )


def in_effect_at(rows: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """Per code, the row in effect at ``at``, with ``effective_until``: its own end date or the
    start of the code's next row, whichever comes first (null: open)."""
    until = pl.min_horizontal(
        pl.col("effective_to"), pl.col("effective_from").shift(-1).over("code")
    ).alias("effective_until")
    return (
        rows.sort("code", "effective_from")
        .with_columns(until)
        .filter(pl.col("effective_from") <= at)
        .filter(pl.col("effective_until").is_null() | (pl.col("effective_until") > at))
    )
