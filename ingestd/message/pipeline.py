"""One message through authenticate → extract → read → normalize → apply → notify
(docs/operations.md#flow).

This is the only module that knows the order of the stages.  Every message, whatever brought it
(SMTP, LMTP, IMAP, ``ingestd import message.eml``, ``ingestd quarantine release``), goes through
``Pipeline.process``, which never loses it and never applies it twice:

- the ``messages`` row is claimed first, in its own transaction, by the hash of the raw bytes
  (the same bytes again are a duplicate) and counts the attempt, so a message whose processing
  killed the process three times is quarantined with its last error instead of crashing a
  fourth time;
- the same Message-ID from the same sender domain is a duplicate too, whatever the bytes;
- each sheet is imported in its own transaction and a sheet already imported is recognised by
  its hash (``ingest.import_file``), so a crash between two sheets, or between the import and
  the end of the message, costs nothing when the message comes back;
- a DNS failure while checking DKIM is a ``TemporaryFailure``: the caller retries later (SMTP
  answers 451, the queue delays the item, IMAP leaves it in the mailbox).

Notification (docs/mail.md#mail-out) reads the finished ``messages`` rows whose ``notify`` is
``pending``; ``notify`` is ``none`` when nobody may be answered (an unauthenticated sender).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from ingestd.auth import AuthResult, authenticate
from ingestd.config import Config, Vendor
from ingestd.db.clock import utcnow
from ingestd.errors import IngestdError, UsageError
from ingestd.ingest import ImportOutcome, import_file
from ingestd.logs import kv as _kv
from ingestd.mail.mime import Extraction, extract_sheets
from ingestd.mail.parse import parse_message, too_many_parts
from ingestd.message.ledger import Ledger, raw_hash
from ingestd.message.outcome import (
    Arrival,
    MessageOutcome,
    Release,
    crashed,
    outcome_of,
    taken_by_another,
)
from ingestd.metrics import DKIM_RESULTS, MESSAGES
from ingestd.rates.store import Store
from ingestd.states import ImportStatus, MessageState, MessageStatus, NotifyState

log = logging.getLogger("ingestd.pipeline")

# A message whose processing started this many times without finishing is quarantined
# ("pipeline_crash") instead of being tried again.
MAX_ATTEMPTS = 3


class TemporaryFailure(IngestdError):
    """The message cannot be decided now (DNS down): try it again later."""


class Pipeline:
    """The stages, bound to one configuration and one store."""

    def __init__(self, config: Config, store: Store):
        self.config = config
        self.store = store
        self.ledger = Ledger(store, config.daemon.state_dir / "quarantine")
        # the notify stage (``notify.Notifier.notify_safely``), called with every outcome
        self.after: Callable[..., None] | None = None

    # --- the whole message ---------------------------------------------------------------------

    def process(self, raw: bytes, *, source: str, **options: Any) -> MessageOutcome:
        """Take one message as far as it goes, then the notify stage (``after``); raises only
        ``TemporaryFailure`` (retry later) and errors of the database itself (the caller keeps
        the message and retries).  ``options``: see ``_process``."""
        outcome = self._process(raw, source=source, **options)
        MESSAGES.labels(str(outcome.status)).inc()
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
        arrival = Arrival(
            raw, raw_hash(raw), source, received, correlation_id,
            release=release, envelope_from=envelope_from, now=now,
        )  # fmt: skip
        with self.ledger.lock(arrival.digest) as mine:
            if not mine:
                # another daemon sharing the database is processing these bytes right now: its
                # row says "processing" like a crashed attempt would, but it is its message
                return taken_by_another(arrival.digest, correlation_id)
            return self._process_locked(arrival)

    def _process_locked(self, arrival: Arrival) -> MessageOutcome:
        claim = self.ledger.claim(arrival)
        if isinstance(claim, MessageOutcome):
            return claim
        row_id, attempts, before = claim
        log_ctx = {
            "message_row": row_id,
            "correlation_id": arrival.correlation_id,
            "sha256": arrival.digest[:16],
        }
        if attempts > MAX_ATTEMPTS:
            last = self.ledger.last_error(row_id)
            text = (
                f"processing this message failed {attempts - 1} times; "
                f"last error: {(last or 'the process died').splitlines()[-1]}"
            )
            return self.ledger.hold(
                row_id,
                arrival.raw,
                crashed(arrival, row_id, text),
                detail=last or "the process died while processing it",
            )
        try:
            outcome = self._run(arrival, row_id)
        except TemporaryFailure:
            self.ledger.forget_attempt(row_id)
            raise
        except UsageError:
            # a person's mistake (a release naming no vendor) is no crash: the row is as it was
            self.ledger.unclaim(row_id, before)
            raise
        except Exception:
            self.ledger.record_error(row_id, traceback.format_exc())
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

    def _run(self, arrival: Arrival, row_id: int) -> MessageOutcome:
        raw, release = arrival.raw, arrival.release
        auth = authenticate(raw, self.config, now=arrival.now)
        DKIM_RESULTS.labels(auth.status, auth.reason or "").inc()
        log.info(
            _kv(
                "pipeline.authenticated",
                correlation_id=arrival.correlation_id,
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
        outcome = outcome_of(summary, arrival, row_id)
        outcome.vendor = auth.vendor.id if auth.vendor else None
        outcome.from_addr = auth.from_addr or outcome.from_addr
        outcome.auth = auth.as_dict()
        outcome.skipped = [_skipped(s) for s in extraction.skipped]
        # by Message-ID only once the sender domain is proven: a forgery must not pass for,
        # nor pre-empt, the vendor's real message
        duplicate = (
            self.ledger.same_message_id(row_id, auth.from_addr, summary.message_id)
            if auth.status == "pass"
            else None
        )
        if duplicate is not None and release is None:
            outcome.status, outcome.duplicate_of = MessageStatus.DUPLICATE, duplicate
            outcome.message = f"the same Message-ID was processed already (message {duplicate})"
            self.ledger.finish(row_id, outcome, state=MessageState.DONE, notify=NotifyState.NONE)
            return outcome

        vendor = self._vendor(auth, release)
        if vendor is None:
            outcome.status, outcome.reason = MessageStatus.QUARANTINED, auth.reason
            outcome.message = f"sender not authenticated: {auth.detail}"
            return self.ledger.hold(row_id, raw, outcome, detail=auth.detail)
        outcome.vendor = vendor.id
        if (held := _unreadable(message, extraction, limits.max_sheets_per_message)) is not None:
            outcome.status, (outcome.reason, outcome.message) = MessageStatus.QUARANTINED, held
            return self.ledger.hold(row_id, raw, outcome, detail=outcome.message)
        return self._import_sheets(arrival, row_id, outcome, extraction, vendor)

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
        arrival: Arrival,
        row_id: int,
        outcome: MessageOutcome,
        extraction: Extraction,
        vendor: Vendor,
    ) -> MessageOutcome:
        release = arrival.release
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
                received_at=arrival.received,
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
                if result.status == ImportStatus.HELD:
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
        done = [s for s in statuses if s in (ImportStatus.IMPORTED, ImportStatus.DUPLICATE)]
        if held:
            outcome.status, outcome.reason = MessageStatus.QUARANTINED, "guard_triggered"
            outcome.message = "held by a guard: " + "; ".join(held)
            return self.ledger.hold(row_id, arrival.raw, outcome, detail=outcome.message)
        if all(s == ImportStatus.DUPLICATE for s in statuses):
            outcome.status = MessageStatus.DUPLICATE
            outcome.message = "every sheet was imported already"
        elif len(done) == len(statuses):
            outcome.status = MessageStatus.IMPORTED
            outcome.message = f"{len(statuses)} sheet(s) imported"
        elif done:
            outcome.status = MessageStatus.PARTLY_IMPORTED
            outcome.message = f"{len(done)} of {len(statuses)} sheets imported"
        else:
            outcome.status = MessageStatus.REFUSED
            outcome.message = "no sheet could be imported"
        self.ledger.finish(row_id, outcome, state=MessageState.DONE, notify=NotifyState.PENDING)
        return outcome

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
        arrival = Arrival(
            raw, raw_hash(raw), source, utcnow(), correlation_id, envelope_from=envelope_from
        )
        claim = self.ledger.claim(arrival)
        if isinstance(claim, MessageOutcome):
            return claim
        row_id, _, _ = claim
        self.ledger.record_error(row_id, error)
        outcome = crashed(arrival, row_id, f"processing this message failed {MAX_ATTEMPTS} times")
        outcome = self.ledger.hold(row_id, raw, outcome, detail=error)
        if self.after is not None:
            self.after(outcome, source=source)
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
