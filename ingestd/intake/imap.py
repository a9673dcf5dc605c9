"""IMAP intake: one poller per configured mailbox (docs/mail.md#mail-in "IMAP").

The poller follows parsedmarc/mailsuite's mailbox shape — fetch, hand over, move — with the order
that keeps mail safe: a message's raw bytes (``BODY.PEEK[]``, so ``\\Seen`` is never set by
reading) go to a handler, and the message leaves the folder only after the handler returned its
outcome, which the handler has committed (e.g. to the durable inbound queue) before returning.

Delivery is at least once. A crash after the handler committed but before the outcome was
recorded here hands the same bytes over again at the next start; so does a UIDVALIDITY change,
after which every tracked UID is meaningless and the folder is searched afresh. Both are safe
because the pipeline recognises a message by the hash of its raw bytes (docs/mail.md#mail-in
"Idempotency") and answers PROCESSED for one it already has, so it is moved but imported once.

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
state (``connecting``, ``connected``, ``idle``, ``polling``, ``backoff``, ``config_error``,
``stopped``) and since when, the last error, the next attempt, the last complete sweep, and the
daemon's pid.

Folder names are configured with ``/`` between levels and translated to the server's names after
each login (``server_folder``, docs/mail.md#imap). What the server refuses for a reason an operator
must fix — the login, a folder name — is a configuration error: its own state, the server's
words, a fixed slow retry instead of the growing reconnect delay.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ingestd.config import ImapAccount
from ingestd.durable import write_file
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
# seconds between attempts while the configuration does not fit the server (docs/mail.md#imap):
# slow, since a person must act, and fixed, so a fix is noticed within this time
CONFIG_ERROR_DELAY = 300.0
# a connection that lasted this long was healthy: the next failure starts the delays afresh
_HEALTHY_AFTER = 30.0
# how long DONE and LOGOUT may take when stopping, so a silent network cannot hold up a stop
_GOODBYE_TIMEOUT = 2.0
# a refusal with one of these response codes (RFC 5530) is the server's passing trouble, not the
# configuration's: retried like a network failure
_TRANSIENT_CODES = ("[UNAVAILABLE]", "[SERVERBUG]", "[INUSE]", "[LIMIT]")
# imapclient's wording of a refused command: "create failed: <the server's words>"
_FAILED_PREFIX = re.compile(r"^[A-Za-z ]+ failed: ")


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


class ImapConfigError(Exception):
    """The account does not fit the server and only an operator can change that: the login
    was refused, a folder can be neither selected nor created, a folder name cannot be written
    in the server's hierarchy, the password cannot be read. ``server`` holds the server's own
    words when it refused something."""

    def __init__(self, message: str, *, folder: str | None = None, server: str | None = None):
        super().__init__(f"{message}: {server}" if server else message)
        self.folder = folder
        self.server = server


class FolderNameError(ValueError):
    """A configured folder name that the server's hierarchy cannot hold (see server_folder)."""


@dataclass(frozen=True)
class PersonalNamespace:
    """Where the account's own folders live on the server: names start with ``prefix`` (``""``
    or e.g. ``"INBOX."``) and levels are joined by ``delimiter`` (None: a flat server)."""

    prefix: str = ""
    delimiter: str | None = "/"


def server_folder(name: str, namespace: PersonalNamespace) -> str:
    """The server's name of a folder configured as ``name`` (docs/mail.md#imap, folder names).

    ``/`` in a configured name always separates levels; each level is written unchanged (the
    IMAP client encodes non-ASCII as modified UTF-7) and joined with the server's delimiter, and
    the personal namespace's prefix is put in front unless the name already begins with it.
    ``INBOX`` (any case) is the inbox and never prefixed. Raises FolderNameError for an empty
    level, a level holding the server's delimiter, or several levels on a flat server."""
    levels = name.split("/")
    if not name or any(not level for level in levels):
        raise FolderNameError(
            f"folder {name!r}: empty folder level (write levels as a/b, without a leading, "
            "trailing or doubled '/')"
        )
    if len(levels) == 1 and levels[0].upper() == "INBOX":
        return "INBOX"
    delimiter = namespace.delimiter
    if delimiter is None:
        if len(levels) > 1:
            raise FolderNameError(
                f"folder {name!r}: the server has no folder hierarchy; use a one-level name"
            )
        return namespace.prefix + name
    for level in levels:
        if delimiter in level:
            raise FolderNameError(
                f"folder {name!r}: {delimiter!r} separates folder levels on this server; "
                f"write levels with '/' (e.g. {name.replace(delimiter, '/')!r})"
            )
    prefix_levels = namespace.prefix.removesuffix(delimiter).split(delimiter)
    if namespace.prefix and _begins_with(levels, prefix_levels):
        return delimiter.join(prefix_levels + levels[len(prefix_levels) :])
    return namespace.prefix + delimiter.join(levels)


def _begins_with(levels: list[str], prefix_levels: list[str]) -> bool:
    """Whether a name's first levels are the prefix's (INBOX in any case, as IMAP has it)."""
    if len(levels) <= len(prefix_levels):  # "INBOX" alone is the inbox, not the prefix
        return False
    return all(
        a == b or (a.upper() == b.upper() == "INBOX")
        for a, b in zip(levels, prefix_levels, strict=False)
    )


# errors that mean "this connection is unusable": drop it and reconnect after a delay
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # socket errors, timeouts, TLS failures
    IMAPClientError,  # NO/BAD answers, aborts (IMAPClientAbortError), temporary refusals
    ConnectionLost,
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
    CONFIG_ERROR = "config_error"  # the server refused the login or a folder; slow retries
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
    """Watches one account's folder and hands each message to ``handler`` (docs/mail.md#mail-in)."""

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
        config_error_delay: float = CONFIG_ERROR_DELAY,
    ) -> None:
        """``reconnect_delay`` and ``retry_delay`` are (first, maximum) seconds of two doubling
        delays: between connection attempts, and before a RETRY message is fetched again;
        ``config_error_delay`` is the fixed wait after a configuration error (ImapConfigError).
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
        self._config_error_delay = config_error_delay
        self._random = random.Random()
        self._client: IMAPClient | None = None
        self._server_names: dict[str, str] = {}  # configured folder name -> the server's
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
        a growing delay, because the daemon must outlive a mail server's outage; configuration
        errors every ``config_error_delay`` seconds."""
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
                except ImapConfigError as e:
                    self._drop_connection()
                    self._config_error(e)
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

    def _config_error(self, e: ImapConfigError) -> None:
        """Publish and log what the server refused, in its words, and wait the fixed delay."""
        delay = self._config_error_delay
        self._publish(
            ConnectionState.CONFIG_ERROR,
            last_error=str(e)[:500],
            last_error_at=_now(),
            retry_at=_now(delay),
        )
        self._log.error(
            _kv(
                "config_error",
                account=self.account.name,
                folder=e.folder,
                server=e.server,
                error=str(e),
                retry_in=f"{delay:.1f}s",
            )
        )
        self.stop.wait(delay)

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
        client = _login(account, self._ssl_context, self._timeout, self._log)
        try:
            self._capabilities = frozenset(client.capabilities())
            namespace = resolve_namespace(client, self._capabilities)
            names = _server_names(account, namespace)
            for folder in (account.processed_folder, account.quarantine_folder):
                if _ensure_folder(client, folder, names[folder]):
                    self._info("folder_created", folder=folder, server_folder=names[folder])
            uidvalidity = _select_source(client, account.folder, names[account.folder])
            self._client = client
            self._server_names = names
            self._select(uidvalidity)
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
            server_folder=names[account.folder],
            prefix=namespace.prefix,
            delimiter=namespace.delimiter or "NIL",
            idle=self._idle_usable(),
            move="MOVE" if b"MOVE" in self._capabilities else "COPY",
        )

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
        target = self._server_names[target]
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
        write_file(self._state_path, data.encode("utf-8"), mode=0o644)

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


@dataclass
class AccountCheck:
    """What ``ingestd check-config --connect`` found for one account (see check_account)."""

    account: str
    host: str
    port: int
    ok: bool = False
    prefix: str | None = None  # the personal namespace, once logged in
    delimiter: str | None = None
    folders: list[dict[str, str]] = field(default_factory=list)  # role, folder, server, result
    error: str | None = None  # what failed, with the server's words
    config_error: bool = False  # True: the configuration does not fit; False: the connection

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_account(
    account: ImapAccount,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
    log: logging.Logger | logging.LoggerAdapter = LOG,
) -> AccountCheck:
    """Log in as the poller does, resolve the namespace, EXAMINE the source folder and make
    sure the processed and quarantine folders exist, creating them when missing."""
    check = AccountCheck(account.name, account.host, account.port)
    client: IMAPClient | None = None
    try:
        client = _login(account, ssl_context, SocketTimeout(timeout, timeout), log)
        namespace = resolve_namespace(client, frozenset(client.capabilities()))
        check.prefix, check.delimiter = namespace.prefix, namespace.delimiter
        names = _server_names(account, namespace)
        _select_source(client, account.folder, names[account.folder], readonly=True)
        check.folders.append(
            {"role": "source", "folder": account.folder, "server": names[account.folder],
             "result": "selectable"}
        )  # fmt: skip
        for role, folder in (
            ("processed", account.processed_folder),
            ("quarantine", account.quarantine_folder),
        ):
            created = _ensure_folder(client, folder, names[folder])
            check.folders.append(
                {"role": role, "folder": folder, "server": names[folder],
                 "result": "created" if created else "exists"}
            )  # fmt: skip
        check.ok = True
    except ImapConfigError as e:
        check.error, check.config_error = str(e), True
    except _CONNECTION_ERRORS as e:
        check.error = f"{type(e).__name__}: {e}"
    finally:
        if client is not None:
            try:
                client.logout()
            except _CONNECTION_ERRORS:
                _shutdown(client, log)
    return check


# -- connecting: login, namespace, folders (shared by the poller and check_account) -----------


def _login(
    account: ImapAccount,
    ssl_context: ssl.SSLContext | None,
    timeout: SocketTimeout,
    log: logging.Logger | logging.LoggerAdapter,
) -> IMAPClient:
    """A logged-in client; ImapConfigError when the password cannot be read or the server
    refuses the login for good."""
    try:
        password = account.password()
    except IngestdError as e:
        raise ImapConfigError(str(e)) from e
    tls = account.security == "tls"
    context = ssl_context
    if context is None and account.security != "none":
        context = ssl.create_default_context()
    client = IMAPClient(
        account.host,
        account.port,
        ssl=tls,
        ssl_context=context if tls else None,
        timeout=timeout,
    )
    try:
        if account.security == "starttls":
            client.starttls(context)
        try:
            client.login(account.username, password)
        except IMAPClientError as e:
            _refused(e, f"login refused for {account.username!r}")
    except BaseException:
        _shutdown(client, log)
        raise
    return client


def resolve_namespace(client: IMAPClient, capabilities: frozenset[bytes]) -> PersonalNamespace:
    """The account's personal namespace: NAMESPACE (RFC 2342) when offered, else the
    delimiter that ``LIST "" ""`` reports, with no prefix."""
    if b"NAMESPACE" in capabilities:
        personal = client.namespace().personal
        if personal:
            prefix, delimiter = personal[0]
            return PersonalNamespace(prefix or "", _text(delimiter))
    listed = client.list_folders("", "")
    return PersonalNamespace("", _text(listed[0][1]) if listed else None)


def _text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or None


def _server_names(account: ImapAccount, namespace: PersonalNamespace) -> dict[str, str]:
    """The server's names of the account's three folders, keyed by their configured names."""
    names = {}
    for folder in (account.folder, account.processed_folder, account.quarantine_folder):
        try:
            names[folder] = server_folder(folder, namespace)
        except FolderNameError as e:
            raise ImapConfigError(str(e), folder=folder) from e
    return names


def _ensure_folder(client: IMAPClient, folder: str, name: str) -> bool:
    """Create the target folder ``folder`` (``name`` on the server) when it is missing, and
    subscribe it so mail clients show it; True when it was created."""
    if client.folder_exists(name):
        return False
    try:
        client.create_folder(name)
    except IMAPClientError as e:
        if client.folder_exists(name):  # another poller made it meanwhile
            return False
        _refused(e, f"folder {_shown(folder, name)} cannot be created", folder=folder)
    client.subscribe_folder(name)
    return True


def _select_source(client: IMAPClient, folder: str, name: str, *, readonly: bool = False) -> int:
    """Select the folder to watch (never created: a mistyped name must not become an empty
    folder watched forever); returns its UIDVALIDITY."""
    try:
        selected = client.select_folder(name, readonly=readonly)
    except IMAPClientError as e:
        _refused(e, f"folder {_shown(folder, name)} cannot be selected", folder=folder)
    return int(selected[b"UIDVALIDITY"])


def _refused(e: IMAPClientError, message: str, *, folder: str | None = None) -> NoReturn:
    """Raise the server's refusal ``e`` as it is when it is transient (the poller retries),
    else as an ImapConfigError saying ``message`` and the server's words."""
    if _transient(e):
        raise e
    raise ImapConfigError(message, folder=folder, server=_server_words(e)) from e


def _shown(folder: str, name: str) -> str:
    """A folder as an error names it: configured name and server name, each clipped so the
    server's words after them fit in the published status."""

    def clip(text: str) -> str:
        return repr(text if len(text) <= 80 else text[:80] + "…")

    if folder == name:
        return clip(folder)
    return f"{clip(folder)} (server name {clip(name)})"


def _refusal(e: BaseException) -> IMAPClientError | None:
    """The server's refusal behind ``e`` (imapclient wraps a refused login in LoginError)."""
    seen: BaseException | None = e
    innermost = None
    while isinstance(seen, IMAPClientError):
        innermost = seen
        seen = seen.__context__
    return innermost


def _transient(e: IMAPClientError) -> bool:
    """A lost connection, or a refusal the server itself calls temporary: not configuration."""
    if isinstance(e.__context__, OSError) or isinstance(_refusal(e), IMAPClientAbortError):
        return True
    return any(code in _server_words(e).upper() for code in _TRANSIENT_CODES)


def _server_words(e: IMAPClientError) -> str:
    """What the server said, without the client's wording around it."""
    refusal = _refusal(e) or e
    said = refusal.args[0] if refusal.args else str(refusal)
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return _FAILED_PREFIX.sub("", text, count=1).strip()


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
