"""The scheduler's jobs (docs/operations.md#flow, docs/semantics.md#rate-semantics): activation of
future-dated rates, the daily digest, the purge of discontinued codes, and a failing job that does
not stop the scheduler.

The jobs are called directly with the instants the tests choose; only the last test runs a real
BackgroundScheduler.  Activation counts rows written before they take effect, and the store
stamps versions with the real clock, so the decks here are dated in the real future."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingestd.config import Config, load_config
from ingestd.db.clock import utcnow
from ingestd.db.tables import outbox as outbox_table
from ingestd.ingest import import_file
from ingestd.mail.outbox import Outbox
from ingestd.message.notify import Notifier
from ingestd.message.pipeline import Pipeline
from ingestd.rates.store import Store
from ingestd.scheduler import DIGEST_PURPOSE, Jobs, build_scheduler, period_start

TEAM = "rates-team@desk.example"
# the activation instant of the future-dated rows: minutes aligned, well after any version
T = (utcnow() + timedelta(days=10)).replace(hour=0, minute=0, second=0)
RECEIVED = utcnow() - timedelta(minutes=5)


def make_config(folder: Path, db_url: str, *, outbound: str = "", notify: str = "") -> Config:
    """The real loader; vendor ``v`` keeps discontinued codes 30 days (the default is 90);
    ``outbound``, ``notify``: more lines for those sections."""
    path = folder / "ingestd.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{folder / "state"}"
[database]
url = "{db_url}"
[outbound]
dir = "{folder / "outbox"}"
from = "Rates Desk <rates@desk.example>"
{outbound}
[notify]
rates_team = ["{TEAM}"]
{notify}
[[vendors]]
id = "v"
name = "Vendor V"
senders = ["rates@v.example"]
[vendors.policy]
discontinued_retention_days = 30
""",
        encoding="utf-8",
    )
    return load_config(path, env={})


def setup(folder: Path, db_url: str, clock: datetime, **sections: str) -> Jobs:
    config = make_config(folder, db_url, **sections)
    store = Store(db_url)
    store.upgrade()
    outbox = Outbox(store, config)
    return Jobs(config, store, Notifier(config, store, outbox), outbox, now=lambda: clock)


@pytest.fixture
def jobs(tmp_path, sqlite_url):
    j = setup(tmp_path, sqlite_url, T - timedelta(hours=1))
    yield j
    j.store.close()


def deck(rows: list[tuple[str, str, datetime]], name: str = "rates.csv") -> bytes:
    lines = ["Code,Destination,Rate,Effective Date"]
    lines += [f"{code},Dest {code},{rate},{when:%Y-%m-%d %H:%M}" for code, rate, when in rows]
    return ("\n".join(lines) + "\n").encode()


def load(jobs: Jobs, data: bytes, name: str = "rates.csv", received=RECEIVED, **kw) -> int:
    (outcome,) = import_file(
        jobs.store, jobs.config, "v", data, file_name=name, received_at=received, **kw
    )
    assert outcome.status == "imported", outcome.as_dict()
    assert outcome.version is not None
    return outcome.version


def effective_events(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "event=rates.effective" in r.getMessage()]


def outbox_rows(store: Store) -> list[dict]:
    with store.engine.connect() as conn:
        q = sa.select(outbox_table).order_by(outbox_table.c.id)
        return [dict(r) for r in conn.execute(q).mappings()]


# --- activation --------------------------------------------------------------------------------


def test_activation_logs_the_rows_that_took_effect_once(jobs, caplog):
    load(
        jobs,
        deck([
            ("44", "0.10", T),
            ("33", "0.20", T),
            ("49", "0.30", T + timedelta(days=1)),  # later: not in this window
            ("1", "0.01", RECEIVED - timedelta(hours=1)),  # in effect at import: no activation
        ]),
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="ingestd.scheduler")

    assert jobs.activation(now=T - timedelta(seconds=30)) == []
    assert effective_events(caplog) == []

    (found,) = jobs.activation(now=T + timedelta(seconds=30))
    assert (found.label, found.version, found.rows) == ("v/voice/default", 1, 2)
    (line,) = effective_events(caplog)
    for part in ("vendor=v", "table=default", "version=1", "rows=2",
                 f'first="{T:%Y-%m-%d %H:%M:%S}"', f'last="{T:%Y-%m-%d %H:%M:%S}"'):  # fmt: skip
        assert part in line, line

    # the next window starts where this one ended: nothing is announced twice
    assert jobs.activation(now=T + timedelta(seconds=90)) == []
    assert len(effective_events(caplog)) == 1
    # the next day's row, in its own window
    (later,) = jobs.activation(now=T + timedelta(days=1, seconds=10))
    assert later.rows == 1 and later.first == T + timedelta(days=1)


def test_activation_first_run_looks_back_one_interval_from_the_start(tmp_path, sqlite_url):
    start = T + timedelta(seconds=30)  # the daemon starts 30 s after the rows took effect
    jobs = setup(tmp_path, sqlite_url, start)
    try:
        load(jobs, deck([("44", "0.10", T)]))
        (found,) = jobs.activation(now=start + timedelta(seconds=60))
        assert found.rows == 1
    finally:
        jobs.store.close()


def test_a_rate_already_in_effect_at_import_is_no_activation(tmp_path, sqlite_url, caplog):
    # the import report told about it; only rates written before their time "activate"
    start = utcnow()
    jobs = setup(tmp_path, sqlite_url, start)
    try:
        load(jobs, deck([("44", "0.10", start.replace(second=0)), ("33", "0.20", T)]))
        caplog.set_level(logging.INFO, logger="ingestd.scheduler")
        assert jobs.activation(now=start + timedelta(seconds=60)) == []
        assert effective_events(caplog) == []
    finally:
        jobs.store.close()


# --- digest ------------------------------------------------------------------------------------


def test_digest_enqueues_one_message_a_day_to_the_rates_team(jobs):
    load(jobs, deck([("44", "0.10", T), ("33", "0.20", T)]))
    assert jobs.digest(now=T - timedelta(minutes=1)) is None  # nothing took effect yet
    assert outbox_rows(jobs.store) == []

    morning = T + timedelta(hours=6)
    first = jobs.digest(now=morning)
    assert first is not None
    (row,) = outbox_rows(jobs.store)
    assert row["purpose"] == DIGEST_PURPOSE
    message = message_from_bytes(row["raw"], policy=default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == TEAM
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith(f"<digest.{morning:%Y-%m-%d}.")
    body = message.get_body(("plain",)).get_content()
    assert "v/voice/default version 1: 2 rows" in body, body

    # again the same day (a second daemon, a restart): the same message, stored once
    assert jobs.digest(now=morning + timedelta(hours=3)) == first
    assert len(outbox_rows(jobs.store)) == 1
    # the next day, nothing new took effect in the last 24 hours
    assert jobs.digest(now=morning + timedelta(days=1)) is None
    assert len(outbox_rows(jobs.store)) == 1


# --- purge -------------------------------------------------------------------------------------


def test_purge_after_the_vendors_retention_is_a_new_version(tmp_path, db_url):
    jobs = setup(tmp_path, db_url, RECEIVED)
    try:
        codes = [str(c) for c in range(31, 41)]
        load(jobs, deck([(c, "0.10", RECEIVED) for c in codes]), mode="full")
        # the next full deck leaves 40 out: discontinued at its received time
        gone_at = RECEIVED + timedelta(days=1)
        load(jobs, deck([(c, "0.10", RECEIVED) for c in codes[:-1]]), received=gone_at,
             mode="full")  # fmt: skip
        table = jobs.store.find_table("v")
        assert table.current_version == 2
        assert "40" in jobs.store.rows(table)["code"].to_list()

        # vendor v keeps discontinued codes 30 days (the global default would be 90)
        assert jobs.purge(now=gone_at + timedelta(days=29)) == {}
        assert jobs.store.find_table("v").current_version == 2

        assert jobs.purge(now=gone_at + timedelta(days=31)) == {"v/voice/default": 3}
        table = jobs.store.find_table("v")
        assert sorted(jobs.store.rows(table)["code"].to_list()) == codes[:-1]
        assert "40" in jobs.store.rows(table, 2)["code"].to_list()  # history kept
        assert jobs.store.versions(table)[-1].origin == "purge"
        # nothing left to purge: no empty version
        assert jobs.purge(now=gone_at + timedelta(days=32)) == {}
        assert jobs.store.find_table("v").current_version == 3
    finally:
        jobs.store.close()


# --- failures ----------------------------------------------------------------------------------


class FailingNotifier:
    """Raises on every run, and counts them."""

    def __init__(self) -> None:
        self.calls = 0
        self.ran = threading.Event()

    def catch_up(self) -> int:
        self.calls += 1
        if self.calls >= 3:
            self.ran.set()
        raise RuntimeError("database is down")


def test_a_failing_job_is_logged_and_the_scheduler_keeps_running(jobs, caplog):
    caplog.set_level(logging.INFO)
    notifier = FailingNotifier()
    jobs.notifier = notifier  # type: ignore[assignment]
    scheduler = build_scheduler(jobs, outbox_interval=0.05)
    scheduler.start()
    try:
        assert notifier.ran.wait(10), "the outbox job stopped after failing"
        assert scheduler.running
        assert {j.id for j in scheduler.get_jobs()} == {
            "outbox",
            "webhooks",
            "activation",
            "digest",
            "notices",
            "purge",
        }
    finally:
        scheduler.shutdown(wait=True)
    failed = [r for r in caplog.records if r.getMessage() == "event=job.failed job=outbox"]
    assert len(failed) >= 3
    assert all(r.exc_info and "database is down" in str(r.exc_info[1]) for r in failed)
    # the wrapper caught it: APScheduler itself never saw an exception
    assert not [r for r in caplog.records if r.name.startswith("apscheduler") and r.exc_info]


# --- notices: the digest of unauthenticated mail, "cap reached" -------------------------------


def stranger_mail(n: int) -> bytes:
    """An unsigned deck from somebody no vendor lists."""
    message = EmailMessage()
    message["From"] = f"Mallory {n} <m{n % 3}@strangers.example>"
    message["To"] = "rates@desk.example"
    message["Subject"] = f"Cheap rates {n}"
    message["Message-ID"] = f"<stranger-{n}@strangers.example>"
    message.set_content("rates attached")
    message.add_attachment(deck([("44", "0.01", T)]), maintype="text", subtype="csv",
                           filename="rates.csv")  # fmt: skip
    return message.as_bytes()


def parsed(row: dict) -> EmailMessage:
    return message_from_bytes(bytes(row["raw"]), policy=default)  # type: ignore[return-value]


def test_strangers_are_told_in_one_digest_per_period(tmp_path, db_url):
    jobs = setup(tmp_path, db_url, T)
    try:
        pipeline = Pipeline(jobs.config, jobs.store)
        pipeline.after = jobs.notifier.notify  # as the daemon wires it
        for n in range(7):
            outcome = pipeline.process(stranger_mail(n), source="smtp")
            assert (outcome.status, outcome.reason) == ("quarantined", "unknown_sender")
        assert outbox_rows(jobs.store) == []  # no alert one by one
        period = timedelta(hours=1)  # [notify] unauthenticated_digest's default
        start = period_start(utcnow(), period)

        assert jobs.notices(now=start + period - timedelta(seconds=5)) == []  # not over yet
        (digest_id,) = jobs.notices(now=start + period + timedelta(seconds=5))
        (row,) = outbox_rows(jobs.store)
        assert (row["id"], row["purpose"], row["source_class"], row["state"]) == (
            digest_id, "unauthenticated_digest", "unauthenticated", "pending",
        )  # fmt: skip
        assert json.loads(row["recipients"]) == [TEAM]
        message = parsed(row)
        assert message["Subject"].startswith("[ingestd] 7 messages held from unauthenticated")
        assert "(3 senders)" in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for part in (text, html):
            assert "unknown_sender" in part and "m0@strangers.example" in part
            assert "ingestd -c" in part and "quarantine list" in part
            assert "--accept-unauthenticated" in part
        assert "Cheap rates 6" in text

        # the next run, and a restarted daemon, store no second digest
        assert jobs.notices(now=start + period + timedelta(seconds=65)) == []
        again = setup(tmp_path, db_url, T)
        assert again.notices(now=start + period + timedelta(seconds=65)) == [digest_id]
        again.store.close()
        assert len(outbox_rows(jobs.store)) == 1
    finally:
        jobs.store.close()


def test_a_cap_reached_notice_lists_what_was_held_back_once_per_period(tmp_path, sqlite_url):
    jobs = setup(
        tmp_path, sqlite_url, T,
        outbound="max_per_recipient_per_day = 2", notify='unauthenticated_digest = "10m"',
    )  # fmt: skip
    store, outbox = jobs.store, jobs.outbox
    try:
        now = utcnow()
        period = timedelta(minutes=10)
        start = period_start(now, period)
        for n in range(5):
            outbox.enqueue(report(n), purpose="import_report", now=now)
        states = [r["state"] for r in outbox_rows(store)]
        assert states == ["pending", "pending", "suppressed", "suppressed", "suppressed"]

        (notice_id,) = jobs.notices(now=start + period + timedelta(seconds=5))
        notice = next(r for r in outbox_rows(store) if r["id"] == notice_id)
        # not held back by the cap that tripped, and about the recipient's own mail
        assert (notice["purpose"], notice["state"], notice["source_class"]) == (
            "cap_notice", "pending", "system",
        )  # fmt: skip
        assert json.loads(notice["recipients"]) == [TEAM]
        message = parsed(notice)
        assert message["Subject"].startswith("[ingestd] Daily cap reached: 3 messages about")
        for part in (message.get_body(("plain",)).get_content(),
                     message.get_body(("html",)).get_content()):  # fmt: skip
            assert "outbox list --state suppressed" in part
            assert "import reports" in part and "max_per_recipient_per_day" in part
        assert jobs.notices(now=start + period + timedelta(seconds=65)) == []
        # a later period that held nothing back says nothing
        assert jobs.notices(now=start + 2 * period + timedelta(seconds=5)) == []
        assert [r["purpose"] for r in outbox_rows(store)].count("cap_notice") == 1
    finally:
        store.close()


def report(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Rates Desk <rates@desk.example>"
    message["To"] = TEAM
    message["Subject"] = f"report {n}"
    message["Message-ID"] = f"<report-{n}@desk.example>"
    message.set_content("a report")
    return message
