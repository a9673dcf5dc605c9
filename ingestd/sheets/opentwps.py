"""Files already in OpenTWPS layout (what our exports produce) → a normalized deck frame.

The table is found by its exact OpenTWPS headers (docs/operations.md#exports; case and surrounding
spaces do not matter) in the first rows of a sheet, under any notice block.  Each row is parsed with
the cell parsers of ``ingestd.sheets.cells``; a row with a problem becomes a ``RowError`` and stays
out of the rows.  Reading an export gives back the exported table (round trip): text that the
exporter neutralized with a leading ``'`` (``ingestd.rates.export.FORMULA_START``) loses that quote
again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath

import polars as pl

from ingestd.errors import RowError, SheetError
from ingestd.rates.export import extended_columns, opentwps_columns
from ingestd.rates.model import PRICE, TIME, Kind, KindSpec, spec_for
from ingestd.sheets.cells import REASON_TEXT
from ingestd.sheets.cells import clean_text as _text
from ingestd.sheets.cells import raw_cells as _raw_cells
from ingestd.sheets.codes import parse_codes
from ingestd.sheets.currencies import parse_currencies as _currencies
from ingestd.sheets.dates import parse_datetimes, parse_timezone
from ingestd.sheets.doubt import Doubt
from ingestd.sheets.increments import parse_ints
from ingestd.sheets.prices import parse_prices
from ingestd.sheets.read import read_sheets
from ingestd.sheets.sheet import HEADER_SEARCH_ROWS, Sheet
from ingestd.sheets.vendor_words import parse_flags

# Prices a row cannot do without; the others may be empty.
REQUIRED_PRICES = {Kind.VOICE: ("price1",), Kind.SMS: ("price",), Kind.DID: ()}
TIMEZONE = "timezone"  # the column of the voice Timezone header
# The extended export's Change Class column is recognised but not read: change classes are
# decided again against the table the rows go into (rates.semantics).
CHANGE_CLASS = "change_class"


@dataclass
class DeckRead:
    """One OpenTWPS table: accepted rows (``spec.schema()`` columns + ``source_row``), rejected
    rows and warnings."""

    kind: Kind
    rows: pl.DataFrame
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sheet: str | None = None
    header_row: int | None = 1  # 1-based; None for a headerless layout
    total_rows: int = 0  # data rows seen (accepted + rejected)
    # the detection report (docs/reading.md#finding-the-table): how the table was understood
    layout: str = "opentwps"  # opentwps | header | guidelines | code_changes
    kind_source: str = "columns"
    mapping: dict[str, str] = field(default_factory=dict)  # header as written → field
    date_order: str | None = None  # dmy | mdy | ymd | None (no ambiguous dates)
    # what the hyphens in the codes were: range | pair | both | None (no hyphenated code)
    hyphen: str | None = None
    increments: dict[str, int] = field(default_factory=dict)  # source → rows
    # the notes' increment rules: {sentence, names, first, next, rows, default}
    # (docs/reading.md#decks-nobody-taught-us)
    increment_rules: list[dict] = field(default_factory=list)
    currency: str | None = None
    product: str | None = None
    notice: dict = field(default_factory=dict)  # NoticeFacts.as_dict()
    skipped: dict[str, int] = field(default_factory=dict)  # blank, repeated_header, footnote…
    table_suffix: str | None = None  # one table per jurisdiction: the suffix of its name
    # what the reader could not settle: the deck is held (doubt.GUARD) until a person answers
    doubts: list[Doubt] = field(default_factory=list)
    # the layout's key for vendor profiles (docs/reading.md#decks-nobody-taught-us): the header
    # row's words, hashed
    fingerprint: str | None = None
    # how each sheet column was read (evidence.ColumnReading.as_dict): field, source, confidence
    columns: list[dict] = field(default_factory=list)
    # every sheet of the file and what became of it (the file's first deck carries them)
    sheets: list[dict] = field(default_factory=list)
    # a code-changes sheet's rows per action: removed, blocked, added, added_with_rate (once
    # ``deck.combine`` found the added codes' rates in the price sheet), unchanged
    code_changes: dict[str, int] = field(default_factory=dict)
    # the rows a code-changes sheet adds (``row_changes._additions``), until ``deck.combine``
    # finds their rates in the price sheet or rejects them
    additions: pl.DataFrame | None = None
    header: tuple[str, ...] = ()  # the header row's cells as written, in sheet order (people)

    def report(self) -> dict:
        """The detection report of this sheet, JSON-ready."""
        return {
            "sheet": self.sheet,
            "layout": self.layout,
            "header_row": self.header_row,
            "kind": str(self.kind),
            "kind_source": self.kind_source,
            "mapping": self.mapping,
            "date_order": self.date_order,
            "hyphen": self.hyphen,
            "increments": self.increments,
            "increment_rules": self.increment_rules,
            "currency": self.currency,
            "product": self.product,
            "notice": self.notice,
            "rows": {
                "seen": self.total_rows,
                "accepted": self.rows.height,
                "rejected": len(self.errors),
            },
            "skipped": self.skipped,
            "table_suffix": self.table_suffix,
            "warnings": self.warnings,
            "doubts": [d.as_dict() for d in self.doubts],
            "fingerprint": self.fingerprint,
            "columns": self.columns,
            "sheets": self.sheets,
            "code_changes": self.code_changes,
        }


@dataclass(frozen=True)
class _Table:
    sheet: Sheet
    kind: Kind
    header_index: int  # 0-based row of the header in the sheet frame
    columns: dict[str, str]  # frame column name (field, "timezone", …) → sheet column c<i>
    headers: dict[str, str]  # frame column name → header as written
    warnings: tuple[str, ...]


def read_opentwps(
    data: bytes,
    *,
    filename: str | None = None,
    kind: Kind | str | None = None,
    timezone: str = "UTC",
    currency: str | None = None,
    date_order: str = "auto",
    max_rows: int = 2_000_000,
    max_columns: int = 200,
) -> DeckRead:
    """Read an OpenTWPS CSV/XLSX/JSON file (docs/operations.md#exports) into normalized rows."""
    wanted = Kind(kind) if kind else None
    parse_timezone(timezone)  # a wrong default is the caller's mistake: ValueError
    if currency is not None and not (len(currency.strip()) == 3 and currency.strip().isalpha()):
        raise ValueError(f"{currency!r} is not a three-letter currency code")
    if _is_json(data):
        sheets = [_json_sheet(data, filename, max_rows=max_rows, max_columns=max_columns)]
        neutralized = False  # the exporter writes JSON text as it is
    else:
        sheets = read_sheets(data, filename=filename, max_rows=max_rows, max_columns=max_columns)
        neutralized = True
    table = _find_table(sheets, wanted)
    return _read_table(
        table,
        timezone=timezone,
        currency=currency.strip().upper() if currency else None,
        date_order=date_order,
        neutralized=neutralized,
    )


# --- JSON ------------------------------------------------------------------------------------


def _is_json(data: bytes) -> bool:
    return data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{"


def _json_sheet(data: bytes, filename: str | None, *, max_rows: int, max_columns: int) -> Sheet:
    """Our JSON export as a sheet: the column names are row 1, each row follows."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
        columns, rows = document["columns"], document["rows"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SheetError(
            "unreadable", f'not an OpenTWPS JSON export ({{"columns", "rows"}}): {exc}'
        ) from exc
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise SheetError("unreadable", '"columns" and "rows" of a JSON export must be lists')
    if len(columns) > max_columns:
        raise SheetError("too_many_columns", f"more than {max_columns} columns (limit)")
    if len(rows) > max_rows:
        raise SheetError("too_many_rows", f"more than {max_rows} rows (limit)")
    if any(not isinstance(row, list) or len(row) != len(columns) for row in rows):
        raise SheetError("unreadable", "every JSON row must be a list as long as the columns")
    names = [f"c{i}" for i in range(len(columns))]
    try:
        values = pl.DataFrame(rows, schema=names, orient="row", strict=False)
        values = values.select(
            # JSON booleans are flags: 1/0 as in the other formats
            pl.col(c).cast(pl.Int8 if values.schema[c] == pl.Boolean else pl.String).cast(pl.String)
            for c in names
        )
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise SheetError(
            "unreadable", f"the JSON rows hold values that are not cells: {exc}"
        ) from exc
    header = pl.DataFrame([[str(c) for c in columns]], schema=names, orient="row")
    name = PurePath(filename).stem if filename else "json"
    return Sheet(name, pl.concat([header, values]))


# --- finding the table -----------------------------------------------------------------------


def _header_map(kind: Kind) -> dict[str, str]:
    """Lower-cased header → frame column, for the OpenTWPS and extended headers of ``kind``."""
    known = {header.lower(): name or TIMEZONE for header, name in opentwps_columns(kind)}
    known.update((header.lower(), name) for header, name in extended_columns(kind))
    return known


def _find_table(sheets: list[Sheet], wanted: Kind | None) -> _Table:
    other = None
    for sheet in sheets:
        top = sheet.frame.head(HEADER_SEARCH_ROWS)
        for index, row in enumerate(top.iter_rows()):
            cells = [(cell or "").strip().lower() for cell in row]
            for kind in Kind:
                spec = spec_for(kind)
                prices = {h.lower() for h, n in opentwps_columns(kind) if n in spec.prices}
                if spec.key_header.lower() in cells and prices.intersection(cells):
                    if wanted is None or kind == wanted:
                        return _table(sheet, kind, index, row)
                    other = other or (kind, sheet.name)
    if other:
        raise SheetError(
            "wrong_kind",
            f"expected a {wanted} table but sheet {other[1]!r} holds a {other[0]} table",
        )
    expected = "; ".join(
        f"{kind} — {', '.join(spec_for(kind).opentwps_headers())}"
        for kind in ([wanted] if wanted else list(Kind))
    )
    raise SheetError(
        "no_table",
        f"no OpenTWPS header row in the first {HEADER_SEARCH_ROWS} rows of any sheet; "
        f"expected the headers of {expected}",
    )


def _table(sheet: Sheet, kind: Kind, index: int, row: tuple) -> _Table:
    known = _header_map(kind)
    columns: dict[str, str] = {}
    headers: dict[str, str] = {}
    warnings = []
    for position, cell in enumerate(row):
        if cell is None or not cell.strip():
            continue
        name = known.get(cell.strip().lower())
        if name is None:
            warnings.append(f"column {cell.strip()!r} is not an OpenTWPS column: ignored")
        elif name in columns:
            warnings.append(f"column {cell.strip()!r} appears twice: the first one is read")
        else:
            columns[name] = f"c{position}"
            headers[name] = cell.strip()
    return _Table(sheet, kind, index, columns, headers, tuple(warnings))


# --- reading the rows ------------------------------------------------------------------------


def _read_table(
    table: _Table,
    *,
    timezone: str,
    currency: str | None,
    date_order: str,
    neutralized: bool,
) -> DeckRead:
    spec = spec_for(table.kind)
    frame = table.sheet.frame
    sheet_columns = frame.columns
    body = frame.slice(table.header_index + 1).with_row_index(
        "source_row", offset=table.header_index + 2
    )
    key = pl.col(table.columns["code"])
    filled = pl.any_horizontal(pl.col(c).is_not_null() for c in sheet_columns)
    repeated_header = key.str.strip_chars().str.to_lowercase() == spec.key_header.lower()
    body = body.filter(filled & ~repeated_header.fill_null(False))
    raw = body.select(
        pl.col("source_row").cast(pl.Int64),
        *(pl.col(column).alias(name) for name, column in table.columns.items()),
    ).drop(CHANGE_CLASS, strict=False)
    parsed, problems = _parse(
        raw,
        spec,
        timezone=timezone,
        currency=currency,
        date_order=date_order,
        neutralized=neutralized,
    )
    problem_columns = list(problems.columns)
    checked = pl.concat([parsed, problems], how="horizontal")
    failed = pl.any_horizontal(pl.col(c).is_not_null() for c in problem_columns)
    errors = _row_errors(checked.filter(failed), raw, body, table, problem_columns)
    accepted = checked.filter(~failed).drop(problem_columns)
    accepted, conflicts, warnings = _conflicts(accepted, table)
    return DeckRead(
        kind=table.kind,
        rows=accepted,
        errors=sorted(errors + conflicts, key=lambda e: (e.row or 0, e.reason)),
        warnings=list(table.warnings) + warnings,
        sheet=table.sheet.name,
        header_row=table.header_index + 1,
        total_rows=raw.height,
    )


def _parse(
    raw: pl.DataFrame,
    spec: KindSpec,
    *,
    timezone: str,
    currency: str | None,
    date_order: str,
    neutralized: bool,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed columns (``spec.schema()`` order) and one problem column per read column."""
    height = raw.height
    values: dict[str, pl.Series] = {}
    problems: dict[str, pl.Series] = {}

    def column(name: str) -> pl.Series | None:
        return raw.get_column(name) if name in raw.columns else None

    def blank(series: pl.Series) -> pl.Series:
        return series.is_null() | (series.str.strip_chars() == "")

    codes = column("code")
    values["code"], problems["code"] = parse_codes(
        codes, international_prefix=spec.kind != Kind.SMS
    )
    zones = column(TIMEZONE)
    defaults = {f.name: f.default for f in spec.fields}
    schema = spec.schema()
    for name, dtype in schema.items():
        if name == "code":
            continue
        cells = column(name)
        if cells is None:
            values[name] = pl.Series(name, [defaults.get(name)] * height, dtype=dtype)
            continue
        if dtype == PRICE:
            values[name], problems[name] = parse_prices(cells)
            if name in REQUIRED_PRICES[spec.kind]:
                problems[name] = _missing(problems[name], blank(cells), "missing_price")
        elif dtype == TIME:
            values[name], problems[name], _ = parse_datetimes(
                cells, date_order=date_order, timezone=timezone, zones=zones
            )
        elif dtype == pl.Int32:
            reason = "bad_interval" if name in spec.intervals else "bad_number"
            values[name], problems[name] = parse_ints(cells, reason=reason)
        elif dtype == pl.Boolean:
            values[name], problems[name] = parse_flags(cells)
        elif name == "currency":
            values[name], problems[name] = _currencies(cells)
        else:
            values[name] = _text(cells, neutralized=neutralized)
        if defaults.get(name) is not None:  # a blank cell takes the OpenTWPS default too
            values[name] = values[name].fill_null(defaults[name])
    # OpenTWPS: a missing Price N is Price1 (docs/reading.md#prices)
    if "price_n" in values and "price1" in values:
        values["price_n"] = values["price_n"].fill_null(values["price1"])
    for flag in ("forbidden", "discontinued"):
        values[flag] = values[flag].fill_null(False)
    if currency:
        values["currency"] = values["currency"].fill_null(currency)
    parsed = pl.DataFrame(
        {name: values[name].rename(name).cast(dtype) for name, dtype in schema.items()}
        | {"source_row": raw.get_column("source_row")}
    )
    return parsed, pl.DataFrame({f"problem_{k}": v.rename(k) for k, v in problems.items()})


def _missing(problems: pl.Series, where: pl.Series, reason: str) -> pl.Series:
    """``problems`` with ``reason`` where ``where`` holds."""
    return pl.select(pl.when(where).then(pl.lit(reason)).otherwise(problems)).to_series()


# --- row errors and conflicts ----------------------------------------------------------------


def _row_errors(
    failed: pl.DataFrame,
    raw: pl.DataFrame,
    body: pl.DataFrame,
    table: _Table,
    problem_columns: list[str],
) -> list[RowError]:
    if failed.height == 0:
        return []
    sheet_columns = [c for c in body.columns if c != "source_row"]
    rows = failed.select("source_row").join(
        body, on="source_row", how="left", maintain_order="left"
    )
    texts = failed.select("source_row").join(
        raw, on="source_row", how="left", maintain_order="left"
    )
    errors = []
    for problem, cells, text in zip(
        failed.select(problem_columns).iter_rows(named=True),
        rows.select(sheet_columns).iter_rows(),
        texts.iter_rows(named=True),
        strict=True,
    ):
        # in the order of the sheet's columns: the leftmost problem is the row's reason
        found = sorted(
            (int(table.columns[column.removeprefix("problem_")][1:]), column, reason)
            for column, reason in problem.items()
            if reason is not None
        )
        found = [(column.removeprefix("problem_"), reason) for _, column, reason in found]
        messages = [
            f"{_header_of(table, name)} {text.get(name)!r} {REASON_TEXT.get(reason, reason)}"
            for name, reason in found
        ]
        errors.append(
            RowError(
                reason=found[0][1],
                message="; ".join(messages),
                row=text["source_row"],
                sheet=table.sheet.name,
                cells=_raw_cells(cells),
                code=text.get("code"),
            )
        )
    return errors


def _header_of(table: _Table, name: str) -> str:
    return table.headers.get(name, name)


def _conflicts(rows: pl.DataFrame, table: _Table) -> tuple[pl.DataFrame, list[RowError], list[str]]:
    """The same code and effective time twice: identical rows are one row (with a warning),
    different rows are all rejected as ``conflict`` (docs/reading.md#cells)."""
    keys = ["code", "effective_from"]
    values = [c for c in rows.columns if c not in (*keys, "source_row")]
    twice = rows.select(pl.struct(keys).is_duplicated()).to_series()
    if not twice.any():
        return rows, [], []
    marked = rows.filter(twice).with_columns(
        pl.len().over(keys).alias("_count"),
        pl.struct(values).n_unique().over(keys).alias("_variants"),
        pl.col("source_row").implode().over(keys).alias("_rows"),
    )
    errors = []
    warnings = []
    for row in marked.iter_rows(named=True):
        where = ", ".join(str(r) for r in sorted(row["_rows"]))
        when = row["effective_from"] or "ASAP"
        if row["_variants"] > 1:
            errors.append(
                RowError(
                    reason="conflict",
                    message=f"code {row['code']} (effective {when}) has different values in "
                    f"rows {where}",
                    row=row["source_row"],
                    sheet=table.sheet.name,
                    code=row["code"],
                    cells=_raw_cells(table.sheet.frame.row(row["source_row"] - 1)),
                )
            )
        elif row["source_row"] == min(row["_rows"]):
            warnings.append(
                f"code {row['code']} (effective {when}) appears {row['_count']} times with the "
                f"same values (rows {where}): read once"
            )
    first = pl.col("source_row") == pl.col("source_row").min().over(keys)
    kept = marked.filter((pl.col("_variants") == 1) & first).drop("_count", "_variants", "_rows")
    return pl.concat([rows.filter(~twice), kept]).sort("source_row"), errors, warnings
