"""A message as it came in, what became of it, and how a person let a held one through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from ingestd.mail.headers import MessageSummary, read_headers
from ingestd.sheets.answers import Answers
from ingestd.states import MessageStatus


@dataclass(frozen=True)
class Release:
    """How a person let a held message through (``ingestd quarantine release``); recorded in
    the provenance of every version it creates."""

    quarantine_id: int
    accept_guards: bool = True
    accept_unauthenticated: bool = False
    vendor: str | None = None  # for a sender no vendor lists
    # a message held for holding more sheets than [limits] max_sheets_per_message: a person
    # looked at it, every sheet is imported
    accept_sheet_count: bool = False
    # what the person answered about the decks (docs/reading.md#decks-nobody-taught-us): used for
    # every sheet of the message and kept as the vendor's profile of each imported deck's layout
    answers: Answers = field(default_factory=Answers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "quarantine_id": self.quarantine_id,
            "accept_guards": self.accept_guards,
            "accept_unauthenticated": self.accept_unauthenticated,
            "vendor": self.vendor,
            "accept_sheet_count": self.accept_sheet_count,
            "answers": self.answers.as_dict() if self.answers else None,
        }


@dataclass(frozen=True)
class Arrival:
    """One message as an attempt at it takes it: its bytes and their hash, where it came from
    and when, the id that follows it through the logs, a person's release, the envelope
    sender."""

    raw: bytes = field(repr=False)
    digest: str
    source: str
    received: datetime  # naive UTC, whole seconds
    correlation_id: str | None
    release: Release | None = None
    envelope_from: str | None = None
    now: float | None = None  # the instant DKIM signatures are checked at (tests pin it)


@dataclass
class MessageOutcome:
    """What became of one message: what every report (CLI, logs, mail) shows."""

    status: MessageStatus
    reason: str | None
    message: str
    raw_sha256: str
    correlation_id: str | None
    row_id: int | None = None
    vendor: str | None = None
    from_addr: str | None = None
    subject: str | None = None
    message_id: str | None = None
    auth: dict[str, Any] | None = None
    sheets: list[dict[str, Any]] = field(default_factory=list)  # one per attachment
    skipped: list[dict[str, Any]] = field(default_factory=list)
    quarantine_id: int | None = None
    duplicate_of: int | None = None  # the messages row that already holds this message
    # for answering (docs/mail.md#mail-out): the envelope sender ("" = null sender: never answered),
    # whether a robot or a list sent it (RFC 3834: never answered), and the thread to reply in
    envelope_from: str | None = None
    automated: bool = False
    references: str | None = None

    @property
    def exit_code(self) -> int:
        return MessageStatus(self.status).exit_code

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "message_row": self.row_id,
            "correlation_id": self.correlation_id,
            "raw_sha256": self.raw_sha256,
            "vendor": self.vendor,
            "from": self.from_addr,
            "subject": self.subject,
            "message_id": self.message_id,
            "auth": self.auth,
            "sheets": self.sheets,
            "skipped": self.skipped,
            "quarantine_id": self.quarantine_id,
            "duplicate_of": self.duplicate_of,
            "envelope_from": self.envelope_from,
            "automated": self.automated,
            "references": self.references,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageOutcome:
        """The outcome as stored in ``messages.outcome`` (for notifying after a restart)."""
        fields = {
            "status": data["status"],
            "reason": data.get("reason"),
            "message": data.get("message") or "",
            "raw_sha256": data["raw_sha256"],
            "correlation_id": data.get("correlation_id"),
            "row_id": data.get("message_row"),
            "vendor": data.get("vendor"),
            "from_addr": data.get("from"),
            "subject": data.get("subject"),
            "message_id": data.get("message_id"),
            "auth": data.get("auth"),
            "sheets": data.get("sheets") or [],
            "skipped": data.get("skipped") or [],
            "quarantine_id": data.get("quarantine_id"),
            "duplicate_of": data.get("duplicate_of"),
            "envelope_from": data.get("envelope_from"),
            "automated": bool(data.get("automated")),
            "references": data.get("references"),
        }
        return cls(**fields)


def address_of(header: str | None) -> str | None:
    if not header:
        return None
    address = parseaddr(header)[1]
    return address.lower() or None


def outcome_of(summary: MessageSummary, arrival: Arrival, row_id: int) -> MessageOutcome:
    """A message's outcome with what its headers say (not yet decided: refused)."""
    return MessageOutcome(
        status=MessageStatus.REFUSED,
        reason=None,
        message="",
        raw_sha256=arrival.digest,
        correlation_id=arrival.correlation_id,
        row_id=row_id,
        from_addr=address_of(summary.from_addr),
        subject=summary.subject,
        message_id=summary.message_id,
        envelope_from=arrival.envelope_from,
        automated=summary.is_automated,
        references=summary.references,
    )


def crashed(arrival: Arrival, row_id: int, text: str) -> MessageOutcome:
    """A message held because processing it kept failing: who sent it and what it is about
    come from its headers alone (its body may be what failed), the sender from the From
    header, else the envelope."""
    outcome = outcome_of(read_headers(arrival.raw), arrival, row_id)
    outcome.status, outcome.reason, outcome.message = (
        MessageStatus.QUARANTINED,
        "pipeline_crash",
        text,
    )
    outcome.from_addr = outcome.from_addr or address_of(arrival.envelope_from)
    return outcome


def taken_by_another(digest: str, correlation_id: str | None) -> MessageOutcome:
    """Another daemon sharing the database works on these bytes right now: it is its message."""
    return MessageOutcome(
        status=MessageStatus.DUPLICATE,
        reason=None,
        message="another ingestd is processing this message",
        raw_sha256=digest,
        correlation_id=correlation_id,
    )
