"""Fixtures of the webhook tests: receivers that verify with the Standard Webhooks library, and
an app whose configuration lists them.

tests/webhooks has an ``__init__.py`` for the reason tests/service/conftest.py gives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rig.mail import make_config
from rig.receiver import Receiver
from rig.signers import SigningKey, rsa_key

from ingestd.service import App, status
from ingestd.service.webhooks import new_secret


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (several daemons share one)."""
    from conftest import PG_ADMIN, _server_database

    yield from _server_database(PG_ADMIN, "PostgreSQL")


@pytest.fixture(scope="session")
def key() -> SigningKey:
    return rsa_key(1024)


def receiver_toml(tmp_path: Path, receiver: Receiver, secret: str, extra: str = "") -> str:
    secret_file = tmp_path / f"secret-{receiver.port}"
    secret_file.write_text(secret + "\n", encoding="utf-8")
    return f'\n[[webhooks]]\nurl = "{receiver.url}"\nsecret_file = "{secret_file}"\n{extra}\n'


@pytest.fixture
def receivers() -> Iterator[Callable[..., tuple[Receiver, str]]]:
    """Make a running receiver with a new secret: ``receivers(answers=[500, 200])``."""
    made: list[Receiver] = []

    def make(**kwargs) -> tuple[Receiver, str]:
        secret = new_secret()
        receiver = Receiver(secret, **kwargs)
        receiver.up()
        made.append(receiver)
        return receiver, secret

    yield make
    for receiver in made:
        receiver.down()


def open_app(tmp_path: Path, db_url: str, tables: str, pin: SigningKey | None = None, **kw):
    config = make_config(tmp_path, db_url=db_url, tables=tables, pin=pin, **kw)
    opened = App.open(config, schema=False, deliver=False)
    app = opened.__enter__()
    status.upgrade_schema(app)
    return app, opened
