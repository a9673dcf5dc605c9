"""The headers of a received message, read without ever raising (docs/mail.md#attachments):
what later stages need of the outer message (:class:`MessageSummary`), and each part's type,
encoding, disposition and file name, decoded into one safe line of text, or kept as sent when the
email package cannot parse them."""

from __future__ import annotations

import email.errors
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from pathlib import PurePosixPath

from ingestd.mail.parse import headers_only

# What the email package's header parser raises on some broken values instead of recording a
# defect (e.g. AttributeError for "From:\x00@[" in Python 3.11); found by the property tests.
HEADER_ERRORS = (
    email.errors.HeaderParseError,
    ValueError,
    LookupError,
    IndexError,
    TypeError,
    AttributeError,
)


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


def read_headers(raw: bytes) -> MessageSummary:
    """The headers of a raw message without parsing its body (of a message whose processing
    failed: the body may be the reason)."""
    return summarize(headers_only(raw))


def summarize(message: Message) -> MessageSummary:
    """The headers of the outermost message, decoded; a header that cannot be parsed is kept
    as sent rather than lost."""
    date_header = safe_get(message, "date")
    date = getattr(date_header, "datetime", None)
    return MessageSummary(
        subject=header_text(message, "subject") or "",
        from_addr=header_text(message, "from") or "",
        message_id=header_text(message, "message-id"),
        date=date if isinstance(date, datetime) else None,
        in_reply_to=header_text(message, "in-reply-to"),
        references=header_text(message, "references"),
        auto_submitted=header_text(message, "auto-submitted"),
        precedence=header_text(message, "precedence"),
        list_id=header_text(message, "list-id"),
    )


def safe_get(message: Message, name: str) -> object | None:
    """The parsed header, or None; the header parser of the email package raises on some
    broken values instead of recording a defect."""
    try:
        return message.get(name)
    except HEADER_ERRORS:
        return None


def raw_header(message: Message, name: str) -> str | None:
    """The first header of that name as sent (unfolded), without parsing it."""
    for key, value in message.raw_items():
        if key.lower() == name:
            return " ".join(str(value).split())
    return None


def header_text(message: Message, name: str) -> str | None:
    """A header decoded (RFC 2047) on one line, or as sent when it cannot be decoded."""
    value = safe_get(message, name)
    try:
        text = str(value) if value is not None else raw_header(message, name)
    except HEADER_ERRORS:
        text = raw_header(message, name)
    return clean_text(text) if text is not None else None


def content_type_of(part: Message) -> str:
    """The media type that decides how to treat the part (text/plain when missing or invalid,
    as RFC 2045 §5.2 says)."""
    try:
        return part.get_content_type()
    except HEADER_ERRORS:
        declared = declared_type_of(part)
        return declared if re.fullmatch(r"[\w.+-]+/[\w.+-]+", declared) else "text/plain"


def declared_type_of(part: Message) -> str:
    raw = raw_header(part, "content-type")
    return clean_text(raw.split(";")[0]).strip().lower() if raw else ""


def transfer_encoding_of(part: Message) -> str:
    raw = raw_header(part, "content-transfer-encoding")
    return raw.split("(")[0].strip().lower() if raw else ""


def disposition_of(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except HEADER_ERRORS:
        raw = raw_header(part, "content-disposition")
        return raw.split(";")[0].strip().lower() if raw else None


def filename_of(part: Message) -> str | None:
    """The sent file name (Content-Disposition filename, else Content-Type name), decoded from
    RFC 2231 and RFC 2047, reduced to a safe basename."""
    try:
        name = part.get_filename()
    except HEADER_ERRORS:
        return None
    if not name:
        return None
    return safe_name(PurePosixPath(_unescape(str(name)).replace("\\", "/")).name)


def safe_name(text: str) -> str | None:
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


def clean_text(text: str) -> str:
    """One line of real text: escapes read as UTF-8, control characters and runs of white space
    become one space."""
    text = "".join(ch if ch.isprintable() else " " for ch in _unescape(text))
    return " ".join(text.split())


def printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)
