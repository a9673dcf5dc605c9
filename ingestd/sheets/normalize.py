"""One found table (``sheets.table.FoundTable``) → normalized OpenTWPS decks
(docs/reading.md#cells).

The table finder says which sheet columns hold which logical field; this module reads the cells
of those columns with the parsers of ``ingestd.sheets.cells`` and puts together the rows of the
kind's shape (``rates.model.spec_for(kind).schema()``), one ``DeckRead`` per rate table the
sheet holds (one per jurisdiction price column of a US domestic deck, else one).

Everything is done on whole polars columns: a cell is parsed once per column, a code cell that
lists or ranges several codes becomes several rows with the same ``source_row``, and only the
rows that go wrong (row errors, conflicts) are looked at one by one.

Choices a column cannot make alone take what the vendor's earlier decks proved; else a column
of codes whose hyphens prove both ranges and pairs refuses the sheet (``mixed_hyphens``, option
``hyphen``), and dates no value proves day- or month-first are read day-first with a doubt that
holds the deck (``--date-order``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from ingestd.config import NAME_LENGTH
from ingestd.errors import RowError, SheetError
from ingestd.rates.model import PRICE, TIME, Kind, KindSpec, has_repeats, spec_for
from ingestd.sheets.cells import (
    DATE_ORDERS,
    HYPHEN_MEANINGS,
    REASON_TEXT,
    clean_text,
    currency_marks,
    expand_codes,
    parse_change_words,
    parse_codes,
    parse_currencies,
    parse_datetimes,
    parse_flags,
    parse_ints,
    parse_prices,
    parse_pulse,
    parse_timezone,
    raw_cells,
)
from ingestd.sheets.doubt import Doubt, Proven
from ingestd.sheets.headers import ABBREVIATIONS, currency_in, fold, header_key
from ingestd.sheets.opentwps import DeckRead
from ingestd.sheets.prose import (
    NOTES,
    NOTES_DEFAULT,
    QUALIFIERS,
    IncrementRule,
    NotesReading,
    answer_for,
    read_increment_notes,
)
from ingestd.sheets.regions import name_key, name_keys, regions_named, regions_of_codes
from ingestd.sheets.sheet import column_letter, column_position
from ingestd.sheets.table import FoundTable

DUPLICATE_POLICIES = ("refuse", "first", "last")
# how dates nothing proves are read while the deck is held for the answer (most of the world)
UNPROVEN_DATE_ORDER = "dmy"
# where a row's billing increments came from, in the order they are tried (docs/reading.md#cells)
INCREMENT_SOURCES = (
    "column",
    "pulse",
    "vendor rule",
    NOTES,
    NOTES_DEFAULT,
    "vendor default",
    "default 1/1",
)
# US domestic decks: one rate table per jurisdiction price column
# (docs/reading.md#finding-the-table)
JURISDICTIONS = ("interstate", "intrastate", "indeterminate")
EXAMPLES = 10  # how many values, codes or rows a warning names before "and N more"
DESCRIPTION_JOIN = " – "  # "Germany – Mobile - Vodafone"

# a list item of a code cell with a hyphen between digits: a range or a pair ("1264-581")
_HYPHENATED_ITEM = r"[0-9]\s*[-–—]\s*\+?[0-9]"
_ROW = "row"  # position of a data row in FoundTable.data (UInt32), shared with expand_codes


def normalize(
    found: FoundTable,
    *,
    timezone: str = "UTC",
    currency: str | None = None,
    date_order: str = "auto",
    hyphen: str = "auto",
    proven_hyphen: Proven | None = None,
    proven_date_order: Proven | None = None,
    default_intervals: tuple[int, int] | None = None,
    increment_rules: Mapping[str, tuple[int, int]] | None = None,
    duplicate_policy: str = "refuse",
) -> list[DeckRead]:
    """The decks of one found table: normally one; one per jurisdiction price column.

    The arguments are the vendor's sheet defaults (``config.Vendor``); without them a deck
    sent as carriers send it is read with UTC dates, the currency the sheet states, dates whose
    order the values prove, hyphens whose meaning the values prove and 1/1 increments.
    ``proven_hyphen`` and ``proven_date_order``, what the vendor's earlier decks proved, read
    what the deck's own values leave open, and the deck's warnings say so.
    Raises ``SheetError`` when the sheet as a whole cannot be read (``no_code_column``,
    ``mixed_hyphens``, ``ambiguous_dates``) and ``ValueError`` for a wrong argument.
    """
    options = _Options.checked(
        timezone=timezone,
        currency=currency,
        date_order=date_order,
        hyphen=hyphen,
        proven_hyphen=proven_hyphen,
        proven_date_order=proven_date_order,
        default_intervals=default_intervals,
        increment_rules=increment_rules or {},
        duplicate_policy=duplicate_policy,
    )
    sheet = _Sheet.of(found)
    warnings = list(found.warnings)
    skipped = dict(found.skipped)
    if sheet.blank_rows:
        skipped["blank"] = skipped.get("blank", 0) + sheet.blank_rows
    total_rows = sheet.height
    additions, code_changes = None, {}
    if found.layout == "code_changes":
        sheet, additions, code_changes = _code_changes(
            sheet, found.kind, options.hyphens, warnings, skipped
        )
    read = _Reader(sheet, spec_for(found.kind), options, warnings)
    read.common()
    if options.hyphens.settled and options.hyphens.proven is not None:
        proven = options.hyphens.proven
        warnings.append(
            f"hyphens in the codes could be ranges or pairs: read as {proven.meaning}s, as "
            f"earlier decks of this vendor proved ({proven.source})"
        )
    decks = []
    for suffix, price_column in _rate_tables(sheet):
        deck = read.deck(price_column)
        deck.table_suffix = suffix
        deck.total_rows = total_rows
        deck.skipped = dict(skipped)
        deck.code_changes, deck.additions = dict(code_changes), additions
        decks.append(deck)
    return decks


# --- options ---------------------------------------------------------------------------------


@dataclass
class Hyphens:
    """How the codes' hyphens are read: ``meaning`` ("auto", "range", "pair"); ``proven``, what
    the vendor's earlier decks proved, settles the items a column leaves open when its other
    items prove both meanings, and ``settled`` records that it did."""

    meaning: str
    proven: Proven | None = None
    settled: bool = False


@dataclass(frozen=True)
class _Options:
    timezone: str
    currency: str | None
    date_order: str
    hyphens: Hyphens
    proven_date_order: Proven | None
    default_intervals: tuple[int, int] | None
    rules: tuple[IncrementRule, ...]
    duplicate_policy: str

    @classmethod
    def checked(
        cls,
        *,
        timezone: str,
        currency: str | None,
        date_order: str,
        hyphen: str,
        proven_hyphen: Proven | None,
        proven_date_order: Proven | None,
        default_intervals: tuple[int, int] | None,
        increment_rules: Mapping[str, tuple[int, int]],
        duplicate_policy: str,
    ) -> _Options:
        parse_timezone(timezone)  # a wrong default is the caller's mistake: ValueError
        if currency is not None and not re.fullmatch(r"[A-Za-z]{3}", currency.strip()):
            raise ValueError(f"{currency!r} is not a three-letter currency code")
        if date_order not in DATE_ORDERS:
            raise ValueError(f"date_order must be one of {DATE_ORDERS}, not {date_order!r}")
        if hyphen not in HYPHEN_MEANINGS:
            raise ValueError(f"hyphen must be one of {HYPHEN_MEANINGS}, not {hyphen!r}")
        if duplicate_policy not in DUPLICATE_POLICIES:
            raise ValueError(
                f"duplicate_policy must be one of {DUPLICATE_POLICIES}, not {duplicate_policy!r}"
            )
        for intervals in [default_intervals, *increment_rules.values()]:
            if intervals is not None and (
                len(intervals) != 2 or not all(isinstance(i, int) and i > 0 for i in intervals)
            ):
                raise ValueError(f"intervals must be two whole seconds above 0, not {intervals!r}")
        rules = tuple(
            IncrementRule(_glob_pattern(glob), first, after, "vendor rule")
            for glob, (first, after) in increment_rules.items()
        )
        return cls(
            timezone=timezone,
            currency=currency.strip().upper() if currency else None,
            date_order=date_order,
            hyphens=Hyphens(hyphen, proven_hyphen),
            proven_date_order=proven_date_order,
            default_intervals=tuple(default_intervals) if default_intervals else None,
            rules=rules,
            duplicate_policy=duplicate_policy,
        )


def _glob_pattern(glob: str) -> str:
    """A vendor's destination pattern (``config.Vendor.increment_rules``): a glob with ``*``
    or ``?`` matches the whole name; a plain name matches as a word of it (case-insensitive)."""
    if any(mark in glob for mark in "*?"):
        body = "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob.strip()
        )
        return f"(?i)^{body}$"
    return _word_pattern(glob)


def _word_pattern(name: str) -> str:
    return rf"(?i)\b{re.escape(name.strip())}\b"


# --- the sheet's cells as logical fields -----------------------------------------------------


@dataclass(frozen=True)
class _Sheet:
    """The data rows of a found table, read by logical field."""

    found: FoundTable
    data: pl.DataFrame  # "c<i>" String columns + "source_row", rows that hold anything
    blank_rows: int = 0

    @classmethod
    def of(cls, found: FoundTable) -> _Sheet:
        data = found.data.with_columns(pl.col("source_row").cast(pl.Int64))
        cells = _cell_columns(data)
        if not cells:
            return cls(found, data.clear(), data.height)
        filled = pl.any_horizontal(pl.col(c).str.strip_chars() != "" for c in cells)
        kept = data.filter(filled.fill_null(False))
        return cls(found, kept, data.height - kept.height)

    @property
    def height(self) -> int:
        return self.data.height

    def filtered(self, keep: pl.Series) -> _Sheet:
        return _Sheet(self.found, self.data.filter(keep), self.blank_rows)

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
            return _nulls(self.height, pl.String).rename(name)
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


def _cell_columns(data: pl.DataFrame) -> list[str]:
    return sorted((c for c in data.columns if re.fullmatch(r"c[0-9]+", c)), key=column_position)


@dataclass(frozen=True)
class _Problem:
    """The reasons one field's cells were rejected (null where fine), for row errors."""

    position: int  # sheet column: the leftmost problem is a row's reason
    header: str
    texts: pl.Series
    reasons: pl.Series


# --- layouts ---------------------------------------------------------------------------------


def _code_changes(
    sheet: _Sheet, kind: Kind, hyphen: Hyphens, warnings: list[str], skipped: dict[str, int]
) -> tuple[_Sheet, pl.DataFrame, dict[str, int]]:
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


def _additions(added: _Sheet, kind: Kind, hyphen: Hyphens) -> pl.DataFrame:
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
        _codes(added, kind, hyphen)
        .group_by(_ROW, maintain_order=True)
        .agg(
            pl.col("code").drop_nulls().alias("codes"),
            pl.col("error").filter(wrong).first().alias("reason"),
            pl.col("item").filter(wrong).first(),
            pl.col("field").filter(wrong).first(),
        )
        .sort(_ROW)
    )
    messages, texts = [], {}
    for row, reason, item, name in per_row.select(_ROW, "reason", "item", "field").iter_rows():
        text = texts.setdefault(name, added.text(name))[row] if reason else None
        messages.append(
            f"{added.header(name)} {text or ''!r}"
            + (f": {item!r}" if item is not None and item != text else "")
            + f" {REASON_TEXT.get(reason, reason)}"
            if reason
            else None
        )
    cells = [list(raw_cells(row)) for row in added.data.select(_cell_columns(added.data)).rows()]
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


def _rate_tables(sheet: _Sheet) -> list[tuple[str | None, str | None]]:
    """(table suffix, price column) of each deck: one per jurisdiction column, else one."""
    columns = sheet.columns("price_jurisdiction")
    if not columns:
        return [(None, None)]
    return [(_jurisdiction(sheet.header_of(c), c), c) for c in columns]


def _jurisdiction(header: str, column: str) -> str:
    """The table suffix of a jurisdiction price column: a name by the rule of table names
    (config.name_problem)."""
    # abbreviations written out ("Inter", "Indet"): the vocabulary's own (headers.ABBREVIATIONS)
    spelled = " ".join(ABBREVIATIONS.get(w, w) for w in header_key(header).split())
    words = re.sub(r"[^a-z]+", "", spelled)
    for name in JURISDICTIONS:
        if name in words:
            return name
    name = re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")[:NAME_LENGTH].strip("_")
    return name or re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")[:NAME_LENGTH] or "price"


def _warn_unknown_words(sheet: _Sheet, name: str, unknown: pl.Series, warnings: list[str]) -> None:
    words = unknown.drop_nulls().unique(maintain_order=True).to_list()
    if words:
        warnings.append(
            f"column {sheet.header(name)!r} has words that are not change words, read as no "
            f"word: {_listed(repr(w) for w in words)}"
        )


def _listed(items, limit: int = EXAMPLES) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Reader:
    """Reads the fields every deck of the sheet shares once (``common``), then each deck's
    prices (``deck``)."""

    sheet: _Sheet
    spec: KindSpec
    options: _Options
    warnings: list[str]
    values: dict[str, pl.Series] = field(default_factory=dict)
    problems: list[_Problem] = field(default_factory=list)
    codes: pl.DataFrame | None = None
    closed: pl.Series | None = None  # discontinued or forbidden: a price may be missing
    date_order: str | None = None
    increment_source: pl.Series | None = None
    # the increments of the notes (docs/reading.md#decks-nobody-taught-us), the rows' own increment
    # cells until the codes are read, and per row the number of the notes rule that set it
    # (len(rules): the default)
    notes: NotesReading = field(default_factory=NotesReading)
    own_increments: pl.DataFrame | None = None
    increment_rule: pl.Series | None = None
    doubts: list[Doubt] = field(default_factory=list)  # what the rows leave unsettled

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    def problem(self, name: str, reasons: pl.Series, texts: pl.Series | None = None) -> None:
        if reasons.null_count() == len(reasons):
            return
        texts = self.sheet.text(name) if texts is None else texts
        self.problems.append(
            _Problem(self.sheet.position(name), self.sheet.header(name), texts, reasons)
        )

    # -- what every deck of the sheet shares

    def common(self) -> None:
        # the codes, the dearest field, are read on the other core meanwhile (polars works off
        # the GIL; _codes only reads the sheet): a sixth of reading a million-row deck
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="codes") as pool:
            codes = pool.submit(_codes, self.sheet, self.kind, self.options.hyphens)
            try:
                self._changes()
                self._dates()
                self._description()
                self._currency_column()
                if self.kind == Kind.VOICE:
                    self._increments()
                elif self.kind == Kind.DID:
                    self._did()
            except SheetError:
                codes.result()  # a sheet without codes says so first, as it always did
                raise
            self.codes = codes.result()
        if self.kind == Kind.VOICE:
            self._increment_rules()

    def _changes(self) -> None:
        """The vendor's change word (status, else code change) and the flags it implies."""
        sheet, height = self.sheet, self.sheet.height
        if sheet.found.layout == "code_changes":
            change, _ = parse_change_words(sheet.text("code_change"))
        else:
            change, unknown = parse_change_words(sheet.text("status"))
            _warn_unknown_words(sheet, "status", unknown, self.warnings)
            if sheet.has("code_change"):
                by_code, unknown = parse_change_words(sheet.text("code_change"))
                _warn_unknown_words(sheet, "code_change", unknown, self.warnings)
                change = pl.select(pl.coalesce(change, by_code)).to_series()
        self.values["vendor_class"] = change.rename("vendor_class")
        for name in ("forbidden", "discontinued"):
            flag = _nulls(height, pl.Boolean)
            if sheet.has(name):
                flag, errors = parse_flags(sheet.text(name))
                self.problem(name, errors)
            said = (change == name).fill_null(False)
            self.values[name] = (flag.fill_null(False) | said).rename(name)
        self.closed = self.values["forbidden"] | self.values["discontinued"]

    def _dates(self) -> None:
        """Effective from/to in UTC: per column day-first or month-first, the vendor's zone or
        the row's Timezone column; without dates the notice's increase/decrease dates."""
        sheet, options = self.sheet, self.options
        zones = sheet.text("timezone") if sheet.has("timezone") else None
        parsed: dict[str, tuple[pl.Series, pl.Series, str | None]] = {}
        for name in ("effective_from", "effective_to"):
            if sheet.has(name):
                parsed[name] = parse_datetimes(
                    sheet.text(name),
                    date_order=options.date_order,
                    timezone=options.timezone,
                    zones=zones,
                    excel_1904=sheet.found.date1904,
                )
        decided = [order for _, _, order in parsed.values() if order is not None]
        for name, (_, errors, order) in list(parsed.items()):
            if order is None and (errors == "ambiguous_date").any():
                proven = options.proven_date_order
                if not decided and proven is not None and options.date_order == "auto":
                    # nothing in the deck proves the order: the vendor's earlier decks did
                    decided.append(proven.meaning)
                    self.warnings.append(
                        "no date in the sheet proves day or month first: read as "
                        f"{proven.meaning}, as earlier decks of this vendor proved "
                        f"({proven.source})"
                    )
                if not decided:
                    # nothing proves the order: read day-first and ask
                    # (docs/reading.md#decks-nobody-taught-us)
                    self.doubts.append(_ambiguous_dates(sheet, name, errors))
                    decided.append(UNPROVEN_DATE_ORDER)
                # the sheet's other date column proved the order: one vendor, one habit
                parsed[name] = parse_datetimes(
                    sheet.text(name),
                    date_order=decided[0],
                    timezone=options.timezone,
                    zones=zones,
                    excel_1904=sheet.found.date1904,
                )
        for name in ("effective_from", "effective_to"):
            if name not in parsed:
                self.values[name] = _nulls(sheet.height, TIME).rename(name)
                continue
            values, errors, order = parsed[name]
            wrong_zone = errors == "bad_timezone"
            if wrong_zone.any():
                self.problem(
                    "timezone", pl.select(pl.when(wrong_zone).then(errors)).to_series(), zones
                )
                errors = pl.select(pl.when(~wrong_zone).then(errors)).to_series()
            self.problem(name, errors)
            self.values[name] = values.rename(name)
            self.date_order = self.date_order or order
        self._notice_dates(blank=sheet.text("effective_from").is_null())

    def _notice_dates(self, blank: pl.Series) -> None:
        """Rows without a date take the notice block's increase or decrease date
        (docs/reading.md#finding-the-table: notice dates are defaults); the others stay ASAP."""
        notice = self.sheet.found.notice
        change = self.values["vendor_class"]
        dated = self.values["effective_from"]
        for word, when in (("increase", notice.increase_date), ("decrease", notice.decrease_date)):
            if when is None:
                continue
            at = _notice_utc(when, self.options.timezone)
            dated = pl.select(
                pl.when(blank & (change == word).fill_null(False))
                .then(pl.lit(at, dtype=TIME))
                .otherwise(dated)
            ).to_series()
        self.values["effective_from"] = dated.rename("effective_from")

    def _description(self) -> None:
        sheet = self.sheet
        destination, country, network = (
            sheet.text(name, words=True) for name in ("destination", "country", "network")
        )
        joined = pl.select(
            pl.when(country.is_not_null() & network.is_not_null())
            .then(pl.concat_str(country, pl.lit(DESCRIPTION_JOIN), network))
            .otherwise(country)
        ).to_series()
        # a network alone (SMS lists often have no country column) still names the row
        self.values["description"] = pl.select(
            pl.coalesce(destination, joined, network)
        ).to_series()

    def _currency_column(self) -> None:
        if self.sheet.has("currency"):
            values, errors = parse_currencies(self.sheet.text("currency"))
            self.problem("currency", errors)
            self.values["currency_column"] = values

    def _increments(self) -> None:
        """Interval 1 / Interval N (docs/reading.md#cells): the row's own cells (interval columns,
        else pulse) and the notes' sentences; the rules apply once the codes are read."""
        sheet = self.sheet
        none = _nulls(sheet.height, pl.Int32)
        first = after = none
        if sheet.has("interval1"):
            first, errors = parse_ints(sheet.text("interval1"))
            self.problem("interval1", errors)
        if sheet.has("interval_n"):
            after, errors = parse_ints(sheet.text("interval_n"))
            self.problem("interval_n", errors)
        pulse_first = pulse_next = none
        if sheet.has("pulse"):
            pulse_first, pulse_next, errors = parse_pulse(sheet.text("pulse"))
            self.problem("pulse", errors)
        self.own_increments = pl.DataFrame(
            {"first": first, "after": after, "pulse_first": pulse_first, "pulse_next": pulse_next}
        )
        self.notes = read_increment_notes(sheet.found.notice.lines)

    def _increment_rules(self) -> None:
        """Rows without increments of their own take the vendor's rules, the notes' rules (by
        destination text and by the country of the code), the notes' default, the vendor
        default, 1/1; what the notes leave doubtful becomes a ``Doubt``."""
        sheet, options, notes = self.sheet, self.options, self.notes
        rules = options.rules + notes.rules
        # the country of each row's code, looked up only when the notes name destinations
        height = sheet.height
        regions = _row_regions(self.codes, height) if notes.rules else _nulls(height, pl.String)
        names = pl.DataFrame(
            {"description": self.values["description"], "country": sheet.text("country"),
             "region": regions}
        )  # fmt: skip
        # rules are looked for only where a row has no increments of its own
        own = self.own_increments
        bare = own.select(pl.col("first").is_null() & pl.col("pulse_first").is_null()).to_series()
        if notes.rules:
            destinations = _destinations(names.filter(bare))
        else:  # vendor rules match by pattern alone; no rules: nothing to look for
            destinations = names.filter(bare).unique() if rules else names.clear()
        frame = own.with_columns(_matching_rule(rules, names, destinations).alias("rule"))
        first_cell, pulse_cell = pl.col("first"), pl.col("pulse_first")
        cases: list[tuple[pl.Expr, pl.Expr, pl.Expr, str, pl.Expr]] = [
            (first_cell.is_not_null(), first_cell, pl.coalesce("after", "first"), "column", None),
            (pulse_cell.is_not_null(), pulse_cell, pl.col("pulse_next"), "pulse", None),
        ]
        vendor = len(options.rules)
        for number, rule in enumerate(rules):
            at = pl.lit(number - vendor, dtype=pl.Int32) if number >= vendor else None
            matches = pl.col("rule") == number
            cases.append((matches, pl.lit(rule.first), pl.lit(rule.next), rule.source, at))
        if notes.default:
            at = pl.lit(len(notes.rules), dtype=pl.Int32)
            default = (pl.lit(notes.default.first), pl.lit(notes.default.next))
            cases.append((pl.lit(True), *default, NOTES_DEFAULT, at))
        fallback = options.default_intervals
        if fallback:
            cases.append(
                (pl.lit(True), pl.lit(fallback[0]), pl.lit(fallback[1]), "vendor default", None)
            )
        cases.append((pl.lit(True), pl.lit(1), pl.lit(1), "default 1/1", None))
        nothing = pl.lit(None, dtype=pl.Int32)
        picked = frame.select(
            _first_case([(c, v) for c, v, _, _, _ in cases]).cast(pl.Int32).alias("interval1"),
            _first_case([(c, v) for c, _, v, _, _ in cases]).cast(pl.Int32).alias("interval_n"),
            _first_case([(c, pl.lit(s)) for c, _, _, s, _ in cases]).alias("source"),
            _first_case([(c, nothing if r is None else r) for c, _, _, _, r in cases]).alias(
                "notes_rule"
            ),
        )
        self.values["interval1"] = picked.get_column("interval1")
        self.values["interval_n"] = picked.get_column("interval_n")
        self.increment_source = picked.get_column("source")
        self.increment_rule = picked.get_column("notes_rule")
        self.own_increments = None
        # the notes decide nothing when every row brings its own increments
        if self.increment_source.is_in(["column", "pulse"]).all():
            return
        self.doubts.extend(
            _notes_doubts(sheet.found.sheet, notes, destinations, names, options.rules)
        )

    def _did(self) -> None:
        """A DID list's own columns (docs/operations.md#exports did): capabilities, interval,
        capacity, texts."""
        sheet = self.sheet
        defaults = {f.name: f.default for f in self.spec.fields}
        for name in ("docs_required", "voice", "sms", "fax", "video"):
            values, errors = parse_flags(sheet.text(name))
            self.problem(name, errors)
            self.values[name] = values.fill_null(defaults[name])
        source = next((n for n in ("interval", "interval1") if sheet.has(n)), None)
        interval = _nulls(sheet.height, pl.Int32)
        if source:
            interval, errors = parse_ints(sheet.text(source))
            self.problem(source, errors)
        elif sheet.has("pulse"):
            interval, _, errors = parse_pulse(sheet.text("pulse"))
            self.problem("pulse", errors)
        self.values["interval"] = interval.fill_null(defaults["interval"])
        capacity, errors = parse_ints(sheet.text("capacity"), reason="bad_number")
        self.problem("capacity", errors)
        self.values["capacity"] = capacity
        for column, name in (
            ("status", "did_status"),
            ("type", "did_type"),
            ("notes", "notes"),
            ("local_requirements", "local_requirements"),
        ):
            self.values[column] = sheet.text(name, words=True)

    # -- one deck

    def deck(self, price_column: str | None) -> DeckRead:
        """The deck whose prices come from ``price_column`` (a jurisdiction), else from the
        sheet's price fields."""
        values = dict(self.values)
        problems = list(self.problems)
        currency_sources = self._prices(values, problems, price_column)
        values["currency"] = self._currency(values, currency_sources)
        return _assemble(self, values, problems)

    def _prices(
        self, values: dict[str, pl.Series], problems: list[_Problem], price_column: str | None
    ) -> list[_PriceCells]:
        """Fills the kind's prices; returns the price columns read (their cells and headers
        may say the currency)."""
        sheet, kind, height = self.sheet, self.kind, self.sheet.height
        if kind == Kind.DID:
            read = []
            for name in ("inbound_voice_price", "inbound_sms_price", "mrc", "nrc"):
                cells = _PriceCells.of(sheet, name)
                if cells is None and name == "mrc":  # a DID list's one "Price" is its rental
                    cells = _PriceCells.of(sheet, "price") or _PriceCells.of(sheet, "price_current")
                if cells is not None:
                    problems.append(cells.problem())
                    read.append(cells)
                values[name] = cells.prices if cells else _nulls(height, PRICE)
            return read
        if price_column:
            chosen = [_PriceCells.of(sheet, column=price_column)]
        else:
            # docs/reading.md#finding-the-table: Current Rate / New Rate, the new one wins where it
            # is written
            chosen = [_PriceCells.of(sheet, "price"), _PriceCells.of(sheet, "price_current")]
        read = [cells for cells in chosen if cells is not None]
        unwritten = _repeat(True, height, pl.Boolean)
        for cells in read:
            problems.append(cells.problem(where=unwritten))
            unwritten = unwritten & cells.texts.is_null()
        price = pl.select(pl.coalesce(_nulls(height, PRICE), *(c.prices for c in read)))
        price = price.to_series()
        # only a closed or blocked code may come without a price; the row shape needs one: 0
        missing = unwritten & ~self.closed
        first = read[0] if read else None
        problems.append(
            _Problem(
                first.position if first else sheet.position("price"),
                first.header if first else sheet.header("price"),
                first.texts if first else _nulls(height, pl.String),
                pl.select(pl.when(missing).then(pl.lit("missing_price"))).to_series(),
            )
        )
        main = "price1" if kind == Kind.VOICE else "price"
        values[main] = price.fill_null(0).cast(PRICE).rename(main)
        if kind == Kind.VOICE:
            after = None if price_column else _PriceCells.of(sheet, "price_n")
            if after is not None:
                problems.append(after.problem())
                read.append(after)
            values["price_n"] = (  # OpenTWPS: a missing Price N is Price1 (docs/reading.md#prices)
                pl.select(pl.coalesce(after.prices, values["price1"])).to_series()
                if after is not None
                else values["price1"]
            ).rename("price_n")
        return read

    def _currency(self, values: dict[str, pl.Series], price_cells: list[_PriceCells]) -> pl.Series:
        """Per row: the currency column, else a sign or code in the price cell, else in the
        price header, else the notice block's, else the vendor's."""
        height = self.sheet.height
        candidates = []
        if "currency_column" in values:
            candidates.append(values.pop("currency_column"))
        candidates += [currency_marks(cells.texts) for cells in price_cells]
        in_header = (currency_in(cells.header) for cells in price_cells)
        stated = (
            next((c for c in in_header if c), None)
            or self.sheet.found.notice.currency
            or self.options.currency
        )
        candidates.append(_repeat(stated, height, pl.String))
        return pl.select(pl.coalesce(candidates)).to_series().rename("currency")


@dataclass(frozen=True)
class _PriceCells:
    """One price column read: its cells, header, place and parsed prices."""

    texts: pl.Series
    header: str
    position: int
    prices: pl.Series
    errors: pl.Series

    @classmethod
    def of(cls, sheet: _Sheet, name: str = "", column: str | None = None) -> _PriceCells | None:
        if column is None and not sheet.has(name):
            return None
        texts = sheet.column_text(column) if column else sheet.text(name)
        prices, errors = parse_prices(texts)
        return cls(
            texts,
            sheet.header_of(column) if column else sheet.header(name),
            column_position(column) if column else sheet.position(name),
            prices,
            errors,
        )

    def problem(self, where: pl.Series | None = None) -> _Problem:
        reasons = self.errors
        if where is not None:
            reasons = pl.select(pl.when(where).then(reasons)).to_series()
        return _Problem(self.position, self.header, self.texts, reasons)


def _repeat(value: object, height: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(value, height, dtype=dtype, eager=True)


def _nulls(height: int, dtype: pl.DataType) -> pl.Series:
    return _repeat(None, height, dtype)


def _matching_rule(
    rules: tuple[IncrementRule, ...], names: pl.DataFrame, destinations: pl.DataFrame
) -> pl.Series:
    """Per row of ``names`` (description, country, region), the number of the rule that sets
    its increments (null: none), decided once per distinct row (``destinations``): the first
    vendor rule whose pattern the description or the country matches, else the notes rule
    naming it most precisely — by its text ("Mexico Mobile" before "Mexico") or, for a
    country's name, by the region of the row's code (a +52 row is Mexico's whatever its
    description says)."""
    if not rules:
        return _nulls(names.height, pl.Int32)
    vendor = [r for r in rules if r.source not in (NOTES, NOTES_DEFAULT)]
    notes = rules[len(vendor) :]
    number = pl.lit(None, dtype=pl.Int32)
    for index, rule in reversed(list(enumerate(vendor))):
        matches = pl.col("description").str.contains(rule.pattern) | pl.col("country").str.contains(
            rule.pattern
        )
        number = (
            pl.when(matches.fill_null(False)).then(pl.lit(index, dtype=pl.Int32)).otherwise(number)
        )
    if notes:
        # how precisely each notes rule names the row: the length of its longest name that does
        scores = pl.concat_list(
            pl.max_horizontal(
                pl.lit(0),
                *(pl.when(_names_row(n)).then(len(name_key(n))).otherwise(0) for n in rule.names),
            )
            for rule in notes
        )
        best = scores.list.arg_max().cast(pl.Int32) + len(vendor)
        number = pl.coalesce(number, pl.when(scores.list.max() > 0).then(best))
    decided = destinations.select("description", "country", "region", number.alias("rule"))
    spread = names.join(
        decided,
        on=["description", "country", "region"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    return spread.get_column("rule")


def _destinations(names: pl.DataFrame) -> pl.DataFrame:
    """The distinct (description, country, region) of ``names`` with ``key``: the description
    and the country in ``regions.name_keys`` form, padded with spaces so that a name is found
    as whole words."""
    distinct = names.unique()
    keys = [name_keys(pl.col(c)).fill_null("") for c in ("description", "country")]
    return distinct.with_columns(
        pl.concat_str(pl.lit(" "), keys[0], pl.lit(" "), keys[1], pl.lit(" ")).alias("key")
    )


def _names_row(name: str) -> pl.Expr:
    """A notes name names the row: its words are in the row's text, or it is a country's name
    and the row's code dials that country (the text decides only for rows without a code's
    country), or a country's name with qualifiers ("Mexico Mobile") and the row's code dials
    that country and its text has the qualifiers."""
    key = name_key(name)
    in_text = pl.col("key").str.contains(f" {re.escape(key)} ") if key else pl.lit(False)
    regions = regions_named(name)
    if regions:
        by_code = pl.col("region").is_in(sorted(regions))
        return (by_code | (pl.col("region").is_null() & in_text)).fill_null(False)
    words = name.split()
    country = " ".join(w for w in words if fold(w) not in QUALIFIERS)
    qualifiers = [w for w in words if fold(w) in QUALIFIERS]
    regions = regions_named(country) if country and qualifiers else frozenset()
    if not regions:
        return in_text.fill_null(False)
    by_code = pl.col("region").is_in(sorted(regions))
    for word in qualifiers:
        by_code = by_code & pl.col("key").str.contains(f" {re.escape(name_key(word))} ")
    return (in_text | by_code).fill_null(False)


def _row_regions(codes: pl.DataFrame | None, height: int) -> pl.Series:
    """Per row, the region its first readable code dials (null: none)."""
    if codes is None or codes.is_empty():
        return _nulls(height, pl.String).rename("region")
    first = (
        codes.filter(pl.col("error").is_null())
        .group_by(_ROW, maintain_order=True)
        .agg(pl.col("code").first())
    )
    rows = pl.DataFrame({_ROW: pl.int_range(height, dtype=pl.UInt32, eager=True)})
    code = rows.join(first, on=_ROW, how="left", maintain_order="left").get_column("code")
    return regions_of_codes(code.cast(pl.String))


def _notes_doubts(
    where: str,
    notes: NotesReading,
    destinations: pl.DataFrame,
    names: pl.DataFrame,
    answered: tuple[IncrementRule, ...] = (),
) -> list[Doubt]:
    """A doubt per sentence about increments that became no rule (unless a vendor rule or an
    answer names a destination of it), and per notes name that is no country's and names no
    row (misspelled, or a destination the deck lacks).  The names are looked for in the rows
    the rules were for (``destinations``), then in all rows."""
    doubts = [
        Doubt(
            where,
            f"the sentence {sentence!r}",
            "it speaks of billing increments but names no increments ingestd could read: "
            "which destinations does it set, and to what?",
            answer_for(sentence),
            topic="increments",
        )
        for sentence in notes.unread
        if not any(re.search(rule.pattern, sentence) for rule in answered)
    ]
    missing = {n for rule in notes.rules for n in rule.names if not regions_named(n)}
    for rows in (destinations, None):
        if not missing:
            return doubts
        rows = _destinations(names) if rows is None else rows
        looked = sorted(missing)
        found = rows.select(_names_row(n).any().alias(str(i)) for i, n in enumerate(looked))
        missing = {n for n, hit in zip(looked, found.row(0), strict=True) if not hit}
    for rule in notes.rules:
        for name in rule.names:
            if name in missing:
                doubts.append(
                    Doubt(
                        where,
                        f"the sentence {rule.sentence!r}",
                        f"its name {name!r} matched no destination of the sheet and no "
                        "country: which destinations does it mean?",
                        f'--increments "<destination>={rule.first}/{rule.next}"',
                        topic="increments",
                    )
                )
                missing.discard(name)
    return doubts


def _first_case(cases: list[tuple[pl.Expr, pl.Expr]]) -> pl.Expr:
    """The value of the first case whose condition holds."""
    (condition, value), rest = cases[0], cases[1:]
    chain = pl.when(condition).then(value)
    for condition, value in rest:
        chain = chain.when(condition).then(value)
    return chain


def _notice_utc(when: datetime, timezone: str) -> datetime | None:
    """A notice-block date (a wall time as written) in UTC, read in the vendor's zone."""
    values, _, _ = parse_datetimes(
        pl.Series([when.strftime("%Y-%m-%d %H:%M:%S")]), date_order="ymd", timezone=timezone
    )
    return values[0]


def _ambiguous_dates(sheet: _Sheet, name: str, errors: pl.Series) -> Doubt:
    texts = sheet.text(name).filter(errors == "ambiguous_date").unique(maintain_order=True)
    examples = _listed(map(repr, texts.to_list()), 3)
    return Doubt(
        sheet.found.sheet,
        f"the dates in column {sheet.header(name)!r} ({examples})",
        "they could be day-first or month-first and no value in the deck proves which; they "
        "are read day-first: is that right (or set the vendor option date_order)?",
        f"--date-order {UNPROVEN_DATE_ORDER}",
        topic="date_order",
    )


# --- codes -----------------------------------------------------------------------------------


def _codes(sheet: _Sheet, kind: Kind, hyphen: Hyphens) -> pl.DataFrame:
    """The codes of each row (``row``, ``code``, ``error``, ``item``, ``field``): E.164
    prefixes or numbers, NANP codes, or MCCMNCs, whatever columns the sheet gives them in."""
    if kind == Kind.SMS:
        for name in ("mccmnc", "code"):
            if sheet.has(name):
                return _listed_codes(sheet, name, hyphen, international=False)
        if sheet.has("mcc"):
            return _mcc_mnc(sheet)
        wanted = "MCCMNC (or MCC and MNC)"
    else:
        for name in ("number", "code") if kind == Kind.DID else ("code", "number"):
            if sheet.has(name):
                return _listed_codes(sheet, name, hyphen, international=True)
        if sheet.has("country_code"):
            return _country_area(sheet, hyphen)
        if sheet.has("npanxx"):
            return _nanp(sheet, hyphen)
        if sheet.has("npa"):
            return _npa_nxx(sheet)
        wanted = "numbers" if kind == Kind.DID else "codes (or country code and area code)"
    raise SheetError("no_code_column", f"the {kind} table has no column of {wanted}")


def _listed_codes(
    sheet: _Sheet,
    name: str,
    hyphen: Hyphens,
    *,
    international: bool,
    text: pl.Series | None = None,
) -> pl.DataFrame:
    cells = sheet.text(name) if text is None else text
    codes, meaning = expand_codes(
        cells,
        hyphen=hyphen.meaning,
        open_as=hyphen.proven.meaning if hyphen.proven else None,
        international_prefix=international,
    )
    if meaning == "proven":
        hyphen.settled = True
    if meaning == "mixed":
        hyphenated = codes.filter(pl.col("item").str.contains(_HYPHENATED_ITEM))
        examples = hyphenated.get_column("item").unique(maintain_order=True).to_list()
        raise SheetError(
            "mixed_hyphens",
            f"column {sheet.header(name)!r} uses hyphens both for ranges of codes and for "
            f"country code–area code pairs ({_listed(map(repr, examples), 5)}): set the vendor "
            'option hyphen ("range" or "pair")',
        )
    return codes.with_columns(pl.lit(name).alias("field"))


def _country_area(sheet: _Sheet, hyphen: Hyphens) -> pl.DataFrame:
    """Country code + area code (docs/reading.md#finding-the-table): joined; a blank area is the
    country code alone."""
    country, country_errors = parse_codes(sheet.text("country_code"))
    per_row = pl.DataFrame({"country": country, "country_error": country_errors})
    per_row = per_row.with_row_index(_ROW)
    if sheet.has("area_code"):
        areas = _listed_codes(sheet, "area_code", hyphen, international=False)
    else:
        areas = per_row.select(
            _ROW,
            pl.lit(None, pl.String).alias("item"),
            pl.lit(None, pl.String).alias("code"),
            pl.lit("missing_code").alias("error"),
        )
    both = areas.join(per_row, on=_ROW, how="left", maintain_order="left")
    area_blank = (pl.col("error") == "missing_code").fill_null(False)
    joined = both.select(
        pl.when(area_blank).then(pl.col("country")).otherwise(pl.col("country") + pl.col("code"))
    ).to_series()
    codes, errors = parse_codes(joined)
    both = both.with_columns(codes.alias("joined"), errors.alias("joined_error"))
    country_wrong = pl.col("country_error").is_not_null()
    area_wrong = ~area_blank & pl.col("error").is_not_null()
    return both.select(
        _ROW,
        pl.col("item"),
        pl.col("joined").alias("code"),
        pl.when(country_wrong)
        .then(pl.col("country_error"))
        .when(area_wrong)
        .then(pl.col("error"))
        .otherwise(pl.col("joined_error"))
        .alias("error"),
        pl.when(country_wrong | area_blank)
        .then(pl.lit("country_code"))
        .otherwise(pl.lit("area_code"))
        .alias("field"),
    )


def _nanp(sheet: _Sheet, hyphen: Hyphens) -> pl.DataFrame:
    """NPANXX codes (US domestic decks, docs/reading.md#finding-the-table) as E.164 prefixes: ``1``
    in front."""
    # "201-555" writes one NPA-NXX, not a range; "201200-201209" is a range
    text = sheet.text("npanxx").str.replace_all(r"\b([0-9]{3})[-. ]([0-9]{3})\b", "${1}${2}")
    codes = _listed_codes(sheet, "npanxx", hyphen, international=False, text=text)
    return codes.with_columns(_nanp_code(pl.col("code")))


def _npa_nxx(sheet: _Sheet) -> pl.DataFrame:
    """NPA + NXX columns joined (a blank NXX: the whole NPA), ``1`` in front."""
    npa, npa_errors = parse_codes(sheet.text("npa"), international_prefix=False)
    nxx, nxx_errors = parse_codes(sheet.text("nxx"), international_prefix=False)
    frame = pl.DataFrame({"npa": npa, "npa_error": npa_errors, "nxx": nxx, "nxx_error": nxx_errors})
    nxx_wrong = (pl.col("nxx_error") == "bad_code") | (pl.col("nxx").str.len_chars() != 3)
    npa_wrong = pl.col("npa_error").is_not_null() | (pl.col("npa").str.len_chars() != 3)
    code = pl.lit("1") + pl.col("npa") + pl.col("nxx").fill_null("")
    return frame.with_row_index(_ROW).select(
        _ROW,
        pl.lit(None, pl.String).alias("item"),
        pl.when(~npa_wrong & ~nxx_wrong.fill_null(False)).then(code).alias("code"),
        pl.when(npa_wrong)
        .then(pl.col("npa_error").fill_null("bad_code"))
        .when(nxx_wrong.fill_null(False))
        .then(pl.lit("bad_code"))
        .alias("error"),
        pl.when(npa_wrong).then(pl.lit("npa")).otherwise(pl.lit("nxx")).alias("field"),
    )


def _nanp_code(code: pl.Expr) -> list[pl.Expr]:
    length = code.str.len_chars()
    nanp = (
        pl.when(length.is_in([3, 6]))
        .then(pl.lit("1") + code)
        .when((length == 7) & code.str.starts_with("1"))
        .then(code)
    )
    return [
        nanp.alias("code"),
        pl.when(pl.col("error").is_null() & nanp.is_null())
        .then(pl.lit("bad_code"))
        .otherwise(pl.col("error"))
        .alias("error"),
    ]


def _mcc_mnc(sheet: _Sheet) -> pl.DataFrame:
    """MCC + MNC joined as text (docs/reading.md#finding-the-table): leading zeros kept, ``01`` is
    not ``001``; a blank MNC is the MCC alone.  An MCC of other than 3 digits, or an MNC of other
    than 2 or 3 (Excel dropped a leading zero), is a ``bad_code``."""
    mcc, mcc_errors = parse_codes(sheet.text("mcc"), international_prefix=False)
    mnc, mnc_errors = parse_codes(sheet.text("mnc"), international_prefix=False)
    frame = pl.DataFrame({"mcc": mcc, "mcc_error": mcc_errors, "mnc": mnc, "mnc_error": mnc_errors})
    mcc_wrong = pl.col("mcc_error").is_not_null() | (pl.col("mcc").str.len_chars() != 3)
    mnc_wrong = (pl.col("mnc_error") == "bad_code") | ~pl.col("mnc").str.len_chars().is_in([2, 3])
    mnc_wrong = mnc_wrong.fill_null(False)
    return frame.with_row_index(_ROW).select(
        _ROW,
        pl.lit(None, pl.String).alias("item"),
        pl.when(~mcc_wrong & ~mnc_wrong)
        .then(pl.col("mcc") + pl.col("mnc").fill_null(""))
        .alias("code"),
        pl.when(mcc_wrong)
        .then(pl.col("mcc_error").fill_null("bad_code"))
        .when(mnc_wrong)
        .then(pl.lit("bad_code"))
        .alias("error"),
        pl.when(mcc_wrong).then(pl.lit("mcc")).otherwise(pl.lit("mnc")).alias("field"),
    )


# --- one deck: rows, row errors, conflicts ---------------------------------------------------


def _assemble(reader: _Reader, values: dict[str, pl.Series], problems: list[_Problem]) -> DeckRead:
    sheet, spec = reader.sheet, reader.spec
    found, height = sheet.found, sheet.height
    defaults = {f.name: f.default for f in spec.fields}
    columns = {}
    for name, dtype in spec.schema().items():
        if name == "code":
            continue
        given = values.get(name)
        if given is None:
            given = _repeat(defaults.get(name), height, dtype)
        columns[name] = given.cast(dtype).rename(name)
    source, rule = reader.increment_source, reader.increment_rule
    per_row = pl.DataFrame(columns).with_columns(
        sheet.data.get_column("source_row"),
        values["vendor_class"].alias("vendor_class"),
        (source if source is not None else _nulls(height, pl.String)).alias("_increment"),
        (rule if rule is not None else _nulls(height, pl.Int32)).alias("_rule"),
    )
    per_row = per_row.with_row_index(_ROW)
    problems = [p for p in problems if p.reasons.null_count() < height]
    reasons = _frame_of({f"p{i}": p.reasons for i, p in enumerate(problems)}, height)
    failed = reasons.select(
        pl.any_horizontal(pl.lit(False), *(pl.col(c).is_not_null() for c in reasons.columns[1:]))
    ).to_series()
    codes = reader.codes
    bad_codes = codes.filter(pl.col("error").is_not_null())
    failed = failed | per_row.get_column(_ROW).is_in(bad_codes.get_column(_ROW).implode())
    errors = _row_errors(sheet, problems, reasons, failed, bad_codes)
    accepted = codes.select(_ROW, "code").join(
        per_row.filter(~failed), on=_ROW, how="inner", maintain_order="left"
    )
    accepted, conflicts, warnings = _conflicts(accepted, sheet, spec, reader.options)
    increments = {}
    if reader.increment_source is not None:
        counted = accepted.get_column("_increment").value_counts()
        by_source = dict(counted.iter_rows())
        increments = {s: by_source[s] for s in INCREMENT_SOURCES if by_source.get(s)}
    increment_rules = _rules_report(reader.notes, accepted.get_column("_rule"))
    rows = accepted.select(*spec.schema(), "source_row", "vendor_class")
    currency, currency_warnings = _deck_currency(rows)
    return DeckRead(
        kind=spec.kind,
        rows=rows,
        errors=sorted(errors + conflicts, key=lambda e: (e.row or 0, e.reason)),
        warnings=reader.warnings + currency_warnings + warnings,
        sheet=found.sheet,
        header_row=found.header_row,
        total_rows=height,
        layout=found.layout,
        kind_source=found.kind_source,
        mapping=_mapping(found),
        date_order=reader.date_order,
        hyphen=_hyphens_read(codes),
        increments=increments,
        currency=currency,
        product=found.notice.product,
        notice=found.notice.as_dict(),
        doubts=[*found.doubts, *reader.doubts],
        columns=[r.as_dict() for r in found.readings],
        sheets=list(found.sheets),
        increment_rules=increment_rules,
    )


def _rules_report(notes: NotesReading, rule: pl.Series) -> list[dict]:
    """Every rule of the notes with its sentence and the rows it set (the default last)."""
    counted = dict(rule.drop_nulls().value_counts().iter_rows())
    rules = [*notes.rules, *([notes.default] if notes.default else [])]
    return [
        {
            "sentence": r.sentence,
            "names": list(r.names),
            "first": r.first,
            "next": r.next,
            "rows": int(counted.get(number, 0)),
            "default": r.source == NOTES_DEFAULT,
        }
        for number, r in enumerate(rules)
    ]


def _hyphens_read(codes: pl.DataFrame) -> str | None:
    """What the hyphens of the deck's codes were read as: ranges (an item gave several codes),
    pairs (one), both, or None; kept in the report, a vendor's later deck whose hyphens its
    own values leave open is read the same way (``ingestd.ingest``)."""
    hyphenated = codes.filter(
        pl.col("error").is_null() & pl.col("item").str.contains(_HYPHENATED_ITEM)
    )
    if hyphenated.is_empty():
        return None
    per_item = hyphenated.group_by(_ROW, "item").len().get_column("len")
    ranges, pairs = bool((per_item > 1).any()), bool((per_item == 1).any())
    return "both" if ranges and pairs else "range" if ranges else "pair"


def _frame_of(columns: dict[str, pl.Series], height: int) -> pl.DataFrame:
    """A frame of ``height`` rows: a first column ``_`` of nulls, then ``columns``."""
    return pl.DataFrame({"_": _nulls(height, pl.String), **columns})


def _deck_currency(rows: pl.DataFrame) -> tuple[str | None, list[str]]:
    counts = rows.get_column("currency").drop_nulls().value_counts(sort=True)
    if counts.height == 0:
        return None, []
    names = counts.get_column("currency").to_list()
    if len(names) == 1:
        return names[0], []
    return names[0], [f"the rows are in several currencies: {', '.join(names)}"]


def _mapping(found: FoundTable) -> dict[str, str]:
    """Header as written → logical field, in sheet order (a repeated header gets its column)."""
    mapping: dict[str, str] = {}
    placed = sorted((column_position(c), c, name) for name, cs in found.columns.items() for c in cs)
    for _, column, name in placed:
        header = found.headers.get(column) or f"column {column_letter(column)}"
        mapping[header if header not in mapping else f"{header} ({column_letter(column)})"] = name
    return mapping


def _row_errors(
    sheet: _Sheet,
    problems: list[_Problem],
    reasons: pl.DataFrame,
    failed: pl.Series,
    bad_codes: pl.DataFrame,
) -> list[RowError]:
    """One RowError per rejected row, its leftmost problem first
    (docs/reading.md#row-errors-and-refusal)."""
    if not failed.any():
        return []
    code_fields = bad_codes.get_column("field").unique().to_list() if bad_codes.height else []
    texts = _frame_of(
        {f"t{i}": p.texts for i, p in enumerate(problems)}
        | {f"code:{name}": sheet.text(name) for name in code_fields},
        sheet.height,
    ).filter(failed)
    first_bad = {
        row: (item, error, name)
        for row, item, error, name in bad_codes.group_by(_ROW, maintain_order=True)
        .first()
        .select(_ROW, "item", "error", "field")
        .iter_rows()
    }
    rows = pl.arange(0, sheet.height, eager=True).filter(failed)
    data = sheet.data.filter(failed)
    key = next((f"code:{n}" for n in ("code", "number", "mccmnc") if sheet.has(n)), None)
    errors = []
    for index, reason_row, text_row, source_row, cells in zip(
        rows,
        (row[1:] for row in reasons.filter(failed).iter_rows()),
        texts.iter_rows(named=True),
        data.get_column("source_row"),
        data.select(_cell_columns(data)).iter_rows(),
        strict=True,
    ):
        found = [
            (p.position, p.header, text_row[f"t{i}"], reason, None)
            for i, (p, reason) in enumerate(zip(problems, reason_row, strict=True))
            if reason is not None
        ]
        if index in first_bad:
            item, reason, name = first_bad[index]
            found.append(
                (sheet.position(name), sheet.header(name), text_row[f"code:{name}"], reason, item)
            )
        found.sort(key=lambda f: f[0])
        messages = [
            f"{header} {text or ''!r}"
            + (f": {item!r}" if item is not None and item != text else "")
            + f" {REASON_TEXT.get(reason, reason)}"
            for _, header, text, reason, item in found
        ]
        errors.append(
            RowError(
                reason=found[0][3],
                message="; ".join(messages),
                row=source_row,
                sheet=sheet.found.sheet,
                cells=raw_cells(cells),
                code=text_row.get(key) if key else None,
            )
        )
    return errors


def _conflicts(
    rows: pl.DataFrame, sheet: _Sheet, spec: KindSpec, options: _Options
) -> tuple[pl.DataFrame, list[RowError], list[str]]:
    """The same code and effective time twice (docs/reading.md#cells): identical rows are read once
    (with a warning); rows with different values are each a ``conflict`` naming the others, unless
    the vendor's ``duplicate_policy`` says which one wins (the first or the last in the sheet).

    The description and the vendor's change word do not make two rows different."""
    keys = ["code", "effective_from"]
    compared = [c for c in spec.schema() if c not in (*keys, "description")]
    # codes first (a quarter of the memory of hashing code and time together on a large
    # deck where every code is listed once), then code and time among the repeated codes
    if not has_repeats(rows.get_column("code")):
        return rows, [], []
    repeated = rows.get_column("code").is_duplicated()
    positions = (
        rows.select(keys)
        .with_row_index("_position")
        .filter(repeated)
        .filter(pl.struct(keys).is_duplicated())
        .get_column("_position")
    )
    if positions.is_empty():
        return rows, [], []
    twice = pl.select(
        pl.int_range(rows.height, dtype=positions.dtype).is_in(positions.implode())
    ).to_series()
    rows = rows.with_row_index("_order")
    order = pl.col("_order")
    marked = rows.filter(twice).with_columns(
        pl.struct(compared).n_unique().over(keys).alias("_variants"),
        order.min().over(keys).alias("_first"),
        order.max().over(keys).alias("_last"),
        pl.col("source_row").unique(maintain_order=True).implode().over(keys).alias("_rows"),
    )
    policy = options.duplicate_policy
    differ = pl.col("_variants") > 1
    winner = {"refuse": pl.lit(False), "first": order == pl.col("_first"),
              "last": order == pl.col("_last")}[policy]  # fmt: skip
    keep = pl.when(differ).then(winner).otherwise(order == pl.col("_first"))
    dropped = marked.filter(~keep).get_column("_order")
    kept = rows.filter(~order.is_in(dropped.implode())).drop("_order")
    warnings = []
    same = marked.filter(~differ & (order == pl.col("_first")))
    if same.height:
        warnings.append(
            f"{same.height} codes appear more than once with the same values and are read once: "
            + _listed(_where(r) for r in same.iter_rows(named=True))
        )
    chosen = marked.filter(differ & keep)
    if chosen.height:
        warnings.append(
            f"{chosen.height} codes appear more than once with different values; the "
            f"{policy} row wins (vendor option duplicate_policy): "
            + _listed(_where(r) + f" → row {r['source_row']}" for r in chosen.iter_rows(named=True))
        )
    errors = []
    if policy == "refuse":
        refused = marked.filter(differ)
        cells = _raw_rows(sheet, refused.get_column("source_row"))
        for r in refused.iter_rows(named=True):
            others = [str(x) for x in r["_rows"] if x != r["source_row"]] or [str(r["source_row"])]
            errors.append(
                RowError(
                    reason="conflict",
                    message=f"code {r['code']} (effective {_when(r['effective_from'])}) is also "
                    f"in row {', '.join(others)} with different values (set the vendor option "
                    'duplicate_policy to "first" or "last" to let one win)',
                    row=r["source_row"],
                    sheet=sheet.found.sheet,
                    cells=cells.get(r["source_row"], ()),
                    code=r["code"],
                )
            )
    return kept, errors, warnings


def _where(row: dict) -> str:
    rows = ", ".join(str(r) for r in row["_rows"])
    return f"{row['code']} ({_when(row['effective_from'])}; rows {rows})"


def _when(at: datetime | None) -> str:
    return "ASAP" if at is None else at.isoformat(sep=" ")


def _raw_rows(sheet: _Sheet, source_rows: pl.Series) -> dict[int, tuple[str, ...]]:
    data = sheet.data.filter(pl.col("source_row").is_in(source_rows.implode()))
    cells = data.select(_cell_columns(data)).iter_rows()
    return dict(zip(data.get_column("source_row"), map(raw_cells, cells), strict=True))
