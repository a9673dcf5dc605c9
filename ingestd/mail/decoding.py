"""A part's bytes out of its transfer encoding (docs/mail.md#attachments): base64 decoded
strictly and bounded by the size limit before it is decoded, quoted-printable, uuencode and the
identity encodings; a part that cannot be decoded is a :class:`Skip` saying why."""

from __future__ import annotations

import base64
import binascii
import email.errors
from email.message import Message

from ingestd.mail.headers import HEADER_ERRORS
from ingestd.mail.skips import Skip


def decode_part(part: Message, encoding: str, limit: int) -> bytes | Skip:
    """The part's decoded bytes, or why they cannot be had (of a part as parse_message made it).

    Base64 is decoded strictly here: the email package drops invalid characters and returns the
    encoded text when the length is wrong, which would hand the reader garbage that looks like
    a CSV. Its other decoders are exact, so they are used as they are.
    """
    try:
        if encoding == "base64":
            text = part.get_payload()
            if not isinstance(text, str):
                return Skip("malformed", "a part without content")
            # before decoding: base64 holds at least 0.7 bytes per character (line ends)
            if len(text) * 0.7 > limit:
                least = int(len(text) * 0.7)
                return Skip(
                    "too_large", f"about {least:,} bytes, more than the {limit:,}-byte limit"
                )
            return _decode_base64(text)
        if encoding not in _IDENTITY_ENCODINGS + _UU_ENCODINGS + ("quoted-printable",):
            return Skip("undecodable", f"unknown Content-Transfer-Encoding {encoding!r}")
        data = part.get_payload(decode=True)
    except HEADER_ERRORS as exc:
        return Skip("malformed", f"the part's headers cannot be parsed: {exc}")
    if not isinstance(data, bytes):
        return Skip("malformed", "a part without content")
    if encoding in _UU_ENCODINGS and data.lstrip().startswith(b"begin "):
        return Skip("undecodable", "broken uuencode")  # the email package returns it as is
    return data


def decode_enclosed(inner: Message, encoding: str) -> bytes | Skip:
    """The bytes of a message/rfc822 part sent base64- or QP-encoded."""
    try:
        text = inner.as_bytes()
    except (email.errors.MessageError, *HEADER_ERRORS) as exc:
        return Skip("malformed", f"the enclosed message cannot be read: {exc}")
    if encoding == "base64":
        return _decode_base64(text.decode("ascii", "replace"))
    return binascii.a2b_qp(text)


_IDENTITY_ENCODINGS = ("", "7bit", "8bit", "binary")
_UU_ENCODINGS = ("x-uuencode", "uuencode", "uue", "x-uue")


def _decode_base64(text: str) -> bytes | Skip:
    try:
        compact = text.encode("ascii").translate(None, b" \t\r\n\x0b\x0c")
    except UnicodeEncodeError:
        return Skip("undecodable", "broken base64: it holds non-ASCII characters")
    if len(compact) % 4 == 1:
        return Skip("undecodable", "broken base64: the encoded text is cut short")
    compact += b"=" * (-len(compact) % 4)  # missing padding is common and harmless
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        return Skip("undecodable", f"broken base64: {exc}")
