"""Normalized rows → OpenTWPS CSV/XLSX/JSON (docs/operations.md#exports).

Columns carry the exact OpenTWPS headers in OpenTWPS order; the extended export adds
Description, End Date, Currency and Change Class at the end (and, for DIDs, whose OpenTWPS
layout has none, Forbidden and Discontinued).  Values are written as text that
reads back to the same table (``ingestd.sheets.opentwps`` reads these files):

- prices: exact decimal text without trailing zeros (``0.1584``, ``1``, ``0``), never a float;
- times: ``YYYY-MM-DD HH:MM:SS`` in UTC (the voice ``Timezone`` column says ``UTC``); an ASAP
  (null) effective time is empty;
- booleans ``1``/``0`` and whole numbers plain (XLSX: number cells; JSON: ``true``/``false``
  and numbers; everything else is a JSON string or ``null``);
- text a spreadsheet would run as a formula is neutralized in CSV and XLSX by one leading
  ``'`` (see ``neutralize_formula``); the reader removes exactly that quote again.  JSON text
  is written as it is.

CSV and JSON are built column-wise with polars; XLSX goes through openpyxl's write-only mode,
which takes one row at a time.
"""

from __future__ import annotations

import json
from typing import BinaryIO

import polars as pl

from ingestd.rates.model import (
    COMMON_OPENTWPS,
    EXTENDED_HEADERS,
    PRICE,
    TIME,
    Kind,
    price_text,
    spec_for,
)

FORMATS = ("csv", "xlsx", "json")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EXPORT_TIMEZONE = "UTC"
# OWASP "CSV injection": a cell starting with one of these runs as a formula.  Text that
# already starts with quotes before such a character gets one more, so the reader can always
# remove exactly one (the mapping is one-to-one).
FORMULA_START = r"^'*[=+\-@\t\r]"
_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
# OpenTWPS has no flag columns for DIDs; the extended export carries them so that a DID table
# survives the round trip (docs/operations.md#exports).
EXTENDED_FLAGS = (("Forbidden", "forbidden"), ("Discontinued", "discontinued"))


def opentwps_columns(kind: Kind | str) -> list[tuple[str, str | None]]:
    """``(header, frame column)`` in OpenTWPS order; the time zone column maps to None."""
    spec = spec_for(kind)
    column = {spec.key_header: "code"}
    if spec.from_header:
        column[spec.from_header] = "effective_from"
    column.update({f.opentwps: f.name for f in spec.fields if f.opentwps})
    # DID has no flag headers
    column.update(zip(COMMON_OPENTWPS[spec.kind], ("forbidden", "discontinued"), strict=False))
    return [(header, column.get(header)) for header in spec.opentwps_headers()]


def extended_columns(kind: Kind | str) -> list[tuple[str, str]]:
    """``(header, frame column)`` the extended export adds after the OpenTWPS columns."""
    columns = [(header, name) for name, header in EXTENDED_HEADERS.items()]
    if not COMMON_OPENTWPS[spec_for(kind).kind]:
        columns += EXTENDED_FLAGS
    return columns


def neutralize_formula(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.contains(FORMULA_START)).then("'" + text).otherwise(text)


def write_export(
    frame: pl.DataFrame,
    kind: Kind | str,
    fmt: str,
    out: BinaryIO,
    *,
    extended: bool = False,
) -> int:
    """Write ``frame`` (``spec.schema()`` columns, optionally ``change_class``) as an OpenTWPS
    file; returns the number of rows written."""
    spec = spec_for(kind)
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {FORMATS}, not {fmt!r}")
    missing = [name for name in spec.schema() if name not in frame.columns]
    if missing:
        raise ValueError(f"the {spec.kind} frame lacks the columns {missing}")
    table = opentwps_frame(frame, spec.kind, fmt, extended=extended)
    if fmt == "csv":
        _csv(table, out, header=True)
    elif fmt == "xlsx":
        _write_xlsx(table, spec.kind.value, out)
    else:
        _write_json(table, spec.kind.value, out)
    return table.height


def write_csv(frame: pl.DataFrame, kind: Kind | str, out: BinaryIO, *, header: bool) -> int:
    """``frame`` as OpenTWPS CSV, with or without the header line (a part of a streamed file)."""
    table = opentwps_frame(frame, kind, "csv")
    _csv(table, out, header=header)
    return table.height


def _csv(table: pl.DataFrame, out: BinaryIO, *, header: bool) -> None:
    table.write_csv(
        out, include_header=header, line_terminator="\r\n", null_value="", quote_style="necessary"
    )


def opentwps_frame(
    frame: pl.DataFrame, kind: Kind | str, fmt: str, *, extended: bool = False
) -> pl.DataFrame:
    """``frame`` with the OpenTWPS headers and cells as ``fmt`` (csv, xlsx, json) writes them."""
    spec = spec_for(kind)
    schema = dict(spec.schema())
    schema["change_class"] = pl.String
    columns = opentwps_columns(spec.kind) + (extended_columns(spec.kind) if extended else [])
    cells = []
    for header, name in columns:
        if name is None:
            cell = pl.lit(EXPORT_TIMEZONE, dtype=pl.String)
        elif name not in frame.columns:  # change_class of a frame that has none
            cell = pl.lit(None, dtype=pl.String)
        else:
            cell = _cell(pl.col(name), schema[name], fmt)
        cells.append(cell.alias(header))
    return frame.select(cells)


def _cell(value: pl.Expr, dtype: pl.DataType, fmt: str) -> pl.Expr:
    """One column for export: text, except whole numbers and booleans in XLSX and JSON."""
    if dtype == PRICE:
        return price_text(value)
    if dtype == TIME:
        return value.dt.strftime(TIME_FORMAT)
    if dtype == pl.Boolean:
        flag = value.cast(pl.Int8)
        return {"csv": flag.cast(pl.String), "xlsx": flag}.get(fmt, value)
    if dtype == pl.Int32:
        return value.cast(pl.String) if fmt == "csv" else value
    if fmt == "json":
        return value
    value = neutralize_formula(value)
    if fmt == "xlsx":  # characters XML 1.0 cannot hold (openpyxl refuses them)
        value = value.str.replace_all(_XML_ILLEGAL, "\ufffd")
    return value


def _write_xlsx(table: pl.DataFrame, title: str, out: BinaryIO) -> None:
    from openpyxl import Workbook  # only XLSX exports pay for importing it

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append(table.columns)
    for row in table.iter_rows():
        sheet.append(row)
    book.save(out)


def _write_json(table: pl.DataFrame, kind: str, out: BinaryIO) -> None:
    """``{"kind": …, "columns": […], "rows": [[…], …]}``: prices, times and text as strings,
    whole numbers as numbers, booleans as true/false, empty as null."""
    fragments = []
    for name, dtype in table.schema.items():
        cell = pl.col(name)
        if dtype == pl.String:
            # polars escapes the string; drop the {"v": … } around it
            cell = (
                pl.struct(cell.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")
            )
        elif dtype == pl.Boolean:
            cell = pl.when(cell).then(pl.lit("true")).when(~cell).then(pl.lit("false"))
        else:
            cell = cell.cast(pl.String)
        fragments.append(cell.fill_null("null"))
    rows = table.select(("[" + pl.concat_str(fragments, separator=",") + "]").alias("row"))
    head = json.dumps({"kind": kind, "columns": table.columns}, ensure_ascii=False)[:-1]
    body = rows.get_column("row").str.join(",\n").item() if rows.height else ""
    out.write(f'{head}, "rows": [\n{body}\n]}}\n'.encode())
