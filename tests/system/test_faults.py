"""Faults of what ingestd depends on (docs/mail.md#mail-in, docs/mail.md#mail-out,
docs/operations.md#running-as-a-service): the database, the disk, the relay, DNS and the IMAP server
fail under the running daemon, for real, and nothing is lost or done twice.

- the daemon's PostgreSQL goes away (a TCP forwarder between the daemon and the shared server,
  cut and restored by the test): SMTP answers 451, the queue and the mailbox keep what they
  hold, and the daemon carries on by itself when the database is back;
- the queue's folder is a small tmpfs the test fills: SMTP answers 451, nothing half-written
  stays, and once there is space again everything goes through;
- the relay is down, then answers only 451, for hours of an explicit clock: the outbox backs off
  to its hourly cap, never gives up, and delivers each message once;
- DNS does not answer while an IMAP message is checked: it stays in the mailbox, and is imported
  once DNS answers;
- Dovecot restarts under the daemon: the poller reconnects and the next message is imported.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from conftest import PG_ADMIN, _server_database, missing
from rig.daemon import CSV, RECIPIENT, VENDOR_SENDER, ImapMailbox, Setup, deck_mail, send, voice_csv
from rig.dns import TxtServer
from rig.dovecot import Dovecot
from rig.ports import free_port
from rig.signers import SigningKey, rsa_key, sign_dkimpy

from ingestd.config import load_config
from ingestd.daemon import Daemon as InProcessDaemon
from ingestd.db.clock import utcnow
from ingestd.intake.imap.poller import ImapPoller
from ingestd.intake.queue import InboundQueue
from ingestd.mail.outbox import Outbox
from ingestd.rates.store import Store

TIMEOUT = 20.0  # seconds for anything the daemon should do once it can


# --- peers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key(1024)


@pytest.fixture
def dns(key: SigningKey) -> Iterator[TxtServer]:
    with TxtServer({"sel1._domainkey.acme.example": key.record}) as server:
        yield server


def mailbox_of(dovecot: Dovecot, folder: Path) -> ImapMailbox:
    password = folder / "imap.pass"
    password.write_text(dovecot.password + "\n")
    return ImapMailbox(dovecot.host, dovecot.port, dovecot.user, password)


def deck(key: SigningKey, n: int) -> bytes:
    """Message n: a signed one-row CSV deck of its own (code 4470n), Message-ID <deck-n@…>."""
    sheet = ("acme_az.csv", voice_csv([(f"4470{n}", f"UK {n}", f"0.0{n + 1}")]), CSV)
    raw = deck_mail(sheet, message_id=f"<deck-{n}@acme.example>")
    return sign_dkimpy(raw, key, domain="acme.example", selector="sel1")


def refused_451(port: int, raw: bytes) -> bytes:
    """Send and expect a 451 after DATA; the server's text."""
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(port, raw)
    assert refused.value.smtp_code == 451, refused.value
    return refused.value.smtp_error


# --- 1. the database unreachable ---------------------------------------------------------------


class Forwarder:
    """127.0.0.1:<port> → ``upstream``, one thread pair per connection.  ``cut()`` is the
    database going away: the port refuses connections and live ones are reset; ``restore()``
    listens on the same port again."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> Forwarder:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            live, self._live = self._live, set()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._live |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._live.discard(source)
            source.close()  # each socket is closed by the pump that reads it


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _server_database(PG_ADMIN, "PostgreSQL")


def _pg_rows(engine: sa.Engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]


@pytest.mark.postgresql
def test_database_outage_answers_451_keeps_everything_and_recovers_by_itself(
    tmp_path, pg_url, dns, key, dovecot
):
    admin = sa.make_url(PG_ADMIN)
    forwarder = Forwarder((admin.host or "127.0.0.1", admin.port or 5432)).restore()
    through = sa.make_url(pg_url).set(host="127.0.0.1", port=forwarder.port)
    mailbox = mailbox_of(dovecot, tmp_path)
    setup = Setup.create(
        tmp_path,
        nameserver=dns.address,
        imap=mailbox,
        database_url=through.render_as_string(hide_password=False),
    )
    upgrade = setup.cli("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    engine = sa.create_engine(pg_url)  # the test's own view, not through the forwarder
    before, queued, refused, by_imap = (deck(key, n) for n in range(4))

    def versions() -> list[dict]:
        return _pg_rows(engine, "SELECT number, message_id FROM versions ORDER BY number")

    try:
        with setup.daemon() as daemon:
            daemon.wait_for(
                lambda: "event=connected account=vendor-mailbox" in daemon.log_text(),
                30,
                "the poller to connect",
            )
            send(setup.port, before)
            daemon.wait_for(
                lambda: (
                    not setup.queued()
                    and _pg_rows(engine, "SELECT state, notify FROM messages")
                    == [{"state": "done", "notify": "sent"}]
                ),
                TIMEOUT,
                "the first message done and answered",
            )

            forwarder.cut()
            # a message already in the queue when the database went (put by another process)
            item = InboundQueue(setup.queue_dir).put(
                queued, source="smtp", meta={"mail_from": VENDOR_SENDER, "rcpt_tos": [RECIPIENT]}
            )
            daemon.wait_for(
                lambda: "event=database.unreachable" in daemon.log_text(),
                TIMEOUT,
                "the daemon to notice the outage",
            )
            assert b"database unreachable" in refused_451(setup.port, refused)
            dovecot.append(by_imap)
            daemon.wait_for(
                lambda: setup.queued() == [f"new/{item.id}"], 30, "the queued item waiting"
            )
            time.sleep(2.0)  # the poller has seen the IMAP message (IDLE) and waits
            assert dovecot.contents("INBOX") == [by_imap]
            assert dovecot.contents(mailbox.processed_folder) == []
            assert setup.queued() == [f"new/{item.id}"]
            (waiting,) = InboundQueue(setup.queue_dir).items()
            assert waiting.attempts == 0  # the outage cost the message nothing
            assert daemon.process is not None and daemon.process.poll() is None

            forwarder.restore()  # no restart: the daemon finds the database again
            daemon.wait_for(
                lambda: (
                    len(versions()) == 3 and not setup.queued() and dovecot.contents("INBOX") == []
                ),
                TIMEOUT,
                "the queued and the IMAP message imported",
            )
            send(setup.port, refused)  # the sender's retry after its 451
            daemon.wait_for(lambda: len(versions()) == 4, TIMEOUT, "the retried message")
            log = daemon.log_text(10**7)
            assert "event=database.reachable" in log
            assert "event=queue.failed" not in log and "pipeline_crash" not in log
            assert daemon.stop() == 0
        found = versions()
        assert [v["number"] for v in found] == [1, 2, 3, 4]
        assert Counter(v["message_id"] for v in found) == Counter(
            f"<deck-{n}@acme.example>" for n in range(4)
        )
        rows = _pg_rows(engine, "SELECT state, result, attempts, source FROM messages")
        assert (
            sorted((r["state"], r["result"], r["attempts"]) for r in rows)
            == [("done", "imported", 1)] * 4
        )
        assert Counter(r["source"] for r in rows) == {"smtp": 3, "imap:vendor-mailbox": 1}
        assert dovecot.contents(mailbox.processed_folder) == [by_imap]
    finally:
        forwarder.cut()
        engine.dispose()


# --- 2. the disk full while queueing -----------------------------------------------------------

SMALL_DISK = "1m"


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    """The queue's folder on its own 1 MB tmpfs (mounted as root, unmounted at the end); the
    test fills it with ``fill``."""
    folder = tmp_path / "state" / "queue"
    folder.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        missing(f"cannot mount a tmpfs for the queue: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the filesystem says ENOSPC; its path (delete it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as e:
                    assert e.errno == 28, e  # ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def test_full_disk_answers_451_leaves_nothing_half_written_and_loses_nothing(
    tmp_path, full_disk, dns, key
):
    setup = Setup.create(tmp_path, nameserver=dns.address)
    waiting, refused = deck(key, 1), deck(key, 2)
    # queued while there was space (by another process; the daemon is not running yet)
    item = InboundQueue(full_disk).put(waiting, source="smtp", meta={"mail_from": VENDOR_SENDER})
    filler = fill(full_disk)
    with setup.daemon() as daemon:
        text = refused_451(setup.port, refused)
        assert b"cannot store the message" in text
        assert os.listdir(full_disk / "tmp") == []  # nothing half-written left behind
        daemon.wait_for(
            lambda: "event=queue.claim_failed" in daemon.log_text(), 30, "a claim on a full disk"
        )
        # the waiting item cannot have its attempt counted: it stays waiting, as it was
        assert setup.queued() == [f"new/{item.id}"]
        assert not (full_disk / "new" / item.id / "meta.json.tmp").exists()
        assert setup.versions() == [] and setup.messages() == []

        filler.unlink()  # space again
        send(setup.port, refused)  # the sender's retry
        daemon.wait_for(lambda: len(setup.versions()) == 2, TIMEOUT, "both messages imported")
        daemon.wait_for(lambda: not setup.queued(), 20, "an empty queue")
        assert daemon.stop() == 0
    assert sorted(v["message_id"] for v in setup.versions()) == [
        "<deck-1@acme.example>",
        "<deck-2@acme.example>",
    ]
    assert [(m["state"], m["result"], m["attempts"]) for m in setup.messages()] == [
        ("done", "imported", 1)
    ] * 2
    assert os.listdir(full_disk / "tmp") == []


# --- 3. the relay down "for an hour", then only 451 --------------------------------------------


class _FlakyRelay:
    """aiosmtpd handler: 451 for every recipient while ``tempfail``, else accept and record."""

    def __init__(self) -> None:
        self.tempfail = True
        self.sessions = 0
        self.received: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.sessions += 1
        if self.tempfail:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.original_content)
        return "250 2.0.0 queued"


def _reply(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Rates Desk <rates@carrier.example>"
    message["To"] = VENDOR_SENDER
    message["Subject"] = f"Your deck {n}"
    message["Message-ID"] = f"<reply-{n}@carrier.example>"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content(f"Deck {n} imported.\n")
    return message


REFUSED_FOR = timedelta(minutes=90)  # nothing listens on the relay's port
TEMPFAIL_FOR = timedelta(hours=2)  # then it answers 451 to every recipient


def test_relay_down_for_hours_backs_off_to_the_cap_and_delivers_each_message_once(tmp_path):
    relay_port = free_port()
    config_path = tmp_path / "ingestd.toml"
    config_path.write_text(
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "ingestd.db"}"\n'
        '[notify]\nrates_team = ["rates-team@carrier.example"]\n'
        '[outbound]\ntransport = "smtp"\nhost = "127.0.0.1"\n'
        f'port = {relay_port}\nsecurity = "none"\ntimeout = "5s"\n'
        'from = "Rates Desk <rates@carrier.example>"\n'
    )
    config = load_config(config_path, env={})
    store = Store(config.database.url)
    store.upgrade()
    box = Outbox(store, config)
    handler = _FlakyRelay()
    controller = Controller(handler, hostname="127.0.0.1", port=relay_port)
    try:
        t0 = utcnow().replace(microsecond=0)
        ids = [box.enqueue(_reply(n), purpose="confirmation", now=t0) for n in range(2)]
        now, waits, errors, relay_up = t0, [], [], False
        while now - t0 < REFUSED_FOR + TEMPFAIL_FOR:
            if not relay_up and now - t0 >= REFUSED_FOR:
                controller.start()  # the relay is back, but only says "later"
                relay_up = True
            report = box.deliver_due(now=now)
            assert sorted(report.deferred) == ids and report.failed == [] and report.sent == []
            entries = box.list()
            assert {e.state for e in entries} == {"pending"}  # never given up
            (due,) = {e.next_attempt_at for e in entries}
            (error,) = {e.last_error or "" for e in entries}
            errors.append("451" if " 451 " in error else "cannot reach" * ("cannot reach" in error))
            waits.append(int((due - now).total_seconds() // 60))
            # not due a second before: the backoff holds
            assert box.deliver_due(now=due - timedelta(seconds=1)).attempted == 0
            now = due
        handler.tempfail = False
        report = box.deliver_due(now=now)
        assert sorted(report.sent) == ids
        assert box.deliver_due(now=now + timedelta(days=2)).attempted == 0
        final = box.list()
    finally:
        with contextlib.suppress(Exception):
            controller.stop()
        store.close()
    # 1 minute doubling to the hourly cap, and held there; refused first, then 451
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60], waits
    assert errors == ["cannot reach"] * 7 + ["451"] * 2, errors
    assert {(e.state, e.attempts) for e in final} == {("sent", len(waits) + 1)}
    sent = Counter(
        message_from_bytes(raw, policy=default_policy)["Message-ID"] for raw in handler.received
    )
    assert sent == Counter({"<reply-0@carrier.example>": 1, "<reply-1@carrier.example>": 1})
    assert {e.purpose for e in final} == {"confirmation"}  # no delivery-failure notice


# --- 4. DNS down while an IMAP message is checked ----------------------------------------------


@pytest.mark.parametrize("outage", ["drop", "servfail"])
def test_dns_outage_leaves_the_imap_message_and_it_is_imported_once_dns_answers(
    tmp_path, dns, key, dovecot, outage
):
    """The daemon's own IMAP handler and pipeline in this process, with a poller whose retry
    delay is short (the daemon's is a minute), against Dovecot and the DNS server."""
    mailbox = mailbox_of(dovecot, tmp_path)
    setup = Setup.create(tmp_path, nameserver=dns.address, imap=mailbox)
    config = load_config(setup.config, env={})
    daemon = InProcessDaemon(config)
    stop = threading.Event()
    poller = ImapPoller(
        config.imap[0],
        daemon.imap_handler,
        config.daemon.state_dir,
        stop=stop,
        use_idle=False,
        retry_delay=(0.2, 0.2),
    )
    raw = deck(key, 1)
    try:
        dovecot.append(raw)
        dns.mode = outage
        assert poller.run_once() == 1  # handed over: DNS does not answer
        assert dovecot.contents("INBOX") == [raw]
        assert setup.versions() == []
        (row,) = setup.messages()
        assert (row["state"], row["attempts"]) == ("processing", 0)  # not counted as a crash
        time.sleep(0.3)
        dns.mode = "answer"
        assert poller.run_once() == 1
        assert dovecot.contents("INBOX") == []
        assert dovecot.contents(mailbox.processed_folder) == [raw]
        time.sleep(0.3)
        assert poller.run_once() == 0  # nothing more: no second hand-over
    finally:
        stop.set()
        poller.close()
        daemon.store.close()
    (version,) = setup.versions()
    assert version["message_id"] == "<deck-1@acme.example>"
    (row,) = setup.messages()
    assert (row["state"], row["result"], row["attempts"]) == ("done", "imported", 1)


# --- 5. Dovecot restarted under the daemon -----------------------------------------------------


def test_dovecot_restart_under_the_daemon_reconnects_and_imports_once(tmp_path, dns, key, dovecot):
    mailbox = mailbox_of(dovecot, tmp_path)
    setup = Setup.create(tmp_path, nameserver=dns.address, imap=mailbox)
    first, second = deck(key, 1), deck(key, 2)
    connected = "event=connected account=vendor-mailbox"
    with setup.daemon() as daemon:
        daemon.wait_for(lambda: connected in daemon.log_text(), 30, "the poller to connect")
        dovecot.append(first)
        daemon.wait_for(lambda: len(setup.versions()) == 1, TIMEOUT, "the first message")
        dovecot.restart()
        daemon.wait_for(
            lambda: daemon.log_text(10**6).count(connected) >= 2, TIMEOUT, "a reconnect"
        )
        dovecot.append(second)
        dovecot.append(first)  # the first one again: a duplicate, filed, not imported
        daemon.wait_for(
            lambda: dovecot.contents("INBOX") == [] and len(setup.versions()) == 2,
            TIMEOUT,
            "the second message imported",
        )
        log = daemon.log_text(10**6)
        assert "event=connection_failed" in log or "poller_error" in log
        assert daemon.stop() == 0
    assert [v["message_id"] for v in setup.versions()] == [
        "<deck-1@acme.example>",
        "<deck-2@acme.example>",
    ]
    assert [(m["result"], m["attempts"]) for m in setup.messages()] == [("imported", 1)] * 2
    assert sorted(dovecot.contents(mailbox.processed_folder)) == sorted([first, second, first])


# --- 6. killed between a sheet's commit and the end of its message -----------------------------


def test_a_message_resumed_after_its_sheet_was_committed_is_imported_not_a_duplicate(
    tmp_path, dns, key
):
    """The SIGKILL loop of test_daemon_robustness hits this window now and then; here the state
    it leaves is made exactly: the version committed, the messages row still "processing"."""
    setup = Setup.create(tmp_path, nameserver=dns.address)
    daemon = InProcessDaemon(load_config(setup.config, env={}))
    raw = deck(key, 1)
    try:
        first = daemon.pipeline.process(raw, source="smtp")
        assert first.status == "imported"
        with daemon.store.begin_write() as conn:  # as the kill left it
            conn.exec_driver_sql(
                "UPDATE messages SET state = 'processing', result = NULL, notify = 'none'"
            )
        again = daemon.pipeline.process(raw, source="smtp")
    finally:
        daemon.store.close()
    assert (again.status, again.row_id) == ("imported", first.row_id), again.message
    ((outcome,),) = [s["outcomes"] for s in again.sheets]
    assert (outcome["status"], outcome["version"]) == ("imported", 1)
    assert [v["number"] for v in setup.versions()] == [1]
    (row,) = setup.messages()
    assert (row["state"], row["result"], row["attempts"]) == ("done", "imported", 2)
    # a different message carrying the same deck is still a duplicate of version 1
    other = sign_dkimpy(
        deck_mail(
            ("acme_az.csv", voice_csv([("44701", "UK 1", "0.02")]), CSV),  # deck 1's sheet
            message_id="<other@acme.example>",
        ),
        key,
        domain="acme.example",
        selector="sel1",
    )
    daemon = InProcessDaemon(load_config(setup.config, env={}))
    try:
        assert daemon.pipeline.process(other, source="smtp").status == "duplicate"
    finally:
        daemon.store.close()
