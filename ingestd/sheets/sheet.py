"""A sheet as the reader gives it: string columns ``c0, c1, …`` whose row ``i`` is spreadsheet
row ``i + 1`` (docs/reading.md#files), and the names of its columns.

Every reader ends its frame the same way (``finish_frame``): blank cells null, trailing empty
columns and rows dropped, the limits on rows and columns enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ingestd.errors import SheetError

# How far down a sheet its header row is looked for (a notice block above it, a logo, a title).
HEADER_SEARCH_ROWS = 60


@dataclass(frozen=True)
class Sheet:
    """One sheet: string columns ``c0, c1, …``; row ``i`` is spreadsheet row ``i + 1``."""

    name: str
    frame: pl.DataFrame
    # the workbook counts serial dates from 1904 (old Mac Excel): date cells are already
    # converted, but serial numbers in plain number cells must be read in that system
    date1904: bool = False


def column_names(width: int) -> list[str]:
    """``c0`` … ``c<width - 1>``: the names of a sheet's first ``width`` columns."""
    return [f"c{i}" for i in range(width)]


def column_position(column: str) -> int:
    """``c12`` → 12: where a sheet column (``Sheet.frame``'s names) stands, 0-based."""
    return int(column[1:])


def column_letter(column: str) -> str:
    """``c0`` → ``A``, ``c27`` → ``AB``: how a spreadsheet names the column."""
    number, letters = column_position(column) + 1, ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_named(letters: str) -> str:
    """``a`` or ``A`` → ``c0``, ``ab`` → ``c27``: the sheet column a spreadsheet letter names."""
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return f"c{number - 1}"


def finish_frame(frame: pl.DataFrame, *, max_rows: int, max_columns: int) -> pl.DataFrame:
    """Blank cells → null, trailing empty columns and rows dropped, limits enforced."""
    frame = frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c) for c in frame.columns
    )
    used = [c for c in frame.columns if frame.get_column(c).null_count() < frame.height]
    width = int(used[-1][1:]) + 1 if used else 0
    if used:
        filled = frame.select(pl.any_horizontal(pl.col(used).is_not_null())).to_series()
        frame = frame.head(filled.arg_true()[-1] + 1)
    else:
        frame = frame.clear()
    if width > max_columns:
        raise SheetError(
            "too_many_columns", f"the sheet has more than {max_columns} columns (limit)"
        )
    if frame.height > max_rows:
        raise SheetError("too_many_rows", f"the sheet has more than {max_rows} rows (limit)")
    return frame.select(frame.columns[:width])
