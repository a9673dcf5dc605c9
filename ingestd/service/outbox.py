"""Outgoing mail: what the outbox holds, a failed message made due again (an entry of the audit
log), delivery of what is due."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestd.service import audit
from ingestd.service.app import App
from ingestd.service.audit import Action

if TYPE_CHECKING:  # the mail modules load only for the operations that use them
    from ingestd.mail.outbox import DeliveryReport, OutboxEntry


def entries(app: App, state: str | None = None) -> list[OutboxEntry]:
    """Every message in the outbox, oldest first, or those in ``state`` (pending, sent,
    failed, suppressed; another is a usage error)."""
    return app.outbox.list(state)


def latest(
    app: App, state: str | None = None, *, limit: int = 100, before: int | None = None
) -> list[OutboxEntry]:
    """The latest ``limit`` messages (of ``state``), newest first; ``before`` (an id) pages
    back: what a page of the console shows of an outbox that keeps every message."""
    return app.outbox.latest(state, limit=limit, before=before)


def entry(app: App, entry_id: int) -> OutboxEntry:
    """One outbox message; an unknown id is a usage error."""
    return app.outbox.get(entry_id)


def retry(app: App, entry_id: int, *, actor: str) -> OutboxEntry:
    """Make a failed, pending or suppressed message due now with a fresh count of attempts
    (the next delivery run sends it), recorded in the audit log as ``actor``'s; one sent
    already is a usage error."""
    before = app.outbox.get(entry_id)
    entry = app.outbox.retry(entry_id)
    was = {"was": str(before.state), "attempts": before.attempts}
    audit.record(app, actor, Action.RETRY, f"outbox {entry_id}", detail=was)
    return entry


def deliver_due(app: App) -> DeliveryReport:
    """Send what is due now."""
    return app.outbox.deliver_due()
