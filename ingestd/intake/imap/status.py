"""What a poller is doing, published for ``ingestd status`` (another process) in
``state_dir/imap/<account>.status.json`` and replaced atomically at each change
(docs/mail.md#imap): the connection state and since when, the last error, the next attempt, the
last complete sweep, and the daemon's pid."""

from __future__ import annotations

import enum
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ingestd.logs import kv as _kv
from ingestd.metrics import IMAP_UP


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


class StatusFile:
    """Where one account's status is published; a failure to write it is logged once, never
    raised: the mailbox matters more than its report."""

    def __init__(
        self, state_dir: Path, account: str, log: logging.Logger | logging.LoggerAdapter
    ) -> None:
        self.path = status_path(Path(state_dir), account)
        self._account = account
        self._log = log
        self._failed = False

    def write(self, status: AccountStatus) -> None:
        """Replace the file: readers see the old one or the new one (and ``/metrics`` the
        account's connection)."""
        IMAP_UP.labels(self._account).set(1 if status.state in CONNECTED_STATES else 0)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(status.as_json(), indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as e:
            if not self._failed:
                self._log.warning(
                    _kv("status_unwritable", account=self._account, path=tmp, error=e)
                )
            self._failed = True
        else:
            self._failed = False
