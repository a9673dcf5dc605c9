"""One message through authenticate → extract → read → normalize → apply → notify (SPEC §1).

This is the only module that knows the order of the stages.  Every message, whatever brought it
(SMTP, LMTP, IMAP, ``ingestd import message.eml``, ``ingestd quarantine release``), goes through
``Pipeline.process``, which never loses it and never applies it twice:

- the ``messages`` row is claimed first, in its own transaction, by the hash of the raw bytes
  (the same bytes again are a duplicate) and counts the attempt, so a message whose processing
  killed the process three times is quarantined with its last error instead of crashing a
  fourth time;
- the same Message-ID from the same sender domain is a duplicate too, whatever the bytes;
- each sheet is imported in its own transaction and a sheet already imported is recognised by
  its hash (``imports.import_file``), so a crash between two sheets, or between the import and
  the end of the message, costs nothing when the message comes back;
- a DNS failure while checking DKIM is a ``TemporaryFailure``: the caller retries later (SMTP
  answers 451, the queue delays the item, IMAP leaves it in the mailbox).

Notification (SPEC §6) reads the finished ``messages`` rows whose ``notify`` is ``pending``;
``notify`` is ``none`` when nobody may be answered (an unauthenticated sender).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ingestd.auth import HOLD_REASONS, AuthResult, authenticate
from ingestd.config import Config, Vendor
from ingestd.errors import IngestdError, UsageError
from ingestd.imports import ImportOutcome, import_file
from ingestd.logs import kv as _kv
from ingestd.mail.mime import (
    Extraction,
    MessageSummary,
    extract_sheets,
    parse_message,
    read_headers,
    too_many_parts,
)
from ingestd.rates.model import iso
from ingestd.rates.schema import messages, outbox, quarantine
from ingestd.rates.store import Store, fit_row, utcnow
from ingestd.sheets.answers import Answers

log = logging.getLogger("ingestd.pipeline")

# A message whose processing started this many times without finishing is quarantined
# ("pipeline_crash") instead of being tried again.
MAX_ATTEMPTS = 3


class TemporaryFailure(IngestdError):
    """The message cannot be decided now (DNS down): try it again later."""


# Seconds between connection attempts while the database is unreachable: doubling from the
# first to the last.
PROBE_DELAYS = (1.0, 30.0)


class DatabaseHealth:
    """Whether the database answers, as the last connection attempt found it (SPEC §5, §7).

    The queue worker and the IMAP handler report what their database work met (``unreachable``
    after an error); while the database is down the worker probes it with a growing delay
    (``wait_until_up``) and the SMTP listener reads ``up`` — a flag, never a database call on
    the event loop — to answer 451 instead of taking mail it cannot process."""

    def __init__(self, store: Store):
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


@dataclass(frozen=True)
class Release:
    """How a person let a held message through (``ingestd quarantine release``); recorded in
    the provenance of every version it creates."""

    quarantine_id: int
    accept_guards: bool = True
    accept_unauthenticated: bool = False
    vendor: str | None = None  # for a sender no vendor lists
    # a message held for holding more sheets than [limits] max_sheets_per_message: a person
    # looked at it, every sheet is imported
    accept_sheet_count: bool = False
    # what the person answered about the decks (SPEC §3.5): used for every sheet of the message
    # and kept as the vendor's profile of each imported deck's layout
    answers: Answers = field(default_factory=Answers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "quarantine_id": self.quarantine_id,
            "accept_guards": self.accept_guards,
            "accept_unauthenticated": self.accept_unauthenticated,
            "vendor": self.vendor,
            "accept_sheet_count": self.accept_sheet_count,
            "answers": self.answers.as_dict() if self.answers else None,
        }


@dataclass
class MessageOutcome:
    """What became of one message: what every report (CLI, logs, mail) shows."""

    status: str  # imported | partly_imported | refused | duplicate | quarantined
    reason: str | None
    message: str
    raw_sha256: str
    correlation_id: str | None
    row_id: int | None = None
    vendor: str | None = None
    from_addr: str | None = None
    subject: str | None = None
    message_id: str | None = None
    auth: dict[str, Any] | None = None
    sheets: list[dict[str, Any]] = field(default_factory=list)  # one per attachment
    skipped: list[dict[str, Any]] = field(default_factory=list)
    quarantine_id: int | None = None
    duplicate_of: int | None = None  # the messages row that already holds this message
    # for answering (SPEC §6): the envelope sender ("" = null sender: never answered), whether
    # a robot or a list sent it (RFC 3834: never answered), and the thread to reply in
    envelope_from: str | None = None
    automated: bool = False
    references: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.status in ("imported", "duplicate") else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "message_row": self.row_id,
            "correlation_id": self.correlation_id,
            "raw_sha256": self.raw_sha256,
            "vendor": self.vendor,
            "from": self.from_addr,
            "subject": self.subject,
            "message_id": self.message_id,
            "auth": self.auth,
            "sheets": self.sheets,
            "skipped": self.skipped,
            "quarantine_id": self.quarantine_id,
            "duplicate_of": self.duplicate_of,
            "envelope_from": self.envelope_from,
            "automated": self.automated,
            "references": self.references,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageOutcome:
        """The outcome as stored in ``messages.outcome`` (for notifying after a restart)."""
        fields = {
            "status": data["status"],
            "reason": data.get("reason"),
            "message": data.get("message") or "",
            "raw_sha256": data["raw_sha256"],
            "correlation_id": data.get("correlation_id"),
            "row_id": data.get("message_row"),
            "vendor": data.get("vendor"),
            "from_addr": data.get("from"),
            "subject": data.get("subject"),
            "message_id": data.get("message_id"),
            "auth": data.get("auth"),
            "sheets": data.get("sheets") or [],
            "skipped": data.get("skipped") or [],
            "quarantine_id": data.get("quarantine_id"),
            "duplicate_of": data.get("duplicate_of"),
            "envelope_from": data.get("envelope_from"),
            "automated": bool(data.get("automated")),
            "references": data.get("references"),
        }
        return cls(**fields)


def raw_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def message_key(from_addr: str | None, message_id: str | None) -> str | None:
    """Message-ID per sender domain (SPEC §5): the key of "the same message sent again"."""
    if not message_id or not from_addr or "@" not in from_addr:
        return None
    domain = from_addr.rsplit("@", 1)[1].lower()
    return hashlib.sha256(f"{domain}\n{message_id.strip()}".encode()).hexdigest()


class Pipeline:
    """The stages, bound to one configuration and one store."""

    def __init__(self, config: Config, store: Store):
        self.config = config
        self.store = store
        self.quarantine_dir = config.daemon.state_dir / "quarantine"
        # the notify stage (``notify.Notifier.notify_safely``), called with every outcome
        self.after: Callable[..., None] | None = None

    # --- the whole message ---------------------------------------------------------------------

    def process(self, raw: bytes, *, source: str, **options: Any) -> MessageOutcome:
        """Take one message as far as it goes, then the notify stage (``after``); raises only
        ``TemporaryFailure`` (retry later) and errors of the database itself (the caller keeps
        the message and retries).  ``options``: see ``_process``."""
        outcome = self._process(raw, source=source, **options)
        if self.after is not None:
            self.after(outcome, source=source)
        return outcome

    def _process(
        self,
        raw: bytes,
        *,
        source: str,
        received_at: datetime | None = None,
        correlation_id: str | None = None,
        release: Release | None = None,
        now: float | None = None,
        envelope_from: str | None = None,
    ) -> MessageOutcome:
        received = (received_at or utcnow()).replace(tzinfo=None, microsecond=0)
        digest = raw_hash(raw)
        with self._message_lock(digest) as mine:
            if not mine:
                # another daemon sharing the database is processing these bytes right now: its
                # row says "processing" like a crashed attempt would, but it is its message
                return MessageOutcome(
                    status="duplicate",
                    reason=None,
                    message="another ingestd is processing this message",
                    raw_sha256=digest,
                    correlation_id=correlation_id,
                )
            return self._process_locked(
                raw, digest, source, received, correlation_id, release, now, envelope_from
            )

    @contextmanager
    def _message_lock(self, digest: str) -> Iterator[bool]:
        """Whether this process may work on the message (SPEC §7): on a server database a
        session lock named by its hash, held until the message is done and freed by the server
        if the process dies, so that a row in state "processing" is a crashed attempt only when
        nobody holds it.  SQLite has one daemon per file: always yes."""
        dialect = self.store.dialect
        if dialect not in ("postgresql", "mysql", "mariadb"):
            yield True
            return
        conn = self.store.engine.connect()
        try:
            if dialect == "postgresql":
                key = int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)
                take = sa.text("SELECT pg_try_advisory_lock(:k)").bindparams(k=key)
                free = sa.text("SELECT pg_advisory_unlock(:k)").bindparams(k=key)
            else:
                name = f"ingestd:{digest[:48]}"
                take = sa.text("SELECT GET_LOCK(:n, 0)").bindparams(n=name)
                free = sa.text("SELECT RELEASE_LOCK(:n)").bindparams(n=name)
            got = bool(conn.execute(take).scalar())
            conn.commit()  # a session lock: no transaction stays open while the work runs
            try:
                yield got
            finally:
                if got:
                    conn.execute(free)
                    conn.commit()
        except BaseException:
            conn.invalidate()  # never hand a connection that may still hold the lock back
            raise
        finally:
            conn.close()

    def _process_locked(
        self,
        raw: bytes,
        digest: str,
        source: str,
        received: datetime,
        correlation_id: str | None,
        release: Release | None,
        now: float | None,
        envelope_from: str | None,
    ) -> MessageOutcome:
        claim = self._claim(raw, digest, source, received, correlation_id, release)
        if isinstance(claim, MessageOutcome):
            return claim
        row_id, attempts, before = claim
        log_ctx = {"message_row": row_id, "correlation_id": correlation_id, "sha256": digest[:16]}
        if attempts > MAX_ATTEMPTS:
            last = self._last_error(row_id)
            return self._hold(
                row_id,
                raw,
                _crashed(
                    raw,
                    digest,
                    row_id,
                    correlation_id,
                    envelope_from,
                    f"processing this message failed {attempts - 1} times; "
                    f"last error: {(last or 'the process died').splitlines()[-1]}",
                ),
                detail=last or "the process died while processing it",
            )
        try:
            outcome = self._run(
                raw, digest, row_id, received, correlation_id, release, now, envelope_from
            )
        except TemporaryFailure:
            self._forget_attempt(row_id)
            raise
        except UsageError:
            # a person's mistake (a release naming no vendor) is no crash: the row is as it was
            self._unclaim(row_id, before)
            raise
        except Exception:
            self._record_error(row_id, traceback.format_exc())
            log.exception(_kv("pipeline.error", **log_ctx))
            raise
        log.info(
            _kv(
                "pipeline.done",
                **log_ctx,
                status=outcome.status,
                reason=outcome.reason,
                vendor=outcome.vendor,
                sheets=len(outcome.sheets),
            )
        )
        return outcome

    def _run(
        self,
        raw: bytes,
        digest: str,
        row_id: int,
        received: datetime,
        correlation_id: str | None,
        release: Release | None,
        now: float | None,
        envelope_from: str | None,
    ) -> MessageOutcome:
        auth = authenticate(raw, self.config, now=now)
        log.info(
            _kv(
                "pipeline.authenticated",
                correlation_id=correlation_id,
                message_row=row_id,
                result=auth.status,
                reason=auth.reason,
                sender=auth.from_addr,
                vendor=auth.vendor.id if auth.vendor else None,
                d=auth.signing_domain,
                s=auth.selector,
            )
        )
        if auth.status == "temperror":
            raise TemporaryFailure(f"cannot check the sender now: {auth.detail}")
        limits = self.config.limits
        # counted before any sheet is read; a person who released such a message checked it
        every_sheet = release is not None and release.accept_sheet_count
        message = parse_message(raw, max_parts=None if every_sheet else limits.max_mime_parts)
        extraction = extract_sheets(
            message, limits, max_sheets=None if every_sheet else limits.max_sheets_per_message
        )
        summary = extraction.message_summary
        outcome = _outcome_of(summary, digest, row_id, correlation_id, envelope_from)
        outcome.vendor = auth.vendor.id if auth.vendor else None
        outcome.from_addr = auth.from_addr or outcome.from_addr
        outcome.auth = auth.as_dict()
        outcome.skipped = [_skipped(s) for s in extraction.skipped]
        # by Message-ID only once the sender domain is proven: a forgery must not pass for,
        # nor pre-empt, the vendor's real message
        duplicate = (
            self._same_message_id(row_id, auth.from_addr, summary.message_id)
            if auth.status == "pass"
            else None
        )
        if duplicate is not None and release is None:
            outcome.status, outcome.duplicate_of = "duplicate", duplicate
            outcome.message = f"the same Message-ID was processed already (message {duplicate})"
            self._finish(row_id, outcome, state="done", notify="none")
            return outcome

        vendor = self._vendor(auth, release)
        if vendor is None:
            outcome.status, outcome.reason = "quarantined", auth.reason
            outcome.message = f"sender not authenticated: {auth.detail}"
            return self._hold(row_id, raw, outcome, detail=auth.detail)
        outcome.vendor = vendor.id
        if (held := _unreadable(message, extraction, limits.max_sheets_per_message)) is not None:
            outcome.status, (outcome.reason, outcome.message) = "quarantined", held
            return self._hold(row_id, raw, outcome, detail=outcome.message)
        return self._import_sheets(raw, row_id, received, outcome, extraction, vendor, release)

    def _vendor(self, auth: AuthResult, release: Release | None) -> Vendor | None:
        """The vendor the message is for: the authenticated one, or the one a person named
        when releasing a message whose authentication failed."""
        if auth.status == "pass" and auth.vendor is not None:
            return auth.vendor
        if release is None or not release.accept_unauthenticated:
            return None
        if release.vendor:
            return self.config.vendor(release.vendor)
        if auth.vendor is not None:
            return auth.vendor
        raise UsageError(
            "the sender matches no configured vendor: say which vendor the message is for "
            "with --vendor"
        )

    def _import_sheets(
        self,
        raw: bytes,
        row_id: int,
        received: datetime,
        outcome: MessageOutcome,
        extraction: Extraction,
        vendor: Vendor,
        release: Release | None,
    ) -> MessageOutcome:
        provenance = {"auth": _auth_provenance(outcome.auth)}
        if release is not None:
            provenance["release"] = release.as_dict()
        held: list[str] = []
        statuses: list[str] = []
        for sheet in extraction.sheets:
            results: list[ImportOutcome] = import_file(
                self.store,
                self.config,
                vendor.id,
                sheet.data,
                file_name=sheet.filename,
                received_at=received,
                subject=sheet.subject or outcome.subject,
                message_id=outcome.message_id,
                sender=outcome.from_addr,
                accept_guards=release is not None and release.accept_guards,
                authentication=provenance,
                nesting=sheet.depth,
                answers=release.answers if release is not None else None,
            )
            for result in results:
                log.info(
                    _kv(
                        "pipeline.sheet",
                        correlation_id=outcome.correlation_id,
                        message_row=row_id,
                        file=sheet.filename,
                        table=f"{result.vendor}/{result.kind}/{result.table}",
                        status=result.status,
                        version=result.version,
                        reason=result.reason,
                        rows=(result.rows or {}).get("written"),
                    )
                )
                statuses.append(result.status)
                if result.status == "held":
                    held.append(f"{sheet.filename}: {result.message}")
            outcome.sheets.append(
                {
                    "file_name": sheet.filename,
                    "path": sheet.path,
                    "format": sheet.format,
                    "sha256": sheet.sha256,
                    "outcomes": [r.as_dict() for r in results],
                }
            )
        done = [s for s in statuses if s in ("imported", "duplicate")]
        if held:
            outcome.status, outcome.reason = "quarantined", "guard_triggered"
            outcome.message = "held by a guard: " + "; ".join(held)
            return self._hold(row_id, raw, outcome, detail=outcome.message)
        if all(s == "duplicate" for s in statuses):
            outcome.status = "duplicate"
            outcome.message = "every sheet was imported already"
        elif len(done) == len(statuses):
            outcome.status = "imported"
            outcome.message = f"{len(statuses)} sheet(s) imported"
        elif done:
            outcome.status = "partly_imported"
            outcome.message = f"{len(done)} of {len(statuses)} sheets imported"
        else:
            outcome.status = "refused"
            outcome.message = "no sheet could be imported"
        self._finish(row_id, outcome, state="done", notify="pending")
        return outcome

    # --- the messages row ---------------------------------------------------------------------

    def _claim(
        self,
        raw: bytes,
        digest: str,
        source: str,
        received: datetime,
        correlation_id: str | None,
        release: Release | None,
    ) -> tuple[int, int, tuple[str, int] | None] | MessageOutcome:
        """Count one attempt on the message's row (made on first sight), or say it was
        processed already: (row id, attempts, the row's state and attempts before, None when
        new).  Its own transaction: the count survives a crash of the work."""
        now = utcnow()
        with self.store.begin_write() as conn:
            row = conn.execute(
                sa.select(messages.c.id, messages.c.state, messages.c.attempts, messages.c.result)
                .where(messages.c.raw_sha256 == digest)
                .with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        row_id = conn.execute(
                            messages.insert().values(
                                fit_row(
                                    messages,
                                    {
                                        "raw_sha256": digest,
                                        "source": source,
                                        "correlation_id": correlation_id,
                                        "received_at": received,
                                        "state": "processing",
                                        "attempts": 1,
                                        "notify": "none",
                                        "created_at": now,
                                        "updated_at": now,
                                    },
                                )
                            )
                        ).inserted_primary_key[0]
                except sa.exc.IntegrityError:
                    # another instance took it a moment ago: it is its message now
                    return MessageOutcome(
                        status="duplicate",
                        reason=None,
                        message="another ingestd is processing this message",
                        raw_sha256=digest,
                        correlation_id=correlation_id,
                    )
                return row_id, 1, None
            if row.state != "processing" and release is None:
                # a held message stays held however often it comes (IMAP files it there again)
                return MessageOutcome(
                    status="duplicate",
                    reason="quarantined" if row.state == "quarantined" else None,
                    message=f"this message was processed already (message {row.id}: "
                    f"{row.result or row.state})",
                    raw_sha256=digest,
                    correlation_id=correlation_id,
                    row_id=row.id,
                    duplicate_of=row.id,
                )
            attempts = (row.attempts if row.state == "processing" else 0) + 1
            conn.execute(
                messages.update()
                .where(messages.c.id == row.id)
                .values(
                    fit_row(
                        messages,
                        {
                            "state": "processing",
                            "attempts": attempts,
                            "correlation_id": correlation_id,
                            "updated_at": now,
                        },
                    )
                )
            )
            return row.id, attempts, (row.state, row.attempts)

    def _same_message_id(self, row_id: int, from_addr: str | None, msgid: str | None) -> int | None:
        """The row that already holds this Message-ID from this domain; else claim it."""
        key = message_key(from_addr, msgid)
        if key is None:
            return None
        with self.store.begin_write() as conn:
            other = conn.execute(
                sa.select(messages.c.id).where(
                    messages.c.message_key == key, messages.c.id != row_id
                )
            ).scalar()
            if other is not None:
                return other
            conn.execute(messages.update().where(messages.c.id == row_id).values(message_key=key))
        return None

    def _finish(self, row_id: int, outcome: MessageOutcome, *, state: str, notify: str) -> None:
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id)
                .values(
                    fit_row(
                        messages,
                        {
                            "state": state,
                            "result": outcome.status,
                            "reason": outcome.reason,
                            "message_id": outcome.message_id,
                            "from_addr": outcome.from_addr,
                            "subject": outcome.subject,
                            "vendor": outcome.vendor,
                            "auth": json.dumps(outcome.auth, default=str) if outcome.auth else None,
                            "outcome": json.dumps(outcome.as_dict(), default=str),
                            "notify": notify,
                            "updated_at": utcnow(),
                        },
                    )
                )
            )

    def _forget_attempt(self, row_id: int) -> None:
        """A temporary failure is not a crash: it does not count towards quarantine."""
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id, messages.c.attempts > 0)
                .values(attempts=messages.c.attempts - 1, updated_at=utcnow())
            )

    def _unclaim(self, row_id: int, before: tuple[str, int] | None) -> None:
        """Put the row back as the claim found it: nothing was attempted."""
        if before is None:
            self._forget_attempt(row_id)
            return
        state, attempts = before
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id)
                .values(state=state, attempts=attempts, updated_at=utcnow())
            )

    def _record_error(self, row_id: int, error: str) -> None:
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == row_id)
                .values(last_error=error[-20000:], updated_at=utcnow())
            )

    def _last_error(self, row_id: int) -> str | None:
        with self.store.engine.connect() as conn:
            return conn.execute(
                sa.select(messages.c.last_error).where(messages.c.id == row_id)
            ).scalar()

    # --- quarantine ----------------------------------------------------------------------------

    def _hold(
        self, row_id: int, raw: bytes, outcome: MessageOutcome, *, detail: str
    ) -> MessageOutcome:
        """Keep the raw message and a quarantine entry; the rates team is told (SPEC §6), the
        sender only when it was authenticated (no backscatter)."""
        path = self._keep_raw(raw, outcome.raw_sha256)
        authenticated = bool(outcome.auth and outcome.auth.get("status") == "pass")
        with self.store.begin_write() as conn:
            conn.execute(
                quarantine.update()
                .where(quarantine.c.message_row == row_id, quarantine.c.state == "held")
                .values(state="superseded", resolved_at=utcnow())
            )
            outcome.quarantine_id = conn.execute(
                quarantine.insert().values(
                    fit_row(
                        quarantine,
                        {
                            "message_row": row_id,
                            "reason": outcome.reason or "held",
                            "detail": detail[:20000],
                            "raw_path": str(path),
                            "state": "held",
                            "created_at": utcnow(),
                        },
                    )
                )
            ).inserted_primary_key[0]
        self._finish(
            row_id, outcome, state="quarantined", notify="pending" if authenticated else "alert"
        )
        log.warning(
            _kv(
                "pipeline.quarantined",
                message_row=row_id,
                quarantine_id=outcome.quarantine_id,
                reason=outcome.reason,
                correlation_id=outcome.correlation_id,
                sender=outcome.from_addr,
            )
        )
        return outcome

    def _keep_raw(self, raw: bytes, digest: str) -> Path:
        """The raw message, written durably (tmp, fsync, rename) under the state directory."""
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        path = self.quarantine_dir / f"{digest}.eml"
        if path.exists() and path.stat().st_size == len(raw):
            return path
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        directory = os.open(self.quarantine_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return path

    def quarantine_crashed(
        self,
        raw: bytes,
        *,
        source: str,
        correlation_id: str | None,
        error: str,
        envelope_from: str | None = None,
    ) -> MessageOutcome:
        """Hold a message the caller gave up on (the queue counted its attempts)."""
        digest = raw_hash(raw)
        claim = self._claim(raw, digest, source, utcnow(), correlation_id, None)
        if isinstance(claim, MessageOutcome):
            return claim
        row_id, _, _ = claim
        self._record_error(row_id, error)
        outcome = _crashed(
            raw,
            digest,
            row_id,
            correlation_id,
            envelope_from,
            f"processing this message failed {MAX_ATTEMPTS} times",
        )
        outcome = self._hold(row_id, raw, outcome, detail=error)
        if self.after is not None:
            self.after(outcome, source=source)
        return outcome


# --- the quarantine, for people ----------------------------------------------------------------


@dataclass(frozen=True)
class HeldMessage:
    id: int
    message_row: int
    reason: str
    detail: str
    raw_path: Path
    state: str
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    from_addr: str | None
    subject: str | None
    vendor: str | None
    source: str
    received_at: datetime
    outcome: dict[str, Any]

    def as_dict(self, *, full: bool = False) -> dict[str, Any]:
        out = {
            "id": self.id,
            "reason": self.reason,
            "state": self.state,
            "held_at": iso(self.created_at),
            "received_at": iso(self.received_at),
            "source": self.source,
            "from": self.from_addr,
            "vendor": self.vendor,
            "subject": self.subject,
            "message_row": self.message_row,
        }
        if full:
            out.update(
                detail=self.detail,
                raw_path=str(self.raw_path),
                resolved_at=iso(self.resolved_at),
                resolution=self.resolution,
                outcome=self.outcome,
            )
        return out


class Quarantine:
    """``ingestd quarantine list|show|release|drop``."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.store = pipeline.store

    def _query(self) -> sa.Select:
        return sa.select(
            quarantine,
            messages.c.from_addr,
            messages.c.subject,
            messages.c.vendor,
            messages.c.source,
            messages.c.received_at,
            messages.c.outcome,
        ).join(messages, messages.c.id == quarantine.c.message_row)

    def list(self, *, all_states: bool = False) -> list[HeldMessage]:
        q = self._query().order_by(quarantine.c.id)
        if not all_states:
            q = q.where(quarantine.c.state == "held")
        with self.store.engine.connect() as conn:
            return [_held(r) for r in conn.execute(q).mappings()]

    def get(self, held_id: int) -> HeldMessage:
        with self.store.engine.connect() as conn:
            row = conn.execute(self._query().where(quarantine.c.id == held_id)).mappings().first()
        if row is None:
            raise UsageError(f"no quarantined message {held_id} (see `ingestd quarantine list`)")
        return _held(row)

    def _held_now(self, held_id: int) -> HeldMessage:
        held = self.get(held_id)
        if held.state != "held":
            raise UsageError(f"quarantined message {held_id} is {held.state} already")
        return held

    def release(
        self,
        held_id: int,
        *,
        accept_unauthenticated: bool = False,
        vendor: str | None = None,
        note: str | None = None,
        answers: Answers | None = None,
    ) -> MessageOutcome:
        """Run the pipeline again on the held message, guards accepted; a message whose
        authentication failed goes through only with ``accept_unauthenticated``.  ``answers``
        (a person's, SPEC §3.5) are used for every sheet of the message and kept as the
        vendor's profile of each deck imported."""
        held = self._held_now(held_id)
        if held.reason in HOLD_REASONS and not accept_unauthenticated:
            raise UsageError(
                f"message {held_id} is held because its sender was not authenticated "
                f"({held.reason}); release it with --accept-unauthenticated if you are sure"
            )
        try:
            raw = held.raw_path.read_bytes()
        except OSError as e:
            raise IngestdError(f"the held message is gone from {held.raw_path}: {e}") from e
        release = Release(
            quarantine_id=held_id,
            accept_unauthenticated=accept_unauthenticated,
            vendor=vendor,
            accept_sheet_count=held.reason in ("too_many_sheets", "too_many_parts"),
            answers=answers or Answers(),
        )
        outcome = self.pipeline.process(
            raw, source="release", received_at=held.received_at, release=release
        )
        if outcome.status != "quarantined" or outcome.quarantine_id != held_id:
            self._resolve(held_id, "released", note or f"released: {outcome.status}")
        return outcome

    def drop(self, held_id: int, *, note: str | None = None) -> None:
        held = self._held_now(held_id)
        self._resolve(held_id, "dropped", note or "dropped")
        with self.store.begin_write() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == held.message_row)
                .values(state="dropped", updated_at=utcnow())
            )
            still = conn.execute(
                sa.select(sa.func.count())
                .select_from(quarantine)
                .where(quarantine.c.raw_path == str(held.raw_path), quarantine.c.state == "held")
            ).scalar_one()
        if not still:
            held.raw_path.unlink(missing_ok=True)

    def _resolve(self, held_id: int, state: str, resolution: str) -> None:
        with self.store.begin_write() as conn:
            conn.execute(
                quarantine.update()
                .where(quarantine.c.id == held_id, quarantine.c.state == "held")
                .values(state=state, resolved_at=utcnow(), resolution=resolution[:2000])
            )


def _held(row: Any) -> HeldMessage:
    return HeldMessage(
        id=row["id"],
        message_row=row["message_row"],
        reason=row["reason"],
        detail=row["detail"],
        raw_path=Path(row["raw_path"]),
        state=row["state"],
        created_at=row["created_at"],
        resolved_at=row["resolved_at"],
        resolution=row["resolution"],
        from_addr=row["from_addr"],
        subject=row["subject"],
        vendor=row["vendor"],
        source=row["source"],
        received_at=row["received_at"],
        outcome=json.loads(row["outcome"] or "{}"),
    )


def mail_counts(store: Store) -> dict[str, Any]:
    """Messages by state, held quarantine entries and the outbox by state (``ingestd status``)."""
    with store.engine.connect() as conn:
        by_state = dict(
            conn.execute(
                sa.select(messages.c.state, sa.func.count()).group_by(messages.c.state)
            ).all()
        )
        held = conn.execute(
            sa.select(quarantine.c.reason, sa.func.count())
            .where(quarantine.c.state == "held")
            .group_by(quarantine.c.reason)
        ).all()
        outgoing = dict(
            conn.execute(sa.select(outbox.c.state, sa.func.count()).group_by(outbox.c.state)).all()
        )
    return {
        "messages": {state: int(n) for state, n in sorted(by_state.items())},
        "quarantine_held": sum(int(n) for _, n in held),
        "quarantine_by_reason": {reason: int(n) for reason, n in sorted(held)},
        "outbox": {state: int(n) for state, n in sorted(outgoing.items())},
    }


# --- small helpers -------------------------------------------------------------------------------


def _address(header: str | None) -> str | None:
    if not header:
        return None
    address = parseaddr(header)[1]
    return address.lower() or None


def _outcome_of(
    summary: MessageSummary,
    digest: str,
    row_id: int,
    correlation_id: str | None,
    envelope_from: str | None,
) -> MessageOutcome:
    """A message's outcome with what its headers say (not yet decided: refused)."""
    return MessageOutcome(
        status="refused",
        reason=None,
        message="",
        raw_sha256=digest,
        correlation_id=correlation_id,
        row_id=row_id,
        from_addr=_address(summary.from_addr),
        subject=summary.subject,
        message_id=summary.message_id,
        envelope_from=envelope_from,
        automated=summary.is_automated,
        references=summary.references,
    )


def _crashed(
    raw: bytes,
    digest: str,
    row_id: int,
    correlation_id: str | None,
    envelope_from: str | None,
    text: str,
) -> MessageOutcome:
    """A message held because processing it kept failing: who sent it and what it is about
    come from its headers alone (its body may be what failed), the sender from the From
    header, else the envelope."""
    outcome = _outcome_of(read_headers(raw), digest, row_id, correlation_id, envelope_from)
    outcome.status, outcome.reason, outcome.message = "quarantined", "pipeline_crash", text
    outcome.from_addr = outcome.from_addr or _address(envelope_from)
    return outcome


def _unreadable(
    message: EmailMessage, extraction: Extraction, max_sheets: int
) -> tuple[str, str] | None:
    """Why a message's sheets are not imported (hold reason and text), or None: too many
    MIME parts, too many sheets, or no sheet at all."""
    if (defect := too_many_parts(message)) is not None:
        return "too_many_parts", (
            f"the message has {defect} ([limits] max_mime_parts); it was not read past its "
            "headers and nothing was imported; releasing it reads and imports it whole"
        )
    if extraction.too_many_sheets:
        return "too_many_sheets", _too_many_sheets_text(extraction, max_sheets)
    if not extraction.sheets:
        return "no_sheet", _no_sheet_text(extraction)
    return None


def _too_many_sheets_text(extraction: Extraction, limit: int) -> str:
    return (
        f"the message holds more than {limit} rate sheets ({extraction.parts:,} parts); "
        f"the limit is {limit} ([limits] max_sheets_per_message). Nothing was imported; "
        "releasing it imports every sheet"
    )


def _skipped(part: Any) -> dict[str, Any]:
    return {
        "path": part.path,
        "reason": part.reason,
        "detail": part.detail,
        "declared_type": part.declared_type,
    }


def _auth_provenance(auth: dict[str, Any] | None) -> dict[str, Any] | None:
    if not auth:
        return None
    keys = ("status", "reason", "from", "signing_domain", "selector")
    return {k: auth.get(k) for k in keys}


def _no_sheet_text(extraction: Extraction) -> str:
    if not extraction.skipped:
        return "the message has no attachment: attach the rate sheet (CSV, XLSX, XLS, ODS or ZIP)"
    parts = "; ".join(f"{s.path}: {s.detail}" for s in extraction.skipped[:10])
    return f"no attachment is a rate sheet ({parts})"


@contextmanager
def pipeline_for(config: Config, *, deliver: bool = True) -> Iterator[Pipeline]:
    """A pipeline on the configured database (the schema made current on SQLite, else
    checked) with its notify stage; what it put in the outbox is delivered once at the end
    (the daemon retries what could not go)."""
    from ingestd.notify import Notifier  # the notify stage builds on this module

    store = Store(config.database.url)
    try:
        store.require_schema(auto_upgrade=store.dialect == "sqlite")
        pipeline = Pipeline(config, store)
        notifier = Notifier(config, store)
        pipeline.after = notifier.notify_safely
        yield pipeline
        if deliver:
            try:
                notifier.outbox.deliver_due()
            except Exception:
                log.exception(_kv("outbox.delivery_failed"))
    finally:
        store.close()
