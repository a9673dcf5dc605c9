"""How far the sheets of the binary workbook formats reach, read from their records before the
reader sees them (docs/reading.md#files): legacy XLS (BIFF8 in an OLE compound file) and XLSB
(BIFF12 parts in a ZIP archive)."""

from __future__ import annotations

import io
import struct

import olefile

from ingestd.errors import SheetError
from ingestd.sheets.sheet_extent import MAX_GRID_CELLS, SheetExtent

# Legacy XLS (BIFF8 in an OLE compound file): calamine reserves a sheet's grid from its
# DIMENSIONS record and then holds it densely up to its farthest cell with a value; both are
# whatever the file says (a 5 KB file with a cell in column 16,384 asked for 34 GB).  A true
# XLS sheet has at most 65,536 rows by 256 columns (16.7 million cells, 1 GB in calamine).
# BIFF records of a cell with a value: FORMULA, LABELSST, RSTRING, NUMBER, LABEL, BOOLERR, RK
# (BLANK and MULBLANK are formatting only: the reader skips them); MULRK spans columns
_XLS_CELLS = frozenset((0x0006, 0x00FD, 0x00D6, 0x0203, 0x0204, 0x0205, 0x027E))
_XLS_MULRK, _XLS_DIMENSIONS, _XLS_BOF, _XLS_EOF = 0x00BD, 0x0200, 0x0809, 0x000A


def check_xls(data: bytes, *, max_rows: int, max_columns: int) -> None:
    """Refuse a legacy XLS whose sheets declare or reach beyond the limits (the grid checks of
    ``SheetExtent``), read from its BIFF records before the reader sees it."""
    stream = _ole_stream(data, ("workbook", "book"))
    if stream is None:
        return  # not a workbook the reader can open either: it says so
    sheet, offset, end = 0, 0, len(stream)
    extent: SheetExtent | None = None
    while offset + 4 <= end:
        kind, size = struct.unpack_from("<HH", stream, offset)
        body, offset = offset + 4, offset + 4 + size
        size = min(size, end - body)
        if kind in _XLS_CELLS or kind == _XLS_MULRK:  # most records: only two numbers read
            if extent is not None and size >= (6 if kind == _XLS_MULRK else 4):
                row, column = struct.unpack_from("<HH", stream, body)
                if kind == _XLS_MULRK:
                    (column,) = struct.unpack_from("<H", stream, body + size - 2)
                extent.rows = max(extent.rows, row + 1)
                extent.columns = max(extent.columns, column + 1)
        elif kind == _XLS_BOF and size >= 4:
            if extent is not None:
                extent.check(max_rows=max_rows, max_columns=max_columns)
            extent = None
            if struct.unpack_from("<H", stream, body + 2)[0] != 0x0005:  # not the globals
                sheet += 1
                extent = SheetExtent(f"XLS sheet {sheet}", columns=0, rows=0)
        elif extent is None:
            continue
        elif kind == _XLS_EOF:
            extent.check(max_rows=max_rows, max_columns=max_columns)
            extent = None
        elif kind == _XLS_DIMENSIONS and size >= 10:
            if size >= 14:  # BIFF8: rows as 32 bits
                _, rows, _, columns = struct.unpack_from("<IIHH", stream, body)
            else:
                _, rows, _, columns = struct.unpack_from("<HHHH", stream, body)
            if rows * columns > MAX_GRID_CELLS:
                raise SheetError(
                    "too_many_cells",
                    f"XLS sheet {sheet} declares {rows} rows by {columns} columns: more than "
                    f"{MAX_GRID_CELLS} cells (limit)",
                )
    if extent is not None:
        extent.check(max_rows=max_rows, max_columns=max_columns)


def _ole_stream(data: bytes, names: tuple[str, ...]) -> bytes | None:
    """The first stream of an OLE compound file named one of ``names`` (case-insensitive), or
    None where the file is not one, olefile cannot read it, or it has none."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as container:
            for entry in container.listdir(streams=True, storages=False):
                if len(entry) == 1 and entry[0].lower() in names:
                    return container.openstream(entry).read()
    except (OSError, ValueError, IndexError, struct.error, RecursionError):
        # a damaged container: the reader refuses it too, with its own words
        return None
    return None


class XlsbRecords:
    """An XLSB sheet part's records, walked as the part inflates: calamine holds the sheet
    densely up to the farthest cell with a value, whose column is any 32-bit number (a cell in
    row 1,000,000, column 16,384 asked for 524 GB); it stops at a row past 1,048,576."""

    def __init__(self, extent: SheetExtent):
        self.extent, self.pending, self.skip, self.row = extent, b"", 0, 0

    def feed(self, chunk: bytes) -> None:
        if self.skip >= len(chunk):
            self.skip -= len(chunk)
            return
        data, self.skip = self.pending + chunk[self.skip :], 0
        at, end, extent = 0, len(data), self.extent
        while at < end:
            head = _xlsb_head(data, at, end)
            if head is None:
                break
            kind, size, body = head
            if kind <= 0x0B:  # the dimensions (BrtWsDim) the reader does not trust
                if body + min(size, 4) > end:
                    break  # its numbers come with the next chunk
                if kind == 0x00 and size >= 4:  # BrtRowHdr
                    (self.row,) = struct.unpack_from("<I", data, body)
                elif kind >= 0x02 and size >= 4 and self.row <= 0x100000:  # a cell, not blank
                    (column,) = struct.unpack_from("<I", data, body)
                    extent.rows = max(extent.rows, self.row + 1)
                    extent.columns = max(extent.columns, column + 1)
            if body + size > end:
                self.skip, at = body + size - end, end
                break
            at = body + size
        self.pending = data[at:]


def _xlsb_head(data: bytes, at: int, end: int) -> tuple[int, int, int] | None:
    """An XLSB record's type, size and where its body starts ([MS-XLSB] 2.1.4: 7 bits a byte,
    the type in at most two bytes, the size in at most four), or None before its end."""
    if at >= end:
        return None
    kind, at = data[at], at + 1
    if kind >= 0x80:
        if at >= end:
            return None
        kind, at = (kind & 0x7F) | (data[at] & 0x7F) << 7, at + 1
    size = shift = 0
    for _ in range(4):
        if at >= end:
            return None
        byte, at = data[at], at + 1
        size, shift = size | (byte & 0x7F) << shift, shift + 7
        if byte < 0x80:
            break
    return kind, size, at
