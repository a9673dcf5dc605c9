"""A composed message as the outbox takes it (``Outgoing``): multipart text and HTML with its
attachments, its headers, and a Message-ID derived from what it says, so composing again
after a crash gives the same message."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any

from ingestd.config import Config
from ingestd.mail.attachments import Attachment
from ingestd.mail.outbox import header_text
from ingestd.mail.render import Rendered
from ingestd.states import Purpose, SourceClass

# a MessageOutcome, or its as_dict() as the messages row stores it (JSON)

# the Message-ID prefix of each purpose this module composes
MESSAGE_ID_PREFIX = {
    Purpose.CONFIRMATION: "confirm",
    Purpose.IMPORT_REPORT: "report",
    Purpose.PRICE_CHANGE: "prices",
    Purpose.QUARANTINE_ALERT: "alert",
    Purpose.UNAUTHENTICATED_DIGEST: "strangers",
    Purpose.CAP_NOTICE: "held",
}
# In-Reply-To/References copy ids the vendor wrote: only <left@right> ids short enough for one
# header line, and the last 20 of a thread (RFC 5322 §3.6.4 lets a reply trim the list)
MSG_ID = re.compile(r"<[^<>\s\"@]{1,200}@[^<>\s\"@]{1,200}>")
MAX_REFERENCES = 20


@dataclass(frozen=True)
class Outgoing:
    """One composed message for the outbox: why it is sent, to whom, and the message."""

    purpose: Purpose  # also the X-Ingestd-Purpose header
    recipients: tuple[str, ...]  # bare addresses, the envelope RCPT TO
    message: EmailMessage
    # whose mail it is about, the daily cap it counts against
    source_class: SourceClass = SourceClass.AUTHENTICATED

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


# --- the message itself --------------------------------------------------------------------


def build_outgoing(
    purpose: str,
    recipients: tuple[str, ...],
    rendered: Rendered,
    config: Config,
    *,
    about: str,
    facts: Sequence[Any] = (),
    auto_submitted: str = "auto-generated",
    in_reply_to: str | None = None,
    references: str | None = None,
    attachments: Iterable[Attachment] = (),
    now: datetime | None = None,
    source_class: SourceClass = SourceClass.AUTHENTICATED,
) -> Outgoing:
    """The message around the rendered words: the headers every outgoing message carries
    (RFC 3834 Auto-Submitted, the purpose, a Message-ID derived from the inbound message it is
    ``about`` (its raw hash; "" for none), the recipients and the ``facts`` it tells, see
    :func:`message_id_for`), text and HTML as alternatives, files after them."""
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # naive instants are UTC throughout ingestd
    message = EmailMessage(policy=SMTP)
    message["From"] = config.outbound.from_addr
    message["To"] = ", ".join(recipients)
    message["Subject"] = header_text(rendered.subject)  # may quote what a vendor wrote
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id_for(config, purpose, about, recipients, *facts)
    in_reply_to = next(iter(_msg_ids(in_reply_to)), None)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message["Auto-Submitted"] = auto_submitted
    # Exchange and Outlook: no out-of-office or read receipts in answer to a robot
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Ingestd-Purpose"] = purpose
    # quoted-printable: 7-bit clean, so no relay re-encodes the body and breaks its DKIM
    # signature (8bit would be the library's choice for non-ASCII text)
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for att in attachments:
        message.add_attachment(
            att.data, maintype=att.maintype, subtype=att.subtype, filename=att.filename
        )
    return Outgoing(purpose, recipients, message, source_class)


def message_id_for(config: Config, purpose: str, raw_sha256: str, recipients: Sequence[str],
                *facts: Any) -> str:  # fmt: skip
    """``<confirm.1f2e…@desk.example>``: the same inbound message, purpose, facts and
    recipients always give the same id, so composing again after a crash or a retry makes no
    second message."""
    parts = [raw_sha256, purpose, ",".join(sorted(recipients))]
    seed = "\n".join(parts + ["" if f is None else str(f) for f in facts])
    digest = hashlib.sha256(seed.encode()).hexdigest()[:32]
    return f"<{MESSAGE_ID_PREFIX[purpose]}.{digest}@{_from_domain(config)}>"


def _from_domain(config: Config) -> str:
    address = parseaddr(config.outbound.from_addr)[1]
    return address.rsplit("@", 1)[1].lower() if "@" in address else "localhost"


def references_for(inbound_references: str | None, inbound_id: str | None) -> str | None:
    """The inbound References followed by the inbound Message-ID (RFC 5322 §3.6.4): only
    well-formed ids, the last MAX_REFERENCES of them (a vendor writes these headers)."""
    ids = _msg_ids(inbound_references)
    for own in _msg_ids(inbound_id):
        if own not in ids:
            ids.append(own)
    return " ".join(ids[-MAX_REFERENCES:]) or None


def _msg_ids(text: str | None) -> list[str]:
    """The ``<left@right>`` ids in a vendor's header, each once; anything else (words an
    encoded word decoded to, ids too long for one header line) is left out."""
    found: list[str] = []
    for token in MSG_ID.findall(text or ""):
        if "=?" not in token and token not in found:  # no encoded word: see header_text
            found.append(token)
    return found


def recipients_of(addresses: Iterable[str]) -> tuple[str, ...]:
    """Bare addresses, lower-cased, each once, in the given order."""
    out: list[str] = []
    for _, address in getaddresses([a for a in addresses if a]):
        address = address.strip().lower()
        if "@" in address and address not in out:
            out.append(address)
    return tuple(out)


def own_addresses(config: Config) -> set[str]:
    own = {parseaddr(config.outbound.from_addr)[1].lower()}
    own.update(r.lower() for r in config.smtp.recipients)
    return own
