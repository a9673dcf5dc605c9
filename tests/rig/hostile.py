"""Hostile files built small, for the reader's and the mail layer's limits: zip bombs, nested
archives, workbooks claiming huge extents (XLSX, XLS, XLSB, ODS), encrypted XLSX, CSV with NUL
bytes or endless lines, 50 MB cells.

Every input is small on disk: a zip bomb is one deflated megabyte of zeros repeated (deflate
blocks after a full flush are independent, so the stream is the same block again and again,
with its CRC computed arithmetically), never gigabytes written first."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass

import openpyxl
import xlwt

from rig.mail import codes, csv_deck, xlsx_deck


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
