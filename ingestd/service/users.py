"""The web console's users (README "Users and the audit log"): a name, a role, and a password
kept as an argon2 hash; added, given a new password or role and removed with ``ingestd user``,
checked when a person logs in.

A new password or a removal closes the user's console sessions (``service.sessions``) in the
same transaction, so a stolen session does not outlive the change."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from ingestd.config import name_problem
from ingestd.db.clock import utcnow
from ingestd.db.tables import console_sessions
from ingestd.db.tables import users as users_table
from ingestd.errors import UsageError
from ingestd.rates.model import iso
from ingestd.service.app import App

MIN_PASSWORD = 8  # characters

# argon2id with the library's defaults (RFC 9106's second recommended option); a hash made
# with weaker parameters is made again at the next login
HASHER = PasswordHasher()


class Role(StrEnum):
    """What a user may do in the console: a ``viewer`` reads, an ``operator`` also releases,
    drops and retries, an ``admin`` also manages users."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, wanted: Role) -> bool:
        return _RANK[self] >= _RANK[wanted]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> User:
        """The user a ``users`` row holds."""
        return cls(
            name=row["name"],
            role=Role(row["role"]),
            created_at=row["created_at"],
            last_login_at=row["last_login_at"],
        )

    @property
    def label(self) -> str:
        """How the audit log names the user."""
        return f"user {self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": str(self.role),
            "created_at": iso(self.created_at),
            "last_login_at": iso(self.last_login_at),
        }


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise UsageError(f"{text!r} is not a role; allowed: {allowed}") from None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"a password has at least {MIN_PASSWORD} characters")


def add(app: App, name: str, role: str, password: str) -> User:
    """A new user; a name taken already, a name no vendor id could have, an unknown role or a
    short password is a usage error."""
    if problem := name_problem(name, "a user name"):
        raise UsageError(problem)
    role = _role(role)
    _check_password(password)
    password_hash = HASHER.hash(password)
    now = utcnow()
    with app.store.begin_write() as conn:
        if _row(conn, name) is not None:
            raise UsageError(f"there is already a user named {name!r}")
        conn.execute(
            users_table.insert().values(
                name=name,
                role=str(role),
                password_hash=password_hash,
                created_at=now,
                password_changed_at=now,
            )
        )
    return user(app, name)


def passwd(app: App, name: str, password: str) -> User:
    """A new password for ``name``; the user's console sessions are closed."""
    _check_password(password)
    password_hash = HASHER.hash(password)
    with app.store.begin_write() as conn:
        found = _existing(conn, name)
        conn.execute(
            users_table.update()
            .where(users_table.c.name == name)
            .values(password_hash=password_hash, password_changed_at=utcnow())
        )
        _close_sessions(conn, name)
    return found


def set_role(app: App, name: str, role: str) -> User:
    """Another role for ``name``; its open console sessions have it from their next request."""
    role = _role(role)
    with app.store.begin_write() as conn:
        _existing(conn, name)
        conn.execute(users_table.update().where(users_table.c.name == name).values(role=str(role)))
    return user(app, name)


def remove(app: App, name: str) -> User:
    """The user is gone, and its console sessions with it; returns the user as it was."""
    with app.store.begin_write() as conn:
        found = _existing(conn, name)
        conn.execute(users_table.delete().where(users_table.c.name == name))
        _close_sessions(conn, name)
    return found


def users(app: App) -> list[User]:
    """Every user, by name."""
    with app.store.engine.connect() as conn:
        rows = conn.execute(sa.select(users_table).order_by(users_table.c.name)).mappings()
        return [User.from_row(r) for r in rows]


def user(app: App, name: str) -> User:
    """One user; an unknown name is a usage error."""
    with app.store.engine.connect() as conn:
        return _existing(conn, name)


def authenticate(app: App, name: str, password: str) -> User | None:
    """The user whose name and password these are, its login noted; else None.  An unknown
    name costs the same hash check as a wrong password, so the time taken does not tell which
    names exist."""
    row = None
    if name_problem(name) is None:  # no user has such a name (nor "ALICE" on MariaDB's collation)
        with app.store.engine.connect() as conn:
            row = _row(conn, name)
    if row is None:
        _verify(_dummy_hash(), password)
        return None
    if not _verify(row["password_hash"], password):
        return None
    values: dict[str, Any] = {"last_login_at": utcnow()}
    if HASHER.check_needs_rehash(row["password_hash"]):
        values["password_hash"] = HASHER.hash(password)
    with app.store.begin_write() as conn:
        # the hash compared too: a password changed meanwhile is not overwritten
        conn.execute(
            users_table.update()
            .where(
                users_table.c.name == name,
                users_table.c.password_hash == row["password_hash"],
            )
            .values(**values)
        )
    return User.from_row({**row, "last_login_at": values["last_login_at"]})


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password made with the same parameters as the users' own."""
    return HASHER.hash(secrets.token_urlsafe(16))


def _row(conn: Connection, name: str) -> Any:
    q = sa.select(users_table).where(users_table.c.name == name)
    return conn.execute(q).mappings().first()


def _existing(conn: Connection, name: str) -> User:
    row = _row(conn, name)
    if row is None:
        raise UsageError(f"there is no user named {name!r} (see `ingestd user list`)")
    return User.from_row(row)


def _close_sessions(conn: Connection, name: str) -> None:
    conn.execute(console_sessions.delete().where(console_sessions.c.user_name == name))
