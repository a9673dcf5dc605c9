"""Webhooks to real receivers that verify every request with the Standard Webhooks library
(docs/http.md#webhooks): the events of imports and messages, retries with the same id, a
receiver that is down, the day's limit, filters, several daemons on one database."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from rig.mail import rate_message, signed

from ingestd.db.clock import utcnow
from ingestd.service import audit, decks, messages, webhooks

from .conftest import open_app, receiver_toml

EFFECTIVE = (date.today() - timedelta(days=3)).isoformat()


def deck(*rows: tuple[str, str]) -> bytes:
    lines = ["Destination,Prefix,Rate,Effective Date"]
    lines += [f"Dest {code},{code},{price},{EFFECTIVE}" for code, price in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture
def setup(tmp_path, sqlite_url, receivers):
    """One receiver of every event; returns (app, receiver)."""
    receiver, secret = receivers()
    app, opened = open_app(tmp_path, sqlite_url, receiver_toml(tmp_path, receiver, secret))
    yield app, receiver
    opened.__exit__(None, None, None)


def test_an_import_is_told_as_version_created_and_rates_changed(setup):
    app, receiver = setup
    decks.import_deck(app, "acme", deck(("4420", "0.0100"), ("4421", "0.0200")),
                      file_name="v1.csv", mode="full")  # fmt: skip
    decks.import_deck(app, "acme", deck(("4420", "0.0050"), ("4421", "0.0200"), ("4422", "0.03")),
                      file_name="v2.csv", mode="full")  # fmt: skip
    assert receiver.requests == []  # stored, not sent, by the import
    run = app.webhooks.deliver_due()
    assert len(run.sent) == 4 and not run.retried
    events = receiver.events
    assert [(e["type"], e["data"]["version"]) for e in events] == [
        ("version.created", 1), ("rates.changed", 1), ("version.created", 2),
        ("rates.changed", 2),
    ]  # fmt: skip
    created = events[2]["data"]
    assert (created["vendor"], created["table"], created["kind"]) == ("acme", "default", "voice")
    assert created["source"] == "cli" and created["file_name"] == "v2.csv"
    assert events[2]["timestamp"].endswith("Z")
    changes = {c["code"]: c for c in events[3]["data"]["changes"]}
    assert changes["4420"]["change_class"] == "decrease"
    assert (changes["4420"]["old_price"], changes["4420"]["new_price"]) == ("0.01", "0.005")
    assert changes["4422"]["change_class"] == "new"
    assert "4421" not in changes
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(set(ids)) == 4 and all(i.startswith("msg_") for i in ids)
    assert all(r["problem"] is None for r in receiver.requests)  # every signature verified


def test_a_refused_deck_is_told_as_import_refused(setup):
    app, receiver = setup
    decks.import_deck(app, "acme", b"%PDF-1.4 not a rate card", file_name="rates.pdf")
    app.webhooks.deliver_due()
    (event,) = receiver.events
    assert event["type"] == "import.refused"
    assert event["data"]["reason"] == "unknown_format" and event["data"]["file_name"] == "rates.pdf"


def test_a_500_is_retried_once_with_the_same_id_and_signed_again(tmp_path, sqlite_url, receivers):
    receiver, secret = receivers(answers=[500, 200])
    app, opened = open_app(tmp_path, sqlite_url, receiver_toml(tmp_path, receiver, secret))
    try:
        decks.import_deck(app, "acme", deck(("4420", "0.01")), file_name="v1.csv")
        first = app.webhooks.deliver_due()
        assert len(first.retried) == len(first.sent) == 1  # the receiver's 500, then its 200
        (pending,) = [d for d in app.webhooks.list() if d.event_type == "version.created"]
        wait = (pending.next_attempt_at - utcnow()).total_seconds()
        assert 0 < wait <= 60  # the first retry within a minute
        assert pending.last_status == 500 and "HTTP 500" in pending.last_error
        assert app.webhooks.deliver_due().sent == []  # not due yet
        again = app.webhooks.deliver_due(now=utcnow() + timedelta(seconds=61))
        assert again.sent
    finally:
        opened.__exit__(None, None, None)
    created = [r for r in receiver.requests if b"version.created" in r["body"]]
    assert [r["status"] for r in created] == [500, 200]
    assert created[0]["headers"]["webhook-id"] == created[1]["headers"]["webhook-id"]
    assert all(r["problem"] is None for r in created)
    assert sorted(e["type"] for e in receiver.events) == ["rates.changed", "version.created"]


def test_a_receiver_that_is_down_costs_one_attempt_a_run_then_gets_everything(
    tmp_path, sqlite_url, receivers
):
    receiver, secret = receivers()
    receiver.down()
    app, opened = open_app(tmp_path, sqlite_url, receiver_toml(tmp_path, receiver, secret))
    try:
        for n in range(3):
            decks.import_deck(app, "acme", deck((f"442{n}", "0.01")), file_name=f"v{n}.csv")
        run = app.webhooks.deliver_due()
        assert len(run.retried) == 6 and not run.sent  # 3 versions, 3 price lists, one refusal
        listed = app.webhooks.list()
        assert {d.state for d in listed} == {"pending"}
        assert all("ConnectError" in d.last_error for d in listed)
        receiver.up()
        later = app.webhooks.deliver_due(now=utcnow() + timedelta(minutes=1))
        assert len(later.sent) == 6
    finally:
        opened.__exit__(None, None, None)
    assert [e["data"]["version"] for e in receiver.events if e["type"] == "version.created"] == [
        1, 2, 3,
    ]  # fmt: skip


def test_after_a_day_a_delivery_fails_and_the_others_are_told(tmp_path, sqlite_url, receivers):
    dead, dead_secret = receivers(answers=[503])
    ops, ops_secret = receivers()
    tables = receiver_toml(tmp_path, dead, dead_secret, 'events = ["version.created"]')
    tables += receiver_toml(tmp_path, ops, ops_secret, 'events = ["delivery.failed"]')
    app, opened = open_app(tmp_path, sqlite_url, tables)
    try:
        decks.import_deck(app, "acme", deck(("4420", "0.01")), file_name="v1.csv")
        app.webhooks.deliver_due()
        run = app.webhooks.deliver_due(now=utcnow() + timedelta(hours=24, minutes=1))
        assert len(run.failed) == 1
        (failed,) = app.webhooks.list("failed")
        assert failed.url == dead.url and failed.attempts == 2
        app.webhooks.deliver_due(now=utcnow() + timedelta(hours=24, minutes=2))
        (told,) = ops.events
        assert told["type"] == "delivery.failed"
        assert told["data"] | {"error": None} == {
            "what": "webhook", "id": failed.id, "to": dead.url, "attempts": 2, "error": None,
        }  # fmt: skip
        # a retry by hand makes it due with a new day
        retried = webhooks.retry(app, failed.id, actor="api key ops")
        assert retried.state == "pending"
        (entry,) = audit.entries(app)
        assert (entry.actor, entry.action, entry.target) == (
            "api key ops", "retry", f"webhook delivery {failed.id}",
        )  # fmt: skip
        assert entry.detail == {"was": "failed", "attempts": 2}
    finally:
        opened.__exit__(None, None, None)


def test_receivers_get_only_their_events_and_vendors(tmp_path, sqlite_url, receivers):
    acme, acme_secret = receivers()
    other, other_secret = receivers()
    tables = receiver_toml(tmp_path, acme, acme_secret, 'vendors = ["acme"]')
    tables += receiver_toml(
        tmp_path, other, other_secret, 'events = ["import.refused"]\nvendors = ["beta"]'
    )
    app, opened = open_app(tmp_path, sqlite_url, tables)
    try:
        decks.import_deck(app, "acme", deck(("4420", "0.01")), file_name="a.csv")
        decks.import_deck(app, "beta", deck(("4420", "0.01")), file_name="b.csv")
        decks.import_deck(app, "beta", b"%PDF-1.4", file_name="b.pdf")
        decks.import_deck(app, "acme", b"%PDF-1.4", file_name="a.pdf")
        app.webhooks.deliver_due()
    finally:
        opened.__exit__(None, None, None)
    assert [(e["type"], e["data"]["vendor"]) for e in acme.events] == [
        ("version.created", "acme"), ("rates.changed", "acme"), ("import.refused", "acme"),
    ]  # fmt: skip
    assert [(e["type"], e["data"]["file_name"]) for e in other.events] == [
        ("import.refused", "b.pdf")
    ]


def test_mail_is_told_as_its_imports_or_as_quarantined(tmp_path, sqlite_url, receivers, key):
    receiver, secret = receivers()
    app, opened = open_app(tmp_path, sqlite_url, receiver_toml(tmp_path, receiver, secret), pin=key)
    try:
        good = messages.import_message(app, signed(rate_message([("r.csv", deck(("44", "0.1")))]),
                                                    key))  # fmt: skip
        held = messages.import_message(app, rate_message([("r.csv", deck(("33", "0.1")))]))
        assert (good.status, held.status) == ("imported", "quarantined")
        app.webhooks.deliver_due()
    finally:
        opened.__exit__(None, None, None)
    types = [e["type"] for e in receiver.events]
    assert types == ["version.created", "rates.changed", "message.quarantined"]
    assert receiver.events[0]["data"]["source"] == "cli"  # `ingestd import x.eml`
    quarantined = receiver.events[2]["data"]
    assert quarantined["quarantine_id"] == held.quarantine_id
    assert quarantined["reason"] == held.reason and quarantined["from"]


def test_an_event_announced_twice_is_stored_once(setup):
    app, _receiver = setup
    outcomes = decks.import_deck(app, "acme", deck(("4420", "0.01")), file_name="v1.csv")
    assert app.webhooks.announce_imports([o.as_dict() for o in outcomes], source="cli") == 0
    assert len(app.webhooks.list()) == 2


def test_a_test_event_reaches_every_receiver_now(setup, tmp_path):
    app, receiver = setup
    (result,) = webhooks.test(app)
    assert result == {"url": receiver.url, "status": 200, "ok": True, "error": None}
    assert receiver.events[0]["type"] == "webhook.test"
    assert app.webhooks.list() == []  # never stored


@pytest.mark.postgresql
def test_two_daemons_on_one_database_deliver_each_event_once(tmp_path, receivers, pg_url):
    receiver, secret = receivers()
    tables = receiver_toml(tmp_path, receiver, secret)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, first_cm = open_app(tmp_path / "a", pg_url, tables)
    second, second_cm = open_app(tmp_path / "b", pg_url, tables)
    try:
        for n in range(10):
            decks.import_deck(first, "acme", deck((f"44{n:02d}", "0.01")), file_name=f"{n}.csv")
        threads = [threading.Thread(target=app.webhooks.deliver_due) for app in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        first_cm.__exit__(None, None, None)
        second_cm.__exit__(None, None, None)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 20 and len(set(ids)) == 20
