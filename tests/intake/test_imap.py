"""The IMAP poller against a real Dovecot (docs/mail.md#imap, docs/testing.md#real-components)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from rig.dovecot import Dovecot

from ingestd.config import ImapAccount
from ingestd.intake.imap.handover import Disposition, MessageRef
from ingestd.intake.imap.poller import ImapPoller

PROCESSED = "ingestd/processed"
QUARANTINE = "ingestd/quarantine"
FAST = {"reconnect_delay": (0.1, 0.5), "retry_delay": (60.0, 60.0), "connect_timeout": 5.0}


def message(n: int) -> bytes:
    """A small message with CRLF line ends, as a server stores it."""
    return (
        f"From: Rates <rates@vendor.example>\r\nTo: rates@carrier.example\r\n"
        f"Subject: deck {n}\r\nMessage-ID: <deck-{n}@vendor.example>\r\n\r\n"
        f"price list {n}\r\n"
    ).encode()


@dataclass
class Recorder:
    """A real handler: remembers what it was given and answers ``disposition``; with ``dedupe``
    it answers PROCESSED for bytes it has imported before, as the pipeline does by hash."""

    disposition: Disposition = Disposition.PROCESSED
    dedupe: bool = False
    calls: list[tuple[bytes, MessageRef]] = field(default_factory=list)
    imported: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, raw: bytes, ref: MessageRef) -> Disposition:
        with self.lock:
            self.calls.append((raw, ref))
            digest = hashlib.sha256(raw).hexdigest()
            if self.dedupe and digest in self.imported:
                return Disposition.PROCESSED
            self.imported[digest] = raw
            return self.disposition

    @property
    def raws(self) -> list[bytes]:
        with self.lock:
            return [raw for raw, _ in self.calls]


def account_for(dovecot: Dovecot, tmp_path: Path, **changes: object) -> ImapAccount:
    password_file = tmp_path / "imap.pass"
    password_file.write_text(dovecot.password + "\n")
    account = ImapAccount(
        name="vendor-mailbox",
        host=dovecot.host,
        port=dovecot.port,
        security="none",
        username=dovecot.user,
        password_file=password_file,
        poll_interval=0.3,
    )
    return replace(account, **changes)


def poller_for(
    account: ImapAccount,
    handler: Callable[[bytes, MessageRef], Disposition],
    tmp_path: Path,
    poller_class: type[ImapPoller] = ImapPoller,
    **options: Any,
) -> ImapPoller:
    """A poller with test-sized delays; its state lives in ``tmp_path/state``."""
    return poller_class(
        account, handler, tmp_path / "state", stop=threading.Event(), **{**FAST, **options}
    )


def sweep_once(
    account: ImapAccount,
    handler: Callable[[bytes, MessageRef], Disposition],
    tmp_path: Path,
    **options: Any,
) -> int:
    """One ``run_once`` by a fresh poller (a fresh process, as far as the poller knows)."""
    poller = poller_for(account, handler, tmp_path, **options)
    try:
        return poller.run_once()
    finally:
        poller.close()


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {condition}")
        time.sleep(0.05)


def events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "ingestd.imap" and r.getMessage().startswith(f"event={event} ")
    ]


# how soon ``run()`` must return after stop: IDLE is checked in slices of 0.5 s, then DONE and
# LOGOUT may take 2 s each (poller.py); a stop that went unnoticed would wait for the poll
# interval or the IDLE renewal, minutes
STOP_BOUND = 5.0


@contextlib.contextmanager
def running(poller: ImapPoller, caplog: pytest.LogCaptureFixture) -> Iterator[threading.Thread]:
    """``run()`` in a thread, as the daemon uses it; stop must end it within ``STOP_BOUND``."""
    connected_before = len(events(caplog, "connected"))
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(events(caplog, "connected")) > connected_before)
        yield thread
    finally:
        poller.stop.set()
        started = time.monotonic()
        thread.join(timeout=2 * STOP_BOUND)
        assert not thread.is_alive(), "run() did not return after stop"
        assert time.monotonic() - started < STOP_BOUND, "run() took too long to notice stop"


@pytest.fixture(autouse=True)
def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ingestd.imap")


def read_state(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "state" / "imap" / "vendor-mailbox.json").read_text())


# -- one sweep --------------------------------------------------------------------------------


def test_messages_already_there_are_handed_over_and_moved_to_processed(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    first, second = message(1), message(2)
    dovecot.append(first)
    dovecot.append(second)
    handler = Recorder()
    assert sweep_once(account_for(dovecot, tmp_path), handler, tmp_path) == 2

    uidvalidity = dovecot.uidvalidity("INBOX")
    assert handler.raws == [first, second]  # byte for byte, in UID order
    assert [ref for _, ref in handler.calls] == [
        MessageRef("vendor-mailbox", "INBOX", uidvalidity, 1),
        MessageRef("vendor-mailbox", "INBOX", uidvalidity, 2),
    ]
    assert dovecot.contents("INBOX") == []
    assert dovecot.contents(PROCESSED) == [first, second]
    assert dovecot.contents(QUARANTINE) == []  # created, empty
    state = read_state(tmp_path)
    assert state["uidvalidity"] == uidvalidity and state["settled"] == {}


def test_a_second_sweep_finds_nothing_to_do(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append(message(1))
    handler = Recorder()
    poller = poller_for(account_for(dovecot, tmp_path), handler, tmp_path)
    try:
        assert poller.run_once() == 1
        assert poller.run_once() == 0
        dovecot.append(message(2))
        assert poller.run_once() == 1  # the same connection sees the new arrival
    finally:
        poller.close()
    assert handler.raws == [message(1), message(2)]


def test_quarantined_goes_to_the_quarantine_folder(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append(message(1))
    quarantining = Recorder(Disposition.QUARANTINED)
    assert sweep_once(account_for(dovecot, tmp_path), quarantining, tmp_path) == 1
    assert dovecot.contents("INBOX") == []
    assert dovecot.contents(PROCESSED) == []
    assert dovecot.contents(QUARANTINE) == [message(1)]


def test_fetching_does_not_set_seen(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append(message(1))
    dovecot.append(message(2))

    def handler(raw: bytes, ref: MessageRef) -> Disposition:
        return Disposition.RETRY if raw == message(1) else Disposition.PROCESSED

    assert sweep_once(account_for(dovecot, tmp_path), handler, tmp_path) == 2
    [left] = dovecot.messages("INBOX")
    [moved] = dovecot.messages(PROCESSED)
    assert left.raw == message(1) and rb"\Seen" not in left.flags
    assert moved.raw == message(2) and rb"\Seen" not in moved.flags


@pytest.mark.parametrize(
    ("dovecot", "method"),
    [
        # Dovecot then does not advertise MOVE: the poller must COPY, flag and UID EXPUNGE
        ({"extra_config": "imap_capability = IMAP4rev1 IDLE UIDPLUS"}, "copy+uid_expunge"),
        # …nor UIDPLUS: COPY, flag and a plain EXPUNGE
        ({"extra_config": "imap_capability = IMAP4rev1 IDLE"}, "copy+expunge"),
    ],
    indirect=["dovecot"],
    ids=["no-move", "no-move-no-uidplus"],
)
def test_servers_without_move_get_copy_and_expunge(
    dovecot: Dovecot, method: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(message(1))
    dovecot.append(message(2))

    def handler(raw: bytes, ref: MessageRef) -> Disposition:
        return Disposition.QUARANTINED if raw == message(2) else Disposition.PROCESSED

    assert sweep_once(account_for(dovecot, tmp_path), handler, tmp_path) == 2
    assert dovecot.messages("INBOX") == []  # really expunged, not only flagged
    assert dovecot.contents(PROCESSED) == [message(1)]
    assert dovecot.contents(QUARANTINE) == [message(2)]
    moves = events(caplog, "message_moved")
    assert [r.getMessage().split("method=")[1] for r in moves] == [method, method]


@pytest.mark.parametrize("dovecot", [{"tls": True}], indirect=True)
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls(dovecot: Dovecot, tmp_path: Path, security: str) -> None:
    assert dovecot.ca_file is not None
    port = dovecot.imaps_port if security == "tls" else dovecot.port
    account = account_for(dovecot, tmp_path, security=security, port=port)
    dovecot.append(message(1))
    handler = Recorder()
    trusting = ssl.create_default_context(cafile=str(dovecot.ca_file))
    assert sweep_once(account, handler, tmp_path, ssl_context=trusting) == 1
    assert handler.raws == [message(1)]

    # without trusting the test certificate the connection is refused, not silently accepted
    untrusting = poller_for(account, Recorder(), tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusting.run_once()


# -- RETRY and handler failures ---------------------------------------------------------------


def test_retry_stays_in_the_inbox_and_is_not_handed_over_in_a_busy_loop(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(message(1))
    handler = Recorder(Disposition.RETRY)
    # polling every 0.1 s: a busy poller would hand the message over again at every sweep
    account = account_for(dovecot, tmp_path, poll_interval=0.1)
    poller = poller_for(account, handler, tmp_path, use_idle=False)
    with running(poller, caplog):
        wait_until(lambda: handler.calls)
        time.sleep(1.0)
        dovecot.append(message(2))  # other mail still flows past the waiting one
        wait_until(lambda: len(handler.calls) == 2)
        time.sleep(0.5)
    assert handler.raws == [message(1), message(2)]
    assert dovecot.contents("INBOX") == [message(1), message(2)]


def test_retry_is_tried_again_after_a_growing_delay(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(message(1))
    handler = Recorder(Disposition.RETRY)
    poller = poller_for(account_for(dovecot, tmp_path), handler, tmp_path, retry_delay=(0.3, 5))
    with running(poller, caplog):
        # IDLE wakes up for the due retry: after 0.3 s, then 0.6 s more
        wait_until(lambda: len(handler.calls) >= 3)
        handler.disposition = Disposition.PROCESSED
        wait_until(lambda: dovecot.contents(PROCESSED) == [message(1)])
    assert 4 <= len(handler.calls) <= 5  # 0.3 + 0.6 + 1.2 s of delays, no busy loop
    delays = [r.getMessage().split("retry_in=")[1] for r in events(caplog, "retry_scheduled")]
    assert delays[:3] == ["0.3s", "0.6s", "1.2s"]


def test_a_handler_crash_is_logged_and_retried_and_the_poller_lives_on(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[bytes] = []

    def flaky(raw: bytes, ref: MessageRef) -> Disposition:
        calls.append(raw)
        if len(calls) == 1:
            raise ValueError("the database went away")
        return Disposition.PROCESSED

    dovecot.append(message(1))
    poller = poller_for(account_for(dovecot, tmp_path), flaky, tmp_path, retry_delay=(0.2, 1))
    with running(poller, caplog) as thread:
        wait_until(lambda: dovecot.contents(PROCESSED) == [message(1)])
        assert thread.is_alive()
    assert calls == [message(1), message(1)]
    [failure] = events(caplog, "handler_failed")
    assert failure.exc_info is not None and "the database went away" in caplog.text


# -- watching: IDLE, polling, stop --------------------------------------------------------------


def test_messages_appended_during_idle_are_handled_within_seconds(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Recorder()
    # a poll interval far beyond the test: only IDLE can deliver in time
    account = account_for(dovecot, tmp_path, poll_interval=3600)
    poller = poller_for(account, handler, tmp_path)
    with running(poller, caplog):
        assert "idle=True" in events(caplog, "connected")[0].getMessage()
        time.sleep(0.3)  # the poller is in IDLE now
        for n in (1, 2):
            appended = time.monotonic()
            dovecot.append(message(n))
            wait_until(lambda n=n: dovecot.contents(PROCESSED)[-1:] == [message(n)])
            assert time.monotonic() - appended < 10  # the poll interval is an hour
    assert handler.raws == [message(1), message(2)]


class DeliveredAsIdleStarts(ImapPoller):
    """Mail delivered between the poller's last search and its IDLE command: Dovecot announces
    it right behind its ``+ idling``, in the same packet."""

    dovecot: Dovecot
    delivery: bytes | None = None

    def _wait_for_change(self) -> None:
        raw, self.delivery = self.delivery, None
        if raw is not None:
            self.dovecot.append(raw)
        super()._wait_for_change()


@pytest.mark.parametrize("dovecot", [{"tls": True}], indirect=True)
@pytest.mark.parametrize("security", ["none", "tls", "starttls"])
def test_mail_delivered_as_idle_starts_is_handled_at_once(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture, security: str
) -> None:
    handler = Recorder()
    port = dovecot.imaps_port if security == "tls" else dovecot.port
    # a poll interval far beyond the test, and IDLE renewed only after 10 minutes
    account = account_for(dovecot, tmp_path, security=security, port=port, poll_interval=3600)
    trusting = ssl.create_default_context(cafile=str(dovecot.ca_file))
    poller = poller_for(
        account, handler, tmp_path, poller_class=DeliveredAsIdleStarts, ssl_context=trusting
    )
    poller.dovecot, poller.delivery = dovecot, message(1)
    with running(poller, caplog):
        wait_until(lambda: dovecot.contents(PROCESSED) == [message(1)], timeout=10)
    assert handler.raws == [message(1)]
    assert "idle=True" in events(caplog, "connected")[0].getMessage()


def test_polling_mode_when_idle_is_not_used(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Recorder()
    account = account_for(dovecot, tmp_path, poll_interval=0.3, idle_renew=3600)
    poller = poller_for(account, handler, tmp_path, use_idle=False)
    with running(poller, caplog):
        assert "idle=False" in events(caplog, "connected")[0].getMessage()
        dovecot.append(message(1))
        wait_until(lambda: dovecot.contents(PROCESSED) == [message(1)])
    assert handler.raws == [message(1)]
    assert events(caplog, "idle_ended") == []


def test_idle_is_renewed(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Recorder()
    account = account_for(dovecot, tmp_path, poll_interval=3600, idle_renew=0.4)
    poller = poller_for(account, handler, tmp_path)
    with running(poller, caplog):
        wait_until(lambda: len(events(caplog, "idle_ended")) >= 2)
        dovecot.append(message(1))  # a renewed IDLE still hears about new mail
        wait_until(lambda: handler.calls)
    assert all("reason=renew" in r.getMessage() for r in events(caplog, "idle_ended")[:2])
    assert events(caplog, "connection_failed") == []


# -- failures: dead connections, restarts, crashes ----------------------------------------------


def test_imap_process_killed_mid_idle_reconnects_and_misses_nothing(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Recorder()
    account = account_for(dovecot, tmp_path, poll_interval=3600)
    poller = poller_for(account, handler, tmp_path)
    with running(poller, caplog):
        dovecot.append(message(1))
        wait_until(lambda: dovecot.contents(PROCESSED) == [message(1)])
        time.sleep(0.3)  # back in IDLE
        assert len(dovecot.kill_imap_sessions()) == 1
        dovecot.append(message(2))  # arrives while the poller has no connection
        wait_until(lambda: dovecot.contents(PROCESSED) == [message(1), message(2)])
    assert handler.raws == [message(1), message(2)]
    assert len(events(caplog, "connection_failed")) == 1
    assert len(events(caplog, "connected")) == 2


def test_dovecot_restart_reconnects_with_growing_delays(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Recorder()
    account = account_for(dovecot, tmp_path, poll_interval=3600)
    poller = poller_for(account, handler, tmp_path, reconnect_delay=(0.2, 1.0))
    with running(poller, caplog):
        dovecot.stop()
        wait_until(lambda: len(events(caplog, "connection_failed")) >= 4)
        failures = events(caplog, "connection_failed")
        # delays of 0.1–0.2, 0.2–0.4, 0.4–0.8, 0.5–1 s…, each waited before the next attempt:
        # a handful of attempts, not a busy loop
        delays = [float(r.getMessage().split("retry_in=")[1].rstrip("s")) for r in failures]
        assert delays[0] <= 0.2 and max(delays) > 0.4 and max(delays) <= 1.0
        for before, after, delay in zip(failures, failures[1:], delays, strict=False):
            assert after.created - before.created >= delay - 0.05, (delays, failures)
        dovecot.start()
        dovecot.append(message(1))
        wait_until(lambda: dovecot.contents(PROCESSED) == [message(1)])
    assert handler.raws == [message(1)]


def test_crash_after_handling_before_move_hands_over_again_and_imports_once(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.append(message(1))
    pipeline = Recorder(dedupe=True)  # the real pipeline dedupes by hash of the raw bytes

    def commit_then_die(raw: bytes, ref: MessageRef) -> Disposition:
        pipeline(raw, ref)  # committed…
        raise SystemExit("killed before the poller heard the outcome")

    account = account_for(dovecot, tmp_path)
    crashing = poller_for(account, commit_then_die, tmp_path)
    with pytest.raises(SystemExit):
        crashing.run_once()
    assert dovecot.contents("INBOX") == [message(1)]  # not moved: the outcome was never heard

    assert sweep_once(account, pipeline, tmp_path) == 1
    assert pipeline.raws == [message(1), message(1)]  # handed over again…
    assert list(pipeline.imported.values()) == [message(1)]  # …and imported once
    assert dovecot.contents("INBOX") == []
    assert dovecot.contents(PROCESSED) == [message(1)]


class DiesBeforeMove(ImapPoller):
    """A poller killed after it recorded the outcome, before the MOVE reached the server."""

    def _move(self, client: IMAPClient, uid: int, disposition: Disposition) -> None:
        raise SystemExit("killed before the move")


def test_recorded_outcome_is_moved_at_restart_without_handing_over_again(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.append(message(1))
    account = account_for(dovecot, tmp_path)
    first = Recorder(Disposition.QUARANTINED)
    with pytest.raises(SystemExit):
        poller_for(account, first, tmp_path, DiesBeforeMove).run_once()
    assert first.raws == [message(1)]
    assert read_state(tmp_path)["settled"] == {"1": "quarantined"}

    second = Recorder(Disposition.PROCESSED)
    assert sweep_once(account, second, tmp_path) == 0
    assert second.calls == []  # nothing fetched again
    assert dovecot.contents(QUARANTINE) == [message(1)]  # the recorded outcome, not a new one
    assert read_state(tmp_path)["settled"] == {}


def test_uidvalidity_change_forgets_tracked_uids(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.create_folder("vendor")
    dovecot.append(message(1), folder="vendor")
    account = account_for(dovecot, tmp_path, folder="vendor")
    with pytest.raises(SystemExit):
        poller_for(account, Recorder(Disposition.QUARANTINED), tmp_path, DiesBeforeMove).run_once()
    assert read_state(tmp_path)["settled"] == {"1": "quarantined"}

    # the folder is replaced: its new first message has UID 1 again, under a new UIDVALIDITY
    old, new = dovecot.recreate_folder("vendor")
    assert old != new
    assert dovecot.append(message(2), folder="vendor") == 1

    handler = Recorder(Disposition.PROCESSED)
    assert sweep_once(account, handler, tmp_path) == 1
    # the stale "UID 1 is quarantined" must not be applied to the new UID 1
    assert handler.calls == [(message(2), MessageRef("vendor-mailbox", "vendor", new, 1))]
    assert dovecot.contents(PROCESSED) == [message(2)]
    assert dovecot.contents(QUARANTINE) == []
    assert read_state(tmp_path) | {"settled": None} == {
        "version": 1,
        "account": "vendor-mailbox",
        "folder": "vendor",
        "uidvalidity": new,
        "settled": None,
    }
    [changed] = events(caplog, "uidvalidity_changed")
    assert f"old={old} new={new}" in changed.getMessage()


def test_an_unreadable_state_file_starts_afresh(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state" / "imap" / "vendor-mailbox.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 1, "folder": "INBOX", "uidval')  # torn by hand, not by us
    dovecot.append(message(1))
    handler = Recorder()
    # safe: at worst a message is handed over twice, and the handler dedupes
    assert sweep_once(account_for(dovecot, tmp_path), handler, tmp_path) == 1
    assert handler.raws == [message(1)]
    assert len(events(caplog, "state_unreadable")) == 1
    assert read_state(tmp_path)["uidvalidity"] == dovecot.uidvalidity("INBOX")
