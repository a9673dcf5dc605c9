"""The IMAP poller: one per configured mailbox (docs/mail.md#mail-in "IMAP").

The poller follows parsedmarc/mailsuite's mailbox shape — fetch, hand over, move — with the order
that keeps mail safe: a message's raw bytes (``BODY.PEEK[]``, so ``\\Seen`` is never set by
reading) go to a handler, and the message leaves the folder only after the handler returned its
outcome, which the handler has committed (e.g. to the durable inbound queue) before returning.

Delivery is at least once. A crash after the handler committed but before the outcome was
recorded here hands the same bytes over again at the next start; so does a UIDVALIDITY change,
after which every tracked UID is meaningless and the folder is searched afresh. Both are safe
because the pipeline recognises a message by the hash of its raw bytes (docs/mail.md#mail-in
"Idempotency") and answers PROCESSED for one it already has, so it is moved but imported once.

What is tracked per account is kept in a state file (``state.py``). RETRY outcomes are kept in
memory only, with a growing delay, so a temporarily failing message is neither lost nor fetched
in a busy loop, and a restart tries it again at once.

The mailbox is watched with IDLE when the server offers it (renewed every ``idle_renew``
seconds) and polled every ``poll_interval`` seconds otherwise; in both cases every connect and
every wake-up is followed by a full ``UID SEARCH``, never by trusting EXISTS counts. What the
poller is doing is published for ``ingestd status`` (``status.py``); talking to the server —
login, folders, refusals — is ``session.py``, where a configuration error gets its own state, the
server's words, and a fixed slow retry instead of the growing reconnect delay.
"""

from __future__ import annotations

import logging
import os
import random
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from imapclient import IMAPClient, SocketTimeout

from ingestd.config import ImapAccount
from ingestd.intake.imap.handover import Disposition, Handler, MessageRef
from ingestd.intake.imap.session import (
    CONNECTION_ERRORS,
    LOG,
    ConnectionLost,
    ImapConfigError,
    ensure_folder,
    is_bye,
    is_keepalive,
    login,
    resolve_namespace,
    select_source,
    server_names,
    shutdown,
    take_arrivals,
)
from ingestd.intake.imap.state import Tracked, load_tracked, save_tracked, state_path
from ingestd.intake.imap.status import AccountStatus, ConnectionState, StatusFile
from ingestd.logs import kv as _kv

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
        self._state_path = state_path(state_dir, account.name)
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
        self._tracked: Tracked | None = None
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
        self._status_file = StatusFile(Path(state_dir), account.name, log)

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
                        if not handed and not take_arrivals(self._connected()):
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
                    expected = isinstance(e, CONNECTION_ERRORS)
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
        except CONNECTION_ERRORS as e:
            self._log.debug(_kv("logout_failed", account=self.account.name, error=e))
            shutdown(client, self._log)

    # -- connection -------------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        if self._client is not None:
            return
        account = self.account
        client = login(account, self._ssl_context, self._timeout, self._log)
        try:
            self._capabilities = frozenset(client.capabilities())
            namespace = resolve_namespace(client, self._capabilities)
            names = server_names(account, namespace)
            for folder in (account.processed_folder, account.quarantine_folder):
                if ensure_folder(client, folder, names[folder]):
                    self._info("folder_created", folder=folder, server_folder=names[folder])
            uidvalidity = select_source(client, account.folder, names[account.folder])
            self._client = client
            self._server_names = names
            self._select(uidvalidity)
        except BaseException:
            self._client = None
            shutdown(client, self._log)
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
        self._tracked = Tracked(folder=folder, uidvalidity=uidvalidity)
        self._retries.clear()
        self._save_state()

    def _drop_connection(self) -> None:
        """Abandon a connection that failed: no LOGOUT, the socket may be dead."""
        client, self._client = self._client, None
        self._connected_since = None
        if client is not None:
            shutdown(client, self._log)

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
        take_arrivals(client)  # …and this search covers what it reported so far
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
            if any(is_bye(r) for r in responses):
                raise ConnectionLost(f"server said BYE during IDLE: {responses!r}")
            if not all(is_keepalive(r) for r in responses):
                reason = "news"
                break
        client.idle_done()
        self._log.debug(_kv("idle_ended", account=self.account.name, reason=reason))

    # -- state and status files ----------------------------------------------------------

    def _load_state(self) -> Tracked:
        return load_tracked(self._state_path, self.account.name, self._log)

    def _save_state(self) -> None:
        save_tracked(self._state_path, self.account.name, self._tracked_state())

    def _publish(self, state: ConnectionState | None = None, **changes: Any) -> None:
        """Record a change of the connection state (``since`` moves only when the state does)
        and replace the status file."""
        status = self._status
        if state is not None and state is not status.state:
            status.state, status.since = state, _now()
        for key, value in changes.items():
            setattr(status, key, value)
        status.updated_at = _now()
        self._status_file.write(status)

    # -- small helpers ----------------------------------------------------------------------

    def _connected(self) -> IMAPClient:
        if self._client is None:
            raise ConnectionLost("not connected")
        return self._client

    def _tracked_state(self) -> Tracked:
        if self._tracked is None:
            raise RuntimeError("no folder selected yet")
        return self._tracked

    def _info(self, event: str, **fields: object) -> None:
        self._log.info(_kv(event, account=self.account.name, **fields))
