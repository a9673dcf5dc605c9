"""How far each table of an ODS workbook reaches as calamine holds it, measured from
``content.xml`` as it inflates (docs/reading.md#files)."""

from __future__ import annotations

import operator
import re
from itertools import repeat
from operator import methodcaller

from ingestd.errors import SheetError
from ingestd.sheets.sheet_extent import MAX_GRID_CELLS

# calamine holds an ODS cell about four times as big as an XLSX one (a copy of its value and
# of its formula; measured: 40 million repeated cells took 4.9 GB), so an ODS table may span a
# quarter of MAX_GRID_CELLS (≈ 1.5 GB).
MAX_ODS_CELLS = MAX_GRID_CELLS // 4
# content.xml is cut into rows and tables (a million rows: well under a second); a row's cells
# are looked at one by one only where the row repeats some of them
_ODS_TOKEN = re.compile(
    rb"<table:table-row(?=[\s/>])([^>]*?)(/?)>|</table:table-row>"
    rb"|<table:table(?=[\s/>])([^>]*?)(/?)>"
)
_ROW_END = b"</table:table-row>"
_FEW = 4  # repeated cells counted with their row's cells at once (more: one row at a time)
# what only the row-by-row reading understands: repeats, runs of spaces, a new table
_NOT_PLAIN = (
    b"number-rows-repeated=", b'text:c="', b"<table:table ", b"<table:table>", b"<table:table-row/>"
)  # fmt: skip
_ROWS_REPEATED = re.compile(rb'table:number-rows-repeated="([0-9]{1,12})"')
_COLUMNS_REPEATED = re.compile(rb'table:number-columns-repeated="([0-9]{1,12})"')
_TABLE_NAME = re.compile(rb'table:name="([^"]*)"')
_SPACES = re.compile(rb'<text:s(?=[\s/>])[^>]*?text:c="([0-9]{1,12})"')


class OdsExtent:
    """How far each table of an ODS ``content.xml`` reaches as calamine holds it, fed the part
    as it inflates: from the first row with a value to the last, repeated rows counted, by the
    widest such row up to its last value (repeated cells counted).  Empty rows and cells after
    the last value cost nothing: LibreOffice ends every table with a million empty rows."""

    def __init__(self, max_rows: int, max_columns: int, max_cell_size: int):
        self.max_rows, self.max_columns, self.max_cell_size = max_rows, max_columns, max_cell_size
        self.pending, self.resume = b"", 0  # bytes not yet cut into rows; where to go on
        self.row_start: int | None = None  # where the open row's cells start in ``pending``
        self.repeat = 1
        self.barriers: dict[bytes, int] = {}
        self._table(b"")

    def _table(self, attrs: bytes) -> None:
        name = _TABLE_NAME.search(attrs)
        self.table = name.group(1).decode("utf-8", "replace") if name else "?"
        self.row, self.first, self.last, self.width = 0, 0, 0, 0

    def feed(self, chunk: bytes) -> None:
        text = self.pending + chunk
        cut = text.rfind(b"<")  # a tag may go on in the next chunk
        cut = len(text) if cut < 0 else max(cut, self.resume)
        self._tokens(text, cut)
        keep = cut if self.row_start is None else self.row_start
        self.pending, self.resume = text[keep:], cut - keep
        if self.row_start is not None:
            self.row_start = 0

    def close(self) -> None:
        self._tokens(self.pending, len(self.pending))

    def _tokens(self, text: bytes, end: int) -> None:
        at, self.barriers = self.resume, {}
        while True:
            if self.row_start is None:
                at = self._plain_rows(text, at, end)
            token = _ODS_TOKEN.search(text, at, end)
            if token is None:
                return
            at = token.end()
            row_attrs, row_closed, table_attrs, table_closed = token.groups()
            if row_attrs is not None:
                repeat = _repeats(_ROWS_REPEATED, row_attrs)
                if row_closed:  # <table:table-row/>: an empty row
                    self.row += repeat
                else:
                    self.row_start, self.repeat = token.end(), repeat
            elif table_attrs is not None:
                if not table_closed:
                    self._table(table_attrs)
            elif self.row_start is not None:  # </table:table-row>
                self._row(text[self.row_start : token.start()])
                self.row_start = None

    def _plain_rows(self, text: bytes, start: int, end: int) -> int:
        """The whole rows from ``start`` counted at once where none repeats (most of a deck):
        without repeated cells each taken as holding values, as wide as its cells; with them,
        as ``_ods_row_width`` says.  Returns where they end."""
        stop = end
        for needle in _NOT_PLAIN:  # where each is next, found once per pass over the text
            found = self.barriers.get(needle, -2)
            if -1 != found < start:
                found = self.barriers[needle] = text.find(needle, start, end)
            if found >= 0:
                stop = min(stop, found)
        last = text.rfind(_ROW_END, start, stop)
        if last < 0:
            return start
        rows = text[start : last + len(_ROW_END)]
        count = rows.count(_ROW_END)
        if rows.count(b"<table:table-row ") + rows.count(b"<table:table-row>") != count:
            return start
        repeats = _COLUMNS_REPEATED.findall(rows)
        if repeats and max(map(int, repeats)) <= _FEW:
            # a few equal values side by side (LibreOffice writes them as one repeated cell):
            # each row as wide as its cells and its repeats at most, counted at once
            each, most = rows.split(_ROW_END), max(map(int, repeats))
            cells = map(methodcaller("count", b"<table:table-cell"), each)
            if b"<table:covered-table-cell" in rows:
                covered = map(methodcaller("count", b"<table:covered-table-cell"), each)
                cells = map(operator.add, cells, covered)
            more = map(
                operator.mul, map(methodcaller("count", b"-repeated="), each), repeat(most - 1)
            )
            if not self.last:
                self.first = self.row
            self.last = self.row + count
            self.width = max(self.width, max(map(operator.add, cells, more)))
            self._check()
        elif repeats:
            widths = list(map(_ods_row_width, rows.split(_ROW_END)[:-1]))
            first = next((i for i, width in enumerate(widths) if width), None)
            if first is not None:
                after = len(widths) - next(i for i, width in enumerate(reversed(widths)) if width)
                if not self.last:
                    self.first = self.row + first
                self.last, self.width = self.row + after, max(self.width, max(widths))
                self._check()
        elif b"value" in rows or b"formula" in rows:
            each = rows.split(_ROW_END)
            width = max(map(methodcaller("count", b"<table:table-cell"), each))
            if b"<table:covered-table-cell" in rows:
                width += max(map(methodcaller("count", b"<table:covered-table-cell"), each))
            if not self.last:
                self.first = self.row
            self.last, self.width = self.row + count, max(self.width, width)
            self._check()
        self.row += count
        return last + len(_ROW_END)

    def _row(self, cells: bytes) -> None:
        if b'text:c="' in cells:  # <text:s text:c="N"/>: N spaces, which the reader writes out
            for spaces in _SPACES.finditer(cells):
                if int(spaces.group(1)) > self.max_cell_size:
                    raise SheetError(
                        "cell_too_large",
                        f"table {self.table!r} has a cell of more than {self.max_cell_size} "
                        f"characters in row {self.row + 1} (limit)",
                    )
        width = _ods_row_width(cells)
        if width:
            if not self.last:
                self.first = self.row
            self.last, self.width = self.row + self.repeat, max(self.width, width)
            self._check()
        self.row += self.repeat

    def _check(self) -> None:
        where = f"table {self.table!r} has values"
        if self.width > self.max_columns:
            raise SheetError(
                "too_many_columns",
                f"{where} in column {self.width}: more than {self.max_columns} columns (limit)",
            )
        if self.last > self.max_rows:
            raise SheetError(
                "too_many_rows",
                f"{where} in row {self.last}: more than {self.max_rows} rows (limit)",
            )
        if (self.last - self.first) * self.width > MAX_ODS_CELLS:
            raise SheetError(
                "too_many_cells",
                f"{where} across {self.last - self.first} rows (repeated rows counted) by "
                f"{self.width} columns: more than {MAX_ODS_CELLS} cells (limit for ODS)",
            )


def _repeats(attribute: re.Pattern[bytes], attrs: bytes) -> int:
    found = attribute.search(attrs)
    return max(int(found.group(1)), 1) if found else 1


def _ods_row_width(cells: bytes) -> int:
    """How many cells of an ODS row calamine holds: up to its last cell with a value or a
    formula (an upper bound: "value" anywhere in the row counts)."""
    if b"value" not in cells and b"formula" not in cells:
        return 0
    if b"-repeated=" in cells:  # the cells up to the end of the last tag with a value
        close = cells.find(b">", max(cells.rfind(b"value"), cells.rfind(b"formula")))
        cells = cells[: close + 1] if close >= 0 else cells
        repeats = sum(max(int(n), 1) - 1 for n in _COLUMNS_REPEATED.findall(cells))
    else:
        repeats = 0
    return cells.count(b"<table:table-cell") + cells.count(b"<table:covered-table-cell") + repeats
