"""Finding the rate table in a sheet (docs/reading.md#finding-the-table): the header row under a
notice block, the columns by meaning, the notice-block facts, the data rows; or the headerless
Transmission Guidelines layout; or a code-changes sheet.

Nothing here parses a price or a code: ``FoundTable`` says where things are and
``ingestd.sheets.normalize`` reads them.  The header vocabulary is data in
``ingestd.sheets.headers``.  Only the first ``HEADER_SEARCH_ROWS`` rows are looked at one by
one; the data rows are classified with polars expressions over whole columns.

How the matches are settled (each change is said in ``FoundTable.warnings``):
- a sheet column means at most one field; two columns for one field: the first wins (a vendor
  ``columns`` entry beats the vocabulary), except ``price_jurisdiction`` which takes them all;
- ``New Rate`` beats ``Rate``/``Current Rate`` (the other becomes ``price_current``); a lone
  ``Current Rate`` is the ``price``;
- a lone ``Country Code`` or ``Area Code`` (no other code column) holds complete codes: ``code``;
- by kind: a DID's ``Status`` is ``did_status``; a voice/SMS ``Interval`` is a ``pulse``; an
  ``Increment`` column holding ``60/1`` pairs is a ``pulse``; a voice deck's ``Number`` is its
  ``code``, an SMS deck's ``Code`` its ``mccmnc``, a DID list's ``Code`` its ``number``.
``data`` keeps every column of the sheet (the normalizer shows a rejected row's raw cells).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from fnmatch import fnmatchcase

import polars as pl

from ingestd.errors import SheetError
from ingestd.rates.model import Kind, iso
from ingestd.sheets import headers as vocab
from ingestd.sheets.answers import Answers, header_fingerprint
from ingestd.sheets.cells import parse_datetimes
from ingestd.sheets.content import CONTENT_SAMPLE, sample_rows, type_columns
from ingestd.sheets.doubt import Doubt
from ingestd.sheets.evidence import IGNORE, ColumnReading, Settling, holds
from ingestd.sheets.sheet import HEADER_SEARCH_ROWS, Sheet, column_letter, column_named


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


SKIP_REASONS = ("blank", "repeated_header", "section", "footnote")
MAX_FOOTNOTE_LINES = 100
MAX_NOTES_ROWS = 500  # lines of a notes sheet read for billing increments

# Telco Rate Transmission Guidelines, headerless: fields by position (None: off-peak, ignored)
GUIDELINES_COLUMNS = (
    "code", "destination", "price", "interval1", "price_n", "interval_n",
    None, None, None, None, "effective_from", "effective_to",
)  # fmt: skip
# A cell of a key column that could be a code: digits with list, range and Excel marks
_CODE_LIKE = r"^\s*\+?[0-9][0-9\s+,;|/.()eE\-–]*$"
_NUMBER_CELL = r"^\s*[-+]?[0-9][0-9\s.,]*\s*$"
_PULSE_LIKE = r"^\s*[0-9]{1,5}\s*[/+:\-]\s*[0-9]{1,5}\s*$"


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
    ``date_order`` decides day-first vs month-first notice dates (``cells.parse_datetimes``).
    No table anywhere is a ``no_table`` SheetError whose message says what was looked for.
    """
    wanted = Kind(kind) if kind else None
    if header_row is not None and header_row < 1:
        raise SheetError("bad_override", f"header_row must be 1 or more, not {header_row}")
    search = _Search(wanted, kind_source, header_row, columns or {}, date_order, profiles or {})
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
    lines = [line for line in (_line(row) for row in rows) if line]
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


# --- overrides and sheets --------------------------------------------------------------------


def _overrides(columns: Mapping[str, str]) -> dict[str, str]:
    """Vendor ``columns``: normalised header → field, or ``ignore``."""
    allowed = (*vocab.FIELDS, IGNORE)
    out: dict[str, str | None] = {}
    for header, name in columns.items():
        if name not in allowed:
            raise SheetError(
                "bad_override",
                f"vendor columns: {header!r} = {name!r} is not a field; allowed: "
                + ", ".join(allowed),
            )
        out[vocab.header_key(header)] = name
    return out


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


# --- the search ------------------------------------------------------------------------------


@dataclass
class _Best:
    """The most header-like row seen, for the no_table message."""

    score: int = -1
    sheet: str = ""
    row: int = 0  # 1-based
    cells: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


class _Search:
    """One find_tables call: the settings and what was seen on the way."""

    def __init__(
        self,
        wanted: Kind | None,
        kind_source: str,
        header_row: int | None,
        columns: Mapping[str, str],
        date_order: str,
        profiles: Mapping[str, Answers],
    ):
        self.profiles = profiles
        self.profile_keys: set[str] = set()  # overrides that come from a profile (report)
        self.wanted = wanted
        self.kind_source = kind_source
        self.header_row = header_row
        self.overrides = _overrides(columns)
        # normalised header → as the vendor wrote it (to say which ones the header lacks)
        self.override_text = {vocab.header_key(text): text for text in columns}
        self.date_order = date_order
        self.best = _Best()
        self.other_kind: list[tuple[str, Kind]] = []

    # -- one sheet

    def sheet(self, sheet: Sheet) -> FoundTable | None:
        """The sheet's table, read with the vendor's profile of its layout when one is kept
        (docs/reading.md#decks-nobody-taught-us: a header row whose fingerprint a profile has, else
        the profile of a sheet without header row of its width)."""
        if not self.profiles or sheet.frame.height == 0:
            return self._sheet(sheet)
        top = sheet.frame.head(HEADER_SEARCH_ROWS).rows()
        fingerprints = [header_fingerprint(row) for row in top]
        fingerprints.append(header_fingerprint([None] * sheet.frame.width, headerless=True))
        kept = next((f for f in fingerprints if f in self.profiles), None)
        if kept is None:
            return self._sheet(sheet)
        answers = self.profiles[kept]
        overrides, texts = self.overrides, self.override_text
        self.profile_keys = set(_overrides(answers.columns))
        self.overrides = {**overrides, **_overrides(answers.columns)}
        self.override_text = {**texts, **{vocab.header_key(t): t for t in answers.columns}}
        try:
            table = self._sheet(sheet)
        finally:
            self.overrides, self.override_text = overrides, texts
            self.profile_keys = set()
        if table is None or table.fingerprint != kept:
            return table
        return replace(table, profile=answers)

    def _sheet(self, sheet: Sheet) -> FoundTable | None:
        """The sheet's table: under the header row the vocabulary (or the vendor) reads best,
        else under a header row of words it does not know, else with no header row at all;
        the columns settled by header and content together (``evidence``)."""
        frame = sheet.frame
        if frame.height == 0 or frame.width == 0:
            return None
        if self.header_row is None:
            top = frame.head(HEADER_SEARCH_ROWS).rows()
            rows = range(len(top))
        else:  # the vendor's row, however far down
            top = frame.head(max(HEADER_SEARCH_ROWS, self.header_row)).rows()
            rows = [self.header_row - 1] if self.header_row <= len(top) else []
        header = None
        for index in rows:
            mapping, sources = self._map_row(top[index])
            self._remember(sheet.name, index, top[index], mapping)
            fields = set(mapping.values())
            if (len(fields) < 2 and not _shape(fields)) or _numbers_in(top[index]) > 1:
                continue  # one known word is a notice line; numbers make a data row
            score = (_shape(fields) is not None, len(fields))
            if header is None or score > header[0]:
                header = (score, index, mapping, sources)
        if header is not None:
            _, index, mapping, sources = header
            table = self._table(sheet, top, index, index + 1, mapping, sources)
            if table is not None or self.header_row is not None:
                return table
        if self.header_row is None:
            return self._table_by_content(sheet, top)
        return None

    def _map_row(self, row: tuple) -> tuple[dict[str, str], dict[str, str]]:
        """Sheet column → raw field (vocabulary or vendor override) of one row's cells, and
        where each came from."""
        mapping, sources = {}, {}
        for position, cell in enumerate(row):
            if cell is None or not cell.strip():
                continue
            key = vocab.header_key(cell)
            if key in self.overrides:
                name = self.overrides[key]
                source = "profile" if key in self.profile_keys else "vendor"
            else:
                name, source = vocab.match_header(cell), "header"
            if name is not None:
                mapping[f"c{position}"] = name
                sources[f"c{position}"] = source
        return mapping, sources

    def _remember(self, sheet: str, index: int, row: tuple, mapping: dict[str, str]) -> None:
        score = len(set(mapping.values()))
        if score > self.best.score:
            cells = tuple(c.strip() for c in row if c is not None and c.strip())
            fields = tuple(dict.fromkeys(_public(name) for name in mapping.values()))
            self.best = _Best(score, sheet, index + 1, cells, fields)

    # -- a table with a header row (known words or not) or none

    def _table(
        self,
        sheet: Sheet,
        top: list[tuple],
        header: int | None,
        start: int,
        raw: dict[str, str],
        sources: dict[str, str],
    ) -> FoundTable | None:
        """The table whose header is row ``header`` (0-based; None: no header row) and whose
        data start at row ``start``; ``raw`` is what the header's words (or the vendor) say."""
        frame = sheet.frame
        row = top[header] if header is not None else ()
        written = {
            f"c{i}": cell.strip() for i, cell in enumerate(row) if cell is not None and cell.strip()
        }
        raw, sources = dict(raw), dict(sources)
        for column, text in written.items():  # a known word inside a longer header
            guessed = vocab.read_header(text) if column not in raw else None
            if guessed is not None and guessed.strength == "guess":
                if guessed.field not in raw.values():
                    raw[column], sources[column] = guessed.field, "header guess"
        body = frame.slice(start).with_row_index("source_row", offset=start + 1)
        body = body.with_columns(pl.col("source_row").cast(pl.Int64))
        settling = Settling.of(sheet.name, written, type_columns(body, frame.columns), raw, sources)
        settling.check_headers()
        settling.delivered_over_submitted()
        settling.fill_by_content(understood=len(raw) - len(settling.ignored))
        raw = {c: name for c, name in settling.raw.items() if name != IGNORE}
        _changes_by_content(raw, settling)
        shape = _shape(set(raw.values()))
        if shape is None:
            return None
        overridden = {
            c for c, source in settling.sources.items() if source in ("vendor", "profile")
        }
        present = {vocab.header_key(text) for text in written.values()}
        absent = [
            text
            for key, text in self.override_text.items()
            if key not in present and (header is not None or not re.fullmatch(r"[a-z]{1,2}", key))
        ]
        columns, dropped, warnings = _resolve(raw, written, overridden)
        if absent:
            where = f"header row {header + 1}" if header is not None else "the sheet"
            warnings.append(
                f"vendor columns not in {where}: " + ", ".join(repr(text) for text in absent)
            )
        kind, kind_source = self._kind(sheet.name, columns, shape)
        if kind is None:
            return None
        headers = {c: written.get(c, f"column {column_letter(c)}") for c in frame.columns}
        warnings += _rename_for_kind(columns, kind, headers)
        value_fields = ("code_change",) if shape == "code_changes" else vocab.PRICE_FIELDS
        data, skipped, footnotes = _classify(
            body,
            frame.columns,
            key=_key_columns(columns),
            values=[c for f in value_fields for c in columns.get(f, ())],
            headers={c: written[c] for cols in columns.values() for c in cols if c in written},
        )
        if data.height == 0:
            return None
        warnings += _pulse_by_content(columns, data, headers)
        warnings += _duplicate_warnings(dropped, columns, data, headers)
        duplicates = {d for d, _, _ in dropped}
        readings = settling.account(columns, duplicates)
        unread = [
            r for r in readings if r.field is None and r.header and r.column not in duplicates
        ]
        if unread:
            warnings.append(
                "columns not read: "
                + ", ".join(f"{column_letter(r.column)} {r.header!r}" for r in unread)
            )
        warnings += settling.warnings
        for reading in readings:
            if reading.source == "content":
                warnings.append(
                    f"column {column_letter(reading.column)}"
                    + (f" {reading.header!r}" if reading.header else "")
                    + f" is read as {reading.field} by its content: {reading.note}"
                )
        effective = columns.get("effective_from", ())
        notice, notice_warnings = _notice(
            top[: header if header is not None else start],
            footnotes,
            dates_alongside=data.get_column(effective[0]) if effective else None,
            date_order=self.date_order,
        )
        prices = [c for f in ("price", "price_jurisdiction") for c in columns.get(f, ())]
        header_currency = next(
            (found for c in prices if (found := vocab.currency_in(written.get(c)))), None
        )
        if header is None:
            layout = "headerless"
        else:
            layout = "header" if shape == "table" else "code_changes"
        return FoundTable(
            sheet=sheet.name,
            date1904=sheet.date1904,
            layout=layout,
            kind=kind,
            kind_source=kind_source,
            header_row=header + 1 if header is not None else None,
            columns={f: tuple(cols) for f, cols in columns.items()},
            headers=written,
            data=data,
            notice=notice,
            skipped=skipped,
            warnings=tuple(warnings + notice_warnings),
            header_currency=header_currency,
            readings=tuple(readings),
            doubts=tuple(settling.doubts),
            fingerprint=header_fingerprint(row, headerless=header is None)
            if header is not None
            else header_fingerprint([None] * frame.width, headerless=True),
        )

    def _kind(
        self, sheet: str, columns: dict[str, list[str]], shape: str
    ) -> tuple[Kind | None, str]:
        fields = set(columns)
        if shape == "code_changes":
            return (self.wanted or Kind.VOICE), (self.kind_source if self.wanted else "layout")
        inferred, clear = _kind_of(fields)
        if self.wanted is None:
            return inferred, "columns"
        if inferred != self.wanted and clear:
            self.other_kind.append((sheet, inferred))
            return None, ""
        return self.wanted, self.kind_source

    # -- no header row the vocabulary reads

    def _table_by_content(self, sheet: Sheet, top: list[tuple]) -> FoundTable | None:
        """A sheet whose header row is in words ingestd does not know, or that has none: where
        the codes start by content, the row above them (if it is words) is the header; with
        no such row, the positional Transmission Guidelines layout when the content agrees
        with it, else the columns by content."""
        frame = sheet.frame
        # the content is in rows of several cells with a number among them: not in titles,
        # footnotes or header rows
        cells = frame.columns
        rows = sample_rows(frame, 2 * CONTENT_SAMPLE).filter(
            (pl.sum_horizontal(pl.col(c).is_not_null() for c in cells) > 1)
            & pl.any_horizontal(
                pl.col(c).str.contains(r"^\s*\+?[0-9]").fill_null(False) for c in cells
            )
        )
        contents = type_columns(rows, cells)
        codes = [c for c, content in contents.items() if holds(content, "code")]
        if not codes:
            return None
        key = max(codes, key=lambda c: contents[c].shares.get("code", 0))
        position = int(key[1:])
        start = next(
            (
                i
                for i, row in enumerate(top)
                if row[position] is not None and re.match(_CODE_LIKE, row[position])
            ),
            None,
        )
        if start is None:
            return None
        above = next((i for i in range(start - 1, -1, -1) if _filled(top[i])), None)
        if above is not None and len(_filled(top[above])) >= 2 and not _numbers_in(top[above]):
            # a header row of words the vocabulary does not (all) know
            mapping, sources = self._map_row(top[above])
            return self._table(sheet, top, above, start, mapping, sources)
        # no header row: a vendor's (or an answer's) column letters say what columns hold
        lettered = {
            column_named(key): name
            for key, name in self.overrides.items()
            if re.fullmatch(r"[a-z]{1,2}", key)
        }
        if above is None and not lettered:  # row 1 is data: positions, if the content agrees
            guidelines = _guidelines_columns(frame.width, contents)
            if guidelines is not None:
                return self._guidelines_table(sheet, guidelines)
        return self._table(sheet, top, None, start, lettered, dict.fromkeys(lettered, "vendor"))

    def _guidelines_table(self, sheet: Sheet, columns: dict[str, list[str]]) -> FoundTable:
        frame = sheet.frame
        body = frame.with_row_index("source_row", offset=1)
        body = body.with_columns(pl.col("source_row").cast(pl.Int64))
        data, skipped, footnotes = _classify(
            body, frame.columns, key=["c0"], values=["c2"], headers={}
        )
        kind = self.wanted or Kind.VOICE
        notice, warnings = _notice([], footnotes, dates_alongside=None, date_order=self.date_order)
        return FoundTable(
            sheet=sheet.name,
            date1904=sheet.date1904,
            layout="guidelines",
            kind=kind,
            kind_source=self.kind_source if self.wanted else "layout",
            header_row=None,
            columns={f: tuple(cols) for f, cols in columns.items()},
            headers={},
            data=data,
            notice=notice,
            skipped=skipped,
            warnings=tuple(warnings),
            fingerprint=header_fingerprint([None] * frame.width, headerless=True),
        )

    # -- when nothing was found

    def no_table_message(self, names: list[str]) -> str:
        """Two lines: the best candidate and what it lacks; then the answer that reads it
        (the field names are in README "How ingestd reads a deck")."""
        where = ", ".join(repr(n) for n in names) or "no sheet at all"
        if self.best.score > 0:
            shown = " | ".join(self.best.cells[:12])
            fields = set(self.best.fields)
            missing = []
            if not _has_code(fields):
                missing.append("no code column")
            if not (fields & set(vocab.PRICE_FIELDS)) and "code_change" not in fields:
                missing.append("no price column")
            lacks = " and ".join(missing) or "no data rows below it"
            first = (
                f"no rate table found in {where}: the best candidate is sheet "
                f"{self.best.sheet!r} row {self.best.row} ({shown}), understood as "
                f"{', '.join(self.best.fields)}, with {lacks}"
            )
        else:
            first = (
                f"no rate table found in {where}: no row in the first {HEADER_SEARCH_ROWS} rows "
                "names a code and a price column, and no column holds codes"
            )
        if self.header_row is not None:
            first += f" (row {self.header_row} only, as the vendor's header_row says)"
        fix = (
            'to read it: answer with --map "<header as written>=<field>" (or the vendor\'s '
            "config entry: columns, header_row, sheet); the fields are in README "
            '"How ingestd reads a deck"'
        )
        return first + "\n" + fix


def _public(name: str) -> str:
    return "price" if name == "new_price" else name


def _with_warnings(table: FoundTable, *more: str) -> FoundTable:
    return replace(table, warnings=(*table.warnings, *more))


# --- what a header row means -----------------------------------------------------------------


def _has_code(fields: set[str]) -> bool:
    return any(f in fields for f in vocab.CODE_FIELDS) or any(
        a in fields and b in fields for a, b in vocab.CODE_PAIRS
    )


def _numbers_in(row: tuple) -> int:
    """How many cells of a row are plain numbers (a header row has none, a data row some)."""
    return sum(1 for cell in row if cell is not None and re.match(_NUMBER_CELL, cell))


def _filled(row: tuple) -> list[str]:
    return [cell for cell in row if cell is not None and cell.strip()]


# what each position of the headerless Transmission Guidelines layout holds (content types)
_GUIDELINES_CONTENT = {
    "code": ("code",), "destination": ("text",), "price": ("price", "seconds"),
    "interval1": ("seconds",), "price_n": ("price", "seconds"), "interval_n": ("seconds",),
    "effective_from": ("date",), "effective_to": ("date",),
}  # fmt: skip


def _guidelines_columns(width: int, contents: Mapping) -> dict[str, list[str]] | None:
    """The positional layout's columns when every filled column holds what its position
    says (an off-peak position holds prices or nothing); None when the content disagrees."""
    if not 3 <= width <= len(GUIDELINES_COLUMNS):
        return None
    columns = {}
    for i, name in enumerate(GUIDELINES_COLUMNS[:width]):
        content = contents.get(f"c{i}")
        if content is None or not content.filled:
            if name in ("code", "destination", "price"):
                return None
            continue
        wanted = _GUIDELINES_CONTENT.get(name, ("price", "seconds"))
        if not any(holds(content, t) for t in wanted):
            return None
        if name is not None:
            columns[name] = [f"c{i}"]
    return columns


def _changes_by_content(raw: dict[str, str], settling: Settling) -> None:
    """A sheet of codes without prices whose status (or unread) column holds code-change
    words (``Code Removal``, ``Deleted``, ``Baja``…) is a code-changes sheet
    (docs/reading.md#decks-nobody-taught-us)."""
    fields = set(raw.values())
    if not _has_code(fields) or fields & set(vocab.PRICE_FIELDS) or "code_change" in fields:
        return
    for column, content in settling.contents.items():
        if content.kind != "change" and not content.fits("change"):
            continue
        if raw.get(column) == "status" or column not in raw:
            raw[column] = "code_change"
            settling.sources.setdefault(column, "content")
            settling.notes[column] = "it holds code-change words and the sheet has no prices"
            return


def _shape(fields: set[str]) -> str | None:
    """``table`` (a code and a price), ``code_changes`` (a code and a change marker) or None."""
    if not _has_code(fields):
        return None
    if fields & set(vocab.PRICE_FIELDS):
        return "table"
    if "code_change" in fields:
        return "code_changes"
    return None


def _kind_of(fields: set[str]) -> tuple[Kind, bool]:
    """The kind the columns suggest, and whether they prove it."""
    if fields & set(vocab.SMS_FIELDS):
        return Kind.SMS, True
    if "number" in fields and fields & set(vocab.DID_FIELDS):
        return Kind.DID, True
    return Kind.VOICE, bool(fields & set(vocab.VOICE_FIELDS))


def _resolve(
    raw: dict[str, str], written: dict[str, str], overridden: set[str]
) -> tuple[dict[str, list[str]], list[tuple[str, str, str]], list[str]]:
    """Field → columns from column → raw field: one column per field (first wins, a vendor
    override beats the vocabulary), new rate over rate, a lone area code as the code.

    Returns the columns, the dropped duplicates ``(column, kept column, field)`` and warnings.
    """
    columns: dict[str, list[str]] = {}
    dropped: list[tuple[str, str, str]] = []
    warnings: list[str] = []
    for column, name in raw.items():
        held = columns.get(name)
        if not held or name in vocab.MULTI_COLUMN_FIELDS:
            columns.setdefault(name, []).append(column)
        elif column in overridden and held[0] not in overridden:
            dropped.append((held[0], column, name))
            columns[name] = [column]
        else:
            dropped.append((column, held[0], name))
    if "new_price" in columns:
        (new,) = columns.pop("new_price")
        if "price" in columns:
            (old,) = columns.pop("price")
            if "price_current" not in columns:
                columns["price_current"] = [old]
                warnings.append(
                    f"column {column_letter(new)} {written[new]!r} is the price (new rate wins); "
                    f"column {column_letter(old)} {written[old]!r} is read as the current rate"
                )
            else:
                dropped.append((old, new, "price"))
        columns["price"] = [new]
    if "price" not in columns and "price_current" in columns:
        columns["price"] = columns.pop("price_current")
        (column,) = columns["price"]
        warnings.append(
            f"column {column_letter(column)} {written[column]!r} is the only rate: "
            "read as the price"
        )
    keys = [f for f in ("code", "npanxx", "mccmnc", "number", "npa", "mcc") if f in columns]
    lone = [f for f in ("country_code", "area_code") if f in columns]
    if not keys and len(lone) == 1:
        (column,) = columns.pop(lone[0])
        columns["code"] = [column]
        warnings.append(
            f"column {column_letter(column)} {written[column]!r} is the only code column: "
            "read as complete codes"
        )
    return _in_sheet_order(columns), dropped, warnings


def _rename_for_kind(
    columns: dict[str, list[str]], kind: Kind, written: dict[str, str]
) -> list[str]:
    """Headers whose meaning depends on the kind ("Status" of a DID, "Interval" of a voice
    deck), and a key column that names another kind's key."""
    renames = {
        # a DID list's plain "Price" stays ``price``: the normalizer reads it as the rental
        Kind.DID: (("status", "did_status"), ("code", "number")),
        Kind.VOICE: (
            ("interval", "pulse"),
            ("number", "code"),
            ("inbound_voice_price", "price"),
            ("nrc", vocab.OTHER),  # a voice deck's setup fee is a connection charge: not read
        ),
        Kind.SMS: (
            ("interval", "pulse"),
            ("code", "mccmnc"),
            ("number", "mccmnc"),
            ("inbound_sms_price", "price"),
        ),
    }[kind]
    warnings = []
    for old, new in renames:
        if old not in columns or new in columns:
            continue
        if new in ("code", "mccmnc", "number") and _has_code(set(columns) - {old}):
            continue
        columns[new] = columns.pop(old)
        if new in ("code", "mccmnc", "number"):
            (column,) = columns[new]
            warnings.append(f"column {column_letter(column)} {written[column]!r} is read as {new}")
    _reorder(columns)
    return warnings


def _in_sheet_order(columns: dict[str, list[str]]) -> dict[str, list[str]]:
    ordered = sorted(columns.items(), key=lambda item: int(item[1][0][1:]))
    return dict(ordered)


def _reorder(columns: dict[str, list[str]]) -> None:
    ordered = _in_sheet_order(columns)
    columns.clear()
    columns.update(ordered)


def _key_columns(columns: dict[str, list[str]]) -> list[str]:
    keys = ("code", "npanxx", "mccmnc", "number", "country_code", "area_code", "npa", "mcc")
    return [c for f in keys for c in columns.get(f, ())]


# --- data rows -------------------------------------------------------------------------------


def _classify(
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
    code_like = pl.any_horizontal(pl.col(c).str.contains(_CODE_LIKE).fill_null(False) for c in key)
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
    footnotes = [_line(row) for row in footnote_rows.select(cells).rows()]
    return data, skipped, [line for line in footnotes if line]


def _is_text(cell: pl.Expr, text: str) -> pl.Expr:
    """The cell says ``text``, ignoring case and surrounding spaces: one regex pass per cell,
    no lowered copy of a million-row column."""
    if not text or text != text.strip():
        return pl.lit(False)
    return cell.str.contains(rf"(?i)^\s*{re.escape(text)}\s*$").fill_null(False)


def _line(row: tuple) -> str:
    """One row as a line of text; cells joined by ", " (an unquoted CSV note split at its
    commas reads as written), after a label's ":" by a space."""
    line = ""
    for cell in (c.strip() for c in row if c is not None and c.strip()):
        line += ("" if not line else " " if line.endswith(":") else ", ") + cell
    return line


def _pulse_by_content(
    columns: dict[str, list[str]], data: pl.DataFrame, written: dict[str, str]
) -> list[str]:
    """An "Increment" column holding "60/1" pairs is a ``pulse`` column
    (docs/reading.md#finding-the-table)."""
    warnings = []
    for name in ("interval_n", "interval1"):
        if name not in columns or "pulse" in columns:
            continue
        (column,) = columns[name]
        sample = data.get_column(column).drop_nulls().head(CONTENT_SAMPLE)
        if sample.len() and sample.str.contains(_PULSE_LIKE).mean() > 0.5:
            columns["pulse"] = columns.pop(name)
            warnings.append(
                f"column {column_letter(column)} {written[column]!r} holds pairs like "
                f"{sample[0]!r}: read as the pulse (interval 1 / interval N)"
            )
    _reorder(columns)
    return warnings


def _duplicate_warnings(
    dropped: list[tuple[str, str, str]],
    columns: dict[str, list[str]],
    data: pl.DataFrame,
    written: dict[str, str],
) -> list[str]:
    warnings = []
    for column, kept, name in dropped:
        differ = data.select(pl.col(column).ne_missing(pl.col(kept)).sum()).item()
        agree = "their cells agree in every row" if differ == 0 else f"they differ in {differ} rows"
        read_as = next((f for f, cols in columns.items() if kept in cols), name)
        warnings.append(
            f"column {column_letter(column)} {written[column]!r} also means {name}: column "
            f"{column_letter(kept)} {written[kept]!r} is read as {read_as} and column "
            f"{column_letter(column)} is not read ({agree})"
        )
    return warnings


# --- notice block ----------------------------------------------------------------------------

_DATE_FACTS = ("issue_date", "increase_date", "decrease_date")


def _notice(
    above: list[tuple],
    footnotes: list[str],
    *,
    dates_alongside: pl.Series | None,
    date_order: str,
) -> tuple[NoticeFacts, list[str]]:
    """Facts from "Label: value" pairs above the table (label and value in neighbouring cells,
    or both in one cell), the title (first text line) and every line."""
    facts: dict[str, str] = {}
    lines: list[str] = []
    title = None
    for row in above:
        cells = [c.strip() for c in row if c is not None and c.strip()]
        if not cells:
            continue
        lines.append(_line(row))
        found = _labelled(cells)
        for fact, value in found.items():
            facts.setdefault(fact, value)
        if title is None and not found:
            title = lines[-1]
    warnings = []
    dates = _notice_dates(
        {f: facts[f] for f in _DATE_FACTS if f in facts}, dates_alongside, date_order, warnings
    )
    currency = None
    if "currency" in facts:
        currency = vocab.currency_in(facts["currency"])
        if currency is None:
            warnings.append(f"notice currency {facts['currency']!r} is not a known currency")
    notice = NoticeFacts(
        currency=currency,
        product=facts.get("product"),
        title=title,
        lines=tuple(lines + footnotes),
        **dates,
    )
    return notice, warnings


def _labelled(cells: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, cell in enumerate(cells):
        label, rest = vocab.label_and_value(cell) or (cell, "")
        fact = vocab.notice_label(label)
        if fact is None:
            continue
        if rest:
            found.setdefault(fact, rest)
        elif i + 1 < len(cells) and vocab.notice_label(cells[i + 1].rstrip(":：")) is None:
            found.setdefault(fact, cells[i + 1])
    return found


def _notice_dates(
    texts: dict[str, str],
    alongside: pl.Series | None,
    date_order: str,
    warnings: list[str],
) -> dict[str, datetime | None]:
    """Notice dates read as ``cells.parse_datetimes`` reads a column: together with the
    table's own dates, so day-first vs month-first is decided once for the deck.  The values
    are wall times as written (no time zone applied)."""
    if not texts:
        return {}
    cells = pl.Series("cell", list(texts.values()), dtype=pl.String)
    if alongside is not None:
        cells = pl.concat([cells, alongside.unique().rename("cell")])
    values, errors, _ = parse_datetimes(cells, date_order=date_order)
    out = {}
    for i, (fact, text) in enumerate(texts.items()):
        out[fact] = values[i]
        if values[i] is None and errors[i] is not None:
            warnings.append(f"notice {fact.replace('_', ' ')} {text!r} is not read: {errors[i]}")
    return out
