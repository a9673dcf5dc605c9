"""docs/mail.md#attachments, docs/reading.md#files: every MIME part that is a rate sheet by its
bytes, inside forwards and mislabeled parts; everything else left out with a reason, never an
exception."""

from __future__ import annotations

import base64
import io
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import openpyxl
import xlwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rig.mail import zip_of

from ingestd.config import Limits
from ingestd.mail.mime import Extraction, extract_sheets
from ingestd.mail.parse import boundary_lines, parse_message, too_many_parts
from ingestd.mail.skips import SKIP_REASONS

CSV = b"Destination,Prefix,Rate\r\nUnited Kingdom,44,0.1\r\nGermany,49,0.2\r\n"
LIMITS = Limits()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
TNEF = b"\x78\x9f\x3e\x22\x01\x00\x01\x06\x90\x08\x00" + b"\x00" * 40


def xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "Prices"
    book.active.append(["Prefix", "Rate"])
    book.active.append(["49", 0.2])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def xls() -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Rates")
    sheet.write(0, 0, "Prefix")
    sheet.write(0, 1, "Rate")
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def extract(message: EmailMessage | MIMEBase | bytes, limits: Limits = LIMITS) -> Extraction:
    """Through the bytes, as the pipeline sees a message: serialized, then parsed."""
    raw = message if isinstance(message, bytes) else message.as_bytes()
    return extract_sheets(parse_message(raw), limits)


def found(extraction: Extraction) -> list[tuple[str, str]]:
    return [(sheet.path, sheet.format) for sheet in extraction.sheets]


def left_out(extraction: Extraction) -> list[tuple[str, str]]:
    return [(part.path, part.reason) for part in extraction.skipped]


def message(subject: str = "Rates", body: str = "Please find our rates attached.") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Acme Rates <rates@acme.example>"
    msg["To"] = "rates@carrier.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<deck-1@acme.example>"
    msg.set_content(body)
    return msg


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("ascii")


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


# --- mislabeled parts: the bytes decide ------------------------------------------------------


def test_csv_sent_as_octet_stream_with_an_rfc2231_utf8_file_name():
    raw = crlf(
        "From: rates@acme.example\n"
        "Subject: =?UTF-8?Q?Preisliste_M=C3=A4rz?=\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="sep"\n'
        "\n"
        "--sep\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "Anbei die Preise.\n"
        "--sep\n"
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename*=UTF-8''Preisliste%20M%C3%A4rz.csv\n"
        "Content-Transfer-Encoding: base64\n"
        "\n" + b64(CSV) + "--sep--\n"
    )
    result = extract(raw)
    (sheet,) = result.sheets
    assert sheet.filename == "Preisliste März.csv"
    assert (sheet.path, sheet.format, sheet.declared_type) == (
        "Preisliste März.csv",
        "csv",
        "application/octet-stream",
    )
    assert sheet.data == CSV
    assert sheet.subject == "Preisliste März"
    assert sheet.depth == 0
    assert left_out(result) == [("part-1", "body_text")]


def test_rfc2047_encoded_name_and_a_path_in_the_name_become_a_safe_basename():
    raw = crlf(
        "Subject: x\n"
        'Content-Type: multipart/mixed; boundary="sep"\n'
        "\n"
        "--sep\n"
        'Content-Type: text/csv; name="=?UTF-8?B?UHLDpGlzZS5jc3Y=?="\n'
        "\n"
        "Prefix,Rate\n44,0.1\n"
        "--sep\n"
        "Content-Type: text/csv\n"
        'Content-Disposition: attachment; filename="..\\\\..\\\\windows\\\\.deck.csv"\n'
        "\n"
        "Prefix,Rate\n49,0.2\n"
        "--sep--\n"
    )
    assert [s.filename for s in extract(raw).sheets] == ["Präise.csv", "deck.csv"]


def test_an_xlsx_named_xls_and_declared_text_plain_is_an_xlsx():
    book = xlsx()
    msg = message()
    msg.add_attachment(book, maintype="text", subtype="plain", filename="rates.xls")
    (sheet,) = extract(msg).sheets
    assert (sheet.filename, sheet.format, sheet.declared_type) == (
        "rates.xls",
        "xlsx",
        "text/plain",
    )
    assert sheet.data == book


def test_a_legacy_xls_and_a_word_document_share_the_container_but_only_one_is_a_sheet():
    word = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "WordDocument\0".encode("utf-16-le")
    )
    protected = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 500
        + "EncryptedPackage\0".encode("utf-16-le")
    )
    msg = message()
    msg.add_attachment(xls(), maintype="application", subtype="vnd.ms-excel", filename="a.xls")
    msg.add_attachment(word, maintype="application", subtype="vnd.ms-excel", filename="b.xls")
    msg.add_attachment(protected, maintype="application", subtype="octet-stream", filename="c.xlsx")
    result = extract(msg)
    assert found(result) == [("a.xls", "xls")]
    assert left_out(result) == [
        ("part-1", "body_text"),
        ("b.xls", "not_a_sheet"),
        ("c.xlsx", "encrypted"),
    ]
    assert "Word document" in result.skipped[1].detail


def test_a_nameless_text_attachment_with_csv_content_is_a_sheet_named_by_its_format():
    raw = crlf(
        "Subject: deck\n"
        'Content-Type: multipart/mixed; boundary="sep"\n'
        "\n"
        "--sep\n"
        "Content-Type: text/plain\n"
        "\n"
        "Rates below.\n"
        "--sep\n"
        "Content-Type: text/plain\n"
        "Content-Disposition: attachment\n"
        "\n"
        "Prefix;Rate\n44;0,1\n"
        "--sep\n"
        "Content-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: base64\n"
        "\n" + b64(xlsx()) + "--sep--\n"
    )
    result = extract(raw)
    assert found(result) == [("part-2.csv", "csv"), ("part-3.xlsx", "xlsx")]
    assert [s.filename for s in result.sheets] == ["part-2.csv", "part-3.xlsx"]
    assert left_out(result) == [("part-1", "body_text")]


def test_an_inline_csv_with_a_file_name_is_a_sheet_but_a_csv_looking_body_is_not():
    msg = EmailMessage()
    msg["Subject"] = "deck"
    msg.set_content(CSV.decode())  # the body itself looks like a CSV
    msg.add_alternative("<p>Prefix,Rate</p>", subtype="html")
    outer = EmailMessage()
    outer["Subject"] = "deck"
    outer.make_mixed()
    outer.attach(msg)
    inline = MIMEText(CSV.decode(), "plain")
    inline.add_header("Content-Disposition", "inline", filename="inline.csv")
    outer.attach(inline)
    result = extract(outer)
    assert found(result) == [("inline.csv", "csv")]
    assert left_out(result) == [("part-1.1", "body_text"), ("part-1.2", "body_text")]


def test_a_multipart_alternative_body_with_a_csv_looking_plain_text_is_no_sheet():
    msg = message(body=CSV.decode())
    msg.add_alternative("<html><body><pre>Prefix,Rate</pre></body></html>", subtype="html")
    result = extract(msg)
    assert result.sheets == ()
    assert left_out(result) == [("part-1", "body_text"), ("part-2", "body_text")]


def test_a_message_without_attachments_has_no_sheet_and_says_why():
    result = extract(message())
    assert result.sheets == ()
    assert left_out(result) == [("part-1", "body_text")]
    assert result.skipped[0].declared_type == "text/plain"


def test_a_whole_message_that_is_one_csv():
    raw = crlf(
        "Subject: deck\n"
        "Content-Type: text/csv; name=deck.csv\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Destination,Prefix,Rate\nK=C3=B6ln,49221,0.1\n"
    )
    (sheet,) = extract(raw).sheets
    assert (sheet.path, sheet.format) == ("deck.csv", "csv")
    assert sheet.data == "Destination,Prefix,Rate\r\nKöln,49221,0.1\r\n".encode()


# --- ZIP archives ----------------------------------------------------------------------------


def test_a_zip_holding_a_csv_is_one_attachment_even_when_named_csv():
    msg = message()
    archive = zip_of({"deck/rates.csv": CSV, "readme.pdf": PDF})
    msg.add_attachment(archive, maintype="text", subtype="csv", filename="rates.csv")
    result = extract(msg)
    (sheet,) = result.sheets
    assert (sheet.filename, sheet.format, sheet.data) == ("rates.csv", "zip", archive)


def test_a_zip_holding_only_pdfs_and_a_logo_is_not_a_sheet_whatever_the_names():
    msg = message()
    msg.add_attachment(
        zip_of({"terms.pdf": PDF, "__MACOSX/._r.csv": b"x", "logo.dat": PNG, "rates.csv": PDF}),
        maintype="application",
        subtype="zip",
        filename="docs.zip",
    )
    result = extract(msg)
    assert result.sheets == ()
    assert left_out(result)[1] == ("docs.zip", "not_a_sheet")
    assert result.skipped[1].detail == "the archive holds no sheet (terms.pdf, logo.dat, rates.csv)"


def test_a_zip_member_is_judged_by_its_magic_when_its_name_says_nothing():
    msg = message()
    msg.add_attachment(
        zip_of({"export": CSV}), maintype="application", subtype="zip", filename="a.zip"
    )
    msg.add_attachment(
        zip_of({"book": xlsx()}), maintype="application", subtype="zip", filename="b.zip"
    )
    msg.add_attachment(
        zip_of({"index": b"<html><table></table></html>"}),
        maintype="application",
        subtype="zip",
        filename="c.zip",
    )
    result = extract(msg)
    assert found(result) == [("a.zip", "zip"), ("b.zip", "zip")]
    assert left_out(result)[1:] == [("c.zip", "not_a_sheet")]


def test_zip_limits_members_and_password():
    msg = message()
    msg.add_attachment(
        zip_of({f"r{i}.csv": CSV + str(i).encode() for i in range(4)}),
        maintype="application",
        subtype="zip",
        filename="many.zip",
    )
    locked = bytearray(zip_of({"rates.csv": CSV}))
    central = locked.index(b"PK\x01\x02")
    locked[central + 8] |= 0x1  # general purpose flag: encrypted
    msg.add_attachment(bytes(locked), maintype="application", subtype="zip", filename="locked.zip")
    result = extract(msg, Limits(max_zip_members=3))
    assert result.sheets == ()
    assert left_out(result)[1:] == [("many.zip", "too_many_members"), ("locked.zip", "encrypted")]


def test_a_zip_the_reader_chokes_on_is_unreadable_not_an_exception():
    # a UTF-8-flagged member name that is not UTF-8: zipfile raises UnicodeDecodeError
    broken = bytearray(zip_of({"rates.csv": CSV}))
    central = broken.index(b"PK\x01\x02")
    broken[central + 8 : central + 10] = (0x800).to_bytes(2, "little")
    broken[broken.index(b"rates.csv", central)] = 0xFF
    truncated = zip_of({"rates.csv": CSV * 50})[:100]
    msg = message()
    msg.add_attachment(bytes(broken), maintype="application", subtype="zip", filename="a.zip")
    msg.add_attachment(truncated, maintype="application", subtype="zip", filename="b.zip")
    result = extract(msg)
    assert result.sheets == ()
    assert left_out(result)[1:] == [("a.zip", "unreadable"), ("b.zip", "unreadable")]


# --- forwarded messages ----------------------------------------------------------------------


def forward(inner: EmailMessage, subject: str) -> EmailMessage:
    outer = message(subject, body="See the forwarded mail.")
    outer.add_attachment(inner)  # message/rfc822
    return outer


def test_a_forwarded_message_holding_an_xlsx():
    inner = message("rates")
    inner.add_attachment(
        xlsx(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="rates.xlsx",
    )
    result = extract(forward(inner, "Fwd: rates"))
    (sheet,) = result.sheets
    assert (sheet.path, sheet.filename, sheet.format) == (
        "rates.eml/rates.xlsx",
        "rates.xlsx",
        "xlsx",
    )
    assert (sheet.subject, sheet.depth) == ("rates", 1)
    assert left_out(result) == [("part-1", "body_text"), ("rates.eml/part-1", "body_text")]
    assert result.message_summary.subject == "Fwd: rates"


def test_a_forward_of_a_forward_holding_a_zip():
    inner = message("rates")
    inner.add_attachment(
        zip_of({"rates.csv": CSV}), maintype="application", subtype="zip", filename="rates.zip"
    )
    twice = forward(forward(inner, "Fwd: rates"), "Fwd: Fwd: rates")
    result = extract(twice)
    assert found(result) == [("Fwd: rates.eml/rates.eml/rates.zip", "zip")]
    assert result.sheets[0].subject == "rates"
    assert result.sheets[0].depth == 2


def test_forwards_nested_beyond_the_limit_are_too_deep():
    inner = message("rates")
    inner.add_attachment(CSV, maintype="text", subtype="csv", filename="rates.csv")
    twice = forward(forward(inner, "Fwd: rates"), "Fwd: Fwd: rates")
    result = extract(twice, Limits(max_nesting=1))
    assert result.sheets == ()
    assert ("Fwd: rates.eml/rates.eml", "too_deep") in left_out(result)
    # a ZIP counts as one more level, as the reader counts it
    inner = message("rates")
    inner.add_attachment(
        zip_of({"rates.csv": CSV}), maintype="application", subtype="zip", filename="rates.zip"
    )
    result = extract(forward(forward(inner, "Fwd: rates"), "Fwd: Fwd"), Limits(max_nesting=2))
    assert ("Fwd: rates.eml/rates.eml/rates.zip", "too_deep") in left_out(result)
    assert extract(forward(forward(inner, "Fwd: rates"), "Fwd"), Limits(max_nesting=3)).sheets


def test_a_forward_built_with_email_mime_a_base64_rfc822_and_an_attached_eml():
    inner = MIMEMultipart()
    inner["Subject"] = "May deck"
    inner.attach(MIMEText("hello"))
    inner.attach(MIMEApplication(CSV, Name="may.csv"))
    outer = MIMEMultipart()
    outer["Subject"] = "Fwd"
    outer.attach(MIMEMessage(inner))
    as_file = MIMEApplication(inner.as_bytes().replace(b"may.csv", b"june.csv") + b"\n")
    as_file.add_header("Content-Disposition", "attachment", filename="June.eml")
    outer.attach(as_file)
    raw = outer.as_bytes()
    encoded = crlf(
        "Subject: b64 forward\n"
        'Content-Type: multipart/mixed; boundary="sep"\n'
        "\n"
        "--sep\n"
        "Content-Type: message/rfc822\n"
        "Content-Transfer-Encoding: base64\n"
        "\n" + b64(inner.as_bytes().replace(b"may.csv", b"july.csv")) + "--sep--\n"
    )
    assert found(extract(raw)) == [("May deck.eml/may.csv", "csv")]
    assert [(s.path, s.reason) for s in extract(raw).skipped if s.reason == "duplicate_part"] == [
        ("June.eml/june.csv", "duplicate_part")
    ]
    assert found(extract(encoded)) == [("May deck.eml/july.csv", "csv")]


def test_a_delivery_report_is_no_forward():
    returned = message("rates")
    returned.add_attachment(CSV, maintype="text", subtype="csv", filename="rates.csv")
    report = MIMEMultipart("report", report_type="delivery-status")
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(MIMEText("The mail could not be delivered."))
    report.attach(MIMEMessage(returned))
    result = extract(report)
    assert result.sheets == ()
    assert left_out(result) == [("part-1", "not_a_sheet")]


# --- what is never a sheet -------------------------------------------------------------------


def test_outlook_winmail_dat_is_named_as_such():
    raw = crlf(
        "From: Acme <rates@acme.example>\n"
        "Subject: rates\n"
        "MIME-Version: 1.0\n"
        "X-MS-TNEF-Correlator: <00000000A1B2@acme.example>\n"
        'Content-Type: multipart/mixed; boundary="_002_MAIL_"\n'
        "\n"
        "--_002_MAIL_\n"
        'Content-Type: text/plain; charset="us-ascii"\n'
        "\n"
        "Rates attached.\n"
        "--_002_MAIL_\n"
        'Content-Type: application/ms-tnef; name="winmail.dat"\n'
        'Content-Disposition: attachment; filename="winmail.dat"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n" + b64(TNEF) + "--_002_MAIL_\n"
        "Content-Type: application/octet-stream; name=att00001.bin\n"
        "Content-Transfer-Encoding: base64\n"
        "\n" + b64(TNEF + b"\x01") + "--_002_MAIL_--\n"
    )
    result = extract(raw)
    assert result.sheets == ()
    assert left_out(result) == [
        ("part-1", "body_text"),
        ("winmail.dat", "winmail_dat"),
        ("att00001.bin", "winmail_dat"),
    ]
    assert "Rich Text" in result.skipped[1].detail


def test_an_inline_logo_is_ignored_but_an_attached_csv_beside_it_is_not():
    related = MIMEMultipart("related")
    related.attach(MIMEText('<html><body><img src="cid:logo"></body></html>', "html"))
    logo = MIMEImage(PNG, "png")
    logo.add_header("Content-ID", "<logo>")
    related.attach(logo)
    outer = MIMEMultipart()
    outer["Subject"] = "rates"
    outer.attach(related)
    outer.attach(MIMEApplication(CSV, Name="rates.csv"))
    attached_picture = MIMEImage(PNG, "png")
    attached_picture.add_header("Content-Disposition", "attachment", filename="scan.png")
    outer.attach(attached_picture)
    result = extract(outer)
    assert found(result) == [("rates.csv", "csv")]
    assert left_out(result) == [
        ("part-1.1", "body_text"),
        ("part-1.2", "inline_image"),
        ("scan.png", "not_a_sheet"),
    ]


def test_signatures_are_ignored_and_the_signed_sheet_is_found():
    signed = MIMEMultipart("signed", protocol="application/pgp-signature", micalg="pgp-sha256")
    content = MIMEMultipart()
    content.attach(MIMEText("rates attached"))
    content.attach(MIMEApplication(CSV, Name="rates.csv"))
    signed.attach(content)
    signature = MIMEApplication(b"-----BEGIN PGP SIGNATURE-----\n...\n", "pgp-signature")
    signed.attach(signature)
    smime = MIMEApplication(b"0\x82\x06\x00", "pkcs7-signature", Name="smime.p7s")
    smime.add_header("Content-Disposition", "attachment", filename="smime.p7s")
    signed.attach(smime)
    signed["Subject"] = "signed"
    result = extract(signed)
    assert found(result) == [("rates.csv", "csv")]
    assert left_out(result) == [
        ("part-1.1", "body_text"),
        ("part-2", "not_a_sheet"),
        ("smime.p7s", "not_a_sheet"),
    ]


def test_documents_cards_calendars_and_web_pages_are_not_sheets():
    msg = message()
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="notice.pdf")
    msg.add_attachment(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Acme\r\nEND:VCARD\r\n",
        maintype="application",
        subtype="octet-stream",
        filename="acme.vcf",
    )
    msg.add_attachment(
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
    )
    msg.add_attachment(
        b"<html><table><tr><td>44</td></tr></table></html>",
        maintype="application",
        subtype="vnd.ms-excel",
        filename="rates.xls",
    )
    msg.add_attachment(b"", maintype="text", subtype="csv", filename="empty.csv")
    result = extract(msg)
    assert result.sheets == ()
    assert left_out(result)[1:] == [
        ("notice.pdf", "not_a_sheet"),
        ("acme.vcf", "not_a_sheet"),
        ("invite.ics", "not_a_sheet"),
        ("rates.xls", "not_a_sheet"),
        ("empty.csv", "empty"),
    ]
    assert "PDF" in result.skipped[1].detail
    assert "HTML" in result.skipped[4].detail


def test_a_part_over_the_size_limit_is_too_large():
    limits = Limits(max_file_size=len(CSV) + 10)
    big = CSV + b"France,33,0.3\r\n" * 10
    msg = message()
    msg.add_attachment(big, maintype="application", subtype="octet-stream", filename="big.csv")
    msg.add_attachment(CSV, maintype="application", subtype="octet-stream", filename="ok.csv")
    raw = crlf(
        "Subject: plain big\n"
        "Content-Type: text/csv; name=plain.csv\n"
        "\n" + (CSV + b"France,33,0.3\r\n" * 3).decode()
    )
    result = extract(msg, limits)
    assert found(result) == [("ok.csv", "csv")]
    assert left_out(result)[1:] == [("big.csv", "too_large")]
    assert left_out(extract(raw, limits)) == [("plain.csv", "too_large")]


def test_broken_transfer_encodings_are_undecodable():
    raw = crlf(
        "Subject: broken\n"
        'Content-Type: multipart/mixed; boundary="sep"\n'
        "\n"
        "--sep\n"
        "Content-Type: application/octet-stream; name=a.csv\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "UHJlZml4LFJhdGUK!!!NDQsMC4x\n"
        "--sep\n"
        "Content-Type: application/octet-stream; name=b.csv\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "UHJlZml4LFJhdGUKNDQsMC4xC\n"
        "--sep\n"
        "Content-Type: application/octet-stream; name=c.csv\n"
        "Content-Transfer-Encoding: x-gzip64\n"
        "\n"
        "H4sIAAAA\n"
        "--sep\n"
        "Content-Type: application/octet-stream; name=d.csv\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "UHJlZml4LFJhdGUKNDQsMC4x\n"  # valid, but the padding is missing: still read
        "--sep--\n"
    )
    result = extract(raw)
    assert found(result) == [("d.csv", "csv")]
    assert result.sheets[0].data == b"Prefix,Rate\n44,0.1"
    assert left_out(result) == [
        ("a.csv", "undecodable"),
        ("b.csv", "undecodable"),
        ("c.csv", "undecodable"),
    ]


def test_the_same_bytes_attached_twice_are_one_sheet():
    msg = message()
    msg.add_attachment(CSV, maintype="text", subtype="csv", filename="rates.csv")
    msg.add_attachment(CSV, maintype="application", subtype="octet-stream", filename="copy.csv")
    result = extract(msg)
    assert found(result) == [("rates.csv", "csv")]
    assert left_out(result)[1:] == [("copy.csv", "duplicate_part")]
    assert "'rates.csv'" in result.skipped[1].detail


# --- the count of sheets (limits.max_sheets_per_message) -------------------------------------


def counted(msg: EmailMessage, max_sheets: int | None) -> Extraction:
    return extract_sheets(parse_message(msg.as_bytes()), LIMITS, max_sheets=max_sheets)


def csv_of(n: int) -> bytes:
    return CSV + f"Somewhere,{880000 + n},0.3\r\n".encode()


def test_sheets_are_counted_in_attachments_zips_archives_inside_them_and_forwards():
    msg = message()
    msg.add_attachment(csv_of(1), maintype="text", subtype="csv", filename="a.csv")
    msg.add_attachment(csv_of(1), maintype="text", subtype="csv", filename="same-bytes.csv")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="terms.pdf")
    inner_zip = zip_of({"x.csv": csv_of(2), "y.csv": csv_of(3), "notes.pdf": PDF})
    msg.add_attachment(
        zip_of({"b.csv": csv_of(4), "book.xlsx": xlsx(), "old.zip": inner_zip, "c.pdf": PDF}),
        maintype="application",
        subtype="zip",
        filename="decks.zip",
    )
    inner = message("rates")
    inner.add_attachment(csv_of(5), maintype="text", subtype="csv", filename="d.csv")
    inner.add_attachment(xls(), maintype="application", subtype="vnd.ms-excel", filename="e.xls")
    outer = forward(inner, "Fwd: rates")
    for part in list(msg.iter_attachments()):
        outer.attach(part)
    # a.csv 1 + decks.zip (b.csv, book.xlsx, old.zip's x.csv and y.csv) 4 + the forward's 2
    everything = counted(outer, None)
    assert (everything.sheet_files, everything.too_many_sheets) == (7, False)
    assert len(everything.sheets) == 4
    at_the_limit = counted(outer, 7)
    assert (at_the_limit.sheet_files, at_the_limit.too_many_sheets) == (7, False)
    assert found(at_the_limit) == found(everything)
    over = counted(outer, 6)
    assert over.too_many_sheets and over.sheet_files > 6


def test_the_walk_stops_one_sheet_past_the_limit_and_still_counts_the_parts():
    msg = message()
    for n in range(300):
        msg.add_attachment(csv_of(n), maintype="text", subtype="csv", filename=f"r{n}.csv")
    result = counted(msg, 10)
    assert result.too_many_sheets
    assert (result.sheet_files, len(result.sheets)) == (11, 10)  # 289 parts never decoded
    assert result.parts == 301  # the body and every attachment
    assert not counted(msg, 300).too_many_sheets


def test_a_zip_of_many_sheets_alone_passes_the_limit():
    msg = message()
    msg.add_attachment(
        zip_of({f"r{n}.csv": csv_of(n) for n in range(8)}),
        maintype="application",
        subtype="zip",
        filename="all.zip",
    )
    assert counted(msg, 7).too_many_sheets
    assert counted(msg, 8).sheet_files == 8


def test_a_zip_that_contains_itself_is_counted_within_the_nesting_limit():
    # an archive whose member is an archive whose member is ... (nesting bounded by max_nesting)
    data = zip_of({"r.csv": CSV})
    for level in range(10):
        data = zip_of({f"level{level}.zip": data, f"r{level}.csv": csv_of(level)})
    msg = message()
    msg.add_attachment(data, maintype="application", subtype="zip", filename="deep.zip")
    result = counted(msg, None)
    # max_nesting 3: the attachment and two archives below it are opened, the rest count one
    assert result.sheet_files == 4


def test_encrypted_parts_are_named_as_such():
    encrypted = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
    encrypted.attach(MIMEApplication(b"Version: 1\n", "pgp-encrypted"))
    encrypted.attach(MIMEApplication(b"-----BEGIN PGP MESSAGE-----\nhQEM\n"))
    encrypted["Subject"] = "secret"
    assert left_out(extract(encrypted)) == [("part-1", "encrypted")]


# --- hostile structure and headers -----------------------------------------------------------


def test_thousands_of_nested_multiparts_do_not_crash_the_parser():
    depth = 3000
    raw = b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    raw += b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i)
        for i in range(1, depth)
    )
    parsed = parse_message(raw)
    result = extract_sheets(parsed, LIMITS)
    assert result.sheets == ()
    assert left_out(result) == [("message", "too_deep")]
    assert result.message_summary.subject == "deep"


def test_a_multipart_without_boundary_is_malformed():
    raw = crlf("Subject: x\nContent-Type: multipart/mixed\n\nPrefix,Rate\n44,0.1\n")
    assert left_out(extract(raw)) == [("part-1", "malformed")]


def test_the_message_summary_keeps_what_replies_and_loop_protection_need():
    msg = message("Tarifs été")  # sent RFC 2047-encoded
    msg["Date"] = "Tue, 07 May 2024 10:00:00 +0200"
    msg["In-Reply-To"] = "<report-7@carrier.example>"
    msg["References"] = "<a@x> <report-7@carrier.example>"
    summary = extract(msg).message_summary
    assert summary.subject == "Tarifs été"
    assert summary.from_addr == "Acme Rates <rates@acme.example>"
    assert summary.message_id == "<deck-1@acme.example>"
    assert summary.date is not None and summary.date.isoformat() == "2024-05-07T10:00:00+02:00"
    assert summary.in_reply_to == "<report-7@carrier.example>"
    assert summary.references == "<a@x> <report-7@carrier.example>"
    assert not summary.is_automated
    for header, value in (
        ("Auto-Submitted", "auto-generated"),
        ("Precedence", "bulk"),
        ("List-Id", "Rates <rates.lists.acme.example>"),
    ):
        robot = message()
        robot[header] = value
        assert extract(robot).message_summary.is_automated, header
    human = message()
    human["Auto-Submitted"] = "no"
    assert not extract(human).message_summary.is_automated


def test_broken_headers_are_kept_as_sent_not_raised():
    raw = b"From:\x00@[\r\nSubject: caf\xc3\xa9 \xff\r\nDate: yesterday\r\n\r\nbody\r\n"
    summary = extract(raw).message_summary
    assert summary.subject == "café \ufffd"
    assert summary.from_addr == "@["
    assert summary.date is None


MIME_HEADERS = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=b",
        b"Content-Type: message/rfc822",
        b"Content-Type: application/octet-stream; name*=UTF-8''%FF%C3.csv",
        b"Content-Type: text/plain; name==?utf-8?b?////?=",
        b"Content-Disposition: attachment; filename*0*=x''a; filename*1=b",
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Transfer-Encoding: x-uuencode",
        b"Content-ID: <x",
        b"From:\x00@[",
        b"Subject: =?utf-8?q?a=ff?=",
    ]
)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Bytes shaped like MIME (headers, boundaries, base64 of zips) with random holes."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        headers = b"\r\n".join(draw(st.lists(MIME_HEADERS, max_size=4)))
        body = draw(
            st.one_of(
                st.binary(max_size=80),
                st.sampled_from([b64(zip_of({"a.csv": CSV})).encode(), b64(PDF).encode(), CSV]),
            )
        )
        parts.append(b"--b\r\n" + headers + b"\r\n\r\n" + body + b"\r\n")
    top = b"\r\n".join(draw(st.lists(MIME_HEADERS, max_size=3)))
    return top + b"\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + b"".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=400), messages()))
def test_any_bytes_as_a_message_never_raise(raw: bytes):
    result = extract_sheets(parse_message(raw), Limits(max_file_size=2000, max_nesting=2))
    assert all(part.reason in SKIP_REASONS for part in result.skipped)
    assert all(
        sheet.format in ("csv", "xlsx", "xlsb", "xls", "ods", "zip") for sheet in result.sheets
    )
    assert len({sheet.sha256 for sheet in result.sheets}) == len(result.sheets)


def test_a_message_with_more_boundary_lines_than_allowed_is_parsed_no_further_than_its_headers():
    outer = MIMEMultipart()
    outer["Subject"] = "many notes"
    outer.attach(MIMEApplication(CSV, "csv", Name="rates.csv"))
    for n in range(30):
        outer.attach(MIMEText(f"note {n}"))
    raw = outer.as_bytes()
    lines = boundary_lines(raw)
    assert lines == 32  # one before each of the 31 parts, and the closing one
    assert too_many_parts(parse_message(raw, max_parts=lines)) is None
    held = parse_message(raw, max_parts=lines - 1)
    assert str(too_many_parts(held)) == "32 MIME boundary lines, more than 31 (limit)"
    assert held["Subject"] == "many notes" and not held.is_multipart()
    result = extract_sheets(held, LIMITS, max_sheets=50)
    assert (result.sheets, [p.reason for p in result.skipped]) == ((), ["too_many_parts"])
    # read whole (released): no limit
    assert len(extract_sheets(parse_message(raw), LIMITS).sheets) == 1
