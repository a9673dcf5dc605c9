"""Webhook deliveries (docs/http.md#webhooks): one row per event and receiver, stored when the
event happens (inside nothing slower than an insert, so a dead receiver never slows an import),
sent by the scheduler's delivery job, retried with backoff for a day with the same
``webhook-id``, then given up with a ``delivery.failed`` event to the others.

Rows are claimed for one attempt with ``db.lease``: daemons sharing a database send each
delivery once (at least once if one dies mid-attempt)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ingestd.config import Config, WebhookConfig
from ingestd.db.clock import utcnow
from ingestd.db.lease import claim_next
from ingestd.db.tables import webhook_deliveries as deliveries
from ingestd.errors import IngestdError, RefusedError
from ingestd.events import EventType
from ingestd.logs import kv
from ingestd.metrics import WEBHOOK_DELIVERIES
from ingestd.rates.changes import price_changes
from ingestd.rates.model import iso
from ingestd.rates.store import Store
from ingestd.states import WebhookState
from ingestd.webhooks import sender
from ingestd.webhooks.payloads import (
    Event,
    delivery_failed,
    import_refused,
    message_quarantined,
    rates_changed,
    version_created,
)

log = logging.getLogger("ingestd.webhooks")

# the waits after the 1st, 2nd, … failed attempt: the first retry within a minute, then longer
DELAYS = tuple(
    timedelta(seconds=s) for s in (30, 120, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600)
)
GIVE_UP_AFTER = timedelta(hours=24)  # from the event: then it is failed
LEASE = timedelta(minutes=2)  # longer than one attempt can take (sender.TIMEOUT)


def receiver_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def delay(attempts: int) -> timedelta:
    return DELAYS[min(attempts, len(DELAYS)) - 1]


@dataclass(frozen=True)
class Delivery:
    """One row, for ``ingestd webhooks list`` and the API."""

    id: int
    event_id: str
    event_type: str
    url: str
    vendor: str | None
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "type": self.event_type,
            "url": self.url,
            "vendor": self.vendor,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
        }


@dataclass
class DeliveryRun:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        url=row.url,
        vendor=row.vendor,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


class Webhooks:
    def __init__(self, store: Store, config: Config):
        self.database = store
        self.store = store
        self.config = config

    def receivers(self, event: EventType, vendor: str | None) -> list[WebhookConfig]:
        return [w for w in self.config.webhooks if w.wants(event, vendor)]

    @property
    def base_url(self) -> str | None:
        """Where links in payloads point: the API, when the daemon serves one."""
        http = self.config.http
        return http.base_url if (http.listen or http.public_url) else None

    # --- what happened ----------------------------------------------------------------------

    def announce_imports(
        self, summaries: list[dict[str, Any]], *, source: str, about: object = None
    ) -> int:
        """The events of a file's imports (import summaries as ``as_dict`` gives them): a new
        version, the prices it changed (read only when a receiver wants them), a refusal.
        ``about`` names what the refusals are part of (a message row), for their ids."""
        if not self.config.webhooks:
            return 0
        events: list[Event | None] = []
        for n, summary in enumerate(summaries):
            status = summary.get("status")
            if status == "imported" and summary.get("version"):
                events.append(version_created(summary, source=source, base=self.base_url))
                if self.receivers(EventType.RATES_CHANGED, summary.get("vendor")):
                    events.append(self._rates_changed(summary))
            elif status == "refused":
                key = None if about is None else (about, n, summary.get("file_hash"))
                events.append(import_refused(summary, source=source, about=key))
        return self.announce(events)

    def _rates_changed(self, summary: dict[str, Any]) -> Event | None:
        table = self.store.find_table(summary["vendor"], name=summary["table"],
                                      kind=summary["kind"])  # fmt: skip
        changes = price_changes(self.store, table, summary["version"])
        return rates_changed(summary, changes, base=self.base_url)

    def announce_message(self, outcome: dict[str, Any], *, source: str) -> int:
        """The events of a finished message (its outcome's ``as_dict``): held for a person, or
        what each of its sheets' imports did."""
        if not self.config.webhooks:
            return 0
        if outcome.get("status") == "quarantined" and outcome.get("quarantine_id"):
            return self.announce([message_quarantined(outcome, base=self.base_url)])
        summaries = [o for sheet in outcome.get("sheets", ()) for o in sheet.get("outcomes", ())]
        return self.announce_imports(summaries, source=source, about=outcome.get("message_row"))

    def announce_failed_mail(
        self, entry_id: int, recipients: str, attempts: int, error: str
    ) -> int:
        return self.announce([delivery_failed("mail", entry_id, recipients, attempts, error)])

    # --- storing ----------------------------------------------------------------------------

    def announce(self, events: Iterable[Event | None], now: datetime | None = None) -> int:
        """Store every event for every receiver that wants it; an event already stored for a
        receiver (the same id) is not stored again.  Returns how many rows were added."""
        now = now or utcnow()
        added = 0
        for event in events:
            if event is None:
                continue
            for receiver in self.receivers(event.type, event.vendor):
                added += self._store(event, receiver.url, now)
        return added

    def _store(self, event: Event, url: str, now: datetime) -> int:
        key = receiver_key(url)
        with self.database.begin_write() as conn:
            exists = conn.execute(
                sa.select(deliveries.c.id).where(
                    deliveries.c.receiver == key, deliveries.c.event_id == event.id
                )
            ).first()
            if exists:
                return 0
            try:
                conn.execute(
                    deliveries.insert().values(
                        event_id=event.id,
                        event_type=str(event.type),
                        url=url,
                        receiver=key,
                        payload=event.body(),
                        vendor=event.vendor,
                        state=WebhookState.PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            except sa.exc.IntegrityError:  # another daemon stored it just now
                return 0
        log.info(kv("webhook.stored", event_id=event.id, type=event.type, url=url))
        return 1

    # --- sending ----------------------------------------------------------------------------

    def deliver_due(self, now: datetime | None = None, limit: int = 100) -> DeliveryRun:
        """Send what is due, each claimed for its attempt first; ``now`` pins the clock."""
        run = DeliveryRun()
        secrets: dict[str, str | None] = {}
        down: dict[str, sender.Answer] = {}  # receivers that did not answer in this run
        with sender.client() as client:
            while len(run.sent) + len(run.retried) + len(run.failed) < limit:
                moment = now or utcnow()
                with self.database.begin_write() as conn:
                    claimed = claim_next(conn, deliveries, WebhookState.PENDING, moment, LEASE)
                    if claimed is None:
                        break
                    row = conn.execute(
                        sa.select(deliveries).where(deliveries.c.id == claimed[0])
                    ).one()
                secret = secrets.get(row.url)
                if row.url not in secrets:
                    secret = secrets[row.url] = self._secret(row.url)
                if secret is None:
                    answer = sender.Answer(None, "the receiver is not configured (or its secret)")
                elif row.url in down:  # counted as an attempt, not waited for again
                    answer = down[row.url]
                else:
                    answer = sender.post(row.url, secret, row.event_id, row.payload, client=client)
                if answer.status is None:
                    down[row.url] = answer
                self._after(row, claimed[1], answer, now or utcnow(), run)
        return run

    def _secret(self, url: str) -> str | None:
        for receiver in self.config.webhooks:
            if receiver.url == url:
                try:
                    return receiver.secret()
                except IngestdError as e:
                    log.error(kv("webhook.no_secret", url=url, error=str(e)))
                    return None
        return None

    def _after(
        self, row: Any, attempts: int, answer: sender.Answer, now: datetime, run: DeliveryRun
    ) -> None:
        fields = {"last_status": answer.status, "last_error": answer.error}
        give_up = now - row.created_at >= GIVE_UP_AFTER
        if answer.ok:
            fields.update(state=WebhookState.SENT, sent_at=now, next_attempt_at=None)
            run.sent.append(row.id)
            result = "sent"
        elif give_up:
            fields.update(state=WebhookState.FAILED, next_attempt_at=None)
            run.failed.append(row.id)
            result = "failed"
        else:
            fields.update(next_attempt_at=now + delay(attempts))
            run.retried.append(row.id)
            result = "retry"
        with self.database.begin_write() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == row.id).values(**fields))
        WEBHOOK_DELIVERIES.labels(result).inc()
        line = kv(
            f"webhook.{result}",
            id=row.id,
            event_id=row.event_id,
            type=row.event_type,
            url=row.url,
            attempt=attempts,
            status=answer.status,
            error=answer.error,
            next_attempt_at=iso(fields.get("next_attempt_at")),
        )
        (log.info if answer.ok else log.warning)(line)
        if result == "failed" and row.event_type != EventType.DELIVERY_FAILED:
            self.announce(
                [delivery_failed("webhook", row.id, row.url, attempts, answer.error or "")], now
            )

    # --- the commands -------------------------------------------------------------------------

    def list(self, state: str | None = None, limit: int = 200) -> list[Delivery]:
        """The latest deliveries (of one state), newest first."""
        if state is not None and state not in {s.value for s in WebhookState}:
            allowed = ", ".join(s.value for s in WebhookState)
            raise IngestdError(f"no delivery state {state!r}; states: {allowed}")
        q = sa.select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if state is not None:
            q = q.where(deliveries.c.state == state)
        with self.database.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(q)]

    def get(self, delivery_id: int) -> Delivery:
        with self.database.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
        if row is None:
            raise RefusedError("no_delivery", f"there is no webhook delivery {delivery_id}")
        return _delivery(row)

    def retry(self, delivery_id: int, now: datetime | None = None) -> Delivery:
        """Due now again (a failed one too, with a fresh day of retries from now)."""
        found = self.get(delivery_id)
        if found.state == WebhookState.SENT:
            raise IngestdError(f"webhook delivery {delivery_id} was sent; nothing to retry")
        now = now or utcnow()
        values: dict[str, Any] = {"state": WebhookState.PENDING, "next_attempt_at": now}
        if found.state == WebhookState.FAILED:
            values["created_at"] = now
        with self.database.begin_write() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))
        return self.get(delivery_id)

    def test(self, event: Event) -> list[tuple[str, sender.Answer]]:
        """Send ``event`` to every receiver now, stored nowhere: what each one answered."""
        results = []
        with sender.client() as client:
            for receiver in self.config.webhooks:
                try:
                    secret = receiver.secret()
                except IngestdError as e:
                    results.append((receiver.url, sender.Answer(None, str(e))))
                    continue
                answer = sender.post(receiver.url, secret, event.id, event.body(), client=client)
                results.append((receiver.url, answer))
        return results
