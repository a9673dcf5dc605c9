"""One message through the pipeline (docs/mail.md#mail-in): DKIM-proven sender, every sheet to its
table, idempotency by raw bytes and by Message-ID per sender domain, the quarantine (list, show,
release, drop), crash accounting, DNS outages as temporary failures; and the same through
``ingestd import message.eml`` and ``ingestd quarantine …``.

The tests that depend on the database (claims, savepoints, row locks, versions) run on SQLite,
PostgreSQL and MariaDB (``db_url``); the rest on SQLite only."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from rig.dns import TxtServer
from rig.factories import as_json, run_ingestd
from rig.mail import (
    DOMAIN,
    PDF,
    SELECTOR,
    SENDER,
    VENDOR,
    codes,
    config_path,
    csv_deck,
    make_config,
    rate_message,
    signed,
    xlsx_deck,
    zip_of,
)
from rig.signers import SigningKey, rsa_key

import ingestd.rates.writer as writer_module
from ingestd.cli import main
from ingestd.config import load_config
from ingestd.db.clock import utcnow
from ingestd.db.tables import messages, quarantine
from ingestd.errors import UsageError
from ingestd.intake.queue import InboundQueue
from ingestd.message.outcome import MessageOutcome
from ingestd.message.pipeline import MAX_ATTEMPTS, Pipeline, TemporaryFailure
from ingestd.message.quarantine import Quarantine
from ingestd.rates.records import VersionInfo
from ingestd.rates.schema import versions
from ingestd.rates.store import Store
from ingestd.rates.timeline import in_effect_at

FAR = datetime(2100, 1, 1)
# a second table for the premium workbook: the two sheets of one message go to two tables
PREMIUM_RULE = """
[[vendors.tables]]
name = "premium"
kind = "voice"
match = { filename = "*premium*" }
"""


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key(1024)


def open_pipeline(tmp_path: Path, url: str, key: SigningKey, **config: Any) -> Pipeline:
    config.setdefault("vendor_extra", PREMIUM_RULE)
    cfg = make_config(tmp_path, db_url=url, pin=key, **config)
    store = Store(url)
    store.upgrade()
    return Pipeline(cfg, store)


@pytest.fixture
def pipe(db_url: str, tmp_path: Path, key: SigningKey) -> Iterator[Pipeline]:
    """A pipeline on each database kind; vendor acme's key pinned."""
    pipeline = open_pipeline(tmp_path, db_url, key)
    yield pipeline
    pipeline.store.close()


@pytest.fixture
def lite(sqlite_url: str, tmp_path: Path, key: SigningKey) -> Iterator[Pipeline]:
    """The same on SQLite only, for what does not depend on the database."""
    pipeline = open_pipeline(tmp_path, sqlite_url, key)
    yield pipeline
    pipeline.store.close()


def deck_mail(key: SigningKey | None, n: int = 5, **headers: str) -> bytes:
    """A message with one CSV deck of ``n`` codes, signed by ``key`` unless it is None."""
    raw = rate_message([("rates.csv", csv_deck(codes(n)))], **headers)
    return signed(raw, key) if key is not None else raw


def message_rows(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(sa.select(messages).order_by(messages.c.id)).mappings()
        ]


def message_row(store: Store, row_id: int | None) -> dict[str, Any]:
    (row,) = [r for r in message_rows(store) if r["id"] == row_id]
    return row


def version_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one()


def latest(store: Store, table: str = "default") -> VersionInfo:
    return store.versions(store.find_table(VENDOR, name=table))[-1]


def open_codes(store: Store, table: str = "default") -> set[str]:
    """The codes the latest version rates once every change took effect."""
    rows = in_effect_at(store.rows(store.find_table(VENDOR, name=table)), FAR)
    return set(rows.filter(~pl.col("discontinued"))["code"].to_list())


def held_one(pipeline: Pipeline, outcome: MessageOutcome, reason: str) -> int:
    assert outcome.status == "quarantined", outcome.as_dict()
    assert outcome.reason == reason, outcome.as_dict()
    assert outcome.exit_code == 1
    assert outcome.quarantine_id is not None
    entry = Quarantine(pipeline).get(outcome.quarantine_id)
    assert (entry.state, entry.reason, entry.message_row) == ("held", reason, outcome.row_id)
    return outcome.quarantine_id


# --- a message with two sheets ------------------------------------------------------------------


def test_a_signed_message_with_two_sheets_imports_both_with_its_proof(pipe, key):
    raw = signed(
        rate_message(
            [
                ("premium.xlsx", xlsx_deck(codes(3, price="0.2500", first=8810))),
                ("decks.zip", zip_of({"standard.csv": csv_deck(codes(4, first=3300))})),
            ]
        ),
        key,
    )
    outcome = pipe.process(raw, source="test", correlation_id="q-1")

    assert (outcome.status, outcome.exit_code, outcome.vendor) == ("imported", 0, VENDOR)
    assert (outcome.auth["status"], outcome.auth["signing_domain"]) == ("pass", DOMAIN)
    got = [
        (s["file_name"], s["format"], r["table"], r["version"], r["status"])
        for s in outcome.sheets
        for r in s["outcomes"]
    ]
    assert got == [
        ("premium.xlsx", "xlsx", "premium", 1, "imported"),
        ("decks.zip", "zip", "default", 1, "imported"),
    ]
    assert open_codes(pipe.store, "premium") == {"8810", "8811", "8812"}
    assert open_codes(pipe.store, "default") == {"3300", "3301", "3302", "3303"}
    for table in ("premium", "default"):
        version = latest(pipe.store, table)
        proof = version.summary["authentication"]["auth"]
        assert (proof["status"], proof["signing_domain"], proof["selector"], proof["from"]) == (
            "pass",
            DOMAIN,
            SELECTOR,
            SENDER,
        )
        assert "release" not in version.summary["authentication"]
        assert (version.message_id, version.sender) == ("<deck-1@acme.example>", SENDER)

    (row,) = message_rows(pipe.store)
    assert row["id"] == outcome.row_id
    assert (row["state"], row["result"], row["attempts"], row["source"]) == (
        "done",
        "imported",
        1,
        "test",
    )
    assert (row["vendor"], row["from_addr"], row["correlation_id"]) == (VENDOR, SENDER, "q-1")
    assert row["notify"] == "pending"  # the authenticated vendor gets its confirmation
    assert row["message_key"] is not None
    assert json.loads(row["outcome"])["status"] == "imported"
    assert Quarantine(pipe).list() == []


# --- idempotency --------------------------------------------------------------------------------


def test_the_same_message_again_is_a_duplicate_but_an_unsigned_copy_is_held(pipe, key):
    raw = deck_mail(key)
    first = pipe.process(raw, source="smtp")
    assert first.status == "imported"

    again = pipe.process(raw, source="imap:box")  # the same bytes, fetched another way
    assert (again.status, again.exit_code, again.duplicate_of) == ("duplicate", 0, first.row_id)
    assert version_count(pipe.store) == 1
    assert len(message_rows(pipe.store)) == 1
    assert message_row(pipe.store, first.row_id)["attempts"] == 1

    # the vendor's server re-signed a copy with another Date: other bytes, same message
    resent = deck_mail(key, date="Mon, 06 Jan 2025 11:30:00 +0000")
    assert resent != raw
    copy = pipe.process(resent, source="smtp")
    assert (copy.status, copy.duplicate_of) == ("duplicate", first.row_id)
    assert "Message-ID" in copy.message
    assert version_count(pipe.store) == 1

    # a forgery with the imported message's Message-ID must not pass for it
    forged = deck_mail(None, n=6)
    held = pipe.process(forged, source="smtp")
    held_one(pipe, held, "unsigned")
    assert held.duplicate_of is None
    assert version_count(pipe.store) == 1
    assert open_codes(pipe.store) == {c for c, _ in codes(5)}
    rows = message_rows(pipe.store)
    assert [r["state"] for r in rows] == ["done", "done", "quarantined"]
    assert rows[2]["message_key"] is None  # the forgery claims no Message-ID


def test_a_forgery_does_not_preempt_the_real_message_nor_another_domain_its_id(
    sqlite_url, key, tmp_path
):
    beta = (
        PREMIUM_RULE
        + '\n[[vendors]]\nid = "beta"\nsenders = ["rates@beta.example"]\n'
        + f'dkim_keys = {{ "{SELECTOR}._domainkey.beta.example" = "{key.record}" }}\n'
    )
    pipeline = open_pipeline(tmp_path, sqlite_url, key, vendor_extra=beta)
    try:
        forged = deck_mail(None, n=2)  # the Message-ID the vendor is about to use
        held_one(pipeline, pipeline.process(forged, source="smtp"), "unsigned")
        real = pipeline.process(deck_mail(key), source="smtp")
        assert (real.status, real.duplicate_of) == ("imported", None)
        assert open_codes(pipeline.store) == {c for c, _ in codes(5)}

        # Message-IDs are unique per sender domain only: beta's message is another message
        theirs = signed(
            rate_message(
                [("rates.csv", csv_deck(codes(3, first=4900)))],
                from_header="rates@beta.example",
            ),
            key,
            domain="beta.example",
        )
        other = pipeline.process(theirs, source="smtp")
        assert (other.status, other.vendor, other.duplicate_of) == ("imported", "beta", None)
    finally:
        pipeline.store.close()


# --- no usable sheet ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attachments", "expected"),
    [
        ([("price-list.pdf", PDF)], "price-list.pdf"),
        ([], "no attachment"),
    ],
    ids=["only-a-pdf", "no-attachment"],
)
def test_a_message_without_a_sheet_is_held_saying_what_was_skipped(
    lite, key, attachments, expected
):
    raw = signed(rate_message(attachments), key)
    outcome = lite.process(raw, source="smtp")
    qid = held_one(lite, outcome, "no_sheet")
    assert expected in outcome.message
    assert outcome.vendor == VENDOR  # authenticated: the vendor is told why
    entry = Quarantine(lite).get(qid)
    assert entry.detail == outcome.message
    assert entry.raw_path.read_bytes() == raw
    assert entry.outcome["reason"] == "no_sheet"
    row = message_row(lite.store, outcome.row_id)
    assert (row["state"], row["result"], row["notify"]) == ("quarantined", "quarantined", "pending")
    if attachments:
        assert [
            (s["path"], s["reason"]) for s in outcome.skipped if s["reason"] != "body_text"
        ] == [("price-list.pdf", "not_a_sheet")]
    assert version_count(lite.store) == 0


# --- guards and release -------------------------------------------------------------------------

DAY1, DAY2 = datetime(2025, 1, 6, 10, 0), datetime(2025, 1, 7, 10, 0)


def test_a_full_deck_dropping_most_codes_is_held_until_released(pipe, key):
    first = pipe.process(
        deck_mail(key, n=20, subject="Acme rate update"), source="smtp", received_at=DAY1
    )
    assert first.status == "imported"
    full = signed(
        rate_message(
            [("rates.csv", csv_deck(codes(2)))],
            subject="Acme A-Z deck",
            message_id="<deck-2@acme.example>",
        ),
        key,
    )
    outcome = pipe.process(full, source="smtp", received_at=DAY2)
    qid = held_one(pipe, outcome, "guard_triggered")
    assert "discontinue" in outcome.message
    (result,) = outcome.sheets[0]["outcomes"]
    assert (result["status"], result["mode"]) == ("held", "full")
    assert version_count(pipe.store) == 1
    assert len(open_codes(pipe.store)) == 20
    assert [e.id for e in Quarantine(pipe).list()] == [qid]

    released = Quarantine(pipe).release(qid)
    assert (released.status, released.exit_code, released.row_id) == ("imported", 0, outcome.row_id)
    assert version_count(pipe.store) == 2
    assert open_codes(pipe.store) == {c for c, _ in codes(2)}
    version = latest(pipe.store)
    assert (version.number, version.received_at) == (2, DAY2)
    assert version.summary["counts"]["discontinued"] == 18
    provenance = version.summary["authentication"]
    assert provenance["release"]["quarantine_id"] == qid
    assert provenance["release"]["accept_guards"] is True
    assert provenance["auth"]["status"] == "pass"

    entry = Quarantine(pipe).get(qid)
    assert (entry.state, entry.resolved_at is not None) == ("released", True)
    assert "released" in entry.resolution
    assert Quarantine(pipe).list() == []
    assert [e.id for e in Quarantine(pipe).list(all_states=True)] == [qid]
    row = message_row(pipe.store, outcome.row_id)
    assert (row["state"], row["result"]) == ("done", "imported")
    with pytest.raises(UsageError, match="released already"):
        Quarantine(pipe).release(qid)
    # the held message arriving once more is the message already processed
    assert pipe.process(full, source="smtp").status == "duplicate"
    assert version_count(pipe.store) == 2


def test_an_unsigned_message_is_released_only_when_the_failure_is_accepted(lite):
    raw = deck_mail(None, n=3)
    outcome = lite.process(raw, source="smtp")
    qid = held_one(lite, outcome, "unsigned")
    assert message_row(lite.store, outcome.row_id)["notify"] == "alert"  # no backscatter

    held = Quarantine(lite)
    with pytest.raises(UsageError, match="--accept-unauthenticated"):
        held.release(qid)
    assert held.get(qid).state == "held"
    assert version_count(lite.store) == 0

    released = held.release(qid, accept_unauthenticated=True, note="phoned Acme")
    assert (released.status, released.vendor) == ("imported", VENDOR)
    provenance = latest(lite.store).summary["authentication"]
    assert (provenance["auth"]["status"], provenance["auth"]["reason"]) == ("fail", "unsigned")
    assert provenance["release"]["quarantine_id"] == qid
    assert provenance["release"]["accept_unauthenticated"] is True
    entry = held.get(qid)
    assert (entry.state, entry.resolution) == ("released", "phoned Acme")


def test_a_stranger_is_released_only_into_a_named_vendor(lite):
    raw = deck_mail(None, n=3, from_header="Desk <desk@stranger.example>")
    outcome = lite.process(raw, source="smtp")
    qid = held_one(lite, outcome, "unknown_sender")
    assert outcome.vendor is None
    row_before = message_row(lite.store, outcome.row_id)

    held = Quarantine(lite)
    # a person's mistake, however often repeated, is no crash of the message
    for _ in range(MAX_ATTEMPTS + 1):
        with pytest.raises(UsageError, match="--vendor"):
            held.release(qid, accept_unauthenticated=True)
        assert held.get(qid).state == "held"
        row = message_row(lite.store, outcome.row_id)
        assert (row["state"], row["attempts"]) == (row_before["state"], row_before["attempts"])
    assert version_count(lite.store) == 0

    released = held.release(qid, accept_unauthenticated=True, vendor=VENDOR)
    assert (released.status, released.vendor) == ("imported", VENDOR)
    provenance = latest(lite.store).summary["authentication"]
    assert provenance["release"]["vendor"] == VENDOR
    assert provenance["auth"]["reason"] == "unknown_sender"
    assert held.get(qid).state == "released"


def test_drop_forgets_the_message_and_deletes_its_raw_file(lite):
    raw = deck_mail(None)
    outcome = lite.process(raw, source="smtp")
    qid = held_one(lite, outcome, "unsigned")
    path = Quarantine(lite).get(qid).raw_path
    assert path.read_bytes() == raw

    Quarantine(lite).drop(qid, note="spam")
    entry = Quarantine(lite).get(qid)
    assert (entry.state, entry.resolution) == ("dropped", "spam")
    assert not path.exists()
    assert message_row(lite.store, outcome.row_id)["state"] == "dropped"
    with pytest.raises(UsageError, match="dropped already"):
        Quarantine(lite).drop(qid)
    with pytest.raises(UsageError, match="dropped already"):
        Quarantine(lite).release(qid, accept_unauthenticated=True)
    # delivered again, a dropped message stays dropped
    assert lite.process(raw, source="smtp").status == "duplicate"
    assert Quarantine(lite).list() == []


def test_drop_keeps_a_raw_file_another_held_entry_still_needs(lite):
    raw = deck_mail(None)
    outcome = lite.process(raw, source="smtp")
    qid = held_one(lite, outcome, "unsigned")
    path = Quarantine(lite).get(qid).raw_path
    with lite.store.engine.begin() as conn:  # a second entry on the same file
        other = conn.execute(
            quarantine.insert().values(
                message_row=outcome.row_id,
                reason="unsigned",
                detail="x",
                raw_path=str(path),
                state="held",
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]
    Quarantine(lite).drop(qid)
    assert path.read_bytes() == raw
    Quarantine(lite).drop(other)
    assert not path.exists()


# --- crashes ------------------------------------------------------------------------------------


def test_a_message_that_keeps_crashing_is_held_with_its_last_error(pipe, key, monkeypatch):
    def crash(stage: str) -> None:
        if stage == "rows_written":
            raise RuntimeError(f"injected crash at {stage}")

    monkeypatch.setattr(writer_module, "FAULT_HOOK", crash)
    raw = deck_mail(key)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with pytest.raises(RuntimeError, match="injected crash"):
            pipe.process(raw, source="smtp")
        (row,) = message_rows(pipe.store)
        assert (row["state"], row["attempts"]) == ("processing", attempt)
        assert "Traceback" in row["last_error"]
        assert "RuntimeError: injected crash at rows_written" in row["last_error"]
    assert version_count(pipe.store) == 0

    outcome = pipe.process(raw, source="smtp")
    qid = held_one(pipe, outcome, "pipeline_crash")
    assert f"failed {MAX_ATTEMPTS} times" in outcome.message
    assert "RuntimeError: injected crash at rows_written" in outcome.message
    entry = Quarantine(pipe).get(qid)
    assert "RuntimeError: injected crash at rows_written" in entry.detail
    assert "Traceback" in entry.detail
    assert version_count(pipe.store) == 0
    (row,) = message_rows(pipe.store)
    assert (row["state"], row["attempts"]) == ("quarantined", MAX_ATTEMPTS + 1)

    # once the cause is fixed, a person lets it through
    monkeypatch.setattr(writer_module, "FAULT_HOOK", None)
    released = Quarantine(pipe).release(qid)
    assert released.status == "imported"
    assert version_count(pipe.store) == 1
    assert Quarantine(pipe).get(qid).state == "released"


CHILD = """
import os, sys
from pathlib import Path

import ingestd.rates.writer as writer_module
from ingestd.config import load_config
from ingestd.service.app import App

written = []

def die(stage):
    if stage == "rows_written":
        written.append(stage)
        if len(written) == 2:  # the second sheet: the first one is committed
            os._exit(1)

writer_module.FAULT_HOOK = die
config = load_config(Path(sys.argv[1]), env={})
with App.open(config) as app:
    app.pipeline.process(Path(sys.argv[2]).read_bytes(), source="child")
sys.exit(3)
"""


def test_a_process_killed_between_two_sheets_imports_each_exactly_once(db_url, tmp_path, key):
    cfg = config_path(tmp_path, db_url=db_url, pin=key, vendor_extra=PREMIUM_RULE)
    raw = signed(
        rate_message(
            [
                ("premium.xlsx", xlsx_deck(codes(3, price="0.2500", first=8810))),
                ("rates.csv", csv_deck(codes(4))),
            ]
        ),
        key,
    )
    (tmp_path / "message.eml").write_bytes(raw)
    (tmp_path / "child.py").write_text(CHILD, encoding="utf-8")
    store = Store(db_url)
    store.upgrade()
    try:
        child = subprocess.run(
            [sys.executable, str(tmp_path / "child.py"), str(cfg), str(tmp_path / "message.eml")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.returncode == 1, child.stderr
        (row,) = message_rows(store)
        assert (row["state"], row["attempts"]) == ("processing", 1)
        assert version_count(store) == 1  # the first sheet, committed before the death

        pipeline = Pipeline(load_config(cfg, env={}), store)
        # the dead child's lock on the message goes with its connection, once the database
        # server has noticed the connection is gone (PostgreSQL may take a moment on a busy
        # machine): until then the message is another ingestd's, as it would be for a daemon
        deadline = time.monotonic() + 60
        while True:
            outcome = pipeline.process(raw, source="smtp")
            busy = outcome.message == "another ingestd is processing this message"
            if not busy or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert outcome.status == "imported", outcome.as_dict()
        statuses = [r["status"] for s in outcome.sheets for r in s["outcomes"]]
        # the first sheet is this message's own version 1 from the killed attempt: imported
        # (not written again: still one version per table below), not a duplicate
        assert statuses == ["imported", "imported"]
        assert [r["version"] for s in outcome.sheets for r in s["outcomes"]] == [1, 1]
        (row,) = message_rows(store)
        assert (row["state"], row["attempts"]) == ("done", 2)
        assert version_count(store) == 2
        assert [v.number for v in store.versions(store.find_table(VENDOR, name="premium"))] == [1]
        assert [v.number for v in store.versions(store.find_table(VENDOR, name="default"))] == [1]
        assert open_codes(store) == {c for c, _ in codes(4)}
        assert pipeline.process(raw, source="smtp").status == "duplicate"
        assert version_count(store) == 2
    finally:
        store.close()


# --- DNS down -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns() -> Iterator[TxtServer]:
    with TxtServer() as server:
        yield server


def test_dns_down_is_a_temporary_failure_that_counts_no_attempt(dns, key, tmp_path, sqlite_url):
    dns.reset()
    cfg = make_config(tmp_path, db_url=sqlite_url, nameserver=dns.address, timeout="500ms")
    store = Store(sqlite_url)
    store.upgrade()
    try:
        pipeline = Pipeline(cfg, store)
        raw = deck_mail(key)
        dns.set_txt(f"{SELECTOR}._domainkey.{DOMAIN}", key.record)
        dns.mode = "drop"
        for _ in range(MAX_ATTEMPTS + 1):  # more outages than a crash is allowed
            with pytest.raises(TemporaryFailure, match="cannot check the sender now"):
                pipeline.process(raw, source="smtp")
            (row,) = message_rows(store)
            assert (row["state"], row["attempts"]) == ("processing", 0)
        assert any(name == f"{SELECTOR}._domainkey.{DOMAIN}" for name, _ in dns.queries)
        assert Quarantine(pipeline).list() == []
        assert version_count(store) == 0

        dns.mode = "answer"
        outcome = pipeline.process(raw, source="smtp")
        assert (outcome.status, outcome.auth["signing_domain"]) == ("imported", DOMAIN)
        (row,) = message_rows(store)
        assert (row["state"], row["attempts"]) == ("done", 1)
    finally:
        store.close()


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, key, monkeypatch, capsys):
    """``ingestd -c CONFIG …`` in-process on SQLite; returns (exit code, stdout, stderr)."""
    for name in list(os.environ):
        if name.startswith("INGESTD_"):
            monkeypatch.delenv(name)
    cfg = config_path(tmp_path, pin=key)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["-c", str(cfg), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def eml(tmp_path: Path, name: str, raw: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(raw)
    return str(path)


def test_cli_imports_a_message_and_reports_its_outcome(cli, tmp_path, key):
    good = eml(tmp_path, "good.eml", deck_mail(key))
    code, out, _ = cli("import", good, "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["status"], data["vendor"], data["from"]) == ("imported", VENDOR, SENDER)
    assert data["auth"]["signing_domain"] == DOMAIN
    assert [(r["table"], r["version"]) for s in data["sheets"] for r in s["outcomes"]] == [
        ("default", 1)
    ]

    code, out, _ = cli("import", good)  # the same message again, for people
    assert code == 0
    assert "good.eml: duplicate" in out

    other = eml(tmp_path, "other.eml", deck_mail(key, n=7, message_id="<deck-9@acme.example>"))
    code, out, _ = cli("import", other)
    assert code == 0
    assert "other.eml: imported" in out
    assert f"DKIM pass (d={DOMAIN}, s={SELECTOR})" in out
    assert "→ acme/voice/default: imported" in out

    code, out, _ = cli("import", eml(tmp_path, "bad.eml", deck_mail(None)), "--json")
    assert code == 1
    data = json.loads(out)
    assert (data["status"], data["reason"]) == ("quarantined", "unsigned")
    assert data["quarantine_id"] is not None


def test_cli_refuses_sheet_options_and_mixed_files_for_messages(cli, tmp_path, key):
    message = eml(tmp_path, "m.eml", deck_mail(key))
    sheet = tmp_path / "rates.csv"
    sheet.write_bytes(csv_deck(codes(2)))

    code, _, err = cli("import", message, "--vendor", VENDOR)
    assert code == 2
    assert "--vendor" in err
    code, _, err = cli("import", message, str(sheet), "--vendor", VENDOR)
    assert code == 2
    assert "separate commands" in err
    code, _, err = cli("import", str(sheet), message)
    assert code == 2
    assert "separate commands" in err
    # nothing was processed: the message still imports afterwards
    code, out, _ = cli("import", message, "--json")
    assert (code, json.loads(out)["status"]) == (0, "imported")


def test_cli_quarantine_list_show_release_drop(cli, tmp_path, key):
    unsigned = eml(tmp_path, "unsigned.eml", deck_mail(None, n=3))
    empty = eml(
        tmp_path,
        "empty.eml",
        signed(rate_message([("terms.pdf", PDF)], message_id="<pdf@acme.example>"), key),
    )
    spam = eml(tmp_path, "spam.eml", deck_mail(None, n=2, from_header="x@spam.example"))
    ids = {}
    for name, path in (("unsigned", unsigned), ("empty", empty), ("spam", spam)):
        code, out, _ = cli("import", path, "--json")
        assert code == 1
        ids[name] = json.loads(out)["quarantine_id"]

    code, out, _ = cli("quarantine", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [(e["id"], e["reason"], e["state"]) for e in listed] == [
        (ids["unsigned"], "unsigned", "held"),
        (ids["empty"], "no_sheet", "held"),
        (ids["spam"], "unknown_sender", "held"),
    ]
    code, out, _ = cli("quarantine", "list")
    assert code == 0
    assert "unknown_sender" in out and "x@spam.example" in out

    code, out, _ = cli("quarantine", "show", str(ids["empty"]), "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["id"], shown["reason"], shown["from"]) == (ids["empty"], "no_sheet", SENDER)
    assert "terms.pdf" in shown["detail"]
    assert Path(shown["raw_path"]).read_bytes() == Path(empty).read_bytes()
    assert shown["outcome"]["status"] == "quarantined"

    code, out, err = cli("quarantine", "show", "999")
    assert code == 2
    assert "no quarantined message 999" in err
    code, out, err = cli("quarantine", "show")
    assert code == 2
    assert "its id" in err

    code, out, err = cli("quarantine", "release", str(ids["unsigned"]))
    assert code == 2
    assert "--accept-unauthenticated" in err
    code, out, _ = cli("quarantine", "show", str(ids["unsigned"]))
    assert "held" in out and "--accept-unauthenticated" in out
    code, out, _ = cli(
        "quarantine", "release", str(ids["unsigned"]), "--accept-unauthenticated", "--json"
    )
    assert code == 0
    assert json.loads(out)["status"] == "imported"

    # a message still without a sheet is held again: released, but not imported
    code, out, _ = cli("quarantine", "release", str(ids["empty"]))
    assert code == 1
    assert "quarantined" in out and "no_sheet" in out

    code, out, _ = cli("quarantine", "drop", str(ids["spam"]))
    assert code == 0
    assert "dropped" in out
    code, out, err = cli("quarantine", "drop", str(ids["spam"]))
    assert code == 2
    assert "dropped already" in err

    code, out, _ = cli("quarantine", "list", "--all", "--json")
    states = {e["id"]: e["state"] for e in json.loads(out)}
    assert states[ids["unsigned"]] == "released"
    assert states[ids["spam"]] == "dropped"
    code, out, _ = cli("quarantine", "list", "--json")
    assert [e["reason"] for e in json.loads(out)] == ["no_sheet"]  # the one held again


def test_cli_status_counts_the_queue_and_the_quarantine(cli, tmp_path, key):
    code, out, _ = cli("status", "--json")
    before = json.loads(out)
    assert (code, before["queue"], before["quarantine_held"]) == (
        0,
        {"waiting": 0, "processing": 0},
        0,
    )
    cli("import", eml(tmp_path, "good.eml", deck_mail(key)))
    cli("import", eml(tmp_path, "bad.eml", deck_mail(None, n=2)))
    # a message waiting for the daemon, as the SMTP listener leaves it
    state_dir = load_config(config_path(tmp_path, pin=key), env={}).daemon.state_dir
    InboundQueue(state_dir / "queue").put(deck_mail(key, n=3), source="smtp")
    code, out, _ = cli("status", "--json")
    after = json.loads(out)
    assert after["queue"] == {"waiting": 1, "processing": 0}
    assert (after["quarantine_held"], after["quarantine_by_reason"]) == (1, {"unsigned": 1})
    assert after["messages"] == {"done": 1, "quarantined": 1}
    # the answers of both messages, delivered by the file transport at the end of the command
    assert set(after["outbox"]) == {"sent"} and after["outbox"]["sent"] >= 2
    code, out, _ = cli("status")
    assert "queue      1 waiting" in out
    assert "quarantine 1 held (unsigned 1)" in out
    assert "outbox     " in out and " sent" in out


def test_the_outcome_keeps_what_answering_needs_and_survives_storage(tmp_path, key):
    from ingestd.daemon import return_path

    config = make_config(tmp_path, pin=key)
    store = Store(config.database.url)
    store.upgrade()
    try:
        raw = deck_mail(key)
        outcome = Pipeline(config, store).process(raw, source="smtp", envelope_from="")
        assert (outcome.envelope_from, outcome.automated) == ("", False)
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(messages.c.outcome)).scalar_one()
        again = MessageOutcome.from_dict(json.loads(stored))
        assert again == outcome
    finally:
        store.close()
    assert return_path(b"Return-Path: <>\r\nFrom: x@y\r\n\r\nbody") == ""
    assert return_path(b"Return-Path: <Rates@Acme.Example>\r\n\r\nbody") == "rates@acme.example"
    assert return_path(b"From: x@y\r\n\r\nbody") is None


def test_a_held_message_delivered_again_goes_back_to_the_imap_quarantine_folder(tmp_path, key):
    from ingestd.daemon import Daemon
    from ingestd.intake.imap.handover import Disposition, MessageRef

    config = make_config(tmp_path, pin=key)
    Store(config.database.url).upgrade()
    daemon = Daemon(config)
    try:
        raw = deck_mail(None)  # unsigned: held
        ref = MessageRef("box", "INBOX", 1, 7)
        assert daemon.imap_handler(raw, ref) is Disposition.QUARANTINED
        # fetched again (a crash before the move): still held, not "processed"
        assert daemon.imap_handler(raw, ref) is Disposition.QUARANTINED
        assert daemon.imap_handler(deck_mail(key), ref) is Disposition.PROCESSED
    finally:
        daemon.store.close()


# --- through the real process: sheets per message, long headers, crashes -----------------------


def ingestd(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m ingestd -c CONFIG …`` in a process of its own (this checkout's code)."""
    return run_ingestd("-c", str(config), *args, env=env)


def deck_rows(url: str) -> list[dict[str, Any]]:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(versions)).mappings()]
    finally:
        store.close()


def sheets_mail(
    key: SigningKey, message_id: str, csvs: int, zipped: int, forwarded: int, *, start: int = 5000
) -> bytes:
    """A signed message with ``csvs`` CSV attachments, a ZIP of ``zipped`` CSVs and a forwarded
    message holding ``forwarded`` CSVs: every CSV a deck of its own codes, from ``start``."""
    from email import message_from_bytes, policy

    first = iter(range(start, 9_000_000, 10))
    attachments = [(f"rates-{n}.csv", csv_deck(codes(2, first=next(first)))) for n in range(csvs)]
    if zipped:
        members = {f"z{n}.csv": csv_deck(codes(2, first=next(first))) for n in range(zipped)}
        attachments.append(("more.zip", zip_of(members)))
    outer = message_from_bytes(rate_message(attachments, message_id=message_id), policy=policy.SMTP)
    if forwarded:
        inner = rate_message(
            [(f"fwd-{n}.csv", csv_deck(codes(2, first=next(first)))) for n in range(forwarded)],
            subject="the decks of last week",
            message_id=f"<inner-{message_id[1:]}",
        )
        outer.add_attachment(message_from_bytes(inner, policy=policy.SMTP))
    return signed(outer.as_bytes(policy=policy.SMTP), key)


def test_a_message_with_more_sheets_than_the_limit_is_held_whole_and_released_whole(tmp_path, key):
    config = config_path(tmp_path, pin=key)
    url = load_config(config, env={}).database.url
    limit = {"INGESTD_LIMITS_MAX_SHEETS_PER_MESSAGE": "5"}
    # 3 attachments + a ZIP of 2 + a forward holding 1: six sheets, one more than allowed
    many = tmp_path / "many.eml"
    many.write_bytes(sheets_mail(key, "<many@acme.example>", 3, 2, 1))
    done = ingestd(config, "import", str(many), "--json", **limit)
    outcome = as_json(done)
    assert (done.returncode, outcome["status"], outcome["reason"]) == (
        1,
        "quarantined",
        "too_many_sheets",
    )
    assert "more than 5 rate sheets" in outcome["message"]
    assert "max_sheets_per_message" in outcome["message"]
    assert outcome["sheets"] == []
    assert deck_rows(url) == []  # nothing imported, not the first five either

    listed = ingestd(config, "quarantine", "list", **limit)
    assert "too_many_sheets" in listed.stdout and SENDER in listed.stdout
    shown = as_json(ingestd(config, "quarantine", "show", str(outcome["quarantine_id"]), "--json"))
    assert "more than 5 rate sheets" in shown["detail"]

    # an operator who looked at it releases it: every sheet is imported, the limit stays
    done = ingestd(
        config,
        "quarantine",
        "release",
        str(outcome["quarantine_id"]),
        "--note",
        "six decks of one vendor: fine",
        "--json",
        **limit,
    )
    released = as_json(done)
    assert (done.returncode, released["status"]) == (0, "imported")
    # three CSVs, the ZIP (its two CSVs make one version) and the forward's CSV
    assert len(released["sheets"]) == 5
    versions_made = deck_rows(url)
    assert len(versions_made) == 5
    store = Store(url)
    try:
        assert len(open_codes(store)) == 12  # two codes in each of the six CSVs
    finally:
        store.close()
    release = json.loads(versions_made[0]["summary"])["authentication"]["release"]
    assert release["accept_sheet_count"] is True
    entry = as_json(ingestd(config, "quarantine", "show", str(outcome["quarantine_id"]), "--json"))
    assert (entry["state"], entry["resolution"]) == ("released", "six decks of one vendor: fine")

    # five sheets are within the limit
    five = tmp_path / "five.eml"
    five.write_bytes(sheets_mail(key, "<five@acme.example>", 2, 2, 1, start=7000))
    done = ingestd(config, "import", str(five), "--json", **limit)
    assert (done.returncode, as_json(done)["status"]) == (0, "imported")
    assert len(deck_rows(url)) == 9  # two CSVs, the ZIP, the forward's CSV


def test_five_thousand_attachments_are_held_without_reading_them(tmp_path, key):
    config = config_path(tmp_path, pin=key)
    url = load_config(config, env={}).database.url
    flood = tmp_path / "flood.eml"
    flood.write_bytes(sheets_mail(key, "<flood@acme.example>", 5000, 0, 0))
    started = time.monotonic()
    done = ingestd(config, "import", str(flood), "--json")
    took = time.monotonic() - started
    outcome = as_json(done)
    assert (done.returncode, outcome["reason"]) == (1, "too_many_sheets")
    assert outcome["message"].startswith(
        "the message holds more than 50 rate sheets (5,001 parts); the limit is 50"
    )
    assert deck_rows(url) == []
    # the 5,000 decks are not read: the MIME parse is most of it (4,571 versions took minutes)
    assert took < 60, took
    print(f"5,000 attachments held in {took:.1f} s")


def long_header_mail(key: SigningKey) -> tuple[bytes, str, str]:
    subject = "Rates " + " ".join(f"update{n}" for n in range(200))  # ~1,600 characters
    message_id = f"<{'x' * 1200}@acme.example>"
    raw = signed(
        rate_message([("rates.csv", csv_deck(codes(3)))], subject=subject, message_id=message_id),
        key,
    )
    return raw, subject, message_id


def test_a_subject_and_message_id_longer_than_their_columns_are_cut_on_every_database(
    db_url, tmp_path, key
):
    config = config_path(tmp_path, pin=key, db_url=db_url)
    assert ingestd(config, "db", "upgrade").returncode == 0
    raw, subject, message_id = long_header_mail(key)
    assert len(subject) > 998 and len(message_id) > 998
    mail = tmp_path / "long.eml"
    mail.write_bytes(raw)
    done = ingestd(config, "import", str(mail), "--json")
    assert (done.returncode, as_json(done)["status"]) == (0, "imported"), done.stderr
    (version,) = deck_rows(db_url)
    assert (version["subject"], version["message_id"]) == (subject[:998], message_id[:998])
    assert version["sender"] == SENDER and version["file_name"] == "rates.csv"
    store = Store(db_url)
    try:
        (row,) = message_rows(store)
    finally:
        store.close()
    assert (row["subject"], row["message_id"]) == (subject[:998], message_id[:998])
    # the same message again is recognised, by its bytes
    done = ingestd(config, "import", str(mail), "--json")
    assert (done.returncode, as_json(done)["status"]) == (0, "duplicate")


def test_a_message_that_keeps_failing_is_held_with_its_sender_and_subject(tmp_path, key):
    config = config_path(tmp_path, pin=key)
    url = load_config(config, env={}).database.url
    assert ingestd(config, "db", "upgrade").returncode == 0
    # a real fault: the database refuses every new version (as a full or broken disk would)
    path = sa.make_url(url).database
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON versions "
            "BEGIN SELECT RAISE(ABORT, 'the disk refused the write'); END"
        )
    mail = tmp_path / "m.eml"
    mail.write_bytes(deck_mail(key, subject="Acme weekly rates"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert ingestd(config, "import", str(mail)).returncode != 0
        store = Store(url)
        try:
            (row,) = message_rows(store)
        finally:
            store.close()
        assert (row["state"], row["attempts"]) == ("processing", attempt)
        assert "the disk refused the write" in row["last_error"]
    done = ingestd(config, "import", str(mail), "--json")
    outcome = as_json(done)
    assert (done.returncode, outcome["reason"]) == (1, "pipeline_crash")
    assert (outcome["from"], outcome["subject"]) == (SENDER, "Acme weekly rates")
    assert outcome["message_id"] == "<deck-1@acme.example>"
    listed = ingestd(config, "quarantine", "list").stdout
    (line,) = [line for line in listed.splitlines() if "pipeline_crash" in line]
    assert f"{SENDER}  Acme weekly rates" in line and "?" not in line
    shown = as_json(ingestd(config, "quarantine", "show", str(outcome["quarantine_id"]), "--json"))
    assert shown["from"] == SENDER and "the disk refused the write" in shown["detail"]


def test_a_message_the_queue_gave_up_on_is_held_with_its_envelope_sender(lite):
    # no From header: the envelope sender is who sent it
    raw = b"To: rates@carrier.example\r\nSubject: broken\r\n\r\nbody\r\n"
    outcome = lite.quarantine_crashed(
        raw,
        source="smtp",
        correlation_id="q-1",
        error="Traceback …\nRuntimeError: boom",
        envelope_from="Bounce@Acme.Example",
    )
    assert (outcome.reason, outcome.from_addr, outcome.subject) == (
        "pipeline_crash",
        "bounce@acme.example",
        "broken",
    )
    assert outcome.envelope_from == "Bounce@Acme.Example"
    (entry,) = Quarantine(lite).list()
    assert (entry.reason, entry.from_addr) == ("pipeline_crash", "bounce@acme.example")


def test_the_daemon_holds_a_message_with_too_many_sheets_received_over_smtp(
    tmp_path, dns, acme_key
):
    from rig.daemon import CSV, Setup, deck_mail, send
    from rig.signers import sign_dkimpy

    dns.reset()
    dns.set_txt("sel1._domainkey.acme.example", acme_key.record)
    setup = Setup.create(
        tmp_path, nameserver=dns.address, extra="[limits]\nmax_sheets_per_message = 10\n"
    )
    decks = [(f"rates-{n}.csv", csv_deck(codes(2, first=6000 + 10 * n)), CSV) for n in range(300)]
    raw = sign_dkimpy(
        deck_mail(*decks, message_id="<three-hundred@acme.example>"),
        acme_key,
        domain="acme.example",
        selector="sel1",
    )
    with setup.daemon() as daemon:
        send(setup.port, raw)
        daemon.wait_for(
            lambda: [m["state"] for m in setup.messages()] == ["quarantined"],
            30,
            "the message held",
        )
        assert daemon.stop() == 0
    (message,) = setup.messages()
    assert message["reason"] == "too_many_sheets"
    assert setup.versions() == []
    (held,) = setup.cli_json("quarantine", "list")
    assert (held["reason"], held["from"]) == ("too_many_sheets", "rates@acme.example")
    assert (
        "more than 10 rate sheets (301 parts)"
        in setup.cli_json("quarantine", "show", str(held["id"]))["detail"]
    )
    alerts = setup.query("SELECT purpose FROM outbox WHERE message_row = ?", message["id"])
    assert [a["purpose"] for a in alerts] == ["quarantine_alert"]


def parts_mail(key: SigningKey, message_id: str, text_parts: int, *, first: int = 5000) -> bytes:
    """A signed message holding one deck (three codes from ``first``) and ``text_parts``
    one-line text parts (written directly: the email package takes long to build 100,000)."""
    deck = rate_message([("rates.csv", csv_deck(codes(3, first=first)))], message_id=message_id)
    boundary = re.search(rb'boundary="([^"]+)"', deck).group(1)
    closing = b"--" + boundary + b"--"
    extra = b"".join(
        b"--%s\r\nContent-Type: text/plain\r\n\r\nnote %d\r\n" % (boundary, n)
        for n in range(text_parts)
    )
    return signed(deck.replace(closing, extra + closing), key)


def test_a_message_with_more_mime_parts_than_the_limit_is_held_unparsed(tmp_path, key):
    config = config_path(tmp_path, pin=key)
    url = load_config(config, env={}).database.url
    limit = {"INGESTD_LIMITS_MAX_MIME_PARTS": "100"}
    many = tmp_path / "many.eml"
    many.write_bytes(parts_mail(key, "<parts@acme.example>", 200))
    done = ingestd(config, "import", str(many), "--json", **limit)
    outcome = as_json(done)
    assert (done.returncode, outcome["status"], outcome["reason"]) == (
        1,
        "quarantined",
        "too_many_parts",
    )
    assert "more than 100 (limit)" in outcome["message"]
    assert "max_mime_parts" in outcome["message"]
    assert deck_rows(url) == []
    listed = ingestd(config, "quarantine", "list", **limit)
    assert "too_many_parts" in listed.stdout and SENDER in listed.stdout

    # released, it is read whole: its one deck is imported, the notes are no sheets
    done = ingestd(
        config, "quarantine", "release", str(outcome["quarantine_id"]), "--json", **limit
    )
    released = as_json(done)
    assert (done.returncode, released["status"], len(released["sheets"])) == (0, "imported", 1)
    assert len(deck_rows(url)) == 1

    # within the limit it is read at once
    few = tmp_path / "few.eml"
    few.write_bytes(parts_mail(key, "<few@acme.example>", 50, first=8000))
    done = ingestd(config, "import", str(few), "--json", **limit)
    assert (done.returncode, as_json(done)["status"]) == (0, "imported"), done.stdout


def test_a_forward_with_more_mime_parts_than_the_limit_is_skipped(tmp_path, key):
    from email import message_from_bytes, policy

    config = config_path(tmp_path, pin=key)
    url = load_config(config, env={}).database.url
    inner = parts_mail(key, "<inner@acme.example>", 200)
    outer = message_from_bytes(
        rate_message([("rates.csv", csv_deck(codes(2, first=7000)))]), policy=policy.SMTP
    )
    # a forward encoded in base64 (not allowed, yet sent): its parts are not lines of the
    # outer message, so they are counted when it is decoded
    outer.add_attachment(inner, maintype="message", subtype="rfc822", cte="base64")
    mail = tmp_path / "forward.eml"
    mail.write_bytes(signed(outer.as_bytes(policy=policy.SMTP), key))
    done = ingestd(config, "import", str(mail), "--json", INGESTD_LIMITS_MAX_MIME_PARTS="100")
    outcome = as_json(done)
    assert (done.returncode, outcome["status"]) == (0, "imported"), done.stdout
    assert [s["reason"] for s in outcome["skipped"] if s["reason"] == "too_many_parts"] == [
        "too_many_parts"
    ]
    assert len(deck_rows(url)) == 1


def test_a_hundred_thousand_parts_are_held_without_parsing_them(tmp_path, key):
    config = config_path(tmp_path, pin=key)
    flood = tmp_path / "flood.eml"
    flood.write_bytes(parts_mail(key, "<parts-flood@acme.example>", 100_000))
    started = time.monotonic()
    done = ingestd(config, "import", str(flood), "--json")
    took = time.monotonic() - started
    outcome = as_json(done)
    assert (done.returncode, outcome["reason"]) == (1, "too_many_parts")
    assert re.search(
        r"10\d,\d{3} MIME boundary lines, more than 10,000 \(limit\)", outcome["message"]
    ), outcome["message"]
    assert [s["reason"] for s in outcome["skipped"]] == ["too_many_parts"]  # nothing walked
    print(f"100,000 MIME parts held in {took:.1f} s")
