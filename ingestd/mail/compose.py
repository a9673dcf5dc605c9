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
attached (``mail.outgoing``); the words come from the templates (``mail.render``) and
``mail.wording``, the templates' view of the outcome from ``mail.views``, the attached files
from ``mail.attachments``.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import polars as pl

from ingestd.auth import HOLD_REASONS as AUTH_HOLDS
from ingestd.config import Config
from ingestd.mail.attachments import (
    Attachment,
    changes_csv,
    changes_xlsx,
    decks_csv,
    deferred_csv,
    held_csv,
    rejected_csv,
    slug,
)
from ingestd.mail.outgoing import (
    Outgoing,
    build_outgoing,
    own_addresses,
    recipients_of,
    references_for,
)
from ingestd.mail.render import render
from ingestd.mail.views import (
    ROW_COUNTS,
    DeckLike,
    OutcomeLike,
    auth_view,
    command_line,
    common_context,
    deck_dict,
    deck_view,
    deck_views,
    export_command_line,
    export_file_name,
    held_view,
    hold_text,
    inbound_view,
    is_authenticated,
    parent_sheet,
    quarantine_commands,
    tables_label,
    team_fixes,
    vendor_fixes,
    vendor_view,
    verdict_of,
    view_of,
)
from ingestd.mail.wording import CLASS_TEXT, NOTICE_GROUPS, PURPOSE_TEXT, QUIET_SKIPS
from ingestd.message.ledger import HeldMessage
from ingestd.rates.export import write_export
from ingestd.rates.model import iso
from ingestd.rates.records import TableRef
from ingestd.states import Purpose, SourceClass

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
    msg = view_of(outcome)
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
    return recipients_of(
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
    msg = view_of(outcome)
    automated = automated or msg["automated"]
    null_sender = null_sender or msg["envelope_from"] == ""
    if automated or null_sender or not is_authenticated(msg):
        return None
    verdict = verdict_of(msg)
    if verdict is None or not msg["vendor"]:
        return None
    vendor = config.vendor(msg["vendor"])
    recipients = recipients_of(vendor.confirm_to or (msg["auth"].get("from") or msg["from"],))
    if not recipients or set(recipients) & own_addresses(config):
        return None  # never answer ourselves
    decks = deck_views(msg)
    rejected = [row for deck in decks for row in deck["rejected"]]
    deferred = [row for deck in decks for row in deck["deferred"]]
    attachments = []
    if len(rejected) > REJECTED_IN_BODY:
        attachments.append(rejected_csv(rejected, "rejected-rows.csv"))
    inbound_id = inbound_message_id or msg["message_id"]
    context = {
        **common_context(config),
        "verdict": verdict,
        "status": msg["status"],
        "reason": msg["reason"],
        "detail": msg["message"],
        "vendor": vendor_view(vendor),
        "inbound": inbound_view(msg, inbound_id),
        "decks": decks,
        "tables_label": tables_label(decks),
        "rejected": rejected[:REJECTED_IN_BODY],
        "rejected_total": len(rejected),
        "rejected_attachment": attachments[0].filename if attachments else None,
        "deferred": deferred[:DEFERRED_IN_BODY],
        "deferred_total": len(deferred),
        "fixes": vendor_fixes(msg, decks),
        # what the vendor attached that was not a sheet (their message body is no news to them)
        "skipped": [s for s in msg["skipped"] if s.get("reason") not in QUIET_SKIPS],
        "reference": msg["raw_sha256"][:12],
    }
    rendered = render("vendor_confirmation", context, templates_dir=config.daemon.templates_dir)
    refs = references_for(references if references is not None else msg["references"], inbound_id)
    return build_outgoing(
        Purpose.CONFIRMATION, recipients, rendered, config,
        about=msg["raw_sha256"], facts=(msg["status"], msg["reason"], msg["quarantine_id"]),
        auto_submitted="auto-replied", in_reply_to=inbound_id, references=refs,
        attachments=attachments, now=now,
    )  # fmt: skip


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
    msg = view_of(outcome)
    raw_deck = deck_dict(sheet_outcome)
    parent = parent_sheet(msg, raw_deck)
    deck = deck_view(raw_deck, parent)
    vendor = config.vendor(deck["vendor"] or msg["vendor"])
    recipients = recipients_of(config.notify.rates_team)
    attachments: list[Attachment] = []
    table_ref = rates.table
    export_name = export_command = too_big = None
    exported = False
    if deck["status"] == "imported" and table_ref is not None and deck["version"]:
        export_name = export_file_name(vendor.id, deck)
        if rates.rows is not None:
            out = io.BytesIO()
            write_export(rates.rows.drop("id"), table_ref.kind, "csv", out, extended=True)
            attachments.append(Attachment(export_name, out.getvalue(), "text", "csv"))
            exported = True
        else:
            too_big = rates.rows_total
            export_command = export_command_line(config, vendor.id, table_ref, deck)
    if len(deck["rejected"]) > REJECTED_IN_BODY:
        attachments.append(rejected_csv(deck["rejected"], "rejected-rows.csv"))
    if len(deck["deferred"]) > DEFERRED_IN_BODY:
        attachments.append(deferred_csv(deck["deferred"], "deferred-rows.csv"))
    context = {
        **common_context(config),
        "vendor": vendor_view(vendor),
        "inbound": inbound_view(msg, msg["message_id"]),
        "auth": auth_view(msg),
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
        "fixes": team_fixes(deck),
        "attachments": [a.filename for a in attachments],
        "export_name": export_name if exported else None,
        "export_too_big": too_big,
        "export_command": export_command,
        "reference": msg["raw_sha256"][:12],
    }
    rendered = render("import_report", context, templates_dir=config.daemon.templates_dir)
    facts = (deck["file_hash"], deck["table"], deck["kind"], deck["status"], deck["version"])
    return build_outgoing(
        Purpose.IMPORT_REPORT, recipients, rendered, config, about=msg["raw_sha256"],
        facts=facts, attachments=attachments, now=now,
    )  # fmt: skip


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
    msg = view_of(outcome)
    deck = deck_view(deck_dict(sheet_outcome), None)
    if deck["status"] != "imported" or not deck["version"]:
        return []
    vendor = config.vendor(deck["vendor"] or msg["vendor"])
    subscribers = _subscribers(config, vendor.id, deck["table"])
    changes = rates.changes
    if not subscribers or rates.table is None or changes is None or changes.is_empty():
        return []
    base = f"{slug(vendor.id)}-{slug(deck['table'])}-v{deck['version']}-changes"
    attachments = []
    if changes.height <= ATTACH_MAX_ROWS:
        attachments.append(Attachment(f"{base}.csv", changes_csv(changes), "text", "csv"))
    if changes.height <= XLSX_MAX_ROWS:
        attachments.append(
            Attachment(
                f"{base}.xlsx",
                changes_xlsx(changes),
                "application",
                "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        )
    groups = _notice_groups(changes)
    diff_command = command_line(
        config, "diff", "--vendor", vendor.id, "--table", rates.table.name,
        str(deck["version"] - 1), str(deck["version"]),
    )  # fmt: skip
    context = {
        **common_context(config),
        "vendor": vendor_view(vendor),
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
    facts = (vendor.id, deck["table"], deck["kind"], deck["version"])
    return [
        build_outgoing(
            Purpose.PRICE_CHANGE, (address,), rendered, config, about=msg["raw_sha256"],
            facts=facts, attachments=attachments, now=now,
        )
        for address in subscribers
    ]  # fmt: skip


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
    view = held_view(held, config, source, received_at)
    recipients = recipients_of(config.notify.rates_team)
    rendered = render(
        "quarantine_alert",
        {**common_context(config), "held": view, "commands": quarantine_commands(config, view)},
        templates_dir=config.daemon.templates_dir,
    )
    # a held deck of a proven vendor, or a message whose sender nobody proved (a crash)
    proven = (view["auth"] or {}).get("status") == "pass"
    return build_outgoing(
        Purpose.QUARANTINE_ALERT, recipients, rendered, config,
        about=view["raw_sha256"], facts=(view["id"], view["reason"]), now=now,
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
    msg = view_of(outcome)
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
    msg = view_of(outcome)
    decks = [d for d in deck_views(msg) if d["status"] in ("imported", "refused")]
    vendor = config.vendor(msg["vendor"] or next((d["vendor"] for d in decks), None) or "")
    recipients = recipients_of(config.notify.rates_team)
    for deck in decks:
        table_ref = rates.get(deck_key(deck), NO_RATES).table
        deck["export_command"] = (
            export_command_line(config, vendor.id, table_ref, deck)
            if deck["status"] == "imported" and table_ref is not None and deck["version"]
            else None
        )
        deck["accepted"] = deck["rows"]["accepted"]  # flat, for the templates' tables
        deck["rejected_rows"] = deck["rows"]["rejected"]
    rejected = [row for deck in decks for row in deck["rejected"]]
    attachments = [decks_csv(decks, "decks.csv")]
    if rejected:
        attachments.append(rejected_csv(rejected, "rejected-rows.csv"))
    statuses = Counter(d["status_label"] for d in decks)
    context = {
        **common_context(config),
        "vendor": vendor_view(vendor),
        "inbound": inbound_view(msg, msg["message_id"]),
        "auth": auth_view(msg),
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
    return build_outgoing(
        Purpose.IMPORT_REPORT, recipients, rendered, config, about=msg["raw_sha256"],
        facts=("summary", *facts), attachments=attachments, now=now,
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
    recipients = recipients_of(config.notify.rates_team)
    entries = [{**h, "reason_text": hold_text(h["reason"])} for h in held]
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
        **common_context(config),
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
            {"reason": r, "text": hold_text(r), "count": n} for r, n in reasons.most_common()
        ],
        "commands": {
            "list": command_line(config, "quarantine", "list"),
            "show": command_line(config, "quarantine", "show", str(first or "ID")),
            "release": command_line(config, *RELEASE_STRANGER),
            "drop": command_line(config, "quarantine", "drop", "ID"),
        },
        "attachment": "held.csv" if len(entries) > HELD_IN_BODY else None,
    }
    rendered = render("unauthenticated_digest", context, templates_dir=config.daemon.templates_dir)
    attachments = [held_csv(entries, "held.csv")] if context["attachment"] else []
    return build_outgoing(
        Purpose.UNAUTHENTICATED_DIGEST, recipients, rendered, config,
        about="", facts=(iso(since), iso(until)), attachments=attachments, now=now,
        source_class=SourceClass.UNAUTHENTICATED,
    )  # fmt: skip


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
        **common_context(config),
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
            "list": command_line(config, "outbox", "list", "--state", "suppressed"),
            "retry": command_line(config, "outbox", "retry", str(ids[0] if ids else "ID")),
        },
    }
    rendered = render("cap_notice", context, templates_dir=config.daemon.templates_dir)
    return build_outgoing(
        Purpose.CAP_NOTICE, (recipient,), rendered, config,
        about="", facts=(source_class, iso(since), iso(until)), now=now,
        source_class=SourceClass.SYSTEM,
    )  # fmt: skip


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


def _single(column: pl.Series) -> str | None:
    values = column.drop_nulls().unique().to_list()
    return values[0] if len(values) == 1 else None
