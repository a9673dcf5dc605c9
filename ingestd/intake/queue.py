"""The durable inbound queue (docs/operations.md#flow, docs/mail.md#mail-in): every message from
SMTP, LMTP, IMAP or ``ingestd import`` waits here, as the exact bytes received, until the pipeline
has committed its outcome.

Layout under the root (``state_dir/queue/``), one directory per item so that a rename moves the
message and its metadata together, atomically::

    tmp/<id>/            being written by put(), or being deleted by complete()
    new/<id>/            waiting; message.eml (raw bytes) + meta.json (envelope, attempts, ...)
    processing/<id>/     claimed by a worker

Crash discipline (Mailman's switchboard: write, fsync, rename; recover at start):
- put() writes both files in tmp/, fsyncs them and the item directory, renames the directory into
  new/ and fsyncs new/: an item exists complete or not at all, and exists once put() returned;
- claim() renames new/<id> to processing/<id> (two claimers cannot both win a rename) and records
  attempts+1 durably before returning, so an attempt that kills the process is counted;
- complete() renames the item into tmp/ before deleting it, so a crash never leaves half an item
  where it could be processed again; recover() empties tmp/ and moves processing/ back to new/.
The queue never drops or duplicates an item; deciding whether a message was already imported
(same hash or Message-ID) is the pipeline's job, against the database.

Only one process may claim/release/recover a queue root (the daemon); any number of processes
may put() into it (the daemon's listeners and ``ingestd import``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingestd.durable import sync_directory

log = logging.getLogger("ingestd.queue")

MESSAGE = "message.eml"
META = "meta.json"
_META_TMP = "meta.json.tmp"


@dataclass(frozen=True)
class QueueItem:
    """One queued message; ``path`` is the raw message file where the item was last seen."""

    id: str  # "{ns timestamp:020d}-{sha256[:16]}": sorts by enqueue time, unique per message
    path: Path
    sha256: str  # of the raw bytes, hex
    source: str  # "smtp", "lmtp", "cli", "imap:<account>"
    received_at: datetime  # UTC
    attempts: int = 0  # claims that started work and did not end in release()
    size: int = 0
    not_before: datetime | None = None  # set by release(): not claimed before this time (UTC)
    deferrals: int = 0  # how often release() put it back (temporary failures)
    meta: dict[str, Any] = field(default_factory=dict)  # envelope: mail_from, rcpt_tos, peer, helo

    @property
    def directory(self) -> Path:
        return self.path.parent

    def read(self) -> bytes:
        """The raw message, byte for byte as received."""
        return self.path.read_bytes()

    def _meta_json(self) -> bytes:
        record = {
            "id": self.id,
            "sha256": self.sha256,
            "source": self.source,
            "received_at": self.received_at.isoformat(),
            "size": self.size,
            "attempts": self.attempts,
            "deferrals": self.deferrals,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "meta": self.meta,
        }
        return json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def _load(cls, directory: Path) -> QueueItem:
        record = json.loads((directory / META).read_bytes())
        not_before = record.get("not_before")
        return cls(
            id=record["id"],
            path=directory / MESSAGE,
            sha256=record["sha256"],
            source=record["source"],
            received_at=datetime.fromisoformat(record["received_at"]),
            attempts=int(record["attempts"]),
            size=int(record["size"]),
            not_before=datetime.fromisoformat(not_before) if not_before else None,
            deferrals=int(record.get("deferrals", 0)),
            meta=record.get("meta") or {},
        )


def _write_synced(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"received_at must be timezone-aware (UTC), got naive {moment}")
    return moment.astimezone(UTC)


class InboundQueue:
    """The at-least-once queue between the intake (SMTP, LMTP, IMAP, CLI) and the pipeline."""

    def __init__(self, root: Path, *, max_attempts: int = 3):
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.root = Path(root)
        self.max_attempts = max_attempts
        self.tmp = self.root / "tmp"
        self.new = self.root / "new"
        self.processing = self.root / "processing"
        for directory in (self.tmp, self.new, self.processing):
            directory.mkdir(parents=True, exist_ok=True)
        self._id_lock = threading.Lock()
        self._last_ns = 0
        # not-before times of items in new/, read once per item: claim() must not parse every
        # meta.json on every call while a DNS outage keeps thousands of items deferred
        self._not_before: dict[str, datetime | None] = {}

    # --- producers ----------------------------------------------------------------------------

    def put(
        self,
        raw: bytes,
        *,
        source: str,
        received_at: datetime | None = None,
        meta: dict[str, Any] | None = None,
    ) -> QueueItem:
        """Store ``raw`` durably; when this returns, the item survives kill -9 and power loss."""
        digest = hashlib.sha256(raw).hexdigest()
        received = _utc(received_at) if received_at is not None else datetime.now(UTC)
        meta = dict(meta or {})
        json.dumps(meta)  # refuse unserializable metadata before touching the disk
        staging = self._make_staging_dir(digest)
        item = QueueItem(
            id=staging.name,
            path=staging / MESSAGE,
            sha256=digest,
            source=source,
            received_at=received,
            size=len(raw),
            meta=meta,
        )
        try:
            _write_synced(staging / MESSAGE, bytes(raw))
            _write_synced(staging / META, item._meta_json())
            sync_directory(staging)
            target = self.new / item.id
            os.rename(staging, target)  # fails (never overwrites) if the id were taken
            sync_directory(self.new)
        except BaseException:
            # leftovers in tmp/ are harmless and recover() would remove them; try now anyway
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._not_before[item.id] = None
        stored = replace(item, path=target / MESSAGE)
        log.debug("event=queue.put queue_id=%s source=%s size=%d", item.id, source, len(raw))
        return stored

    def _make_staging_dir(self, digest: str) -> Path:
        """A fresh tmp/<id>; ids are strictly increasing within this process."""
        while True:
            with self._id_lock:
                ns = max(time.time_ns(), self._last_ns + 1)
                self._last_ns = ns
            staging = self.tmp / f"{ns:020d}-{digest[:16]}"
            try:
                staging.mkdir(mode=0o750)
            except FileExistsError:
                continue  # another process took this nanosecond for the same bytes
            return staging

    # --- the worker ---------------------------------------------------------------------------

    def claim(self) -> QueueItem | None:
        """The oldest item that is due, moved to processing/ with this attempt already counted."""
        now = datetime.now(UTC)
        for name in sorted(os.listdir(self.new)):
            not_before = self._due_time(name)
            if not_before is not None and not_before > now:
                continue
            source = self.new / name
            target = self.processing / name
            try:
                os.rename(source, target)
            except FileNotFoundError:
                self._not_before.pop(name, None)
                continue  # someone else claimed it first
            self._not_before.pop(name, None)
            try:
                sync_directory(self.processing)
                item = QueueItem._load(target)
                item = replace(item, attempts=item.attempts + 1, not_before=None)
                self._rewrite_meta(item)
            except OSError:
                # the attempt cannot be counted durably (a full disk): not claimed after all,
                # the item waits in new/ as it was instead of sitting in processing/
                os.rename(target, source)
                raise
            return item
        return None

    def complete(self, item: QueueItem) -> None:
        """Forget a claimed item: the pipeline committed its outcome in the database."""
        current = self.processing / item.id
        doomed = self.tmp / f"{item.id}.done"
        os.rename(current, doomed)
        sync_directory(self.processing)
        shutil.rmtree(doomed)
        log.debug("event=queue.complete queue_id=%s attempts=%d", item.id, item.attempts)

    def release(self, item: QueueItem, *, delay: float) -> None:
        """Put a claimed item back after a temporary failure (DNS down, database unreachable).

        The attempt is given back: a long outage must not turn good mail into poison. The item
        is not claimed again before ``delay`` seconds have passed."""
        if delay < 0:
            raise ValueError(f"delay must not be negative, got {delay}")
        not_before = datetime.now(UTC) + timedelta(seconds=delay)
        released = replace(
            item,
            attempts=max(item.attempts - 1, 0),
            deferrals=item.deferrals + 1,
            not_before=not_before,
            path=self.processing / item.id / MESSAGE,
        )
        try:
            self._rewrite_meta(released)
        except OSError as e:
            # a full disk: the item goes back all the same (this attempt stays counted and the
            # delay holds in memory only) rather than stay in processing/ until a restart
            log.error("event=queue.release_meta_failed queue_id=%s error=%s", item.id, f"{e}"[:200])
        os.rename(self.processing / item.id, self.new / item.id)
        sync_directory(self.new)
        self._not_before[item.id] = not_before
        log.debug(
            "event=queue.release queue_id=%s delay=%.3f deferrals=%d",
            item.id,
            delay,
            released.deferrals,
        )

    def recover(self) -> list[QueueItem]:
        """At start: remove half-written and half-deleted items from tmp/, and move items a dead
        worker left in processing/ back to new/ (their attempts stay counted)."""
        for leftover in sorted(os.listdir(self.tmp)):
            path = self.tmp / leftover
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            log.info("event=queue.clean_tmp entry=%s", leftover)
        sync_directory(self.tmp)
        recovered = []
        for name in sorted(os.listdir(self.processing)):
            (self.processing / name / _META_TMP).unlink(missing_ok=True)
            os.rename(self.processing / name, self.new / name)
            item = QueueItem._load(self.new / name)
            self._not_before[name] = item.not_before
            recovered.append(replace(item, path=self.new / name / MESSAGE))
            log.info("event=queue.recover queue_id=%s attempts=%d", name, item.attempts)
        sync_directory(self.new)
        sync_directory(self.processing)
        for name in os.listdir(self.new):
            (self.new / name / _META_TMP).unlink(missing_ok=True)
        return recovered

    def poison(self, item: QueueItem) -> bool:
        """True when ``item`` has used all its attempts: quarantine it instead of retrying.

        Ask after an attempt failed, and for every item recover() returned (its last attempt
        killed the process)."""
        return item.attempts >= self.max_attempts

    def pending(self) -> int:
        """Items waiting in new/, including those deferred by release()."""
        return len(os.listdir(self.new))

    @staticmethod
    def depths(root: Path) -> dict[str, int]:
        """Items waiting and being processed under ``root``, counted without creating the
        queue (``ingestd status`` may run where no daemon ever started)."""

        def count(name: str) -> int:
            folder = Path(root) / name
            return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0

        return {"waiting": count("new"), "processing": count("processing")}

    def items(self) -> list[QueueItem]:
        """Every item waiting in new/, oldest first (for status output and tests)."""
        return [
            replace(QueueItem._load(self.new / name), path=self.new / name / MESSAGE)
            for name in sorted(os.listdir(self.new))
        ]

    # --- internals ----------------------------------------------------------------------------

    def _due_time(self, name: str) -> datetime | None:
        if name not in self._not_before:
            try:
                self._not_before[name] = QueueItem._load(self.new / name).not_before
            except FileNotFoundError:
                return None  # claimed meanwhile; the rename in claim() will say so
        return self._not_before[name]

    def _rewrite_meta(self, item: QueueItem) -> None:
        """Replace meta.json atomically (tmp + fsync + rename + fsync of the item directory)."""
        directory = item.directory
        staging = directory / _META_TMP
        staging.unlink(missing_ok=True)
        try:
            _write_synced(staging, item._meta_json())
        except BaseException:
            staging.unlink(missing_ok=True)  # no half-written meta left beside the item
            raise
        os.rename(staging, directory / META)
        sync_directory(directory)
