"""The durable outbox (docs/mail.md#mail-out): every outgoing message is stored before delivery,
then delivered by the scheduler through the configured transport with retries and backoff.

The life of a message:

- ``enqueue`` turns it into its final bytes (DKIM-signed when configured) and stores them with
  the envelope in the ``outbox`` table, keyed by its Message-ID (enqueueing it twice is a no-op).
  The per-recipient daily cap is applied here: a loop breaker, so even the rates team's alerts
  stop after ``max_per_recipient_per_day`` in 24 hours.  It is counted per source class
  (``states.SourceClass``): messages about strangers' mail never use up the count of reports about
  authenticated vendors' imports.  A message a cap holds back keeps whom it was held from in
  ``held_for``; the scheduler announces those once per period (``held_back``, README "Mail
  out"), and that announcement is never capped itself.
- ``deliver_due`` claims one due row at a time in its own write transaction (``attempts`` + 1 and
  ``next_attempt_at`` moved past the attempt, a lease) with a compare-and-set on ``attempts``,
  so two daemons on one database never send the same row; then it sends and marks it sent right
  after the relay accepted it.  A crash between the relay's 250 and that commit resends the
  message once the lease ran out: the only window left, and at least once beats lost.
- Temporary failures (4xx, the relay unreachable) are retried with exponential backoff; a
  permanent one (5xx for every recipient) or too many attempts fail the message and enqueue one
  ``delivery_failure`` notice to the rates team (never for a notice itself: no loops).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ingestd.config import Config
from ingestd.db.clock import as_stored, utcnow
from ingestd.db.engine import Database
from ingestd.db.lease import claim_next
from ingestd.db.tables import messages, outbox
from ingestd.errors import UsageError
from ingestd.logs import kv
from ingestd.mail.signing import DkimSigner
from ingestd.mail.transport import (
    DeliveryError,
    Envelope,
    RelayUnavailable,
    Transport,
    oneline,
    transport_for,
)
from ingestd.rates.model import iso
from ingestd.states import OutboxState, Purpose, SourceClass

log = logging.getLogger("ingestd.mail.outbox")

MESSAGE_ID_MAX = 255  # the column's size

_HEADER_BYTES = 16384  # enough of ``raw`` to read the Subject for ``list``


def header_text(value: str) -> str:
    """Text for an unstructured header (a Subject) that may hold what a vendor wrote: one line,
    and no RFC 2047 encoded word. The email package decodes an ``=?…?=`` in a value assigned
    to a header and writes what it decoded, line breaks included, as is (CPython gh-121650),
    so ``=?utf-8?q?x=0D=0ABcc:_y?=`` in a subject would become a Bcc header; a word joiner
    between ``=`` and ``?`` keeps the text as people read it and takes the meaning away."""
    return " ".join(value.split()).replace("=?", "=\u2060?")


def _broken_header(message: EmailMessage) -> str | None:
    """The first header, in any part, whose value holds a line break or NUL once parsed: it
    would end the header or start another when written out (a header injection)."""
    for part in message.walk():
        for name, value in part.items():
            if any(c in str(value) for c in "\r\n\0"):
                return name
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: 1 min doubling to 1 h, and give up after ``max_attempts`` — with this
    schedule 30 attempts take about a day of the daemon running (6 in the first hour, then
    hourly).  Counted in attempts, not hours since enqueue, so a daemon that was stopped does not
    fail its backlog unseen; ``lease`` must outlast one delivery attempt."""

    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 30
    lease: timedelta = timedelta(minutes=15)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1 → first_delay)."""
        factor = 2 ** min(max(attempts - 1, 0), 30)
        return min(self.first_delay * factor, self.max_delay)


RETRY = RetryPolicy()


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    """One row of the outbox, for ``ingestd outbox list`` (without the bytes)."""

    id: int
    message_id: str
    purpose: str
    recipients: tuple[str, ...]
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_row: int | None
    subject: str | None
    source_class: str = SourceClass.SYSTEM
    held_for: tuple[str, ...] = ()  # the recipients a daily cap held it back from

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "purpose": self.purpose,
            "class": self.source_class,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
            "message_row": self.message_row,
            "held_for": list(self.held_for),
        }


@dataclass(frozen=True)
class HeldBack:
    """One message a daily cap held back from one recipient (for the "cap reached" notice)."""

    id: int
    recipient: str
    source_class: str
    purpose: str
    vendor: str | None  # the vendor of the inbound message it was about
    created_at: datetime


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` run did, by outbox id."""

    sent: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)  # a temporary failure: tried again later
    failed: list[int] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)  # delivery_failure notices enqueued

    @property
    def attempted(self) -> int:
        return len(self.sent) + len(self.deferred) + len(self.failed)

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "failed": self.failed,
            "notices": self.notices,
        }


@dataclass(frozen=True)
class _Claim:
    id: int
    message_id: str
    purpose: str
    recipients: tuple[str, ...]
    raw: bytes
    attempts: int  # including this one
    message_row: int | None
    correlation_id: str | None


@dataclass(frozen=True)
class _Prepared:
    message_id: str
    purpose: str
    recipients: tuple[str, ...]
    raw: bytes
    message_row: int | None
    source_class: str


# --- transports -------------------------------------------------------------------------------


# --- the outbox -------------------------------------------------------------------------------


class Outbox:
    """The ``outbox`` table: enqueue, deliver what is due, and the ``ingestd outbox`` commands.

    One instance delivers from one thread at a time (the transport keeps a connection);
    several instances, in one process or in several daemons, may share the database."""

    def __init__(
        self,
        store: Database,
        config: Config,
        *,
        transport: Transport | None = None,
        retry: RetryPolicy = RETRY,
    ):
        self.store = store
        self.config = config
        self.transport = transport or transport_for(config.outbound)
        self.retry_policy = retry
        self.signer = DkimSigner.from_config(config.outbound)
        self._delivering = threading.Lock()
        # told of every message given up on (id, recipients, attempts, error): the webhooks'
        # delivery.failed event; its failure never touches the outbox
        self.on_failure: Callable[[int, str, int, str], object] | None = None

    # --- enqueue --------------------------------------------------------------------------

    def enqueue(
        self,
        message: EmailMessage,
        *,
        purpose: str,
        message_row: int | None = None,
        recipients: Iterable[str] | None = None,
        now: datetime | None = None,
        source_class: str | None = None,
    ) -> int | None:
        """Store ``message`` for delivery to ``recipients`` (the envelope; default its To, Cc
        and Bcc addresses); its outbox id, the existing id when its Message-ID is stored
        already, or None when it has nobody to go to (no address, or only the null sender
        ``<>``: nothing is ever sent there).  ``source_class`` (``states.SourceClass``) is the
        daily cap it counts against; by default the purpose's (``Purpose.source_class``)."""
        prepared = self._prepare(
            message, purpose=purpose, message_row=message_row, recipients=recipients,
            source_class=source_class,
        )  # fmt: skip
        if prepared is None:
            return None
        with self.store.begin_write() as conn:
            return self._store(conn, prepared, as_stored(now))

    def _prepare(
        self,
        message: EmailMessage,
        *,
        purpose: str,
        message_row: int | None,
        recipients: Iterable[str] | None = None,
        source_class: str | None = None,
    ) -> _Prepared | None:
        if purpose not in tuple(Purpose):
            raise ValueError(f"unknown outbox purpose {purpose!r}; allowed: {', '.join(Purpose)}")
        source_class = source_class or Purpose(purpose).source_class
        if source_class not in tuple(SourceClass):
            raise ValueError(
                f"unknown source class {source_class!r}; allowed: {', '.join(SourceClass)}"
            )
        message_id = (message["Message-ID"] or "").strip()
        if not message_id or len(message_id) > MESSAGE_ID_MAX:
            raise ValueError(
                f"an outgoing message needs a Message-ID of 1–{MESSAGE_ID_MAX} characters "
                f"(got {message_id[:80]!r}): it is what makes enqueueing idempotent"
            )
        broken = _broken_header(message)
        if broken is not None:
            raise ValueError(
                f"outgoing message {message_id[:80]}: its {broken} header holds a line break "
                "(header injection); refused, nothing stored"
            )
        envelope = (
            envelope_recipients(message) if recipients is None else usable_addresses(recipients)
        )
        if not envelope:
            log.warning(
                kv("outbox.no_recipient", message_id=message_id, purpose=purpose,
                   message_row=message_row, to=message["To"])
            )  # fmt: skip
            return None
        if "Bcc" in message or "Date" not in message:
            message = copy.deepcopy(message)
            del message["Bcc"]  # the envelope carries them; the header would show them to all
            if "Date" not in message:
                message["Date"] = formatdate(usegmt=True)
        raw = message.as_bytes(policy=SMTP_POLICY)
        if self.signer is not None:
            raw = self.signer.sign(raw)
        return _Prepared(message_id, purpose, envelope, raw, message_row, source_class)

    def _store(self, conn: Connection, prepared: _Prepared, now: datetime | None) -> int:
        """Insert inside the caller's write transaction: the existing id for a known
        Message-ID (also when another daemon inserts it at this moment), the daily cap of its
        source class applied."""
        now = now or utcnow()
        existing = _id_of(conn, prepared.message_id)
        if existing is not None:
            return existing
        cap = self.config.outbound.max_per_recipient_per_day
        kind = prepared.source_class
        allowed, capped = [], []
        for address in prepared.recipients:
            full = Purpose(prepared.purpose).capped and _sent_today(conn, address, now, kind) >= cap
            (capped if full else allowed).append(address)
        state = OutboxState.PENDING if allowed else OutboxState.SUPPRESSED
        note = (
            f"suppressed for {', '.join(capped)}: the daily cap of {cap} {kind} messages per "
            "recipient was reached (max_per_recipient_per_day); the recipient is told once per "
            "period what was held back"
            if capped
            else None
        )
        try:
            with conn.begin_nested():
                row_id = conn.execute(
                    outbox.insert().values(
                        message_id=prepared.message_id,
                        purpose=prepared.purpose,
                        recipients=json.dumps(allowed or capped),
                        raw=prepared.raw,
                        message_row=prepared.message_row,
                        state=state,
                        attempts=0,
                        next_attempt_at=now if allowed else None,
                        last_error=note,
                        created_at=now,
                        source_class=kind,
                        held_for=json.dumps(capped) if capped else None,
                    )
                ).inserted_primary_key[0]
        except sa.exc.IntegrityError:
            # another daemon stored the same Message-ID a moment ago; a locking read sees its
            # row where InnoDB's repeatable-read snapshot would not
            existing = _id_of(conn, prepared.message_id, latest=True)
            if existing is None:
                raise
            return existing
        fields = {
            "id": row_id, "message_id": prepared.message_id, "purpose": prepared.purpose,
            "message_row": prepared.message_row,
            "correlation_id": _correlation_id(conn, prepared.message_row),
        }  # fmt: skip
        if capped:
            log.warning(
                kv("outbox.suppressed", **fields, recipients=",".join(capped), cap=cap,
                   source_class=kind, state=state)
            )  # fmt: skip
        log.info(kv("outbox.enqueued", **fields, recipients=",".join(allowed) or None, state=state))
        return row_id

    # --- delivery -------------------------------------------------------------------------

    def deliver_due(self, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
        """Send every pending message whose time has come (at most ``limit``), each exactly
        once: mark it sent, or schedule its next attempt, or fail it and tell the rates team.

        ``now`` pins the clock for the whole run (tests); by default each claim reads the
        clock, so a lease starts when its attempt does, however long the run before it took."""
        fixed = as_stored(now)

        def clock() -> datetime:
            return fixed or utcnow()

        report = DeliveryReport()
        with self._delivering:
            try:
                while report.attempted < limit:
                    claim = self._claim_next(clock())
                    if claim is None:
                        break
                    try:
                        refused = self.transport.send(self._envelope(claim))
                    except RelayUnavailable as e:
                        # the same for every message: count the attempt on the rest of the run
                        # without trying each one (a silent relay would cost a timeout each)
                        self._failed_attempt(claim, e, clock(), report)
                        while report.attempted < limit:
                            rest = self._claim_next(clock())
                            if rest is None:
                                break
                            self._failed_attempt(rest, e, clock(), report)
                    except DeliveryError as e:
                        self._failed_attempt(claim, e, clock(), report)
                    else:
                        self._mark_sent(claim, refused, clock(), report)
            finally:
                self.transport.close()
        return report

    def _envelope(self, claim: _Claim) -> Envelope:
        sender = parseaddr(self.config.outbound.from_addr)[1]
        return Envelope(sender, claim.recipients, claim.raw, claim.message_id)

    def _claim_next(self, now: datetime) -> _Claim | None:
        """The next due row, claimed for one attempt in its own transaction (``db.lease``)."""
        with self.store.begin_write() as conn:
            claimed = claim_next(conn, outbox, OutboxState.PENDING, now, self.retry_policy.lease)
            if claimed is None:
                return None
            row_id, attempts = claimed
            row = conn.execute(
                sa.select(outbox, messages.c.correlation_id)
                .select_from(outbox.outerjoin(messages, messages.c.id == outbox.c.message_row))
                .where(outbox.c.id == row_id)
            ).one()
            return _Claim(
                id=row.id,
                message_id=row.message_id,
                purpose=row.purpose,
                recipients=tuple(json.loads(row.recipients)),
                raw=bytes(row.raw),
                attempts=attempts,
                message_row=row.message_row,
                correlation_id=row.correlation_id,
            )

    def _mark_sent(
        self, claim: _Claim, refused: dict[str, str], now: datetime, report: DeliveryReport
    ) -> None:
        # recipients refused while others were accepted are noted, not retried: the message
        # went out, and sending it again would duplicate it for the others
        note = "; ".join(f"refused {addr}: {reply}" for addr, reply in refused.items()) or None
        with self.store.begin_write() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == claim.id)
                .values(state=OutboxState.SENT, sent_at=now, next_attempt_at=None, last_error=note)
            )
        report.sent.append(claim.id)
        log.info(
            kv("outbox.sent", **_log_fields(claim),
               recipients=",".join(a for a in claim.recipients if a not in refused))
        )  # fmt: skip
        if refused:
            log.warning(kv("outbox.partly_refused", **_log_fields(claim), detail=note))

    def _failed_attempt(
        self, claim: _Claim, error: DeliveryError, now: datetime, report: DeliveryReport
    ) -> None:
        text = oneline(error)
        if error.permanent or claim.attempts >= self.retry_policy.max_attempts:
            reason = (
                "refused by the relay"
                if error.permanent
                else f"gave up after {claim.attempts} attempts"
            )
            self._fail(claim, f"{reason}: {text}", now, report)
            return
        next_at = now + self.retry_policy.delay(claim.attempts)
        with self.store.begin_write() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == claim.id, outbox.c.state == OutboxState.PENDING)
                .values(next_attempt_at=next_at, last_error=text)
            )
        report.deferred.append(claim.id)
        log.warning(
            kv("outbox.deferred", **_log_fields(claim), next_attempt_at=iso(next_at), error=text)
        )

    def _fail(self, claim: _Claim, error: str, now: datetime, report: DeliveryReport) -> None:
        """Mark it failed and, in the same transaction, enqueue the one notice about it."""
        notice = None
        if claim.purpose != "delivery_failure":  # a notice about a notice would be a loop
            notice = self._prepare(
                _failure_notice(self.config, claim, error),
                purpose=Purpose.DELIVERY_FAILURE,
                message_row=claim.message_row,
            )
        with self.store.begin_write() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == claim.id)
                .values(state=OutboxState.FAILED, next_attempt_at=None, last_error=error)
            )
            notice_id = self._store(conn, notice, now) if notice is not None else None
        report.failed.append(claim.id)
        if notice_id is not None:
            report.notices.append(notice_id)
        log.error(kv("outbox.failed", **_log_fields(claim), error=error, notice=notice_id))
        if self.on_failure is not None:
            try:
                self.on_failure(claim.id, ", ".join(claim.recipients), claim.attempts, error)
            except Exception:
                log.exception(kv("outbox.failure_hook_failed", **_log_fields(claim)))

    # --- the commands -----------------------------------------------------------------------

    def list(self, state: str | None = None) -> list[OutboxEntry]:
        """Every message in the outbox (oldest first), or those in ``state``."""
        return self._select(self._in_state(state))

    def latest(
        self, state: str | None = None, *, limit: int = 100, before: int | None = None
    ) -> list[OutboxEntry]:
        """The latest ``limit`` messages (of ``state``), newest first; ``before`` (an id) pages
        back."""
        where = [w for w in (self._in_state(state),) if w is not None]
        if before is not None:
            where.append(outbox.c.id < before)
        return self._select(sa.and_(*where) if where else None, newest=limit)

    @staticmethod
    def _in_state(state: str | None) -> sa.ColumnElement[bool] | None:
        if state is not None and state not in tuple(OutboxState):
            raise UsageError(f"no outbox state {state!r}; the states: {', '.join(OutboxState)}")
        return None if state is None else outbox.c.state == state

    def get(self, entry_id: int) -> OutboxEntry:
        found = self._select(outbox.c.id == entry_id)
        if not found:
            raise UsageError(f"no outbox message {entry_id} (see `ingestd outbox list`)")
        return found[0]

    def _select(
        self, where: sa.ColumnElement[bool] | None, *, newest: int | None = None
    ) -> list[OutboxEntry]:
        """The rows ``where`` holds, oldest first; with ``newest``, that many, newest first."""
        # the head of the bytes only, for the Subject: a message with its attachment is large
        head = sa.type_coerce(sa.func.substr(outbox.c.raw, 1, _HEADER_BYTES), sa.LargeBinary)
        q = sa.select(*[c for c in outbox.c if c.name != "raw"], head.label("head"))
        if where is not None:
            q = q.where(where)
        q = q.order_by(outbox.c.id) if newest is None else q.order_by(outbox.c.id.desc())
        if newest is not None:
            q = q.limit(newest)
        with self.store.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(q).mappings()]

    def held_back(self, since: datetime, until: datetime) -> list[HeldBack]:
        """Per recipient, the messages a daily cap held back from it that were stored in
        ``[since, until)``, oldest first (what the "cap reached" notices list)."""
        q = (
            sa.select(
                outbox.c.id, outbox.c.held_for, outbox.c.source_class, outbox.c.purpose,
                outbox.c.created_at, messages.c.vendor,
            )
            .select_from(outbox.outerjoin(messages, messages.c.id == outbox.c.message_row))
            .where(
                outbox.c.created_at >= as_stored(since),
                outbox.c.created_at < as_stored(until),
                outbox.c.held_for.is_not(None),
            )
            .order_by(outbox.c.id)
        )  # fmt: skip
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            HeldBack(row.id, address, row.source_class, row.purpose, row.vendor, row.created_at)
            for row in rows
            for address in json.loads(row.held_for)
        ]

    def retry(self, entry_id: int, *, now: datetime | None = None) -> OutboxEntry:
        """Make a failed, pending or suppressed message due now with a fresh count of attempts
        (the operator's decision overrides the daily cap); the next delivery run sends it.  A
        pending message whose attempt is running at this very moment may then go out twice."""
        now = as_stored(now) or utcnow()
        with self.store.begin_write() as conn:
            row = conn.execute(
                sa.select(outbox.c.state, outbox.c.sent_at).where(outbox.c.id == entry_id)
            ).first()
            if row is None:
                raise UsageError(f"no outbox message {entry_id} (see `ingestd outbox list`)")
            if row.state == OutboxState.SENT:
                raise UsageError(f"outbox message {entry_id} was sent already ({iso(row.sent_at)})")
            conn.execute(
                outbox.update()
                .where(outbox.c.id == entry_id)
                .values(state=OutboxState.PENDING, attempts=0, next_attempt_at=now)
            )
        log.info(kv("outbox.retry", id=entry_id, was=row.state))
        return self.get(entry_id)


# --- helpers ------------------------------------------------------------------------------------


def envelope_recipients(message: EmailMessage) -> tuple[str, ...]:
    """The To, Cc and Bcc addresses of ``message`` (see :func:`usable_addresses`)."""
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    return usable_addresses(address for _, address in getaddresses(values))


def usable_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Bare addresses, lower-cased (the daily cap counts them so), once each; empty and null
    (``<>``) ones and anything that is not an address left out."""
    found: list[str] = []
    for text in addresses:
        address = parseaddr(text)[1].strip().strip("<>").lower()
        local, at, domain = address.rpartition("@")
        if at and local and domain and " " not in address and address not in found:
            found.append(address)
    return tuple(found)


def _failure_notice(config: Config, claim: _Claim, error: str) -> EmailMessage:
    """The one message to the rates team about a message that could not be delivered; its
    Message-ID follows from the failed one, so it is stored once however often this runs."""
    original = BytesHeaderParser(policy=SMTP_POLICY).parsebytes(claim.raw)
    sender = Address(addr_spec=parseaddr(config.outbound.from_addr)[1] or "ingestd@localhost")
    digest = hashlib.sha256(claim.message_id.encode("utf-8", "replace")).hexdigest()[:16]
    notice = EmailMessage()
    notice["From"] = config.outbound.from_addr
    notice["To"] = ", ".join(config.notify.rates_team)
    notice["Subject"] = header_text(
        f"[ingestd] undeliverable {claim.purpose.replace('_', ' ')}: "
        + str(original["Subject"] or claim.message_id)
    )
    notice["Date"] = formatdate(usegmt=True)
    notice["Message-ID"] = f"<delivery-failure.{claim.id}.{digest}@{sender.domain}>"
    notice["Auto-Submitted"] = "auto-generated"  # RFC 3834: never to be answered automatically
    lines = [
        f"ingestd could not deliver outbox message {claim.id} and has stopped trying.",
        "",
        f"  purpose     {claim.purpose}",
        f"  to          {', '.join(claim.recipients)}",
        f"  subject     {original['Subject'] or ''}",
        f"  message id  {claim.message_id}",
        f"  attempts    {claim.attempts}",
        f"  error       {error}",
    ]
    if claim.message_row is not None:
        lines.append(f"  about       inbound message {claim.message_row}")
    lines += [
        "",
        "Once the cause is fixed, send it again with:",
        "",
        f"  ingestd outbox retry {claim.id}",
        "",
        "The headers of the undelivered message are attached.",
    ]
    notice.set_content("\n".join(lines) + "\n")
    headers = b"".join(
        f"{name}: {value}\r\n".encode("utf-8", "replace") for name, value in original.items()
    )
    notice.add_attachment(headers, maintype="text", subtype="rfc822-headers", filename="headers")
    return notice


def _entry(row: Any) -> OutboxEntry:
    head = bytes(row["head"] or b"")
    try:
        subject = BytesHeaderParser(policy=SMTP_POLICY).parsebytes(head)["Subject"]
    except (ValueError, IndexError, TypeError):  # a header the parser cannot decode
        subject = None
    return OutboxEntry(
        id=row["id"],
        message_id=row["message_id"],
        purpose=row["purpose"],
        recipients=tuple(json.loads(row["recipients"])),
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        message_row=row["message_row"],
        subject=str(subject) if subject is not None else None,
        source_class=row["source_class"],
        held_for=tuple(json.loads(row["held_for"])) if row["held_for"] else (),
    )


def _id_of(conn: Connection, message_id: str, *, latest: bool = False) -> int | None:
    q = sa.select(outbox.c.id).where(outbox.c.message_id == message_id)
    return conn.execute(q.with_for_update() if latest else q).scalar()


def _sent_today(conn: Connection, address: str, now: datetime, source_class: str) -> int:
    """Messages of ``source_class`` stored for ``address`` in the 24 hours before ``now``
    (suppressed ones do not count: they were not sent)."""
    return conn.execute(
        sa.select(sa.func.count())
        .select_from(outbox)
        .where(
            outbox.c.created_at > now - timedelta(days=1),
            outbox.c.state != OutboxState.SUPPRESSED,
            outbox.c.source_class == source_class,
            # the JSON list holds it quoted: "a@x" never matches "ba@x"; _ and % escaped
            outbox.c.recipients.contains(json.dumps(address), autoescape=True),
        )
    ).scalar_one()


def _correlation_id(conn: Connection, message_row: int | None) -> str | None:
    if message_row is None:
        return None
    return conn.execute(
        sa.select(messages.c.correlation_id).where(messages.c.id == message_row)
    ).scalar()


def _log_fields(claim: _Claim) -> dict[str, object]:
    return {
        "id": claim.id,
        "message_id": claim.message_id,
        "purpose": claim.purpose,
        "attempt": claim.attempts,
        "message_row": claim.message_row,
        "correlation_id": claim.correlation_id,
    }
