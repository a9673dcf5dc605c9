"""Hostile files (docs/reading.md#files, docs/reading.md#row-errors-and-refusal,
docs/mail.md#mail-in): each is refused with its own reason code within the configured limits of time
and memory, through ``ingestd import FILE`` and through a signed mail carrying it — the sheet
refused (or the part skipped), the message answered or held as the pipeline does for bad sheets,
nothing half-written, and the next message still imported.

Every input is built small on disk (tests/rig/hostile.py): a zip bomb is one deflated megabyte
of zeros repeated, never gigabytes written first."""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
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

import pytest
from rig.factories import versions_are_whole
from rig.hostile import (
    BIG_CELL,
    csv_50mb_cell,
    csv_16384_columns,
    csv_long_line,
    csv_with_nul,
    encrypted_xlsx,
    member,
    nested_zip,
    ods_cell,
    ods_repeated,
    ods_row,
    ods_workbook,
    raw_zip,
    repeated,
    xls_with,
    xlsb_workbook,
    xlsx_50mb_cell,
    xlsx_16384_columns,
    xlsx_cells,
    xlsx_far_row,
    xlsx_shared_strings_bomb,
    xlsx_sheet_bomb,
    zip_bomb,
    zip_bomb_rows,
)
from rig.mail import VENDOR, codes, config_path, csv_deck, rate_message, signed
from rig.signers import SigningKey, rsa_key

from ingestd.cli import main
from ingestd.config import load_config
from ingestd.mail.compose import notifications
from ingestd.mail.mime import extract_sheets
from ingestd.mail.parse import parse_message
from ingestd.message.notify import rates_for
from ingestd.message.pipeline import Pipeline
from ingestd.rates.store import Store
from ingestd.sheets.ods_extent import MAX_ODS_CELLS
from ingestd.sheets.sheet_extent import MAX_GRID_CELLS
from ingestd.sheets.text_file import MAX_LINE_CHARS

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


def _restart_peak_rss() -> None:
    """Start this process's peak RSS afresh from its current RSS (Linux: clear_refs 5), so that
    the peak read after the work is the work's own and not that of whatever test this process
    (an xdist worker runs any of them) ran before."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def measured(work: Callable[[], object]) -> tuple[object, Cost]:
    _restart_peak_rss()
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
    rates = rates_for(outcome, pipeline.config, pipeline.store)
    purposes = [o.purpose for o in notifications(outcome, pipeline.config, rates)]
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
    rates = rates_for(outcome, pipeline.config, pipeline.store)
    for out in notifications(outcome, pipeline.config, rates):
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
    from rig.daemon import Setup, deck_mail, send
    from test_daemon_robustness import signed as acme_signed
    from test_daemon_robustness import small_deck

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
