"""``ingestd run``: the SMTP/LMTP listener on an asyncio loop, the queue worker and the IMAP
pollers in threads, wired to one pipeline (SPEC §1, §5, §7).

Start: the queue's interrupted items go back to waiting (``recover``), then the worker takes
them in order.  Stop (SIGTERM/SIGINT): the listener stops accepting and lets a message in the
middle of DATA get its answer, the worker finishes the message it is on, the pollers log out;
whatever was not finished is still in the queue or the mailbox at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
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
from ingestd.intake.imap import Disposition, ImapPoller, MessageRef
from ingestd.intake.queue import InboundQueue, QueueItem
from ingestd.intake.smtp import SmtpListener, start_smtp
from ingestd.logs import kv as _kv
from ingestd.notify import Notifier
from ingestd.pipeline import DatabaseHealth, MessageOutcome, Pipeline, TemporaryFailure
from ingestd.rates.store import Store
from ingestd.scheduler import Jobs, build_scheduler

log = logging.getLogger("ingestd.daemon")

# Seconds before a message that hit a temporary failure (DNS down) is tried again: doubling
# from the first to the last.
RETRY_DELAYS = (30.0, 1800.0)
# Seconds the worker sleeps when the queue is empty and nobody woke it (a put() by another
# process, ``ingestd import``, is found this way).
IDLE_SCAN = 2.0
# Seconds between outbox runs (the scheduler's job) when no finished message brings the next
# run forward.
OUTBOX_INTERVAL = 10.0
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
        self.pipeline = Pipeline(config, self.store)
        self.health = DatabaseHealth(self.store)
        self.notifier = Notifier(config, self.store)
        self.pipeline.after = self.after_message
        self.outbox = self.notifier.outbox
        self.jobs = Jobs(config, self.store, self.notifier, self.outbox)
        self.scheduler: BackgroundScheduler | None = None
        self.queue = InboundQueue(queue_root(config))
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.threads: list[threading.Thread] = []
        self.listener: SmtpListener | None = None

    # --- the parts --------------------------------------------------------------------------

    def precheck(self, raw: bytes) -> str | None:
        """At DATA time: a DKIM key that cannot be fetched now is answered 451, so the sender
        keeps the message and retries (SPEC §5); every other verdict is the pipeline's.  While
        the database is unreachable every message is answered 451: it could not be processed."""
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
            self.scheduler.modify_job("outbox", next_run_time=datetime.now(UTC))

    def imap_handler(self, raw: bytes, ref: MessageRef) -> Disposition:
        """An IMAP message goes through the pipeline before it is moved (SPEC §5).  While the
        database is unreachable it waits here for it a while, then stays in the mailbox."""
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
        return asyncio.run(self._main())

    async def _main(self) -> int:
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
        if smtp.listen or smtp.lmtp_socket:
            self.listener = await start_smtp(
                self.config, self.queue, on_queued=lambda item: self.wake.set(),
                precheck=self.precheck,
            )  # fmt: skip
        port = self.listener.port if self.listener else None
        log.info(
            _kv(
                "daemon.ready",
                smtp_port=port,
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
        systemd.stopping("finishing the message in hand")
        log.info(_kv("daemon.stopping"))
        if self.listener is not None:
            await self.listener.close()
        self.stopping.set()
        self.wake.set()
        for thread in self.threads:
            await asyncio.to_thread(thread.join)
        # a delivery or purge in progress finishes before the store closes
        await asyncio.to_thread(self.scheduler.shutdown, wait=True)
        self.store.close()
        log.info(_kv("daemon.stopped"))
        return 0

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


def return_path(raw: bytes) -> str | None:
    """The envelope sender the delivering server recorded (``Return-Path``; ``""`` for the
    null sender ``<>``), None when the message has none."""
    header = BytesHeaderParser(policy=compat32).parsebytes(raw).get("Return-Path")
    if header is None:
        return None
    return parseaddr(str(header))[1].lower()


def queue_root(config: Config) -> Path:
    return config.daemon.state_dir / "queue"
