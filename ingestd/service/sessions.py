"""A person's sessions in the web console (README "Users and the audit log"): opened at login,
found again by the token its cookie carries, closed at logout or when the user's password
changes or the user is removed (``service.users``).

The token is 32 random bytes; only its SHA-256 is stored (as an API key's), so the database
cannot give a session away.  Each session has its own CSRF token for the console's forms.  The
user's role is read afresh on every request, so a change applies at once."""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ingestd.db.clock import utcnow
from ingestd.db.tables import console_sessions
from ingestd.db.tables import users as users_table
from ingestd.logs import kv
from ingestd.service.apikeys import token_hash
from ingestd.service.app import App
from ingestd.service.users import User

LIFETIME = timedelta(hours=12)
# last_seen_at is written at most this often, so a busy page does not write on every request
SEEN_EVERY = timedelta(minutes=1)

log = logging.getLogger("ingestd.console")
_seen = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-seen")


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    created_at: datetime
    expires_at: datetime


def open(app: App, user: User, *, lifetime: timedelta = LIFETIME) -> tuple[str, Session]:
    """A new session of ``user`` and its token (for the cookie; never stored).  Sessions that
    have expired are deleted on the way."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = Session(
        user=user, csrf=secrets.token_urlsafe(32), created_at=now, expires_at=now + lifetime
    )
    with app.store.begin_write() as conn:
        conn.execute(console_sessions.delete().where(console_sessions.c.expires_at <= now))
        conn.execute(
            console_sessions.insert().values(
                token_sha256=token_hash(token),
                user_name=user.name,
                csrf=session.csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=session.expires_at,
            )
        )
    return token, session


def find(app: App, token: str) -> Session | None:
    """The live session of a token, with its user as it is now; None for an unknown or expired
    token, or a user who is gone."""
    q = (
        sa.select(*[c.label(f"session_{c.name}") for c in console_sessions.c], users_table)
        .select_from(
            console_sessions.join(users_table, users_table.c.name == console_sessions.c.user_name)
        )
        .where(console_sessions.c.token_sha256 == token_hash(token))
    )
    with app.store.engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    now = utcnow()
    if row is None or row["session_expires_at"] <= now:
        return None
    if now - row["session_last_seen_at"] >= SEEN_EVERY:
        # written aside: a page never waits for the database's writer (a large import holds
        # SQLite's for seconds) to note that its session was seen
        _seen.submit(_note_seen, app, row["session_id"], now)
    return Session(
        user=User.from_row(row),
        csrf=row["session_csrf"],
        created_at=row["session_created_at"],
        expires_at=row["session_expires_at"],
    )


def _note_seen(app: App, session_id: int, now: datetime) -> None:
    try:
        with app.store.begin_write() as conn:
            conn.execute(
                console_sessions.update()
                .where(console_sessions.c.id == session_id)
                .values(last_seen_at=now)
            )
    except sa.exc.SQLAlchemyError as e:  # only a note: the next request writes it again
        log.debug(kv("console.session_seen_failed", error=str(e)))


def close(app: App, token: str) -> None:
    """The session ends (logging out); an unknown token is no error."""
    with app.store.begin_write() as conn:
        conn.execute(
            console_sessions.delete().where(console_sessions.c.token_sha256 == token_hash(token))
        )
