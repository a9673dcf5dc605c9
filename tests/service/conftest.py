"""Fixtures of the application layer's tests: a configuration loaded from TOML like the
daemon's (vendor acme, its DKIM key pinned, outgoing mail into a folder) on a real SQLite
database, and the app opened on it.

tests/service has an ``__init__.py`` (as tests/auth does): without it this file would replace
tests/conftest.py as the top-level module ``conftest``, and its test modules would clash with
same-named ones elsewhere (tests/mail/test_outbox.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from rig.mail import make_config
from rig.signers import SigningKey, rsa_key

from ingestd.config import Config
from ingestd.service import App, status

RECEIVED = datetime(2025, 1, 6, 10, 0, 0)


def csv_deck(*rows: tuple[str, str]) -> bytes:
    """A deck without dates (its rates in effect from when it was received)."""
    lines = ["Destination,Prefix,Rate"] + [f"Dest {code},{code},{price}" for code, price in rows]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


@pytest.fixture(scope="session")
def key() -> SigningKey:
    """Vendor acme's DKIM key (pinned in the configuration: no DNS)."""
    return rsa_key(1024)


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str, key: SigningKey) -> Config:
    return make_config(tmp_path, db_url=sqlite_url, pin=key)


@pytest.fixture
def app(config: Config) -> Iterator[App]:
    with App.open(config, deliver=False) as opened:
        yield opened


@pytest.fixture
def app_on_db(tmp_path: Path, db_url: str) -> Iterator[App]:
    """The app on a fresh database of each kind (``db_url``), its schema made current, for the
    operations whose own tables must work on all three."""
    with App.open(make_config(tmp_path, db_url=db_url), schema=False) as opened:
        status.upgrade_schema(opened)  # PostgreSQL and MariaDB are upgraded by a person
        yield opened
