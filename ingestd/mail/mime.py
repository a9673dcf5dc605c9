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

This module is the walk through the parts; what it asks on the way has a module each:
``parse.py`` (a message parsed within its limits), ``headers.py`` (a part's headers, read
without raising), ``decoding.py`` (its bytes out of the transfer encoding), ``sheetfiles.py``
(whether bytes are a sheet file, and how many a ZIP holds), ``skips.py`` (why a part is left
out).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from ingestd.config import Limits
from ingestd.mail.decoding import decode_enclosed, decode_part
from ingestd.mail.headers import (
    MessageSummary,
    content_type_of,
    declared_type_of,
    disposition_of,
    filename_of,
    header_text,
    safe_name,
    summarize,
    transfer_encoding_of,
)
from ingestd.mail.parse import parse_message, why_unparsed
from ingestd.mail.sheetfiles import OLE2_MAGIC, UNCOUNTED, ZIP_MAGIC, judge_file
from ingestd.mail.skips import Skip, SkippedPart

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


# --- the public functions --------------------------------------------------------------------


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
            return UNCOUNTED
        return self.max_sheets - self.sheet_files

    @property
    def max_parts(self) -> int | None:
        """Boundary lines a forwarded message may have before it is left unparsed; counted
        only where sheets are counted (a released message is read whole)."""
        return None if self.max_sheets is None else self.limits.max_mime_parts

    def run(self, root: Message) -> None:
        if (unparsed := why_unparsed(root)) is not None:
            self.skip("message", *unparsed, root)
            return
        self.walk(root, _Place("", 0, header_text(root, "subject") or ""))

    def walk(self, message: Message, where: _Place) -> None:
        """Parts in document order without recursion (a hostile message may nest thousands of
        multiparts); sections are numbered like IMAP's BODY[2.1] within each message."""
        stack: list[tuple[Message, str]] = [(message, "")]
        while stack:
            part, section = stack.pop()
            content_type = content_type_of(part)
            path = where.prefix + (filename_of(part) or f"part-{section or '1'}")
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
        content_type = content_type_of(part)
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if content_type not in _FORWARD_TYPES or not isinstance(inner, Message):
            path = where.prefix + (filename_of(part) or f"part-{section}")
            if content_type not in _FORWARD_TYPES:
                self.skip(path, "not_a_sheet", f"a {content_type} part, not a file", part)
            else:
                self.skip(path, "malformed", "an enclosed message that cannot be parsed", part)
            return
        encoding = transfer_encoding_of(part)
        if encoding in ("base64", "quoted-printable"):
            # not allowed by RFC 2046 §5.2.1, yet sent: the parser took the encoded text for a
            # message; decode that text and parse again
            decoded = decode_enclosed(inner, encoding)
            if isinstance(decoded, Skip):
                path = where.prefix + (filename_of(part) or f"message-{section}.eml")
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
        elif (unparsed := why_unparsed(inner)) is not None:
            self.skip(path, *unparsed, part)
        else:
            self.walk(inner, _Place(f"{path}/", depth, header_text(inner, "subject") or ""))

    def leaf(self, part: Message, section: str, where: _Place) -> None:
        """One part that holds bytes: a sheet, or a SkippedPart saying why not."""
        content_type = content_type_of(part)
        name = filename_of(part)
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
        disposition = disposition_of(part)
        # bytes that are a workbook or an archive by their magic are never a body or a picture
        packaged = data.startswith(ZIP_MAGIC) or data.startswith(OLE2_MAGIC)
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
        judged = judge_file(data, self.limits, where.depth, self.room)
        if isinstance(judged, Skip):
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
        data = decode_part(part, transfer_encoding_of(part), limit)
        if isinstance(data, Skip):
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
                declared_type=declared_type_of(part),
                format=fmt,
                path=path,
                subject=where.subject,
                sha256=digest,
                depth=where.depth,
            )
        )

    def skip(self, path: str, reason: str, detail: str, part: Message) -> None:
        self.skipped.append(SkippedPart(path, reason, detail, declared_type_of(part)))


def _message_name(part: Message, inner: Message, section: str) -> str:
    """An enclosed message's name in paths: its file name, else its subject (as mail clients
    name a saved message), else ``message-2.eml``."""
    name = filename_of(part)
    if name is not None:
        return name
    subject = header_text(inner, "subject")
    subject = safe_name(subject.replace("/", "_").replace("\\", "_")) if subject else None
    return f"{subject}.eml" if subject else f"message-{section}.eml"


_TNEF_DETAIL = (
    "Outlook wrapped the attachments in winmail.dat (TNEF), which is not read; "
    "send the mail as HTML or plain text, not Rich Text"
)
