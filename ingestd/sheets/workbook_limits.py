"""A workbook measured before the reader library sees it (docs/reading.md#files).

calamine (under fastexcel) holds a sheet as a dense grid of 32-byte cells from its first to
its last used row and column, and every shared string, before n_rows/use_columns apply: two
cells far apart (A1 and XFD1048576: 550 GB) or a part that inflates a thousandfold abort the
process.  So the parts are inflated and measured here first, within these limits.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from ingestd.errors import SheetError
from ingestd.sheetcache import WorkbookScan, is_sheet_xml
from ingestd.sheets.archive import CHUNK, member_label
from ingestd.sheets.biff_extent import XlsbRecords, check_xls
from ingestd.sheets.filetype import OLE2_MAGIC, ZIP_MAGIC
from ingestd.sheets.ods_extent import OdsExtent
from ingestd.sheets.sheet_extent import MAX_GRID_CELLS, SheetExtent

MAX_PART_RATIO = 100  # real sheet XML compresses 5-20×, deflated zeros about 1000×
_RATIO_FLOOR = 16 * 2**20  # parts smaller than this may compress as well as they like
_XML_PER_ROW = 1024  # workbook XML allowed per row of max_rows (a real deck: ~300 bytes)
_PART = re.compile(r"\.(xml|bin)$", re.I)
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.(xml|bin)$", re.I)
_TEXT_PART = re.compile(r"^xl/sharedStrings\.xml$", re.I)


def check_workbook(
    data: bytes,
    *,
    max_rows: int,
    max_columns: int,
    max_cell_size: int = 32_767,
    scan: WorkbookScan | None = None,
) -> None:
    """Refuse a workbook the reader library cannot read safely: password-protected, a part
    that inflates beyond the limits, a sheet whose cells span more than the limits.  ``scan``
    is shown every part inflated (for reading the workbook again, ``reread``)."""
    if data.startswith(OLE2_MAGIC):
        _check_not_encrypted(data)
        check_xls(data, max_rows=max_rows, max_columns=max_columns)
    elif data.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                _check_parts(
                    archive, max_rows=max_rows, max_columns=max_columns,
                    max_cell_size=max_cell_size, scan=scan,
                )  # fmt: skip
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error) as exc:
            raise SheetError("unreadable", f"the workbook cannot be unpacked: {exc}") from exc


def _check_not_encrypted(data: bytes) -> None:
    """A password-protected XLSX is an OLE container with these streams ([MS-OFFCRYPTO] 2.3.4);
    stream names are UTF-16LE in the directory."""
    if any((name + "\0").encode("utf-16-le") in data for name in ("EncryptedPackage",)):
        raise SheetError(
            "encrypted", "the workbook is password-protected; send it without a password"
        )


def _check_parts(
    archive: zipfile.ZipFile,
    *,
    max_rows: int,
    max_columns: int,
    max_cell_size: int,
    scan: WorkbookScan | None,
) -> None:
    budget = max(_XML_PER_ROW * max_rows, 64 * 2**20)
    unpacked = 0
    ods = "xl/workbook.xml" not in archive.namelist()
    # the parts that are not sheet XML first: the sheets' cells depend on them (scan's key)
    for info in sorted(archive.infolist(), key=lambda i: is_sheet_xml(i.filename)):
        if not _PART.search(info.filename):
            continue  # images and other media: the reader never inflates them
        label = member_label(info.filename)
        extent = SheetExtent(label) if _SHEET_PART.match(info.filename) else None
        records = None
        if extent is not None and info.filename.lower().endswith(".bin"):  # XLSB
            extent = SheetExtent(label, columns=0, rows=0)
            records = XlsbRecords(extent)
        tables, text = None, None
        if ods and info.filename == "content.xml":
            tables = OdsExtent(max_rows, max_columns, max_cell_size)
        if extent is not None or tables is not None or _TEXT_PART.match(info.filename):
            text = _TextRun(label, max_cell_size)
        feed, sheet = None, None
        if scan is not None:
            if is_sheet_xml(info.filename):
                sheet = scan.sheet_part(info.filename)
                feed = sheet.feed
            else:
                feed = scan.other_part(info.filename)
        size = 0
        with archive.open(info) as part:
            while chunk := part.read(CHUNK):
                size += len(chunk)
                unpacked += len(chunk)
                if unpacked > budget:
                    raise SheetError(
                        "too_large",
                        f"the workbook's parts unpack to more than {budget} bytes (limit)",
                    )
                if size > _RATIO_FLOOR and size > MAX_PART_RATIO * max(info.compress_size, 1):
                    raise SheetError(
                        "too_large",
                        f"workbook part {label!r} inflates more than {MAX_PART_RATIO} times "
                        f"its {info.compress_size} bytes (a zip bomb)",
                    )
                if records is not None:
                    records.feed(chunk)
                elif extent is not None:
                    extent.feed(chunk)
                if text is not None:
                    text.feed(chunk)
                if feed is not None:
                    feed(chunk)
                if tables is not None:
                    tables.feed(chunk)
        if sheet is not None:
            sheet.close()
        if tables is not None:
            tables.close()
        if extent is not None:
            if extent.bare:
                extent.rescan_bare(archive, info)
            if extent.rows * extent.columns > MAX_GRID_CELLS and extent.rows == 999_999:
                # a wide sheet: how far down its cells reach decides, so look again closely
                extent.rescan_rows(archive, info, MAX_GRID_CELLS // extent.columns)
            extent.check(max_rows=max_rows, max_columns=max_columns)


class _TextRun:
    """The longest run of a part without a ``<``, as it inflates: a text (a cell's, a shared
    string's) or an attribute value at least that long.  Only runs that cross a chunk's edge
    are measured (two searches a chunk), so every run longer than a chunk is seen and refused
    where it is certainly longer than ``max_cell_size`` characters (a character is at most 10
    bytes written as a reference, ``&#x10FFFF;``) before the reader holds it; the exact
    measure is ``sheets.read``'s.  White space between elements is no cell (a part padded
    with it is a zip bomb, refused as one)."""

    def __init__(self, label: str, max_cell_size: int):
        self.label, self.max_cell_size = label, max_cell_size
        self.bound = max(10 * max_cell_size, CHUNK)
        self.run = 0  # bytes without a "<" at the end of what was fed
        self.solid = False  # the run holds more than white space

    def feed(self, chunk: bytes) -> None:
        first = chunk.find(b"<")
        head = chunk if first < 0 else chunk[:first]
        self.run += len(head)
        self.solid = self.solid or bool(head.strip())
        if self.run > self.bound and self.solid:
            raise SheetError(
                "cell_too_large",
                f"workbook part {self.label!r} holds a text of more than {self.bound} bytes: a "
                f"cell longer than {self.max_cell_size} characters (limit)",
            )
        if first >= 0:
            last = chunk.rfind(b"<")
            self.run = len(chunk) - 1 - last
            after = chunk.find(b">", last)
            self.solid = after < 0 or bool(chunk[after + 1 :].strip())
