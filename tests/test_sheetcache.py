"""Reading a workbook sheet again (ingestd/sheets/sheetcache.py): the rows whose XML is unchanged
come from the last read, and the result is always what a whole parse gives."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import tempfile
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd import sheetcache
from ingestd.sheetcache import SheetCache
from ingestd.sheets.read import read_sheets

AGAIN = "only they were parsed"


def workbook(
    rows: list[list], *, title: str = "Rates", notes: bool = False, inline: bool = True
) -> bytes:
    """Written as vendors' systems write large decks (openpyxl write_only: inline strings,
    every row numbered, an empty row as ``<row r="N"/>``), or (``inline=False``) with shared
    strings, as Excel does."""
    book = openpyxl.Workbook(write_only=inline)
    if inline:
        sheet = book.create_sheet(title)
    else:
        sheet = book.active
        sheet.title = title
    for row in rows:
        sheet.append(row)
    if notes:
        book.create_sheet("Notes").append(["All prices in USD"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def base_price(i: int) -> float:
    return round(0.01 + i / 1000, 5)


def deck(n: int, *, price=base_price) -> list[list]:
    return (
        [["Acme Telecom rates"], []]
        + [["Destination", "Code", "Rate", "Valid From"]]
        + [
            [f"Place {i % 7}", str(4400 + i), price(i), dt.date(2026, 1, 1 + i % 28)]
            for i in range(n)
        ]
    )


def read(data: bytes, cache: SheetCache | None = None):
    return [(s.name, s.frame) for s in read_sheets(data, filename="deck.xlsx", cache=cache)]


def same(got, want) -> None:
    assert [name for name, _ in got] == [name for name, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        assert a.columns == b.columns
        assert a.rows() == b.rows()


@pytest.fixture
def cache(tmp_path: Path) -> SheetCache:
    return SheetCache(tmp_path / "sheets", 2**30)


def test_a_changed_price_is_parsed_alone_and_the_rest_comes_from_the_last_read(cache, caplog):
    first = workbook(deck(300))
    again = workbook(deck(300, price=lambda i: 9.87654321012 if i in (5, 150) else base_price(i)))
    same(read(first, cache), read(first))
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    got = read(again, cache)
    same(got, read(again))
    assert "'Rates': 2 of 303 row segments changed" in caplog.text
    frame = got[0][1]
    assert frame.row(3 + 5)[2] == "9.87654321012"  # exact, past fastexcel's 9 decimals
    assert frame.row(3 + 6)[2] == "0.016"


def test_the_same_workbook_again_parses_nothing(cache, caplog):
    data = workbook(deck(50), notes=True)
    want = read(data)
    same(read(data, cache), want)
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    same(read(data, cache), want)
    assert "'Rates': 0 of 53 row segments changed" in caplog.text
    assert "'Notes': 0 of 1 row segments changed" in caplog.text


@pytest.mark.parametrize(
    ("part", "old", "new", "again"),
    [
        # saved again by another program: document properties hold no cell
        ("docProps/core.xml", b"openpyxl", b"Excel 2019", True),
        # number format 14 (a date) for what was a plain number: every number cell changes
        ("xl/styles.xml", b'numFmtId="0"', b'numFmtId="14"', False),
    ],
)
def test_which_other_parts_keep_the_entry(cache, caplog, part, old, new, again):
    data = workbook(deck(20))
    read(data, cache)
    assert old in zipfile.ZipFile(io.BytesIO(data)).read(part)
    edited = _patch(data, part, lambda x: x.replace(old, new))
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    same(read(edited, cache), read(edited))
    assert ("0 of 23 row segments changed" in caplog.text) is again
    assert (AGAIN in caplog.text) is again


def test_rows_without_numbers_mean_a_whole_parse(cache, caplog):
    data = workbook(deck(30))
    read(data, cache)
    # the changed row carries no r="…": its place would come from the rows before it
    changed = _patch(
        data,
        "xl/worksheets/sheet1.xml",
        lambda x: re.sub(rb'<row r="10">(.*?)<v>0.016</v>', rb"<row>\g<1><v>0.5</v>", x),
    )
    assert changed != data
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    same(read(changed, cache), read(changed))
    assert AGAIN not in caplog.text


def test_a_broken_entry_is_a_whole_parse_and_is_written_again(cache, caplog):
    data = workbook(deck(40))
    read(data, cache)
    (entry,) = cache.folder.glob("*.arrow")
    entry.write_bytes(entry.read_bytes()[:200])
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    same(read(data, cache), read(data))
    assert "unreadable" in caplog.text and AGAIN not in caplog.text
    caplog.clear()
    same(read(data, cache), read(data))
    assert "0 of 43 row segments changed" in caplog.text


def test_decks_sharing_their_other_parts_each_find_their_own_entry(tmp_path, caplog):
    # a vendor's system sends a deck per product: same styles, same sheet name, other rows
    cache = SheetCache(tmp_path / "sheets", 2**30)
    products = [deck(100 + 10 * p, price=lambda i, p=p: base_price(i) + p) for p in range(5)]
    for rows in products[:4]:
        read(workbook(rows), cache)
    assert len(list(cache.folder.glob("*.arrow"))) == 4  # one key, four slots
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    for p in (2, 0, 3, 1):
        rows = [list(r) for r in products[p]]
        rows[5][2] = 7.5
        caplog.clear()
        same(read(workbook(rows), cache), read(workbook(rows)))
        assert f"1 of {len(rows)} row segments changed" in caplog.text, p
    # a fifth product takes the slot used longest ago (product 2's)
    read(workbook(products[4]), cache)
    for p, again in ((2, False), (1, True)):
        caplog.clear()
        read(workbook(products[p]), cache)
        assert (AGAIN in caplog.text) is again, p


def test_a_vendors_entries_are_its_own(tmp_path, caplog):
    data = workbook(deck(30))
    read(data, SheetCache(tmp_path, 2**30, namespace="acme"))
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    read(data, SheetCache(tmp_path, 2**30, namespace="globex"))
    assert AGAIN not in caplog.text
    assert len(list(tmp_path.glob("*.arrow"))) == 2
    read(data, SheetCache(tmp_path, 2**30, namespace="acme"))
    assert "0 of 33 row segments changed" in caplog.text


def test_entries_beyond_the_budget_go_least_recently_used_first(tmp_path):
    one, two = workbook(deck(200)), workbook(deck(200, price=lambda i: 1.5), title="Other")
    probe = SheetCache(tmp_path / "probe", 2**30)
    read(one, probe)
    (entry,) = probe.folder.glob("*.arrow")
    cache = SheetCache(tmp_path / "sheets", entry.stat().st_size * 3 // 2)
    read(one, cache)
    read(two, cache)  # both do not fit: the older goes
    (kept,) = cache.folder.glob("*.arrow")
    read(one, cache)
    assert list(cache.folder.glob("*.arrow")) != [kept]


def test_a_failure_in_reading_again_is_a_whole_parse(cache, caplog, monkeypatch):
    first = workbook(deck(40))
    again = workbook(deck(40, price=lambda i: 2.5 if i == 7 else base_price(i)))
    read(first, cache)

    def broken(*args, **kwargs):
        raise RuntimeError("disk says no")

    monkeypatch.setattr(sheetcache, "assemble", broken)
    monkeypatch.setattr(sheetcache.SheetCache, "_evict", broken)  # and writing the entry fails too
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    same(read(again, cache), read(again))
    assert "not read again, parsed whole: RuntimeError('disk says no')" in caplog.text
    assert "not written: disk says no" in caplog.text


def test_a_write_cut_short_is_cleared_an_hour_later(cache):
    cache.folder.mkdir(parents=True)
    old, new = cache.folder / ".a.arrow.1.tmp", cache.folder / ".b.arrow.2.tmp"
    old.write_bytes(b"half an entry")
    new.write_bytes(b"an entry being written")
    os.utime(old, (time.time() - 3700,) * 2)
    read(workbook(deck(5)), cache)
    assert not old.exists() and new.exists()
    assert len(list(cache.folder.glob("*.arrow"))) == 1


def test_an_unwritable_folder_costs_nothing_but_the_entry(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    data = workbook(deck(10))
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    same(read(data, SheetCache(blocker / "sheets", 2**30)), read(data))
    assert "not written" in caplog.text


def _patch(data: bytes, part: str, edit) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            dst.writestr(info.filename, edit(content) if info.filename == part else content)
    return out.getvalue()


# --- whatever changed, a read from the cache is a whole parse ----------------------------------

_cells = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "x", "Germany Mobile", "true", "0049", "1,5", "2026-01-05"]),
    st.integers(-5, 10**9),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3)),
    st.sampled_from([1 / 3, 0.1 + 0.2, 0.15840000000000001, 123456.123456789]),
    st.booleans(),
    st.dates(dt.date(1995, 1, 1), dt.date(2040, 1, 1)),
    st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1)),
)
_rows = st.lists(st.lists(_cells, max_size=6), max_size=40)


@st.composite
def _edits(draw, rows: list[list]) -> list[list]:
    rows = [list(r) for r in rows]
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["set", "set", "set", "blank", "append", "drop", "insert"]))
        if op == "set" and rows:
            i = draw(st.integers(0, len(rows) - 1))
            j = draw(st.integers(0, 6))
            rows[i] += [None] * (j + 1 - len(rows[i]))
            rows[i][j] = draw(_cells)
        elif op == "blank" and rows:
            rows[draw(st.integers(0, len(rows) - 1))] = []
        elif op == "append":
            rows += draw(st.lists(st.lists(_cells, max_size=6), max_size=3))
        elif op == "drop" and rows:
            del rows[draw(st.integers(1, len(rows))) * -1 :]
        elif op == "insert":
            rows.insert(draw(st.integers(0, len(rows))), draw(st.lists(_cells, max_size=6)))
    return rows


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_sheet_read_again_is_the_whole_parse_of_it(data):
    rows = data.draw(_rows)
    inline = data.draw(st.booleans())
    chain = [rows]
    for _ in range(data.draw(st.integers(1, 3))):
        chain.append(data.draw(_edits(chain[-1])))
    with tempfile.TemporaryDirectory() as folder:
        cache = SheetCache(Path(folder), 2**30)
        for rows in chain:  # each read against what the earlier reads left
            book = workbook(rows, inline=inline)
            try:
                want = read(book)
            except Exception as exc:
                with pytest.raises(type(exc)):
                    read(book, cache)
                continue
            same(read(book, cache), want)
