"""The pipeline's last stage (docs/operations.md#flow, docs/mail.md#mail-out): what a finished
message calls for goes into the outbox — the vendor's confirmation (only to an authenticated
vendor), the rates team's import reports and quarantine alerts, the subscribers' price-change
notices.

Every finished ``messages`` row starts with ``notify`` = ``pending`` (answer the vendor and tell
the team) or ``alert`` (an unauthenticated sender: tell the team, never the sender); once its
messages are in the outbox it becomes ``sent`` (or ``alerted``).  Composing is retried by the
daemon for rows a crash or a template error left behind, and a retry never makes a second
message: Message-IDs are derived from the inbound message and the purpose, and the outbox
keeps one row per Message-ID.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import sqlalchemy as sa

from ingestd.config import Config
from ingestd.db.clock import utcnow
from ingestd.db.tables import messages
from ingestd.errors import RefusedError, UsageError
from ingestd.logs import kv
from ingestd.mail.compose import (
    DeckKey,
    OutcomeLike,
    RatesWanted,
    VersionRates,
    notifications,
    rates_wanted,
)
from ingestd.mail.outbox import Outbox
from ingestd.message.outcome import MessageOutcome
from ingestd.rates.changes import price_changes
from ingestd.rates.records import TableRef
from ingestd.rates.store import Store
from ingestd.states import MessageState, NotifyState, Purpose
from ingestd.webhooks.deliveries import Webhooks

log = logging.getLogger("ingestd.notify")

# Rows left unnotified are picked up after this long (the pipeline notifies at once; this is
# for a crash in between or a template that failed).
RETRY_AFTER = timedelta(minutes=2)


class Notifier:
    def __init__(self, config: Config, store: Store, outbox: Outbox | None = None):
        self.config = config
        self.store = store
        self.outbox = outbox or Outbox(store, config)
        self.webhooks = Webhooks(store, config)

    def notify(self, outcome: MessageOutcome, *, source: str | None = None) -> int:
        """Put what ``outcome`` calls for into the outbox; returns how many messages."""
        if outcome.row_id is None:
            return 0  # another instance has the message
        state = self._state(outcome.row_id)
        if state not in NotifyState.waiting():
            return 0
        outgoing = notifications(
            outcome,
            self.config,
            rates_for(outcome, self.config, self.store),
            references=outcome.references,
            automated=outcome.automated,
            null_sender=outcome.envelope_from == "",
            source=source,
        )
        if state == NotifyState.ALERT:  # never a word to a sender that was not authenticated
            outgoing = [o for o in outgoing if o.purpose != Purpose.CONFIRMATION]
        for message in outgoing:
            self.outbox.enqueue(
                message.message,
                purpose=message.purpose,
                message_row=outcome.row_id,
                recipients=list(message.recipients),
                source_class=message.source_class,
            )
        # the webhooks' events are stored with ids derived from the message: a notify run
        # again after a crash here stores none twice
        self.webhooks.announce_message(outcome.as_dict(), source=source or "mail")
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == outcome.row_id)
                .values(
                    notify=NotifyState.ALERTED if state == NotifyState.ALERT else NotifyState.SENT,
                    updated_at=utcnow(),
                )
            )
        log.info(
            kv(
                "notify.queued",
                message_row=outcome.row_id,
                correlation_id=outcome.correlation_id,
                messages=len(outgoing),
                purposes=",".join(o.purpose for o in outgoing) or None,
            )
        )
        return len(outgoing)

    def notify_safely(self, outcome: MessageOutcome, *, source: str | None = None) -> None:
        """Notify, and if that fails leave the row for ``catch_up``: the import stands."""
        try:
            self.notify(outcome, source=source)
        except Exception:
            log.exception(
                kv(
                    "notify.failed",
                    message_row=outcome.row_id,
                    correlation_id=outcome.correlation_id,
                )
            )

    def catch_up(self, *, older_than: timedelta = RETRY_AFTER, limit: int = 50) -> int:
        """Notify finished rows that are still waiting (a crash, a template error)."""
        cutoff = utcnow() - older_than
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(messages.c.id, messages.c.source, messages.c.outcome)
                .where(
                    messages.c.notify.in_(NotifyState.waiting()),
                    messages.c.state.in_((MessageState.DONE, MessageState.QUARANTINED)),
                    messages.c.updated_at <= cutoff,
                    messages.c.outcome.is_not(None),
                )
                .order_by(messages.c.id)
                .limit(limit)
            ).all()
        done = 0
        for row_id, source, stored in rows:
            outcome = MessageOutcome.from_dict(json.loads(stored))
            outcome.row_id = row_id
            self.notify_safely(outcome, source=source)
            done += 1
        return done

    def _state(self, row_id: int) -> str | None:
        with self.store.engine.connect() as conn:
            return conn.execute(
                sa.select(messages.c.notify).where(messages.c.id == row_id)
            ).scalar()


def rates_for(outcome: OutcomeLike, config: Config, store: Store) -> dict[DeckKey, VersionRates]:
    """What the mail about a finished message renders from the store, read before composing."""
    return version_rates(store, rates_wanted(outcome, config))


def version_rates(store: Store, wanted: list[RatesWanted]) -> dict[DeckKey, VersionRates]:
    out = {}
    for want in wanted:
        vendor, kind, name, version = want.deck
        table = _table_of(store, vendor, kind, name)
        if table is None or not version:
            out[want.deck] = VersionRates(table=table)
            continue
        total, rows = 0, None
        if want.rows:
            total = store.version(table, version).rows_total  # without loading them
            rows = store.rows(table, version) if total <= want.rows else None
        changes = price_changes(store, table, version) if want.changes else None
        out[want.deck] = VersionRates(table, total, rows, changes)
    return out


def _table_of(
    store: Store, vendor: str | None, kind: str | None, name: str | None
) -> TableRef | None:
    """The deck's table, or None when it names none (a refused deck) or not exactly one."""
    if not name or not vendor:
        return None
    try:
        return store.find_table(vendor, name=name, kind=kind)
    except (RefusedError, UsageError):
        return None
