"""Why a part of a received message is left out (docs/mail.md#attachments): the stable reason
codes reports and templates use, the record of a part left out, and the reason with its detail
before the part's place in the message is known."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class SkippedPart:
    """A part that was considered and left out, and why."""

    path: str  # like Attachment.path; ``part-1.2`` for a part without a name
    reason: str  # a key of SKIP_REASONS
    detail: str  # one line for people
    declared_type: str = ""


@dataclass(frozen=True)
class Skip:
    """Why bytes or a part are left out: a key of SKIP_REASONS and one line for people."""

    reason: str
    detail: str
