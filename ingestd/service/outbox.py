"""Outgoing mail: what the outbox holds, a failed message made due again, delivery of what is
due."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestd.service.app import App

if TYPE_CHECKING:  # the mail modules load only for the operations that use them
    from ingestd.mail.outbox import DeliveryReport, OutboxEntry


def entries(app: App, state: str | None = None) -> list[OutboxEntry]:
    """Every message in the outbox, oldest first, or those in ``state`` (pending, sent,
    failed, suppressed; another is a usage error)."""
    return app.outbox.list(state)


def entry(app: App, entry_id: int) -> OutboxEntry:
    """One outbox message; an unknown id is a usage error."""
    return app.outbox.get(entry_id)


def retry(app: App, entry_id: int) -> OutboxEntry:
    """Make a failed, pending or suppressed message due now with a fresh count of attempts
    (the next delivery run sends it); one sent already is a usage error."""
    return app.outbox.retry(entry_id)


def deliver_due(app: App) -> DeliveryReport:
    """Send what is due now."""
    return app.outbox.deliver_due()
