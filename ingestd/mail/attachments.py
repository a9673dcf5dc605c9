"""The files the mail ingestd writes attaches: rejected and deferred rows, the decks of a
message, held messages, price changes (CSV and XLSX)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from ingestd.rates.export import _XML_ILLEGAL as XML_ILLEGAL  # the exports' one rule for XLSX
from ingestd.rates.export import FORMULA_START, neutralize_formula
from ingestd.rates.model import price_text

# a MessageOutcome, or its as_dict() as the messages row stores it (JSON)


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str
    subtype: str


def _change_table(changes: pl.DataFrame, *, xlsx: bool = False) -> pl.DataFrame:
    """The attachment's columns as text: exact prices, ISO times, a vendor's description
    neutralized as the exports do it (no formulas; for XLSX no characters XML refuses)."""
    cells = []
    for name, header in CHANGE_HEADERS.items():
        if name not in changes.columns:
            continue
        col = pl.col(name)
        if name in ("old_price", "new_price"):
            col = price_text(col)
        elif name == "effective_from":
            col = col.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif name == "description":
            col = neutralize_formula(col)
            if xlsx:
                col = col.str.replace_all(XML_ILLEGAL, "\ufffd")
        cells.append(col.alias(header))
    return changes.select(cells)


CHANGE_HEADERS = {
    "code": "Code",
    "description": "Description",
    "change": "Change",
    "old_price": "Old Price",
    "new_price": "New Price",
    "currency": "Currency",
    "effective_from": "Effective From (UTC)",
    "old_increment": "Old Increment",
    "new_increment": "New Increment",
}


def changes_csv(changes: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    _change_table(changes).write_csv(out, line_terminator="\r\n", null_value="")
    return out.getvalue()


def changes_xlsx(changes: pl.DataFrame) -> bytes:
    from openpyxl import Workbook  # only notices pay for importing it

    table = _change_table(changes, xlsx=True)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("changes")
    sheet.append(table.columns)
    for row in table.iter_rows():
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- attachments ---------------------------------------------------------------------------


def _text_cell(value: Any) -> str:
    """A cell a vendor wrote, safe to open in a spreadsheet (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if re.match(FORMULA_START, text) else text


def rejected_csv(rows: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    """Every rejected row with its reason and the raw cells, one cell per column, so the
    vendor sees the row as their sheet had it."""
    width = max((len(r.get("cells") or ()) for r in rows), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["File", "Sheet", "Row", "Code", "Reason", "Message"]
        + [f"Cell {i + 1}" for i in range(width)]
    )
    for r in rows:
        cells = list(r.get("cells") or ())
        writer.writerow(
            [
                _text_cell(r.get("file_name")),
                _text_cell(r.get("sheet")),
                "" if r.get("row") is None else r["row"],
                _text_cell(r.get("code")),
                r.get("reason") or "",
                _text_cell(r.get("message")),
            ]
            + [_text_cell(c) for c in cells]
            + [""] * (width - len(cells))
        )
    return Attachment(name, out.getvalue().encode("utf-8-sig"), "text", "csv")


def decks_csv(decks: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    """One line per deck of an import summary."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["File", "Sheet", "Table", "Kind", "Version", "Status", "Reason", "Rows in file",
         "Accepted", "Rejected", "Deferred", "Changed", "Export"]
    )  # fmt: skip
    for d in decks:
        writer.writerow(
            [_text_cell(d["path"]), _text_cell(d["sheet"]), _text_cell(d["table"]), d["kind"],
             d["version"] or "", d["status_label"], d["reason"] or "", d["rows"]["in_file"],
             d["rows"]["accepted"], d["rows"]["rejected"], d["rows"]["deferred"], d["changes"],
             d.get("export_command") or ""]
        )  # fmt: skip
    return Attachment(name, out.getvalue().encode("utf-8-sig"), "text", "csv")


def held_csv(held: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    """Every entry of an unauthenticated digest; the From and Subject are a stranger's words."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Quarantine id", "Held at (UTC)", "From", "Subject", "Reason", "Detail"])
    for h in held:
        writer.writerow(
            [h["id"], h["held_at"], _text_cell(h["from"]), _text_cell(h["subject"]),
             h["reason"], _text_cell(h["detail"])]
        )  # fmt: skip
    return Attachment(name, out.getvalue().encode("utf-8-sig"), "text", "csv")


def deferred_csv(rows: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Code", "Change", "Stated (UTC)", "Effective (UTC)", "Row"])
    for r in rows:
        writer.writerow([r.get(k) for k in ("code", "change_class", "stated", "effective", "row")])
    return Attachment(name, out.getvalue().encode("utf-8"), "text", "csv")


def slug(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text or "table").strip("-") or "table"
