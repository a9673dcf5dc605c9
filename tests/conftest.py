"""Shared fixtures: real databases (SQLite always; PostgreSQL and MariaDB over real connections,
docs/testing.md#real-components), a real Dovecot, a real DNS server with DKIM keys, and the rule
that a missing component skips on a laptop but fails in CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from hypothesis import settings
from rig.dns import TxtServer
from rig.dovecot import Dovecot, dovecot_problem

from ingestd.config import Config, load_config

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


SYSTEM = ROOT / "tests" / "system"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/system/ (the daemon, the CLI and real peers end to end, attacks,
    faults, fuzzing) is marked ``system``, so ``-m "not system"`` runs the fast part."""
    for item in items:
        if item.path.is_relative_to(SYSTEM):
            item.add_marker(pytest.mark.system)


@pytest.fixture(autouse=True)
def _own_working_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Every test runs in an empty folder of its own, so that a relative path — the default
    ``state_dir = "var"`` of a configuration that names none, with its sheet cache — never lands
    in the checkout, where other tests (other xdist workers, later runs) would find it
    (docs/testing.md#running-the-tests-in-parallel). Paths of the checkout are taken from
    ``ROOT``; child processes that need it as their folder are given ``cwd=ROOT``."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def missing(what: str) -> None:
    """Skip on a developer's machine; fail under CI=true (docs/testing.md#real-components)."""
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
    """A real Dovecot (docs/testing.md#real-components) on free ports in its own folder, stopped by
    PID. Parametrize indirectly with a dict of ``Dovecot`` arguments (e.g. ``{"layout":
    "dot"}``)."""
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


# --- the authentication tests (tests/auth, tests/system/test_attacks_dkim.py): a real DNS server
# (tests/rig/dns.py), DKIM keys made once per module (tests/rig/signers.py) and configurations
# loaded from TOML like the daemon's


@dataclass(frozen=True)
class Keys:
    rsa2048: SigningKey  # the vendor's usual key: its TXT record needs two 255-byte strings
    rsa1024: SigningKey  # the smallest size accepted
    rsa512: SigningKey  # too small (RFC 8301)
    ed25519: SigningKey
    other: SigningKey  # somebody else's key: for evil.example and for wrong pins


@pytest.fixture(scope="module")
def keys() -> Keys:
    from rig.signers import ed25519_key, rsa_key

    return Keys(rsa_key(2048), rsa_key(1024), rsa_key(512), ed25519_key(), rsa_key(1024))


@pytest.fixture(scope="module")
def _module_dns_server() -> Iterator[TxtServer]:
    with TxtServer() as server:
        yield server


@pytest.fixture
def dns_server(_module_dns_server: TxtServer) -> TxtServer:
    """The module's DNS server, emptied and answering again for each test."""
    _module_dns_server.reset()
    return _module_dns_server


def publish(server: TxtServer, selector: str, domain: str, key: SigningKey) -> None:
    server.set_txt(f"{selector}._domainkey.{domain}", key.record)


# The vendors of the tests: acme aligns by organizational domain (no dkim_domains), beta signs
# through a mailing service it names, coop sits under a public suffix (co.uk).
VENDORS = """
[[vendors]]
id = "acme"
name = "Acme Voice Wholesale"
senders = ["rates@acme.example", "@mail.acme.example"]
{acme_extra}

[[vendors]]
id = "beta"
senders = ["@beta.example"]
dkim_domains = ["esp-mailer.example"]

[[vendors]]
id = "coop"
senders = ["rates@coop.co.uk"]
"""

MakeConfig = Callable[..., Config]


@pytest.fixture
def make_config(tmp_path: Path, dns_server: TxtServer) -> MakeConfig:
    """A Config read from a TOML file, its [dns] pointing at the test DNS server.

    ``acme_extra``: more TOML lines for vendor acme (dkim_domains, dkim_keys); ``dns_extra``:
    more lines of [dns] (budget, max_signatures)."""

    def make(
        *,
        acme_extra: str = "",
        timeout: str = "2s",
        nameserver: str | None = None,
        dns_extra: str = "",
    ) -> Config:
        text = (
            f'[daemon]\nstate_dir = "{tmp_path / "var"}"\n\n'
            f'[dns]\nnameservers = ["{nameserver or dns_server.address}"]\n'
            f'timeout = "{timeout}"\n{dns_extra}\n' + VENDORS.format(acme_extra=acme_extra)
        )
        path = tmp_path / "ingestd.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path, env={})

    return make
