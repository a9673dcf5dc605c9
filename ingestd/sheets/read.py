"""Bytes → sheets of string cells (docs/reading.md#files).

The file type is decided from the bytes, never the name.  Every cell comes out as a string (or
null) so the later stages see one kind of value whatever the file was: CSV text as it stands,
workbook cells rendered canonically (dates ISO, whole numbers without ``.0``).  No header is
interpreted here; row ``i`` of a sheet's frame is spreadsheet row ``i + 1``.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import logging
import operator
import re
import struct
import zipfile
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from operator import methodcaller
from pathlib import PurePath

import charset_normalizer
import fastexcel
import olefile
import polars as pl

from ingestd import heap, sheetcache
from ingestd.errors import SheetError
from ingestd.sheetcache import SheetCache, WorkbookScan, is_sheet_xml

log = logging.getLogger("ingestd.sheets")

WORKBOOK_FORMATS = ("xlsx", "xlsb", "xls", "ods")
# How far down a sheet its header row is looked for (a notice block above it, a logo, a title).
HEADER_SEARCH_ROWS = 60
# A CSV/TXT delimiter is one of these; on a tie the earlier wins (a comma is the likeliest to
# appear by accident: decimal commas, "Korea, Republic of").
DELIMITERS = (";", "\t", "|", ",")
SNIFF_LINES = 50
_SNIFF_CHARS = 64 * 1024

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"%!PS": "a PostScript document",
}
# Text has almost no C0 control bytes besides tab, LF, FF, CR (and a DOS end-of-file 0x1a).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 26))
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Sheet:
    """One sheet: string columns ``c0, c1, …``; row ``i`` is spreadsheet row ``i + 1``."""

    name: str
    frame: pl.DataFrame
    # the workbook counts serial dates from 1904 (old Mac Excel): date cells are already
    # converted, but serial numbers in plain number cells must be read in that system
    date1904: bool = False


def detect_format(data: bytes) -> str:
    """``xlsx`` (also xlsm), ``xlsb``, ``ods``, ``xls``, ``zip`` or ``csv``, from magic bytes."""
    if data.startswith(_ZIP):
        return _zip_format(data)
    if data.startswith(_OLE2):
        return "xls"
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return "csv"
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise SheetError("unknown_format", f"the file is {what}, not a rate sheet")
    sample = data[:_SNIFF_CHARS]
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if controls > len(sample) // 100:
        raise SheetError(
            "unknown_format", "the file is binary data, neither text nor a known workbook"
        )
    return "csv"


def _zip_format(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "xl/workbook.bin" in names:
                return "xlsb"
            if "mimetype" in names and archive.read("mimetype").startswith(
                b"application/vnd.oasis.opendocument.spreadsheet"
            ):
                return "ods"
    except (zipfile.BadZipFile, OSError, KeyError, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: member names flagged UTF-8 that are not
        raise SheetError("unknown_format", f"the file looks like a ZIP archive but: {exc}") from exc
    return "zip"


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
    unpacking = _Unpacking(max_members, max_unpacked, max_nesting)
    csv_name = PurePath(filename).stem if filename else "csv"
    sheets = _read_file(
        data, label=None, csv_name=csv_name, depth=0, unpacking=unpacking,
        max_rows=max_rows, max_columns=max_columns, max_cell_size=max_cell_size, cache=cache,
    )  # fmt: skip
    sheets = [s for s in sheets if keep_empty or _has_content(s.frame)]
    for sheet in sheets:
        if _has_content(sheet.frame):
            _check_cells(sheet, max_cell_size)
    # an empty sheet is kept only to be named in the report (docs/reading.md#decks-nobody-taught-us:
    # every sheet accounted)
    return sheets


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
    data: bytes,
    *,
    label: str | None,
    csv_name: str,
    depth: int,
    unpacking: _Unpacking,
    max_rows: int,
    max_columns: int,
    max_cell_size: int,
    cache: SheetCache | None,
) -> list[Sheet]:
    fmt = detect_format(data)
    if fmt == "csv":
        sheets = [Sheet(csv_name, _read_csv(data, max_rows=max_rows, max_columns=max_columns))]
    elif fmt in WORKBOOK_FORMATS:
        # only XLSX/XLSM sheets are XML rows that can be compared (reread)
        sheets = _read_workbook(
            data, max_rows=max_rows, max_columns=max_columns, max_cell_size=max_cell_size,
            cache=cache if fmt == "xlsx" else None,
        )  # fmt: skip
        if label is not None:
            sheets = [
                Sheet(f"{label}:{sheet.name}", sheet.frame, sheet.date1904) for sheet in sheets
            ]
    else:
        return _read_zip(
            data, label=label, depth=depth + 1, unpacking=unpacking,
            max_rows=max_rows, max_columns=max_columns, max_cell_size=max_cell_size, cache=cache,
        )  # fmt: skip
    return sheets


# --- ZIP archives ----------------------------------------------------------------------------

_CHUNK = 1 << 20
# Members that never hold a sheet: macOS resource forks and folder metadata.
_JUNK_MEMBER = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.I)


@dataclass
class _Unpacking:
    """The limits of one archive and what has been taken from it so far (docs/reading.md#files).

    A workbook is a ZIP archive too, but its parts are not counted here: a large deck's sheet
    XML easily unpacks to more than the limit; ``max_rows``/``max_columns`` bound it instead.
    """

    max_members: int
    max_unpacked: int
    max_nesting: int
    members: int = 0
    unpacked: int = 0

    def add_members(self, count: int) -> None:
        self.members += count
        if self.members > self.max_members:
            raise SheetError(
                "too_many_members",
                f"the archive holds more than {self.max_members} files (limit)",
            )

    def add_bytes(self, count: int) -> None:
        self.unpacked += count
        if self.unpacked > self.max_unpacked:
            raise SheetError(
                "too_large",
                f"the archive unpacks to more than {self.max_unpacked} bytes (limit)",
            )


def _read_zip(
    data: bytes,
    *,
    label: str | None,
    depth: int,
    unpacking: _Unpacking,
    max_rows: int,
    max_columns: int,
    max_cell_size: int,
    cache: SheetCache | None,
) -> list[Sheet]:
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
                name = _member_label(info.filename)
                name = f"{label}:{name}" if label else name
                content = _unpack(archive, info, name, unpacking)
                try:
                    sheets += _read_file(
                        content, label=name, csv_name=name, depth=depth, unpacking=unpacking,
                        max_rows=max_rows, max_columns=max_columns,
                        max_cell_size=max_cell_size, cache=cache,
                    )  # fmt: skip
                except SheetError as exc:
                    if exc.reason == "unknown_format":  # a cover letter, a logo: not a sheet
                        continue
                    raise
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise SheetError("unreadable", f"the archive cannot be opened: {exc}") from exc
    return sheets


def archive_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files of an archive that could be content: no folders, no desktop junk."""
    return [
        info
        for info in archive.infolist()
        if not info.is_dir() and not _JUNK_MEMBER.search(info.filename)
    ]


def _member_label(filename: str) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in filename.replace("\\", "/"))
    return text.strip("/") or "?"


def _unpack(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, unpacking: _Unpacking
) -> bytes:
    """A member's bytes, counted against the limit while it inflates."""
    if info.flag_bits & 0x1:
        raise SheetError("unreadable", f"archive member {name!r} is encrypted")
    parts = []
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                unpacking.add_bytes(len(chunk))
                parts.append(chunk)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error) as exc:
        raise SheetError(
            "unreadable", f"archive member {name!r} cannot be unpacked: {exc}"
        ) from exc
    return b"".join(parts)


# --- CSV / TXT -------------------------------------------------------------------------------


# The legacy code pages decks come in (README "Reading decks"): Western, Central European,
# Cyrillic, Greek, Turkish, Hebrew, Arabic, Baltic, Chinese.
LEGACY_ENCODINGS = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
    "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_9", "iso8859_15", "koi8_r", "cp866",
    "gb18030", "big5",
)  # fmt: skip
_MULTIBYTE = ("gb18030", "big5")
# the lines with non-ASCII bytes the detector is shown (they alone tell code pages apart)
_DETECT_BYTES = 64 * 1024


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV/TXT file and the encoding it was read with.

    A BOM names the encoding; else UTF-8; else the legacy code page ``charset_normalizer``
    finds in the lines with non-ASCII bytes (cp1251, GB18030, cp1256...): of the readings with
    the fewest odd characters, the one most like a language's letters.  Where Western cp1252
    reads them as well as the best guess, cp1252 is taken (it is the usual one, and short texts
    do not tell it from cp1250), unless cp1254 reads them as Turkish.  A text read with odd
    characters and no language is cp1252 if it decodes so, else latin-1.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = _legacy_encoding(data)
    if encoding:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _legacy_encoding(data: bytes) -> str | None:
    sample = b"\n".join(re.findall(rb"[^\r\n]*[\x80-\xff][^\r\n]*", data[: 64 * _DETECT_BYTES]))
    if len(sample) > _DETECT_BYTES:  # whole lines: a character is not cut in two
        sample = sample[:_DETECT_BYTES].rpartition(b"\n")[0] or sample[:_DETECT_BYTES]
    matches = charset_normalizer.from_bytes(sample, cp_isolation=list(LEGACY_ENCODINGS))
    best = matches.best()
    if best is None or not (best.percent_coherence or best.encoding in _MULTIBYTE):
        return None  # no language's letters (a multi-byte code page is its own evidence)
    clean = [m for m in matches if m.percent_chaos == best.percent_chaos]
    likeliest = max(m.percent_coherence for m in clean)
    tied = [m for m in clean if m.percent_coherence == likeliest]
    if any(m.encoding == "cp1254" and m.language == "Turkish" for m in tied):
        return "cp1254"
    if any("cp1252" in m.could_be_from_charset for m in tied):
        return "cp1252"
    return tied[0].encoding


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most rows of one width (quotes kept)."""
    sample = text[:_SNIFF_CHARS]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        widths = Counter()
        try:
            for _, record in zip(range(SNIFF_LINES), reader, strict=False):
                if len(record) > 1:
                    widths[len(record)] += 1
        except csv.Error:
            continue
        if not widths:
            continue
        width, rows = widths.most_common(1)[0]
        if (rows, width) > best_score:
            best, best_score = delimiter, (rows, width)
    return best


class _NotUtf8(Exception):
    """The bytes taken for UTF-8 are not: they are decoded by the rules of decode_text."""


def _read_csv(data: bytes, *, max_rows: int, max_columns: int) -> pl.DataFrame:
    if b"\n" in data and not any(data.startswith(bom) for bom, _ in _BOMS):
        # UTF-8 (most decks; ASCII is UTF-8) is read by polars as it is, which checks every
        # line, and the text is decoded only where Python needs it (a tenth of a second and
        # twice the file's size in memory saved on a million rows)
        try:
            return _read_csv_text(data, _Text(data), max_rows=max_rows, max_columns=max_columns)
        except (_NotUtf8, UnicodeDecodeError):
            pass
    decoded, encoding = decode_text(data)
    utf8 = data if encoding == "utf-8" else None
    if "\n" not in decoded and "\r" in decoded:  # classic Mac line ends
        decoded, utf8 = decoded.replace("\r", "\n"), None
    utf8 = utf8 or decoded.encode("utf-8")
    return _read_csv_text(utf8, _Text(decoded), max_rows=max_rows, max_columns=max_columns)


def _read_csv_text(utf8: bytes, text: _Text, *, max_rows: int, max_columns: int) -> pl.DataFrame:
    """A CSV file from its UTF-8 bytes (for polars) and its text (for Python)."""
    delimiter = sniff_delimiter(text.head(_SNIFF_CHARS))
    longest, most = _line_stats(utf8, delimiter)
    if longest is None:  # no byte is free to split on: the lines one by one
        lines = text.whole().split("\n")
        longest = max(map(len, lines), default=0)
        most = max(map(methodcaller("count", delimiter), lines), default=0)
        del lines
    check_text(text, longest)
    # Upper bound of the width: a record on one line has at most (delimiters + 1) fields; a
    # record spanning lines is caught by the sentinel column below.
    width = min(most + 1, max_columns + 1)
    frame = _polars_csv(utf8, delimiter, width, max_rows)
    if frame is None:  # quotes inside unquoted fields: polars refuses, the csv module copes
        frame = _python_csv(text.whole(), delimiter, max_rows)
    elif frame.get_column(f"c{width}").is_not_null().any() and width <= max_columns:
        reader = csv.reader(io.StringIO(text.whole()), delimiter=delimiter)
        try:
            width = min(max(map(len, reader), default=1), max_columns + 1)
        except csv.Error as exc:
            raise _csv_refusal(exc) from exc
        frame = _polars_csv(utf8, delimiter, width, max_rows)
        if frame is None:
            frame = _python_csv(text.whole(), delimiter, max_rows)
    return _finish(frame, max_rows=max_rows, max_columns=max_columns)


class _Text:
    """A CSV file's text, from decoded text or from UTF-8 bytes decoded when first asked
    (strictly: UnicodeDecodeError when they are not UTF-8)."""

    def __init__(self, source: str | bytes):
        self._source = source

    def whole(self) -> str:
        if isinstance(self._source, bytes):
            self._source = self._source.decode("utf-8")
        return self._source

    def head(self, chars: int) -> str:
        """At most the first ``chars`` characters (of bytes: a character cut at the end is
        left out)."""
        if isinstance(self._source, bytes):
            return codecs.getincrementaldecoder("utf-8")().decode(self._source[:chars])
        return self._source[:chars]

    def find(self, part: str) -> int:
        """Where ``part`` starts (of bytes: the byte offset)."""
        if isinstance(self._source, bytes):
            return self._source.find(part.encode("utf-8"))
        return self._source.find(part)

    def line_at(self, offset: int) -> int:
        """The number of the line ``offset`` (from ``find``) is on."""
        newline = b"\n" if isinstance(self._source, bytes) else "\n"
        return self._source.count(newline, 0, offset) + 1


# No sheet has a line this long (Excel holds at most 32,767 characters in a cell): such a line
# is a binary file or a hostile one, and would cost seconds in every later stage.
MAX_LINE_CHARS = 1 << 20


def _line_stats(data: bytes, delimiter: str) -> tuple[int | None, int]:
    """The longest line (in bytes) and the most delimiters on one line of UTF-8 ``data``,
    counted by polars over the lines (read as one column split on a byte the data does not
    hold): a tenth of the time of splitting a million lines in Python.  (None, 0) when every
    candidate byte occurs."""
    free = next((b for b in ("\x1f", "\x1e", "\x1d", "\x1c") if b.encode() not in data), None)
    if free is None or not data:
        return (None if data else 0), 0
    try:
        lines = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator=free,
            quote_char=None,
            schema={"line": pl.String},
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc):
            raise _NotUtf8 from exc
        raise
    if lines.is_empty():
        return 0, 0
    line = pl.col("line").fill_null("")
    longest, most = lines.select(
        line.str.len_bytes().max().alias("longest"),
        line.str.count_matches(delimiter, literal=True).max().alias("most"),
    ).row(0)
    return int(longest or 0), int(most or 0)


def check_text(text: _Text, longest: int) -> None:
    """Refuse text that no spreadsheet wrote: NUL characters, a line of a megabyte
    (``longest``: the longest line's length)."""
    nul = text.find("\0")
    if nul >= 0:
        raise SheetError(
            "nul_bytes",
            f"the text holds NUL bytes (first on line {text.line_at(nul)}): a "
            "binary file, or UTF-16 without a byte-order mark; send it as UTF-8 text",
        )
    if longest > MAX_LINE_CHARS:
        lines = text.whole().split("\n")
        longest = max(map(len, lines))
        if longest > MAX_LINE_CHARS:
            number = next(i for i, line in enumerate(lines, 1) if len(line) == longest)
            raise SheetError(
                "line_too_long",
                f"line {number} has {longest} characters, more than {MAX_LINE_CHARS} (limit)",
            )


def _polars_csv(data: bytes, delimiter: str, width: int, max_rows: int) -> pl.DataFrame | None:
    # one sentinel column more than the expected width tells that the estimate was too small
    schema = {f"c{i}": pl.String for i in range(width + 1)}
    try:
        return pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator=delimiter,
            quote_char='"',
            schema=schema,
            truncate_ragged_lines=True,
            missing_columns="insert",
            extra_columns="ignore",  # a first line wider than the limit: the sentinel tells
            raise_if_empty=False,
            n_rows=max_rows + 1,
        )
    except pl.exceptions.ComputeError:
        return None


def _python_csv(text: str, delimiter: str, max_rows: int) -> pl.DataFrame:
    records = []
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
            if number > max_rows:
                break
            records.append(record)
    except csv.Error as exc:
        raise _csv_refusal(exc) from exc
    width = max(map(len, records), default=1)
    columns = {f"c{i}": [r[i] if i < len(r) else None for r in records] for i in range(width)}
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


def _csv_refusal(exc: csv.Error) -> SheetError:
    """The csv module's error as the sender should read it: its one limit is a field's size
    (often a quote that opens a field and never closes it), above ``max_cell_size``'s."""
    if "field larger than field limit" in str(exc):
        return SheetError(
            "cell_too_large",
            f"a quoted field runs over more than {csv.field_size_limit()} characters (limit); "
            "is a quote left open?",
        )
    return SheetError("unreadable", f"the text cannot be split into fields: {exc}")


# --- workbooks -------------------------------------------------------------------------------

# How fastexcel prints a number cell with a fraction (rounded to at most 9 decimals, no trailing
# zeros): such cells are read again as floats and printed exactly (shortest round trip).
_FASTEXCEL_FRACTION = r"^-?(0|[1-9][0-9]*)\.[0-9]{0,8}[1-9]$"
_MIDNIGHT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} 00:00:00$"


def _read_workbook(
    data: bytes,
    *,
    max_rows: int,
    max_columns: int,
    max_cell_size: int,
    cache: SheetCache | None = None,
) -> list[Sheet]:
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
            Sheet(name, _finish(frame, max_rows=max_rows, max_columns=max_columns), date1904)
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
    """A sheet's cells (not yet ``_finish``-ed): read again from the cache where its scan
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
    """The sheet's cells rendered canonically (not yet ``_finish``-ed), and the number of its
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
        text = text.rename(dict(zip(text.columns, _names(text.width), strict=True)))
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


# --- hostile workbooks -----------------------------------------------------------------------

# calamine (under fastexcel) holds a sheet as a dense grid of 32-byte cells from its first to
# its last used row and column, and every shared string, before n_rows/use_columns apply: two
# cells far apart (A1 and XFD1048576: 550 GB) or a part that inflates a thousandfold abort the
# process.  So the parts are inflated and measured here first, within these limits.
MAX_GRID_CELLS = 50_000_000  # ≈ 1.6 GB in calamine: a 2M-row deck of 25 columns still fits
MAX_PART_RATIO = 100  # real sheet XML compresses 5-20×, deflated zeros about 1000×
_RATIO_FLOOR = 16 * 2**20  # parts smaller than this may compress as well as they like
_XML_PER_ROW = 1024  # workbook XML allowed per row of max_rows (a real deck: ~300 bytes)
_PART = re.compile(r"\.(xml|bin)$", re.I)
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.(xml|bin)$", re.I)
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
    if data.startswith(_OLE2):
        _check_not_encrypted(data)
        _check_xls(data, max_rows=max_rows, max_columns=max_columns)
    elif data.startswith(_ZIP):
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
        label = _member_label(info.filename)
        extent = _SheetExtent(label) if _SHEET_PART.match(info.filename) else None
        records = None
        if extent is not None and info.filename.lower().endswith(".bin"):  # XLSB
            extent = _SheetExtent(label, columns=0, rows=0)
            records = _XlsbRecords(extent)
        tables, text = None, None
        if ods and info.filename == "content.xml":
            tables = _OdsExtent(max_rows, max_columns, max_cell_size)
        if extent is not None or tables is not None or _TEXT_PART.match(info.filename):
            text = _TextRun(label, max_cell_size)
        feed, sheet = None, None
        if scan is not None:
            if is_sheet_xml(info.filename):
                sheet = scan.sheet_part(info.filename)
                feed = sheet.feed
            else:
                feed = scan.other_part(info.filename)
        size, tail = 0, b""
        with archive.open(info) as part:
            while chunk := part.read(_CHUNK):
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
                    extent.scan(tail + chunk)
                    tail = chunk[-_TAIL:]
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


_TEXT_PART = re.compile(r"^xl/sharedStrings\.xml$", re.I)


class _TextRun:
    """The longest run of a part without a ``<``, as it inflates: a text (a cell's, a shared
    string's) or an attribute value at least that long.  Only runs that cross a chunk's edge
    are measured (two searches a chunk), so every run longer than a chunk is seen and refused
    where it is certainly longer than ``max_cell_size`` characters (a character is at most 10
    bytes written as a reference, ``&#x10FFFF;``) before the reader holds it; the exact
    measure is ``_check_cells``'s.  White space between elements is no cell (a part padded
    with it is a zip bomb, refused as one)."""

    def __init__(self, label: str, max_cell_size: int):
        self.label, self.max_cell_size = label, max_cell_size
        self.bound = max(10 * max_cell_size, _CHUNK)
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


@dataclass
class _SheetExtent:
    """How far a sheet's cells reach, from their references (``r="AB12"``), found cheaply: a
    real deck has no column past Z and no row past 999,999, so the scan finds almost
    nothing in it."""

    label: str
    columns: int = 26  # "Z": no reference with two letters seen
    rows: int = 999_999  # no reference with seven digits seen
    bare: bool = False  # a cell without a reference seen

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
            while chunk := part.read(_CHUNK):
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
            while chunk := part.read(_CHUNK):
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


class _OdsExtent:
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


# Legacy XLS (BIFF8 in an OLE compound file): calamine reserves a sheet's grid from its
# DIMENSIONS record and then holds it densely up to its farthest cell with a value; both are
# whatever the file says (a 5 KB file with a cell in column 16,384 asked for 34 GB).  A true
# XLS sheet has at most 65,536 rows by 256 columns (16.7 million cells, 1 GB in calamine).
# BIFF records of a cell with a value: FORMULA, LABELSST, RSTRING, NUMBER, LABEL, BOOLERR, RK
# (BLANK and MULBLANK are formatting only: the reader skips them); MULRK spans columns
_XLS_CELLS = frozenset((0x0006, 0x00FD, 0x00D6, 0x0203, 0x0204, 0x0205, 0x027E))
_XLS_MULRK, _XLS_DIMENSIONS, _XLS_BOF, _XLS_EOF = 0x00BD, 0x0200, 0x0809, 0x000A


def _check_xls(data: bytes, *, max_rows: int, max_columns: int) -> None:
    """Refuse a legacy XLS whose sheets declare or reach beyond the limits (the grid checks of
    ``_SheetExtent``), read from its BIFF records before the reader sees it."""
    stream = _ole_stream(data, ("workbook", "book"))
    if stream is None:
        return  # not a workbook the reader can open either: it says so
    sheet, offset, end = 0, 0, len(stream)
    extent: _SheetExtent | None = None
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
                extent = _SheetExtent(f"XLS sheet {sheet}", columns=0, rows=0)
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


class _XlsbRecords:
    """An XLSB sheet part's records, walked as the part inflates: calamine holds the sheet
    densely up to the farthest cell with a value, whose column is any 32-bit number (a cell in
    row 1,000,000, column 16,384 asked for 524 GB); it stops at a row past 1,048,576."""

    def __init__(self, extent: _SheetExtent):
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


# --- common ----------------------------------------------------------------------------------


def _names(width: int) -> list[str]:
    return [f"c{i}" for i in range(width)]


def column_position(column: str) -> int:
    """``c12`` → 12: where a sheet column (``Sheet.frame``'s names) stands, 0-based."""
    return int(column[1:])


def column_letter(column: str) -> str:
    """``c0`` → ``A``, ``c27`` → ``AB``: how a spreadsheet names the column."""
    number, letters = column_position(column) + 1, ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_named(letters: str) -> str:
    """``a`` or ``A`` → ``c0``, ``ab`` → ``c27``: the sheet column a spreadsheet letter names."""
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return f"c{number - 1}"


def _finish(frame: pl.DataFrame, *, max_rows: int, max_columns: int) -> pl.DataFrame:
    """Blank cells → null, trailing empty columns and rows dropped, limits enforced."""
    frame = frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c) for c in frame.columns
    )
    used = [c for c in frame.columns if frame.get_column(c).null_count() < frame.height]
    width = int(used[-1][1:]) + 1 if used else 0
    if used:
        filled = frame.select(pl.any_horizontal(pl.col(used).is_not_null())).to_series()
        frame = frame.head(filled.arg_true()[-1] + 1)
    else:
        frame = frame.clear()
    if width > max_columns:
        raise SheetError(
            "too_many_columns", f"the sheet has more than {max_columns} columns (limit)"
        )
    if frame.height > max_rows:
        raise SheetError("too_many_rows", f"the sheet has more than {max_rows} rows (limit)")
    return frame.select(frame.columns[:width])


def _has_content(frame: pl.DataFrame) -> bool:
    return frame.width > 0 and frame.height > 0
