"""docs/mail.md#mail-in "SMTP": the real listener on a free port, real clients (smtplib, swaks, raw
sockets), and a real daemon process killed with SIGKILL."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import pytest
from rig.smtp import (
    RECIPIENT,
    SENDER,
    Dialogue,
    daemon_process,
    missing,
    queue_root,
    running_smtp,
    self_signed_certificate,
    send_raw,
    unwritable,
    wait_until,
    write_config,
)

from ingestd.intake.queue import InboundQueue

MB = 1024 * 1024


@pytest.fixture
def smtp(tmp_path):
    with running_smtp(tmp_path, max_message_size="4MB", max_sessions=20) as server:
        yield server


def rate_deck_message(attachment_size: int = 600_000) -> bytes:
    """A vendor mail: 8-bit UTF-8 body, a dot-led line, and a long base64 attachment."""
    message = EmailMessage()
    message["From"] = f"Pricing Desk <{SENDER}>"
    message["To"] = RECIPIENT
    message["Subject"] = "A-Z rate deck"
    message.set_content(
        "Grüße, neue Preise ab 1. Juni — 0,012 €/min\n.leading dot line\n..two dots\n",
        cte="8bit",
    )
    payload = random.Random(attachment_size).randbytes(attachment_size)
    message.add_attachment(payload, maintype="application", subtype="zip", filename="deck.zip")
    raw = message.as_bytes(policy=SMTP_POLICY)
    assert b"\r\n.leading" in raw and "Grüße".encode() in raw
    return raw


def test_message_is_queued_byte_for_byte(smtp, caplog):
    caplog.set_level(logging.INFO, logger="ingestd.smtp")
    raw = rate_deck_message()

    code, reply = send_raw(smtp.port, raw)

    assert code == 250, reply
    (item,) = smtp.queue.items()
    assert reply.decode().endswith(f"queued as {item.id}")
    assert item.read() == raw
    assert item.sha256 == hashlib.sha256(raw).hexdigest()
    assert item.source == "smtp"
    assert item.meta["mail_from"] == SENDER
    assert item.meta["rcpt_tos"] == [RECIPIENT]
    assert item.meta["helo"] == "client.vendor.example"
    assert item.meta["peer"].startswith("127.0.0.1:")
    assert [notified.id for notified in smtp.wait_notified(1)] == [item.id]
    queued_lines = [r.getMessage() for r in caplog.records if "event=smtp.queued" in r.getMessage()]
    assert len(queued_lines) == 1 and f"queue_id={item.id}" in queued_lines[0]


def test_sendmail_and_utf8_envelope(smtp):
    raw = "From: ventas@proveedor.example\r\nSubject: Tarifas\r\n\r\ncañón\r\n".encode()
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        refused = client.sendmail(
            "tarifas@proveedör.example", [RECIPIENT], raw, mail_options=["SMTPUTF8"]
        )
    assert refused == {}
    (item,) = smtp.queue.items()
    assert item.read() == raw and item.meta["mail_from"] == "tarifas@proveedör.example"


def test_null_sender_is_accepted_and_recorded_as_empty(smtp):
    # bounces reach the rates address too; the pipeline must see they have no sender to answer
    code, _ = send_raw(smtp.port, b"Subject: Undelivered Mail\r\n\r\nx\r\n", mail_from="<>")
    assert code == 250
    (item,) = smtp.queue.items()
    assert item.meta["mail_from"] == ""


def test_swaks_message_is_queued_byte_for_byte(smtp, tmp_path):
    swaks = shutil.which("swaks")
    if swaks is None:
        missing("swaks is not installed (apt-get install swaks)")
    raw = rate_deck_message(200_000)
    eml = tmp_path / "deck.eml"
    eml.write_bytes(raw.removesuffix(b"\r\n"))  # swaks ends DATA with its own CRLF "." CRLF
    done = subprocess.run(
        [swaks, "--server", f"127.0.0.1:{smtp.port}", "--from", SENDER, "--to", RECIPIENT,
         "--helo", "swaks.vendor.example", "--data", str(eml), "--hide-all"],
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (item,) = smtp.queue.items()
    assert item.read() == raw
    assert item.meta["helo"] == "swaks.vendor.example"


def test_recipients_are_case_insensitive_and_strangers_get_550(smtp):
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail(SENDER, ["postmaster@carrier.example"], b"Subject: relay?\r\n\r\nx\r\n")
        ((code, text),) = refused.value.recipients.values()
        assert code == 550 and text.startswith(b"5.1.1")
        assert smtp.queue.pending() == 0  # nothing stored for a refused recipient

        partly = client.sendmail(
            SENDER, ["victim@elsewhere.example", RECIPIENT.upper()], b"Subject: ok\r\n\r\nx\r\n"
        )
    assert partly["victim@elsewhere.example"][0] == 550
    (item,) = smtp.queue.items()
    assert item.meta["rcpt_tos"] == [RECIPIENT.upper()]


def test_over_the_size_limit_is_552_and_nothing_is_queued(smtp):
    big = b"Subject: too big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (5 * MB // 1000)

    with pytest.raises(smtplib.SMTPSenderRefused) as declared:  # SIZE= at MAIL
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=20) as client:
            client.sendmail(SENDER, [RECIPIENT], big)
    assert declared.value.smtp_code == 552

    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=20) as client:  # no SIZE: after DATA
        client.ehlo()
        assert client.mail(SENDER)[0] == 250 and client.rcpt(RECIPIENT)[0] == 250
        code, _ = client.data(big)
        assert code == 552
        assert smtp.queue.pending() == 0
        # the session is still usable for a message within the limit
        assert client.mail(SENDER)[0] == 250 and client.rcpt(RECIPIENT)[0] == 250
        assert client.data(b"Subject: small\r\n\r\nok\r\n")[0] == 250
    assert smtp.queue.pending() == 1


def test_bare_lf_dot_does_not_end_data(smtp):
    # SMTP smuggling: <LF>.<CR><LF> must not end the message and start a second one
    sock = socket.create_connection(("127.0.0.1", smtp.port))
    talk = Dialogue(sock)
    try:
        assert talk.reply()[0].startswith(b"220")
        assert talk.command(b"EHLO client.vendor.example")[-1].startswith(b"250")
        assert talk.command(b"MAIL FROM:<" + SENDER.encode() + b">")[0].startswith(b"250")
        assert talk.command(b"RCPT TO:<" + RECIPIENT.encode() + b">")[0].startswith(b"250")
        assert talk.command(b"DATA")[0].startswith(b"354")
        body = (
            b"Subject: first\r\n\r\nhello\n.\r\nMAIL FROM:<ceo@carrier.example>\r\n"
            b"RCPT TO:<" + RECIPIENT.encode() + b">\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"
        )
        talk.send(body + b".\r\n")
        assert talk.reply()[0].startswith(b"250")
        assert talk.command(b"QUIT")[0].startswith(b"221")
    finally:
        talk.close()
    (item,) = smtp.queue.items()
    assert item.read() == body


def test_twenty_concurrent_senders_all_get_250(smtp):
    senders = 20
    together = threading.Barrier(senders, timeout=20)
    results: list[tuple[int, bytes] | BaseException] = [b""] * senders  # type: ignore[list-item]

    def sender(n: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", smtp.port, timeout=20) as client:
                together.wait()  # all 20 sessions are open at once
                client.ehlo(f"sender{n}.example")
                client.mail(SENDER)
                client.rcpt(RECIPIENT)
                results[n] = client.data(b"Subject: deck %d\r\n\r\nrates\r\n" % n)
        except BaseException as e:
            results[n] = e

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r[0] if isinstance(r, tuple) else r for r in results] == [250] * senders
    bodies = sorted(item.read() for item in smtp.queue.items())
    assert bodies == sorted(b"Subject: deck %d\r\n\r\nrates\r\n" % n for n in range(senders))


def test_sessions_beyond_the_cap_get_421(tmp_path):
    with running_smtp(tmp_path, max_sessions=3) as smtp:
        attempts = 8
        together = threading.Barrier(attempts, timeout=20)
        outcomes: list[object] = [None] * attempts

        def sender(n: int) -> None:
            try:
                client = smtplib.SMTP("127.0.0.1", smtp.port, timeout=20)
            except smtplib.SMTPConnectError as e:
                outcomes[n] = (e.smtp_code, e.smtp_error)
                together.wait()
                return
            with client:
                together.wait()  # the admitted sessions stay open until every attempt is made
                outcomes[n] = client.sendmail(SENDER, [RECIPIENT], b"Subject: x\r\n\r\ny\r\n")

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(attempts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        admitted = [o for o in outcomes if o == {}]
        refused = [o for o in outcomes if isinstance(o, tuple)]
        assert len(admitted) == 3 and len(refused) == 5, outcomes
        assert all(code == 421 and text.startswith(b"4.7.0 too many") for code, text in refused)
        assert smtp.queue.pending() == 3

        # a freed slot is usable again
        wait_until(_accepts(smtp.port), 20, "a free session slot")


def _accepts(port: int, *, deliver: bool = False):
    """A probe for wait_until: a session is admitted (and, with deliver, a message queued)."""

    def probe() -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                if deliver:
                    return client.sendmail(SENDER, [RECIPIENT], b"Subject: x\r\n\r\ny\r\n") == {}
                return client.noop()[0] == 250
        except smtplib.SMTPConnectError as e:
            assert e.smtp_code == 421
            return False

    return probe


def test_unwritable_queue_answers_451_and_a_retry_succeeds(smtp, caplog):
    caplog.set_level(logging.INFO, logger="ingestd.smtp")
    raw = rate_deck_message(50_000)
    with unwritable(smtp.queue.tmp):
        code, reply = send_raw(smtp.port, raw)
        assert code == 451 and reply.startswith(b"4.3.0"), reply
        assert smtp.queue.pending() == 0 and os.listdir(smtp.queue.tmp) == []
    assert any("event=smtp.store_failed" in r.getMessage() for r in caplog.records)
    assert smtp.notified == []

    code, _ = send_raw(smtp.port, raw)  # the sender's retry, once the disk is fixed
    assert code == 250
    (item,) = smtp.queue.items()
    assert item.read() == raw


def test_daemon_killed_right_after_250_keeps_the_message(tmp_path):
    config_path = write_config(tmp_path)
    raw = rate_deck_message(100_000)
    with daemon_process(config_path) as (process, port, recovered):
        assert recovered == 0
        code, reply = send_raw(port, raw)
        assert code == 250, reply
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL

    with daemon_process(config_path) as (process, port, recovered):  # the restart
        queue = InboundQueue(tmp_path / "state" / "queue")
        (item,) = queue.items()
        assert item.read() == raw and item.attempts in (0, 1)
        # claimed before the kill → handed back by recover; the attempt counts once the claim
        # finished (the kill may land between the claim's rename and its attempt record)
        assert item.attempts <= recovered <= 1
        assert os.listdir(queue.processing) == [] and os.listdir(queue.tmp) == []
        assert send_raw(port, b"Subject: after restart\r\n\r\nok\r\n")[0] == 250


def test_starttls_required_and_working(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    with running_smtp(
        tmp_path, tls_cert_file=str(cert), tls_key_file=str(key), require_starttls=True
    ) as smtp:
        raw = rate_deck_message(30_000)
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls") and not client.has_extn("auth")
            assert client.mail(SENDER)[0] == 530  # nothing before STARTTLS
            client.rset()
            context = ssl.create_default_context(cafile=str(cert))  # verifies the certificate
            assert client.starttls(context=context)[0] == 220
            client.ehlo()
            assert not client.has_extn("starttls") and not client.has_extn("auth")
            assert client.sendmail(SENDER, [RECIPIENT], raw) == {}
        (item,) = smtp.queue.items()
        assert item.read() == raw


def test_failed_tls_handshake_frees_the_session(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ingestd.smtp")
    cert, key = self_signed_certificate(tmp_path)
    with running_smtp(
        tmp_path, tls_cert_file=str(cert), tls_key_file=str(key), max_sessions=1
    ) as smtp:
        sock = socket.create_connection(("127.0.0.1", smtp.port))
        talk = Dialogue(sock)
        try:
            assert talk.reply()[0].startswith(b"220")
            assert talk.command(b"EHLO scanner.example")[-1].startswith(b"250")
            assert talk.command(b"STARTTLS")[0].startswith(b"220")
            talk.send(b"this is not a TLS ClientHello\r\n" * 4)
            assert sock.recv(4096) == b""  # the server gives up on the connection
        finally:
            talk.close()
        # the only session slot is free again: a whole transaction goes through
        wait_until(_accepts(smtp.port, deliver=True), 20, "a delivery on the freed slot")
        assert any("event=smtp.tls_failed" in r.getMessage() for r in caplog.records)
        assert smtp.queue.pending() == 1


def test_lmtp_replies_once_per_recipient(tmp_path):
    second = "decks@carrier.example"
    socket_path = tmp_path / "lmtp.sock"
    with running_smtp(
        tmp_path, listen="", recipients=[RECIPIENT, second], lmtp_socket=str(socket_path)
    ) as smtp:
        assert smtp.listener is not None and smtp.listener.port is None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(socket_path))
        talk = Dialogue(sock)
        raw = rate_deck_message(20_000)
        try:
            assert talk.reply()[0].startswith(b"220")
            assert talk.command(b"HELO postfix.local")[0].startswith(b"500")  # LMTP: LHLO only
            assert talk.command(b"LHLO postfix.local")[-1].startswith(b"250")
            assert talk.command(b"MAIL FROM:<" + SENDER.encode() + b">")[0].startswith(b"250")
            assert talk.command(b"RCPT TO:<" + RECIPIENT.encode() + b">")[0].startswith(b"250")
            assert talk.command(b"RCPT TO:<nobody@carrier.example>")[0].startswith(b"550")
            assert talk.command(b"RCPT TO:<" + second.encode() + b">")[0].startswith(b"250")
            assert talk.command(b"DATA")[0].startswith(b"354")
            talk.send(raw.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            replies = [talk.reply(), talk.reply()]  # one per accepted recipient
            assert all(r[0].startswith(b"250 2.0.0") for r in replies)
            assert talk.command(b"NOOP")[0].startswith(b"250")  # nothing left unread
            assert talk.command(b"QUIT")[0].startswith(b"221")
        finally:
            talk.close()
        (item,) = smtp.queue.items()
        assert item.read() == raw and item.source == "lmtp"
        assert item.meta["rcpt_tos"] == [RECIPIENT, second]
    assert not socket_path.exists()  # removed at stop


def test_stop_closes_idle_sessions_and_refuses_new_ones(tmp_path):
    with running_smtp(tmp_path) as smtp:
        port = smtp.port
        idle = smtplib.SMTP("127.0.0.1", port, timeout=10)
    # RFC 5321 §3.8: a server that stops says 421 before it closes a session
    assert idle.getreply() == (421, f"4.3.2 {socket.gethostname()} shutting down".encode())
    assert idle.sock.recv(1) == b""
    idle.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert InboundQueue(queue_root(smtp.config)).pending() == 0
