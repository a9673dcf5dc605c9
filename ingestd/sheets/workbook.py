"""A workbook (XLSX/XLSM, XLSB, XLS, ODS) → its sheets' string cells, through calamine
(fastexcel), measured first by ``sheets.workbook_limits`` (docs/reading.md#files).

Cells are rendered canonically: dates ISO, whole numbers without ``.0``, fractions exact,
booleans 1/0.  A sheet read before is parsed again only where its rows changed
(``ingestd.sheetcache``).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor

import fastexcel
import polars as pl

from ingestd import heap, sheetcache
from ingestd.errors import SheetError
from ingestd.sheetcache import SheetCache, WorkbookScan
from ingestd.sheets.sheet import Sheet, column_names, finish_frame
from ingestd.sheets.workbook_limits import check_workbook

log = logging.getLogger("ingestd.sheets")

# How fastexcel prints a number cell with a fraction (rounded to at most 9 decimals, no trailing
# zeros): such cells are read again as floats and printed exactly (shortest round trip).
_FASTEXCEL_FRACTION = r"^-?(0|[1-9][0-9]*)\.[0-9]{0,8}[1-9]$"
_MIDNIGHT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} 00:00:00$"


def read_workbook(
    data: bytes,
    *,
    max_rows: int,
    max_columns: int,
    max_cell_size: int,
    cache: SheetCache | None = None,
) -> list[Sheet]:
    """Every sheet of a workbook, measured before it is read (``check_workbook``); with a
    ``cache``, a sheet read before is parsed only where its rows changed."""
    scan = None
    if cache is not None:
        scan = WorkbookScan(cache, max_rows=max_rows, max_columns=max_columns)
    check_workbook(
        data, max_rows=max_rows, max_columns=max_columns, max_cell_size=max_cell_size, scan=scan
    )
    try:
        reader = fastexcel.read_excel(data)
        names = reader.sheet_names
    except fastexcel.FastExcelError as exc:
        raise SheetError("unreadable", f"the workbook cannot be opened: {exc}") from exc
    sheets = []
    date1904 = _uses_1904(data)
    parts = sheetcache.sheet_parts(data) if scan is not None else {}
    for name in names:
        sheet_scan = scan.sheets.get(parts.get(name, "")) if scan is not None else None
        try:
            frame = _sheet_cells(data, reader, name, sheet_scan, cache, max_rows, max_columns)
        except fastexcel.FastExcelError as exc:
            raise SheetError("unreadable", f"sheet {name!r} cannot be read: {exc}") from exc
        sheets.append(
            Sheet(name, finish_frame(frame, max_rows=max_rows, max_columns=max_columns), date1904)
        )
        heap.trim()  # what the reader's threads freed (memory, docs/performance.md#targets)
    return sheets


def _sheet_cells(
    data: bytes,
    reader,
    name: str,
    scan: sheetcache.SheetScan | None,
    cache: SheetCache | None,
    max_rows: int,
    max_columns: int,
) -> pl.DataFrame:
    """A sheet's cells (not yet ``finish_frame``-ed): read again from the cache where its scan
    allows, else parsed whole and kept for the next read."""
    if scan is not None:
        try:
            frame = _read_again(data, name, scan, cache, max_rows, max_columns)
        except Exception as exc:  # the cache only ever saves time: parse it whole
            log.warning("sheet %r not read again, parsed whole: %r", name, exc)
        else:
            if frame is not None:
                return frame
    frame, first = _load_sheet(data, reader, name, max_rows=max_rows, max_columns=max_columns)
    if scan is not None:
        cache.put(scan, scan.slot(), frame, first)
    return frame


def _read_again(
    data: bytes,
    name: str,
    scan: sheetcache.SheetScan,
    cache: SheetCache,
    max_rows: int,
    max_columns: int,
) -> pl.DataFrame | None:
    """The sheet's cells from its last read and a parse of its changed rows, or None (parse
    it whole): ``ingestd.sheetcache``."""
    plan = sheetcache.plan(scan)
    if plan is None:
        return None
    copy = sheetcache.workbook_with_sheet(data, scan.part, plan.xml)
    fresh, fresh_first = _load_sheet(
        copy, fastexcel.read_excel(copy), name, max_rows=max_rows, max_columns=max_columns
    )
    cached_first = plan.entry.meta["first_column"]
    frame = sheetcache.assemble(plan.entry.frame(), cached_first, fresh, fresh_first, plan.spans)
    if frame is None:
        return None
    log.info(
        "sheet %r: %d of %d row segments changed since its last read, only they were parsed",
        name, plan.changed, scan.count,
    )  # fmt: skip
    if plan.changed > sheetcache.REWRITE_SHARE * scan.count:
        cache.put(scan, plan.entry.slot, frame, cached_first)
    else:
        plan.entry.touch()
    return frame


def _uses_1904(data: bytes) -> bool:
    """XLSX/XLSM: ``<workbookPr date1904="1"/>`` in xl/workbook.xml (ODS and XLS: no)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            head = archive.read("xl/workbook.xml")[:4096]
    except (zipfile.BadZipFile, KeyError, OSError):
        return False
    return re.search(rb'date1904\s*=\s*"(1|true)"', head) is not None


def _load_sheet(
    data: bytes, reader, name: str, *, max_rows: int, max_columns: int
) -> tuple[pl.DataFrame, int | None]:
    """The sheet's cells rendered canonically (not yet ``finish_frame``-ed), and the number of its
    first column (0 = A; None without cells): the frame starts at the first column with a
    cell."""

    def load(reader, dtype: str) -> tuple[pl.DataFrame, int | None]:
        # skip_rows=0 keeps blank rows above the first cell, so row numbers stay true; one
        # column more than allowed is enough to tell the limit was passed
        sheet = reader.load_sheet(
            name,
            header_row=None,
            skip_rows=0,
            n_rows=max_rows + 1,
            dtypes=dtype,
            use_columns=lambda column: column.index <= max_columns,
        )
        columns = sheet.selected_columns
        return sheet.to_polars(), columns[0].absolute_index if columns else None

    # The cells as numbers are read at the same time on the other core, by a reader of their
    # own (a reader loads one sheet at a time): nearly every deck has prices with fractions,
    # and each read parses the whole sheet (half of a million-row import,
    # docs/performance.md#targets).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbook") as pool:
        numbers = pool.submit(load, fastexcel.read_excel(data), "float")
        text, first = load(reader, "string")
        text = text.rename(dict(zip(text.columns, column_names(text.width), strict=True)))
        if text.width == 0:
            return text, None
        # which columns hold what the canonical form rewrites, in one pass: the rules then
        # run on those columns only
        found = text.select(
            pl.col(c).str.contains(what).any().alias(f"{c} {kind}")
            for c in text.columns
            for kind, what in (("m", _MIDNIGHT), ("f", _FASTEXCEL_FRACTION), ("b", _BOOLEAN))
        ).row(0, named=True)
        numeric = [c for c in text.columns if found[f"{c} f"] or found[f"{c} b"]]
        if numeric:
            floats = numbers.result()[0]
            floats.columns = [f"n{c}" for c in text.columns]
            text = pl.concat([text, floats.select(f"n{c}" for c in numeric)], how="horizontal")
    cells = [c for c in text.columns if c.startswith("c")]
    canonical = text.select(
        _canonical_cell(c, midnight=found[f"{c} m"], number=c in numeric) for c in cells
    )
    return canonical, first


_BOOLEAN = r"^(true|false)$"


def _canonical_cell(column: str, *, midnight: bool, number: bool) -> pl.Expr:
    """One workbook column rendered canonically: ISO dates, exact numbers, booleans as 1/0
    (``midnight``: the column holds date-times at midnight; ``number``: it holds numbers with
    fractions or booleans, which ``n<column>`` holds read as floats, null where the cell is not
    a number)."""
    cell = pl.col(column)
    if not (midnight or number):
        return cell
    rule = pl.when(cell.str.contains(_MIDNIGHT)).then(cell.str.slice(0, 10))
    if number:
        value = pl.col(f"n{column}")
        rule = (
            rule.when(value.is_not_null() & cell.str.contains(_FASTEXCEL_FRACTION))
            .then(value.cast(pl.String))
            .when(value.is_not_null() & cell.is_in(["true", "false"]))
            .then(value.cast(pl.Int8, strict=False).cast(pl.String))
        )
    return rule.otherwise(cell).alias(column)
