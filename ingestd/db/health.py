"""Whether the database answers, as the daemon's workers last found it."""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa

from ingestd.db.engine import Database
from ingestd.logs import kv as _kv

log = logging.getLogger("ingestd.pipeline")


# Seconds between connection attempts while the database is unreachable: doubling from the
# first to the last.
PROBE_DELAYS = (1.0, 30.0)


class DatabaseHealth:
    """Whether the database answers, as the last connection attempt found it (docs/mail.md#mail-in,
    docs/operations.md#running-as-a-service).

    The queue worker and the IMAP handler report what their database work met (``unreachable``
    after an error); while the database is down the worker probes it with a growing delay
    (``wait_until_up``) and the SMTP listener reads ``up`` — a flag, never a database call on
    the event loop — to answer 451 instead of taking mail it cannot process."""

    def __init__(self, store: Database):
        self.store = store
        self.error: str | None = None  # what the last failed attempt said
        self._up = threading.Event()
        self._up.set()
        self._down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        return self._up.is_set()

    def probe(self) -> bool:
        """One connection attempt and ``SELECT 1``; records the result."""
        try:
            with self.store.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError) as e:
            self._mark_down(e)
            return False
        self._mark_up()
        return True

    def unreachable(self, error: BaseException) -> bool:
        """After ``error`` from database work: True when the database itself does not answer
        (a connection error, and a fresh connection fails too), so the message is not at
        fault; False for every other error, which counts against the message."""
        if not isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError)) and not (
            isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated
        ):
            return False
        return not self.probe()

    def wait_until_up(self, stop: threading.Event) -> bool:
        """Probe with a growing delay until the database answers (True) or ``stop`` is set."""
        delay = PROBE_DELAYS[0]
        while not self.up:
            if stop.wait(delay):
                return False
            if self.probe():
                return True
            delay = min(delay * 2, PROBE_DELAYS[1])
        return True

    def wait_up(self, timeout: float, stop: threading.Event) -> bool:
        """Wait (without probing: the worker does) until the database is back, ``timeout``
        seconds at most or until ``stop`` is set."""
        deadline = time.monotonic() + timeout
        while not self._up.wait(min(0.5, max(deadline - time.monotonic(), 0))):
            if stop.is_set() or time.monotonic() >= deadline:
                return False
        return True

    def _mark_down(self, error: BaseException) -> None:
        text = str(getattr(error, "orig", None) or error).strip().splitlines()
        with self._lock:
            self.error = (text[0] if text else type(error).__name__)[:300]
            if not self._up.is_set():
                return
            self._up.clear()
            self._down_since = time.monotonic()
        log.warning(_kv("database.unreachable", error=self.error))

    def _mark_up(self) -> None:
        with self._lock:
            if self._up.is_set():
                return
            down_for = time.monotonic() - (self._down_since or time.monotonic())
            self._up.set()
            self._down_since = None
        log.info(_kv("database.reachable", down_for=f"{down_for:.1f}s"))
