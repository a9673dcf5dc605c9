"""Fixtures of the HTTP tests: the real server (uvicorn) on a free port over a configuration
loaded from TOML (vendor acme, SQLite), and keys of every scope made as ``ingestd apikey``
makes them.

tests/web has an ``__init__.py`` for the reason tests/service/conftest.py gives."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from rig.http import Served
from rig.mail import make_config

from ingestd.service import apikeys

HTTP = 'listen = "127.0.0.1:0"\nrate_limit = 0\nmax_body_size = "1MB"'


@dataclass
class Api:
    served: Served
    tokens: dict[str, str]

    @property
    def app(self):
        return self.served.app

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[key]}"} if key else {}
        return httpx.Client(base_url=self.served.url, headers=headers, timeout=30)

    def key(self, name: str, scope: str, vendor: str | None = None) -> str:
        _, token = apikeys.create(self.app, name, scope, vendor=vendor)
        self.tokens[name] = token
        return token


def serve(tmp_path: Path, db_url: str, http: str = HTTP) -> Iterator[Api]:
    config = make_config(tmp_path, db_url=db_url, http=http)
    with Served(config) as served:
        api = Api(served, {})
        api.key("reader", "read")
        api.key("acme-upload", "upload", vendor="acme")
        api.key("admin", "admin")
        yield api


@pytest.fixture
def api(tmp_path: Path, sqlite_url: str) -> Iterator[Api]:
    """The server on SQLite with keys ``reader``, ``acme-upload`` (vendor acme) and ``admin``."""
    yield from serve(tmp_path, sqlite_url)
