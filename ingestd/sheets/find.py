"""Finding the rate tables of a file's sheets (docs/reading.md#finding-the-table): each sheet is
searched for its table (``sheets.sheet_search``), the header row under a notice block, the
columns by meaning, the notice-block facts, the data rows; or the headerless Transmission
Guidelines layout; or a code-changes sheet.  What became of every sheet is accounted for, and a
notes sheet's text speaks for every table of the file.

Nothing here parses a price or a code: ``FoundTable`` says where things are and
``ingestd.sheets.normalize`` reads them.  The header vocabulary is data in
``ingestd.sheets.vocabulary``.  Only the first ``HEADER_SEARCH_ROWS`` rows are looked at one by
one; the data rows are classified with polars expressions over whole columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from fnmatch import fnmatchcase

from ingestd.errors import SheetError
from ingestd.rates.model import Kind
from ingestd.sheets.answers import Answers
from ingestd.sheets.content import type_columns
from ingestd.sheets.doubt import Doubt
from ingestd.sheets.notice import text_line
from ingestd.sheets.sheet import Sheet
from ingestd.sheets.sheet_search import SheetSearch
from ingestd.sheets.table import FoundTable

MAX_NOTES_ROWS = 500  # lines of a notes sheet read for billing increments


def find_tables(
    sheets: list[Sheet],
    *,
    kind: Kind | str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    columns: Mapping[str, str] | None = None,
    kind_source: str = "command line",
    date_order: str = "auto",
    profiles: Mapping[str, Answers] | None = None,
) -> list[FoundTable]:
    """Every rate table of ``sheets``, at most one per sheet, in sheet order.

    ``kind`` (with ``kind_source`` naming who said it) wins over what the columns suggest, but a
    table whose columns clearly belong to another kind is not returned, and when no table is
    left that is a ``wrong_kind`` SheetError.  ``sheet`` (a case-insensitive glob, matched
    against the whole name and the part after the last ``:`` of a ZIP member), ``header_row``
    (1-based) and ``columns`` (header text → field, or ``"ignore"``) are the vendor overrides.
    ``date_order`` decides day-first vs month-first notice dates (``dates.parse_datetimes``).
    No table anywhere is a ``no_table`` SheetError whose message says what was looked for.
    """
    wanted = Kind(kind) if kind else None
    if header_row is not None and header_row < 1:
        raise SheetError("bad_override", f"header_row must be 1 or more, not {header_row}")
    search = SheetSearch(wanted, kind_source, header_row, columns or {}, date_order, profiles or {})
    chosen = _select(sheets, sheet)
    tables, accounts, notes, doubts = [], [], [], []
    for candidate in sheets:
        if candidate.frame.height == 0 or candidate.frame.width == 0:
            accounts.append(_account(candidate, None, "empty"))
            continue
        if candidate not in chosen:
            accounts.append(_account(candidate, None, f"not the vendor's sheet = {sheet!r}"))
            continue
        kinds_before = len(search.other_kind)
        table = search.sheet(candidate)
        if table is not None:
            tables.append(table)
            accounts.append(_account(candidate, table.layout, ""))
        elif len(search.other_kind) > kinds_before:
            other = search.other_kind[-1][1]
            accounts.append(_account(candidate, None, f"a {other} table, not {wanted}"))
        else:
            lines, why, doubt = _unread_sheet(candidate)
            notes += lines
            accounts.append(_account(candidate, None, why))
            if doubt is not None:
                doubts.append(doubt)
    if not tables:
        if search.other_kind:
            name, other = search.other_kind[0]
            raise SheetError(
                "wrong_kind",
                f"expected a {wanted} table but the columns of sheet {name!r} are those of a "
                f"{other} table",
            )
        raise SheetError("no_table", search.no_table_message([s.name for s in sheets]))
    if search.other_kind:
        skipped = ", ".join(f"{name!r} ({other})" for name, other in search.other_kind)
        first = tables[0]
        tables[0] = _with_warnings(
            first, f"sheets of another kind than {wanted} were not read: {skipped}"
        )
    if notes:  # a notes sheet speaks for every table of the file (increments in prose)
        tables = [
            replace(t, notice=replace(t.notice, lines=(*t.notice.lines, *notes))) for t in tables
        ]
    if len(sheets) > 1 or doubts:
        first = tables[0]
        tables[0] = replace(first, sheets=tuple(accounts), doubts=(*first.doubts, *doubts))
    return tables


def _account(sheet: Sheet, layout: str | None, why: str) -> dict:
    """One line of the report's sheet list: what became of the sheet."""
    read_as = {"code_changes": "code changes", None: None}.get(layout, "rates")
    return {"sheet": sheet.name, "read_as": read_as, "layout": layout, "why": why or None}


def _unread_sheet(sheet: Sheet) -> tuple[list[str], str, Doubt | None]:
    """A sheet without a table: its text lines (a notes sheet is read for billing
    increments), why it is skipped, and a doubt when it looks like rates nonetheless."""
    frame = sheet.frame
    rows = frame.head(MAX_NOTES_ROWS).rows()
    lines = [line for line in (text_line(row) for row in rows) if line]
    contents = type_columns(frame, frame.columns)
    codes = [c for c in contents.values() if c.fits("code")]
    prices = [c for c in contents.values() if c.fits("price")]
    changes = [c for c in contents.values() if c.fits("change")]
    if codes and (prices or changes):
        what = "rates" if prices else "code changes"
        doubt = Doubt(
            sheet.name,
            f"sheet {sheet.name!r}",
            f"it looks like {what} (codes like {codes[0].examples[0]!r}) but no header row or "
            "column of it could be read, so it is not applied: which row is its header and "
            "what do its columns hold?",
            '--map "<header as written>=<field>" for each column',
        )
        return [], f"looks like {what} but could not be read", doubt
    if not codes and all(c.kind in (None, "text") for c in contents.values()):
        return lines, "notes: its text is read for billing increments", None
    return [], "no rate table: no column of codes with prices or code-change words", None


def _select(sheets: list[Sheet], pattern: str | None) -> list[Sheet]:
    if pattern is None:
        return sheets
    wanted = pattern.lower()
    chosen = [
        s
        for s in sheets
        if fnmatchcase(s.name.lower(), wanted)
        or fnmatchcase(s.name.rsplit(":", 1)[-1].lower(), wanted)
    ]
    if not chosen:
        names = ", ".join(repr(s.name) for s in sheets) or "none"
        raise SheetError(
            "bad_override",
            f"vendor sheet = {pattern!r} matches no sheet; the sheets are: {names}",
        )
    return chosen


def _with_warnings(table: FoundTable, *more: str) -> FoundTable:
    return replace(table, warnings=(*table.warnings, *more))
