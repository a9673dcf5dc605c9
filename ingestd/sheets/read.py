"""Bytes → sheets of string cells (docs/reading.md#files).

The file type is decided from the bytes, never the name (``sheets.filetype``).  Every cell comes
out as a string (or null) so the later stages see one kind of value whatever the file was: CSV
text as it stands (``sheets.text_file``), workbook cells rendered canonically
(``sheets.workbook``: dates ISO, whole numbers without ``.0``); a ZIP archive's members are read
in turn (``sheets.archive``).  No header is interpreted here; row ``i`` of a sheet's frame is
spreadsheet row ``i + 1`` (``sheets.sheet``).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

import polars as pl

from ingestd.errors import SheetError
from ingestd.sheetcache import SheetCache
from ingestd.sheets.archive import Unpacking, archive_members, member_label, unpack
from ingestd.sheets.filetype import detect_format
from ingestd.sheets.sheet import Sheet
from ingestd.sheets.text_file import read_csv
from ingestd.sheets.workbook import read_workbook

WORKBOOK_FORMATS = ("xlsx", "xlsb", "xls", "ods")


def read_sheets(
    data: bytes,
    *,
    filename: str | None = None,
    max_rows: int = 2_000_000,
    max_columns: int = 200,
    max_cell_size: int = 32_767,
    max_members: int = 50,
    max_unpacked: int = 200 * 2**20,
    max_nesting: int = 3,
    cache: SheetCache | None = None,
    keep_empty: bool = False,
) -> list[Sheet]:
    """Every non-empty sheet of a CSV/TXT file, a workbook or a ZIP archive, as string cells.

    A CSV sheet is named after the file (its stem), a workbook's sheets keep their names.  Inside
    a ZIP archive a member's sheets are ``member.xlsx:Sheet1`` or ``member.csv`` (nested archives:
    ``inner.zip:member.csv``); members that are not sheets (PDF, images) are left out.  The
    archive limits: ``max_members`` files in all, ``max_unpacked`` bytes unpacked in all (counted
    while inflating, so a zip bomb stops early), ``max_nesting`` archives inside each other.
    With a ``cache``, a workbook sheet read before is parsed only where its rows changed
    (``ingestd.sheetcache``).  A sheet with a cell longer than ``max_cell_size`` characters is
    refused.
    Sheets without a filled cell are left out, unless ``keep_empty``.
    """
    reading = _Reading(
        Unpacking(max_members, max_unpacked, max_nesting), max_rows, max_columns, max_cell_size,
        cache,
    )  # fmt: skip
    csv_name = PurePath(filename).stem if filename else "csv"
    sheets = _read_file(data, reading, label=None, csv_name=csv_name, depth=0)
    sheets = [s for s in sheets if keep_empty or _has_content(s.frame)]
    for sheet in sheets:
        if _has_content(sheet.frame):
            _check_cells(sheet, max_cell_size)
    # an empty sheet is kept only to be named in the report (docs/reading.md#decks-nobody-taught-us:
    # every sheet accounted)
    return sheets


@dataclass
class _Reading:
    """One file being read: its limits, what its archives gave so far, the sheet cache."""

    unpacking: Unpacking
    max_rows: int
    max_columns: int
    max_cell_size: int
    cache: SheetCache | None


def _check_cells(sheet: Sheet, max_cell_size: int) -> None:
    """Refuse a sheet with a cell longer than the limit (``cell_too_large``): no spreadsheet
    program writes one (README "Reading decks"), and every later stage would carry it."""
    frame = sheet.frame
    longest = frame.select(pl.col(c).str.len_bytes().max() for c in frame.columns).row(0)
    for column, size in zip(frame.columns, longest, strict=True):
        if size is None or size <= max_cell_size:
            continue  # a character is at least a byte
        cells = frame.get_column(column)
        lengths = cells.str.len_chars()
        if (longest_chars := lengths.max()) > max_cell_size:
            row = lengths.arg_max()
            start = cells[row][:20]
            raise SheetError(
                "cell_too_large",
                f"sheet {sheet.name!r} has a cell of {longest_chars} characters in row "
                f"{row + 1} (starting {start!r}): more than {max_cell_size} (limit)",
            )


def _read_file(
    data: bytes, reading: _Reading, *, label: str | None, csv_name: str, depth: int
) -> list[Sheet]:
    fmt = detect_format(data)
    if fmt == "csv":
        frame = read_csv(data, max_rows=reading.max_rows, max_columns=reading.max_columns)
        sheets = [Sheet(csv_name, frame)]
    elif fmt in WORKBOOK_FORMATS:
        # only XLSX/XLSM sheets are XML rows that can be compared (reread)
        sheets = read_workbook(
            data, max_rows=reading.max_rows, max_columns=reading.max_columns,
            max_cell_size=reading.max_cell_size, cache=reading.cache if fmt == "xlsx" else None,
        )  # fmt: skip
        if label is not None:
            sheets = [
                Sheet(f"{label}:{sheet.name}", sheet.frame, sheet.date1904) for sheet in sheets
            ]
    else:
        return _read_zip(data, reading, label=label, depth=depth + 1)
    return sheets


def _read_zip(data: bytes, reading: _Reading, *, label: str | None, depth: int) -> list[Sheet]:
    unpacking = reading.unpacking
    if depth > unpacking.max_nesting:
        raise SheetError(
            "too_deep",
            f"archives nested more than {unpacking.max_nesting} deep (limit)"
            + (f" at {label!r}" if label else ""),
        )
    sheets: list[Sheet] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive_members(archive)
            unpacking.add_members(len(members))
            for info in members:
                # a member's name is a label for people, never a path
                name = member_label(info.filename)
                name = f"{label}:{name}" if label else name
                content = unpack(archive, info, name, unpacking)
                try:
                    sheets += _read_file(content, reading, label=name, csv_name=name, depth=depth)
                except SheetError as exc:
                    if exc.reason == "unknown_format":  # a cover letter, a logo: not a sheet
                        continue
                    raise
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise SheetError("unreadable", f"the archive cannot be opened: {exc}") from exc
    return sheets


def _has_content(frame: pl.DataFrame) -> bool:
    return frame.width > 0 and frame.height > 0
