"""End to end (docs/mail.md#mail-in, docs/testing.md#real-components): the real daemon (``python -m
ingestd run``) receives rate decks over SMTP and IMAP, proves the sender with DKIM against a real
DNS server, and imports the sheets into versioned rate tables; the results are read back through the
CLI and the SQLite database.

Peers: smtplib and swaks as SMTP clients, a dnslib TXT server for the keys, dkimpy and OpenDKIM
as signers, Dovecot as the vendor mailbox.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from conftest import missing
from rig.daemon import (
    CSV,
    RECIPIENT,
    VENDOR_SENDER,
    ZIP,
    ImapMailbox,
    Setup,
    az_deck,
    deck_mail,
    send,
    voice_csv,
    zipped,
)
from rig.dns import TxtServer
from rig.ports import free_port
from rig.signers import SigningKey, rsa_key, sign_crafted, sign_dkimpy, sign_opendkim

IMPORT_TIMEOUT = 20.0  # seconds from the 250 until the version must be there


# --- keys, DNS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    acme: SigningKey  # the vendor's key: sel1._domainkey.acme.example
    evil: SigningKey  # somebody else's, published for evil.example
    weak: SigningKey  # 512 bits, published for acme.example (selector "weak")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(rsa_key(2048), rsa_key(1024), rsa_key(512))


@pytest.fixture(scope="module")
def _module_dns() -> Iterator[TxtServer]:
    with TxtServer() as server:
        yield server


@pytest.fixture
def dns(_module_dns: TxtServer, keys: Keys) -> TxtServer:
    """The module's DNS server, answering, with every test key published."""
    _module_dns.reset()
    _module_dns.set_txt("sel1._domainkey.acme.example", keys.acme.record)
    _module_dns.set_txt("weak._domainkey.acme.example", keys.weak.record)
    _module_dns.set_txt("sel1._domainkey.evil.example", keys.evil.record)
    return _module_dns


@pytest.fixture
def setup(tmp_path: Path, dns: TxtServer) -> Setup:
    return Setup.create(tmp_path, nameserver=dns.address)


# --- decks and messages ----------------------------------------------------------------------


def acme_signed(raw: bytes, keys: Keys) -> bytes:
    return sign_dkimpy(raw, keys.acme, domain="acme.example", selector="sel1")


def rates(setup: Setup, table: str) -> dict[str, str]:
    """prefix → price1 of a table, from the consumer view billing systems read."""
    rows = setup.query(
        "SELECT prefix, price1 FROM current_voice_rates WHERE vendor = 'acme' AND rate_table = ?",
        table,
    )
    return {r["prefix"]: str(r["price1"]) for r in rows}


# --- 1. the normal path: SMTP, two sheets, a duplicate, a second signer -----------------------


def test_signed_deck_is_imported_once_and_an_opendkim_deck_too(setup, keys):
    premium_csv = voice_csv([("4470", "UK Premium", "0.5"), ("4490", "UK Premium 2", "0.9")])
    raw = acme_signed(
        deck_mail(
            az_deck(("44", "UK", "0.01"), ("4420", "UK London", "0.012"), ("33", "France", "0.02")),
            ("acme_premium.zip", zipped("acme_premium.csv", premium_csv), ZIP),
        ),
        keys,
    )
    with setup.daemon() as daemon:
        send(setup.port, raw)
        daemon.wait_for(lambda: len(setup.versions()) == 2, IMPORT_TIMEOUT, "two versions")
        daemon.wait_for(lambda: not setup.queued(), 20, "an empty queue")
        first = setup.versions()
        assert {(v["table_name"], v["number"], v["file_name"]) for v in first} == {
            ("default", 1, "acme_az.xlsx"),
            ("premium", 1, "acme_premium.zip"),
        }
        assert rates(setup, "default") == {"44": "0.01", "4420": "0.012", "33": "0.02"}
        assert rates(setup, "premium") == {"4470": "0.5", "4490": "0.9"}
        (message,) = setup.messages()
        assert (message["state"], message["result"], message["source"]) == (
            "done",
            "imported",
            "smtp",
        )
        # the notify stage: the vendor's confirmation and the rates team's reports are queued
        assert message["notify"] == "sent"
        purposes = {(o["purpose"], o["recipients"]) for o in setup.query("SELECT * FROM outbox")}
        assert ("confirmation", f'["{VENDOR_SENDER}"]') in purposes
        assert {p for p, _ in purposes} >= {"confirmation", "import_report"}

        # the very same bytes again, from another client: 250, and nothing new
        swaks = shutil.which("swaks")
        if swaks is None:
            missing("swaks is not installed (Debian package swaks)")
        eml = setup.folder / "again.eml"
        eml.write_bytes(raw.removesuffix(b"\r\n"))  # swaks ends DATA with its own CRLF.CRLF
        again = subprocess.run(
            [
                swaks,
                "--server",
                f"127.0.0.1:{setup.port}",
                "--to",
                RECIPIENT,
                "--from",
                VENDOR_SENDER,
                "--helo",
                "mx2.acme.example",
                "--data",
                str(eml),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert "<-  250 " in again.stdout.split("DATA", 1)[1], again.stdout
        # it was queued (250) and the worker took it: the queue is empty again
        daemon.wait_for(lambda: not setup.queued(), IMPORT_TIMEOUT, "the duplicate processed")
        assert setup.versions() == first
        assert setup.messages() == [message]  # same hash: recognised, not even a new row

        # a different deck signed by an independent implementation (OpenDKIM)
        second = sign_opendkim(
            deck_mail(az_deck(("44", "UK", "0.01"), ("49", "Germany", "0.03"))),
            keys.acme,
            domain="acme.example",
            selector="sel1",
        )
        assert b"DKIM-Signature:" in second
        send(setup.port, second)
        daemon.wait_for(
            lambda: len(setup.versions("default")) == 2, IMPORT_TIMEOUT, "version 2 of default"
        )
        assert daemon.stop() == 0
    listed = setup.cli_json("versions", "--vendor", "acme", "--table", "default")
    assert [v["version"] for v in listed["versions"]] == [1, 2]
    assert listed["versions"][1]["counts"]["new"] == 1  # 49 is new; 44 unchanged
    assert rates(setup, "default")["49"] == "0.03"
    assert [v["number"] for v in setup.versions("premium")] == [1]
    messages = setup.messages()
    assert [(m["result"], m["vendor"]) for m in messages] == [
        ("imported", "acme"),
        ("imported", "acme"),
    ]
    assert json.loads(messages[1]["auth"])["status"] == "pass"
    assert "daemon.stopped" in daemon.log_text()


# --- 2. DNS down: 451, then 250 -------------------------------------------------------------


@pytest.mark.parametrize("outage", ["drop", "servfail"])
def test_dns_outage_answers_451_and_a_retry_is_imported(setup, keys, dns, outage):
    raw = acme_signed(deck_mail(az_deck(("44", "UK", "0.01"))), keys)
    with setup.daemon() as daemon:
        dns.mode = outage  # no answer at all (timeout), or SERVFAIL
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            send(setup.port, raw)
        assert deferred.value.smtp_code == 451
        assert b"cannot verify the sender" in deferred.value.smtp_error
        assert any(name == "sel1._domainkey.acme.example" for name, _ in dns.queries)
        assert setup.queued() == [] and setup.messages() == []  # nothing taken on: sender retries

        dns.mode = "answer"
        send(setup.port, raw)
        daemon.wait_for(lambda: len(setup.versions()) == 1, IMPORT_TIMEOUT, "the version")
        daemon.wait_for(lambda: not setup.queued(), 20, "an empty queue")
        (message,) = setup.messages()
        assert (message["state"], message["result"]) == ("done", "imported")
        assert daemon.stop() == 0


# --- 3. SIGKILL right after the 250 ---------------------------------------------------------


def test_message_accepted_before_sigkill_is_imported_once_after_restart(setup, keys):
    """Deterministic: the test holds the SQLite write lock, so the worker that claimed the
    message waits inside the pipeline (the lock is the database's, the SMTP answer is not
    affected); the daemon is killed there, with the item claimed and nothing imported."""
    raw = acme_signed(deck_mail(az_deck(("44", "UK", "0.01"), ("33", "France", "0.02"))), keys)
    with setup.daemon() as daemon:
        lock = sqlite3.connect(setup.db_path, isolation_level=None, timeout=30)
        try:
            lock.execute("BEGIN IMMEDIATE")  # the write lock, as a long import would hold it
            send(setup.port, raw)  # 250: the message is durably queued
            daemon.wait_for(
                lambda: [q.split("/")[0] for q in setup.queued()] == ["processing"],
                20,
                "the worker to claim the message",
            )
            daemon.kill()
        finally:
            lock.rollback()
            lock.close()
    (item,) = setup.queued()
    assert item.startswith("processing/")  # claimed by a worker that is dead now
    assert setup.versions() == [] and setup.messages() == []

    with setup.daemon() as daemon:
        daemon.wait_for(lambda: len(setup.versions()) == 1, IMPORT_TIMEOUT, "the version")
        daemon.wait_for(lambda: not setup.queued(), 20, "an empty queue")
        assert "queue.recovered" in daemon.log_text()
        # nothing more comes: the message is done, not processed a second time
        time.sleep(0.5)
        assert daemon.stop() == 0
    (version,) = setup.versions()
    assert (version["table_name"], version["rows_total"]) == ("default", 2)
    (message,) = setup.messages()
    assert (message["state"], message["result"], message["source"]) == ("done", "imported", "smtp")
    assert setup.queued() == []
    assert set(rates(setup, "default")) == {"44", "33"}


def test_sigkill_at_any_moment_after_250_imports_exactly_once(setup, keys):
    """Not held back: SIGKILL as soon as smtplib returns, wherever the worker is then (not yet
    claimed, in the middle of the import, or done); the restart finishes the job once."""
    raw = acme_signed(deck_mail(az_deck(("44", "UK", "0.01"), ("33", "France", "0.02"))), keys)
    with setup.daemon() as daemon:
        send(setup.port, raw)
        daemon.kill()
    with setup.daemon() as daemon:
        daemon.wait_for(lambda: len(setup.versions()) == 1, IMPORT_TIMEOUT, "the version")
        daemon.wait_for(lambda: not setup.queued(), 20, "an empty queue")
        daemon.wait_for(
            lambda: [m["state"] for m in setup.messages()] == ["done"], 20, "the message done"
        )
        time.sleep(0.5)
        assert daemon.stop() == 0
    assert len(setup.versions()) == 1
    (message,) = setup.messages()
    assert message["result"] == "imported"
    assert setup.queued() == []


# --- 4. SMTP answers: 550, 552, twenty at once ------------------------------------------------


def test_smtp_refusals_and_twenty_concurrent_senders(setup, keys):
    with setup.daemon() as daemon:
        # no relay: another recipient is refused at RCPT
        raw = acme_signed(deck_mail(az_deck(("44", "UK", "0.01"))), keys)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(setup.port, raw, to="postmaster@carrier.example")
        assert refused.value.recipients["postmaster@carrier.example"][0] == 550

        # over max_message_size (1MB): 552 whether the client declares SIZE or not
        big = acme_signed(
            deck_mail(az_deck(("44", "UK", "0.01")), ("notes.bin", b"x" * 1_200_000, ZIP)), keys
        )
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            send(setup.port, big)  # smtplib sends SIZE= at MAIL FROM
        assert declared.value.smtp_code == 552
        with smtplib.SMTP("127.0.0.1", setup.port, timeout=30) as client:
            client.ehlo()
            assert client.mail(VENDOR_SENDER)[0] == 250  # no SIZE
            assert client.rcpt(RECIPIENT)[0] == 250
            code, _ = client.data(big)
        assert code == 552
        assert setup.queued() == [] and setup.messages() == []

        # twenty vendors' mail servers at once, each its own deck
        senders = 20
        raws = [
            acme_signed(
                deck_mail(
                    (
                        "acme_update.csv",
                        voice_csv([(f"4475{n:02d}", f"UK Mobile {n}", "0.05")]),
                        CSV,
                    ),
                    message_id=f"<concurrent-{n}@acme.example>",
                ),
                keys,
            )
            for n in range(senders)
        ]
        errors: list[BaseException] = []
        start = threading.Barrier(senders)

        def sender(raw: bytes) -> None:
            try:
                start.wait(10)
                send(setup.port, raw)
            except BaseException as e:  # reported below, with the others
                errors.append(e)

        threads = [threading.Thread(target=sender, args=(r,)) for r in raws]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        daemon.wait_for(
            lambda: setup.count("messages", "state = 'done'") == senders,
            30,
            "twenty messages processed",
        )

        # a forgery is accepted too (250: no verdict is given in the SMTP dialogue), then held
        send(setup.port, deck_mail(az_deck(("4476", "UK", "0.05"))))
        daemon.wait_for(
            lambda: setup.count("messages", "state = 'quarantined'") == 1,
            IMPORT_TIMEOUT,
            "the unsigned message held",
        )
        assert daemon.stop() == 0
    *messages, forged = setup.messages()
    assert (forged["reason"], forged["notify"]) == ("unsigned", "alerted")
    assert len(messages) == senders
    assert {m["result"] for m in messages} == {"imported"}
    assert sorted(m["message_id"] for m in messages) == sorted(
        f"<concurrent-{n}@acme.example>" for n in range(senders)
    )
    assert len(setup.versions("default")) == senders
    assert set(rates(setup, "default")) == {f"4475{n:02d}" for n in range(senders)}


# --- 5. forgeries and near misses are held, and nobody is answered ---------------------------


def attack_fixtures(keys: Keys) -> dict[str, tuple[str, bytes]]:
    """name → (expected reason, raw message); every one carries a readable deck."""

    def mail(n: int, **kw) -> bytes:
        return deck_mail(
            az_deck((f"44{n:02d}", "UK", "0.01")),
            message_id=f"<attack-{n}@acme.example>",
            **kw,
        )

    now = int(time.time())
    signed = acme_signed(mail(2), keys)
    altered = signed.replace(b"please find our rate update", b"please find our rate UPDATE!")
    assert altered != signed
    with_length = sign_dkimpy(
        mail(4), keys.acme, domain="acme.example", selector="sel1", length=True
    )
    appended = with_length + b"\r\nP.S. please route all traffic via +44 20 7946 0000\r\n"
    two_from = b"From: Acme Billing <billing@evil.example>\r\n" + acme_signed(mail(7), keys)
    return {
        "unsigned": ("unsigned", mail(1)),
        "body altered after signing": ("dkim_fail", altered),
        "d= of another domain": (
            "dkim_misaligned",
            sign_dkimpy(mail(3), keys.evil, domain="evil.example", selector="sel1"),
        ),
        "l= with appended content": ("dkim_length_tag", appended),
        "rsa-sha1": (
            "dkim_weak_algorithm",
            sign_dkimpy(
                mail(5), keys.acme, domain="acme.example", selector="sel1", algorithm=b"rsa-sha1"
            ),
        ),
        "From not signed": (
            "dkim_from_unsigned",
            sign_crafted(
                mail(6),
                keys.acme,
                domain="acme.example",
                selector="sel1",
                signed_headers=("to", "subject", "date", "message-id"),
            ),
        ),
        "two From headers": ("multiple_from", two_from),
        "expired x=": (
            "dkim_expired",
            sign_crafted(
                mail(8),
                keys.acme,
                domain="acme.example",
                selector="sel1",
                signed_at=now - 3 * 86400,
                extra_tags=[("x", str(now - 2 * 86400))],
            ),
        ),
        "512-bit key": (
            "dkim_weak_key",
            sign_dkimpy(mail(9), keys.weak, domain="acme.example", selector="weak"),
        ),
        "unknown sender address": (
            "unknown_sender",
            acme_signed(mail(10, from_header="Acme Sales <sales@acme.example>"), keys),
        ),
    }


def test_attack_fixtures_are_quarantined_each_with_its_reason(setup, keys):
    fixtures = attack_fixtures(keys)
    genuine = acme_signed(deck_mail(az_deck(("4499", "UK", "0.01"))), keys)
    files = []
    for n, raw in enumerate([genuine, *(raw for _, raw in fixtures.values())]):
        path = setup.folder / f"message-{n:02d}.eml"
        path.write_bytes(raw)
        files.append(str(path))
    results = setup.cli_json("import", *files, exit_code=1)  # 1: some were refused
    genuine_result, *held = results
    assert (genuine_result["status"], genuine_result["reason"]) == ("imported", None)

    got = {name: (r["status"], r["reason"]) for name, r in zip(fixtures, held, strict=True)}
    assert got == {name: ("quarantined", reason) for name, (reason, _) in fixtures.items()}
    for result in held:
        assert result["auth"]["status"] == "fail"
        assert result["quarantine_id"] is not None and result["sheets"] == []

    listed = setup.cli_json("quarantine", "list")
    assert sorted((q["id"], q["reason"], q["state"]) for q in listed) == sorted(
        (r["quarantine_id"], r["reason"], "held") for r in held
    )
    rows = {m["id"]: m for m in setup.messages()}
    for result in held:
        message = rows[result["message_row"]]
        assert (message["state"], message["reason"]) == ("quarantined", result["reason"])
        # the rates team hears of it in the period's digest (README "Sending mail"), not one
        # alert each; the (unproven) sender is told nothing
        assert message["notify"] == "alerted", result["reason"]
        sent = setup.query("SELECT purpose FROM outbox WHERE message_row = ?", message["id"])
        assert sent == [], result["reason"]
    assert rows[genuine_result["message_row"]]["notify"] == "sent"
    # nothing at all went to any address a fixture claimed to be from, but the genuine answer
    answered = [json.loads(o["recipients"]) for o in setup.query("SELECT * FROM outbox")]
    assert answered.count([VENDOR_SENDER]) == 1  # the genuine deck's confirmation
    # only the genuine deck became a version
    assert [(v["table_name"], v["file_name"]) for v in setup.versions()] == [
        ("default", "acme_az.xlsx")
    ]
    assert set(rates(setup, "default")) == {"4499"}


# --- 6. IMAP: a real Dovecot mailbox and the real pipeline ----------------------------------


@pytest.mark.parametrize(
    "dovecot",
    [{"layout": "dot"}, {"layout": "slash"}, {"layout": "inbox-prefix"}],
    indirect=True,
    ids=["dot-separator", "slash-separator", "inbox-prefix"],
)
def test_imap_mail_is_imported_and_moved_while_the_daemon_idles(tmp_path, dns, keys, dovecot):
    """The folders are configured as "ingestd/processed" whatever the server's layout: Dovecot's
    default '.', '/', and every folder below "INBOX." (docs/mail.md#imap)."""
    password = tmp_path / "imap.pass"
    password.write_text(dovecot.password + "\n")
    mailbox = ImapMailbox(dovecot.host, dovecot.port, dovecot.user, password)
    processed = dovecot.server_name(mailbox.processed_folder)
    quarantine = dovecot.server_name(mailbox.quarantine_folder)
    setup = Setup.create(tmp_path, nameserver=dns.address, imap=mailbox)
    signed = acme_signed(deck_mail(az_deck(("44", "UK", "0.01"), ("4420", "London", "0.02"))), keys)
    unsigned = deck_mail(az_deck(("33", "France", "0.02")))
    with setup.daemon() as daemon:
        # the poller logged in, found the INBOX empty and waits in IDLE
        daemon.wait_for(
            lambda: (
                "event=connected account=vendor-mailbox" in daemon.log_text()
                and "idle=True" in daemon.log_text()
            ),
            30,
            "the poller to connect with IDLE",
        )
        time.sleep(0.3)  # from its first search into IDLE
        dovecot.append(signed)
        daemon.wait_for(
            lambda: dovecot.contents(processed) == [signed],
            30,
            "the signed message in the processed folder",
        )
        assert len(setup.versions()) == 1
        dovecot.append(unsigned)
        daemon.wait_for(
            lambda: dovecot.contents(quarantine) == [unsigned],
            30,
            "the unsigned message in the quarantine folder",
        )
        assert dovecot.contents("INBOX") == []
        assert daemon.stop() == 0
    imported, held = setup.messages()
    assert (imported["source"], imported["state"], imported["result"]) == (
        "imap:vendor-mailbox",
        "done",
        "imported",
    )
    assert (held["source"], held["state"], held["reason"], held["notify"]) == (
        "imap:vendor-mailbox",
        "quarantined",
        "unsigned",
        "alerted",
    )
    assert rates(setup, "default") == {"44": "0.01", "4420": "0.02"}
    assert [q["reason"] for q in setup.cli_json("quarantine", "list")] == ["unsigned"]
    assert dovecot.contents(processed) == [signed]


def test_smtp_imap_and_cli_at_once_each_message_imported(tmp_path, dns, keys, dovecot):
    """The queue worker, the IMAP poller and an ``ingestd import`` process write to one SQLite
    database at the same time; none of them may fail for the others' locks."""
    password = tmp_path / "imap.pass"
    password.write_text(dovecot.password + "\n")
    mailbox = ImapMailbox(dovecot.host, dovecot.port, dovecot.user, password)
    setup = Setup.create(tmp_path, nameserver=dns.address, imap=mailbox)
    per_path = 8

    def mail(path: str, n: int) -> bytes:
        code = {"smtp": "4471", "imap": "4472", "cli": "4473"}[path] + f"{n:02d}"
        deck = ("acme_update.csv", voice_csv([(code, f"UK {path} {n}", "0.05")]), CSV)
        return acme_signed(deck_mail(deck, message_id=f"<{path}-{n}@acme.example>"), keys)

    cli_files = []
    for n in range(per_path):
        path = tmp_path / f"cli-{n}.eml"
        path.write_bytes(mail("cli", n))
        cli_files.append(str(path))
    with setup.daemon() as daemon:
        daemon.wait_for(
            lambda: "event=connected account=vendor-mailbox" in daemon.log_text(),
            30,
            "the poller to connect",
        )
        errors: list[BaseException] = []

        def run(job) -> None:
            try:
                job()
            except BaseException as e:
                errors.append(e)

        def by_smtp() -> None:
            for n in range(per_path):
                send(setup.port, mail("smtp", n))

        def by_imap() -> None:
            for n in range(per_path):
                dovecot.append(mail("imap", n))

        threads = [threading.Thread(target=run, args=(job,)) for job in (by_smtp, by_imap)]
        for thread in threads:
            thread.start()
        by_cli = setup.cli("import", *cli_files, "--json")
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert by_cli.returncode == 0, by_cli.stdout[-2000:] + by_cli.stderr[-2000:]
        assert {r["status"] for r in json.loads(by_cli.stdout)} == {"imported"}
        daemon.wait_for(
            lambda: setup.count("messages", "state = 'done'") == 3 * per_path,
            IMPORT_TIMEOUT,
            "every message processed",
        )
        daemon.wait_for(
            lambda: len(dovecot.contents(mailbox.processed_folder)) == per_path,
            30,
            "the IMAP messages moved",
        )
        assert daemon.stop() == 0
    log = daemon.log_text(tail=10**7)
    assert "database is locked" not in log
    assert "event=queue.failed" not in log and "event=handler_failed" not in log
    by_source: dict[str, int] = {}
    for m in setup.messages():
        assert m["result"] == "imported", m
        by_source[m["source"]] = by_source.get(m["source"], 0) + 1
    assert by_source == {"smtp": per_path, "imap:vendor-mailbox": per_path, "cli": per_path}
    assert len(setup.versions("default")) == 3 * per_path


# --- 7. mail out: the relay is a real SMTP server ----------------------------------------------


class _Relay:
    """The carrier's outgoing relay: aiosmtpd, recording every message it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 accepted"


def test_answers_wait_for_a_stopped_relay_and_go_once_it_is_back(tmp_path, dns, keys):
    from aiosmtpd.controller import Controller

    relay_port = free_port()
    setup = Setup.create(
        tmp_path,
        nameserver=dns.address,
        extra=(
            '[outbound]\ntransport = "smtp"\nhost = "127.0.0.1"\n'
            f'port = {relay_port}\nsecurity = "none"\ntimeout = "5s"\n'
            'from = "Rates Desk <rates@carrier.example>"\n\n'
            '[notify]\nrates_team = ["rates-team@carrier.example"]\n'
            'unauthenticated_digest = "1s"\n'
        ),
    )
    genuine = acme_signed(deck_mail(az_deck(("4455", "UK", "0.03"))), keys)
    spoof = deck_mail(
        az_deck(("4456", "UK", "0.0001")), from_header="CEO <ceo@acme-payments.example>"
    )
    relay = _Relay()
    with setup.daemon() as daemon:
        send(setup.port, genuine)
        send(setup.port, spoof)
        # the relay is down: every answer waits in the outbox, tried once and scheduled again
        daemon.wait_for(
            lambda: setup.count("outbox", "attempts >= 1 AND state = 'pending'") == 3,
            IMPORT_TIMEOUT * 2,  # the spoof's digest after its period, then an outbox run
            "three answers tried and waiting",
        )
        outbox = setup.query("SELECT id, purpose, recipients FROM outbox ORDER BY id")
        assert sorted((o["purpose"], o["recipients"]) for o in outbox) == [
            ("confirmation", f'["{VENDOR_SENDER}"]'),
            ("import_report", '["rates-team@carrier.example"]'),
            ("unauthenticated_digest", '["rates-team@carrier.example"]'),
        ]
        controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
        controller.start()
        try:
            for entry in outbox:  # an operator's `ingestd outbox retry` makes them due now
                assert setup.cli("outbox", "retry", str(entry["id"])).returncode == 0
            daemon.wait_for(
                lambda: setup.count("outbox", "state = 'sent'") == 3, 30, "the answers sent"
            )
            time.sleep(6)  # another run of the sender: nothing goes twice
        finally:
            controller.stop()
        assert daemon.stop() == 0
    ids = [
        message_from_bytes(raw, policy=default_policy)["Message-ID"] for _, raw in relay.received
    ]
    assert len(ids) == 3 and len(set(ids)) == 3
    recipients = sorted(r for rcpts, _ in relay.received for r in rcpts)
    assert recipients == sorted(
        [VENDOR_SENDER, "rates-team@carrier.example", "rates-team@carrier.example"]
    )
    # the spoofed sender was told nothing; the rates team learned why it was held
    assert "ceo@acme-payments.example" not in recipients
    (alert,) = [
        message_from_bytes(raw, policy=default_policy)
        for _, raw in relay.received
        if b"unauthenticated_digest" in raw
    ]
    assert "unknown_sender" in alert.get_body(("plain",)).get_content()


# --- 8. logs an admin can follow --------------------------------------------------------------


def test_json_logs_follow_one_message_from_smtp_to_the_outbox(tmp_path, dns, keys):
    setup = Setup.create(tmp_path, nameserver=dns.address, extra="")
    text = setup.config.read_text().replace(
        'log_level = "info"', 'log_level = "info"\nlog_format = "json"'
    )
    setup.config.write_text(text)
    raw = acme_signed(deck_mail(az_deck(("4457", "UK", "0.04"))), keys)
    with setup.daemon() as daemon:
        send(setup.port, raw)
        daemon.wait_for(
            lambda: setup.count("outbox", "state = 'sent'") >= 2, IMPORT_TIMEOUT, "answers sent"
        )
        assert daemon.stop() == 0
        log_text = daemon.log_text(tail=200_000)
    entries = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    assert entries, log_text
    (queued,) = [e for e in entries if e.get("event") == "smtp.queued"]
    cid = queued["queue_id"]
    life = [e["event"] for e in entries if cid in (e.get("correlation_id"), e.get("queue_id"))]
    # intake, authentication, the sheet and its version, the end, the notifications, delivery
    for event in (
        "smtp.queued",
        "pipeline.authenticated",
        "pipeline.sheet",
        "pipeline.done",
        "notify.queued",
        "outbox.enqueued",
        "outbox.sent",
    ):
        assert event in life, (event, life)
    assert life.index("smtp.queued") < life.index("pipeline.done") < life.index("outbox.sent")
    (sheet,) = [e for e in entries if e.get("event") == "pipeline.sheet"]
    assert (sheet["table"], sheet["status"], sheet["version"]) == (
        "acme/voice/default",
        "imported",
        "1",
    )
    assert all({"ts", "level", "logger"} <= set(e) for e in entries)
    # no message bodies or secrets in the log: the deck's prices never appear
    assert "0.04" not in log_text


# --- 9. under systemd: notify protocol, reload, stop --------------------------------------------


def test_the_daemon_speaks_sd_notify_and_reloads_on_sighup(tmp_path, dns, keys, monkeypatch):
    notify_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(15)
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_path))
    setup = Setup.create(tmp_path, nameserver=dns.address)
    unknown = acme_signed(
        deck_mail(
            az_deck(("4458", "UK", "0.05")), from_header="Acme Billing <billing@acme.example>"
        ),
        keys,
    )
    try:
        with setup.daemon() as daemon:
            assert b"READY=1" in listener.recv(4096)
            # billing@ is no sender of acme yet: held
            send(setup.port, unknown)
            daemon.wait_for(
                lambda: setup.count("messages", "reason = 'unknown_sender'") == 1,
                IMPORT_TIMEOUT,
                "the unknown sender held",
            )
            text = setup.config.read_text().replace(
                'senders = ["rates@acme.example"]',
                'senders = ["rates@acme.example", "billing@acme.example"]',
            )
            setup.config.write_text(text)
            daemon.process.send_signal(signal.SIGHUP)
            daemon.wait_for(
                lambda: "daemon.reloaded" in daemon.log_text(), 30, "the configuration reloaded"
            )
            assert daemon.process.poll() is None  # still running, same process
            again = acme_signed(
                deck_mail(
                    az_deck(("4459", "UK", "0.05")),
                    from_header="Acme Billing <billing@acme.example>",
                ),
                keys,
            )
            send(setup.port, again)
            daemon.wait_for(lambda: len(setup.versions()) == 1, IMPORT_TIMEOUT, "the import")
            assert daemon.stop() == 0
        seen = b""
        listener.settimeout(0.5)
        with contextlib.suppress(TimeoutError):
            while True:
                seen += listener.recv(4096) + b"\n"
        assert b"RELOADING=1" in seen and b"STOPPING=1" in seen
    finally:
        listener.close()


# --- 10. rate limits: strangers cannot silence the rates team ---------------------------------


def outbox_mail(setup: Setup, purpose: str) -> list[tuple[dict[str, Any], EmailMessage]]:
    """The outbox rows of one purpose with their stored messages, oldest first."""
    rows = setup.query("SELECT * FROM outbox WHERE purpose = ? ORDER BY id", purpose)
    return [(row, message_from_bytes(row["raw"], policy=default_policy)) for row in rows]


def held_in(subject: str, pattern: str) -> int:
    found = re.search(pattern, subject)
    assert found, subject
    return int(found[1])


def test_strangers_cannot_silence_the_rates_team(tmp_path, dns, keys):
    """60 unsigned decks from strangers and from a forged vendor address, then the vendor's
    genuine deck: the strangers come to the rates team as digests, one per period, the cap
    on them trips and says so, and the vendor's import report is delivered all the same."""
    setup = Setup.create(
        tmp_path,
        nameserver=dns.address,
        extra=(
            "[outbound]\nmax_per_recipient_per_day = 2\n\n"
            '[notify]\nunauthenticated_digest = "1s"\n\n'
        ),
    )
    deck = az_deck(("4455", "UK", "0.0001"))
    strangers = [
        deck_mail(deck, from_header=f"Mallory <m{n % 7}@strangers.example>")
        if n % 2
        else deck_mail(deck)  # claims to be the vendor, unsigned
        for n in range(60)
    ]
    with setup.daemon() as daemon:
        for batch in range(4):  # four periods at least: more digests than the cap allows
            for raw in strangers[batch * 15 : (batch + 1) * 15]:
                send(setup.port, raw)
            time.sleep(1.2)
        send(setup.port, acme_signed(deck_mail(az_deck(("4455", "UK", "0.03"))), keys))
        daemon.wait_for(
            lambda: setup.count("outbox", "purpose = 'import_report' AND state = 'sent'") == 1,
            60,
            "the genuine deck's import report delivered",
        )

        def digested() -> int:
            return sum(
                held_in(m["Subject"], r"\] (\d+) messages? held")
                for _, m in outbox_mail(setup, "unauthenticated_digest")
            )

        daemon.wait_for(lambda: digested() == 60, 60, "every stranger's message in a digest")

        def announced() -> int:
            return sum(
                held_in(m["Subject"], r"cap reached: (\d+) messages?")
                for _, m in outbox_mail(setup, "cap_notice")
            )

        suppressed = "purpose = 'unauthenticated_digest' AND state = 'suppressed'"
        daemon.wait_for(
            lambda: announced() == setup.count("outbox", suppressed) > 0,
            60,
            "what the cap held back announced",
        )
        daemon.wait_for(
            lambda: setup.count("outbox", "state = 'pending'") == 0, 60, "everything sent"
        )
        assert daemon.stop() == 0

    assert (
        setup.count("quarantine") == 60
        and setup.count("outbox", "purpose = 'quarantine_alert'") == 0
    )
    assert [v["file_name"] for v in setup.versions()] == ["acme_az.xlsx"]
    digests = outbox_mail(setup, "unauthenticated_digest")
    assert 4 <= len(digests) < 60
    assert {row["source_class"] for row, _ in digests} == {"unauthenticated"}
    assert sum(row["state"] == "sent" for row, _ in digests) == 2  # the cap: 2 a day
    _, first = digests[0]
    text = first.get_body(("plain",)).get_content()
    assert "strangers.example" in text and "unsigned" in text and "quarantine list" in text
    # one notice per period that held something back, to the rates team, never suppressed
    notices = outbox_mail(setup, "cap_notice")
    assert {(row["state"], row["source_class"], row["recipients"]) for row, _ in notices} == {
        ("sent", "system", '["rates-team@localhost"]')
    }
    body = notices[0][1].get_body(("plain",)).get_content()
    assert "outbox list --state suppressed" in body and "digests of unauthenticated" in body
    # the vendor's answer and report went out: its class has its own count
    answers = setup.query(
        "SELECT purpose, state, source_class FROM outbox WHERE message_row IS NOT NULL"
    )
    assert sorted((a["purpose"], a["state"], a["source_class"]) for a in answers) == [
        ("confirmation", "sent", "authenticated"),
        ("import_report", "sent", "authenticated"),
    ]
    listed = setup.cli_json("outbox", "list", "--state", "suppressed")
    assert {e["purpose"] for e in listed} == {"unauthenticated_digest"}


def test_one_message_with_many_sheets_does_not_crowd_out_later_reports(tmp_path, dns, keys):
    """40 sheets in one signed message: one report listing them all, not 40, so the vendor's
    next deck still gets its report under a daily cap of 5."""
    setup = Setup.create(
        tmp_path, nameserver=dns.address, extra="[outbound]\nmax_per_recipient_per_day = 5\n\n"
    )
    sheets = [
        (f"acme_{n:02}.csv", voice_csv([("4455", "UK", f"0.1{n:03}")]), CSV) for n in range(1, 41)
    ]
    with setup.daemon() as daemon:
        send(setup.port, acme_signed(deck_mail(*sheets), keys))
        send(setup.port, acme_signed(deck_mail(az_deck(("4455", "UK", "0.05"))), keys))
        daemon.wait_for(lambda: len(setup.versions()) == 41, 120, "41 versions")
        daemon.wait_for(
            lambda: setup.count("outbox", "purpose = 'import_report' AND state = 'sent'") == 2,
            60,
            "both reports delivered",
        )
        assert daemon.stop() == 0
    assert setup.count("outbox", "state = 'suppressed'") == 0
    (summary, _), (later, _) = [(m, row) for row, m in outbox_mail(setup, "import_report")]
    assert "40 decks in one message, 40 accepted" in summary["Subject"]
    (decks,) = [a for a in summary.iter_attachments() if a.get_filename() == "decks.csv"]
    assert decks.get_payload(decode=True).count(b"\r\n") == 41  # the header and 40 decks
    assert "default (voice) version 41 imported" in later["Subject"]
