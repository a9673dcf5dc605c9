"""The messages ingestd sends (docs/mail.md#mail-out), built from what the pipeline decided.

Pure functions: an outcome (``MessageOutcome`` or its ``as_dict()`` as stored in the
``messages`` row), the configuration and, for the reports that attach rate files, the rates
they render (``VersionRates``, gathered from the store by the notify stage as ``rates_wanted``
asks) in; ``Outgoing`` values out.  Nothing here reads the store, sends, stores or signs — the
outbox does that — so a notification can be composed again after a crash and come out as the
same message:

- the Message-ID is derived from the inbound message's raw hash, the purpose, what the
  message says (status, table and version) and the recipients, so a retry has the same
  Message-ID (the outbox keeps one message per Message-ID) while a later, different answer
  about the same inbound message (held, then released and imported) gets its own;
- replies to a vendor carry ``In-Reply-To``/``References`` and ``Auto-Submitted:
  auto-replied``; reports, notices and alerts ``Auto-Submitted: auto-generated`` (RFC 3834);
- nobody is answered who may not be: an unauthenticated sender, a null sender, a robot or a
  list (no backscatter, no loops) — ``vendor_confirmation`` returns None then.

Each message is ``multipart/alternative`` (text, HTML) inside ``multipart/mixed`` when files are
attached; the words come from the templates (``ingestd.mail.render``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path
from typing import Any, TypeAlias

import polars as pl

from ingestd.auth import HOLD_REASONS as AUTH_HOLDS
from ingestd.config import Config, Vendor
from ingestd.ingest import ImportOutcome
from ingestd.mail.outbox import header_text
from ingestd.mail.render import Rendered, render
from ingestd.message.ledger import HeldMessage
from ingestd.message.outcome import MessageOutcome
from ingestd.rates.export import _XML_ILLEGAL as XML_ILLEGAL  # the exports' one rule for XLSX
from ingestd.rates.export import FORMULA_START, neutralize_formula, write_export
from ingestd.rates.model import iso, price_text
from ingestd.rates.records import TableRef
from ingestd.states import Purpose, SourceClass

# a MessageOutcome, or its as_dict() as the messages row stores it (JSON)
OutcomeLike: TypeAlias = "MessageOutcome | Mapping[str, Any]"
DeckLike: TypeAlias = "ImportOutcome | Mapping[str, Any]"  # one deck: ImportOutcome.as_dict()

# the Message-ID prefix of each purpose this module composes
MESSAGE_ID_PREFIX = {
    Purpose.CONFIRMATION: "confirm",
    Purpose.IMPORT_REPORT: "report",
    Purpose.PRICE_CHANGE: "prices",
    Purpose.QUARANTINE_ALERT: "alert",
    Purpose.UNAUTHENTICATED_DIGEST: "strangers",
    Purpose.CAP_NOTICE: "held",
}
RELEASE_STRANGER = (
    "quarantine", "release", "ID", "--accept-unauthenticated", "--vendor", "VENDOR_ID",
)  # fmt: skip
HELD_IN_BODY = 30  # entries a digest or a "cap reached" notice lists; all of them go as CSV
REJECTED_IN_BODY = 20  # rejected rows listed in a body; more go to a CSV attachment
DEFERRED_IN_BODY = 20
CHANGES_IN_BODY = 15  # per group of a price-change notice
# a rate file this long is not mailed (relays refuse tens of megabytes); the body says which
# command exports it instead
ATTACH_MAX_ROWS = 200_000
XLSX_MAX_ROWS = 100_000  # openpyxl writes ~20k rows/s: larger lists go as CSV only
# In-Reply-To/References copy ids the vendor wrote: only <left@right> ids short enough for one
# header line, and the last 20 of a thread (RFC 5322 §3.6.4 lets a reply trim the list)
MSG_ID = re.compile(r"<[^<>\s\"@]{1,200}@[^<>\s\"@]{1,200}>")
MAX_REFERENCES = 20

# change classes in the order reports show them (rates.model.ChangeClass)
CHANGE_ORDER = (
    "new",
    "increase",
    "decrease",
    "unchanged",
    "forbidden",
    "unforbidden",
    "discontinued",
    "interval_change",
    "details",
)
# how reports name each change class
CLASS_LABELS = {
    "new": "new codes",
    "increase": "increases",
    "decrease": "decreases",
    "unchanged": "unchanged",
    "forbidden": "blocked",
    "unforbidden": "unblocked",
    "discontinued": "discontinued",
    "interval_change": "increment changes",
    "details": "description changes",
}
# the row counts of ImportOutcome.rows a report shows (absent ones are 0: a refused deck)
ROW_COUNTS = (
    "in_file", "accepted", "rejected", "deferred", "written", "closed", "discontinued_missing",
)  # fmt: skip
# what became of a deck, in words
DECK_STATUS_LABELS = {
    "imported": "accepted",
    "refused": "refused",
    "duplicate": "already imported",
    "held": "held for review",
    "dry_run": "not written (dry run)",
}
NOTICE_GROUPS = (
    # (one, many, classes)
    ("increase", "increases", ("increase",)),
    ("decrease", "decreases", ("decrease",)),
    ("new code", "new codes", ("new",)),
    ("removed code", "removed codes", ("discontinued", "withdrawn")),
    (
        "other change",
        "other changes",
        ("forbidden", "unforbidden", "interval_change", "cancelled"),
    ),
)
# What the vendor should do about a rejected row, by reason code (sheets.cells.REASON_TEXT,
# rates.semantics); written for the people who make the sheet.
ROW_FIXES = {
    "missing_code": "Give every rate row its code (prefix); a row without one cannot be rated.",
    "bad_code": "Write codes as digits only, at most 15 (format the column as text so the "
    "spreadsheet does not turn long codes into 1.2E+10).",
    "bad_range": "Write a range of codes as two ends of the same length, e.g. 447400-447409 "
    "(at most 10,000 codes).",
    "missing_price": "Give every row a price.",
    "bad_price": "Write prices as numbers, e.g. 0.0125.",
    "negative_price": "Prices cannot be negative.",
    "absurd_price": "A price above 1,000,000 is almost certainly a typo: check the decimal "
    "separator.",
    "bad_date": "Write effective dates as dates (2025-01-31 or 31-Jan-2025) or as ASAP.",
    "ambiguous_date": "Write dates so day and month cannot be confused (2025-01-03 or "
    "03-Jan-2025).",
    "bad_timezone": "Name time zones as Europe/London or as a UTC offset such as +01:00.",
    "bad_interval": "Write billing increments as whole seconds, e.g. 60/60 or 1/1.",
    "bad_number": "Write this column as a whole number.",
    "bad_flag": "Write yes/no columns as Y/N, yes/no or 1/0.",
    "bad_currency": "Write currencies as three-letter codes (USD, EUR).",
    "added_without_rate": "A code your code-changes sheet adds has no rate in the price sheet: "
    "send the code's rate with it.",
    "conflict": "The same code appears twice with different values: keep one row per code "
    "and date.",
    "short_notice": "This change is dated sooner than the agreed notice period allows: date it "
    "at least that period after you send it.",
    "end_before_start": "An end date must be after its effective date.",
}
# What the vendor should do about a sheet refused as a whole or a message without one.
SHEET_FIXES = {
    "no_table": "We could not find the rate table: put a header row with a code column "
    "(e.g. Prefix) and a price column (e.g. Rate) above the rates.",
    "no_code_column": "Add a column of codes (prefixes, MCCMNC or numbers) with a header.",
    "unknown_format": "Send rates as CSV, XLSX, XLS or ODS (a ZIP of them is fine).",
    "unreadable": "The file could not be read: save it again from your spreadsheet program "
    "and resend it.",
    "too_large": "The file is larger than we accept: zip it, or split the deck.",
    "too_many_rows": "The sheet has more rows than we accept: split the deck.",
    "too_many_columns": "The sheet has more columns than we accept: remove unused columns.",
    "too_many_rejected": "Too many rows were rejected for the sheet to be imported: fix the "
    "rows listed and send the whole sheet again.",
    "empty": "The sheet holds no rate rows.",
    "currency_mismatch": "The sheet is in another currency than the rate table it belongs "
    "to: check the currency, or ask us to set up a table for it.",
    "mixed_hyphens": "One code column uses hyphens both for ranges (447400-447409) and for "
    "country-area pairs (93-76): use one style per column.",
    "bad_override": "Our settings for your sheets are wrong; our rates team has been told.",
    "no_sheet": "Attach the rate sheet (CSV, XLSX, XLS, ODS, or a ZIP of them) to the message "
    "and send it again.",
}
# What the vendor should do about an attachment that was left out (mail.mime.SKIP_REASONS).
SKIP_FIXES = {
    "winmail_dat": "Your mail program wrapped the attachment in winmail.dat (Outlook rich "
    "text): send it from a message in HTML or plain-text format.",
    "encrypted": "Send the sheet without a password: protected files cannot be read.",
    "undecodable": "The attachment arrived damaged: attach it again.",
    "too_large": "The attachment is larger than we accept: zip it, or split the deck.",
}
QUIET_SKIPS = ("body_text", "inline_image")  # parts of every message, not worth a word
# Why a message was held, for the rates team (auth.HOLD_REASONS and the pipeline's own).
HOLD_TEXT = {
    "unknown_sender": "the From address belongs to no configured vendor",
    "no_from": "the message has no From address",
    "multiple_from": "the message has more than one From address",
    "unsigned": "the message carries no DKIM signature",
    "dkim_fail": "no DKIM signature verifies",
    "dkim_misaligned": "no passing DKIM signature is from one of the vendor's signing domains",
    "dkim_length_tag": "the DKIM signature covers only part of the body (l= tag)",
    "dkim_weak_algorithm": "the DKIM signature uses rsa-sha1",
    "dkim_from_unsigned": "the DKIM signature does not cover the From header",
    "dkim_expired": "the DKIM signature has expired",
    "dkim_weak_key": "the DKIM key is shorter than 1024 bits",
    "dkim_header_unsigned": "a Subject or Message-ID header is not covered by the DKIM signature",
    "dkim_test_key": "the DKIM key is in testing mode (t=y)",
    "no_sheet": "the message holds no rate sheet",
    "guard_triggered": "a sheet tripped a guard (mass discontinue, stale deck, price jump)",
    "too_many_sheets": "the message holds more rate sheets than [limits] max_sheets_per_message",
    "too_many_parts": "the message has more MIME parts than [limits] max_mime_parts",
    "pipeline_crash": "processing the message failed repeatedly",
}


@dataclass(frozen=True)
class Outgoing:
    """One composed message for the outbox: why it is sent, to whom, and the message."""

    purpose: Purpose  # also the X-Ingestd-Purpose header
    recipients: tuple[str, ...]  # bare addresses, the envelope RCPT TO
    message: EmailMessage
    # whose mail it is about, the daily cap it counts against
    source_class: SourceClass = SourceClass.AUTHENTICATED

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str
    subtype: str


# --- the four messages ---------------------------------------------------------------------


# a deck's version as the mail about it names it: vendor, kind, table, version
DeckKey: TypeAlias = tuple[str | None, str | None, str | None, int | None]


def deck_key(deck: Mapping[str, Any]) -> DeckKey:
    return (deck.get("vendor"), deck.get("kind"), deck.get("table"), deck.get("version"))


@dataclass(frozen=True)
class RatesWanted:
    """What the mail about one deck needs from the store (``rates_wanted``)."""

    deck: DeckKey
    # the version's rows (for the import report's attachment) if it holds at most this many;
    # 0: not wanted
    rows: int
    changes: bool  # what the version changes, for the subscribers' price-change notices


@dataclass(frozen=True)
class VersionRates:
    """What the store holds of one deck's version, gathered as ``rates_wanted`` asked
    (``message.notify.version_rates``), so that composing never reads the store."""

    table: TableRef | None = None
    rows_total: int = 0
    rows: pl.DataFrame | None = None  # None when not asked for, or too many to attach
    changes: pl.DataFrame | None = None  # ``rates.changes.price_changes``


NO_RATES = VersionRates()


def rates_wanted(outcome: OutcomeLike, config: Config) -> list[RatesWanted]:
    """For every deck of a finished message that ``notifications`` will write about, what it
    needs from the store: the table always, the rows for an import report of its own, the
    price changes when someone subscribes to them."""
    msg = _view(outcome)
    decks = [deck for sheet in msg["sheets"] for deck in sheet.get("outcomes") or ()]
    reported = [d for d in decks if d.get("status") in ("imported", "refused")]
    own_reports = len(reported) <= config.notify.reports_per_message
    wanted = []
    for deck in decks:
        imported = deck.get("status") == "imported" and bool(deck.get("version"))
        if not (imported or deck in reported):
            continue
        vendor = config.vendor(deck.get("vendor") or msg["vendor"])
        wanted.append(
            RatesWanted(
                deck_key(deck),
                rows=ATTACH_MAX_ROWS if imported and own_reports else 0,
                changes=imported and bool(_subscribers(config, vendor.id, deck.get("table"))),
            )
        )
    return wanted


def _subscribers(config: Config, vendor_id: str, table: str | None) -> tuple[str, ...]:
    return _recipients(
        s.address
        for s in config.notify.price_change_subscribers
        if (s.vendor is None or s.vendor == vendor_id) and (s.table is None or s.table == table)
    )


def vendor_confirmation(
    outcome: OutcomeLike,
    config: Config,
    *,
    inbound_message_id: str | None = None,
    references: str | None = None,
    automated: bool = False,
    null_sender: bool = False,
    now: datetime | None = None,
) -> Outgoing | None:
    """The answer to the vendor: accepted, partly accepted, refused, already imported, no
    sheet found, or held for review.  None when nobody may be answered (docs/mail.md#mail-out, RFC
    3834): the sender was not authenticated; the envelope sender was null (``null_sender``, or the
    outcome's ``envelope_from`` is ``""``); a robot or a list sent the inbound message
    (``automated``, or the outcome's ``automated`` from ``MessageSummary.is_automated``); or
    the outcome is nothing a vendor can act on (a crash, a repeated Message-ID).  The flags
    only ever add refusals: either source saying "robot" is enough.

    ``inbound_message_id`` defaults to the outcome's Message-ID and ``references`` to the
    inbound References header the outcome kept; the reply extends them (RFC 5322 §3.6.4)."""
    msg = _view(outcome)
    automated = automated or msg["automated"]
    null_sender = null_sender or msg["envelope_from"] == ""
    if automated or null_sender or not _authenticated(msg):
        return None
    verdict = _verdict(msg)
    if verdict is None or not msg["vendor"]:
        return None
    vendor = config.vendor(msg["vendor"])
    recipients = _recipients(vendor.confirm_to or (msg["auth"].get("from") or msg["from"],))
    if not recipients or set(recipients) & _own_addresses(config):
        return None  # never answer ourselves
    decks = _decks(msg)
    rejected = [row for deck in decks for row in deck["rejected"]]
    deferred = [row for deck in decks for row in deck["deferred"]]
    attachments = []
    if len(rejected) > REJECTED_IN_BODY:
        attachments.append(_rejected_csv(rejected, "rejected-rows.csv"))
    inbound_id = inbound_message_id or msg["message_id"]
    context = {
        **_common(config),
        "verdict": verdict,
        "status": msg["status"],
        "reason": msg["reason"],
        "detail": msg["message"],
        "vendor": _vendor_view(vendor),
        "inbound": _inbound_view(msg, inbound_id),
        "decks": decks,
        "tables_label": _tables_label(decks),
        "rejected": rejected[:REJECTED_IN_BODY],
        "rejected_total": len(rejected),
        "rejected_attachment": attachments[0].filename if attachments else None,
        "deferred": deferred[:DEFERRED_IN_BODY],
        "deferred_total": len(deferred),
        "fixes": _fixes(msg, decks),
        # what the vendor attached that was not a sheet (their message body is no news to them)
        "skipped": [s for s in msg["skipped"] if s.get("reason") not in QUIET_SKIPS],
        "reference": msg["raw_sha256"][:12],
    }
    rendered = render("vendor_confirmation", context, templates_dir=config.daemon.templates_dir)
    refs = _references(references if references is not None else msg["references"], inbound_id)
    message_id = _message_id(
        config, Purpose.CONFIRMATION, msg["raw_sha256"], recipients,
        msg["status"], msg["reason"], msg["quarantine_id"],
    )  # fmt: skip
    return _outgoing(
        Purpose.CONFIRMATION,
        recipients,
        rendered,
        config,
        message_id,
        auto_submitted="auto-replied",
        in_reply_to=inbound_id,
        references=refs,
        attachments=attachments,
        now=now,
    )


def import_report(
    outcome: OutcomeLike,
    sheet_outcome: DeckLike,
    config: Config,
    rates: VersionRates,
    *,
    now: datetime | None = None,
) -> Outgoing:
    """The rates team's report on one deck (one rate table) of a message: vendor, table,
    version, mode and why, counts per change class, deferred and rejected rows, guards,
    warnings, the detection report's column mapping; the normalized OpenTWPS file of the new
    version attached (extended CSV, which re-imports to the same table)."""
    msg = _view(outcome)
    raw_deck = _deck_dict(sheet_outcome)
    parent = _parent_sheet(msg, raw_deck)
    deck = _deck_view(raw_deck, parent)
    vendor = config.vendor(deck["vendor"] or msg["vendor"])
    recipients = _recipients(config.notify.rates_team)
    attachments: list[Attachment] = []
    table_ref = rates.table
    export_name = export_command = too_big = None
    exported = False
    if deck["status"] == "imported" and table_ref is not None and deck["version"]:
        export_name = _export_name(vendor.id, deck)
        if rates.rows is not None:
            out = io.BytesIO()
            write_export(rates.rows.drop("id"), table_ref.kind, "csv", out, extended=True)
            attachments.append(Attachment(export_name, out.getvalue(), "text", "csv"))
            exported = True
        else:
            too_big = rates.rows_total
            export_command = _export_command(config, vendor.id, table_ref, deck)
    if len(deck["rejected"]) > REJECTED_IN_BODY:
        attachments.append(_rejected_csv(deck["rejected"], "rejected-rows.csv"))
    if len(deck["deferred"]) > DEFERRED_IN_BODY:
        attachments.append(_deferred_csv(deck["deferred"], "deferred-rows.csv"))
    context = {
        **_common(config),
        "vendor": _vendor_view(vendor),
        "inbound": _inbound_view(msg, msg["message_id"]),
        "auth": _auth_view(msg),
        "deck": deck,
        "mapping": [
            {"header": header, "field": field}
            for header, field in (deck["detection"].get("mapping") or {}).items()
        ],
        "detection": deck["detection"],
        "rejected": deck["rejected"][:REJECTED_IN_BODY],
        "rejected_total": len(deck["rejected"]),
        "deferred": deck["deferred"][:DEFERRED_IN_BODY],
        "deferred_total": len(deck["deferred"]),
        "fixes": _team_fixes(deck),
        "attachments": [a.filename for a in attachments],
        "export_name": export_name if exported else None,
        "export_too_big": too_big,
        "export_command": export_command,
        "reference": msg["raw_sha256"][:12],
    }
    rendered = render("import_report", context, templates_dir=config.daemon.templates_dir)
    message_id = _message_id(
        config, Purpose.IMPORT_REPORT, msg["raw_sha256"], recipients,
        deck["file_hash"], deck["table"], deck["kind"], deck["status"], deck["version"],
    )  # fmt: skip
    return _outgoing(
        Purpose.IMPORT_REPORT,
        recipients,
        rendered,
        config,
        message_id,
        auto_submitted="auto-generated",
        attachments=attachments,
        now=now,
    )


def price_change_notice(
    outcome: OutcomeLike,
    sheet_outcome: DeckLike,
    config: Config,
    rates: VersionRates,
    *,
    now: datetime | None = None,
) -> list[Outgoing]:
    """Tell each subscriber of this vendor and table (``[notify] price_change_subscribers``,
    vendor/table None = every one) what the new version changes: increases, decreases, new
    and removed codes with their effective dates, a summary in the body and the full list
    attached as CSV and XLSX.  One message per subscriber address, so nobody sees who else
    subscribes; an empty list when no version was written, nothing changed or nobody
    subscribes."""
    msg = _view(outcome)
    deck = _deck_view(_deck_dict(sheet_outcome), None)
    if deck["status"] != "imported" or not deck["version"]:
        return []
    vendor = config.vendor(deck["vendor"] or msg["vendor"])
    subscribers = _subscribers(config, vendor.id, deck["table"])
    changes = rates.changes
    if not subscribers or rates.table is None or changes is None or changes.is_empty():
        return []
    base = f"{_slug(vendor.id)}-{_slug(deck['table'])}-v{deck['version']}-changes"
    attachments = []
    if changes.height <= ATTACH_MAX_ROWS:
        attachments.append(Attachment(f"{base}.csv", _changes_csv(changes), "text", "csv"))
    if changes.height <= XLSX_MAX_ROWS:
        attachments.append(
            Attachment(
                f"{base}.xlsx",
                _changes_xlsx(changes),
                "application",
                "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        )
    groups = _notice_groups(changes)
    diff_command = _command(
        config, "diff", "--vendor", vendor.id, "--table", rates.table.name,
        str(deck["version"] - 1), str(deck["version"]),
    )  # fmt: skip
    context = {
        **_common(config),
        "vendor": _vendor_view(vendor),
        "table": deck["table"],
        "kind": deck["kind"],
        "version": deck["version"],
        "previous_version": deck["version"] - 1,
        "received_at": deck["received_at"],
        "currency": _single(changes["currency"]),
        "intervals": "old_increment" in changes.columns,
        "groups": groups,
        "total": changes.height,
        "attachments": [a.filename for a in attachments],
        "diff_command": diff_command,
    }
    rendered = render("price_change_notice", context, templates_dir=config.daemon.templates_dir)
    out = []
    for address in subscribers:
        recipients = (address,)
        message_id = _message_id(
            config, Purpose.PRICE_CHANGE, msg["raw_sha256"], recipients,
            vendor.id, deck["table"], deck["kind"], deck["version"],
        )  # fmt: skip
        out.append(
            _outgoing(
                Purpose.PRICE_CHANGE,
                recipients,
                rendered,
                config,
                message_id,
                auto_submitted="auto-generated",
                attachments=attachments,
                now=now,
            )
        )
    return out


def quarantine_alert(
    held: HeldMessage | OutcomeLike,
    config: Config,
    *,
    source: str | None = None,
    received_at: datetime | None = None,
    now: datetime | None = None,
) -> Outgoing:
    """Tell the rates team a message was held: what (from, subject, vendor, source), why
    (reason code and detail) and the exact command that releases or drops it.  ``held`` is a
    ``pipeline.HeldMessage`` (``ingestd quarantine``) or the outcome of the message, which
    does not know where and when the message came in: pass ``source`` and ``received_at``."""
    view = _held_view(held, config, source, received_at)
    recipients = _recipients(config.notify.rates_team)
    rendered = render(
        "quarantine_alert",
        {**_common(config), "held": view, "commands": _quarantine_commands(config, view)},
        templates_dir=config.daemon.templates_dir,
    )
    message_id = _message_id(
        config, Purpose.QUARANTINE_ALERT, view["raw_sha256"], recipients, view["id"], view["reason"]
    )
    # a held deck of a proven vendor, or a message whose sender nobody proved (a crash)
    proven = (view["auth"] or {}).get("status") == "pass"
    return _outgoing(
        Purpose.QUARANTINE_ALERT, recipients, rendered, config, message_id,
        auto_submitted="auto-generated", now=now,
        source_class=SourceClass.AUTHENTICATED if proven else SourceClass.UNAUTHENTICATED,
    )  # fmt: skip


def notifications(
    outcome: OutcomeLike,
    config: Config,
    rates: Mapping[DeckKey, VersionRates],
    *,
    references: str | None = None,
    automated: bool = False,
    null_sender: bool = False,
    source: str | None = None,
    received_at: datetime | None = None,
    now: datetime | None = None,
) -> list[Outgoing]:
    """Every message one finished inbound message calls for, in the order they should go:
    the vendor's confirmation (when it may be sent), the quarantine alert (held messages), and
    per deck the rates team's report (imported or refused decks) and the subscribers'
    price-change notices (imported decks).  A held deck has no report of its own: the alert
    is its report, and its release brings the import report.

    A message held because its sender was not authenticated gets no alert of its own: the
    scheduler's ``unauthenticated_digest`` tells the rates team about all of them once per
    period, so strangers cannot flood the team.  A message with more decks to report than
    ``[notify] reports_per_message`` gets one ``import_summary`` listing them all instead of
    one report each (README "Sending mail").  ``rates``: what the store holds of each deck's
    version, as ``rates_wanted`` asked."""
    msg = _view(outcome)
    out: list[Outgoing] = []
    confirmation = vendor_confirmation(
        outcome,
        config,
        references=references,
        automated=automated,
        null_sender=null_sender,
        now=now,
    )
    if confirmation is not None:
        out.append(confirmation)
    held = msg["status"] == "quarantined" and msg["quarantine_id"] is not None
    if held and msg["reason"] not in AUTH_HOLDS:
        alert = quarantine_alert(outcome, config, source=source, received_at=received_at, now=now)
        out.append(alert)
    # a message held for one deck may have imported others before it: those versions exist
    decks = [deck for sheet in msg["sheets"] for deck in sheet.get("outcomes") or ()]
    reported = [d for d in decks if d.get("status") in ("imported", "refused")]
    if len(reported) > config.notify.reports_per_message:
        out.append(import_summary(outcome, config, rates, now=now))
    else:
        out += [
            import_report(outcome, deck, config, rates.get(deck_key(deck), NO_RATES), now=now)
            for deck in reported
        ]
    for deck in decks:
        if deck.get("status") == "imported":
            deck_rates = rates.get(deck_key(deck), NO_RATES)
            out += price_change_notice(outcome, deck, config, deck_rates, now=now)
    return out


def import_summary(
    outcome: OutcomeLike,
    config: Config,
    rates: Mapping[DeckKey, VersionRates],
    *,
    now: datetime | None = None,
) -> Outgoing:
    """The rates team's one report on a message with many decks: every deck with its table,
    version, status and counts, and the command that exports each new version; the list as a
    CSV, and every rejected row as CSV when there are any.  Purpose ``import_report``."""
    msg = _view(outcome)
    decks = [d for d in _decks(msg) if d["status"] in ("imported", "refused")]
    vendor = config.vendor(msg["vendor"] or next((d["vendor"] for d in decks), None) or "")
    recipients = _recipients(config.notify.rates_team)
    for deck in decks:
        table_ref = rates.get(deck_key(deck), NO_RATES).table
        deck["export_command"] = (
            _export_command(config, vendor.id, table_ref, deck)
            if deck["status"] == "imported" and table_ref is not None and deck["version"]
            else None
        )
        deck["accepted"] = deck["rows"]["accepted"]  # flat, for the templates' tables
        deck["rejected_rows"] = deck["rows"]["rejected"]
    rejected = [row for deck in decks for row in deck["rejected"]]
    attachments = [_decks_csv(decks, "decks.csv")]
    if rejected:
        attachments.append(_rejected_csv(rejected, "rejected-rows.csv"))
    statuses = Counter(d["status_label"] for d in decks)
    context = {
        **_common(config),
        "vendor": _vendor_view(vendor),
        "inbound": _inbound_view(msg, msg["message_id"]),
        "auth": _auth_view(msg),
        "decks": decks[:HELD_IN_BODY],
        "decks_total": len(decks),
        "limit": config.notify.reports_per_message,
        "statuses": [{"label": label, "count": n} for label, n in statuses.most_common()],
        "rows": {k: sum(d["rows"][k] for d in decks) for k in ROW_COUNTS},
        "rejected_total": len(rejected),
        "attachments": [a.filename for a in attachments],
        "reference": msg["raw_sha256"][:12],
    }
    rendered = render("import_summary", context, templates_dir=config.daemon.templates_dir)
    facts = sorted(
        "|".join(str(d[k]) for k in ("file_hash", "table", "kind", "status", "version"))
        for d in decks
    )
    message_id = _message_id(
        config, Purpose.IMPORT_REPORT, msg["raw_sha256"], recipients, "summary", *facts
    )
    return _outgoing(
        Purpose.IMPORT_REPORT, recipients, rendered, config, message_id,
        auto_submitted="auto-generated", attachments=attachments, now=now,
    )  # fmt: skip


def unauthenticated_digest(
    held: Sequence[Mapping[str, Any]],
    config: Config,
    *,
    since: datetime,
    until: datetime,
    now: datetime | None = None,
) -> Outgoing:
    """The rates team's one message per period about the messages held because their sender
    was not authenticated (``held``: quarantine entries with ``id``, ``reason``, ``detail``,
    ``from``, ``subject``, ``source``, ``received_at``, ``held_at``, ``state``): how many, from
    whom, why, and the commands that list, release or drop them.  Its Message-ID is the period
    and the recipients, so every daemon sharing the database composes the same one."""
    recipients = _recipients(config.notify.rates_team)
    entries = [{**h, "reason_text": _hold_text(h["reason"])} for h in held]
    senders: dict[str, dict[str, Any]] = {}
    for h in entries:
        sender = senders.setdefault(
            h["from"] or "", {"from": h["from"] or "(no From)", "count": 0, "reasons": Counter()}
        )
        sender["count"] += 1
        sender["reasons"][h["reason"]] += 1
    by_sender = sorted(senders.values(), key=lambda s: (-s["count"], s["from"]))
    reasons = Counter(h["reason"] for h in entries)
    first = entries[0]["id"] if entries else None
    context = {
        **_common(config),
        "since": iso(since),
        "until": iso(until),
        "total": len(entries),
        "held": entries[:HELD_IN_BODY],
        "senders": [
            {"from": s["from"], "count": s["count"], "reasons": ", ".join(sorted(s["reasons"]))}
            for s in by_sender[:HELD_IN_BODY]
        ],
        "senders_total": len(by_sender),
        "reasons": [
            {"reason": r, "text": _hold_text(r), "count": n} for r, n in reasons.most_common()
        ],
        "commands": {
            "list": _command(config, "quarantine", "list"),
            "show": _command(config, "quarantine", "show", str(first or "ID")),
            "release": _command(config, *RELEASE_STRANGER),
            "drop": _command(config, "quarantine", "drop", "ID"),
        },
        "attachment": "held.csv" if len(entries) > HELD_IN_BODY else None,
    }
    rendered = render("unauthenticated_digest", context, templates_dir=config.daemon.templates_dir)
    message_id = _message_id(
        config, Purpose.UNAUTHENTICATED_DIGEST, "", recipients, iso(since), iso(until)
    )
    attachments = [_held_csv(entries, "held.csv")] if context["attachment"] else []
    return _outgoing(
        Purpose.UNAUTHENTICATED_DIGEST, recipients, rendered, config, message_id,
        auto_submitted="auto-generated", attachments=attachments, now=now,
        source_class=SourceClass.UNAUTHENTICATED,
    )  # fmt: skip


# how the "cap reached" notice names a source class and an outbox purpose
CLASS_TEXT = {
    SourceClass.AUTHENTICATED: "about authenticated vendors' imports",
    SourceClass.UNAUTHENTICATED: "about mail whose sender was not authenticated",
    SourceClass.SYSTEM: "from ingestd itself (delivery failures, digests)",
}
PURPOSE_TEXT = {
    Purpose.CONFIRMATION: "vendor confirmations",
    Purpose.IMPORT_REPORT: "import reports",
    Purpose.PRICE_CHANGE: "price-change notices",
    Purpose.QUARANTINE_ALERT: "quarantine alerts",
    Purpose.UNAUTHENTICATED_DIGEST: "digests of unauthenticated mail",
    Purpose.DELIVERY_FAILURE: "delivery-failure notices",
    Purpose.ACTIVATION_DIGEST: "digests of rates taking effect",
}


def cap_notice(
    recipient: str,
    source_class: str,
    held: Sequence[Any],
    config: Config,
    *,
    since: datetime,
    until: datetime,
    now: datetime | None = None,
) -> Outgoing:
    """The one message per period and source class that tells ``recipient`` what the daily
    cap held back from it (``held``: ``outbox.HeldBack`` values): how many, per purpose and per
    vendor, and the commands that list them and send one.  The outbox never holds it back."""
    ids = [h.id for h in held]
    purposes = Counter(h.purpose for h in held)
    vendors = Counter(h.vendor or "-" for h in held)
    context = {
        **_common(config),
        "recipient": recipient,
        "source_class": source_class,
        "class_text": CLASS_TEXT.get(source_class, source_class),
        "cap": config.outbound.max_per_recipient_per_day,
        "since": iso(since),
        "until": iso(until),
        "total": len(held),
        "purposes": [
            {"purpose": p, "label": PURPOSE_TEXT.get(p, p), "count": n}
            for p, n in purposes.most_common()
        ],
        "vendors": [{"vendor": v, "count": n} for v, n in vendors.most_common()],
        "ids": ids[:HELD_IN_BODY],
        "commands": {
            "list": _command(config, "outbox", "list", "--state", "suppressed"),
            "retry": _command(config, "outbox", "retry", str(ids[0] if ids else "ID")),
        },
    }
    rendered = render("cap_notice", context, templates_dir=config.daemon.templates_dir)
    recipients = (recipient,)
    message_id = _message_id(
        config, Purpose.CAP_NOTICE, "", recipients, source_class, iso(since), iso(until)
    )
    return _outgoing(
        Purpose.CAP_NOTICE, recipients, rendered, config, message_id,
        auto_submitted="auto-generated", now=now, source_class=SourceClass.SYSTEM,
    )  # fmt: skip


def _change_table(changes: pl.DataFrame, *, xlsx: bool = False) -> pl.DataFrame:
    """The attachment's columns as text: exact prices, ISO times, a vendor's description
    neutralized as the exports do it (no formulas; for XLSX no characters XML refuses)."""
    cells = []
    for name, header in CHANGE_HEADERS.items():
        if name not in changes.columns:
            continue
        col = pl.col(name)
        if name in ("old_price", "new_price"):
            col = price_text(col)
        elif name == "effective_from":
            col = col.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif name == "description":
            col = neutralize_formula(col)
            if xlsx:
                col = col.str.replace_all(XML_ILLEGAL, "\ufffd")
        cells.append(col.alias(header))
    return changes.select(cells)


CHANGE_HEADERS = {
    "code": "Code",
    "description": "Description",
    "change": "Change",
    "old_price": "Old Price",
    "new_price": "New Price",
    "currency": "Currency",
    "effective_from": "Effective From (UTC)",
    "old_increment": "Old Increment",
    "new_increment": "New Increment",
}


def _changes_csv(changes: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    _change_table(changes).write_csv(out, line_terminator="\r\n", null_value="")
    return out.getvalue()


def _changes_xlsx(changes: pl.DataFrame) -> bytes:
    from openpyxl import Workbook  # only notices pay for importing it

    table = _change_table(changes, xlsx=True)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("changes")
    sheet.append(table.columns)
    for row in table.iter_rows():
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _notice_groups(changes: pl.DataFrame) -> list[dict[str, Any]]:
    groups = []
    for one, many, classes in NOTICE_GROUPS:
        part = changes.filter(pl.col("change_class").is_in(list(classes)))
        if part.is_empty():
            continue
        groups.append(
            {
                "label": many,
                "one": one,
                "count": part.height,
                "rows": part.head(CHANGES_IN_BODY).to_dicts(),
                "more": max(0, part.height - CHANGES_IN_BODY),
            }
        )
    return groups


# --- views of the outcome for the templates ------------------------------------------------


def _view(outcome: OutcomeLike) -> dict[str, Any]:
    """The outcome as one dict whatever form it came in: ``MessageOutcome`` or its
    ``as_dict()`` (what the ``messages`` row stores and the notifier reads back)."""
    data = outcome.as_dict() if hasattr(outcome, "as_dict") else dict(outcome)
    return {
        "status": data.get("status"),
        "reason": data.get("reason"),
        "message": data.get("message") or "",
        "raw_sha256": data.get("raw_sha256") or "",
        "vendor": data.get("vendor"),
        "from": data.get("from", data.get("from_addr")),
        "subject": data.get("subject") or "",
        "message_id": data.get("message_id"),
        "auth": data.get("auth") or {},
        "sheets": data.get("sheets") or [],
        "skipped": data.get("skipped") or [],
        "quarantine_id": data.get("quarantine_id"),
        "row_id": data.get("message_row", data.get("row_id")),
        "duplicate_of": data.get("duplicate_of"),
        # for answering: "" = the null sender; a robot or list sent it; the thread
        "envelope_from": data.get("envelope_from"),
        "automated": bool(data.get("automated")),
        "references": data.get("references"),
    }


def _authenticated(msg: Mapping[str, Any]) -> bool:
    return msg["auth"].get("status") == "pass" and bool(msg["auth"].get("from") or msg["from"])


def _verdict(msg: Mapping[str, Any]) -> str | None:
    """What the confirmation says; None for outcomes a vendor is not told about (a crash is
    the rates team's business; a repeated Message-ID was answered the first time)."""
    status, reason = msg["status"], msg["reason"]
    if status == "quarantined":
        return {"no_sheet": "no_sheet", "guard_triggered": "held"}.get(reason or "")
    if status == "duplicate" and not msg["sheets"]:
        return None
    return {
        "imported": "accepted",
        "partly_imported": "partly_accepted",
        "refused": "refused",
        "duplicate": "duplicate",
    }.get(status or "")


def _deck_dict(deck: DeckLike) -> dict[str, Any]:
    return deck.as_dict() if isinstance(deck, ImportOutcome) else dict(deck)


def _parent_sheet(msg: Mapping[str, Any], deck: Mapping[str, Any]) -> dict[str, Any] | None:
    """The attachment (file name, path, format) a deck outcome came from."""
    for sheet in msg["sheets"]:
        if any(_same_deck(d, deck) for d in sheet.get("outcomes") or ()):
            return sheet
    return None


def _same_deck(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = ("file_hash", "table", "kind", "status", "version")
    return all(a.get(k) == b.get(k) for k in keys)


def _decks(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        _deck_view(deck, sheet) for sheet in msg["sheets"] for deck in sheet.get("outcomes") or ()
    ]


def _deck_view(deck: Mapping[str, Any], sheet: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = deck.get("counts") or {}
    ordered = [c for c in CHANGE_ORDER if c in counts] + sorted(set(counts) - set(CHANGE_ORDER))
    detection = deck.get("sheet") or {}
    rejected = [
        {**row, "file_name": deck.get("file_name"), "fix": ROW_FIXES.get(row.get("reason") or "")}
        for row in deck.get("rejected") or ()
    ]
    guards = deck.get("guards") or []
    file_name = deck.get("file_name") or (sheet or {}).get("file_name")
    return {
        "file_name": file_name,
        "path": (sheet or {}).get("path") or file_name,
        "format": (sheet or {}).get("format"),
        "file_hash": deck.get("file_hash"),
        "sheet": detection.get("sheet"),
        "vendor": deck.get("vendor"),
        "table": deck.get("table"),
        "kind": deck.get("kind"),
        "mode": deck.get("mode"),
        "mode_source": deck.get("mode_source"),
        "version": deck.get("version"),
        "duplicate_of": deck.get("duplicate_of"),
        "status": deck.get("status"),
        "status_label": DECK_STATUS_LABELS.get(deck.get("status") or "", deck.get("status")),
        "reason": deck.get("reason"),
        "message": deck.get("message") or "",
        "received_at": deck.get("received_at"),
        "counts": [
            {"change_class": c, "label": CLASS_LABELS.get(c, c), "rows": int(counts[c])}
            for c in ordered
            if counts[c]
        ],
        "changes": sum(int(n) for c, n in counts.items() if c != "unchanged"),
        "rows": {k: int((deck.get("rows") or {}).get(k) or 0) for k in ROW_COUNTS},
        "rejected": rejected,
        "deferred": list(deck.get("deferred") or ()),
        "warnings": [
            {"name": "sheet", "message": str(w), "count": None, "examples": []}
            for w in detection.get("warnings") or ()
        ]
        + [
            {
                "name": w.get("name"),
                "message": w.get("message"),
                "count": w.get("count"),
                "examples": list(w.get("examples") or ()),
            }
            for w in deck.get("warnings") or ()
        ],
        "guards": [
            {
                "name": g.get("name"),
                "message": g.get("message"),
                "count": g.get("count"),
                "examples": list(g.get("examples") or ()),
                "tripped": bool(g.get("tripped")) or deck.get("reason") == g.get("name"),
            }
            for g in guards
        ],
        "detection": detection,
        "fix": (
            SHEET_FIXES.get(deck.get("reason") or "") if deck.get("status") == "refused" else None
        ),
    }


def _tables_label(decks: Sequence[Mapping[str, Any]]) -> str:
    """``default version 2, premium version 1`` — the tables a message touched, for subjects."""
    names = []
    for deck in decks:
        if not deck["table"]:
            continue
        version = deck["version"] if deck["status"] in ("imported", "duplicate") else None
        label = f"{deck['table']} version {version}" if version else str(deck["table"])
        if label not in names:
            names.append(label)
    return ", ".join(names)


def _fixes(msg: Mapping[str, Any], decks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What to fix, most frequent first: one line per reason code met in the message."""
    seen: Counter[str] = Counter()
    for deck in decks:
        if deck["status"] == "refused" and deck["reason"]:
            seen[deck["reason"]] += 1
        for row in deck["rejected"]:
            seen[row.get("reason") or "unknown"] += 1
        seen.update("short_notice" for _ in deck["deferred"])
    if msg["reason"] == "no_sheet":
        seen["no_sheet"] += 1
        seen.update(s.get("reason") for s in msg["skipped"] if s.get("reason") in SKIP_FIXES)
    out = []
    for code, count in seen.most_common():
        hint = ROW_FIXES.get(code) or SHEET_FIXES.get(code) or SKIP_FIXES.get(code)
        if hint is None:
            continue
        out.append({"code": code, "count": count, "hint": hint})
    return out


def _team_fixes(deck: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For the rates team: the refusal's and the rows' reasons, with the vendor-facing hint
    (the deck's own message already names the configuration option when one would help)."""
    seen: Counter[str] = Counter(row.get("reason") or "unknown" for row in deck["rejected"])
    if deck["status"] == "refused" and deck["reason"]:
        seen[deck["reason"]] += 1
    return [
        {"code": code, "count": n, "hint": ROW_FIXES.get(code) or SHEET_FIXES.get(code) or ""}
        for code, n in seen.most_common()
    ]


def _vendor_view(vendor: Vendor) -> dict[str, Any]:
    return {"id": vendor.id, "name": vendor.name or vendor.id, "known": vendor.known}


def _inbound_view(msg: Mapping[str, Any], message_id: str | None) -> dict[str, Any]:
    received = next(
        (
            d.get("received_at")
            for s in msg["sheets"]
            for d in s.get("outcomes") or ()
            if d.get("received_at")
        ),
        None,
    )
    return {
        "subject": msg["subject"],
        "from": msg["from"],
        "message_id": message_id,
        "received_at": received,
    }


def _auth_view(msg: Mapping[str, Any]) -> dict[str, Any]:
    auth = msg["auth"]
    return {
        "status": auth.get("status"),
        "reason": auth.get("reason"),
        "detail": auth.get("detail"),
        "signing_domain": auth.get("signing_domain"),
        "selector": auth.get("selector"),
    }


def _held_view(
    held: HeldMessage | OutcomeLike,
    config: Config,
    source: str | None,
    received_at: datetime | None,
) -> dict[str, Any]:
    """A held message as the alert shows it, from a ``HeldMessage`` or an outcome."""
    if hasattr(held, "raw_path") and hasattr(held, "message_row"):  # pipeline.HeldMessage
        stored = _view(held.outcome or {})
        raw = stored["raw_sha256"] or Path(held.raw_path).stem
        view = {
            "id": held.id,
            "reason": held.reason,
            "detail": held.detail,
            "from": held.from_addr,
            "subject": held.subject,
            "vendor": held.vendor,
            "source": source or held.source,
            "received_at": iso(received_at or held.received_at),
            "held_at": iso(held.created_at),
            "raw_sha256": raw,
            "message_id": stored["message_id"],
            "auth": stored["auth"],
            "decks": _decks(stored),
            "message_row": held.message_row,
        }
    else:
        msg = _view(held)
        if msg["quarantine_id"] is None:
            raise ValueError("the outcome holds no quarantined message (no quarantine_id)")
        view = {
            "id": msg["quarantine_id"],
            "reason": msg["reason"],
            "detail": msg["message"],
            "from": msg["from"],
            "subject": msg["subject"],
            "vendor": msg["vendor"],
            "source": source,
            "received_at": iso(received_at) or _inbound_view(msg, None)["received_at"],
            "held_at": None,
            "raw_sha256": msg["raw_sha256"],
            "message_id": msg["message_id"],
            "auth": msg["auth"],
            "decks": _decks(msg),
            "message_row": msg["row_id"],
        }
    vendor = config.vendor(view["vendor"]) if view["vendor"] else None
    view["vendor_name"] = (vendor.name or vendor.id) if vendor is not None else None
    view["reason_text"] = _hold_text(view["reason"])
    view["authentication_hold"] = view["reason"] in AUTH_HOLDS
    view["needs_vendor"] = view["authentication_hold"] and not view["vendor"]
    view["auth_detail"] = (view["auth"] or {}).get("detail")
    view["imported"] = [
        f"{d['table']} version {d['version']}" for d in view["decks"] if d["status"] == "imported"
    ]
    view["guards"] = [
        {**g, "file_name": d["file_name"], "table": d["table"]}
        for d in view["decks"]
        for g in d["guards"]
        if g["tripped"]
    ]
    return view


def _hold_text(reason: str | None) -> str:
    """Why a message is held, in words (the reason itself when it has none)."""
    return HOLD_TEXT.get(reason or "", reason or "held")


def _quarantine_commands(config: Config, held: Mapping[str, Any]) -> dict[str, str]:
    """The exact commands that show, release or drop the held message
    (docs/operations.md#command-line): a message held for its authentication is released only with
    --accept-unauthenticated, and one whose sender no vendor lists also needs --vendor."""
    qid = str(held["id"])
    release = ["quarantine", "release", qid]
    if held["authentication_hold"]:
        release.append("--accept-unauthenticated")
        if not held["vendor"]:
            release += ["--vendor", "VENDOR_ID"]
    return {
        "show": _command(config, "quarantine", "show", qid),
        "release": _command(config, *release),
        "drop": _command(config, "quarantine", "drop", qid),
    }


def _command(config: Config, *args: str) -> str:
    """``ingestd [-c CONFIG] ARGS…`` quoted for a shell: the configuration the daemon runs
    with, so the command acts on the same database."""
    head = ["ingestd"]
    if config.path is not None:
        head += ["-c", str(config.path)]
    return shlex.join([*head, *args])


def _export_name(vendor_id: str, deck: Mapping[str, Any]) -> str:
    return f"{_slug(vendor_id)}-{_slug(deck['table'])}-v{deck['version']}.csv"


def _export_command(
    config: Config, vendor_id: str, table_ref: TableRef, deck: Mapping[str, Any]
) -> str:
    """The command that exports a deck's new version to the file a report names."""
    return _command(
        config, "export", "--vendor", vendor_id, "--table", table_ref.name,
        "--kind", str(table_ref.kind), "--version", str(deck["version"]),
        "-o", _export_name(vendor_id, deck),
    )  # fmt: skip


def _common(config: Config) -> dict[str, Any]:
    name, address = parseaddr(config.outbound.from_addr)
    return {"desk": {"name": name or address, "address": address}}


# --- attachments ---------------------------------------------------------------------------


def _text_cell(value: Any) -> str:
    """A cell a vendor wrote, safe to open in a spreadsheet (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if re.match(FORMULA_START, text) else text


def _rejected_csv(rows: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    """Every rejected row with its reason and the raw cells, one cell per column, so the
    vendor sees the row as their sheet had it."""
    width = max((len(r.get("cells") or ()) for r in rows), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["File", "Sheet", "Row", "Code", "Reason", "Message"]
        + [f"Cell {i + 1}" for i in range(width)]
    )
    for r in rows:
        cells = list(r.get("cells") or ())
        writer.writerow(
            [
                _text_cell(r.get("file_name")),
                _text_cell(r.get("sheet")),
                "" if r.get("row") is None else r["row"],
                _text_cell(r.get("code")),
                r.get("reason") or "",
                _text_cell(r.get("message")),
            ]
            + [_text_cell(c) for c in cells]
            + [""] * (width - len(cells))
        )
    return Attachment(name, out.getvalue().encode("utf-8-sig"), "text", "csv")


def _decks_csv(decks: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    """One line per deck of an import summary."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["File", "Sheet", "Table", "Kind", "Version", "Status", "Reason", "Rows in file",
         "Accepted", "Rejected", "Deferred", "Changed", "Export"]
    )  # fmt: skip
    for d in decks:
        writer.writerow(
            [_text_cell(d["path"]), _text_cell(d["sheet"]), _text_cell(d["table"]), d["kind"],
             d["version"] or "", d["status_label"], d["reason"] or "", d["rows"]["in_file"],
             d["rows"]["accepted"], d["rows"]["rejected"], d["rows"]["deferred"], d["changes"],
             d.get("export_command") or ""]
        )  # fmt: skip
    return Attachment(name, out.getvalue().encode("utf-8-sig"), "text", "csv")


def _held_csv(held: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    """Every entry of an unauthenticated digest; the From and Subject are a stranger's words."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Quarantine id", "Held at (UTC)", "From", "Subject", "Reason", "Detail"])
    for h in held:
        writer.writerow(
            [h["id"], h["held_at"], _text_cell(h["from"]), _text_cell(h["subject"]),
             h["reason"], _text_cell(h["detail"])]
        )  # fmt: skip
    return Attachment(name, out.getvalue().encode("utf-8-sig"), "text", "csv")


def _deferred_csv(rows: Sequence[Mapping[str, Any]], name: str) -> Attachment:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Code", "Change", "Stated (UTC)", "Effective (UTC)", "Row"])
    for r in rows:
        writer.writerow([r.get(k) for k in ("code", "change_class", "stated", "effective", "row")])
    return Attachment(name, out.getvalue().encode("utf-8"), "text", "csv")


# --- the message itself --------------------------------------------------------------------


def _outgoing(
    purpose: str,
    recipients: tuple[str, ...],
    rendered: Rendered,
    config: Config,
    message_id: str,
    *,
    auto_submitted: str,
    in_reply_to: str | None = None,
    references: str | None = None,
    attachments: Iterable[Attachment] = (),
    now: datetime | None = None,
    source_class: SourceClass = SourceClass.AUTHENTICATED,
) -> Outgoing:
    """The message around the rendered words: the headers every outgoing message carries
    (RFC 3834 Auto-Submitted, the purpose, a deterministic Message-ID), text and HTML as
    alternatives, files after them."""
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # naive instants are UTC throughout ingestd
    message = EmailMessage(policy=SMTP)
    message["From"] = config.outbound.from_addr
    message["To"] = ", ".join(recipients)
    message["Subject"] = header_text(rendered.subject)  # may quote what a vendor wrote
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id
    in_reply_to = next(iter(_msg_ids(in_reply_to)), None)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message["Auto-Submitted"] = auto_submitted
    # Exchange and Outlook: no out-of-office or read receipts in answer to a robot
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Ingestd-Purpose"] = purpose
    # quoted-printable: 7-bit clean, so no relay re-encodes the body and breaks its DKIM
    # signature (8bit would be the library's choice for non-ASCII text)
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for att in attachments:
        message.add_attachment(
            att.data, maintype=att.maintype, subtype=att.subtype, filename=att.filename
        )
    return Outgoing(purpose, recipients, message, source_class)


def _message_id(config: Config, purpose: str, raw_sha256: str, recipients: Sequence[str],
                *facts: Any) -> str:  # fmt: skip
    """``<confirm.1f2e…@desk.example>``: the same inbound message, purpose, facts and
    recipients always give the same id, so composing again after a crash or a retry makes no
    second message."""
    parts = [raw_sha256, purpose, ",".join(sorted(recipients))]
    seed = "\n".join(parts + ["" if f is None else str(f) for f in facts])
    digest = hashlib.sha256(seed.encode()).hexdigest()[:32]
    return f"<{MESSAGE_ID_PREFIX[purpose]}.{digest}@{_from_domain(config)}>"


def _from_domain(config: Config) -> str:
    address = parseaddr(config.outbound.from_addr)[1]
    return address.rsplit("@", 1)[1].lower() if "@" in address else "localhost"


def _references(inbound_references: str | None, inbound_id: str | None) -> str | None:
    """The inbound References followed by the inbound Message-ID (RFC 5322 §3.6.4): only
    well-formed ids, the last MAX_REFERENCES of them (a vendor writes these headers)."""
    ids = _msg_ids(inbound_references)
    for own in _msg_ids(inbound_id):
        if own not in ids:
            ids.append(own)
    return " ".join(ids[-MAX_REFERENCES:]) or None


def _msg_ids(text: str | None) -> list[str]:
    """The ``<left@right>`` ids in a vendor's header, each once; anything else (words an
    encoded word decoded to, ids too long for one header line) is left out."""
    found: list[str] = []
    for token in MSG_ID.findall(text or ""):
        if "=?" not in token and token not in found:  # no encoded word: see header_text
            found.append(token)
    return found


def _recipients(addresses: Iterable[str]) -> tuple[str, ...]:
    """Bare addresses, lower-cased, each once, in the given order."""
    out: list[str] = []
    for _, address in getaddresses([a for a in addresses if a]):
        address = address.strip().lower()
        if "@" in address and address not in out:
            out.append(address)
    return tuple(out)


def _own_addresses(config: Config) -> set[str]:
    own = {parseaddr(config.outbound.from_addr)[1].lower()}
    own.update(r.lower() for r in config.smtp.recipients)
    return own


def _single(column: pl.Series) -> str | None:
    values = column.drop_nulls().unique().to_list()
    return values[0] if len(values) == 1 else None


def _slug(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text or "table").strip("-") or "table"
