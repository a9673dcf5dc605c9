"""The quarantine for people: list, show, release (the pipeline again, with a person's answers)
and drop held messages (``ingestd quarantine``)."""

from __future__ import annotations

import sqlalchemy as sa

from ingestd.auth import HOLD_REASONS
from ingestd.db.clock import utcnow
from ingestd.db.tables import messages, quarantine
from ingestd.errors import IngestdError, UsageError
from ingestd.message.ledger import HeldMessage, held_message
from ingestd.message.outcome import MessageOutcome, Release
from ingestd.message.pipeline import Pipeline
from ingestd.sheets.answers import Answers
from ingestd.states import HeldState, MessageState, MessageStatus


class Quarantine:
    """``ingestd quarantine list|show|release|drop``."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.store = pipeline.store

    def _query(self) -> sa.Select:
        return sa.select(
            quarantine,
            messages.c.from_addr,
            messages.c.subject,
            messages.c.vendor,
            messages.c.source,
            messages.c.received_at,
            messages.c.outcome,
        ).join(messages, messages.c.id == quarantine.c.message_row)

    def list(self, *, all_states: bool = False) -> list[HeldMessage]:
        q = self._query().order_by(quarantine.c.id)
        if not all_states:
            q = q.where(quarantine.c.state == HeldState.HELD)
        with self.store.engine.connect() as conn:
            return [held_message(r) for r in conn.execute(q).mappings()]

    def get(self, held_id: int) -> HeldMessage:
        with self.store.engine.connect() as conn:
            row = conn.execute(self._query().where(quarantine.c.id == held_id)).mappings().first()
        if row is None:
            raise UsageError(f"no quarantined message {held_id} (see `ingestd quarantine list`)")
        return held_message(row)

    def _held_now(self, held_id: int) -> HeldMessage:
        held = self.get(held_id)
        if held.state != HeldState.HELD:
            raise UsageError(f"quarantined message {held_id} is {held.state} already")
        return held

    def release(
        self,
        held_id: int,
        *,
        accept_unauthenticated: bool = False,
        vendor: str | None = None,
        note: str | None = None,
        answers: Answers | None = None,
    ) -> MessageOutcome:
        """Run the pipeline again on the held message, guards accepted; a message whose
        authentication failed goes through only with ``accept_unauthenticated``.  ``answers``
        (a person's, docs/reading.md#decks-nobody-taught-us) are used for every sheet of the message
        and kept as the vendor's profile of each deck imported."""
        held = self._held_now(held_id)
        if held.reason in HOLD_REASONS and not accept_unauthenticated:
            raise UsageError(
                f"message {held_id} is held because its sender was not authenticated "
                f"({held.reason}); release it with --accept-unauthenticated if you are sure"
            )
        try:
            raw = held.raw_path.read_bytes()
        except OSError as e:
            raise IngestdError(f"the held message is gone from {held.raw_path}: {e}") from e
        release = Release(
            quarantine_id=held_id,
            accept_unauthenticated=accept_unauthenticated,
            vendor=vendor,
            accept_sheet_count=held.reason in ("too_many_sheets", "too_many_parts"),
            answers=answers or Answers(),
        )
        outcome = self.pipeline.process(
            raw, source="release", received_at=held.received_at, release=release
        )
        if outcome.status != MessageStatus.QUARANTINED or outcome.quarantine_id != held_id:
            self._resolve(held_id, HeldState.RELEASED, note or f"released: {outcome.status}")
        return outcome

    def drop(self, held_id: int, *, note: str | None = None) -> None:
        held = self._held_now(held_id)
        self._resolve(held_id, HeldState.DROPPED, note or "dropped")
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == held.message_row)
                .values(state=MessageState.DROPPED, updated_at=utcnow())
            )
            still = conn.execute(
                sa.select(sa.func.count())
                .select_from(quarantine)
                .where(
                    quarantine.c.raw_path == str(held.raw_path),
                    quarantine.c.state == HeldState.HELD,
                )
            ).scalar_one()
        if not still:
            held.raw_path.unlink(missing_ok=True)

    def _resolve(self, held_id: int, state: HeldState, resolution: str) -> None:
        with self.store.begin_write() as conn:
            conn.execute(
                quarantine.update()
                .where(quarantine.c.id == held_id, quarantine.c.state == HeldState.HELD)
                .values(state=state, resolved_at=utcnow(), resolution=resolution[:2000])
            )
