"""Finding the rate table in a sheet (SPEC §3.2): the header row under a notice block, the
columns by meaning, the notice-block facts, the data rows; or the headerless Transmission
Guidelines layout; or a code-changes sheet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from ingestd.rates.model import Kind


@dataclass(frozen=True)
class NoticeFacts:
    """What the notice block above a table (and the footnotes below it) say."""

    currency: str | None = None  # ISO code, e.g. "USD" (from "Currency: USD per minute")
    issue_date: datetime | None = None  # "Date Issued", "Issue date"
    increase_date: datetime | None = None  # "Increase Validity Date"
    decrease_date: datetime | None = None  # "Decrease Validity Date"
    product: str | None = None  # "Product Name: Wholesale Gold+"
    title: str | None = None  # first text line, e.g. "Wholesale Sell Rates Notification"
    lines: tuple[str, ...] = ()  # every text line of the notice block and the footnotes

    def as_dict(self) -> dict:
        def iso(d: datetime | None) -> str | None:
            return None if d is None else d.strftime("%Y-%m-%d %H:%M:%S")

        return {
            "currency": self.currency,
            "issue_date": iso(self.issue_date),
            "increase_date": iso(self.increase_date),
            "decrease_date": iso(self.decrease_date),
            "product": self.product,
            "title": self.title,
        }


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
    skipped: dict[str, int] = field(default_factory=dict)  # blank, repeated_header, section, footnote
    warnings: tuple[str, ...] = ()
