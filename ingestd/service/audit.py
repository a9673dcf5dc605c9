"""The audit log (README "Users and the audit log"): who released, dropped or retried what,
whichever face they used.  The operations that decide something for a person
(``messages.release`` and ``drop``, ``outbox.retry``, ``webhooks.retry``) record an entry each;
the actor is named by its face: ``user NAME`` (the web console), ``api key NAME``, ``cli
LOGIN``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from ingestd.db.clock import utcnow
from ingestd.db.columns import fit_row
from ingestd.db.tables import audit_log
from ingestd.errors import UsageError
from ingestd.rates.model import iso
from ingestd.service.app import App


class Action(StrEnum):
    """What a person did (``audit_log.action``)."""

    RELEASE = "release"  # a held message let through the pipeline again
    DROP = "drop"  # a held message thrown away
    RETRY = "retry"  # an outgoing message or webhook delivery made due again


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: Action
    target: str
    note: str | None
    detail: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": str(self.action),
            "target": self.target,
            "note": self.note,
            "detail": self.detail,
        }


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=Action(row["action"]),
        target=row["target"],
        note=row["note"],
        detail=None if row["detail"] is None else json.loads(row["detail"]),
    )


def record(
    app: App,
    actor: str,
    action: Action,
    target: str,
    *,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """One entry, now; an actor or target longer than its column is cut to it."""
    row = fit_row(
        audit_log,
        {
            "at": utcnow(),
            "actor": actor,
            "action": str(Action(action)),
            "target": target,
            "note": note,
            "detail": None if detail is None else json.dumps(detail, default=str),
        },
    )
    with app.store.begin_write() as conn:
        entry_id = conn.execute(audit_log.insert().values(**row)).inserted_primary_key[0]
    return AuditEntry(id=entry_id, **{**row, "action": Action(row["action"]), "detail": detail})


def entries(
    app: App,
    *,
    limit: int = 100,
    before: int | None = None,
    actor: str | None = None,
    action: Action | str | None = None,
) -> list[AuditEntry]:
    """The latest entries, newest first; ``before`` (an entry's id) pages back; ``actor`` and
    ``action`` keep only theirs (an action that is none is a usage error)."""
    q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before is not None:
        q = q.where(audit_log.c.id < before)
    if actor is not None:
        q = q.where(audit_log.c.actor == actor)
    if action is not None:
        try:
            action = Action(action)
        except ValueError:
            raise UsageError(
                f"{action!r} is not an audited action; allowed: {', '.join(a for a in Action)}"
            ) from None
        q = q.where(audit_log.c.action == str(action))
    with app.store.engine.connect() as conn:
        return [_entry(r) for r in conn.execute(q).mappings()]
