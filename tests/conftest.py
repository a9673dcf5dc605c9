"""Shared fixtures: real databases (SQLite always; PostgreSQL and MariaDB over real connections,
SPEC §9), a real Dovecot, and the rule that a missing component skips on a laptop but fails in
CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from hypothesis import settings
from rig.dns import TxtServer
from rig.dovecot import Dovecot, dovecot_problem

if TYPE_CHECKING:
    from rig.signers import SigningKey

# property tests assert behaviour, not speed (README "Performance" measures that): no deadline,
# so a loaded machine never fails an example that merely ran slowly
settings.register_profile("ingestd", deadline=None)
settings.load_profile("ingestd")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

PG_ADMIN = os.environ.get(
    "INGESTD_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_ADMIN = os.environ.get("INGESTD_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")


def missing(what: str) -> None:
    """Skip on a developer's machine; fail under CI=true (SPEC §9)."""
    if IN_CI:
        pytest.fail(f"{what} (required under CI=true)")
    pytest.skip(what)


def _server_database(admin_url: str, label: str) -> Iterator[str]:
    """A fresh database on a running server, dropped afterwards."""
    name = f"ingestd_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as e:
        missing(f"{label} is not reachable at {admin_url}: {e}")
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ingestd.db'}"
    elif request.param == "postgresql":
        yield from _server_database(PG_ADMIN, "PostgreSQL")
    else:
        yield from _server_database(MARIADB_ADMIN, "MariaDB")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ingestd.db'}"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        missing(f"the shared corpus is not at {CORPUS}")
    return CORPUS


@pytest.fixture
def dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """A real Dovecot (SPEC §9) on free ports in its own folder, stopped by PID. Parametrize
    indirectly with a dict of ``Dovecot`` arguments (e.g. ``{"layout": "dot"}``)."""
    problem = dovecot_problem()
    if problem is not None:
        missing(problem)
    server = Dovecot(**getattr(request, "param", {}))
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def acme_key() -> SigningKey:
    """Vendor acme's DKIM key (selector sel1), for the tests that run the daemon."""
    from rig.signers import rsa_key  # it takes ``missing`` from this module

    return rsa_key(2048)


@pytest.fixture(scope="module")
def dns(acme_key: SigningKey) -> Iterator[TxtServer]:
    """A DNS server publishing acme's key; modules with keys of their own define their own."""
    with TxtServer() as server:
        server.set_txt("sel1._domainkey.acme.example", acme_key.record)
        yield server
