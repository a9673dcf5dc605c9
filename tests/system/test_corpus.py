"""Real vendor decks from the shared corpus, with no vendor configuration.

The row-by-row comparison is the corpus's own checker (../shared/tools/check_import.py), run
against our `ingestd` through the CLI; the detection report is checked here."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from ingestd.sheetcache import SheetCache
from ingestd.sheets.read import read_sheets

INGESTD = Path(sys.executable).with_name("ingestd")


def _checker(corpus: Path, tmp_path: Path, deck: str, expect: list[str], vendor: str) -> str:
    tools = corpus.parent / "tools"
    expected = tmp_path / "expected.json"
    subprocess.run(
        [sys.executable, str(tools / expect[0]), *expect[1:], str(expected)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(tools / "check_import.py"),
            str(INGESTD),
            str(corpus / deck),
            str(expected),
            "--vendor",
            vendor,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout


def _import_json(tmp_path: Path, deck: Path, received: str) -> list[dict]:
    env = {
        **os.environ,
        "INGESTD_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "INGESTD_DAEMON_STATE_DIR": str(tmp_path),
    }
    env.pop("INGESTD_CONFIG", None)
    proc = subprocess.run(
        [
            str(INGESTD),
            "import",
            str(deck),
            "--vendor",
            "corpus",
            "--received-at",
            received,
            "--json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    return out if isinstance(out, list) else [out]


def test_airtel_rows_match_the_checker(corpus, tmp_path):
    out = _checker(
        corpus, tmp_path, "Airtel.xlsx", ["expect_airtel.py", str(corpus / "Airtel.xlsx")], "airtel"
    )
    assert out.strip().splitlines()[-1] == "ok 18254/18254"


def test_airtel_detection_report(corpus, tmp_path):
    (summary,) = _import_json(tmp_path, corpus / "Airtel.xlsx", "2023-05-09T11:33:01Z")
    sheet = summary["sheet"]
    # row 15 as a spreadsheet shows it (the notice block has 9 filled rows and 5 blank ones)
    assert (sheet["sheet"], sheet["header_row"], sheet["kind"]) == ("Pricing", 15, "voice")
    assert sheet["currency"] == "USD" and sheet["product"] == "Wholesale Gold+"
    assert sheet["notice"]["increase_date"].startswith("2023-05-16")
    assert summary["rows"]["accepted"] == 18254 and summary["rows"]["rejected"] == 0
    assert summary["counts"]["new"] == 18254

    env = {**os.environ, "INGESTD_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    proc = subprocess.run(
        [str(INGESTD), "export", "--vendor", "corpus", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    export = json.loads(proc.stdout)
    cols = export["columns"]
    rows = [dict(zip(cols, r, strict=True)) for r in export["rows"]]
    pulses = Counter(f"{r['Interval 1']}/{r['Interval N']}" for r in rows)
    assert pulses == {"1/1": 17267, "60/60": 600, "30/6": 342, "60/1": 45}
    may16 = [r for r in rows if str(r["Valid From"]).startswith("2023-05-16")]
    assert len(may16) >= 265


def test_acme_notice_rows_match_the_checker(corpus, tmp_path):
    out = _checker(
        corpus,
        tmp_path,
        "acme_rate_notice.csv",
        ["expect_tcxc.py", str(corpus / "acme_rate_notice_tcxc.csv"), "2026-09-16T10:00:00Z"],
        "acme",
    )
    assert out.strip().splitlines()[-1] == "ok 25/25"


def test_acme_detection_report(corpus, tmp_path):
    (summary,) = _import_json(tmp_path, corpus / "acme_rate_notice.csv", "2026-09-16T10:00:00Z")
    sheet = summary["sheet"]
    assert sheet["header_row"] == 7 and sheet["currency"] == "USD"
    assert sheet["date_order"] == "dmy"
    assert summary["rows"]["accepted"] == 25
    assert sheet["skipped"].get("footnote", 0) >= 1


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_sms_deck_from_split_mcc_mnc_keeps_every_code(corpus, tmp_path, fmt):
    import csv

    import openpyxl

    source = list(csv.DictReader((corpus / "mcc-mnc-table.csv").open(encoding="utf-8")))
    wanted = {}
    lines = [["MCC", "MNC", "Country", "Network", "Price", "Effective Date"]]
    for n, r in enumerate(source):
        code = r["MCC"] + r["MNC"]
        if not (r["MCC"].isdigit() and r["MNC"].isdigit()) or code in wanted:
            continue
        price = f"0.{(n % 97) + 1:04d}"
        wanted[code] = str(Decimal(price).normalize())
        lines.append([r["MCC"], r["MNC"], r["Country"], r["Network"], price, "ASAP"])
    deck = tmp_path / f"sms.{fmt}"
    if fmt == "csv":
        with deck.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(lines)
    else:
        wb = openpyxl.Workbook()
        ws = wb.active
        for line in lines:
            ws.append(line)  # MCC and MNC stay text: "01" and "001" differ
        wb.save(deck)
    (summary,) = _import_json(tmp_path, deck, "2026-01-01T00:00:00Z")
    assert summary["kind"] == "sms" and summary["rows"]["rejected"] == 0
    env = {**os.environ, "INGESTD_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    proc = subprocess.run(
        [str(INGESTD), "export", "--vendor", "corpus", "--kind", "sms"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    got = {r["MCCMNC E.212"]: r["Price"] for r in csv.DictReader(proc.stdout.splitlines())}
    assert got == wanted
    assert any(len(code) == 6 for code in got) and any(code.endswith("01") for code in got)


def test_airtel_read_again_after_an_edit_is_its_whole_parse(corpus, tmp_path, caplog):
    """The re-read (ingestd/sheetcache.py) on a workbook Excel wrote: shared strings, shared
    formulas, styles, a drawing, a calculation chain; one cached price changed in 'Pricing'."""
    data = (corpus / "Airtel.xlsx").read_bytes()
    part = "xl/worksheets/sheet1.xml"
    xml = zipfile.ZipFile(io.BytesIO(data)).read(part)
    price = list(re.finditer(rb"<v>(0\.[0-9]+)</v>", xml))[100]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == part:
                content = content[: price.start(1)] + b"0.98765" + content[price.end(1) :]
            dst.writestr(info, content)
    edited = out.getvalue()

    cache = SheetCache(tmp_path / "sheets", 2**30)
    read_sheets(data, filename="Airtel.xlsx", cache=cache)
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    again = read_sheets(edited, filename="Airtel.xlsx", cache=cache)
    whole = read_sheets(edited, filename="Airtel.xlsx")
    assert "'Pricing': 1 of 18269 row segments changed" in caplog.text
    assert [s.name for s in again] == [s.name for s in whole]
    for a, b in zip(again, whole, strict=True):
        assert a.frame.rows() == b.frame.rows(), a.name
    assert "0.98765" in {cell for row in again[0].frame.rows() for cell in row}
