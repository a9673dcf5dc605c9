"""Exports and outgoing attachments are safe to open (OWASP "CSV injection"): text a
spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab, CR) in any text
field gets one leading ``'`` in CSV and XLSX, numbers stay as they are, and our own export
read back gives the same rows (the reader removes exactly that one quote).  Every HTML template
escapes what a vendor wrote."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import polars as pl
import pytest

from ingestd.mail import attachments
from ingestd.mail.render import PARTS, TEMPLATE_NAMES, environment
from ingestd.rates.export import write_export
from ingestd.rates.model import spec_for
from ingestd.sheets.opentwps import read_opentwps

FORMULAS = ["=cmd|' /C calc'!A0", "+44 mobile", "-1+2", "@SUM(A1)", "\tindented", "\rreturn"]


def did_rows(text: str) -> pl.DataFrame:
    row = {
        "code": "4420794600",
        "effective_from": dt.datetime(2025, 1, 6, 10, 0),
        "inbound_voice_price": Decimal("0.0050"),
        "inbound_sms_price": Decimal("0"),
        "interval": 60,
        "mrc": Decimal("1.25"),
        "nrc": Decimal("10"),
        "docs_required": True,
        "status": text,
        "type": text,
        "voice": True,
        "sms": False,
        "fax": False,
        "video": False,
        "capacity": 2,
        "notes": text,
        "local_requirements": text,
        "effective_to": None,
        "forbidden": False,
        "discontinued": False,
        "description": text,
        "currency": "USD",
    }
    return pl.DataFrame([row], schema=spec_for("did").schema())


def exported(frame: pl.DataFrame, fmt: str) -> bytes:
    out = io.BytesIO()
    write_export(frame, "did", fmt, out, extended=True)
    return out.getvalue()


def text_fields() -> list[str]:
    schema = spec_for("did").schema()
    return [
        name
        for name, dtype in schema.items()
        if dtype == pl.String and name not in ("code", "currency")
    ]


@pytest.mark.parametrize("text", FORMULAS)
def test_every_text_field_is_neutralized_and_numbers_are_not(text):
    frame = did_rows(text)
    rows = list(csv.reader(io.StringIO(exported(frame, "csv").decode(), newline="")))
    cells = dict(zip(rows[0], rows[1], strict=True))
    for header in ("Status", "Type", "Notes", "Local Requirements", "Description"):
        assert cells[header] == "'" + text, (header, cells[header])
    assert (cells["Number e164"], cells["MRC"], cells["NRC"], cells["Capacity"]) == (
        "4420794600",
        "1.25",
        "10",
        "2",
    )
    book = openpyxl.load_workbook(io.BytesIO(exported(frame, "xlsx")))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    values = dict(zip(header, [c for c in sheet[2]], strict=True))
    for name in ("Status", "Type", "Notes", "Local Requirements", "Description"):
        assert values[name].data_type == "s" and values[name].value.startswith("'"), name
    assert values["Capacity"].value == 2 and values["MRC"].value == "1.25"
    # our own files read back to the same rows: the one quote goes again
    # (XML turns a CR into LF, so XLSX keeps "\r…" only as "'\n…"; normalized rows never
    # start with white space, see normalize.py)
    for fmt in ("csv", "xlsx") if not text.startswith("\r") else ("csv",):
        deck = read_opentwps(exported(frame, fmt), filename=f"did.{fmt}", kind="did")
        back = deck.rows.select(text_fields())
        assert back.row(0) == tuple(text for _ in text_fields()), fmt
        assert deck.rows["mrc"].to_list() == [Decimal("1.25")]


def test_a_vendor_text_that_starts_with_quotes_is_kept_exactly():
    for text in ("'=quoted", "''+twice", "'plain", "it's"):
        deck = read_opentwps(exported(did_rows(text), "csv"), filename="d.csv", kind="did")
        assert deck.rows["notes"].to_list() == [text]


def test_outgoing_attachments_are_neutralized():
    changes = pl.DataFrame(
        {
            "code": ["44"],
            "description": ['=HYPERLINK("http://x")'],
            "change": ["increase"],
            "old_price": [Decimal("0.01")],
            "new_price": [Decimal("-0.5")],  # a number, even with a minus: untouched
        }
    )
    text = attachments.changes_csv(changes).decode()
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["Description"] == '\'=HYPERLINK("http://x")'
    assert (row["Code"], row["New Price"]) == ("44", "-0.5")
    book = openpyxl.load_workbook(io.BytesIO(attachments.changes_xlsx(changes)))
    cells = [c for c in book.active[2]]
    assert cells[1].value == '\'=HYPERLINK("http://x")' and cells[1].data_type == "s"
    rejected = attachments.rejected_csv(
        [
            {
                "file_name": "@evil.csv",
                "sheet": "=S",
                "row": 3,
                "code": "+1",
                "reason": "bad_code",
                "message": "-bad",
                "cells": ["=1+2", "\tx", "0.1"],
            }
        ],
        "rejected.csv",
    )
    (line,) = list(csv.DictReader(io.StringIO(rejected.data.decode("utf-8-sig"))))
    assert [line[k] for k in ("File", "Sheet", "Code", "Message", "Cell 1", "Cell 2")] == [
        "'@evil.csv",
        "'=S",
        "'+1",
        "'-bad",
        "'=1+2",
        "'\tx",
    ]
    assert (line["Row"], line["Cell 3"]) == ("3", "0.1")


VENDOR_TEXT = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_every_html_template_autoescapes_what_a_vendor_wrote():
    env = environment(None)
    for name in TEMPLATE_NAMES:
        assert env.autoescape(f"{name}.html") is True, name
        assert env.autoescape(f"{name}.txt") is False, name
        source = env.loader.get_source(env, f"{name}.html")[0]
        assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source, name
    assert "html" in PARTS
    # the layout and the macros every HTML part uses escape a vendor's string
    macros = env.get_template("_macros.html").module
    shown = [
        macros.h2(VENDOR_TEXT),
        macros.note(VENDOR_TEXT),
        macros.code(VENDOR_TEXT),
        macros.facts([(VENDOR_TEXT, VENDOR_TEXT)]),
    ]
    for html in map(str, shown):
        assert "<script>" not in html and "<img" not in html, html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
