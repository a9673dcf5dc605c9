"""Hostile files (SPEC §3.1, §3.4, §5): each is refused with its own reason code within the
configured limits of time and memory, through ``ingestd import FILE`` and through a signed mail
carrying it — the sheet refused (or the part skipped), the message answered or held as the
pipeline does for bad sheets, nothing half-written, and the next message still imported.

Every input is built here and is small on disk: a zip bomb is one deflated megabyte of zeros
repeated (deflate blocks after a full flush are independent, so the stream is the same block
again and again, with its CRC computed arithmetically), never gigabytes written first."""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
import xlwt
from rig.factories import versions_are_whole
from rig.mail import VENDOR, codes, config_path, csv_deck, rate_message, signed, xlsx_deck
from rig.signers import SigningKey, rsa_key

from ingestd.cli import main
from ingestd.config import load_config
from ingestd.mail.compose import notifications
from ingestd.mail.mime import extract_sheets, parse_message
from ingestd.pipeline import Pipeline
from ingestd.rates.store import Store
from ingestd.sheets.read import MAX_GRID_CELLS, MAX_LINE_CHARS, MAX_ODS_CELLS

GiB = 2**30
# the configured limits these tests run under (smaller than the defaults, to stay fast)
LIMITS = """
[limits]
max_unpacked_size = "32MB"
max_nesting = 3
"""
SECONDS = 10.0  # generous: each refusal takes well under a second here
PEAK_MB = 1500  # the test process's peak RSS (polars, calamine and a 32 MB unpacking budget)
PYTHON_PEAK_MB = 200  # what Python itself allocated while refusing


# --- building hostile files -------------------------------------------------------------------


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """zlib's crc32_combine: the CRC of A+B from the CRCs of A and B and the length of B."""
    if length2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = [_gf2_times(odd, odd[n]) for n in range(32)]  # two
    odd = [_gf2_times(even, even[n]) for n in range(32)]  # four
    while True:
        even = [_gf2_times(odd, odd[n]) for n in range(32)]
        if length2 & 1:
            crc1 = _gf2_times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = [_gf2_times(even, even[n]) for n in range(32)]
        if length2 & 1:
            crc1 = _gf2_times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2


@dataclass(frozen=True)
class Member:
    name: str
    deflated: bytes  # raw deflate stream
    size: int  # inflated size
    crc: int


def member(name: str, content: bytes) -> Member:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Member(
        name, packer.compress(content) + packer.flush(), len(content), zlib.crc32(content)
    )


def repeated(name: str, head: bytes, block: bytes, count: int, tail: bytes) -> Member:
    """head + block × count + tail, deflated by repeating one deflated block."""

    def flushed(data: bytes) -> bytes:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return packer.compress(data) + packer.flush(zlib.Z_FULL_FLUSH)

    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = flushed(head) + flushed(block) * count + last.compress(tail) + last.flush()
    crc, block_crc, doubled, n = zlib.crc32(head), zlib.crc32(block), len(block), count
    body_crc, body_len = 0, 0
    while n:  # the CRC of block × count by doubling
        if n & 1:
            body_crc = crc32_combine(body_crc, block_crc, doubled) if body_len else block_crc
            body_len += doubled
        block_crc = crc32_combine(block_crc, block_crc, doubled)
        doubled *= 2
        n >>= 1
    crc = crc32_combine(crc, body_crc, body_len)
    crc = crc32_combine(crc, zlib.crc32(tail), len(tail))
    return Member(name, deflated, len(head) + len(block) * count + len(tail), crc)


def raw_zip(members: list[Member]) -> bytes:
    """A ZIP archive written field by field (APPNOTE 4.3), so a member can inflate to GBs."""
    out, central = io.BytesIO(), io.BytesIO()
    for m in members:
        offset = out.tell()
        name = m.name.encode()
        fields = (20, 0, 8, 0, 0x21, m.crc, len(m.deflated), m.size, len(name), 0)
        out.write(b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", *fields) + name + m.deflated)
        central.write(
            b"PK\x01\x02"
            + struct.pack(
                "<HHHHHHIIIHHHHHII",
                20,
                20,
                0,
                8,
                0,
                0x21,
                m.crc,
                len(m.deflated),
                m.size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    start, directory = out.tell(), central.getvalue()
    count = len(members)
    out.write(directory + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count,
                                                      len(directory), start, 0))  # fmt: skip
    return out.getvalue()


def zip_bomb() -> bytes:
    """2 MB that inflate to 2 GiB: a CSV header, then zeros."""
    header = b"Destination,Prefix,Rate\r\nUK,44,0.1\r\n"
    return raw_zip([repeated("rates.csv", header, bytes(2**20), 2 * 1024, b"")])


def zip_bomb_rows() -> bytes:
    """1 MB that inflate to 1 GiB of rate rows: a sheet by its first bytes, so the mail layer
    hands it to the reader."""
    header = b"Destination,Prefix,Rate\r\n"
    block = b"United Kingdom,44,0.1000\r\n" * (2**20 // 26)
    return raw_zip([repeated("rates.csv", header, block, 1024, b"")])


def nested_zip(depth: int = 12) -> bytes:
    data, name = csv_deck(codes(2)), "rates.csv"
    for level in range(depth):
        data, name = raw_zip([member(name, data)]), f"level{level}.zip"
    return data


def workbook_parts(*extra: Member, **replace: bytes | Member) -> bytes:
    """A real one-sheet XLSX (openpyxl) with some of its parts replaced, others added."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_deck(codes(2))))
    parts = list(extra)
    for info in source.infolist():
        new = replace.get(info.filename)
        if isinstance(new, Member):
            parts.append(new)
        else:
            parts.append(member(info.filename, new if new is not None else source.read(info)))
    return raw_zip(parts)


SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.openxmlformats'
    b'.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Prefix'
    b"</t></is></c></row>"
)
SHEET_TAIL = b"</sheetData></worksheet>"


def xlsx_sheet_bomb() -> bytes:
    """sheet1.xml inflates to 2 GiB of white space between two rows."""
    bomb = repeated("xl/worksheets/sheet1.xml", SHEET_HEAD, b" " * 2**20, 2048, SHEET_TAIL)
    return workbook_parts(**{"xl/worksheets/sheet1.xml": bomb})


def xlsx_shared_strings_bomb() -> bytes:
    """A sharedStrings.xml of 1 GiB: 16 M copies of one string, which the reader would hold."""
    head = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    block = b"<si><t>United Kingdom</t></si>" * 2**15  # 1 MiB
    bomb = repeated("xl/sharedStrings.xml", head, block, 1024, b"</sst>")
    source = zipfile.ZipFile(io.BytesIO(xlsx_deck(codes(2))))
    rels = source.read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSST" Target="sharedStrings.xml" Type="http://schemas.openxml'
        b'formats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    types = source.read("[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxml'
        b'formats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    return workbook_parts(
        bomb, **{"xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types}
    )


def xlsx_cells(*refs: str) -> bytes:
    """A sheet with a header row and one cell at each of ``refs`` (A1 and XFD1048576: a
    550 GB grid for a reader that holds the range densely)."""
    cells = b"".join(
        b'<row r="%s"><c r="%s"><v>1</v></c></row>'
        % (ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ").encode(), ref.encode())
        for ref in refs
    )
    sheet = SHEET_HEAD + cells + SHEET_TAIL
    return workbook_parts(**{"xl/worksheets/sheet1.xml": sheet})


def xlsx_rows(xml: bytes) -> bytes:
    """A sheet with a header row and these rows (XML) after it."""
    return workbook_parts(**{"xl/worksheets/sheet1.xml": SHEET_HEAD + xml + SHEET_TAIL})


def xlsx_far_row() -> bytes:
    """A cell at Z2 and a cell without a reference in row 9,999,999: the reader puts it where
    its row says (8 GB asked for, an abort)."""
    return xlsx_rows(
        b'<row r="2"><c r="Z2"><v>1</v></c></row><row r="9999999"><c><v>1</v></c></row>'
    )


def xlsx_16384_columns() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Destination", "Prefix", "Rate"])
    sheet.append(["UK", "44", 0.1])
    sheet.cell(row=1, column=16384, value="last")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_16384_columns() -> bytes:
    header = ",".join(["Destination", "Prefix", "Rate"] + [f"x{i}" for i in range(16381)])
    return (header + "\r\nUK,44,0.1\r\n").encode()


def encrypted_xlsx() -> bytes:
    """What Excel writes for a password-protected XLSX ([MS-OFFCRYPTO] 2.3.4.1): an OLE compound
    file (version 3, 512-byte sectors) with the streams EncryptionInfo and EncryptedPackage."""
    free, end, fat_sector, nostream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    info_stream = struct.pack("<HHI", 4, 4, 0x40) + os.urandom(4096 - 8)
    package = struct.pack("<Q", 3000) + os.urandom(4096 - 8)
    # sector 0: FAT, 1: directory, 2-9: EncryptionInfo, 10-17: EncryptedPackage
    fat = [fat_sector, end, *range(3, 10), end, *range(11, 18), end]
    fat += [free] * (128 - len(fat))

    def entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(encoded), kind, 1, nostream, right, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, size)
        )

    directory = (
        entry("Root Entry", 5, nostream, 1, end, 0)
        + entry("EncryptionInfo", 2, 2, nostream, 2, len(info_stream))
        + entry("EncryptedPackage", 2, nostream, nostream, 10, len(package))
        + entry("", 0, nostream, nostream, 0, 0)
    )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<109I", 0, *([free] * 108))
    )
    return header + struct.pack("<128I", *fat) + directory + info_stream + package


def csv_with_nul() -> bytes:
    """A deck with two NUL bytes in its 30th row (too few to look binary)."""
    deck = csv_deck(codes(40)).split(b"\r\n")
    deck[30] = deck[30].replace(b"Dest", b"De\0\0st")
    return b"\r\n".join(deck)


def csv_long_line() -> bytes:
    return csv_deck(codes(2)) + b"x" * (10 * 2**20) + b"\r\n" + csv_deck(codes(2))


ODS_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def ods_workbook(*tables: tuple[str, str]) -> bytes:
    """An ODS file whose content.xml holds these (name, rows XML) tables."""
    body = "".join(
        f'<table:table table:name="{name}">{rows}</table:table>' for name, rows in tables
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODS_NAMESPACES}>'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return out.getvalue()


def ods_cell(text: str | None, repeat: int = 1, *, covered: bool = False) -> str:
    """A cell holding ``text`` (None: an empty cell), ``repeat`` times."""
    element = "table:covered-table-cell" if covered else "table:table-cell"
    times = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    if text is None:
        return f"<{element}{times}/>"
    return f'<{element}{times} office:value-type="string"><text:p>{text}</text:p></{element}>'


def ods_row(cells: str, repeat: int = 1) -> str:
    times = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-row{times}>{cells}</table:table-row>"


def ods_repeated() -> bytes:
    """About a kilobyte: one row of one cell repeated 40 times, repeated 1,048,570 times (42 M
    cells the reader would hold: it grew to 13 GB and aborted)."""
    return ods_workbook(("Sheet1", ods_row(ods_cell("x", 40), 1_048_570)))


def xls_with(row: int, column: int, *, dimensions: tuple[int, int] | None = None) -> bytes:
    """A legacy XLS (xlwt) with a header and one label at (row, column), both 0-based, written
    into its BIFF record past what xlwt allows (a column up to 65,535); ``dimensions``: the rows
    and columns its DIMENSIONS record declares."""
    book = xlwt.Workbook()
    sheet = book.add_sheet("Rates")
    sheet.write(0, 0, "Prefix")
    sheet.write(1, 1, "far")
    out = io.BytesIO()
    book.save(out)
    data = bytearray(out.getvalue())
    at = data.find(struct.pack("<HHHH", 0x00FD, 10, 1, 1))  # LABELSST of the cell at B2
    data[at + 4 : at + 8] = struct.pack("<HH", row, column)
    if dimensions is not None:
        at = data.find(struct.pack("<HH", 0x0200, 14))
        data[at + 4 : at + 16] = struct.pack("<IIHH", 0, dimensions[0], 0, dimensions[1])
    return bytes(data)


def _xlsb_record(kind: int, body: bytes = b"") -> bytes:
    """[MS-XLSB] 2.1.4: the type and the size 7 bits a byte, then the body."""
    head = bytes([kind]) if kind < 0x80 else bytes([kind & 0x7F | 0x80, kind >> 7])
    size, sizes = len(body), bytearray()
    while True:
        sizes.append(size & 0x7F | (0x80 if size >> 7 else 0))
        size >>= 7
        if not size:
            break
    return head + bytes(sizes) + body


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def xlsb_workbook(cells: list[tuple[int, int, str | float]]) -> bytes:
    """An XLSB with one sheet "Rates" holding these (row, column, value) cells, 0-based and in
    order, written record by record (no library writes XLSB)."""
    book = b"".join((
        _xlsb_record(0x83), _xlsb_record(0x8F),  # BrtBeginBook, BrtBeginBundleShs
        _xlsb_record(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("Rates")),
        _xlsb_record(0x90), _xlsb_record(0x84),  # BrtEndBundleShs, BrtEndBook
    ))  # fmt: skip
    sheet = bytearray(_xlsb_record(0x81) + _xlsb_record(0x94, bytes(16)) + _xlsb_record(0x91))
    row = None
    for number, column, value in cells:
        if number != row:
            sheet += _xlsb_record(0x00, struct.pack("<I", number) + bytes(13))  # BrtRowHdr
            row = number
        if isinstance(value, str):  # BrtCellSt, else BrtCellReal
            sheet += _xlsb_record(0x06, struct.pack("<II", column, 0) + _wide(value))
        else:
            sheet += _xlsb_record(0x05, struct.pack("<IId", column, 0, value))
    sheet += _xlsb_record(0x92) + _xlsb_record(0x82)  # BrtEndSheetData, BrtEndSheet
    relationships = (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/{}" Target="{}"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="bin" ContentType="application/vnd.ms-excel.'
            'sheet.binary.macroEnabled.main"/></Types>',
        )
        archive.writestr("_rels/.rels", relationships.format("officeDocument", "xl/workbook.bin"))
        archive.writestr("xl/workbook.bin", book)
        archive.writestr(
            "xl/_rels/workbook.bin.rels", relationships.format("worksheet", "worksheets/sheet1.bin")
        )
        archive.writestr("xl/worksheets/sheet1.bin", bytes(sheet))
    return out.getvalue()


BIG_CELL = 50 * 2**20  # characters in one cell


def csv_50mb_cell() -> bytes:
    """A quoted description of 50 MB over lines of 100 characters (no line is long)."""
    line = "y" * 99 + "\n"
    cell = line * (BIG_CELL // 100)
    return csv_deck(codes(2)) + f'"{cell}",44,0.1\r\n'.encode()


def xlsx_50mb_cell() -> bytes:
    """A deck whose destination cell is an inline string of 50 MB of hex (deflates 2:1, so no
    part looks like a bomb; openpyxl would cut it to Excel's limit)."""
    cell = os.urandom(BIG_CELL // 2).hex().encode()
    sheet = (
        SHEET_HEAD.replace(b"Prefix", b"Destination")
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>' + cell + b"</t></is></c>"
        + b'<c r="B2"><v>44</v></c><c r="C2"><v>0.1</v></c></row>'
        + SHEET_TAIL
    )  # fmt: skip
    return workbook_parts(**{"xl/worksheets/sheet1.xml": sheet})


@dataclass(frozen=True)
class Hostile:
    name: str  # the attachment's file name
    build: Callable[[], bytes]
    reason: str  # the refusal's reason code
    # what the mail layer does: "refused" (the sheet is refused on import) or a SKIP_REASONS
    # code (the part is left out before: the message is held as "no_sheet")
    by_mail: str = "refused"


HOSTILE = {
    # its first bytes are NULs: the mail layer sees no sheet in it before inflating more
    "zip_bomb": Hostile("rates.zip", zip_bomb, "too_large", by_mail="not_a_sheet"),
    "zip_bomb_rows": Hostile("rates.zip", zip_bomb_rows, "too_large"),
    "nested_zip": Hostile("rates.zip", nested_zip, "too_deep"),
    "xlsx_sheet_bomb": Hostile("rates.xlsx", xlsx_sheet_bomb, "too_large"),
    "xlsx_shared_strings_bomb": Hostile("rates.xlsx", xlsx_shared_strings_bomb, "too_large"),
    "xlsx_far_cell": Hostile(
        "rates.xlsx", lambda: xlsx_cells("A1", "XFD1048576"), "too_many_columns"
    ),
    "xlsx_tall_wide": Hostile(
        "rates.xlsx", lambda: xlsx_cells("A1", "CV1999999"), "too_many_cells"
    ),
    "xlsx_16384_columns": Hostile("rates.xlsx", xlsx_16384_columns, "too_many_columns"),
    "csv_16384_columns": Hostile("rates.csv", csv_16384_columns, "too_many_columns"),
    "encrypted_xlsx": Hostile("rates.xlsx", encrypted_xlsx, "encrypted", by_mail="encrypted"),
    "csv_nul": Hostile("rates.csv", csv_with_nul, "nul_bytes"),
    "csv_10mb_line": Hostile("rates.csv", csv_long_line, "line_too_long"),
}


@dataclass(frozen=True)
class Cost:
    seconds: float
    python_peak_mb: float
    rss_peak_mb: float


def measured(work: Callable[[], object]) -> tuple[object, Cost]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = work()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return result, Cost(seconds, peak / 2**20, rss)


def within_limits(cost: Cost) -> None:
    assert cost.seconds < SECONDS, cost
    assert cost.python_peak_mb < PYTHON_PEAK_MB, cost
    assert cost.rss_peak_mb < PEAK_MB, cost


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key(1024)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {case: hostile.build() for case, hostile in HOSTILE.items()}


def test_the_inputs_are_small_and_what_they_claim(files):
    for case, data in files.items():
        assert len(data) < 12 * 2**20, case  # the 10-MB line is the largest
    bomb = zipfile.ZipFile(io.BytesIO(files["zip_bomb"]))
    (info,) = bomb.infolist()
    assert info.file_size > 2 * GiB and len(files["zip_bomb"]) < 3 * 2**20
    with bomb.open(info) as inflating:  # a valid deflate stream: the bytes really are there
        assert inflating.read(64).startswith(b"Destination,Prefix,Rate")
    small = repeated("x", b"ab", b"0123456789", 1000, b"yz")
    whole = b"ab" + b"0123456789" * 1000 + b"yz"
    assert zlib.decompress(small.deflated, -15) == whole and small.crc == zlib.crc32(whole)
    sheet = zipfile.ZipFile(io.BytesIO(files["xlsx_sheet_bomb"]))
    assert sheet.getinfo("xl/worksheets/sheet1.xml").file_size > 2 * GiB
    assert files["encrypted_xlsx"].startswith(b"\xd0\xcf\x11\xe0")
    assert max(map(len, files["csv_10mb_line"].split(b"\n"))) > MAX_LINE_CHARS
    assert 1999999 * 100 > MAX_GRID_CELLS


# --- ingestd import FILE ---------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys, key):
    config = config_path(tmp_path, pin=key, vendor_extra=LIMITS)
    monkeypatch.delenv("INGESTD_CONFIG", raising=False)

    def run(*args: str) -> tuple[int, dict]:
        code = main(["-c", str(config), *args, "--json"])
        out = capsys.readouterr().out
        return code, json.loads(out)

    return run


@pytest.mark.parametrize("case", list(HOSTILE))
def test_ingestd_import_refuses_the_file_with_its_reason(cli, files, tmp_path, case):
    hostile = HOSTILE[case]
    path = tmp_path / hostile.name
    path.write_bytes(files[case])
    (code, summary), cost = measured(lambda: cli("import", str(path), "--vendor", VENDOR))
    assert code == 1
    summary = summary[0] if isinstance(summary, list) else summary
    assert (summary["status"], summary["reason"]) == ("refused", hostile.reason), summary
    assert summary["message"] and "\n" not in summary["message"]
    within_limits(cost)
    # nothing was written, and the next file goes in
    good = tmp_path / "good.csv"
    good.write_bytes(csv_deck(codes(3)))
    code, summary = cli("import", str(good), "--vendor", VENDOR)
    summary = summary[0] if isinstance(summary, list) else summary
    assert (code, summary["status"], summary["version"]) == (0, "imported", 1), summary


# --- the same by mail ------------------------------------------------------------------------


@pytest.fixture
def pipeline(tmp_path, key):
    config = load_config(config_path(tmp_path, pin=key, vendor_extra=LIMITS), env={})
    store = Store(f"sqlite:///{tmp_path / 'ingestd.db'}")
    store.upgrade()
    yield Pipeline(config, store)
    store.close()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_mail_carrying_the_file_is_answered_and_the_next_one_imported(pipeline, files, key, case):
    hostile = HOSTILE[case]
    raw = signed(
        rate_message([(hostile.name, files[case])], message_id=f"<{case}@acme.example>"), key
    )
    outcome, cost = measured(lambda: pipeline.process(raw, source="smtp"))
    within_limits(cost)
    if hostile.by_mail == "refused":
        assert (outcome.status, outcome.vendor) == ("refused", VENDOR), outcome.as_dict()
        ((result,),) = [s["outcomes"] for s in outcome.sheets]
        assert (result["status"], result["reason"]) == ("refused", hostile.reason), result
    else:
        assert (outcome.status, outcome.reason) == ("quarantined", "no_sheet"), outcome.as_dict()
        assert hostile.by_mail in [s["reason"] for s in outcome.skipped], outcome.skipped
    # the vendor (authenticated) is told, in one line per reason
    purposes = [o.purpose for o in notifications(outcome, pipeline.config, pipeline.store)]
    assert "confirmation" in purposes
    nxt = signed(
        rate_message([("rates.csv", csv_deck(codes(4)))], message_id=f"<next-{case}@acme.example>"),
        key,
    )
    after = pipeline.process(nxt, source="smtp")
    assert after.status == "imported", after.as_dict()
    assert [r["version"] for s in after.sheets for r in s["outcomes"]] == [1]
    versions_are_whole(pipeline.store)


# --- attachment names ------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\system32\\rates.csv",
    "C:\\temp\\rates.csv",
    "rates\x00.csv",
    "rates\r\nBcc: victim@example.com.csv",
    "a" * 5000 + ".csv",
    "<img src=x onerror=alert(1)>.csv",
    "....//....//rates.csv",
]


def named_attachments(names: list[str]) -> bytes:
    """A message whose CSV attachments carry these names, RFC 2231-encoded (so CR, LF and NUL
    survive the header into the decoded name)."""
    parts = []
    for i, name in enumerate(names):
        deck = csv_deck(codes(2, first=4400 + 10 * i)).decode()
        parts.append(
            "--b0\r\nContent-Type: text/csv\r\nContent-Disposition: attachment;\r\n"
            f" filename*=utf-8''{quote(name, safe='')}\r\n\r\n{deck}"
        )
    head = rate_message().split(b"\r\nContent-Type")[0].decode()  # From, To, Subject, …
    body = "\r\n".join(parts)
    return (
        f"{head}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
        f"--b0\r\nContent-Type: text/plain\r\n\r\nRates attached.\r\n{body}--b0--\r\n"
    ).encode()


def test_attachment_names_are_never_paths_and_are_shown_safely(pipeline, key, tmp_path):
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    raw = signed(named_attachments(HOSTILE_NAMES), key)
    extraction = extract_sheets(parse_message(raw), pipeline.config.limits)
    names = [sheet.filename for sheet in extraction.sheets]
    assert len(names) == len(HOSTILE_NAMES)
    for name in names:
        assert "/" not in name and "\\" not in name and "\0" not in name, name
        assert name.isprintable() and not name.startswith(".") and len(name) <= 200, name
    outcome = pipeline.process(raw, source="smtp")
    assert outcome.status == "imported", outcome.as_dict()
    # nothing appeared on disk but the database and the state folders ingestd keeps
    created = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} - before
    assert not any(
        "passwd" in str(p) or "rates" in str(p) or "windows" in str(p) for p in created
    ), created
    assert not Path("/etc/passwd.csv").exists()
    shown = 0
    for out in notifications(outcome, pipeline.config, pipeline.store):
        message = out.message
        for header, value in message.items():
            assert "\n" not in str(value) and "\r" not in str(value), (header, value)
        assert "victim@example.com" not in str(message.get("Bcc", ""))
        for part in message.walk():
            if part.get_content_type() == "text/html":
                html = part.get_content()
                assert "<img src=x" not in html
                shown += html.count("&lt;img src=x onerror=alert(1)&gt;.csv")
            filename = part.get_filename()
            if filename:
                assert "/" not in filename and "\\" not in filename and "\0" not in filename
    assert shown >= 2  # the vendor's confirmation and the import report name it, escaped


# --- what only a bounded process may try -------------------------------------------------------

# Files that made the reader allocate gigabytes or abort the whole process before they were
# measured: each goes through ``ingestd import`` in a child process whose address space is
# capped, so a regression fails fast here instead of taking the machine down.
ADDRESS_SPACE = 4 * GiB
BOUNDED = {
    "ods_repeated_rows_and_cells": Hostile("rates.ods", ods_repeated, "too_many_cells"),
    "ods_in_a_zip": Hostile(
        "rates.zip", lambda: raw_zip([member("deck.ods", ods_repeated())]), "too_many_cells"
    ),
    "xls_cell_in_column_16384": Hostile(
        "rates.xls", lambda: xls_with(65535, 16383), "too_many_columns"
    ),
    "xls_dimensions_lie": Hostile(
        "rates.xls", lambda: xls_with(2, 2, dimensions=(2**32 - 16, 65535)), "too_many_cells"
    ),
    "xlsb_cell_in_row_1000001_column_16384": Hostile(
        "rates.xlsb",
        lambda: xlsb_workbook([(0, 0, "Prefix"), (1_000_000, 16_383, 1.0)]),
        "too_many_columns",
    ),
    "xlsx_row_9999999_cell_without_reference": Hostile("rates.xlsx", xlsx_far_row, "too_many_rows"),
    "csv_50mb_cell": Hostile("rates.csv", csv_50mb_cell, "cell_too_large"),
    "xlsx_50mb_cell": Hostile("rates.xlsx", xlsx_50mb_cell, "cell_too_large"),
}
BOUNDED_PEAK_MB = 1500  # the child's peak RSS

_CHILD = """
import json, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from ingestd.cli import main
code = main(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({"code": code, "peak_mb": peak}), file=sys.stderr)
sys.exit(code)
"""


def bounded_import(config: Path, path: Path) -> tuple[int, dict | None, int | None, str]:
    """``ingestd import PATH --json`` in a child capped at ADDRESS_SPACE: its exit code, its
    summary, its peak RSS in MB and its stderr."""
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ADDRESS_SPACE), "-c", str(config), "import",
         str(path), "--vendor", VENDOR, "--json"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "INGESTD_CONFIG": ""},
    )  # fmt: skip
    summary = json.loads(child.stdout) if child.stdout.strip() else None
    if isinstance(summary, list):
        summary = summary[0]
    tail = child.stderr.strip().splitlines()[-1:] or [""]
    try:
        peak = json.loads(tail[0])["peak_mb"]
    except (ValueError, KeyError, TypeError):
        peak = None
    return child.returncode, summary, peak, child.stderr[-2000:]


def test_the_bounded_inputs_are_what_they_claim():
    ods = zipfile.ZipFile(io.BytesIO(ods_repeated()))
    assert len(ods_repeated()) < 2048
    assert b'number-rows-repeated="1048570"' in ods.read("content.xml")
    assert 1_048_570 * 40 > MAX_ODS_CELLS
    assert len(csv_50mb_cell()) > BIG_CELL and max(map(len, csv_50mb_cell().split(b"\n"))) < 200


@pytest.mark.parametrize("case", list(BOUNDED))
def test_ingestd_import_refuses_it_before_the_reader_allocates(tmp_path, key, case):
    hostile = BOUNDED[case]
    config = config_path(tmp_path, pin=key, vendor_extra=LIMITS)
    path = tmp_path / hostile.name
    path.write_bytes(hostile.build())
    started = time.perf_counter()
    code, summary, peak, stderr = bounded_import(config, path)
    seconds = time.perf_counter() - started
    assert code == 1 and summary is not None, (code, stderr)
    assert (summary["status"], summary["reason"]) == ("refused", hostile.reason), summary
    assert summary["message"] and "\n" not in summary["message"]
    assert peak is not None and peak < BOUNDED_PEAK_MB, (peak, stderr)
    assert seconds < 60, seconds
    good = tmp_path / "good.csv"
    good.write_bytes(csv_deck(codes(3)))
    code, summary, _, stderr = bounded_import(config, good)
    assert (code, summary["status"], summary["version"]) == (0, "imported", 1), stderr


def test_the_daemon_refuses_a_repeated_cells_ods_by_mail_and_goes_on(tmp_path, dns, acme_key):
    """The ODS through SMTP to the real daemon: 250, the sheet refused with its reason, the
    daemon alive, the next deck imported.  (A sixth of the reported file's rows, so that an
    unguarded reader costs about 2 GB, not 13.)"""
    from rig.daemon import Setup
    from test_daemon_robustness import signed as acme_signed
    from test_daemon_robustness import small_deck
    from test_mail_e2e import deck_mail, send

    ods_type = ("application", "vnd.oasis.opendocument.spreadsheet")
    hostile = ods_workbook(("Sheet1", ods_row(ods_cell("x", 40), 400_000)))
    setup = Setup.create(tmp_path, nameserver=dns.address)
    with setup.daemon() as daemon:
        raw = deck_mail(("rates.ods", hostile, ods_type), message_id="<ods@acme.example>")
        send(setup.port, acme_signed(raw, acme_key))
        daemon.wait_for(
            lambda: setup.count("messages", "state IN ('done', 'quarantined')") == 1,
            60, "the ODS message processed",
        )  # fmt: skip
        assert daemon.process.poll() is None, daemon.log_text()
        (message,) = setup.messages()
        assert "too_many_cells" in (message["outcome"] or ""), message
        raw = deck_mail(small_deck(3), message_id="<next@acme.example>")
        send(setup.port, acme_signed(raw, acme_key))
        daemon.wait_for(lambda: setup.count("versions") == 1, 60, "the next deck's version")
        assert daemon.process.poll() is None, daemon.log_text()
