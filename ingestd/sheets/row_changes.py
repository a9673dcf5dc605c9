"""The vendor's change words in a found table's rows (docs/reading.md#cells): its status or
code-change column, the flags they imply (forbidden, discontinued), and the code-changes layout
(docs/reading.md#decks-nobody-taught-us), whose removed rows are read as discontinued or
forbidden and whose added rows wait for a rate from the deck's price sheet."""

from __future__ import annotations

import polars as pl

from ingestd.rates.model import Kind
from ingestd.sheets.cells import raw_cells
from ingestd.sheets.row_codes import Hyphens, read_codes
from ingestd.sheets.table_rows import (
    ROW,
    TableReading,
    TableRows,
    cell_columns,
    listed,
    nulls,
    rejection,
)
from ingestd.sheets.vendor_words import parse_change_words, parse_flags


def read_changes(reading: TableReading) -> pl.Series:
    """The vendor's change word (status, else code change) and the flags it implies; returns
    per row whether its code is closed (discontinued or forbidden: a price may be missing)."""
    sheet, height = reading.sheet, reading.sheet.height
    if sheet.found.layout == "code_changes":
        change, _ = parse_change_words(sheet.text("code_change"))
    else:
        change, unknown = parse_change_words(sheet.text("status"))
        _warn_unknown_words(sheet, "status", unknown, reading.warnings)
        if sheet.has("code_change"):
            by_code, unknown = parse_change_words(sheet.text("code_change"))
            _warn_unknown_words(sheet, "code_change", unknown, reading.warnings)
            change = pl.select(pl.coalesce(change, by_code)).to_series()
    reading.values["vendor_class"] = change.rename("vendor_class")
    for name in ("forbidden", "discontinued"):
        flag = nulls(height, pl.Boolean)
        if sheet.has(name):
            flag, errors = parse_flags(sheet.text(name))
            reading.problem(name, errors)
        said = (change == name).fill_null(False)
        reading.values[name] = (flag.fill_null(False) | said).rename(name)
    return reading.values["forbidden"] | reading.values["discontinued"]


def code_changes(
    sheet: TableRows, kind: Kind, hyphen: Hyphens, warnings: list[str], skipped: dict[str, int]
) -> tuple[TableRows, pl.DataFrame, dict[str, int]]:
    """A code-changes sheet (docs/reading.md#cells, docs/reading.md#decks-nobody-taught-us): the
    rows it removes, to be read as discontinued rows (blocked ones forbidden); the rows it adds
    (``DeckRead.additions``), whose rate must come from the deck's price sheet (``deck.combine``
    looks); and its rows per action.  Rows without a code change say nothing."""
    changes, unknown = parse_change_words(sheet.text("code_change"))
    _warn_unknown_words(sheet, "code_change", unknown, warnings)
    removal = changes.is_in(["discontinued", "forbidden"]).fill_null(False)
    addition = (changes == "new").fill_null(False)
    counts = {
        "removed": int((changes == "discontinued").sum()),
        "blocked": int((changes == "forbidden").sum()),
        "added": int(addition.sum()),
    }
    counts["unchanged"] = sheet.height - int(removal.sum()) - counts["added"]
    if counts["unchanged"]:
        skipped["no_code_change"] = counts["unchanged"]
    additions = _additions(sheet.filtered(addition), kind, hyphen)
    return sheet.filtered(removal), additions, counts


def _additions(added: TableRows, kind: Kind, hyphen: Hyphens) -> pl.DataFrame:
    """The rows a code-changes sheet adds (``DeckRead.additions``): per row its ``codes``, the
    ``reason`` and ``message`` of its first bad code (null when all are codes), its raw
    ``cells``."""
    schema = {
        "source_row": pl.Int64,
        "codes": pl.List(pl.String),
        "reason": pl.String,
        "message": pl.String,
        "cells": pl.List(pl.String),
    }
    if not added.height:
        return pl.DataFrame(schema=schema)
    wrong = pl.col("error").is_not_null()
    per_row = (
        read_codes(added, kind, hyphen)
        .group_by(ROW, maintain_order=True)
        .agg(
            pl.col("code").drop_nulls().alias("codes"),
            pl.col("error").filter(wrong).first().alias("reason"),
            pl.col("item").filter(wrong).first(),
            pl.col("field").filter(wrong).first(),
        )
        .sort(ROW)
    )
    messages, texts = [], {}
    for row, reason, item, name in per_row.select(ROW, "reason", "item", "field").iter_rows():
        text = texts.setdefault(name, added.text(name))[row] if reason else None
        messages.append(rejection(added.header(name), text, reason, item) if reason else None)
    cells = [list(raw_cells(row)) for row in added.data.select(cell_columns(added.data)).rows()]
    return pl.DataFrame(
        {
            "source_row": added.data.get_column("source_row"),
            "codes": per_row.get_column("codes"),
            "reason": per_row.get_column("reason"),
            "message": pl.Series(messages, dtype=pl.String),
            "cells": pl.Series(cells, dtype=pl.List(pl.String)),
        },
        schema=schema,
    )


def _warn_unknown_words(
    sheet: TableRows, name: str, unknown: pl.Series, warnings: list[str]
) -> None:
    words = unknown.drop_nulls().unique(maintain_order=True).to_list()
    if words:
        warnings.append(
            f"column {sheet.header(name)!r} has words that are not change words, read as no "
            f"word: {listed(repr(w) for w in words)}"
        )
