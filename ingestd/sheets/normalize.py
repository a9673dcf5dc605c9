"""One found table (``sheets.table.FoundTable``) → normalized OpenTWPS decks
(docs/reading.md#cells).

The table finder says which sheet columns hold which logical field; this module has the cells
of those columns read, field by field, and puts together the rows of the kind's shape
(``rates.model.spec_for(kind).schema()``), one ``DeckRead`` per rate table the sheet holds (one
per jurisdiction price column of a US domestic deck, else one).  Each kind of field has its
reader: the codes (``sheets.row_codes``), the change words (``sheets.row_changes``), the dates
(``sheets.row_dates``), the billing increments (``sheets.row_increments``), the prices and
their currency (``sheets.row_prices``); the rows that go wrong become row errors
(``sheets.row_errors``) or conflicts (``sheets.duplicate_rows``).

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

import polars as pl

from ingestd.config import NAME_LENGTH
from ingestd.errors import SheetError
from ingestd.rates.model import Kind, KindSpec, spec_for
from ingestd.sheets.codes import HYPHEN_MEANINGS
from ingestd.sheets.dates import DATE_ORDERS, parse_timezone
from ingestd.sheets.doubt import Proven
from ingestd.sheets.duplicate_rows import DUPLICATE_POLICIES, conflicts
from ingestd.sheets.headers import ABBREVIATIONS, header_key
from ingestd.sheets.increments import parse_ints, parse_pulse
from ingestd.sheets.opentwps import DeckRead
from ingestd.sheets.prose import IncrementRule
from ingestd.sheets.row_changes import code_changes, read_changes
from ingestd.sheets.row_codes import Hyphens, hyphens_read, read_codes
from ingestd.sheets.row_dates import read_dates
from ingestd.sheets.row_errors import rejected_rows
from ingestd.sheets.row_increments import Increments, vendor_rules
from ingestd.sheets.row_prices import deck_currency, read_currency_column, read_prices
from ingestd.sheets.sheet import column_letter, column_position
from ingestd.sheets.table import FoundTable
from ingestd.sheets.table_rows import ROW, TableReading, TableRows, nulls, repeated
from ingestd.sheets.vendor_words import parse_flags

# US domestic decks: one rate table per jurisdiction price column
# (docs/reading.md#finding-the-table)
JURISDICTIONS = ("interstate", "intrastate", "indeterminate")
DESCRIPTION_JOIN = " – "  # "Germany – Mobile - Vodafone"


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
    sheet = TableRows.of(found)
    warnings = list(found.warnings)
    skipped = dict(found.skipped)
    if sheet.blank_rows:
        skipped["blank"] = skipped.get("blank", 0) + sheet.blank_rows
    total_rows = sheet.height
    additions, changes = None, {}
    if found.layout == "code_changes":
        sheet, additions, changes = code_changes(
            sheet, found.kind, options.hyphens, warnings, skipped
        )
    read = _Reader(TableReading(sheet, warnings), spec_for(found.kind), options)
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
        deck.code_changes, deck.additions = dict(changes), additions
        decks.append(deck)
    return decks


# --- options ---------------------------------------------------------------------------------


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
        return cls(
            timezone=timezone,
            currency=currency.strip().upper() if currency else None,
            date_order=date_order,
            hyphens=Hyphens(hyphen, proven_hyphen),
            proven_date_order=proven_date_order,
            default_intervals=tuple(default_intervals) if default_intervals else None,
            rules=vendor_rules(increment_rules),
            duplicate_policy=duplicate_policy,
        )


def _rate_tables(sheet: TableRows) -> list[tuple[str | None, str | None]]:
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


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Reader:
    """Reads the fields every deck of the sheet shares once (``common``), then each deck's
    prices (``deck``)."""

    reading: TableReading
    spec: KindSpec
    options: _Options
    codes: pl.DataFrame | None = None
    closed: pl.Series | None = None  # discontinued or forbidden: a price may be missing
    date_order: str | None = None
    # the increments of the notes (docs/reading.md#decks-nobody-taught-us) and of each row
    increments: Increments = field(default_factory=Increments)

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    # -- what every deck of the sheet shares

    def common(self) -> None:
        reading, options = self.reading, self.options
        # the codes, the dearest field, are read on the other core meanwhile (polars works off
        # the GIL; read_codes only reads the sheet): a sixth of reading a million-row deck
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="codes") as pool:
            codes = pool.submit(read_codes, reading.sheet, self.kind, options.hyphens)
            try:
                self.closed = read_changes(reading)
                self.date_order = read_dates(
                    reading,
                    date_order=options.date_order,
                    timezone=options.timezone,
                    proven=options.proven_date_order,
                )
                _description(reading)
                read_currency_column(reading)
                if self.kind == Kind.VOICE:
                    self.increments = Increments.of_cells(reading)
                elif self.kind == Kind.DID:
                    _did_columns(reading, self.spec)
            except SheetError:
                codes.result()  # a sheet without codes says so first, as it always did
                raise
            self.codes = codes.result()
        if self.kind == Kind.VOICE:
            self.increments.settle(reading, self.codes, options.rules, options.default_intervals)

    # -- one deck

    def deck(self, price_column: str | None) -> DeckRead:
        """The deck whose prices come from ``price_column`` (a jurisdiction), else from the
        sheet's price fields."""
        deck = self.reading.for_deck()
        read_prices(
            deck, self.kind, closed=self.closed, price_column=price_column,
            currency=self.options.currency,
        )  # fmt: skip
        return self._assemble(deck)

    def _assemble(self, deck: TableReading) -> DeckRead:
        spec, increments, values = self.spec, self.increments, deck.values
        sheet = deck.sheet
        found, height = sheet.found, sheet.height
        defaults = {f.name: f.default for f in spec.fields}
        columns = {}
        for name, dtype in spec.schema().items():
            if name == "code":
                continue
            given = values.get(name)
            if given is None:
                given = repeated(defaults.get(name), height, dtype)
            columns[name] = given.cast(dtype).rename(name)
        source, rule = increments.source, increments.rule
        per_row = pl.DataFrame(columns).with_columns(
            sheet.data.get_column("source_row"),
            values["vendor_class"].alias("vendor_class"),
            (source if source is not None else nulls(height, pl.String)).alias("_increment"),
            (rule if rule is not None else nulls(height, pl.Int32)).alias("_rule"),
        )
        per_row = per_row.with_row_index(ROW)
        codes = self.codes
        failed, errors = rejected_rows(sheet, deck.problems, codes)
        accepted = codes.select(ROW, "code").join(
            per_row.filter(~failed), on=ROW, how="inner", maintain_order="left"
        )
        policy = self.options.duplicate_policy
        accepted, conflicting, warnings = conflicts(accepted, sheet, spec, policy)
        rows = accepted.select(*spec.schema(), "source_row", "vendor_class")
        currency, currency_warnings = deck_currency(rows)
        return DeckRead(
            kind=spec.kind,
            rows=rows,
            errors=sorted(errors + conflicting, key=lambda e: (e.row or 0, e.reason)),
            warnings=deck.warnings + currency_warnings + warnings,
            sheet=found.sheet,
            header_row=found.header_row,
            total_rows=height,
            layout=found.layout,
            kind_source=found.kind_source,
            mapping=_mapping(found),
            date_order=self.date_order,
            hyphen=hyphens_read(codes),
            increments=increments.counted(accepted.get_column("_increment")),
            currency=currency,
            product=found.notice.product,
            notice=found.notice.as_dict(),
            doubts=[*found.doubts, *deck.doubts],
            columns=[r.as_dict() for r in found.readings],
            sheets=list(found.sheets),
            increment_rules=increments.report(accepted.get_column("_rule")),
        )


def _description(reading: TableReading) -> None:
    """The row's description: its destination, else its country and network."""
    sheet = reading.sheet
    destination, country, network = (
        sheet.text(name, words=True) for name in ("destination", "country", "network")
    )
    joined = pl.select(
        pl.when(country.is_not_null() & network.is_not_null())
        .then(pl.concat_str(country, pl.lit(DESCRIPTION_JOIN), network))
        .otherwise(country)
    ).to_series()
    # a network alone (SMS lists often have no country column) still names the row
    reading.values["description"] = pl.select(pl.coalesce(destination, joined, network)).to_series()


def _did_columns(reading: TableReading, spec: KindSpec) -> None:
    """A DID list's own columns (docs/operations.md#exports did): capabilities, interval,
    capacity, texts."""
    sheet = reading.sheet
    defaults = {f.name: f.default for f in spec.fields}
    for name in ("docs_required", "voice", "sms", "fax", "video"):
        values, errors = parse_flags(sheet.text(name))
        reading.problem(name, errors)
        reading.values[name] = values.fill_null(defaults[name])
    source = next((n for n in ("interval", "interval1") if sheet.has(n)), None)
    interval = nulls(sheet.height, pl.Int32)
    if source:
        interval, errors = parse_ints(sheet.text(source))
        reading.problem(source, errors)
    elif sheet.has("pulse"):
        interval, _, errors = parse_pulse(sheet.text("pulse"))
        reading.problem("pulse", errors)
    reading.values["interval"] = interval.fill_null(defaults["interval"])
    capacity, errors = parse_ints(sheet.text("capacity"), reason="bad_number")
    reading.problem("capacity", errors)
    reading.values["capacity"] = capacity
    for column, name in (
        ("status", "did_status"),
        ("type", "did_type"),
        ("notes", "notes"),
        ("local_requirements", "local_requirements"),
    ):
        reading.values[column] = sheet.text(name, words=True)


def _mapping(found: FoundTable) -> dict[str, str]:
    """Header as written → logical field, in sheet order (a repeated header gets its column)."""
    mapping: dict[str, str] = {}
    placed = sorted((column_position(c), c, name) for name, cs in found.columns.items() for c in cs)
    for _, column, name in placed:
        header = found.headers.get(column) or f"column {column_letter(column)}"
        mapping[header if header not in mapping else f"{header} ({column_letter(column)})"] = name
    return mapping
