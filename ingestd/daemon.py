"""``ingestd run``: the SMTP/LMTP listener on an asyncio loop, the queue worker and the IMAP
pollers in threads, wired to one pipeline (docs/operations.md#flow, docs/mail.md#mail-in,
docs/operations.md#running-as-a-service).

Start: the queue's interrupted items go back to waiting (``recover``), then the worker takes
them in order.  The SMTP/LMTP sockets are those systemd passed (socket activation) when there
are any, else the configured address and path are bound.

Stop (SIGTERM/SIGINT), at most ``[daemon] stop_timeout`` seconds: the listener keeps its
sockets but answers 421 to new connections and new transactions while a message in the middle
of DATA gets its answer, the worker finishes the message it is on (it takes no other), the
pollers log out, the scheduler finishes a running job; then exit 0.  Whatever was not finished
by then is abandoned as a crash would leave it — still in the queue or the mailbox, taken again
at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
import traceback
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from ingestd import systemd
from ingestd.auth import authenticate
from ingestd.config import Config, ConfigError, load_config
from ingestd.db.health import DatabaseHealth
from ingestd.errors import IngestdError
from ingestd.intake.imap.handover import Disposition, MessageRef
from ingestd.intake.imap.poller import ImapPoller
from ingestd.intake.queue import InboundQueue, QueueItem
from ingestd.intake.smtp import SmtpListener, start_smtp
from ingestd.logs import kv as _kv
from ingestd.message.outcome import MessageOutcome
from ingestd.message.pipeline import TemporaryFailure
from ingestd.rates.store import Store
from ingestd.scheduler import OUTBOX_INTERVAL, Jobs, build_scheduler
from ingestd.service.app import App
from ingestd.web.server import HttpServer

log = logging.getLogger("ingestd.daemon")

# Seconds before a message that hit a temporary failure (DNS down) is tried again: doubling
# from the first to the last.
RETRY_DELAYS = (30.0, 1800.0)
# Seconds the worker sleeps when the queue is empty and nobody woke it (a put() by another
# process, ``ingestd import``, is found this way).
IDLE_SCAN = 2.0
# Seconds between outbox runs (the scheduler's job) when no finished message brings the next
# run forward.
# Seconds between looks at what a stop still waits for.
STOP_POLL = 0.05
# Seconds between the idle worker's checks that the database answers, so that SMTP answers 451
# from the start of an outage, not only after a message met it.
HEALTH_INTERVAL = 5.0
# Seconds an IMAP message waits in the poller for the database to come back before it is left
# in the mailbox for the poller's next retry (minutes away).
IMAP_DATABASE_WAIT = 30.0
DATABASE_DOWN = "451 4.3.0 cannot process messages now (database unreachable); try again later"


class Daemon:
    def __init__(self, config: Config):
        self.config = config
        self.store = Store(config.database.url)
        self.store.require_schema(auto_upgrade=self.store.dialect == "sqlite")
        # the application the HTTP server answers with; its pipeline is the queue worker's
        self.app = App(config, self.store, deliver=False)
        self.pipeline = self.app.pipeline
        self.health = DatabaseHealth(self.store)
        self.notifier = self.app.notifier
        self.pipeline.after = self.after_message
        self.outbox = self.app.outbox
        self.jobs = Jobs(config, self.store, self.notifier, self.outbox, self.app.webhooks)
        self.scheduler: BackgroundScheduler | None = None
        self.queue = InboundQueue(queue_root(config))
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.threads: list[threading.Thread] = []
        self.listener: SmtpListener | None = None
        self.http: HttpServer | None = None
        self.abandoned: list[str] = []  # what was still at work when the stop timeout ran out

    # --- the parts --------------------------------------------------------------------------

    def precheck(self, raw: bytes) -> str | None:
        """At DATA time: a DKIM key that cannot be fetched now is answered 451, so the sender
        keeps the message and retries (docs/mail.md#mail-in); every other verdict is the pipeline's.
        While the database is unreachable every message is answered 451: it could not be
        processed."""
        if not self.health.up:
            return DATABASE_DOWN
        result = authenticate(raw, self.config)
        if result.status == "temperror":
            return f"451 4.4.3 cannot verify the sender now ({result.detail[:200]}); try later"
        return None

    def work(self) -> None:
        """The queue worker: one message at a time, in arrival order; while the database is
        unreachable it takes nothing and probes it instead."""
        checked = time.monotonic()
        while not self.stopping.is_set():
            if not self.health.up:
                self.health.wait_until_up(self.stopping)
                continue
            try:
                item = self.queue.claim()
            except OSError:
                log.exception(_kv("queue.claim_failed"))
                self.stopping.wait(IDLE_SCAN)
                continue
            if item is None:
                if time.monotonic() - checked >= HEALTH_INTERVAL:
                    self.health.probe()
                    checked = time.monotonic()
                self.wake.wait(IDLE_SCAN)
                self.wake.clear()
                continue
            try:
                self.process_item(item)
            except Exception:
                # a failure of the failure handling (the disk or the database went just then):
                # the item stays in the queue — recover() at the latest brings it back
                log.exception(_kv("queue.worker_error", queue_id=item.id))
                self.stopping.wait(IDLE_SCAN)
            checked = time.monotonic()

    def process_item(self, item: QueueItem) -> None:
        try:
            raw = item.read()
        except OSError:
            log.exception(_kv("queue.read_failed", queue_id=item.id))
            self.queue.release(item, delay=RETRY_DELAYS[0])
            return
        try:
            self.pipeline.process(
                raw,
                source=item.source,
                received_at=item.received_at,
                correlation_id=item.id,
                envelope_from=item.meta.get("mail_from"),
            )
        except TemporaryFailure as e:
            delay = min(RETRY_DELAYS[0] * 2**item.deferrals, RETRY_DELAYS[1])
            log.warning(_kv("queue.deferred", queue_id=item.id, delay=delay, reason=str(e)))
            self.queue.release(item, delay=delay)
            return
        except Exception as error:
            if self.health.unreachable(error):
                # not the message's fault: back to the queue with its attempt given back, taken
                # again as soon as the database answers
                log.warning(
                    _kv("queue.deferred", queue_id=item.id, delay=0, reason="database unreachable")
                )
                self.queue.release(item, delay=0)
                return
            # the pipeline counted the attempt and keeps the error: after MAX_ATTEMPTS it holds
            # the message itself; the queue's own count covers failures before that point
            log.exception(_kv("queue.failed", queue_id=item.id, attempts=item.attempts))
            if self.queue.poison(item):
                self.pipeline.quarantine_crashed(
                    raw,
                    source=item.source,
                    correlation_id=item.id,
                    error=traceback.format_exc(),
                    envelope_from=item.meta.get("mail_from"),
                )
                self.queue.complete(item)
            else:
                self.queue.release(item, delay=min(RETRY_DELAYS[0] * item.attempts, 300.0))
            return
        self.queue.complete(item)

    def after_message(self, outcome: MessageOutcome, *, source: str | None = None) -> None:
        """The notify stage, then an early outbox run so answers go out in seconds."""
        self.notifier.notify_safely(outcome, source=source)
        if self.scheduler is not None and self.scheduler.running:
            for job in ("outbox", "webhooks"):
                self.scheduler.modify_job(job, next_run_time=datetime.now(UTC))

    def imap_handler(self, raw: bytes, ref: MessageRef) -> Disposition:
        """An IMAP message goes through the pipeline before it is moved (docs/mail.md#mail-in).
        While the database is unreachable it waits here for it a while, then stays in the
        mailbox."""
        for _ in range(2):  # once more after the database came back
            if not self.health.up and not self.health.wait_up(IMAP_DATABASE_WAIT, self.stopping):
                return Disposition.RETRY
            try:
                outcome = self.pipeline.process(
                    raw,
                    source=f"imap:{ref.account}",
                    correlation_id=f"imap:{ref.account}:{ref.uidvalidity}:{ref.uid}",
                    envelope_from=return_path(raw),
                )
            except TemporaryFailure:
                return Disposition.RETRY
            except Exception as error:
                if not self.health.unreachable(error):
                    raise
                continue
            break
        else:
            return Disposition.RETRY
        held = outcome.status == "quarantined" or (
            outcome.status == "duplicate" and outcome.reason == "quarantined"
        )
        return Disposition.QUARANTINED if held else Disposition.PROCESSED

    # --- running -----------------------------------------------------------------------------

    def run(self) -> int:
        code = asyncio.run(self._main())
        if self.abandoned:
            # threads still at work past the stop timeout: exit without joining them (their
            # transactions roll back, their queue items are recovered at the next start)
            logging.shutdown()
            os._exit(code)
        return code

    async def _main(self) -> int:
        try:
            passed = activated_sockets(systemd.listen_fds_with_names())
        except OSError as e:
            raise ActivationError(f"socket activation: {e.strerror}") from None
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        recovered = self.queue.recover()
        if recovered:
            log.warning(_kv("queue.recovered", items=len(recovered)))
        self._start_thread("queue-worker", self.work)
        self.scheduler = build_scheduler(self.jobs, outbox_interval=OUTBOX_INTERVAL)
        self.scheduler.start()
        for account in self.config.imap:
            poller = ImapPoller(
                account, self.imap_handler, self.config.daemon.state_dir, stop=self.stopping
            )
            self._start_thread(f"imap-{account.name}", poller.run)
        smtp = self.config.smtp
        if smtp.listen or smtp.lmtp_socket or passed:
            self.listener = await start_smtp(
                self.config, self.queue, on_queued=lambda item: self.wake.set(),
                precheck=self.precheck, sockets=passed,
            )  # fmt: skip
        if self.config.http.listen:
            self.http = HttpServer(self.config, self.app, queue=self.queue)
            await self.http.start()
        port = self.listener.port if self.listener else None
        log.info(
            _kv(
                "daemon.ready",
                smtp_port=port,
                http_port=self.http.port if self.http else None,
                imap_accounts=len(self.config.imap),
                queue=self.queue.pending(),
            )
        )
        systemd.ready(
            f"smtp port {port or 'off'}, {len(self.config.imap)} IMAP accounts, "
            f"{self.queue.pending()} queued"
        )
        watchdog = asyncio.create_task(self._watchdog())
        await stop.wait()
        watchdog.cancel()
        await self._stop()
        return 0

    async def _stop(self) -> None:
        """The drain (see the module docstring), bounded by ``stop_timeout``."""
        loop = asyncio.get_running_loop()
        timeout = self.config.daemon.stop_timeout
        deadline = loop.time() + timeout
        systemd.stopping(f"finishing the work in hand (at most {timeout:g} s)")
        systemd.extend_timeout(timeout + 5.0)
        log.info(_kv("daemon.stopping", stop_timeout=f"{timeout:g}s"))
        self.stopping.set()
        self.wake.set()
        if self.listener is not None:
            self.listener.begin_stop()
        http = (
            asyncio.create_task(self.http.stop(max(0.0, deadline - loop.time())))
            if self.http is not None
            else None
        )
        scheduler = self.scheduler
        assert scheduler is not None
        # a delivery or purge in progress finishes before the store closes; not to_thread:
        # asyncio.run waits for the default executor's threads, and this one may not return
        ending = threading.Thread(
            target=scheduler.shutdown, kwargs={"wait": True}, name="scheduler-stop", daemon=True
        )
        ending.start()
        busy = [*self.threads, ending]
        while any(t.is_alive() for t in busy) and loop.time() < deadline:
            await asyncio.sleep(STOP_POLL)
        if self.listener is not None:
            await self.listener.drained(max(0.0, deadline - loop.time()))
            await self.listener.close(timeout=0)
        if http is not None:
            await http
        self.abandoned = [t.name for t in busy if t.is_alive()]
        if self.abandoned:
            log.warning(
                _kv(
                    "daemon.stop_timeout",
                    stop_timeout=f"{timeout:g}s",
                    abandoned=",".join(self.abandoned),
                )
            )
        else:
            self.store.close()
        log.info(_kv("daemon.stopped", abandoned=",".join(self.abandoned) or None))

    async def _watchdog(self) -> None:
        """Ping systemd's watchdog while the loop runs and the worker threads live: a hung loop
        or a dead worker stops the pings, and systemd restarts the service."""
        interval = systemd.watchdog_interval()
        while True:
            await asyncio.sleep(interval / 2 if interval else 30.0)
            alive = all(thread.is_alive() for thread in self.threads)
            if interval and alive:
                systemd.watchdog()
            systemd.status(
                f"{self.queue.pending()} queued; outbox and "
                f"{len(self.config.imap)} IMAP accounts running"
                if alive
                else "a worker thread died"
            )

    def reload(self) -> None:
        """SIGHUP: read the configuration again (vendors, policy, templates, notify lists) for
        the next messages; listeners and connections stay as they are."""
        systemd.reloading()
        try:
            fresh = load_config(self.config.path)
        except ConfigError as e:
            log.error(_kv("daemon.reload_failed", error=str(e)))
        else:
            self.config = fresh
            self.app.config = fresh
            self.app.webhooks.config = fresh
            self.pipeline.config = fresh
            self.notifier.config = fresh
            self.outbox.config = fresh
            self.jobs.config = fresh
            log.info(_kv("daemon.reloaded", config=fresh.path, vendors=len(fresh.vendors)))
        systemd.ready()

    def _start_thread(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)


class ActivationError(IngestdError):
    """The sockets systemd passed are not ones the daemon can serve."""


def activated_sockets(passed: list[tuple[str, socket.socket]]) -> dict[str, socket.socket]:
    """The sockets of socket activation by what they serve: ``FileDescriptorName=smtp`` or
    ``lmtp``; an unnamed one (``unknown``, or the socket unit's name, systemd's default) by its
    family — a Unix socket is LMTP, any other SMTP."""
    found: dict[str, socket.socket] = {}
    for position, (name, sock) in enumerate(passed):
        if name in ("smtp", "lmtp"):
            kind = name
        elif name == "unknown" or name.endswith(".socket"):
            kind = "lmtp" if sock.family == socket.AF_UNIX else "smtp"
        else:
            kind = None
        problem = None
        if kind is None:
            problem = f"is named {name!r}; name it smtp or lmtp (FileDescriptorName=)"
        elif kind in found:
            problem = f"is a second {kind} socket; pass one of each"
        elif sock.type != socket.SOCK_STREAM:
            problem = "is not a stream socket (ListenStream=)"
        if problem is not None:
            for _, s in passed:  # the ones already sorted are among them
                s.close()
            raise ActivationError(
                f"socket activation: passed fd {systemd.LISTEN_FDS_START + position} {problem}"
            )
        assert kind is not None
        found[kind] = sock
        log.info(_kv("daemon.socket_passed", kind=kind, name=name, address=_sockname(sock)))
    return found


def _sockname(sock: socket.socket) -> str:
    address = sock.getsockname()
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)


def return_path(raw: bytes) -> str | None:
    """The envelope sender the delivering server recorded (``Return-Path``; ``""`` for the
    null sender ``<>``), None when the message has none."""
    header = BytesHeaderParser(policy=compat32).parsebytes(raw).get("Return-Path")
    if header is None:
        return None
    return parseaddr(str(header))[1].lower()


def queue_root(config: Config) -> Path:
    return config.daemon.state_dir / "queue"
