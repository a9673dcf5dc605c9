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
from factories import versions_are_whole
from rig_mail import VENDOR, codes, config_path, csv_deck, rate_message, signed, xlsx_deck
from rig_signers import SigningKey, rsa_key

from ingestd.cli import main
from ingestd.config import load_config
from ingestd.mail.compose import notifications
from ingestd.mail.mime import extract_sheets, parse_message
from ingestd.pipeline import Pipeline
from ingestd.rates.store import Store
from ingestd.sheets.read import MAX_GRID_CELLS, MAX_LINE_CHARS

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
