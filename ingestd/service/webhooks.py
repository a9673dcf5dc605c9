"""Webhook receivers and their deliveries (docs/http.md#webhooks): a new secret, the
deliveries and their state, a retry (an entry of the audit log), a test event to every
receiver."""

from __future__ import annotations

import base64
import secrets as random
from typing import Any

from ingestd.errors import UsageError
from ingestd.events import EventType
from ingestd.service import audit
from ingestd.service.app import App
from ingestd.service.audit import Action
from ingestd.webhooks.deliveries import Delivery
from ingestd.webhooks.payloads import Event, random_id


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode()


def deliveries(app: App, state: str | None = None) -> list[Delivery]:
    return app.webhooks.list(state)


def retry(app: App, delivery_id: int, *, actor: str) -> Delivery:
    """A pending or failed delivery due now (a failed one with a fresh day of retries),
    recorded in the audit log as ``actor``'s; a sent one is an error."""
    before = app.webhooks.get(delivery_id)
    delivery = app.webhooks.retry(delivery_id)
    was = {"was": str(before.state), "attempts": before.attempts}
    audit.record(app, actor, Action.RETRY, f"webhook delivery {delivery_id}", detail=was)
    return delivery


def test(app: App) -> list[dict[str, Any]]:
    """A signed ``webhook.test`` event to every receiver now: what each answered."""
    if not app.config.webhooks:
        raise UsageError("no [[webhooks]] receivers are configured")
    event = Event(random_id(), EventType.TEST, None, {"message": "a test from ingestd"})
    return [
        {"url": url, "status": answer.status, "ok": answer.ok, "error": answer.error}
        for url, answer in app.webhooks.test(event)
    ]
