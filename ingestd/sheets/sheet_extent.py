"""How far a workbook sheet's cells reach as calamine holds them: a dense grid from the first to
the last used row and column (docs/reading.md#files).  XLSX sheets are measured from their cell
references; ``sheets.biff_extent`` fills the same measure from binary records."""

from __future__ import annotations

import functools
import re
import zipfile
from dataclasses import dataclass, field

from ingestd.errors import SheetError
from ingestd.sheets.archive import CHUNK

MAX_GRID_CELLS = 50_000_000  # ≈ 1.6 GB in calamine: a 2M-row deck of 25 columns still fits
# a cell reference past column Z or row 999,999, or a row numbered past it (one quick pass
# finds none in a real deck), then the whole reference of a cell with content (self-closing
# cells are empty and calamine skips them) or of a row (its cells without a reference of their
# own are in it)
_FAR_CELL = re.compile(rb' r="(?:[A-Z]{2,3}[0-9]|[A-Z]?[0-9]{7})')
_CELL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]{1,9})"[^>]*(?<!/)>')
_ROW_REF = re.compile(rb' r="([0-9]{1,9})"[^>]*(?<!/)>')
# a cell without a reference (calamine puts it right of the cell before it in its row), told
# quickly: spreadsheet programs write the reference first; cells with a namespace prefix are
# looked at closely too
_BARE_CELL = re.compile(rb"<c(?: (?:[^r]|r[^=])|>)")
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:worksheet[\s>]")
_ROW_CLOSE = re.compile(rb"</(?:\w+:)?row>")
_CELL_OPEN = re.compile(rb"<(?:\w+:)?c(?=[\s>/])")
_TAIL = 64  # bytes carried between chunks, so a cell reference split by a chunk is seen


@dataclass
class SheetExtent:
    """How far a sheet's cells reach, from their references (``r="AB12"``), found cheaply: a
    real deck has no column past Z and no row past 999,999, so the scan finds almost
    nothing in it."""

    label: str
    columns: int = 26  # "Z": no reference with two letters seen
    rows: int = 999_999  # no reference with seven digits seen
    bare: bool = False  # a cell without a reference seen
    tail: bytes = field(default=b"", repr=False)  # the end of the chunk fed last

    def feed(self, chunk: bytes) -> None:
        """The next chunk of the sheet part as it inflates."""
        self.scan(self.tail + chunk)
        self.tail = chunk[-_TAIL:]

    def scan(self, text: bytes) -> None:
        for far in _FAR_CELL.finditer(text):
            cell = _CELL_REF.match(text, far.start())
            if cell is not None:
                self.columns = max(self.columns, _column_number(cell.group(1)))
                self.rows = max(self.rows, int(cell.group(2)))
            elif (row := _ROW_REF.match(text, far.start())) is not None:
                self.rows = max(self.rows, int(row.group(1)))
        self.bare = (
            self.bare
            or _PREFIXED.search(text, 0, 4096) is not None
            or _BARE_CELL.search(text) is not None
        )

    def rescan_bare(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        """Where cells have no reference: the most cells one row holds, added to the farthest
        column referenced (an upper bound of where calamine puts them), and the rows counted
        one by one where they have no number either."""
        most, count, carry = 0, 0, b""
        with archive.open(info) as part:
            while chunk := part.read(CHUNK):
                rows = _ROW_CLOSE.split(carry + chunk)
                carry = rows.pop()
                count += len(rows)
                most = max(most, max((len(_CELL_OPEN.findall(row)) for row in rows), default=0))
        most = max(most, len(_CELL_OPEN.findall(carry)))
        self.columns += most
        self.rows = max(self.rows, count)

    def rescan_rows(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, allowed: int) -> None:
        """The last row exactly, where it is at least ``allowed``'s number of digits long."""
        tall, last, tail = _tall_cells(len(str(allowed))), 0, b""
        with archive.open(info) as part:
            while chunk := part.read(CHUNK):
                for match in tall.finditer(tail + chunk):
                    last = max(last, int(match.group(1)))
                tail = chunk[-_TAIL:]
        self.rows = max(last, allowed)

    def check(self, *, max_rows: int, max_columns: int) -> None:
        if self.columns > max(max_columns, 26):
            raise SheetError(
                "too_many_columns",
                f"sheet part {self.label!r} has cells in column {self.columns}: more than "
                f"{max_columns} columns (limit)",
            )
        if self.rows > max(max_rows, 999_999):
            raise SheetError(
                "too_many_rows",
                f"sheet part {self.label!r} has cells in row {self.rows}: more than "
                f"{max_rows} rows (limit)",
            )
        if self.rows * self.columns > MAX_GRID_CELLS:
            raise SheetError(
                "too_many_cells",
                f"sheet part {self.label!r} spans {self.rows} rows by {self.columns} columns: "
                f"more than {MAX_GRID_CELLS} cells (limit)",
            )


@functools.lru_cache(maxsize=8)
def _tall_cells(digits: int) -> re.Pattern[bytes]:
    return re.compile(rb' r="[A-Z]{0,3}([0-9]{%d,9})"[^>]*(?<!/)>' % digits)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number
