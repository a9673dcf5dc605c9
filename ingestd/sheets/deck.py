"""Bytes of one file → the decks it holds (docs/reading.md#reading-decks): read the sheets, find the
tables, normalize them, and put together what goes into the same rate table.

This is the one entry point the importer (and later the mail pipeline) calls; it is pure: no
database, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from ingestd.errors import RowError, SheetError
from ingestd.rates.model import Kind
from ingestd.sheetcache import SheetCache
from ingestd.sheets.answers import Answers
from ingestd.sheets.doubt import Proven
from ingestd.sheets.find import find_tables
from ingestd.sheets.normalize import normalize
from ingestd.sheets.opentwps import DeckRead, read_opentwps
from ingestd.sheets.read import read_sheets
from ingestd.sheets.table import FoundTable

# what a code-changes sheet's rows do, as the report counts them (``DeckRead.code_changes``)
CODE_CHANGE_ACTIONS = ("removed", "blocked", "added", "added_with_rate", "unchanged")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a vendor's files: the vendor's sheet defaults and overrides (config) and the
    limits; every field has the no-configuration default."""

    kind: str | None = None
    kind_source: str = "command line"  # who chose ``kind``: "command line" or "vendor"
    timezone: str = "UTC"
    currency: str | None = None
    date_order: str = "auto"
    hyphen: str = "auto"
    # what the vendor's earlier decks proved of what a deck's own values leave open: the
    # meaning of its codes' hyphens, the order of its dates (gathered before reading: ingest)
    proven_hyphen: Proven | None = None
    proven_date_order: Proven | None = None
    sheet: str | None = None
    header_row: int | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    default_intervals: tuple[int, int] | None = None
    increment_rules: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    duplicate_policy: str = "refuse"
    max_rows: int = 2_000_000
    max_columns: int = 200
    max_cell_size: int = 32_767
    max_members: int = 50
    max_unpacked: int = 200 * 2**20
    max_nesting: int = 3
    sheet_cache: SheetCache | None = None  # workbook sheets read before (``reread``)
    # the vendor's profiles (docs/reading.md#decks-nobody-taught-us): header fingerprint → the
    # answers kept for that layout
    profiles: Mapping[str, Answers] = field(default_factory=dict)
    answers: Answers = field(default_factory=Answers)  # given now, for every sheet of the file

    @classmethod
    def for_vendor(
        cls,
        vendor,
        limits,
        *,
        kind: str | None = None,
        kind_source: str = "command line",
        sheet_cache: SheetCache | None = None,
    ) -> ReadOptions:
        return cls(
            kind=kind,
            kind_source=kind_source,
            timezone=vendor.timezone,
            currency=vendor.currency,
            date_order=vendor.date_order,
            hyphen=vendor.hyphen,
            sheet=vendor.sheet,
            header_row=vendor.header_row,
            columns=dict(vendor.columns),
            default_intervals=vendor.default_intervals,
            increment_rules=dict(vendor.increment_rules),
            duplicate_policy=vendor.duplicate_policy,
            max_rows=limits.max_rows,
            max_columns=limits.max_columns,
            max_cell_size=limits.max_cell_size,
            max_members=limits.max_zip_members,
            max_unpacked=limits.max_unpacked_size,
            max_nesting=limits.max_nesting,
            sheet_cache=sheet_cache,
        )


def read_decks(
    data: bytes,
    *,
    filename: str | None,
    options: ReadOptions,
    found_tables: Callable[[list[FoundTable]], None] | None = None,
) -> list[DeckRead]:
    """Every deck in a file, one per (kind, table suffix): sheets that feed the same rate table
    (a price sheet and its code-changes sheet) are combined into one deck.  ``found_tables``
    is told the tables found before their cells are read (the caller may get ready for them
    meanwhile)."""
    if data.lstrip()[:1] == b"{":  # our own JSON export
        return [
            read_opentwps(
                data,
                filename=filename,
                kind=options.kind,
                timezone=options.timezone,
                currency=options.currency,
                date_order=options.date_order,
                max_rows=options.max_rows,
                max_columns=options.max_columns,
            )
        ]
    sheets = read_sheets(
        data,
        filename=filename,
        max_rows=options.max_rows,
        max_columns=options.max_columns,
        max_cell_size=options.max_cell_size,
        max_members=options.max_members,
        max_unpacked=options.max_unpacked,
        max_nesting=options.max_nesting,
        cache=options.sheet_cache,
        keep_empty=True,
    )
    found = find_tables(
        sheets,
        kind=options.kind,
        sheet=options.sheet,
        header_row=options.header_row,
        columns=options.columns or None,
        kind_source=options.kind_source,
        date_order=options.date_order,
        profiles=options.profiles,
    )
    del sheets  # the tables hold what they need: the rest of the cells can go (memory)
    if found_tables is not None:
        found_tables(list(found))
    decks: list[DeckRead] = []
    while found:
        table = found.pop(0)
        header = tuple(table.headers.values())  # in sheet order, as the finder wrote them
        # a profile's increments, date order and hyphen meaning read the rows of its layout
        reading = table.profile.applied_to(options) if table.profile else options
        read = normalize(
            table,
            timezone=reading.timezone,
            currency=reading.currency,
            date_order=reading.date_order,
            hyphen=reading.hyphen,
            proven_hyphen=reading.proven_hyphen,
            proven_date_order=reading.proven_date_order,
            default_intervals=reading.default_intervals,
            increment_rules=reading.increment_rules,
            duplicate_policy=reading.duplicate_policy,
        )
        for deck in read:
            deck.fingerprint = table.fingerprint
            deck.header = header
        decks.extend(read)
    if not decks:
        raise SheetError("no_table", "no rate table was found in the file")
    return combine(decks)


def combine(decks: list[DeckRead]) -> list[DeckRead]:
    """Decks bound for the same table become one: the price sheet leads (its detection report
    is the deck's), the others add their rows, errors and warnings.  The codes a code-changes
    sheet adds must have a rate in a price sheet of the same table
    (docs/reading.md#decks-nobody-taught-us): a row adding one that has none is rejected
    (``added_without_rate``)."""
    groups: dict[tuple[Kind, str | None], list[DeckRead]] = {}
    for deck in decks:
        groups.setdefault((deck.kind, deck.table_suffix), []).append(deck)
    out = []
    for group in groups.values():
        group.sort(key=lambda d: d.layout == "code_changes")  # price sheets first
        lead, rest = group[0], group[1:]
        if not rest and lead.additions is None:
            out.append(lead)
            continue
        rejected, code_changes = _added_codes(group)
        rows = pl.concat([lead.rows, *(d.rows for d in rest)], how="diagonal_relaxed")
        out.append(
            DeckRead(
                **{
                    **lead.__dict__,
                    "rows": rows,
                    "errors": [e for d in group for e in d.errors] + rejected,
                    "warnings": [w for d in group for w in d.warnings]
                    + [f"sheet {d.sheet!r} ({d.layout}) adds {d.rows.height} rows" for d in rest],
                    "total_rows": sum(d.total_rows for d in group),
                    "code_changes": code_changes,
                    "additions": None,
                }
            )
        )
    return out


def _added_codes(group: list[DeckRead]) -> tuple[list[RowError], dict[str, int]]:
    """The rows the group's code-changes sheets add, looked up in the rates of its price
    sheets: the rejected ones and the rows per action of all its code-changes sheets
    (``added_with_rate``: an added row whose every code has a rate)."""
    changes = [d for d in group if d.layout == "code_changes"]
    priced = [d.rows.get_column("code") for d in group if d.layout != "code_changes"]
    rated = pl.concat(priced) if priced else pl.Series("code", [], dtype=pl.String)
    counts = {action: 0 for action in CODE_CHANGE_ACTIONS if changes}
    rejected = []
    for deck in changes:
        for action, n in deck.code_changes.items():
            counts[action] = counts.get(action, 0) + n
        if deck.additions is None:
            continue
        additions = deck.additions.with_row_index("_added")
        rateless = (
            additions.select("_added", "codes")
            .explode("codes")
            .filter(pl.col("codes").is_not_null() & ~pl.col("codes").is_in(rated.implode()))
            .group_by("_added")
            .agg(pl.col("codes").alias("rateless"))
        )
        additions = additions.join(rateless, on="_added", how="left", maintain_order="left")
        wrong = pl.col("reason").is_not_null() | pl.col("rateless").is_not_null()
        counts["added_with_rate"] += additions.filter(~wrong).height
        for row, reason, message, cells, codes in (
            additions.filter(wrong)
            .select("source_row", "reason", "message", "cells", "rateless")
            .iter_rows()
        ):
            where = f"the code-changes sheet {deck.sheet!r} (row {row}: {' | '.join(cells)})"
            rejected.append(
                RowError(
                    reason=reason or "added_without_rate",
                    message=message
                    or (
                        f"code {codes[0]} is added by {where} but the deck gives it no rate"
                        if len(codes) == 1
                        else f"codes {', '.join(codes)} are added by {where} but the deck "
                        "gives them no rate"
                    ),
                    row=row,
                    sheet=deck.sheet,
                    cells=tuple(cells),
                    code=codes[0] if codes else None,
                )
            )
    return rejected, counts
