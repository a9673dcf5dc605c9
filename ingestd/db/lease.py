"""Claiming the next due row of a delivery queue for one attempt (the outbox's mail, webhook
deliveries), so that daemons sharing a database never send one twice.

A claim raises ``attempts`` and moves ``next_attempt_at`` past the attempt (the lease), set only
if nobody claimed the row in between: the compare-and-set on ``attempts`` is what two daemons race
on.  The update goes by primary key only: on InnoDB an update through the (state,
next_attempt_at) index that it also changes deadlocks against a concurrent claim.  A daemon that
dies during an attempt leaves the row to be claimed again once the lease ran out: at least once
beats lost."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# due rows looked at per claim: enough that racing daemons each find one nobody else took
CANDIDATES = 20


def claim_next(
    conn: Connection, table: sa.Table, pending: str, now: datetime, lease: timedelta
) -> tuple[int, int] | None:
    """The id of the next due row of ``table`` in state ``pending`` claimed by this
    transaction, and its attempt number (1 for the first); None when nothing is due."""
    c = table.c
    candidates = conn.execute(
        sa.select(c.id, c.attempts)
        .where(c.state == pending, c.next_attempt_at <= now)
        .order_by(c.next_attempt_at, c.id)
        .limit(CANDIDATES)
    ).all()
    for row_id, attempts in candidates:
        taken = conn.execute(
            table.update()
            .where(c.id == row_id, c.attempts == attempts, c.state == pending)
            .values(attempts=attempts + 1, next_attempt_at=now + lease)
        ).rowcount
        if taken == 1:
            return row_id, attempts + 1
    return None
