"""The rows below a header (docs/reading.md#finding-the-table): which are data and which are
not (blank rows, repeated header rows, section titles inside the table, footnotes after its last
data row), classified with polars expressions over whole columns."""

from __future__ import annotations

import re

import polars as pl

from ingestd.sheets.notice import text_line

SKIP_REASONS = ("blank", "repeated_header", "section", "footnote")
MAX_FOOTNOTE_LINES = 100
# A cell of a key column that could be a code: digits with list, range and Excel marks
CODE_LIKE = r"^\s*\+?[0-9][0-9\s+,;|/.()eE\-–]*$"
_NUMBER_CELL = r"^\s*[-+]?[0-9][0-9\s.,]*\s*$"


def classify_rows(
    body: pl.DataFrame,
    cells: list[str],
    *,
    key: list[str],
    values: list[str],
    headers: dict[str, str],
) -> tuple[pl.DataFrame, dict[str, int], list[str]]:
    """The data rows of ``body``, the skip counts and the footnote lines.

    A data row has a code-like key cell or a value (price, change marker); blank rows,
    repeated headers, and text rows (section titles inside the table, footnotes after its last
    data row) are not data.
    """
    blank = ~pl.any_horizontal(pl.col(c).is_not_null() for c in cells)
    if headers:
        equal = [_is_text(pl.col(c), text) for c, text in headers.items()]
        repeated = pl.sum_horizontal(equal) >= min(2, len(equal))
    else:
        repeated = pl.lit(False)
    code_like = pl.any_horizontal(pl.col(c).str.contains(CODE_LIKE).fill_null(False) for c in key)
    valued = pl.any_horizontal(pl.col(c).is_not_null() for c in values) if values else pl.lit(False)
    kinds = body.select(
        pl.col("source_row"),
        pl.when(blank)
        .then(pl.lit("blank"))
        .when(repeated)
        .then(pl.lit("repeated_header"))
        .when(code_like | valued)
        .then(pl.lit("data"))
        .otherwise(pl.lit("text"))
        .alias("row_kind"),
    )
    last = kinds.filter(pl.col("row_kind") == "data").get_column("source_row").max()
    last = -1 if last is None else last
    row_kind = (
        pl.when((pl.col("row_kind") == "text") & (pl.col("source_row") > last))
        .then(pl.lit("footnote"))
        .when(pl.col("row_kind") == "text")
        .then(pl.lit("section"))
        .otherwise(pl.col("row_kind"))
    )
    kinds = kinds.with_columns(row_kind.alias("row_kind"))
    counts = dict(kinds.get_column("row_kind").value_counts().iter_rows())
    skipped = {reason: int(counts.get(reason, 0)) for reason in SKIP_REASONS}
    is_data = kinds.get_column("row_kind") == "data"
    data = body.filter(is_data).select(pl.col("source_row"), *cells)
    footnote_rows = body.filter(kinds.get_column("row_kind") == "footnote").head(MAX_FOOTNOTE_LINES)
    footnotes = [text_line(row) for row in footnote_rows.select(cells).rows()]
    return data, skipped, [line for line in footnotes if line]


def _is_text(cell: pl.Expr, text: str) -> pl.Expr:
    """The cell says ``text``, ignoring case and surrounding spaces: one regex pass per cell,
    no lowered copy of a million-row column."""
    if not text or text != text.strip():
        return pl.lit(False)
    return cell.str.contains(rf"(?i)^\s*{re.escape(text)}\s*$").fill_null(False)


def numbers_in(row: tuple) -> int:
    """How many cells of a row are plain numbers (a header row has none, a data row some)."""
    return sum(1 for cell in row if cell is not None and re.match(_NUMBER_CELL, cell))


def filled_cells(row: tuple) -> list[str]:
    return [cell for cell in row if cell is not None and cell.strip()]
