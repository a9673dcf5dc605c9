"""IMAP intake: one poller per configured mailbox (SPEC §5 "IMAP").

The poller follows parsedmarc/mailsuite's mailbox shape — fetch, hand over, move — with the order
that keeps mail safe: a message's raw bytes (``BODY.PEEK[]``, so ``\\Seen`` is never set by
reading) go to a handler, and the message leaves the folder only after the handler returned its
outcome, which the handler has committed (e.g. to the durable inbound queue) before returning.

Delivery is at least once. A crash after the handler committed but before the outcome was
recorded here hands the same bytes over again at the next start; so does a UIDVALIDITY change,
after which every tracked UID is meaningless and the folder is searched afresh. Both are safe
because the pipeline recognises a message by the hash of its raw bytes (SPEC §5 "Idempotency")
and answers PROCESSED for one it already has, so it is moved but imported once.

What is tracked per account, in ``state_dir/imap/<account>.json`` (written atomically):
the folder, its UIDVALIDITY and the UIDs whose outcome is known but which are not moved yet, so
that a restart or reconnect moves them without fetching them again. RETRY outcomes are kept in
memory only, with a growing delay, so a temporarily failing message is neither lost nor fetched
in a busy loop, and a restart tries it again at once.

The mailbox is watched with IDLE when the server offers it (renewed every ``idle_renew``
seconds) and polled every ``poll_interval`` seconds otherwise; in both cases every connect and
every wake-up is followed by a full ``UID SEARCH``, never by trusting EXISTS counts.

What the poller is doing is published for ``ingestd status`` (another process) in
``state_dir/imap/<account>.status.json``, replaced atomically at each change: the connection
state (``connecting``, ``connected``, ``idle``, ``polling``, ``backoff``, ``stopped``) and since
when, the last error, the next attempt, the last complete sweep, and the daemon's pid.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError

from ingestd.config import ImapAccount
from ingestd.errors import IngestdError
from ingestd.logs import kv as _kv

LOG = logging.getLogger("ingestd.imap")

_STATE_VERSION = 1
_DELETED = rb"\Deleted"
# idle_check slices: short, so a stop request is noticed within about a second
_IDLE_SLICE = 0.5
# an idle_check that returns nothing in less than this share of its timeout saw EOF or an error
_EARLY_SHARE = 0.5
# …and only this many in a row count as a dead connection: one early empty answer can be a
# stray TLS record (a session ticket), but a closed socket answers early every time
_EARLY_EMPTY_LIMIT = 3
# a connection that lasted this long was healthy: the next failure starts the delays afresh
_HEALTHY_AFTER = 30.0
# how long DONE and LOGOUT may take when stopping, so a silent network cannot hold up a stop
_GOODBYE_TIMEOUT = 2.0


class Disposition(enum.StrEnum):
    """What became of a message, as the handler reports it."""

    PROCESSED = "processed"  # committed: move it to the processed folder
    QUARANTINED = "quarantined"  # committed as held: move it to the quarantine folder
    RETRY = "retry"  # temporary failure: leave it in the folder, try again later


@dataclass(frozen=True)
class MessageRef:
    """Where a message came from; (account, folder, uidvalidity, uid) names it uniquely."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


Handler = Callable[[bytes, MessageRef], Disposition]


class ConnectionLost(Exception):
    """The server went away without an error from the socket (EOF in IDLE, BYE)."""


# errors that mean "this connection is unusable": drop it and reconnect after a delay
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # socket errors, timeouts, TLS failures
    IMAPClientError,  # NO/BAD answers, aborts (IMAPClientAbortError), failed login
    ConnectionLost,
    IngestdError,  # the password file cannot be read: an operator fixes it, we keep trying
)


@dataclass
class _Tracked:
    """The persisted part of the poller's memory (see the module docstring)."""

    folder: str | None = None
    uidvalidity: int | None = None
    settled: dict[int, Disposition] = field(default_factory=dict)  # outcome known, not moved

    def as_json(self, account: str) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "account": account,
            "folder": self.folder,
            "uidvalidity": self.uidvalidity,
            "settled": {str(uid): str(d) for uid, d in sorted(self.settled.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Tracked:
        if data.get("version") != _STATE_VERSION:
            raise ValueError(f"unknown state version {data.get('version')!r}")
        return cls(
            folder=data["folder"],
            uidvalidity=data["uidvalidity"],
            settled={int(uid): Disposition(d) for uid, d in data["settled"].items()},
        )


class ConnectionState(enum.StrEnum):
    """What a poller is doing, as ``ingestd status`` shows it."""

    CONNECTING = "connecting"  # started, first connection not made yet
    CONNECTED = "connected"  # logged in, searching and handing over
    IDLE = "idle"  # waiting in IDLE for news
    POLLING = "polling"  # waiting for the next poll (no IDLE)
    BACKOFF = "backoff"  # the connection failed; waiting before the next attempt
    STOPPED = "stopped"  # the daemon stopped the poller


# the states in which the poller holds a working connection
CONNECTED_STATES = frozenset(
    {ConnectionState.CONNECTED, ConnectionState.IDLE, ConnectionState.POLLING}
)


@dataclass
class AccountStatus:
    """The published part of a poller's life: the ``<account>.status.json`` file."""

    account: str
    state: ConnectionState
    since: str  # ISO time the state began (for backoff: the first failure in a row)
    host: str
    port: int
    folder: str
    pid: int
    last_sweep: str | None = None  # the last complete search and hand-over
    last_error: str | None = None  # the most recent failure, kept after a reconnect
    last_error_at: str | None = None
    retry_at: str | None = None  # backoff only: the next connection attempt
    updated_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": str(self.state)}


def status_path(state_dir: Path, account: str) -> Path:
    return Path(state_dir) / "imap" / f"{quote(account, safe='')}.status.json"


def read_status(state_dir: Path, account: str) -> dict[str, Any]:
    """What the daemon last published for ``account``, with ``connected`` and ``running``
    (whether the process that wrote it is alive); state ``unknown`` when nothing was written
    (the daemon never ran with this account) or the file cannot be read."""
    path = status_path(state_dir, account)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = ConnectionState(data["state"])
        pid = int(data["pid"])
    except FileNotFoundError:
        return {"account": account, "state": "unknown", "connected": False, "running": False}
    except (OSError, ValueError, KeyError, TypeError) as e:
        return {
            "account": account,
            "state": "unknown",
            "connected": False,
            "running": False,
            "last_error": f"status file {path} unreadable: {e}",
        }
    running = state is not ConnectionState.STOPPED and _alive(pid)
    return {**data, "connected": running and state in CONNECTED_STATES, "running": running}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process (the daemon's), alive
    return True


def _now(offset: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).isoformat(timespec="seconds")


@dataclass
class _Retry:
    attempts: int
    due: float  # time.monotonic()


class ImapPoller:
    """Watches one account's folder and hands each message to ``handler`` (SPEC §5)."""

    def __init__(
        self,
        account: ImapAccount,
        handler: Handler,
        state_dir: Path,
        *,
        stop: threading.Event,
        log: logging.Logger | logging.LoggerAdapter = LOG,
        connect_timeout: float = 30.0,
        read_timeout: float = 120.0,
        ssl_context: ssl.SSLContext | None = None,
        use_idle: bool = True,
        reconnect_delay: tuple[float, float] = (1.0, 300.0),
        retry_delay: tuple[float, float] = (60.0, 3600.0),
    ) -> None:
        """``reconnect_delay`` and ``retry_delay`` are (first, maximum) seconds of two doubling
        delays: between connection attempts, and before a RETRY message is fetched again.
        ``use_idle=False`` polls even when the server offers IDLE."""
        self.account = account
        self.stop = stop  # set it to make run() return
        self._handler = handler
        self._state_path = Path(state_dir) / "imap" / f"{quote(account.name, safe='')}.json"
        self._log = log
        self._timeout = SocketTimeout(connect=connect_timeout, read=read_timeout)
        self._ssl_context = ssl_context
        self._use_idle = use_idle
        self._reconnect_delay = reconnect_delay
        self._retry_delay = retry_delay
        self._random = random.Random()
        self._client: IMAPClient | None = None
        self._connected_since: float | None = None
        self._capabilities: frozenset[bytes] = frozenset()
        self._tracked: _Tracked | None = None
        self._retries: dict[int, _Retry] = {}
        self._status = AccountStatus(
            account=account.name,
            state=ConnectionState.CONNECTING,
            since=_now(),
            host=account.host,
            port=account.port,
            folder=account.folder,
            pid=os.getpid(),
        )
        self._status_path = status_path(Path(state_dir), account.name)
        self._status_failed = False

    # -- public -----------------------------------------------------------------------------

    def run(self) -> None:
        """Watch the folder until ``stop`` is set; connection failures are retried forever with
        a growing delay, because the daemon must outlive a mail server's outage."""
        self._info("poller_started", host=self.account.host, port=self.account.port)
        self._publish(ConnectionState.CONNECTING)
        failures = 0  # since the last healthy connection
        try:
            while not self.stop.is_set():
                try:
                    self._ensure_connected()
                    # again until nothing is new: mail that arrives during a sweep is announced
                    # in the answers to its SEARCH/FETCH/MOVE, and IDLE does not announce it
                    # a second time
                    while not self.stop.is_set():
                        handed = self._sweep()
                        if not handed and not _take_arrivals(self._connected()):
                            break
                    self._wait_for_change()
                except Exception as e:
                    since = self._connected_since
                    if since is not None and time.monotonic() - since >= _HEALTHY_AFTER:
                        failures = 0
                    self._drop_connection()
                    delay = self._reconnect_wait(failures)
                    failures += 1
                    expected = isinstance(e, _CONNECTION_ERRORS)
                    self._publish(
                        ConnectionState.BACKOFF,
                        last_error=f"{type(e).__name__}: {e}"[:500],
                        last_error_at=_now(),
                        retry_at=_now(delay),
                    )
                    # unexpected errors are bugs: keep the traceback, but keep the mailbox watched
                    self._log.log(
                        logging.WARNING if expected else logging.ERROR,
                        _kv(
                            "connection_failed" if expected else "poller_error",
                            account=self.account.name,
                            error=f"{type(e).__name__}: {e}",
                            retry_in=f"{delay:.1f}s",
                        ),
                        exc_info=not expected,
                    )
                    self.stop.wait(delay)
        finally:
            self.close()
            self._publish(ConnectionState.STOPPED, retry_at=None)
            self._info("poller_stopped")

    def run_once(self) -> int:
        """Connect if needed, then one full search, fetch, hand-over and move; returns how many
        messages were handed to the handler. Errors are raised (and the connection dropped);
        the connection stays open for the next call until ``close()``."""
        try:
            self._ensure_connected()
            return self._sweep()
        except BaseException:
            self._drop_connection()
            raise

    def close(self) -> None:
        """Log out politely if connected; used when stopping, from the thread that runs it."""
        client, self._client = self._client, None
        self._connected_since = None
        if client is None:
            return
        try:
            client.socket().settimeout(_GOODBYE_TIMEOUT)
            client.logout()
        except _CONNECTION_ERRORS as e:
            self._log.debug(_kv("logout_failed", account=self.account.name, error=e))
            _shutdown(client, self._log)

    # -- connection -------------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        if self._client is not None:
            return
        account = self.account
        tls = account.security == "tls"
        context = self._ssl_context
        if context is None and account.security != "none":
            context = ssl.create_default_context()
        client = IMAPClient(
            account.host,
            account.port,
            ssl=tls,
            ssl_context=context if tls else None,
            timeout=self._timeout,
        )
        try:
            if account.security == "starttls":
                client.starttls(context)
            client.login(account.username, account.password())
            self._capabilities = frozenset(client.capabilities())
            for folder in (account.processed_folder, account.quarantine_folder):
                self._ensure_folder(client, folder)
            selected = client.select_folder(account.folder)
            self._client = client
            self._select(int(selected[b"UIDVALIDITY"]))
        except BaseException:
            self._client = None
            _shutdown(client, self._log)
            raise
        self._connected_since = time.monotonic()
        self._publish(ConnectionState.CONNECTED, retry_at=None)
        self._info(
            "connected",
            host=account.host,
            port=account.port,
            security=account.security,
            folder=account.folder,
            idle=self._idle_usable(),
            move="MOVE" if b"MOVE" in self._capabilities else "COPY",
        )

    def _ensure_folder(self, client: IMAPClient, folder: str) -> None:
        """Create a missing target folder (and subscribe it, so mail clients show it)."""
        if client.folder_exists(folder):
            return
        try:
            client.create_folder(folder)
        except IMAPClientError:
            if not client.folder_exists(folder):  # not a race with another poller: a real error
                raise
            return
        client.subscribe_folder(folder)
        self._info("folder_created", folder=folder)

    def _select(self, uidvalidity: int) -> None:
        """Load what is tracked and forget it when the folder's UIDVALIDITY has changed: the
        old UIDs may now name other messages. Re-handing is safe (handler dedupes by hash)."""
        if self._tracked is None:
            self._tracked = self._load_state()
        tracked = self._tracked
        folder = self.account.folder
        if tracked.folder == folder and tracked.uidvalidity == uidvalidity:
            return
        if tracked.uidvalidity is not None:
            self._log.warning(
                _kv(
                    "uidvalidity_changed",
                    account=self.account.name,
                    folder=folder,
                    old_folder=tracked.folder,
                    old=tracked.uidvalidity,
                    new=uidvalidity,
                    forgotten=len(tracked.settled),
                )
            )
        self._tracked = _Tracked(folder=folder, uidvalidity=uidvalidity)
        self._retries.clear()
        self._save_state()

    def _drop_connection(self) -> None:
        """Abandon a connection that failed: no LOGOUT, the socket may be dead."""
        client, self._client = self._client, None
        self._connected_since = None
        if client is not None:
            _shutdown(client, self._log)

    def _reconnect_wait(self, failures: int) -> float:
        """Doubling delay, drawn between half and all of it ("equal jitter") so that many
        pollers do not reconnect in lockstep."""
        first, maximum = self._reconnect_delay
        nominal = min(maximum, first * 2**failures)
        return nominal / 2 + self._random.uniform(0, nominal / 2)

    # -- one sweep --------------------------------------------------------------------------

    def _sweep(self) -> int:
        """Search the whole folder and deal with every message in it; returns hand-overs."""
        client = self._connected()
        client.noop()  # the server reports new arrivals before the search sees them
        _take_arrivals(client)  # …and this search covers what it reported so far
        uids = sorted(client.search(["UNDELETED"]))
        self._forget_gone(set(uids))
        handed = 0
        for uid in uids:
            if self.stop.is_set():
                break
            disposition = self._tracked_state().settled.get(uid)
            if disposition is None:
                if not self._retry_due(uid):
                    continue
                raw = self._fetch(client, uid)
                if raw is None:
                    continue
                disposition = self._hand_over(raw, uid)
                handed += 1
                if disposition is Disposition.RETRY:
                    self._schedule_retry(uid)
                    continue
                self._retries.pop(uid, None)
                self._tracked_state().settled[uid] = disposition
                self._save_state()  # outcome known: a restart moves it without fetching again
            self._move(client, uid, disposition)
            del self._tracked_state().settled[uid]
            self._save_state()
        else:
            self._publish(last_sweep=_now())  # every message in the folder dealt with
        return handed

    def _forget_gone(self, present: set[int]) -> None:
        """Drop what is tracked for messages no longer in the folder (moved, expunged)."""
        tracked = self._tracked_state()
        gone = [uid for uid in tracked.settled if uid not in present]
        for uid in gone:
            del tracked.settled[uid]
        for uid in [uid for uid in self._retries if uid not in present]:
            del self._retries[uid]
        if gone:
            self._save_state()

    def _fetch(self, client: IMAPClient, uid: int) -> bytes | None:
        """The message's bytes exactly as stored; PEEK leaves \\Seen alone."""
        entry = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        raw = entry.get(b"BODY[]") if entry else None
        if raw is None:
            self._info("message_vanished", uid=uid)
        return raw

    def _hand_over(self, raw: bytes, uid: int) -> Disposition:
        """Call the handler; its crash is a temporary failure, never the poller's death (the
        pipeline quarantines messages that crash it repeatedly)."""
        tracked = self._tracked_state()
        ref = MessageRef(self.account.name, self.account.folder, tracked.uidvalidity or 0, uid)
        try:
            disposition = Disposition(self._handler(raw, ref))
        except Exception:
            self._log.exception(
                _kv("handler_failed", account=ref.account, uidvalidity=ref.uidvalidity, uid=uid)
            )
            return Disposition.RETRY
        self._info(
            "message_handled",
            uidvalidity=ref.uidvalidity,
            uid=uid,
            size=len(raw),
            disposition=disposition,
        )
        return disposition

    def _retry_due(self, uid: int) -> bool:
        retry = self._retries.get(uid)
        return retry is None or retry.due <= time.monotonic()

    def _schedule_retry(self, uid: int) -> None:
        first, maximum = self._retry_delay
        attempts = self._retries[uid].attempts + 1 if uid in self._retries else 1
        delay = min(maximum, first * 2 ** (attempts - 1))
        self._retries[uid] = _Retry(attempts, time.monotonic() + delay)
        self._info("retry_scheduled", uid=uid, attempts=attempts, retry_in=f"{delay:.1f}s")

    def _next_retry_due(self) -> float | None:
        return min((r.due for r in self._retries.values()), default=None)

    def _move(self, client: IMAPClient, uid: int, disposition: Disposition) -> None:
        """MOVE when offered; otherwise COPY, flag \\Deleted and expunge — by UID with UIDPLUS,
        else a plain EXPUNGE, which also removes other messages someone flagged \\Deleted."""
        account = self.account
        target = (
            account.processed_folder
            if disposition is Disposition.PROCESSED
            else account.quarantine_folder
        )
        if b"MOVE" in self._capabilities:
            client.move([uid], target)
            method = "move"
        else:
            client.copy([uid], target)
            client.add_flags([uid], [_DELETED], silent=True)
            if b"UIDPLUS" in self._capabilities:
                client.uid_expunge([uid])
                method = "copy+uid_expunge"
            else:
                client.expunge()
                method = "copy+expunge"
        self._info("message_moved", uid=uid, target=target, method=method)

    # -- waiting ----------------------------------------------------------------------------

    def _idle_usable(self) -> bool:
        return self._use_idle and b"IDLE" in self._capabilities

    def _wait_for_change(self) -> None:
        """Return when the folder may have changed, a retry is due, or stop was requested."""
        if self._idle_usable():
            self._publish(ConnectionState.IDLE)
            self._idle()
            return
        self._publish(ConnectionState.POLLING)
        wake = time.monotonic() + self.account.poll_interval
        due = self._next_retry_due()
        if due is not None:
            wake = min(wake, due)
        self.stop.wait(max(0.1, wake - time.monotonic()))

    def _idle(self) -> None:
        """One IDLE period, ended by news from the server, the renewal time (RFC 2177: servers
        may drop an IDLE after 30 minutes), a due retry or stop. Checked in short slices so stop
        is noticed promptly; an empty answer that comes back early means the socket is closed,
        which idle_check does not report otherwise."""
        client = self._connected()
        client.idle()
        limit = time.monotonic() + self.account.idle_renew
        early_empty = 0
        reason = "renew"
        while True:
            if self.stop.is_set():
                reason = "stop"
                client.socket().settimeout(_GOODBYE_TIMEOUT)
                break
            due = self._next_retry_due()
            now = time.monotonic()
            if due is not None and due <= now:
                reason = "retry_due"
                break
            if now >= limit:
                break
            until = limit if due is None else min(limit, due)
            timeout = max(0.2, min(_IDLE_SLICE, until - now))
            started = time.monotonic()
            responses = client.idle_check(timeout=timeout)
            if not responses:
                if time.monotonic() - started < timeout * _EARLY_SHARE:
                    early_empty += 1
                    if early_empty >= _EARLY_EMPTY_LIMIT:
                        raise ConnectionLost("IDLE answered nothing early: connection closed")
                else:
                    early_empty = 0
                continue
            early_empty = 0
            if any(_is_bye(r) for r in responses):
                raise ConnectionLost(f"server said BYE during IDLE: {responses!r}")
            if not all(_is_keepalive(r) for r in responses):
                reason = "news"
                break
        client.idle_done()
        self._log.debug(_kv("idle_ended", account=self.account.name, reason=reason))

    # -- state file -------------------------------------------------------------------------

    def _load_state(self) -> _Tracked:
        """The tracked state, or a fresh one when there is none or it cannot be read (safe:
        at worst messages are handed over again, and the handler dedupes)."""
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
            return _Tracked.from_json(data)
        except FileNotFoundError:
            return _Tracked()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            self._log.warning(
                _kv("state_unreadable", account=self.account.name, path=self._state_path, error=e)
            )
            return _Tracked()

    def _save_state(self) -> None:
        """Write, fsync, rename, fsync the folder: the file is the old or the new state."""
        data = json.dumps(self._tracked_state().as_json(self.account.name), indent=1)
        folder = self._state_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        tmp = self._state_path.with_name(f".{self._state_path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._state_path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _publish(self, state: ConnectionState | None = None, **changes: Any) -> None:
        """Record a change of the connection state (``since`` moves only when the state does)
        and replace the status file; a failure to write it is logged once, never raised: the
        mailbox matters more than its report."""
        status = self._status
        if state is not None and state is not status.state:
            status.state, status.since = state, _now()
        for key, value in changes.items():
            setattr(status, key, value)
        status.updated_at = _now()
        tmp = self._status_path.with_name(f".{self._status_path.name}.{os.getpid()}.tmp")
        try:
            self._status_path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(status.as_json(), indent=1), encoding="utf-8")
            os.replace(tmp, self._status_path)  # readers see the old file or the new one
        except OSError as e:
            if not self._status_failed:
                self._log.warning(
                    _kv("status_unwritable", account=self.account.name, path=tmp, error=e)
                )
            self._status_failed = True
        else:
            self._status_failed = False

    # -- small helpers ----------------------------------------------------------------------

    def _connected(self) -> IMAPClient:
        if self._client is None:
            raise ConnectionLost("not connected")
        return self._client

    def _tracked_state(self) -> _Tracked:
        if self._tracked is None:
            raise RuntimeError("no folder selected yet")
        return self._tracked

    def _info(self, event: str, **fields: object) -> None:
        self._log.info(_kv(event, account=self.account.name, **fields))


def _take_arrivals(client: IMAPClient) -> bool:
    """Whether the server announced new messages (``* n EXISTS``) in the answers to commands
    since the last call, forgetting the announcements. imaplib keeps such unsolicited answers
    in ``untagged_responses`` (IMAPClient's own ``select_folder`` reads them there); False when
    that is not available."""
    pending = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(pending, dict):
        return False
    found = [pending.pop(key, None) for key in ("EXISTS", b"EXISTS")]
    return any(found)


def _is_keepalive(response: tuple) -> bool:
    """``* OK Still here``: the server's IDLE keepalive, not news about the folder."""
    return bool(response) and response[0] == b"OK"


def _is_bye(response: tuple) -> bool:
    return bool(response) and response[0] == b"BYE"


def _shutdown(client: IMAPClient, log: logging.Logger | logging.LoggerAdapter) -> None:
    """Close the socket of a connection we give up on; it is often already dead."""
    try:
        client.shutdown()
    except OSError as e:
        log.debug(_kv("shutdown_failed", error=e))
