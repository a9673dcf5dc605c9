"""What a poller remembers across restarts, per account in ``state_dir/imap/<account>.json``
(docs/mail.md#mail-in): the folder, its UIDVALIDITY and the UIDs whose outcome is known but which
are not moved yet, so that a restart or reconnect moves them without fetching them again. The
file is written atomically; one that cannot be read is started afresh, which is safe: at worst
messages are handed over again, and the handler dedupes."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ingestd.durable import write_file
from ingestd.intake.imap.handover import Disposition
from ingestd.logs import kv as _kv

STATE_VERSION = 1


@dataclass
class Tracked:
    """The persisted part of the poller's memory."""

    folder: str | None = None
    uidvalidity: int | None = None
    settled: dict[int, Disposition] = field(default_factory=dict)  # outcome known, not moved

    def as_json(self, account: str) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "account": account,
            "folder": self.folder,
            "uidvalidity": self.uidvalidity,
            "settled": {str(uid): str(d) for uid, d in sorted(self.settled.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tracked:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {data.get('version')!r}")
        return cls(
            folder=data["folder"],
            uidvalidity=data["uidvalidity"],
            settled={int(uid): Disposition(d) for uid, d in data["settled"].items()},
        )


def state_path(state_dir: Path, account: str) -> Path:
    return Path(state_dir) / "imap" / f"{quote(account, safe='')}.json"


def load_tracked(path: Path, account: str, log: logging.Logger | logging.LoggerAdapter) -> Tracked:
    """The tracked state, or a fresh one when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Tracked.from_json(data)
    except FileNotFoundError:
        return Tracked()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning(_kv("state_unreadable", account=account, path=path, error=e))
        return Tracked()


def save_tracked(path: Path, account: str, tracked: Tracked) -> None:
    """Write, fsync, rename, fsync the folder: the file is the old or the new state."""
    data = json.dumps(tracked.as_json(account), indent=1)
    write_file(path, data.encode("utf-8"), mode=0o644)
