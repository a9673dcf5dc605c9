"""The HTTP API's keys (docs/http.md#keys): made with a scope, shown once, kept as a hash,
revoked by name.

A token is ``ingestd_`` and 43 URL-safe characters (32 random bytes).  Only its SHA-256 is
stored: a key cannot be read back from the database, and a request finds its key with one
lookup of the hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from ingestd.config import name_problem
from ingestd.db.clock import utcnow
from ingestd.db.tables import api_keys
from ingestd.errors import RefusedError, UsageError
from ingestd.rates.model import iso
from ingestd.service.app import App

TOKEN_PREFIX = "ingestd_"
# how much of a token lists show, enough to tell keys apart and nothing to guess with
SHOWN = len(TOKEN_PREFIX) + 4


class Scope(StrEnum):
    """What a key may do: ``read`` the tables, messages and quarantine; ``upload`` decks of its
    one vendor; ``admin`` everything, uploads for any vendor and quarantine decisions."""

    READ = "read"
    UPLOAD = "upload"
    ADMIN = "admin"

    def allows(self, wanted: Scope) -> bool:
        return self is Scope.ADMIN or self is wanted


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    scope: Scope
    vendor: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def label(self) -> str:
        """How provenance and logs name the key."""
        return f"api key {self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scope": str(self.scope),
            "vendor": self.vendor,
            "prefix": self.prefix,
            "created_at": iso(self.created_at),
            "last_used_at": iso(self.last_used_at),
            "revoked_at": iso(self.revoked_at),
        }


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        scope=Scope(row["scope"]),
        vendor=row["vendor"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def create(app: App, name: str, scope: str, *, vendor: str | None = None) -> tuple[ApiKey, str]:
    """A new key and its token (shown to the person once, never stored).  An upload key names
    its one vendor; read and admin keys name none."""
    problem = name_problem(name, "a key name")
    if problem:
        raise UsageError(problem)
    try:
        scope = Scope(scope)
    except ValueError:
        raise UsageError(
            f"{scope!r} is not a scope; allowed: {', '.join(s.value for s in Scope)}"
        ) from None
    if scope is Scope.UPLOAD and vendor is None:
        raise UsageError("an upload key is bound to one vendor: name it with --vendor")
    if scope is not Scope.UPLOAD and vendor is not None:
        raise UsageError(f"a {scope} key is not bound to a vendor: --vendor goes with upload keys")
    if vendor is not None and (problem := name_problem(vendor, "a vendor id")):
        raise UsageError(problem)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {
        "name": name,
        "scope": str(scope),
        "vendor": vendor,
        "token_sha256": token_hash(token),
        "prefix": token[:SHOWN],
        "created_at": utcnow(),
    }
    with app.store.engine.begin() as conn:
        if conn.execute(sa.select(api_keys.c.id).where(api_keys.c.name == name)).first():
            raise UsageError(f"there is already a key named {name!r}")
        conn.execute(api_keys.insert().values(**row))
    return key(app, name), token


def keys(app: App, *, revoked: bool = False) -> list[ApiKey]:
    """The keys by name; revoked ones only when asked for."""
    q = sa.select(api_keys).order_by(api_keys.c.name)
    if not revoked:
        q = q.where(api_keys.c.revoked_at.is_(None))
    with app.store.engine.connect() as conn:
        return [_key(r) for r in conn.execute(q).mappings()]


def key(app: App, name: str) -> ApiKey:
    with app.store.engine.connect() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.name == name)).mappings().first()
    if row is None:
        raise RefusedError("no_key", f"there is no key named {name!r}")
    return _key(row)


def revoke(app: App, name: str) -> ApiKey:
    """The key stops working at once (its row stays, so lists and provenance still name it)."""
    found = key(app, name)
    if found.revoked_at is None:
        with app.store.engine.begin() as conn:
            conn.execute(
                api_keys.update().where(api_keys.c.id == found.id).values(revoked_at=utcnow())
            )
    return key(app, name)


def authenticate(app: App, token: str) -> ApiKey | None:
    """The live key of a presented token, or None; its last use is noted (to the minute, so a
    busy client does not write on every request)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with app.store.engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(api_keys).where(
                    api_keys.c.token_sha256 == token_hash(token), api_keys.c.revoked_at.is_(None)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    found = _key(row)
    now = utcnow()
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() >= 60:
        with app.store.engine.begin() as conn:
            conn.execute(
                api_keys.update().where(api_keys.c.id == found.id).values(last_used_at=now)
            )
    return found
