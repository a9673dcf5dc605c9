"""Every state and status ingestd records or reports, defined once.

The values are what the database columns, the JSON reports and the logs hold, so a member
compares equal to its text (``StrEnum``) and the stored words never change.  The lifecycle of
each is in docs/architecture.md ("States").
"""

from __future__ import annotations

from enum import StrEnum


class ImportStatus(StrEnum):
    """What became of one deck (``ingestd import``, one sheet of a message)."""

    IMPORTED = "imported"
    DUPLICATE = "duplicate"  # the same file was imported into this table before
    DRY_RUN = "dry_run"
    HELD = "held"  # a guard tripped: nothing written until a person decides
    REFUSED = "refused"

    @property
    def exit_code(self) -> int:
        """The command line's exit code: 0 when nothing is left for a person to do."""
        done = (ImportStatus.IMPORTED, ImportStatus.DUPLICATE, ImportStatus.DRY_RUN)
        return 0 if self in done else 1


class MessageStatus(StrEnum):
    """What became of one message, all its sheets together."""

    IMPORTED = "imported"
    PARTLY_IMPORTED = "partly_imported"  # some sheets imported, others refused
    REFUSED = "refused"
    DUPLICATE = "duplicate"  # processed before (or every sheet was a duplicate)
    QUARANTINED = "quarantined"  # held for a person

    @property
    def exit_code(self) -> int:
        return 0 if self in (MessageStatus.IMPORTED, MessageStatus.DUPLICATE) else 1


class MessageState(StrEnum):
    """``messages.state``: where a received message is in its life."""

    PROCESSING = "processing"  # claimed by a worker; a row left here is a crashed attempt
    DONE = "done"
    QUARANTINED = "quarantined"
    DROPPED = "dropped"  # a person dropped it from the quarantine


class NotifyState(StrEnum):
    """``messages.notify``: whether the mail about a message has been queued."""

    PENDING = "pending"  # confirmation and reports still to queue
    ALERT = "alert"  # only the rates team is told (the sender was not authenticated)
    SENT = "sent"
    ALERTED = "alerted"
    NONE = "none"  # nothing to say (a duplicate)

    @classmethod
    def waiting(cls) -> tuple[NotifyState, ...]:
        return (cls.PENDING, cls.ALERT)


class HeldState(StrEnum):
    """``quarantine.state``: a held message until a person decides."""

    HELD = "held"
    RELEASED = "released"
    DROPPED = "dropped"
    SUPERSEDED = "superseded"  # held again by a later attempt at the same message


class OutboxState(StrEnum):
    """``outbox.state``: one outgoing message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # given up after the retries
    SUPPRESSED = "suppressed"  # held back by a daily cap


class SourceClass(StrEnum):
    """Whom an outgoing message is about; each has its own daily cap per recipient."""

    AUTHENTICATED = "authenticated"  # an authenticated vendor's import, or an operator's
    UNAUTHENTICATED = "unauthenticated"  # mail whose sender was not authenticated
    SYSTEM = "system"  # ingestd itself


class WebhookState(StrEnum):
    """``webhook_deliveries.state``: one event for one receiver."""

    PENDING = "pending"
    SENT = "sent"  # the receiver answered 2xx
    FAILED = "failed"  # given up: refused for good, or 24 hours of retries


class Purpose(StrEnum):
    """Why ingestd sends a message (``outbox.purpose``, the ``X-Ingestd-Purpose`` header)."""

    CONFIRMATION = "confirmation"
    IMPORT_REPORT = "import_report"
    PRICE_CHANGE = "price_change"
    QUARANTINE_ALERT = "quarantine_alert"
    DELIVERY_FAILURE = "delivery_failure"
    ACTIVATION_DIGEST = "activation_digest"
    UNAUTHENTICATED_DIGEST = "unauthenticated_digest"
    CAP_NOTICE = "cap_notice"

    @property
    def source_class(self) -> SourceClass:
        """The class a purpose counts against when the caller does not say (a quarantine
        alert says: it is about an authenticated vendor's held deck or a stranger's crash)."""
        return _PURPOSE_CLASSES[self]

    @property
    def capped(self) -> bool:
        """Every purpose but the one message per period that says what a cap held back."""
        return self is not Purpose.CAP_NOTICE


_PURPOSE_CLASSES = {
    Purpose.CONFIRMATION: SourceClass.AUTHENTICATED,
    Purpose.IMPORT_REPORT: SourceClass.AUTHENTICATED,
    Purpose.PRICE_CHANGE: SourceClass.AUTHENTICATED,
    Purpose.QUARANTINE_ALERT: SourceClass.AUTHENTICATED,
    Purpose.UNAUTHENTICATED_DIGEST: SourceClass.UNAUTHENTICATED,
    Purpose.DELIVERY_FAILURE: SourceClass.SYSTEM,
    Purpose.ACTIVATION_DIGEST: SourceClass.SYSTEM,
    Purpose.CAP_NOTICE: SourceClass.SYSTEM,
}
