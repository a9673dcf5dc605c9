"""The data rows of a found table, read by logical field (docs/reading.md#cells).

``TableRows`` gives a field's text per row, whichever of its columns holds it, with the header
and place a report names it by; ``TableReading`` gathers what reading the fields finds for the
table's decks: each field's values, the cells it rejected (``CellProblem``, a row error each),
the warnings and the doubts.  The readers of each kind of field (``sheets.row_codes``,
``sheets.row_dates``, ``sheets.row_increments``, ``sheets.row_prices``, ``sheets.row_changes``)
work on whole columns of these rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from ingestd.sheets.cells import REASON_TEXT, clean_text
from ingestd.sheets.doubt import Doubt
from ingestd.sheets.sheet import column_letter, column_position
from ingestd.sheets.table import FoundTable

ROW = "row"  # position of a data row in FoundTable.data (UInt32), shared with expand_codes
EXAMPLES = 10  # how many values, codes or rows a warning names before "and N more"


@dataclass(frozen=True)
class TableRows:
    """The data rows of a found table, read by logical field."""

    found: FoundTable
    data: pl.DataFrame  # "c<i>" String columns + "source_row", rows that hold anything
    blank_rows: int = 0

    @classmethod
    def of(cls, found: FoundTable) -> TableRows:
        data = found.data.with_columns(pl.col("source_row").cast(pl.Int64))
        cells = cell_columns(data)
        if not cells:
            return cls(found, data.clear(), data.height)
        filled = pl.any_horizontal(pl.col(c).str.strip_chars() != "" for c in cells)
        kept = data.filter(filled.fill_null(False))
        return cls(found, kept, data.height - kept.height)

    @property
    def height(self) -> int:
        return self.data.height

    def filtered(self, keep: pl.Series) -> TableRows:
        return TableRows(self.found, self.data.filter(keep), self.blank_rows)

    def columns(self, name: str) -> tuple[str, ...]:
        return tuple(c for c in self.found.columns.get(name) or () if c in self.data.columns)

    def has(self, name: str) -> bool:
        return bool(self.columns(name))

    def text(self, name: str, *, words: bool = False) -> pl.Series:
        """The field's text per row: the first of its columns that is not blank.  For
        ``words`` (names, notes) the quote an exporter puts before text that a spreadsheet
        would take for a formula (``'=…``, ours among them) goes: text, not a formula."""
        columns = self.columns(name)
        if not columns:
            return nulls(self.height, pl.String).rename(name)
        texts = [clean_text(self.data.get_column(c), neutralized=words) for c in columns]
        return pl.select(pl.coalesce(texts)).to_series().rename(name)

    def column_text(self, column: str) -> pl.Series:
        return clean_text(self.data.get_column(column))

    def header(self, name: str) -> str:
        columns = self.found.columns.get(name) or ()
        return self.header_of(columns[0]) if columns else name

    def header_of(self, column: str) -> str:
        return self.found.headers.get(column) or f"column {column_letter(column)}"

    def position(self, name: str) -> int:
        columns = self.found.columns.get(name) or ()
        return min((column_position(c) for c in columns), default=10**6)


def cell_columns(data: pl.DataFrame) -> list[str]:
    return sorted((c for c in data.columns if re.fullmatch(r"c[0-9]+", c)), key=column_position)


@dataclass(frozen=True)
class CellProblem:
    """The reasons one field's cells were rejected (null where fine), for row errors."""

    position: int  # sheet column: the leftmost problem is a row's reason
    header: str
    texts: pl.Series
    reasons: pl.Series


@dataclass
class TableReading:
    """What reading a table's fields gathers for its decks: per field its values (one per row),
    the cells it rejected, the warnings and the doubts the report shows."""

    sheet: TableRows
    warnings: list[str]
    values: dict[str, pl.Series] = field(default_factory=dict)
    problems: list[CellProblem] = field(default_factory=list)
    doubts: list[Doubt] = field(default_factory=list)  # what the rows leave unsettled

    def problem(self, name: str, reasons: pl.Series, texts: pl.Series | None = None) -> None:
        """The field's cells rejected for ``reasons`` (null where fine), if any."""
        if reasons.null_count() == len(reasons):
            return
        texts = self.sheet.text(name) if texts is None else texts
        self.problems.append(
            CellProblem(self.sheet.position(name), self.sheet.header(name), texts, reasons)
        )

    def for_deck(self) -> TableReading:
        """A reading of one deck's own: the fields read so far, to which it adds its prices."""
        return TableReading(
            self.sheet, self.warnings, dict(self.values), list(self.problems), self.doubts
        )


def repeated(value: object, height: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(value, height, dtype=dtype, eager=True)


def nulls(height: int, dtype: pl.DataType) -> pl.Series:
    return repeated(None, height, dtype)


def listed(items, limit: int = EXAMPLES) -> str:
    """The first ``limit`` items, and how many more there are."""
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def rejection(header: str, text: str | None, reason: str, item: str | None = None) -> str:
    """How a report names a rejected cell: its header, its text, the item of a list that failed
    and the reason, in words."""
    return (
        f"{header} {text or ''!r}"
        + (f": {item!r}" if item is not None and item != text else "")
        + f" {REASON_TEXT.get(reason, reason)}"
    )
