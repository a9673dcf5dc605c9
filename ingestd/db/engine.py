"""The database engine and its schema: one ``Database`` per configured URL (SQLite, PostgreSQL
or MariaDB), migrated by Alembic (docs/operations.md "Database")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from ingestd.errors import UsageError

# The newest migration in ingestd/db/migrations/versions: the schema this code reads and writes
# (a test holds it equal to Alembic's head).
SCHEMA_REVISION = "0009"


def _ensure_sqlite_dir(url: sa.URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _bind_null(_value: None) -> None:
    return None


def make_engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # None is bound as NULL either way; registered, the sqlite3 module finds its adapter at
        # once instead of probing None for adaptation protocols first, which is most of the
        # cost of an empty cell in a million-row insert (docs/performance.md#targets)
        sqlite3.register_adapter(type(None), _bind_null)
        _ensure_sqlite_dir(parsed)
        engine = sa.create_engine(parsed, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # let SQLAlchemy's begin event own transactions, so BEGIN IMMEDIATE can be issued
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # statement journals (a multi-row INSERT keeps the pages it changes, to undo just
            # itself) in memory instead of a temporary file: a tenth of a second of system
            # calls in a 1% re-import of a million rows
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # writers take the write lock at the start, so imports are serialized; readers
            # (WAL) never wait for them
            write = conn.get_execution_options().get("ingestd_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # a server that drops packets must not hang the worker on connect: the daemon's health
    # check and retries only work if a connection attempt ends (the URL's own value wins)
    connect_args = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


# Seconds a PostgreSQL connection attempt may take (libpq's connect_timeout).
CONNECT_TIMEOUT = 10


class Database:
    """One database of ingestd: its engine and its schema's migrations."""

    def __init__(self, url: str, *, engine: Engine | None = None):
        self.url = url
        self.engine = engine or make_engine(url)
        self.dialect = self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # --- schema ----------------------------------------------------------------------------

    def _alembic_config(self, connection: Connection):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        cfg.attributes["connection"] = connection
        return cfg

    def upgrade(self) -> tuple[str | None, str | None]:
        """Apply the schema migrations; returns (revision before, revision after)."""
        from alembic import command

        before = self.revision()
        with self.engine.begin() as conn:
            command.upgrade(self._alembic_config(conn), "head")
        return before, self.revision()

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def stamped_revision(self) -> str | None:
        """The revision Alembic recorded, read directly (None when there is none yet)."""
        try:
            with self.engine.connect() as conn:
                found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except sa.exc.DBAPIError:
            return None
        return found[0][0] if len(found) == 1 else None

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        with self.engine.connect() as conn:
            return ScriptDirectory.from_config(self._alembic_config(conn)).get_current_head()

    def require_schema(self, *, auto_upgrade: bool) -> None:
        """Make sure the schema is current: upgrade (embedded SQLite) or say what to run.
        A database at SCHEMA_REVISION is read with one query, without loading Alembic (a
        fifth of a second at every start of the command)."""
        if self.stamped_revision() == SCHEMA_REVISION or self.revision() == self.head_revision():
            return
        if auto_upgrade:
            self.upgrade()
            return
        raise UsageError(
            f"the database schema is not current (at {self.revision() or 'none'}, "
            f"needs {self.head_revision()}): run `ingestd db upgrade`"
        )

    def begin_write(self):
        """``engine.begin()`` for a transaction that writes. On SQLite it takes the write lock
        at BEGIN (IMMEDIATE): a deferred transaction that reads, then writes after another
        connection committed, fails at once with "database is locked" (a WAL snapshot cannot
        be upgraded, so the busy timeout does not help); IMMEDIATE waits its turn instead."""
        return self.engine.execution_options(ingestd_write=True).begin()
