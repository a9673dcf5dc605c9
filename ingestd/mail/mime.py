"""Rate sheets out of a message (docs/mail.md#attachments, docs/reading.md#files).

Pure functions: raw bytes in, values out; no database, no clock, no I/O. Every leaf MIME part is
a candidate and is judged by its bytes (``detect_format``), because vendors' mailers lie about
types and names: a CSV sent as application/octet-stream, an XLSX named ``.xls`` or sent as
text/plain, a ZIP named ``.csv``. Headers only rule out what is never a sheet (signatures,
encrypted parts, winmail.dat) and tell a message body from an attached text file.

Nothing here raises on a hostile or broken message: every part that is left out is a
:class:`SkippedPart` with a stable reason code (:data:`SKIP_REASONS`) and one line for people, so
the vendor can be told why "no usable sheet" was found.

The sheet files of a message are counted as they are found (a ZIP by the sheet-like files it
holds, archives inside it included), and the walk stops once there are more than the caller
allows (``[limits] max_sheets_per_message``): a message of thousands of attachments costs the
parse of its MIME structure, not the decoding and hashing of every part; and a message with
more lines that may be MIME boundaries than ``[limits] max_mime_parts`` is not parsed past its
headers at all (:func:`parse_message`), nor is a forward so large found inside it.
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import email.parser
import email.policy
import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from pathlib import PurePosixPath
from typing import IO

from ingestd.config import Limits
from ingestd.errors import SheetError
from ingestd.sheets.archive import archive_members
from ingestd.sheets.filetype import detect_format

# The reason codes of SkippedPart and what each means (stable: reports and templates use them).
SKIP_REASONS: dict[str, str] = {
    "body_text": "the text or HTML body of a message, not an attached file",
    "inline_image": "an image shown inside the message (logo, signature picture)",
    "not_a_sheet": "a file that is not a rate sheet (image, PDF, signature, vCard, calendar, …)",
    "winmail_dat": "Outlook's TNEF wrapper (winmail.dat); the files inside cannot be read",
    "encrypted": "an encrypted or password-protected part",
    "too_large": "larger than the attachment size limit",
    "too_deep": "forwarded messages or archives nested deeper than the limit",
    "too_many_members": "an archive holding more files than the limit",
    "too_many_parts": "a message with more MIME parts than the limit, not read past its headers",
    "undecodable": "the transfer encoding (base64, quoted-printable) is broken",
    "unreadable": "looks like an archive or workbook but cannot be opened",
    "empty": "an attachment without content",
    "duplicate_part": "the same bytes as a sheet found earlier in the message",
    "malformed": "a MIME structure that cannot be taken apart",
}

# A text/* part without a name and not sent as an attachment is a message body (plain, HTML,
# Apple's watch-html, …), except these: data or things judged by their bytes.
_NOT_BODY_TEXT = frozenset(
    {
        "text/csv",
        "text/x-csv",
        "text/comma-separated-values",
        "text/x-comma-separated-values",
        "text/tab-separated-values",
        "text/calendar",
        "text/vcard",
        "text/x-vcard",
        "text/directory",
    }
)
_SIGNATURE_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-keys",
    }
)
_SIGNATURE_NAMES = frozenset({"smime.p7s", "signature.asc"})
_ENCRYPTED_TYPES = frozenset(
    {"application/pkcs7-mime", "application/x-pkcs7-mime", "application/pgp-encrypted"}
)
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_TNEF_MAGIC = b"\x78\x9f\x3e\x22"  # 0x223E9F78 little-endian, [MS-OXTNEF] 2.1.3.1
# message/* types walked as an enclosed message; any other message/* is a report, not a file
_FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
_IMAGE_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEAD = 4096  # bytes of an archive member read to judge it
# What opening a hostile ZIP can raise besides BadZipFile (a UTF-8-flagged name that is not
# UTF-8 raises UnicodeDecodeError, an unknown compression NotImplementedError, …).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)
# Text that detect_format calls "csv" but that is something else, judged on the first bytes.
_TEXT_KINDS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(r"\A\s*(?:" + pattern + ")", re.IGNORECASE), reason, what)
    for pattern, reason, what in (
        (r"begin:vcard", "not_a_sheet", "a vCard (contact card)"),
        (r"begin:vcalendar", "not_a_sheet", "a calendar entry"),
        (r"-----begin pgp (?:message|encrypted)", "encrypted", "a PGP-encrypted message"),
        (r"-----begin ", "not_a_sheet", "a PGP/PEM block (signature, key or certificate)"),
        (r"\{\\rtf", "not_a_sheet", "an RTF document"),
        (
            r"<\?xml[^>]*>\s*<\?mso-application progid=\"excel\.sheet\"",
            "not_a_sheet",
            "an Excel 2003 XML spreadsheet, which is not read (save it as .xlsx or CSV)",
        ),
        (
            r"(?:<!doctype html|<html|<head|<body|<table|<meta|<style)",
            "not_a_sheet",
            "an HTML page (web exports named .xls are HTML; save it as .xlsx or CSV)",
        ),
        (r"(?:<\?xml[^>]*>\s*)?<svg", "not_a_sheet", "an SVG image"),
        (r"<\?xml", "not_a_sheet", "an XML document"),
    )
)
# What the email package's header parser raises on some broken values instead of recording a
# defect (e.g. AttributeError for "From:\x00@[" in Python 3.11); found by the property tests.
_HEADER_ERRORS = (
    email.errors.HeaderParseError,
    ValueError,
    LookupError,
    IndexError,
    TypeError,
    AttributeError,
)


# --- the records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A part whose bytes are a sheet, a workbook or an archive the reader will open."""

    filename: str  # decoded (RFC 2231/2047), a safe basename; ``part-2.csv`` when none was sent
    data: bytes = field(repr=False)
    declared_type: str  # the media type as sent ("application/octet-stream"); "" when none
    format: str  # detect_format on the bytes: xlsx, xlsb, ods, xls, zip or csv
    path: str  # where it was found, e.g. "Fwd: rates.eml/rates.zip"
    subject: str  # of the (innermost) message it came from, for table rules
    # hex digest of data: duplicates, and the version's provenance
    # (docs/semantics.md#rate-semantics)
    sha256: str
    # forwarded messages around it: the reader's archive nesting for it is what is left of
    # limits.max_nesting (max_nesting - depth), so forwards and archives share one limit
    depth: int = 0


@dataclass(frozen=True)
class SkippedPart:
    """A part that was considered and left out, and why."""

    path: str  # like Attachment.path; ``part-1.2`` for a part without a name
    reason: str  # a key of SKIP_REASONS
    detail: str  # one line for people
    declared_type: str = ""


@dataclass(frozen=True)
class MessageSummary:
    """The headers later stages need: table rules, replies, and not answering robots."""

    subject: str = ""
    from_addr: str = ""  # the From header as sent, decoded ("Acme Rates <rates@acme.example>")
    message_id: str | None = None
    # the sender's clock: shown, never the received time (docs/semantics.md#rate-semantics)
    date: datetime | None = None
    in_reply_to: str | None = None
    references: str | None = None
    auto_submitted: str | None = None
    precedence: str | None = None
    list_id: str | None = None

    @property
    def is_automated(self) -> bool:
        """Sent by a robot or to a list: never answered (docs/mail.md#mail-out, RFC 3834 §2 and
        §5)."""
        auto = (self.auto_submitted or "no").split(";")[0].strip().lower()
        precedence = (self.precedence or "").strip().lower()
        return (
            auto != "no"
            or precedence in ("bulk", "list", "junk", "auto_reply")
            or self.list_id is not None
        )


@dataclass(frozen=True)
class Extraction:
    """Everything a message holds for the pipeline: the sheets, what was left out, its headers."""

    sheets: tuple[Attachment, ...]
    skipped: tuple[SkippedPart, ...]
    message_summary: MessageSummary
    # sheet files found: an attachment counts one, a ZIP the sheet-like files it holds
    sheet_files: int = 0
    # more sheet files than the caller allowed: the walk stopped there, ``sheets`` and
    # ``skipped`` are incomplete and ``sheet_files`` is the count at which it stopped
    too_many_sheets: bool = False
    parts: int = 0  # the message's leaf MIME parts, forwarded messages' included


class NestingTooDeepDefect(email.errors.MessageDefect):
    """The MIME parts nest so deeply that the parser gave up; only the headers were read."""


class TooManyPartsDefect(email.errors.MessageDefect):
    """The message has more MIME boundary lines than ``[limits] max_mime_parts``: only the
    headers were read (parsing is what costs: 100,000 tiny parts take the parser ~10 s)."""


# --- the public functions --------------------------------------------------------------------


def parse_message(raw: bytes, *, max_parts: int | None = None) -> EmailMessage:
    """The message as ``email.policy.default`` parses it; never raises.

    Thousands of nested multiparts exhaust the parser's recursion: then only the headers are
    parsed and a :class:`NestingTooDeepDefect` tells :func:`extract_sheets` why it finds nothing.
    With ``max_parts``, a message with more boundary lines than that (each part starts with
    one, so they are at least its parts) is not parsed past its headers either
    (:class:`TooManyPartsDefect`).
    """
    if max_parts is not None and (lines := boundary_lines(raw)) > max_parts:
        return _headers_only(
            raw,
            TooManyPartsDefect(f"{lines:,} MIME boundary lines, more than {max_parts:,} (limit)"),
        )
    try:
        return email.parser.BytesParser(EmailMessage, policy=email.policy.default).parsebytes(raw)
    except RecursionError:
        return _headers_only(raw, NestingTooDeepDefect("MIME parts nested too deeply to parse"))


def _headers_only(raw: bytes, defect: email.errors.MessageDefect | None = None) -> EmailMessage:
    """The message with its headers parsed and its body left as it is, with why if it says."""
    parser = email.parser.BytesHeaderParser(EmailMessage, policy=email.policy.default)
    message = parser.parsebytes(raw)
    if defect is not None:
        message.defects.append(defect)
    return message


def boundary_lines(raw: bytes) -> int:
    """Lines that may be MIME boundaries (they start with ``--``): a bound on a message's
    parts found without parsing it."""
    return raw.count(b"\n--") + raw.startswith(b"--")


def too_many_parts(message: Message) -> TooManyPartsDefect | None:
    """Why ``message`` was parsed no further than its headers, if it has too many parts."""
    return next((d for d in message.defects if isinstance(d, TooManyPartsDefect)), None)


def extract_sheets(
    message: EmailMessage, limits: Limits, *, max_sheets: int | None = None
) -> Extraction:
    """Every part of the message that is a sheet by its bytes, and every other part with why;
    with ``max_sheets``, only until more sheet files than that are found
    (``Extraction.too_many_sheets``), and a forwarded message is parsed only within
    ``[limits] max_mime_parts``; without it, every sheet of every part."""
    walk = _Walk(limits, max_sheets)
    try:
        walk.run(message)
    except _TooManySheets:
        pass
    return Extraction(
        tuple(walk.sheets),
        tuple(walk.skipped),
        summarize(message),
        sheet_files=walk.sheet_files,
        too_many_sheets=walk.too_many,
        parts=_leaf_parts(message),
    )


def _leaf_parts(message: Message) -> int:
    """Parts that hold content, without decoding any; a forward's parts count too."""
    return sum(1 for part in message.walk() if not part.is_multipart())


def _unparsed(message: Message) -> tuple[str, str] | None:
    """Why ``message`` was read no further than its headers (skip reason, detail), if it was."""
    if any(isinstance(defect, NestingTooDeepDefect) for defect in message.defects):
        return "too_deep", "MIME parts nested too deeply to parse"
    if (defect := too_many_parts(message)) is not None:
        return "too_many_parts", str(defect)
    return None


def read_headers(raw: bytes) -> MessageSummary:
    """The headers of a raw message without parsing its body (of a message whose processing
    failed: the body may be the reason)."""
    return summarize(_headers_only(raw))


def summarize(message: Message) -> MessageSummary:
    """The headers of the outermost message, decoded; a header that cannot be parsed is kept
    as sent rather than lost."""
    date_header = _safe_get(message, "date")
    date = getattr(date_header, "datetime", None)
    return MessageSummary(
        subject=_header_text(message, "subject") or "",
        from_addr=_header_text(message, "from") or "",
        message_id=_header_text(message, "message-id"),
        date=date if isinstance(date, datetime) else None,
        in_reply_to=_header_text(message, "in-reply-to"),
        references=_header_text(message, "references"),
        auto_submitted=_header_text(message, "auto-submitted"),
        precedence=_header_text(message, "precedence"),
        list_id=_header_text(message, "list-id"),
    )


# --- walking the tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a part sits: inside which (forwarded) message, how deep, and that message's subject."""

    prefix: str  # "" for the outer message, else "Fwd: rates.eml/" (with parents)
    depth: int
    subject: str


class _TooManySheets(Exception):
    """The walk found more sheet files than it may: it stops."""


@dataclass
class _Walk:
    limits: Limits
    max_sheets: int | None = None  # None: every sheet of the message
    sheets: list[Attachment] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # sha256 → path of the first sheet
    sheet_files: int = 0
    too_many: bool = False

    @property
    def room(self) -> int:
        """Sheet files that may still be found before the walk stops (past it: one more)."""
        if self.max_sheets is None:
            return _UNCOUNTED
        return self.max_sheets - self.sheet_files

    @property
    def max_parts(self) -> int | None:
        """Boundary lines a forwarded message may have before it is left unparsed; counted
        only where sheets are counted (a released message is read whole)."""
        return None if self.max_sheets is None else self.limits.max_mime_parts

    def run(self, root: Message) -> None:
        if (unparsed := _unparsed(root)) is not None:
            self.skip("message", *unparsed, root)
            return
        self.walk(root, _Place("", 0, _header_text(root, "subject") or ""))

    def walk(self, message: Message, where: _Place) -> None:
        """Parts in document order without recursion (a hostile message may nest thousands of
        multiparts); sections are numbered like IMAP's BODY[2.1] within each message."""
        stack: list[tuple[Message, str]] = [(message, "")]
        while stack:
            part, section = stack.pop()
            content_type = _content_type(part)
            path = where.prefix + (_filename(part) or f"part-{section or '1'}")
            if content_type == "multipart/encrypted":
                detail = "an encrypted message part (multipart/encrypted)"
                self.skip(path, "encrypted", detail, part)
            elif content_type == "multipart/report":
                # a bounce or read receipt: its text, status and returned message are no deck
                self.skip(path, "not_a_sheet", "a delivery or read report", part)
            elif content_type.startswith("multipart/") and part.is_multipart():
                children = [child for child in part.get_payload() if isinstance(child, Message)]
                for number in range(len(children), 0, -1):
                    child_section = f"{section}.{number}" if section else str(number)
                    stack.append((children[number - 1], child_section))
            elif content_type.startswith("message/") and part.is_multipart():
                self.enter(part, section or "1", where)
            elif content_type.startswith("multipart/"):
                detail = f"a {content_type} part without a usable boundary"
                self.skip(path, "malformed", detail, part)
            else:
                self.leaf(part, section or "1", where)

    def enter(self, part: Message, section: str, where: _Place) -> None:
        """A message inside a message: a forward (walked) or a report (left out)."""
        content_type = _content_type(part)
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if content_type not in _FORWARD_TYPES or not isinstance(inner, Message):
            path = where.prefix + (_filename(part) or f"part-{section}")
            if content_type not in _FORWARD_TYPES:
                self.skip(path, "not_a_sheet", f"a {content_type} part, not a file", part)
            else:
                self.skip(path, "malformed", "an enclosed message that cannot be parsed", part)
            return
        encoding = _transfer_encoding(part)
        if encoding in ("base64", "quoted-printable"):
            # not allowed by RFC 2046 §5.2.1, yet sent: the parser took the encoded text for a
            # message; decode that text and parse again
            decoded = _decode_enclosed(inner, encoding)
            if isinstance(decoded, _Skip):
                path = where.prefix + (_filename(part) or f"message-{section}.eml")
                self.skip(path, decoded.reason, decoded.detail, part)
                return
            inner = parse_message(decoded, max_parts=self.max_parts)
        self.forward(inner, _message_name(part, inner, section), where, part)

    def forward(self, inner: Message, name: str, where: _Place, part: Message) -> None:
        """Walk an enclosed message as a folder named ``name`` (its file name or subject)."""
        path = where.prefix + name
        depth = where.depth + 1
        if depth > self.limits.max_nesting:
            limit = self.limits.max_nesting
            detail = f"messages forwarded inside each other more than {limit} deep (limit)"
            self.skip(path, "too_deep", detail, part)
        elif (unparsed := _unparsed(inner)) is not None:
            self.skip(path, *unparsed, part)
        else:
            self.walk(inner, _Place(f"{path}/", depth, _header_text(inner, "subject") or ""))

    def leaf(self, part: Message, section: str, where: _Place) -> None:
        """One part that holds bytes: a sheet, or a SkippedPart saying why not."""
        content_type = _content_type(part)
        name = _filename(part)
        path = where.prefix + (name or f"part-{section}")
        lower_name = (name or "").lower()
        if content_type in _SIGNATURE_TYPES or lower_name in _SIGNATURE_NAMES:
            self.skip(path, "not_a_sheet", f"a signature ({content_type})", part)
            return
        if content_type in _ENCRYPTED_TYPES or lower_name.endswith(".p7m"):
            self.skip(path, "encrypted", f"an encrypted or S/MIME part ({content_type})", part)
            return
        if content_type in _TNEF_TYPES or lower_name == "winmail.dat":
            self.skip(path, "winmail_dat", _TNEF_DETAIL, part)
            return
        data = self.decoded(part, path)
        if data is None:
            return
        disposition = _disposition(part)
        # bytes that are a workbook or an archive by their magic are never a body or a picture
        packaged = data.startswith(_ZIP_MAGIC) or data.startswith(_OLE2_MAGIC)
        is_body = (
            content_type.startswith("text/")
            and content_type not in _NOT_BODY_TEXT
            and name is None
            and disposition != "attachment"
        )
        if is_body and not packaged:
            self.skip(path, "body_text", f"the message body ({content_type})", part)
            return
        if not data or data.isspace():
            self.skip(path, "empty", "the attachment has no content", part)
            return
        if data.startswith(_TNEF_MAGIC):
            self.skip(path, "winmail_dat", _TNEF_DETAIL, part)
            return
        media = content_type.split("/")[0]
        if (media == "image" or data.startswith(_IMAGE_MAGIC)) and not packaged:
            if disposition != "attachment" or "content-id" in part:
                detail = f"an image shown in the message ({content_type})"
                self.skip(path, "inline_image", detail, part)
                return
        judged = _judge(data, self.limits, where.depth, self.room)
        if isinstance(judged, _Skip):
            self.skip(path, judged.reason, judged.detail, part)
            return
        verdict, files = judged
        if verdict == "csv" and media in ("image", "audio", "video", "font", "model"):
            self.skip(path, "not_a_sheet", f"text sent as {content_type}, not a sheet", part)
            return
        if verdict == "csv" and lower_name.endswith(".eml"):
            # a forward attached as a file (application/octet-stream), not as message/rfc822
            inner = parse_message(data, max_parts=self.max_parts)
            self.forward(inner, name or f"part-{section}", where, part)
            return
        filename = name or f"part-{section}.{verdict}"
        self.add(part, data, verdict, filename, where.prefix + filename, where, files)

    def decoded(self, part: Message, path: str) -> bytes | None:
        """The part's bytes within the size limit, or None after recording why not."""
        limit = self.limits.max_file_size
        data = _decode(part, _transfer_encoding(part), limit)
        if isinstance(data, _Skip):
            self.skip(path, data.reason, data.detail, part)
            return None
        if len(data) > limit:
            detail = f"{len(data):,} bytes, more than the {limit:,}-byte limit"
            self.skip(path, "too_large", detail, part)
            return None
        return data

    def add(
        self,
        part: Message,
        data: bytes,
        fmt: str,
        filename: str,
        path: str,
        where: _Place,
        files: int,
    ) -> None:
        digest = hashlib.sha256(data).hexdigest()
        first = self.seen.get(digest)
        if first is not None:
            self.skip(path, "duplicate_part", f"the same bytes as {first!r}", part)
            return
        self.seen[digest] = path
        self.sheet_files += files
        if self.max_sheets is not None and self.sheet_files > self.max_sheets:
            self.too_many = True
            raise _TooManySheets
        self.sheets.append(
            Attachment(
                filename=filename,
                data=data,
                declared_type=_declared_type(part),
                format=fmt,
                path=path,
                subject=where.subject,
                sha256=digest,
                depth=where.depth,
            )
        )

    def skip(self, path: str, reason: str, detail: str, part: Message) -> None:
        self.skipped.append(SkippedPart(path, reason, detail, _declared_type(part)))


def _message_name(part: Message, inner: Message, section: str) -> str:
    """An enclosed message's name in paths: its file name, else its subject (as mail clients
    name a saved message), else ``message-2.eml``."""
    name = _filename(part)
    if name is not None:
        return name
    subject = _header_text(inner, "subject")
    subject = _safe_name(subject.replace("/", "_").replace("\\", "_")) if subject else None
    return f"{subject}.eml" if subject else f"message-{section}.eml"


_TNEF_DETAIL = (
    "Outlook wrapped the attachments in winmail.dat (TNEF), which is not read; "
    "send the mail as HTML or plain text, not Rich Text"
)


# --- judging bytes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Skip:
    reason: str
    detail: str


def _judge(data: bytes, limits: Limits, depth: int, room: int) -> tuple[str, int] | _Skip:
    """The format of a sheet-like file and the sheet files it holds (counted up to one past
    ``room``), or why the bytes are not one."""
    try:
        fmt = detect_format(data)
    except SheetError as exc:
        if data.startswith(_ZIP_MAGIC):
            return _Skip("unreadable", exc.message)
        return _Skip("not_a_sheet", exc.message)
    except _ZIP_ERRORS as exc:  # detect_format opens ZIPs and lets some of their errors out
        return _Skip("unreadable", f"the file looks like a ZIP archive but: {exc}")
    if fmt == "xls":
        return _ole_verdict(data) or (fmt, 1)
    if fmt == "zip":
        if depth + 1 > limits.max_nesting:
            return _Skip(
                "too_deep",
                f"an archive inside messages forwarded {depth} deep: more than "
                f"{limits.max_nesting} levels (limit)",
            )
        files = _zip_verdict(data, limits, _ZipCount(limits, depth + 1, room))
        return files if isinstance(files, _Skip) else (fmt, files)
    if fmt == "csv":
        kind = _text_kind(data)
        if kind is not None:
            return kind
    return fmt, 1


def _text_kind(data: bytes) -> _Skip | None:
    """Text that is not a table: a vCard, an HTML page, an armoured signature, …"""
    head = data[:1024]
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            text = head[len(bom) :].decode(codec, errors="replace")
            break
    else:
        text = head.decode("latin-1")
    for pattern, reason, what in _TEXT_KINDS:
        if pattern.match(text):
            return _Skip(reason, f"the file is {what}, not a rate sheet")
    return None


def _ole_verdict(data: bytes) -> _Skip | None:
    """An OLE2 file is an XLS only if it has a workbook stream; Word, PowerPoint, Outlook .msg
    and password-protected XLSX files share the container. Stream names are UTF-16LE in the
    directory; a workbook's name anywhere keeps the file (the reader decides)."""

    def has(stream: str) -> bool:
        return (stream + "\0").encode("utf-16-le") in data

    if has("Workbook") or has("Book"):
        return None
    if has("EncryptedPackage"):
        return _Skip("encrypted", "a password-protected Office file; send it without a password")
    if has("WordDocument"):
        return _Skip("not_a_sheet", "the file is a Word document, not a rate sheet")
    if has("PowerPoint Document"):
        return _Skip("not_a_sheet", "the file is a PowerPoint document, not a rate sheet")
    if "__substg1.0_".encode("utf-16-le") in data:
        return _Skip(
            "not_a_sheet",
            "the file is an Outlook message (.msg); forward the mail itself or attach the sheet",
        )
    return None


# "no limit": a count of sheet files nothing stops
_UNCOUNTED = 1 << 62


@dataclass
class _ZipCount:
    """Counting the sheet files of one attachment's archives: how deep the archive lies, how
    many files may still be found before the count stops, and the bytes of archives inside
    it unpacked so far (within ``max_unpacked_size``, as the reader's)."""

    limits: Limits
    depth: int
    room: int
    unpacked: int = 0


def _zip_verdict(data: bytes, limits: Limits, count: _ZipCount) -> _Skip | int:
    """The sheet files the archive holds (at least 1 when it holds something sheet-like: the
    reader unpacks it), else why it is no sheet.

    Cheap: the first bytes of at most ``max_zip_members`` members; only a member that is an
    archive or a workbook (a ZIP itself) is unpacked, to tell which and count what it holds.
    Counting stops one past ``count.room``.
    """
    files = 0
    sheet_like = False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive_members(archive)
            if len(members) > limits.max_zip_members:
                return _Skip(
                    "too_many_members",
                    f"the archive holds {len(members)} files, more than "
                    f"{limits.max_zip_members} (limit)",
                )
            encrypted = 0
            for info in members:
                if info.flag_bits & 0x1:
                    encrypted += 1
                    continue
                found = _member_sheet_files(archive, info, count, files)
                if found is not None:
                    sheet_like = True
                    files += found
                    if files > count.room:
                        break
    except _ZIP_ERRORS as exc:
        return _Skip("unreadable", f"the archive cannot be opened: {exc}")
    if sheet_like:
        return max(files, 1)
    if encrypted:
        return _Skip("encrypted", "the archive is password-protected; send it without one")
    if not members:
        return _Skip("not_a_sheet", "the archive is empty")
    names = ", ".join(_printable(info.filename) for info in members[:5])
    more = f" and {len(members) - 5} more" if len(members) > 5 else ""
    return _Skip("not_a_sheet", f"the archive holds no sheet ({names}{more})")


def _member_sheet_files(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, count: _ZipCount, found: int
) -> int | None:
    """The sheet files an archive member is, by its first bytes, as the reader will judge it
    (names lie inside archives too): None when it is no sheet; an archive inside the archive
    counts the files it holds (0 when none)."""
    try:
        with archive.open(info) as member:
            head = member.read(_HEAD)
            if head.startswith(_ZIP_MAGIC):
                return _inner_zip_files(member, head, count, found)
    except _ZIP_ERRORS:
        return 1  # cannot tell here: the reader will say what is wrong with it
    if head.startswith(_OLE2_MAGIC):
        return 1
    try:
        detect_format(head)
    except SheetError:
        return None
    return 1 if head.strip() != b"" and _text_kind(head) is None else None


def _inner_zip_files(member: IO[bytes], head: bytes, count: _ZipCount, found: int) -> int:
    """A ZIP inside an archive: one workbook, or an archive whose sheet files count. Unpacked
    within what is left of ``max_unpacked_size``; one that does not fit, or lies deeper than
    ``max_nesting``, counts as one file (the reader refuses it)."""
    limits = count.limits
    left = limits.max_unpacked_size - count.unpacked
    if count.depth + 1 > limits.max_nesting or left <= len(head):
        return 1
    data = head + member.read(left - len(head) + 1)
    count.unpacked += len(data)
    if count.unpacked > limits.max_unpacked_size:
        return 1
    try:
        if detect_format(data) != "zip":
            return 1
    except (SheetError, *_ZIP_ERRORS):
        return 1
    inner = _ZipCount(limits, count.depth + 1, count.room - found, count.unpacked)
    files = _zip_verdict(data, limits, inner)
    count.unpacked = inner.unpacked
    return files if isinstance(files, int) else 0


# --- transfer encodings ----------------------------------------------------------------------


def _decode(part: Message, encoding: str, limit: int) -> bytes | _Skip:
    """The part's decoded bytes, or why they cannot be had (of a part as parse_message made it).

    Base64 is decoded strictly here: the email package drops invalid characters and returns the
    encoded text when the length is wrong, which would hand the reader garbage that looks like
    a CSV. Its other decoders are exact, so they are used as they are.
    """
    try:
        if encoding == "base64":
            text = part.get_payload()
            if not isinstance(text, str):
                return _Skip("malformed", "a part without content")
            # before decoding: base64 holds at least 0.7 bytes per character (line ends)
            if len(text) * 0.7 > limit:
                least = int(len(text) * 0.7)
                return _Skip(
                    "too_large", f"about {least:,} bytes, more than the {limit:,}-byte limit"
                )
            return _decode_base64(text)
        if encoding not in _IDENTITY_ENCODINGS + _UU_ENCODINGS + ("quoted-printable",):
            return _Skip("undecodable", f"unknown Content-Transfer-Encoding {encoding!r}")
        data = part.get_payload(decode=True)
    except _HEADER_ERRORS as exc:
        return _Skip("malformed", f"the part's headers cannot be parsed: {exc}")
    if not isinstance(data, bytes):
        return _Skip("malformed", "a part without content")
    if encoding in _UU_ENCODINGS and data.lstrip().startswith(b"begin "):
        return _Skip("undecodable", "broken uuencode")  # the email package returns it as is
    return data


def _decode_enclosed(inner: Message, encoding: str) -> bytes | _Skip:
    """The bytes of a message/rfc822 part sent base64- or QP-encoded."""
    try:
        text = inner.as_bytes()
    except (email.errors.MessageError, *_HEADER_ERRORS) as exc:
        return _Skip("malformed", f"the enclosed message cannot be read: {exc}")
    if encoding == "base64":
        return _decode_base64(text.decode("ascii", "replace"))
    return binascii.a2b_qp(text)


_IDENTITY_ENCODINGS = ("", "7bit", "8bit", "binary")
_UU_ENCODINGS = ("x-uuencode", "uuencode", "uue", "x-uue")


def _decode_base64(text: str) -> bytes | _Skip:
    try:
        compact = text.encode("ascii").translate(None, b" \t\r\n\x0b\x0c")
    except UnicodeEncodeError:
        return _Skip("undecodable", "broken base64: it holds non-ASCII characters")
    if len(compact) % 4 == 1:
        return _Skip("undecodable", "broken base64: the encoded text is cut short")
    compact += b"=" * (-len(compact) % 4)  # missing padding is common and harmless
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        return _Skip("undecodable", f"broken base64: {exc}")


# --- headers ---------------------------------------------------------------------------------


def _safe_get(message: Message, name: str) -> object | None:
    """The parsed header, or None; the header parser of the email package raises on some
    broken values instead of recording a defect."""
    try:
        return message.get(name)
    except _HEADER_ERRORS:
        return None


def _raw_header(message: Message, name: str) -> str | None:
    """The first header of that name as sent (unfolded), without parsing it."""
    for key, value in message.raw_items():
        if key.lower() == name:
            return " ".join(str(value).split())
    return None


def _header_text(message: Message, name: str) -> str | None:
    """A header decoded (RFC 2047) on one line, or as sent when it cannot be decoded."""
    value = _safe_get(message, name)
    try:
        text = str(value) if value is not None else _raw_header(message, name)
    except _HEADER_ERRORS:
        text = _raw_header(message, name)
    return _clean_text(text) if text is not None else None


def _content_type(part: Message) -> str:
    """The media type that decides how to treat the part (text/plain when missing or invalid,
    as RFC 2045 §5.2 says)."""
    try:
        return part.get_content_type()
    except _HEADER_ERRORS:
        declared = _declared_type(part)
        return declared if re.fullmatch(r"[\w.+-]+/[\w.+-]+", declared) else "text/plain"


def _declared_type(part: Message) -> str:
    raw = _raw_header(part, "content-type")
    return _clean_text(raw.split(";")[0]).strip().lower() if raw else ""


def _transfer_encoding(part: Message) -> str:
    raw = _raw_header(part, "content-transfer-encoding")
    return raw.split("(")[0].strip().lower() if raw else ""


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except _HEADER_ERRORS:
        raw = _raw_header(part, "content-disposition")
        return raw.split(";")[0].strip().lower() if raw else None


def _filename(part: Message) -> str | None:
    """The sent file name (Content-Disposition filename, else Content-Type name), decoded from
    RFC 2231 and RFC 2047, reduced to a safe basename."""
    try:
        name = part.get_filename()
    except _HEADER_ERRORS:
        return None
    if not name:
        return None
    return _safe_name(PurePosixPath(_unescape(str(name)).replace("\\", "/")).name)


def _safe_name(text: str) -> str | None:
    """Printable, no leading dots or spaces, at most 200 characters (the extension kept)."""
    name = "".join(ch if ch.isprintable() else "_" for ch in text).strip().lstrip(".").strip()
    if len(name) > 200:
        suffix = PurePosixPath(name).suffix[:20]
        name = name[: 200 - len(suffix)] + suffix
    return name or None


def _unescape(text: str) -> str:
    """Real text for 8-bit header bytes, which the parser keeps as surrogate escapes: they are
    read as UTF-8 (RFC 6532)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def _clean_text(text: str) -> str:
    """One line of real text: escapes read as UTF-8, control characters and runs of white space
    become one space."""
    text = "".join(ch if ch.isprintable() else " " for ch in _unescape(text))
    return " ".join(text.split())


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)
