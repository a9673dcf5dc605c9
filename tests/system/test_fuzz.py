"""Fuzzing the mail pipeline (docs/reading.md#row-errors-and-refusal, docs/mail.md#mail-in) with
hypothesis: random MIME messages (nesting, transfer encodings, broken boundaries, huge headers, bad
base64, random content types) and random sheets (cells in CSV or XLSX, random encodings and
delimiters), DKIM-signed so they reach the reader, go through the real ``Pipeline`` on SQLite.
Every input must end in an outcome (imported, refused with a reason, quarantined with a reason,
duplicate), never an exception, and no version may be half-written (each version's row count is its
rows).

CI runs a bounded number of examples; ``INGESTD_FUZZ_EXAMPLES=2000`` runs a long session on a
developer's machine."""

from __future__ import annotations

import base64
import io
import os
import string
from collections.abc import Iterator
from pathlib import Path

import dkim
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rig.factories import versions_are_whole
from rig.mail import VENDOR, codes, config_path, csv_deck, signed
from rig.signers import SigningKey, rsa_key

from ingestd.config import load_config
from ingestd.mail.skips import SKIP_REASONS
from ingestd.message.outcome import MessageOutcome
from ingestd.message.pipeline import Pipeline
from ingestd.rates.store import Store

EXAMPLES = int(os.environ.get("INGESTD_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
OUTCOMES = {"imported", "partly_imported", "refused", "duplicate", "quarantined"}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key(1024)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, key) -> Iterator[Pipeline]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    config = load_config(config_path(tmp, pin=key), env={})
    store = Store(f"sqlite:///{tmp / 'ingestd.db'}")
    store.upgrade()
    yield Pipeline(config, store)
    store.close()


def check(pipeline: Pipeline, outcome: MessageOutcome) -> None:
    assert outcome.status in OUTCOMES, outcome.as_dict()
    if outcome.status == "quarantined":
        assert outcome.reason, outcome.as_dict()
    for skipped in outcome.skipped:
        assert skipped["reason"] in SKIP_REASONS, skipped
    for sheet in outcome.sheets:
        for result in sheet["outcomes"]:
            if result["status"] == "refused":
                assert result["reason"] and result["message"], result
    versions_are_whole(pipeline.store)


# --- messages ----------------------------------------------------------------------------------

HEADERS = (
    "From: Acme Rates <rates@acme.example>\r\nTo: rates@carrier.example\r\n"
    "Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n"
)
CONTENT_TYPES = st.sampled_from(
    [
        "text/csv",
        "text/plain",
        "application/octet-stream",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "message/rfc822",
        "image/png",
        "multipart/mixed",
        "application/pkcs7-signature",
        "text/html; charset=utf-8",
        "x/y",
        "",
    ]
) | st.text(string.printable, max_size=40)
ENCODINGS = st.sampled_from(
    ["base64", "quoted-printable", "7bit", "8bit", "binary", "x-uue", "bogus"]
)
BODIES = st.one_of(
    st.just(csv_deck(codes(3))),
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.just(b"PK\x03\x04" + bytes(40)),
)


def encoded(body: bytes, encoding: str, draw) -> bytes:
    if encoding == "base64":
        text = base64.encodebytes(body)
        if draw(st.booleans()):  # broken: cut, or junk characters inside
            cut = draw(st.integers(0, len(text)))
            text = text[:cut] + draw(st.sampled_from([b"", b"!*", b"="]))
        return text
    if encoding == "quoted-printable":
        import quopri

        return quopri.encodestring(body) + draw(st.sampled_from([b"", b"=\r\n", b"=ZZ"]))
    return body


@st.composite
def mime_part(draw, depth: int = 0) -> bytes:
    content_type = draw(CONTENT_TYPES)
    if depth < 3 and draw(st.integers(0, 3)) == 0:
        boundary = draw(st.sampled_from(["b1", "=_x", "a" * 70, ""])) + str(depth)
        children = draw(st.lists(mime_part(depth + 1), min_size=0, max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + child + b"\r\n" for child in children)
        if draw(st.booleans()):  # the closing boundary, often missing
            body += b"--" + boundary.encode() + b"--\r\n"
        declared = draw(st.sampled_from([boundary, boundary + "x", ""]))  # mismatched or none
        head = f'Content-Type: multipart/mixed; boundary="{declared}"\r\n'
        return head.encode() + b"\r\n" + body
    encoding = draw(ENCODINGS)
    name = draw(st.sampled_from(["rates.csv", "rates.xlsx", "a.zip", "../x", "", "f.eml"]))
    head = f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n"
    if name:
        head += f'Content-Disposition: attachment; filename="{name}"\r\n'
    return head.encode() + b"\r\n" + encoded(draw(BODIES), encoding, draw)


@st.composite
def messages(draw) -> bytes:
    subject = draw(st.text(max_size=30)) * draw(st.sampled_from([1, 1, 500]))  # huge headers
    extra = draw(st.sampled_from(["", "X-Long: " + "y" * 20000 + "\r\n", "Bad header line\r\n"]))
    number = draw(st.integers(0, 10**9))
    head = HEADERS + f"Subject: {subject.replace(chr(13), ' ').replace(chr(10), ' ')}\r\n"
    head += f"Message-ID: <fuzz-{number}@acme.example>\r\n{extra}MIME-Version: 1.0\r\n"
    return head.encode("utf-8", "surrogateescape") + draw(mime_part())


@FUZZ
@given(raw=messages(), sign=st.booleans())
def test_random_messages_end_in_an_outcome(pipeline, key, raw, sign):
    message = raw
    if sign:
        try:
            message = signed(raw, key)
        except dkim.MessageFormatError:  # the signer refuses what it cannot parse: send as is
            pass
    check(pipeline, pipeline.process(message, source="smtp"))


# --- sheets ------------------------------------------------------------------------------------

CELLS = st.one_of(
    st.none(),
    st.sampled_from(["Prefix", "Code", "Rate", "Price", "Destination", "Effective Date", "ASAP"]),
    st.integers(-10, 10**15).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.sampled_from(["2025-01-06", "06/01/2025", "31-Dec-24", "=1+2", "44-49", "1e5", "60/60"]),
    st.text(max_size=20),
)
GRIDS = st.lists(st.lists(CELLS, min_size=1, max_size=8), min_size=0, max_size=12)


def as_csv(grid: list[list[str | None]], delimiter: str, encoding: str) -> bytes:
    lines = [delimiter.join(cell or "" for cell in row) for row in grid]
    return "\r\n".join(lines).encode(encoding, "replace")


def as_xlsx(grid: list[list[str | None]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in grid:
        sheet.append(
            ["".join(ch for ch in cell if ch.isprintable()) if cell else None for cell in row]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@st.composite
def sheets(draw) -> tuple[str, bytes]:
    header = [["Destination", "Prefix", "Rate"]] if draw(st.booleans()) else []
    grid = header + draw(GRIDS)
    if draw(st.booleans()):
        return "rates.xlsx", as_xlsx(grid)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
    return "rates.csv", as_csv(grid, delimiter, encoding)


def deck_message(name: str, data: bytes, number: int) -> bytes:
    body = base64.encodebytes(data).decode()
    return (
        f"{HEADERS}Subject: rates\r\nMessage-ID: <sheet-{number}@acme.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        "--zz\r\nContent-Type: text/plain\r\n\r\nRates attached.\r\n"
        f"--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\n{body}--zz--\r\n'
    ).encode()


@FUZZ
@given(sheet=sheets(), number=st.integers(0, 10**9))
def test_random_sheets_end_in_an_outcome(pipeline, key, sheet, number):
    name, data = sheet
    outcome = pipeline.process(signed(deck_message(name, data, number), key), source="smtp")
    check(pipeline, outcome)
    if outcome.status != "duplicate":  # hypothesis may send the same bytes again
        assert outcome.vendor == VENDOR  # authenticated: the sheet reached the reader
