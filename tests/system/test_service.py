"""The daemon as a service (docs/operations.md#running-as-a-service) with real peers: a graceful
stop that drains the SMTP listener (421 to what is new, 250 to the message in the middle of DATA)
within the stop timeout, socket activation with a socket the test bound itself, and ``ingestd
status`` showing each IMAP account's connection against a real Dovecot that is then stopped.

The daemon, its configuration, the read-only views and the vendor's mails are the e2e rig's
(``rig.daemon``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
from rig.daemon import (
    ACTIVATE,
    CSV,
    RECIPIENT,
    ROOT,
    TODAY,
    VENDOR_SENDER,
    ImapMailbox,
    Setup,
    deck_mail,
    send,
)
from rig.signers import SigningKey, sign_dkimpy

from ingestd.daemon import ActivationError, activated_sockets
from ingestd.intake.imap.status import AccountStatus, ConnectionState, read_status, status_path

STOP_BOUND = 30.0  # the default [daemon] stop_timeout
SHORT_STOP = 0.5  # the stop_timeout of the tests that run into it
# what the exit itself may add to it (a loaded machine); far below the default STOP_BOUND a
# stop that ignored SHORT_STOP would take
EXIT_SLACK = 10.0
IMPORT_TIMEOUT = 20.0


def signed_deck(key: SigningKey, message_id: str, *codes: str) -> bytes:
    day = TODAY.isoformat()
    lines = ["Code,Destination,Rate,Effective Date"]
    lines += [f"{code},Dest {code},0.0{i + 1},{day}" for i, code in enumerate(codes)]
    deck = ("acme_az.csv", ("\r\n".join(lines) + "\r\n").encode(), CSV)
    raw = deck_mail(deck, message_id=message_id)
    return sign_dkimpy(raw, key, domain="acme.example", selector="sel1")


def with_stop_timeout(setup: Setup, value: str) -> None:
    text = setup.config.read_text()
    setup.config.write_text(text.replace("[daemon]\n", f'[daemon]\nstop_timeout = "{value}"\n'))


def open_session(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example", timeout=15)
    assert client.ehlo()[0] == 250
    return client


def begin_data(client: smtplib.SMTP) -> None:
    """MAIL, RCPT and DATA up to the 354: the next bytes are the message."""
    assert client.mail(VENDOR_SENDER)[0] == 250
    assert client.rcpt(RECIPIENT)[0] == 250
    client.putcmd("data")
    assert client.getreply()[0] == 354


def data_lines(raw: bytes) -> bytes:
    """The message as sent after DATA: dot-stuffed, without the final ``.`` line."""
    assert raw.endswith(b"\r\n")
    return re.sub(rb"(?m)^\.", b"..", raw)


def greeting(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(10)
        return sock.recv(512)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# --- 1. graceful stop -------------------------------------------------------------------------


def test_sigterm_drains_smtp_a_message_in_data_gets_250_and_is_imported_once(
    tmp_path, dns, acme_key
):
    setup = Setup.create(tmp_path, nameserver=dns.address)
    message_id = "<drained@acme.example>"
    body = data_lines(signed_deck(acme_key, message_id, "44", "4420"))
    with setup.daemon() as daemon:
        idle = open_session(setup.port)  # connected before the stop, no transaction
        sending = open_session(setup.port)
        begin_data(sending)
        sending.send(body[: len(body) // 2])
        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        daemon.wait_for(lambda: "daemon.stopping" in daemon.log_text(), 30, "the stop to begin")

        # the socket is still there, but a new session is turned away…
        hello = greeting(setup.port)
        assert hello.startswith(b"421 4.3.2 ") and hello.rstrip().endswith(b"shutting down")
        # …and so is a new transaction on a session opened before the stop
        code, reply = idle.mail(VENDOR_SENDER)
        assert (code, reply.split()[0]) == (421, b"4.3.2"), reply
        assert idle.sock.recv(1) == b""  # and the server closed it
        idle.close()
        # the message in the middle of DATA is finished and queued
        sending.send(body[len(body) // 2 :] + b".\r\n")
        code, reply = sending.getreply()
        assert code == 250 and b"queued as" in reply, reply
        sending.close()

        assert daemon.process.wait(STOP_BOUND + 5) == 0
        took = time.monotonic() - started
        assert took < STOP_BOUND
        log = daemon.log_text(100_000)
        assert "event=smtp.refused_connection" in log and "reason=stopping" in log
        assert "event=smtp.refused_mail" in log and "event=daemon.stopped" in log
        assert "daemon.stop_timeout" not in log and "cut_session" not in log

    # the worker took nothing after the stop began: the message waits for the next start
    assert len(setup.queued()) == 1 and setup.messages() == []
    with setup.daemon() as daemon:
        daemon.wait_for(lambda: len(setup.versions()) == 1, IMPORT_TIMEOUT, "the import")
        daemon.wait_for(lambda: not setup.queued(), 30, "an empty queue")
        assert daemon.stop() == 0
    (version,) = setup.versions()
    assert (version["message_id"], version["rows_total"]) == (message_id, 2)
    (message,) = setup.messages()
    assert (message["state"], message["result"], message["attempts"]) == ("done", "imported", 1)
    print(f"SIGTERM with a session in DATA: exit 0 in {took:.2f} s")


def test_stop_timeout_bounds_the_drain_and_cuts_a_sender_that_does_not_finish(
    tmp_path, dns, acme_key
):
    setup = Setup.create(tmp_path, nameserver=dns.address)
    with_stop_timeout(setup, f"{SHORT_STOP:g}s")
    body = data_lines(signed_deck(acme_key, "<never-finished@acme.example>", "44"))
    with setup.daemon() as daemon:
        stalled = open_session(setup.port)
        begin_data(stalled)
        stalled.send(body[:200])  # and nothing more
        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(SHORT_STOP + 2 * EXIT_SLACK) == 0
        took = time.monotonic() - started
        # it waited for the sender, but no longer than the stop timeout (plus the exit itself)
        assert SHORT_STOP <= took < SHORT_STOP + EXIT_SLACK, took
        with pytest.raises(smtplib.SMTPServerDisconnected):
            stalled.getreply()  # no 250: the sender still has the message and retries
        stalled.close()
        log = daemon.log_text(100_000)
        assert "event=smtp.cut_session" in log and "event=daemon.stopped" in log
    assert setup.queued() == [] and setup.messages() == []


# --- 2. socket activation ---------------------------------------------------------------------


def test_socket_activation_serves_the_passed_socket_and_binds_nothing(tmp_path, dns, acme_key):
    setup = Setup.create(tmp_path, nameserver=dns.address)
    message_id = "<activated@acme.example>"
    with socket.create_server(("127.0.0.1", 0)) as passed:
        port = passed.getsockname()[1]
        assert port != setup.port
        with setup.daemon(listen_socket=passed) as daemon:
            send(port, signed_deck(acme_key, message_id, "33", "49"))
            daemon.wait_for(lambda: len(setup.versions()) == 1, IMPORT_TIMEOUT, "the import")
            assert refused(setup.port)  # [smtp] listen was not bound
            log = daemon.log_text(100_000)
            assert "event=daemon.socket_passed kind=smtp name=smtp" in log
            assert f"port={port}" in log and "activation=smtp" in log
            assert daemon.stop() == 0
    (version,) = setup.versions()
    assert version["message_id"] == message_id


def test_passed_sockets_are_sorted_by_name_or_refused_with_the_reason(tmp_path):
    tcp = socket.create_server(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(tmp_path / "lmtp.sock"))
    unix.listen()
    try:
        # unnamed sockets (systemd's default name is the socket unit's) go by their family
        found = activated_sockets([("ingestd.socket", tcp), ("unknown", unix)])
        assert found == {"smtp": tcp, "lmtp": unix}
        assert activated_sockets([("lmtp", unix)]) == {"lmtp": unix}
    finally:
        tcp.close()
        unix.close()
    cases = [
        ("submission", "passed fd 3 is named 'submission'; name it smtp or lmtp"),
        ("smtp", "passed fd 4 is a second smtp socket"),
    ]
    for name, reason in cases:
        first = socket.create_server(("127.0.0.1", 0))
        second = socket.create_server(("127.0.0.1", 0))
        passed = [(name, first)] if name != "smtp" else [("smtp", first), ("smtp", second)]
        with pytest.raises(ActivationError, match=re.escape(reason)):
            activated_sockets(passed)
        assert first.fileno() == -1  # closed: nothing half-started keeps them
        second.close()


def test_a_passed_fd_that_is_no_socket_stops_the_start_with_the_reason(tmp_path, dns):
    setup = Setup.create(tmp_path, nameserver=dns.address)
    read_end, write_end = os.pipe()
    try:
        done = subprocess.run(
            [sys.executable, "-c", ACTIVATE, str(read_end),
             sys.executable, "-m", "ingestd", "-c", str(setup.config), "run"],
            pass_fds=(read_end,), capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
    finally:
        os.close(read_end)
        os.close(write_end)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "ingestd: socket activation: passed fd 3 is not a socket (Socket operation on non-socket)"
    )
    assert "Traceback" not in done.stderr


# --- 3. IMAP connection state in `ingestd status` ---------------------------------------------


def test_status_shows_the_imap_account_connected_then_in_backoff(tmp_path, dns, dovecot):
    password = tmp_path / "imap.pass"
    password.write_text(dovecot.password + "\n")
    mailbox = ImapMailbox(dovecot.host, dovecot.port, dovecot.user, password)
    setup = Setup.create(tmp_path, nameserver=dns.address, imap=mailbox)
    state_dir = tmp_path / "state"
    before = read_status(state_dir, mailbox.name)  # what `status` shows before the first run
    assert (before["state"], before["connected"]) == ("unknown", False)
    with setup.daemon() as daemon:
        daemon.wait_for(
            lambda: read_status(state_dir, mailbox.name)["state"] == "idle",
            30,
            "the poller in IDLE",
        )
        (idle,) = setup.cli_json("status")["imap"]
        assert (idle["state"], idle["connected"], idle["running"]) == ("idle", True, True)
        assert idle["last_sweep"] is not None and idle["last_error"] is None
        assert (idle["host"], idle["port"], idle["pid"]) == (
            dovecot.host,
            dovecot.port,
            daemon.process.pid,
        )
        human = setup.cli("status").stdout
        assert f"imap       {mailbox.name}: idle since {idle['since']}" in human

        dovecot.stop()
        daemon.wait_for(
            lambda: "refused" in (read_status(state_dir, mailbox.name).get("last_error") or ""),
            15,
            "a failed reconnect",
        )
        (down,) = setup.cli_json("status")["imap"]
        assert (down["state"], down["connected"], down["running"]) == ("backoff", False, True)
        assert "ConnectionRefusedError" in down["last_error"]
        assert down["since"] >= idle["since"] and down["retry_at"] >= down["last_error_at"]
        assert down["last_sweep"] == idle["last_sweep"]  # nothing swept since
        human = setup.cli("status").stdout
        assert f"{mailbox.name}: backoff since {down['since']}, next attempt" in human
        assert "ConnectionRefusedError" in human
        assert daemon.stop() == 0
    stopped = read_status(state_dir, mailbox.name)
    assert (stopped["state"], stopped["running"], stopped["retry_at"]) == ("stopped", False, None)


def test_stop_timeout_abandons_the_message_in_hand_and_the_next_start_imports_it(
    tmp_path, dns, acme_key
):
    setup = Setup.create(tmp_path, nameserver=dns.address)
    with_stop_timeout(setup, f"{SHORT_STOP:g}s")
    message_id = "<abandoned@acme.example>"
    with setup.daemon() as daemon:
        # another writer holds SQLite's write lock: the worker's first write waits for it
        # (busy timeout 60 s), so the message stays in hand past the stop timeout
        lock = sqlite3.connect(setup.db_path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            send(setup.port, signed_deck(acme_key, message_id, "44", "4420", "33"))
            daemon.wait_for(
                lambda: [q.split("/")[0] for q in setup.queued()] == ["processing"],
                IMPORT_TIMEOUT,
                "the worker to take the message",
            )
            started = time.monotonic()
            daemon.process.send_signal(signal.SIGTERM)
            assert daemon.process.wait(SHORT_STOP + 2 * EXIT_SLACK) == 0
            took = time.monotonic() - started
        finally:
            lock.rollback()
            lock.close()
        log = daemon.log_text(100_000)
    assert "event=daemon.stop_timeout" in log and "abandoned=queue-worker" in log, log[-3000:]
    assert SHORT_STOP <= took < SHORT_STOP + EXIT_SLACK, took
    assert setup.versions() == [] and len(setup.queued()) == 1  # nothing written, nothing lost
    with setup.daemon() as daemon:
        daemon.wait_for(lambda: len(setup.versions()) == 1, IMPORT_TIMEOUT, "the import")
        daemon.wait_for(lambda: not setup.queued(), 30, "an empty queue")
        assert daemon.stop() == 0
    (version,) = setup.versions()
    assert (version["message_id"], version["rows_total"]) == (message_id, 3)
    (message,) = setup.messages()
    assert (message["state"], message["result"]) == ("done", "imported")
    print(f"stop timeout {SHORT_STOP:g} s with a message in hand: exit 0 in {took:.2f} s")


def test_status_says_when_the_daemon_that_wrote_the_state_is_gone(tmp_path, dns):
    password = tmp_path / "imap.pass"
    password.write_text("unused\n")
    mailbox = ImapMailbox("127.0.0.1", 1, "vendor", password)
    setup = Setup.create(tmp_path, nameserver=dns.address, imap=mailbox)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(gone.stdout)  # a process that has exited: as after a SIGKILL or a crash
    written = AccountStatus(
        account=mailbox.name,
        state=ConnectionState.IDLE,
        since="2025-01-06T10:00:00+00:00",
        host="127.0.0.1",
        port=1,
        folder="INBOX",
        pid=pid,
        last_sweep="2025-01-06T10:00:01+00:00",
    )
    path = status_path(tmp_path / "state", mailbox.name)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(written.as_json()))
    (shown,) = setup.cli_json("status")["imap"]
    assert (shown["state"], shown["running"], shown["connected"]) == ("idle", False, False)
    human = setup.cli("status").stdout
    assert (
        f"imap       {mailbox.name}: idle since 2025-01-06T10:00:00+00:00 (daemon not running), "
        "last sweep 2025-01-06T10:00:01+00:00"
    ) in human
    path.write_text("{not json")
    broken = read_status(tmp_path / "state", mailbox.name)
    assert broken["state"] == "unknown" and "unreadable" in broken["last_error"]
