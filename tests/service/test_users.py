"""The web console's users and sessions through the application layer, on every database
(README "Users and the audit log")."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from ingestd.db.clock import utcnow
from ingestd.db.tables import console_sessions
from ingestd.db.tables import users as users_table
from ingestd.errors import UsageError
from ingestd.service import App, sessions, users
from ingestd.service.users import Role

SECRET = "correct horse battery"


@pytest.fixture
def app(app_on_db: App) -> App:
    return app_on_db


def stored(app: App, table: sa.Table, **where) -> list[dict]:
    q = sa.select(table).where(*[table.c[k] == v for k, v in where.items()])
    with app.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def test_a_user_is_added_and_logs_in_with_its_password_only(app):
    added = users.add(app, "alice", "operator", SECRET)
    assert (added.name, added.role, added.last_login_at) == ("alice", Role.OPERATOR, None)
    (row,) = stored(app, users_table, name="alice")
    assert row["password_hash"].startswith("$argon2id$") and SECRET not in row["password_hash"]

    assert users.authenticate(app, "alice", SECRET + "!") is None
    assert users.authenticate(app, "alice", "") is None
    assert users.authenticate(app, "bob", SECRET) is None
    assert users.authenticate(app, "ALICE", SECRET) is None  # on MariaDB's collation too
    assert users.user(app, "alice").last_login_at is None  # failures are no login
    found = users.authenticate(app, "alice", SECRET)
    assert found is not None and (found.name, found.role) == ("alice", Role.OPERATOR)
    assert found.last_login_at is not None
    assert users.user(app, "alice").last_login_at == found.last_login_at
    assert users.user(app, "alice").as_dict()["role"] == "operator"


def test_what_cannot_be_a_user_is_a_usage_error(app):
    users.add(app, "alice", "viewer", SECRET)
    for args, words in [
        (("alice", "admin", SECRET), "already a user named 'alice'"),
        (("Alice Smith", "viewer", SECRET), "not a user name"),
        (("x" * 65, "viewer", SECRET), "too long"),
        (("bob", "root", SECRET), "'root' is not a role; allowed: viewer, operator, admin"),
        (("bob", "viewer", "1234567"), "at least 8 characters"),
    ]:
        with pytest.raises(UsageError, match=words):
            users.add(app, *args)
    assert [u.name for u in users.users(app)] == ["alice"]
    for call in (users.user, users.remove):
        with pytest.raises(UsageError, match="no user named 'bob'"):
            call(app, "bob")
    with pytest.raises(UsageError, match="no user named 'bob'"):
        users.passwd(app, "bob", SECRET)
    with pytest.raises(UsageError, match="at least 8"):
        users.passwd(app, "alice", "short")
    with pytest.raises(UsageError, match="not a role"):
        users.set_role(app, "alice", "superuser")


def test_roles_include_the_ones_below():
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.ADMIN.allows(Role.VIEWER)
    assert Role.OPERATOR.allows(Role.VIEWER) and not Role.OPERATOR.allows(Role.ADMIN)
    assert Role.VIEWER.allows(Role.VIEWER) and not Role.VIEWER.allows(Role.OPERATOR)


def test_a_session_is_found_by_its_token_which_is_kept_only_as_a_hash(app):
    alice = users.add(app, "alice", "viewer", SECRET)
    token, session = sessions.open(app, alice)
    assert session.expires_at - session.created_at == sessions.LIFETIME
    (row,) = stored(app, console_sessions)
    assert token not in str(row) and row["csrf"] == session.csrf and len(session.csrf) >= 43
    found = sessions.find(app, token)
    assert found is not None and found.user.name == "alice" and found.csrf == session.csrf
    assert sessions.find(app, token + "x") is None
    other, _ = sessions.open(app, alice)  # a second browser
    sessions.close(app, token)
    assert sessions.find(app, token) is None and sessions.find(app, other) is not None
    sessions.close(app, token)  # closing twice is no error


def test_a_new_password_closes_the_users_sessions_and_only_the_new_one_works(app):
    alice = users.add(app, "alice", "operator", SECRET)
    bob = users.add(app, "bob", "operator", SECRET)
    token, _ = sessions.open(app, alice)
    bobs, _ = sessions.open(app, bob)
    users.passwd(app, "alice", "a new secret")
    assert sessions.find(app, token) is None
    assert sessions.find(app, bobs) is not None
    assert users.authenticate(app, "alice", SECRET) is None
    assert users.authenticate(app, "alice", "a new secret") is not None


def test_removing_a_user_closes_its_sessions(app):
    alice = users.add(app, "alice", "admin", SECRET)
    token, _ = sessions.open(app, alice)
    assert users.remove(app, "alice").name == "alice"
    assert sessions.find(app, token) is None and stored(app, console_sessions) == []
    assert users.users(app) == [] and users.authenticate(app, "alice", SECRET) is None


def test_a_session_of_a_user_gone_by_other_means_is_not_found(app):
    alice = users.add(app, "alice", "admin", SECRET)
    token, _ = sessions.open(app, alice)
    with app.store.begin_write() as conn:
        conn.execute(users_table.delete())
    assert stored(app, console_sessions) and sessions.find(app, token) is None


def test_an_expired_session_is_not_found_and_goes_at_the_next_login(app):
    alice = users.add(app, "alice", "viewer", SECRET)
    token, _ = sessions.open(app, alice)
    with app.store.begin_write() as conn:
        conn.execute(console_sessions.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert sessions.find(app, token) is None
    fresh, _ = sessions.open(app, alice, lifetime=timedelta(minutes=5))
    (row,) = stored(app, console_sessions)  # the expired one was deleted
    assert row["expires_at"] - row["created_at"] == timedelta(minutes=5)
    assert sessions.find(app, fresh) is not None


def test_a_role_change_applies_to_a_live_session_at_once(app):
    alice = users.add(app, "alice", "viewer", SECRET)
    token, session = sessions.open(app, alice)
    assert session.user.role is Role.VIEWER
    assert users.set_role(app, "alice", "admin").role is Role.ADMIN
    found = sessions.find(app, token)
    assert found is not None and found.user.role is Role.ADMIN
    users.set_role(app, "alice", "viewer")
    assert sessions.find(app, token).user.role is Role.VIEWER


def test_last_seen_is_written_at_most_once_a_minute(app):
    alice = users.add(app, "alice", "viewer", SECRET)
    token, _ = sessions.open(app, alice)
    long_ago = utcnow() - timedelta(seconds=50)
    with app.store.begin_write() as conn:
        conn.execute(console_sessions.update().values(last_seen_at=long_ago))
    sessions.find(app, token)
    assert stored(app, console_sessions)[0]["last_seen_at"] == long_ago
    with app.store.begin_write() as conn:
        conn.execute(console_sessions.update().values(last_seen_at=long_ago - timedelta(minutes=1)))
    sessions.find(app, token)
    for _ in range(100):  # noted aside, not in the request's own time
        if stored(app, console_sessions)[0]["last_seen_at"] >= long_ago:
            break
        time.sleep(0.05)
    assert stored(app, console_sessions)[0]["last_seen_at"] >= long_ago


def test_a_hash_made_with_weaker_parameters_is_made_again_at_login(app):
    users.add(app, "alice", "viewer", SECRET)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(SECRET)
    with app.store.begin_write() as conn:
        conn.execute(users_table.update().values(password_hash=weak))
    assert users.authenticate(app, "alice", SECRET) is not None
    (row,) = stored(app, users_table)
    assert row["password_hash"] != weak and not users.HASHER.check_needs_rehash(
        row["password_hash"]
    )
    assert users.authenticate(app, "alice", SECRET) is not None


def test_an_unknown_name_costs_a_hash_check_like_a_wrong_password(app):
    users.add(app, "alice", "viewer", SECRET)

    def median_seconds(name: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert users.authenticate(app, name, "not the password") is None
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    wrong, unknown = median_seconds("alice"), median_seconds("nobody")
    # without the check an unknown name answers in about a millisecond, 50 times faster
    assert unknown > 0.3 * wrong, (unknown, wrong)
