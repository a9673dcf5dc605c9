"""Multi-instance (docs/operations.md#running-as-a-service): two real daemons (``python -m ingestd
run``), each with its own state folder (queue) and SMTP port, share one PostgreSQL database.  A
concurrent burst of DKIM-signed decks, split between them and partly sent to both, is imported
exactly once: one ``messages`` row and one version per message, versions of the shared table
numbered without gaps or repeats, one confirmation per message, and empty queues after a clean stop.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN, _server_database
from rig.daemon import VENDOR_SENDER, Setup, az_deck, deck_mail, send
from rig.dns import TxtServer
from rig.signers import rsa_key, sign_dkimpy

pytestmark = pytest.mark.postgresql

SPLIT = 50  # messages sent to one daemon or the other
SHARED = 10  # messages sent to both
TIMEOUT = 45.0  # seconds from the last 250 until everything must be imported


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards (skipped, or failed under CI, if the
    server is unreachable)."""
    yield from _server_database(PG_ADMIN, "PostgreSQL")


def _rows(engine: sa.Engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]


def test_two_daemons_sharing_postgresql_import_every_message_exactly_once(
    tmp_path: Path, pg_url: str
):
    key = rsa_key(2048)
    # ---- mails: 60 distinct messages, each with its own small deck for acme's "default" ----
    decks = []  # (raw message, sha256 of its sheet)
    for i in range(SPLIT + SHARED):
        name, data, mime = az_deck(
            ("44", "UK", f"0.{1000 + i}"), (f"33{i}", f"France {i}", f"0.{2000 + i}")
        )
        raw = deck_mail((name, data, mime), message_id=f"<burst-{i}@acme.example>")
        decks.append((sign_dkimpy(raw, key, domain="acme.example", selector="sel1"), data))
    assert len({hashlib.sha256(d).hexdigest() for _, d in decks}) == len(decks)

    with TxtServer({"sel1._domainkey.acme.example": key.record}) as dns:
        setups = []
        for name in ("a", "b"):  # own state folder (queue) and SMTP port, the same database
            (tmp_path / name).mkdir()
            setups.append(
                Setup.create(tmp_path / name, nameserver=dns.address, database_url=pg_url)
            )
        upgrade = setups[0].cli("db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr

        engine = sa.create_engine(pg_url)
        try:
            a, b = setups
            with a.daemon() as da, b.daemon() as db:
                sends = [(setups[i % 2].port, raw) for i, (raw, _) in enumerate(decks[:SPLIT])]
                sends += [(s.port, raw) for raw, _ in decks[SPLIT:] for s in setups]
                with ThreadPoolExecutor(max_workers=20) as pool:
                    list(pool.map(lambda job: send(*job), sends))

                def settled() -> bool:
                    n = _rows(
                        engine,
                        "SELECT count(*) AS n FROM messages WHERE state <> 'processing'",
                    )[0]["n"]
                    return n >= len(decks) and not a.queued() and not b.queued()

                try:
                    da.wait_for(settled, TIMEOUT, f"{len(decks)} finished messages, empty queues")
                except AssertionError as e:
                    raise AssertionError(f"{e}\n--- daemon b:\n{db.log_text()}") from None

                assert da.stop() == 0, da.log_text()
                assert db.stop() == 0, db.log_text()
            for d in (da, db):
                assert "level=error" not in d.log_text(tail=10**8), d.log_text()
            assert a.queued() == [] and b.queued() == []

            # ---- one messages row per distinct raw message, each imported ----
            msgs = _rows(engine, "SELECT * FROM messages ORDER BY id")
            expected = {hashlib.sha256(raw).hexdigest() for raw, _ in decks}
            assert len(msgs) == len(decks)
            assert {m["raw_sha256"] for m in msgs} == expected
            bad = [
                (m["id"], m["message_id"], m["state"], m["result"], m["attempts"], m["last_error"])
                for m in msgs
                # no attempt crashed: neither the other daemon's work in progress nor a table
                # both created at once may count as a failure
                if (m["state"], m["result"], m["attempts"], m["last_error"])
                != ("done", "imported", 1, None)
            ]
            assert bad == [], bad
            assert Counter(m["message_id"] for m in msgs) == Counter(
                f"<burst-{i}@acme.example>" for i in range(len(decks))
            )

            # ---- versions of acme/voice/default: 1..60, one per deck ----
            versions = _rows(
                engine,
                "SELECT v.number, v.file_hash, v.message_id, t.current_version "
                "FROM versions v JOIN rate_tables t ON t.id = v.table_id "
                "WHERE t.vendor = 'acme' AND t.kind = 'voice' AND t.name = 'default' "
                "ORDER BY v.number",
            )
            assert [v["number"] for v in versions] == list(range(1, len(decks) + 1))
            assert versions[-1]["current_version"] == len(decks)
            assert Counter(v["file_hash"] for v in versions) == Counter(
                hashlib.sha256(data).hexdigest() for _, data in decks
            )
            others = _rows(
                engine,
                "SELECT count(*) AS n FROM versions v JOIN rate_tables t ON t.id = v.table_id "
                "WHERE NOT (t.vendor = 'acme' AND t.kind = 'voice' AND t.name = 'default')",
            )
            assert others[0]["n"] == 0

            # ---- the outbox: exactly one confirmation per message, to the vendor ----
            confirmations = _rows(
                engine,
                "SELECT message_row, recipients FROM outbox WHERE purpose = 'confirmation'",
            )
            per_message = Counter(c["message_row"] for c in confirmations)
            assert per_message == Counter({m["id"]: 1 for m in msgs})
            assert all(json.loads(c["recipients"]) == [VENDOR_SENDER] for c in confirmations)
        finally:
            engine.dispose()
