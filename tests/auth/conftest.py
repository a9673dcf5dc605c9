"""Fixtures of the authentication tests: a real DNS server (tests/rig/dns.py), DKIM keys made
once per module (tests/rig/signers.py) and configurations loaded from TOML like the daemon's.

tests/auth has an ``__init__.py`` although the other test folders do not: without it this file
would be imported as the top-level module ``conftest`` and replace tests/conftest.py in
``sys.modules``, breaking every ``from conftest import missing`` collected after it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rig.dns import TxtServer
from rig.signers import SigningKey, ed25519_key, rsa_key

from ingestd.config import Config, load_config


@dataclass(frozen=True)
class Keys:
    rsa2048: SigningKey  # the vendor's usual key: its TXT record needs two 255-byte strings
    rsa1024: SigningKey  # the smallest size accepted
    rsa512: SigningKey  # too small (RFC 8301)
    ed25519: SigningKey
    other: SigningKey  # somebody else's key: for evil.example and for wrong pins


@pytest.fixture(scope="module")
def keys() -> Keys:
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
