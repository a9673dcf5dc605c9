"""A received message parsed within its limits (docs/mail.md#attachments): never raises; a
message nested too deeply for the parser, or with more lines that may be MIME boundaries than
``[limits] max_mime_parts``, is read no further than its headers and says why in a defect."""

from __future__ import annotations

import email.errors
import email.parser
import email.policy
from email.message import EmailMessage, Message


class NestingTooDeepDefect(email.errors.MessageDefect):
    """The MIME parts nest so deeply that the parser gave up; only the headers were read."""


class TooManyPartsDefect(email.errors.MessageDefect):
    """The message has more MIME boundary lines than ``[limits] max_mime_parts``: only the
    headers were read (parsing is what costs: 100,000 tiny parts take the parser ~10 s)."""


def parse_message(raw: bytes, *, max_parts: int | None = None) -> EmailMessage:
    """The message as ``email.policy.default`` parses it; never raises.

    Thousands of nested multiparts exhaust the parser's recursion: then only the headers are
    parsed and a :class:`NestingTooDeepDefect` tells :func:`extract_sheets` why it finds nothing.
    With ``max_parts``, a message with more boundary lines than that (each part starts with
    one, so they are at least its parts) is not parsed past its headers either
    (:class:`TooManyPartsDefect`).
    """
    if max_parts is not None and (lines := boundary_lines(raw)) > max_parts:
        return headers_only(
            raw,
            TooManyPartsDefect(f"{lines:,} MIME boundary lines, more than {max_parts:,} (limit)"),
        )
    try:
        return email.parser.BytesParser(EmailMessage, policy=email.policy.default).parsebytes(raw)
    except RecursionError:
        return headers_only(raw, NestingTooDeepDefect("MIME parts nested too deeply to parse"))


def headers_only(raw: bytes, defect: email.errors.MessageDefect | None = None) -> EmailMessage:
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


def why_unparsed(message: Message) -> tuple[str, str] | None:
    """Why ``message`` was read no further than its headers (skip reason, detail), if it was."""
    if any(isinstance(defect, NestingTooDeepDefect) for defect in message.defects):
        return "too_deep", "MIME parts nested too deeply to parse"
    if (defect := too_many_parts(message)) is not None:
        return "too_many_parts", str(defect)
    return None
