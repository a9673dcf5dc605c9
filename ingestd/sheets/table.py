"""A rate table found in a sheet (docs/reading.md#finding-the-table), not yet read cell by cell:
where its header row, its columns and its data rows are, what its notice block says, and how
each column was read.  ``sheets.find.find_tables`` finds it; ``ingestd.sheets.normalize`` reads
its cells.  ``data`` keeps every column of the sheet (the normalizer shows a rejected row's raw
cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ingestd.rates.model import Kind
from ingestd.sheets.answers import Answers
from ingestd.sheets.doubt import Doubt
from ingestd.sheets.evidence import ColumnReading
from ingestd.sheets.notice import NoticeFacts


@dataclass(frozen=True)
class FoundTable:
    """One table found in one sheet, not yet interpreted cell by cell."""

    sheet: str
    layout: str  # "header" | "guidelines" (headerless) | "code_changes"
    kind: Kind
    kind_source: str  # "columns" | "vendor" | "command line" | "layout"
    header_row: int | None  # 1-based row of the header; None for the headerless layout
    # logical field → sheet columns ("c0", "c3", …) holding it, in sheet order (a field may take
    # several columns: country code + area code, current + new rate, jurisdiction prices)
    columns: dict[str, tuple[str, ...]]
    headers: dict[str, str]  # sheet column → its header text as written
    data: pl.DataFrame  # the data rows only: the sheet's "c<i>" String columns + "source_row"
    notice: NoticeFacts = field(default_factory=NoticeFacts)
    # rows below the header that are not data: blank, repeated_header, section, footnote
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    date1904: bool = False  # serial numbers in date columns count from 1904 (read.Sheet)
    # the currency a price header names ("Rates (USD / Min)" → "USD"), None when it names none
    header_currency: str | None = None
    # how each sheet column was read (header and content, evidence.ColumnReading)
    readings: tuple[ColumnReading, ...] = ()
    # what could not be settled: the deck is held until a person answers (doubt.Doubt)
    doubts: tuple[Doubt, ...] = ()
    # every sheet of the file and what became of it (on the file's first table only)
    sheets: tuple[dict, ...] = ()
    # the layout's key for vendor profiles: the header row's words, hashed
    # (answers.header_fingerprint)
    fingerprint: str | None = None
    # the vendor's profile of this layout the table was read with (its increments, date order
    # and hyphen meaning apply to the rows too)
    profile: Answers | None = None
