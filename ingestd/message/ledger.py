"""The ``messages`` row of every message and its ``quarantine`` entry: the state machine of a
message's life (docs/architecture.md "States").

A row is claimed first, in its own transaction, by the hash of the raw bytes, and counts the
attempt; it ends ``done`` or ``quarantined`` with the outcome and whether mail about it is still
to be queued (``notify``).  On a server database a message is worked on by one daemon at a
time (``lock``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ingestd.db.clock import utcnow
from ingestd.db.columns import fit_row
from ingestd.db.engine import Database
from ingestd.db.tables import messages, quarantine
from ingestd.durable import write_file
from ingestd.logs import kv as _kv
from ingestd.message.outcome import Arrival, MessageOutcome, taken_by_another
from ingestd.rates.model import iso
from ingestd.states import HeldState, MessageState, MessageStatus, NotifyState

log = logging.getLogger("ingestd.pipeline")


def raw_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def message_key(from_addr: str | None, message_id: str | None) -> str | None:
    """Message-ID per sender domain (docs/mail.md#mail-in): the key of "the same message sent
    again"."""
    if not message_id or not from_addr or "@" not in from_addr:
        return None
    domain = from_addr.rsplit("@", 1)[1].lower()
    return hashlib.sha256(f"{domain}\n{message_id.strip()}".encode()).hexdigest()


@dataclass(frozen=True)
class HeldMessage:
    id: int
    message_row: int
    reason: str
    detail: str
    raw_path: Path
    state: str
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    from_addr: str | None
    subject: str | None
    vendor: str | None
    source: str
    received_at: datetime
    outcome: dict[str, Any]

    def as_dict(self, *, full: bool = False) -> dict[str, Any]:
        out = {
            "id": self.id,
            "reason": self.reason,
            "state": self.state,
            "held_at": iso(self.created_at),
            "received_at": iso(self.received_at),
            "source": self.source,
            "from": self.from_addr,
            "vendor": self.vendor,
            "subject": self.subject,
            "message_row": self.message_row,
        }
        if full:
            out.update(
                detail=self.detail,
                raw_path=str(self.raw_path),
                resolved_at=iso(self.resolved_at),
                resolution=self.resolution,
                outcome=self.outcome,
            )
        return out


def held_message(row: Any) -> HeldMessage:
    return HeldMessage(
        id=row["id"],
        message_row=row["message_row"],
        reason=row["reason"],
        detail=row["detail"],
        raw_path=Path(row["raw_path"]),
        state=row["state"],
        created_at=row["created_at"],
        resolved_at=row["resolved_at"],
        resolution=row["resolution"],
        from_addr=row["from_addr"],
        subject=row["subject"],
        vendor=row["vendor"],
        source=row["source"],
        received_at=row["received_at"],
        outcome=json.loads(row["outcome"] or "{}"),
    )


class Ledger:
    """The ``messages`` and ``quarantine`` rows of one database; held raw messages are kept as
    files in ``quarantine_dir``."""

    def __init__(self, store: Database, quarantine_dir: Path):
        self.store = store
        self.quarantine_dir = quarantine_dir

    @contextmanager
    def lock(self, digest: str) -> Iterator[bool]:
        """Whether this process may work on the message (docs/operations.md#running-as-a-service):
        on a server database a session lock named by its hash, held until the message is done and
        freed by the server if the process dies, so that a row in state "processing" is a crashed
        attempt only when nobody holds it.  SQLite has one daemon per file: always yes."""
        dialect = self.store.dialect
        if dialect not in ("postgresql", "mysql", "mariadb"):
            yield True
            return
        conn = self.store.engine.connect()
        try:
            if dialect == "postgresql":
                key = int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)
                take = sa.text("SELECT pg_try_advisory_lock(:k)").bindparams(k=key)
                free = sa.text("SELECT pg_advisory_unlock(:k)").bindparams(k=key)
            else:
                name = f"ingestd:{digest[:48]}"
                take = sa.text("SELECT GET_LOCK(:n, 0)").bindparams(n=name)
                free = sa.text("SELECT RELEASE_LOCK(:n)").bindparams(n=name)
            got = bool(conn.execute(take).scalar())
            conn.commit()  # a session lock: no transaction stays open while the work runs
            try:
                yield got
            finally:
                if got:
                    conn.execute(free)
                    conn.commit()
        except BaseException:
            conn.invalidate()  # never hand a connection that may still hold the lock back
            raise
        finally:
            conn.close()

    def claim(self, arrival: Arrival) -> tuple[int, int, tuple[str, int] | None] | MessageOutcome:
        """Count one attempt on the message's row (made on first sight), or say it was
        processed already: (row id, attempts, the row's state and attempts before, None when
        new).  Its own transaction: the count survives a crash of the work."""
        now = utcnow()
        digest, correlation_id = arrival.digest, arrival.correlation_id
        with self.store.begin_write() as conn:
            row = conn.execute(
                sa.select(messages.c.id, messages.c.state, messages.c.attempts, messages.c.result)
                .where(messages.c.raw_sha256 == digest)
                .with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        row_id = conn.execute(
                            messages.insert().values(
                                fit_row(
                                    messages,
                                    {
                                        "raw_sha256": digest,
                                        "source": arrival.source,
                                        "correlation_id": correlation_id,
                                        "received_at": arrival.received,
                                        "state": MessageState.PROCESSING,
                                        "attempts": 1,
                                        "notify": NotifyState.NONE,
                                        "created_at": now,
                                        "updated_at": now,
                                    },
                                )
                            )
                        ).inserted_primary_key[0]
                except sa.exc.IntegrityError:
                    # another instance took it a moment ago: it is its message now
                    return taken_by_another(digest, correlation_id)
                return row_id, 1, None
            if row.state != MessageState.PROCESSING and arrival.release is None:
                # a held message stays held however often it comes (IMAP files it there again)
                return MessageOutcome(
                    status=MessageStatus.DUPLICATE,
                    reason="quarantined" if row.state == MessageState.QUARANTINED else None,
                    message=f"this message was processed already (message {row.id}: "
                    f"{row.result or row.state})",
                    raw_sha256=digest,
                    correlation_id=correlation_id,
                    row_id=row.id,
                    duplicate_of=row.id,
                )
            attempts = (row.attempts if row.state == MessageState.PROCESSING else 0) + 1
            conn.execute(
                messages.update()
                .where(messages.c.id == row.id)
                .values(
                    fit_row(
                        messages,
                        {
                            "state": MessageState.PROCESSING,
                            "attempts": attempts,
                            "correlation_id": correlation_id,
                            "updated_at": now,
                        },
                    )
                )
            )
            return row.id, attempts, (row.state, row.attempts)

    def same_message_id(self, row_id: int, from_addr: str | None, msgid: str | None) -> int | None:
        """The row that already holds this Message-ID from this domain; else claim it."""
        key = message_key(from_addr, msgid)
        if key is None:
            return None
        with self.store.begin_write() as conn:
            other = conn.execute(
                sa.select(messages.c.id).where(
                    messages.c.message_key == key, messages.c.id != row_id
                )
            ).scalar()
            if other is not None:
                return other
            conn.execute(messages.update().where(messages.c.id == row_id).values(message_key=key))
        return None

    def finish(
        self, row_id: int, outcome: MessageOutcome, *, state: MessageState, notify: NotifyState
    ) -> None:
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id)
                .values(
                    fit_row(
                        messages,
                        {
                            "state": state,
                            "result": outcome.status,
                            "reason": outcome.reason,
                            "message_id": outcome.message_id,
                            "from_addr": outcome.from_addr,
                            "subject": outcome.subject,
                            "vendor": outcome.vendor,
                            "auth": json.dumps(outcome.auth, default=str) if outcome.auth else None,
                            "outcome": json.dumps(outcome.as_dict(), default=str),
                            "notify": notify,
                            "updated_at": utcnow(),
                        },
                    )
                )
            )

    def forget_attempt(self, row_id: int) -> None:
        """A temporary failure is not a crash: it does not count towards quarantine."""
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id, messages.c.attempts > 0)
                .values(attempts=messages.c.attempts - 1, updated_at=utcnow())
            )

    def unclaim(self, row_id: int, before: tuple[str, int] | None) -> None:
        """Put the row back as the claim found it: nothing was attempted."""
        if before is None:
            self.forget_attempt(row_id)
            return
        state, attempts = before
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id)
                .values(state=state, attempts=attempts, updated_at=utcnow())
            )

    def record_error(self, row_id: int, error: str) -> None:
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id)
                .values(last_error=error[-20000:], updated_at=utcnow())
            )

    def last_error(self, row_id: int) -> str | None:
        with self.store.engine.connect() as conn:
            return conn.execute(
                sa.select(messages.c.last_error).where(messages.c.id == row_id)
            ).scalar()

    def hold(
        self, row_id: int, raw: bytes, outcome: MessageOutcome, *, detail: str
    ) -> MessageOutcome:
        """Keep the raw message and a quarantine entry; the rates team is told
        (docs/mail.md#mail-out), the sender only when it was authenticated (no backscatter)."""
        path = self.keep_raw(raw, outcome.raw_sha256)
        authenticated = bool(outcome.auth and outcome.auth.get("status") == "pass")
        with self.store.begin_write() as conn:
            conn.execute(
                quarantine.update()
                .where(quarantine.c.message_row == row_id, quarantine.c.state == HeldState.HELD)
                .values(state=HeldState.SUPERSEDED, resolved_at=utcnow())
            )
            outcome.quarantine_id = conn.execute(
                quarantine.insert().values(
                    fit_row(
                        quarantine,
                        {
                            "message_row": row_id,
                            "reason": outcome.reason or "held",
                            "detail": detail[:20000],
                            "raw_path": str(path),
                            "state": HeldState.HELD,
                            "created_at": utcnow(),
                        },
                    )
                )
            ).inserted_primary_key[0]
        self.finish(
            row_id,
            outcome,
            state=MessageState.QUARANTINED,
            notify=NotifyState.PENDING if authenticated else NotifyState.ALERT,
        )
        log.warning(
            _kv(
                "pipeline.quarantined",
                message_row=row_id,
                quarantine_id=outcome.quarantine_id,
                reason=outcome.reason,
                correlation_id=outcome.correlation_id,
                sender=outcome.from_addr,
            )
        )
        return outcome

    def keep_raw(self, raw: bytes, digest: str) -> Path:
        """The raw message, written durably under the state directory."""
        path = self.quarantine_dir / f"{digest}.eml"
        if path.exists() and path.stat().st_size == len(raw):
            return path
        write_file(path, raw)
        return path
