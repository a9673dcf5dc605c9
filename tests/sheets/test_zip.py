"""docs/reading.md#files: ZIP archives holding sheets, read by bytes within limits (members,
unpacked size, nesting); a zip bomb is refused, never the daemon."""

from __future__ import annotations

import io
import os
import zipfile

import openpyxl
import pytest

from ingestd.errors import SheetError
from ingestd.sheets.find import find_tables
from ingestd.sheets.read import read_sheets

CSV = b"Destination,Prefix,Rate\r\nUnited Kingdom,44,0.1\r\n"


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "Prices"
    book.active.append(["Prefix", "Rate"])
    book.active.append(["49", 0.2])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_a_zip_holding_a_csv_and_a_workbook():
    sheets = read_sheets(zip_of({"rates.csv": CSV, "book.xlsx": xlsx()}), filename="deck.zip")
    assert [s.name for s in sheets] == ["rates.csv", "book.xlsx:Prices"]
    assert sheets[0].frame.rows()[1] == ("United Kingdom", "44", "0.1")
    assert sheets[1].frame.rows() == [("Prefix", "Rate"), ("49", "0.2")]
    assert [t.sheet for t in find_tables(sheets)] == ["rates.csv", "book.xlsx:Prices"]
    # the vendor's sheet glob matches the workbook's own sheet name too
    (table,) = find_tables(sheets, sheet="prices")
    assert table.sheet == "book.xlsx:Prices"


def test_a_nested_zip():
    inner = zip_of({"rates.csv": CSV})
    sheets = read_sheets(zip_of({"inner.zip": inner, "book.xlsx": xlsx()}))
    assert [s.name for s in sheets] == ["inner.zip:rates.csv", "book.xlsx:Prices"]


def test_members_that_are_not_sheets_are_left_out():
    archive = zip_of(
        {
            "cover.pdf": b"%PDF-1.4 ...",
            "logo.png": b"\x89PNG\r\n\x1a\n....",
            "__MACOSX/._rates.csv": b"\x00\x05\x16\x07\x00\x02\x00\x00" * 8,
            "folder/": b"",
            "folder/rates.csv": CSV,
        }
    )
    assert [s.name for s in read_sheets(archive)] == ["folder/rates.csv"]


def test_member_names_are_labels_never_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sheets = read_sheets(zip_of({"../../escape.csv": CSV, "/abs.csv": CSV}))
    assert [s.name for s in sheets] == ["../../escape.csv", "abs.csv"]
    assert os.listdir(tmp_path) == []
    assert not (tmp_path.parent.parent / "escape.csv").exists()


def test_too_many_members():
    files = {f"r{i}.csv": CSV for i in range(4)}
    assert len(read_sheets(zip_of(files), max_members=4)) == 4
    with pytest.raises(SheetError) as caught:
        read_sheets(zip_of(files), max_members=3)
    assert caught.value.reason == "too_many_members"


def test_members_of_nested_archives_count_too():
    archive = zip_of({"a.zip": zip_of({"r1.csv": CSV, "r2.csv": CSV}), "r3.csv": CSV})
    assert len(read_sheets(archive, max_members=4)) == 3
    with pytest.raises(SheetError) as caught:
        read_sheets(archive, max_members=3)
    assert caught.value.reason == "too_many_members"


def test_too_deep():
    archive = CSV
    for level in range(3):
        archive = zip_of({f"level{level}.zip" if level else "rates.csv": archive})
    assert len(read_sheets(archive)) == 1  # three archives inside each other: the default
    with pytest.raises(SheetError) as caught:
        read_sheets(archive, max_nesting=2)
    assert caught.value.reason == "too_deep"
    with pytest.raises(SheetError) as caught:
        read_sheets(zip_of({"level3.zip": archive}))
    assert caught.value.reason == "too_deep"


def test_a_zip_bomb_is_refused_while_inflating():
    bomb = zip_of({"rates.csv": CSV + b"0" * (8 * 2**20)})
    assert len(bomb) < 64 * 1024  # small on the wire, 8 MiB unpacked
    with pytest.raises(SheetError) as caught:
        read_sheets(bomb, max_unpacked=2**20)
    assert caught.value.reason == "too_large"
    assert str(2**20) in caught.value.message


def test_a_member_lying_about_its_size_is_still_counted():
    bomb = bytearray(zip_of({"rates.csv": CSV + b"0" * (4 * 2**20)}))
    # declare 100 bytes in the central directory: the inflated bytes are what counts
    central = bomb.rfind(b"PK\x01\x02")
    bomb[central + 24 : central + 28] = (100).to_bytes(4, "little")
    with pytest.raises(SheetError) as caught:
        read_sheets(bytes(bomb), max_unpacked=2**20)
    assert caught.value.reason in ("too_large", "unreadable")


def test_an_encrypted_member_is_unreadable():
    archive = bytearray(zip_of({"rates.csv": CSV}))
    # set the "encrypted" flag bit in the local and the central header
    for header, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = archive.find(header) + at
        archive[start] |= 0x1
    with pytest.raises(SheetError) as caught:
        read_sheets(bytes(archive))
    assert caught.value.reason == "unreadable"
    assert "encrypted" in caught.value.message


def test_an_empty_archive_has_no_sheets():
    assert read_sheets(zip_of({"readme.pdf": b"%PDF-1.4"})) == []


def test_a_member_name_flagged_utf8_that_is_not_is_a_clear_refusal():
    broken = bytearray(zip_of({"rates.csv": b"Code,Rate\n44,0.1\n"}))
    central = broken.index(b"PK\x01\x02")
    broken[central + 8 : central + 10] = (0x800).to_bytes(2, "little")  # names are UTF-8
    broken[broken.index(b"rates.csv", central)] = 0xFF
    with pytest.raises(SheetError) as refused:
        read_sheets(bytes(broken), filename="rates.zip")
    assert refused.value.reason in ("unknown_format", "unreadable")
    assert "ZIP" in refused.value.message or "archive" in refused.value.message
