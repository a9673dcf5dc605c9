"""Whole messages through the mail pipeline (the sender proven by DKIM, every attachment to its
table), and the quarantine where the ones held for a person wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ingestd.db.clock import utcnow
from ingestd.db.tables import messages, outbox, quarantine
from ingestd.errors import IngestdError, RefusedError
from ingestd.rates.model import iso
from ingestd.service import audit
from ingestd.service.app import App
from ingestd.service.audit import Action
from ingestd.service.decks import read
from ingestd.sheets.answers import Answers
from ingestd.states import HeldState

if TYPE_CHECKING:  # the mail modules load only for the operations that use them
    from ingestd.message.ledger import HeldMessage
    from ingestd.message.outcome import MessageOutcome
    from ingestd.message.quarantine import Quarantine


def import_message(
    app: App, raw: bytes, *, source: str = "cli", received_at: datetime | None = None
) -> MessageOutcome:
    """One message (its raw bytes) as far as it goes, held ones into the quarantine; one that
    cannot be decided now (DNS down) is an error saying to try again later."""
    return _process(app, raw, source=source, received_at=received_at, label="")


def import_message_file(
    app: App, path: Path, *, source: str = "cli", received_at: datetime | None = None
) -> MessageOutcome:
    """:func:`import_message` of an .eml file; its errors name the file."""
    app.pipeline  # noqa: B018 -- made first: a configuration it cannot use is said before the file
    return _process(app, read(path), source=source, received_at=received_at, label=f"{path}: ")


def _process(
    app: App, raw: bytes, *, source: str, received_at: datetime | None, label: str
) -> MessageOutcome:
    with _try_again_later(label):
        return app.pipeline.process(raw, source=source, received_at=received_at)


@contextmanager
def _try_again_later(label: str = "") -> Iterator[None]:
    """A message that cannot be decided now (DNS down) is an error that says to try again
    later (``label`` names what it is about)."""
    from ingestd.message.pipeline import TemporaryFailure

    try:
        yield
    except TemporaryFailure as e:
        raise IngestdError(f"{label}{e}; try again later") from None


def counts(app: App) -> dict[str, Any]:
    """Messages by state, held quarantine entries (by reason) and the outbox by state."""
    with app.store.engine.connect() as conn:
        by_state = dict(
            conn.execute(
                sa.select(messages.c.state, sa.func.count()).group_by(messages.c.state)
            ).all()
        )
        held = conn.execute(
            sa.select(quarantine.c.reason, sa.func.count())
            .where(quarantine.c.state == HeldState.HELD)
            .group_by(quarantine.c.reason)
        ).all()
        outgoing = dict(
            conn.execute(sa.select(outbox.c.state, sa.func.count()).group_by(outbox.c.state)).all()
        )
    return {
        "messages": {state: int(n) for state, n in sorted(by_state.items())},
        "quarantine_held": sum(int(n) for _, n in held),
        "quarantine_by_reason": {reason: int(n) for reason, n in sorted(held)},
        "outbox": {state: int(n) for state, n in sorted(outgoing.items())},
    }


def today(app: App, now: datetime | None = None) -> dict[str, int]:
    """The messages received since midnight UTC by what became of them (``MessageStatus``;
    ``processing`` for the ones not finished)."""
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    outcome = sa.func.coalesce(messages.c.result, messages.c.state)
    with app.store.engine.connect() as conn:
        found = conn.execute(
            sa.select(outcome, sa.func.count())
            .where(messages.c.received_at >= midnight)
            .group_by(outcome)
        ).all()
    return {str(name): int(n) for name, n in sorted(found)}


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the pipeline saw, as its ``messages`` row records it."""

    row: dict[str, Any]

    def as_dict(self, *, full: bool = False) -> dict[str, Any]:
        r = self.row
        out = {
            "id": r["id"],
            "received_at": iso(r["received_at"]),
            "source": r["source"],
            "message_id": r["message_id"],
            "from": r["from_addr"],
            "subject": r["subject"],
            "vendor": r["vendor"],
            "state": r["state"],
            "result": r["result"],
            "reason": r["reason"],
            "attempts": r["attempts"],
        }
        if full:
            out.update(
                correlation_id=r["correlation_id"],
                authentication=_document(r["auth"]),
                outcome=_document(r["outcome"]),
                notify=r["notify"],
            )
        return out


def _document(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def received(app: App, *, limit: int = 100, before: int | None = None) -> list[ReceivedMessage]:
    """The latest messages, newest first; ``before`` (a message id) pages back."""
    q = sa.select(messages).order_by(messages.c.id.desc()).limit(limit)
    if before is not None:
        q = q.where(messages.c.id < before)
    with app.store.engine.connect() as conn:
        return [ReceivedMessage(dict(r)) for r in conn.execute(q).mappings()]


def received_message(app: App, message_id: int) -> ReceivedMessage:
    """One message by its id; an unknown one is refused (``no_message``)."""
    with app.store.engine.connect() as conn:
        q = sa.select(messages).where(messages.c.id == message_id)
        row = conn.execute(q).mappings().first()
    if row is None:
        raise RefusedError("no_message", f"there is no message {message_id}")
    return ReceivedMessage(dict(row))


# --- the quarantine ------------------------------------------------------------------------------


def _quarantine(app: App) -> Quarantine:
    from ingestd.message.quarantine import Quarantine

    return Quarantine(app.pipeline)


def held(app: App, *, all_states: bool = False) -> list[HeldMessage]:
    """The messages held for a person (with ``all_states``, also released and dropped ones),
    oldest first."""
    return _quarantine(app).list(all_states=all_states)


def held_message(app: App, held_id: int) -> HeldMessage:
    """One quarantine entry; an unknown id is a usage error."""
    return _quarantine(app).get(held_id)


def release(
    app: App,
    held_id: int,
    *,
    actor: str,
    accept_unauthenticated: bool = False,
    vendor: str | None = None,
    note: str | None = None,
    answers: Answers | None = None,
) -> MessageOutcome:
    """Run the held message through the pipeline again, guards accepted.  A message whose
    sender was not authenticated goes through only with ``accept_unauthenticated``;
    ``vendor`` names the vendor of a sender no vendor lists; ``answers`` are used for every
    sheet and kept as the vendor's profile.  An entry not held (any more) is a usage error.
    The audit log records ``actor`` and what came of it."""
    with _try_again_later():
        outcome = _quarantine(app).release(
            held_id,
            accept_unauthenticated=accept_unauthenticated,
            vendor=vendor,
            note=note,
            answers=answers,
        )
    detail = _released(outcome)
    audit.record(app, actor, Action.RELEASE, f"quarantine {held_id}", note=note, detail=detail)
    return outcome


def _released(outcome: MessageOutcome) -> dict[str, Any]:
    """What the audit log keeps of a release: the message's status and each table's version."""
    return {
        "status": str(outcome.status),
        "reason": outcome.reason,
        "quarantine_id": outcome.quarantine_id,
        "tables": [
            {
                "table": f"{o['vendor']}/{o['kind']}/{o['table']}",
                "status": str(o["status"]),
                "version": o["version"],
            }
            for sheet in outcome.sheets
            for o in sheet["outcomes"]
        ],
    }


def drop(app: App, held_id: int, *, actor: str, note: str | None = None) -> HeldMessage:
    """Drop a held message (its raw copy goes when no other entry holds it), recorded in the
    audit log as ``actor``'s; returns the entry as it now is."""
    quarantine = _quarantine(app)
    quarantine.drop(held_id, note=note)
    audit.record(app, actor, Action.DROP, f"quarantine {held_id}", note=note)
    return quarantine.get(held_id)


def held_headers(app: App, held_id: int, limit: int = 64 * 1024) -> list[tuple[str, str]]:
    """The header fields of a held message as it arrived (decoded for reading; from the
    first ``limit`` bytes of its kept copy); none when the copy is gone."""
    from email.header import decode_header, make_header
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    from ingestd.mail.headers import clean_text

    entry = held_message(app, held_id)
    try:
        with open(entry.raw_path, "rb") as f:
            head = f.read(limit)
    except OSError:
        return []
    parsed = BytesHeaderParser(policy=compat32).parsebytes(head)
    fields = []
    for name, value in parsed.items():
        try:
            text = str(make_header(decode_header(value)))
        except (ValueError, LookupError):
            text = str(value)
        fields.append((name, clean_text(text)))
    return fields
