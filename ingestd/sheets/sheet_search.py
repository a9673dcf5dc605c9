"""Searching a sheet for its rate table (docs/reading.md#finding-the-table): the header row the
vocabulary (or the vendor, or a profile kept of the layout) reads best among the first
``HEADER_SEARCH_ROWS`` rows; else the row of words above where the codes start, by content;
else no header row at all (the vendor's column letters, the Transmission Guidelines positions,
or the columns by content).  A ``SheetSearch`` lives for one ``find_tables`` call and keeps
what it saw on the way: sheets of another kind, and the best candidate, to say what it lacked
when nothing is found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import polars as pl

from ingestd.errors import SheetError
from ingestd.rates.model import Kind
from ingestd.sheets import vocabulary as vocab
from ingestd.sheets.answers import IGNORE, Answers, header_fingerprint
from ingestd.sheets.content import CONTENT_SAMPLE, sample_rows, type_columns
from ingestd.sheets.currencies import currency_in
from ingestd.sheets.data_rows import CODE_LIKE, classify_rows, filled_cells, numbers_in
from ingestd.sheets.evidence import Settling, holds
from ingestd.sheets.field_columns import (
    changes_by_content,
    duplicate_warnings,
    guidelines_columns,
    has_code,
    key_columns,
    kind_of,
    pulse_by_content,
    rename_for_kind,
    resolve_columns,
    table_shape,
)
from ingestd.sheets.headers import header_key, match_header, read_header
from ingestd.sheets.notice import read_notice
from ingestd.sheets.sheet import HEADER_SEARCH_ROWS, Sheet, column_letter, column_named
from ingestd.sheets.table import FoundTable


@dataclass
class _Best:
    """The most header-like row seen, for the no_table message."""

    score: int = -1
    sheet: str = ""
    row: int = 0  # 1-based
    cells: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


class SheetSearch:
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
        self.override_text = {header_key(text): text for text in columns}
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
        self.override_text = {**texts, **{header_key(t): t for t in answers.columns}}
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
            if (len(fields) < 2 and not table_shape(fields)) or numbers_in(top[index]) > 1:
                continue  # one known word is a notice line; numbers make a data row
            score = (table_shape(fields) is not None, len(fields))
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
            key = header_key(cell)
            if key in self.overrides:
                name = self.overrides[key]
                source = "profile" if key in self.profile_keys else "vendor"
            else:
                name, source = match_header(cell), "header"
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
            guessed = read_header(text) if column not in raw else None
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
        changes_by_content(raw, settling)
        shape = table_shape(set(raw.values()))
        if shape is None:
            return None
        overridden = {
            c for c, source in settling.sources.items() if source in ("vendor", "profile")
        }
        present = {header_key(text) for text in written.values()}
        absent = [
            text
            for key, text in self.override_text.items()
            if key not in present and (header is not None or not re.fullmatch(r"[a-z]{1,2}", key))
        ]
        columns, dropped, warnings = resolve_columns(raw, written, overridden)
        if absent:
            where = f"header row {header + 1}" if header is not None else "the sheet"
            warnings.append(
                f"vendor columns not in {where}: " + ", ".join(repr(text) for text in absent)
            )
        kind, kind_source = self._kind(sheet.name, columns, shape)
        if kind is None:
            return None
        headers = {c: written.get(c, f"column {column_letter(c)}") for c in frame.columns}
        warnings += rename_for_kind(columns, kind, headers)
        value_fields = ("code_change",) if shape == "code_changes" else vocab.PRICE_FIELDS
        data, skipped, footnotes = classify_rows(
            body,
            frame.columns,
            key=key_columns(columns),
            values=[c for f in value_fields for c in columns.get(f, ())],
            headers={c: written[c] for cols in columns.values() for c in cols if c in written},
        )
        if data.height == 0:
            return None
        warnings += pulse_by_content(columns, data, headers)
        warnings += duplicate_warnings(dropped, columns, data, headers)
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
        notice, notice_warnings = read_notice(
            top[: header if header is not None else start],
            footnotes,
            dates_alongside=data.get_column(effective[0]) if effective else None,
            date_order=self.date_order,
        )
        prices = [c for f in ("price", "price_jurisdiction") for c in columns.get(f, ())]
        header_currency = next(
            (found for c in prices if (found := currency_in(written.get(c)))), None
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
        inferred, clear = kind_of(fields)
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
                if row[position] is not None and re.match(CODE_LIKE, row[position])
            ),
            None,
        )
        if start is None:
            return None
        above = next((i for i in range(start - 1, -1, -1) if filled_cells(top[i])), None)
        if above is not None and len(filled_cells(top[above])) >= 2 and not numbers_in(top[above]):
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
            guidelines = guidelines_columns(frame.width, contents)
            if guidelines is not None:
                return self._guidelines_table(sheet, guidelines)
        return self._table(sheet, top, None, start, lettered, dict.fromkeys(lettered, "vendor"))

    def _guidelines_table(self, sheet: Sheet, columns: dict[str, list[str]]) -> FoundTable:
        frame = sheet.frame
        body = frame.with_row_index("source_row", offset=1)
        body = body.with_columns(pl.col("source_row").cast(pl.Int64))
        data, skipped, footnotes = classify_rows(
            body, frame.columns, key=["c0"], values=["c2"], headers={}
        )
        kind = self.wanted or Kind.VOICE
        notice, warnings = read_notice(
            [], footnotes, dates_alongside=None, date_order=self.date_order
        )
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
            if not has_code(fields):
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
        out[header_key(header)] = name
    return out
