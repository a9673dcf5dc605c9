"""The daemon's periodic work on APScheduler 3 (docs/operations.md#flow "A scheduler runs the
periodic work"):

- ``outbox``      every ``OUTBOX_INTERVAL``: notify rows a crash left behind, deliver what is due;
- ``webhooks``    every ``OUTBOX_INTERVAL``: send the webhook deliveries that are due;
- ``activation``  every ``ACTIVATION_INTERVAL``: log the future-dated rates that took effect
                  since the last run (docs/semantics.md#rate-semantics "Several rates per code");
- ``digest``      daily at ``DIGEST_AT`` UTC: one message to the rates team listing what took
                  effect in the last 24 hours;
- ``purge``       daily at ``PURGE_AT`` UTC: discontinued codes past their vendor's retention
                  leave the table as a new version (docs/semantics.md#rate-semantics
                  "Discontinued");
- ``notices``     after each period of ``[notify] unauthenticated_digest``: one digest to the
                  rates team of the messages held because their sender was not authenticated,
                  and one "cap reached" notice per recipient and source class saying what a
                  daily cap held back in the period (docs/mail.md#mail-out, README "Sending mail").

The jobs are plain methods of :class:`Jobs` taking ``now``, so tests call them directly with the
instant they want; the scheduler only calls them with the clock.  Every scheduled call goes
through :meth:`Jobs.guarded`, so an exception (a database that is down, a bad template) is one
log line and the next run happens as usual: APScheduler would survive it too, but would log it
without our ``event=`` format and the job name admins grep for.

Several daemons may share one database (docs/operations.md#running-as-a-service): purge serializes
on the table lock and finds nothing the second time; the digest's Message-ID is derived from its
date, and the outbox keeps one row per Message-ID, so the rates team gets one digest a day whoever
sends it (the notices' Message-IDs are derived from their period the same way).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ingestd.auth import HOLD_REASONS
from ingestd.config import Config
from ingestd.db.clock import as_stored, utcnow
from ingestd.db.tables import messages, quarantine
from ingestd.ingest import purge_discontinued
from ingestd.logs import kv
from ingestd.mail.compose import Outgoing, cap_notice, unauthenticated_digest
from ingestd.mail.outbox import HeldBack, Outbox
from ingestd.message.notify import Notifier
from ingestd.rates.model import Kind, iso
from ingestd.rates.schema import RATE_TABLES, rate_tables, versions
from ingestd.rates.store import Store
from ingestd.states import Purpose
from ingestd.webhooks.deliveries import Webhooks

log = logging.getLogger("ingestd.scheduler")

# Seconds between outbox runs (the daemon's mail-out thread also runs it when woken).
OUTBOX_INTERVAL = 10.0
# Seconds between activation scans; the first scan looks back one interval from the start.
ACTIVATION_INTERVAL = 60.0
DIGEST_AT = (6, 0)  # hour, minute, UTC
PURGE_AT = (3, 0)
DIGEST_WINDOW = timedelta(hours=24)
DIGEST_PURPOSE = Purpose.ACTIVATION_DIGEST
# How late a run may still start (a busy or suspended process): interval jobs only make sense
# near their time, a daily job is still worth doing an hour late.
INTERVAL_GRACE = 30
DAILY_GRACE = 3600
# The notices job runs every period, at most this many seconds apart (so a period of a day is
# announced within a minute of its end) ...
NOTICES_INTERVAL = 60.0
# ... and announces a period once it ended this long ago (its last writes are committed), and
# until it ended this long ago (a daemon that was stopped catches up on the last day).
NOTICES_SETTLE = timedelta(seconds=2)
NOTICES_LOOKBACK = timedelta(hours=24)
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Activation:
    """The rows of one rate table that took effect within one window."""

    vendor: str
    kind: str
    table: str
    version: int  # the table's current version, whose rows these are
    rows: int
    discontinued: int
    forbidden: int
    first: datetime  # earliest and latest effective_from among them
    last: datetime

    @property
    def label(self) -> str:
        return f"{self.vendor}/{self.kind}/{self.table}"


def became_effective(store: Store, since: datetime, until: datetime) -> list[Activation]:
    """Per table, the rows of the latest version whose ``effective_from`` is in
    ``(since, until]`` and that were written before that instant: a rate imported already in
    effect (ASAP, backdated) was reported by its import, only future-dated ones "activate".

    Aggregated in the database, one query per kind: this runs every minute, and reading every
    row of every table (docs/performance.md#targets: a million rows each) to count a handful would
    not do."""

    def flag(column: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((column, 1), else_=0))

    found: list[Activation] = []
    for kind in Kind:
        rows = RATE_TABLES[kind]
        q = (
            sa.select(
                rate_tables.c.vendor,
                rate_tables.c.name,
                rate_tables.c.current_version,
                sa.func.count(),
                flag(rows.c.discontinued),
                flag(rows.c.forbidden),
                sa.func.min(rows.c.effective_from),
                sa.func.max(rows.c.effective_from),
            )
            .select_from(rows)
            .join(rate_tables, rate_tables.c.id == rows.c.table_id)
            .join(
                versions,
                (versions.c.table_id == rows.c.table_id)
                & (versions.c.number == rows.c.version_from),
            )
            .where(
                rows.c.version_to.is_(None),
                rows.c.effective_from > since,
                rows.c.effective_from <= until,
                versions.c.created_at < rows.c.effective_from,
            )
            .group_by(rate_tables.c.vendor, rate_tables.c.name, rate_tables.c.current_version)
            .order_by(rate_tables.c.vendor, rate_tables.c.name)
        )
        with store.engine.connect() as conn:
            for vendor, name, version, n, disc, forb, first, last in conn.execute(q):
                found.append(
                    Activation(vendor, str(kind), name, version, n, int(disc or 0),
                               int(forb or 0), first, last)
                )  # fmt: skip
    return found


@dataclass
class Jobs:
    """The periodic jobs and what they work on; ``now`` is the clock (naive UTC)."""

    config: Config
    store: Store
    notifier: Notifier
    outbox: Outbox
    webhooks: Webhooks | None = None
    now: Callable[[], datetime] = utcnow
    activation_interval: timedelta = timedelta(seconds=ACTIVATION_INTERVAL)
    # the end of the last activation window that was scanned; in memory only: after a restart
    # the scan starts one interval before the start (the digest, from the database, still
    # covers a gap)
    last_activation: datetime | None = field(default=None)
    # the periods whose notices this process stored already (kind, period start, about whom):
    # they are not composed again every minute; after a restart the outbox's Message-IDs keep
    # a period from being announced twice
    _announced: set[tuple[str, datetime, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.last_activation is None:
            self.last_activation = as_stored(self.now()) - self.activation_interval

    # --- the jobs --------------------------------------------------------------------------

    def outbox_run(self, now: datetime | None = None) -> None:
        """Compose what a crash left unnotified, then deliver what is due (``now`` is unused:
        both keep their own clocks, which their own tests control)."""
        self.notifier.catch_up()
        self.outbox.deliver_due()

    def webhooks_run(self, now: datetime | None = None) -> None:
        """Send the webhook deliveries that are due (its own job: a receiver that does not
        answer never holds up the mail)."""
        if self.webhooks is not None and self.config.webhooks:
            self.webhooks.deliver_due()

    def activation(self, now: datetime | None = None) -> list[Activation]:
        """Log, per table, the rates that took effect since the last run; the window only moves
        on when the scan succeeded, so a failed run is covered by the next one."""
        now = as_stored(now or self.now())
        since = self.last_activation
        assert since is not None
        if now <= since:  # the clock went back: nothing new, keep the window where it was
            return []
        found = became_effective(self.store, since, now)
        for a in found:
            log.info(
                kv(
                    "rates.effective",
                    vendor=a.vendor,
                    kind=a.kind,
                    table=a.table,
                    version=a.version,
                    rows=a.rows,
                    discontinued=a.discontinued or None,
                    forbidden=a.forbidden or None,
                    first=iso(a.first),
                    last=iso(a.last),
                )
            )
        self.last_activation = now
        return found

    def digest(self, now: datetime | None = None) -> int | None:
        """Enqueue the day's digest to the rates team when something took effect in the last
        24 hours; its outbox id (the existing one when today's digest is already stored), None
        when there was nothing to tell.

        Read back from the database rather than collected by ``activation``: a restart, or
        another daemon doing the scans, must not make the digest incomplete."""
        now = as_stored(now or self.now())
        found = became_effective(self.store, now - DIGEST_WINDOW, now)
        if not found:
            log.info(kv("digest.nothing", since=iso(now - DIGEST_WINDOW), until=iso(now)))
            return None
        message = digest_message(self.config, found, now)
        outbox_id = self.outbox.enqueue(message, purpose=DIGEST_PURPOSE, now=now)
        log.info(
            kv(
                "digest.queued",
                outbox_id=outbox_id,
                message_id=message["Message-ID"],
                tables=len(found),
                rows=sum(a.rows for a in found),
            )
        )
        return outbox_id

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Every table: a new version without the codes discontinued longer ago than its
        vendor's ``discontinued_retention_days``.  One table failing does not stop the others.
        Returns the new version per table label."""
        now = as_stored(now or self.now())
        written: dict[str, int] = {}
        for table in self.store.tables():
            retention = self.config.vendor(table.vendor).policy.discontinued_retention_days
            try:
                number = purge_discontinued(self.store, table, now=now, retention_days=retention)
            except Exception:
                log.exception(kv("rates.purge_failed", table=table.label))
                continue
            if number is None:
                continue
            closed = self.store.version(table, number).rows_closed
            written[table.label] = number
            log.info(
                kv(
                    "rates.purged",
                    vendor=table.vendor,
                    kind=str(table.kind),
                    table=table.name,
                    version=number,
                    rows=closed,
                    retention_days=retention,
                )
            )
        return written

    def notices(self, now: datetime | None = None) -> list[int]:
        """For each period of ``[notify] unauthenticated_digest`` that has ended (within the
        last day): the digest of messages held because their sender was not authenticated,
        and the "cap reached" notice to each recipient a daily cap held messages back from,
        per source class.  Composed from the database, so a restart or another daemon changes
        nothing: the same period gives the same Message-IDs, stored once.  Returns the
        outbox ids of what it stored (or found stored)."""
        now = as_stored(now or self.now())
        period = timedelta(seconds=self.config.notify.unauthenticated_digest)
        until = period_start(now - NOTICES_SETTLE, period)
        since = period_start(until - NOTICES_LOOKBACK, period)
        if until <= since:
            return []
        stored: list[int] = []
        held = held_strangers(self.store, since, until)
        by_period: dict[datetime, list[dict[str, Any]]] = {}
        for entry in held:
            by_period.setdefault(period_start(entry["held_at"], period), []).append(entry)
        for start, entries in sorted(by_period.items()):
            key = ("digest", start, "")
            if key in self._announced:
                continue
            for entry in entries:
                entry["held_at"] = iso(entry["held_at"])
            outgoing = unauthenticated_digest(
                entries, self.config, since=start, until=start + period, now=now
            )
            outbox_id = self._enqueue_once(key, outgoing, now, stored)
            log.info(
                kv("notices.digest", outbox_id=outbox_id, since=iso(start),
                   until=iso(start + period), held=len(entries))
            )  # fmt: skip
        capped: dict[tuple[datetime, str, str], list[HeldBack]] = {}
        for h in self.outbox.held_back(since, until):
            start = period_start(h.created_at, period)
            capped.setdefault((start, h.recipient, h.source_class), []).append(h)
        for (start, recipient, source_class), rows in sorted(capped.items()):
            key = ("cap", start, f"{recipient} {source_class}")
            if key in self._announced:
                continue
            outgoing = cap_notice(
                recipient, source_class, rows, self.config,
                since=start, until=start + period, now=now,
            )  # fmt: skip
            outbox_id = self._enqueue_once(key, outgoing, now, stored)
            log.warning(
                kv("notices.cap_reached", outbox_id=outbox_id, recipient=recipient,
                   source_class=source_class, since=iso(start), until=iso(start + period),
                   held=len(rows))
            )  # fmt: skip
        self._forget(since)
        return stored

    def _enqueue_once(
        self, key: tuple[str, datetime, str], outgoing: Outgoing, now: datetime, stored: list[int]
    ) -> int | None:
        outbox_id = self.outbox.enqueue(
            outgoing.message, purpose=outgoing.purpose, recipients=outgoing.recipients, now=now,
            source_class=outgoing.source_class,
        )  # fmt: skip
        self._announced.add(key)
        if outbox_id is not None:
            stored.append(outbox_id)
        return outbox_id

    def _forget(self, since: datetime) -> None:
        """Periods before the lookback are never composed again: keep the set small."""
        self._announced = {k for k in self._announced if k[1] >= since}

    # --- running them ------------------------------------------------------------------------

    def guarded(self, name: str, job: Callable[..., Any]) -> Callable[[], None]:
        """``job`` called with the clock, an exception logged with the job's name and swallowed:
        the scheduler, and the next run, carry on."""

        def run() -> None:
            try:
                job(now=self.now())
            except Exception:
                log.exception(kv("job.failed", job=name))

        run.__name__ = f"ingestd_{name}"
        return run


def period_start(moment: datetime, period: timedelta) -> datetime:
    """The start of the period ``moment`` falls in: periods are counted from the Unix epoch,
    so every daemon, and every run, cuts time at the same instants (hours on the hour)."""
    seconds = max(int(period.total_seconds()), 1)
    elapsed = int((moment - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


def held_strangers(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The quarantine entries made in ``[since, until)`` because the sender was not
    authenticated (``auth.HOLD_REASONS``), oldest first, as the digest shows them."""
    q = (
        sa.select(
            quarantine.c.id, quarantine.c.reason, quarantine.c.detail, quarantine.c.state,
            quarantine.c.created_at, messages.c.from_addr, messages.c.subject,
            messages.c.source, messages.c.received_at,
        )
        .join(messages, messages.c.id == quarantine.c.message_row)
        .where(
            quarantine.c.created_at >= since,
            quarantine.c.created_at < until,
            quarantine.c.reason.in_(sorted(HOLD_REASONS)),
        )
        .order_by(quarantine.c.id)
    )  # fmt: skip
    with store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    names = {"created_at": "held_at", "from_addr": "from"}
    return [
        {names.get(k, k): (iso(v) if k == "received_at" else v) for k, v in row.items()}
        for row in rows
    ]


def digest_message(config: Config, found: list[Activation], now: datetime) -> EmailMessage:
    """A plain-text digest; its Message-ID is the date (and recipients), so a second run the
    same day, by this daemon or another, is the same message and the outbox stores it once."""
    day = now.strftime("%Y-%m-%d")
    team = list(config.notify.rates_team)
    seed = "\n".join([DIGEST_PURPOSE, day, ",".join(sorted(team))])
    digest = hashlib.sha256(seed.encode()).hexdigest()[:16]
    address = parseaddr(config.outbound.from_addr)[1]
    domain = address.rsplit("@", 1)[1].lower() if "@" in address else "localhost"
    total = sum(a.rows for a in found)
    lines = [
        f"Rates that took effect in the 24 hours up to {iso(now)} UTC: "
        f"{total} rows in {len(found)} table(s).",
        "",
    ]
    for a in found:
        extra = "".join(
            f", {n} {what}"
            for n, what in ((a.discontinued, "discontinued"), (a.forbidden, "forbidden"))
            if n
        )
        lines.append(
            f"- {a.label} version {a.version}: {a.rows} rows{extra}, "
            f"effective {iso(a.first)} to {iso(a.last)} UTC"
        )
    lines += ["", "Each table's rows: ingestd export / ingestd diff on the versions above."]
    message = EmailMessage(policy=SMTP)
    message["From"] = config.outbound.from_addr
    message["To"] = ", ".join(team)
    message["Subject"] = f"Rates effective {day}: {total} rows in {len(found)} table(s)"
    message["Date"] = format_datetime(now.replace(tzinfo=UTC))
    message["Message-ID"] = f"<digest.{day}.{digest}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Ingestd-Purpose"] = DIGEST_PURPOSE
    message.set_content("\n".join(lines) + "\n", charset="utf-8", cte="quoted-printable")
    return message


def build_scheduler(
    jobs: Jobs,
    *,
    outbox_interval: float = OUTBOX_INTERVAL,
) -> BackgroundScheduler:
    """The scheduler with the six jobs, not started: the daemon calls ``start()`` once its
    store is ready and ``shutdown(wait=True)`` on stop, so a purge or delivery in progress
    finishes before the store is closed.

    ``coalesce``: runs missed while the process was busy or suspended become one run;
    ``max_instances=1``: a slow run (a relay timing out) is never overlapped by the next."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": INTERVAL_GRACE},
    )

    def every(name: str, job: Callable[..., Any], seconds: float) -> None:
        trigger = IntervalTrigger(seconds=seconds, timezone=UTC)
        scheduler.add_job(jobs.guarded(name, job), trigger, id=name, name=name)

    def daily(name: str, job: Callable[..., Any], at: tuple[int, int]) -> None:
        trigger = CronTrigger(hour=at[0], minute=at[1], timezone=UTC)
        scheduler.add_job(
            jobs.guarded(name, job), trigger, id=name, name=name, misfire_grace_time=DAILY_GRACE
        )

    every("outbox", jobs.outbox_run, outbox_interval)
    every("webhooks", jobs.webhooks_run, outbox_interval)
    every("activation", jobs.activation, jobs.activation_interval.total_seconds())
    daily("digest", jobs.digest, DIGEST_AT)
    every("notices", jobs.notices, min(jobs.config.notify.unauthenticated_digest, NOTICES_INTERVAL))
    daily("purge", jobs.purge, PURGE_AT)
    return scheduler
