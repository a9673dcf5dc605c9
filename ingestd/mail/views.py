"""Views of an outcome for the templates: a message, its decks, the vendor, the sender's
proof, a held message, and the commands a person can run about them."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeAlias

from ingestd.auth import HOLD_REASONS as AUTH_HOLDS
from ingestd.config import Config, Vendor
from ingestd.ingest import ImportOutcome
from ingestd.mail.attachments import slug
from ingestd.mail.wording import (
    CHANGE_ORDER,
    CLASS_LABELS,
    DECK_STATUS_LABELS,
    HOLD_TEXT,
    ROW_FIXES,
    SHEET_FIXES,
    SKIP_FIXES,
)
from ingestd.message.ledger import HeldMessage
from ingestd.message.outcome import MessageOutcome
from ingestd.rates.model import iso
from ingestd.rates.records import TableRef

# a MessageOutcome, or its as_dict() as the messages row stores it (JSON)

# a MessageOutcome, or its as_dict() as the messages row stores it (JSON)
OutcomeLike: TypeAlias = "MessageOutcome | Mapping[str, Any]"
DeckLike: TypeAlias = "ImportOutcome | Mapping[str, Any]"  # one deck: ImportOutcome.as_dict()
# the row counts of ImportOutcome.rows a report shows (absent ones are 0: a refused deck)
ROW_COUNTS = (
    "in_file", "accepted", "rejected", "deferred", "written", "closed", "discontinued_missing",
)  # fmt: skip


# --- views of the outcome for the templates ------------------------------------------------


def view_of(outcome: OutcomeLike) -> dict[str, Any]:
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


def is_authenticated(msg: Mapping[str, Any]) -> bool:
    return msg["auth"].get("status") == "pass" and bool(msg["auth"].get("from") or msg["from"])


def verdict_of(msg: Mapping[str, Any]) -> str | None:
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


def deck_dict(deck: DeckLike) -> dict[str, Any]:
    return deck.as_dict() if isinstance(deck, ImportOutcome) else dict(deck)


def parent_sheet(msg: Mapping[str, Any], deck: Mapping[str, Any]) -> dict[str, Any] | None:
    """The attachment (file name, path, format) a deck outcome came from."""
    for sheet in msg["sheets"]:
        if any(_same_deck(d, deck) for d in sheet.get("outcomes") or ()):
            return sheet
    return None


def _same_deck(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = ("file_hash", "table", "kind", "status", "version")
    return all(a.get(k) == b.get(k) for k in keys)


def deck_views(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        deck_view(deck, sheet) for sheet in msg["sheets"] for deck in sheet.get("outcomes") or ()
    ]


def deck_view(deck: Mapping[str, Any], sheet: Mapping[str, Any] | None) -> dict[str, Any]:
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


def tables_label(decks: Sequence[Mapping[str, Any]]) -> str:
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


def vendor_fixes(
    msg: Mapping[str, Any], decks: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
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


def team_fixes(deck: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For the rates team: the refusal's and the rows' reasons, with the vendor-facing hint
    (the deck's own message already names the configuration option when one would help)."""
    seen: Counter[str] = Counter(row.get("reason") or "unknown" for row in deck["rejected"])
    if deck["status"] == "refused" and deck["reason"]:
        seen[deck["reason"]] += 1
    return [
        {"code": code, "count": n, "hint": ROW_FIXES.get(code) or SHEET_FIXES.get(code) or ""}
        for code, n in seen.most_common()
    ]


def vendor_view(vendor: Vendor) -> dict[str, Any]:
    return {"id": vendor.id, "name": vendor.name or vendor.id, "known": vendor.known}


def inbound_view(msg: Mapping[str, Any], message_id: str | None) -> dict[str, Any]:
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


def auth_view(msg: Mapping[str, Any]) -> dict[str, Any]:
    auth = msg["auth"]
    return {
        "status": auth.get("status"),
        "reason": auth.get("reason"),
        "detail": auth.get("detail"),
        "signing_domain": auth.get("signing_domain"),
        "selector": auth.get("selector"),
    }


def held_view(
    held: HeldMessage | OutcomeLike,
    config: Config,
    source: str | None,
    received_at: datetime | None,
) -> dict[str, Any]:
    """A held message as the alert shows it, from a ``HeldMessage`` or an outcome."""
    if hasattr(held, "raw_path") and hasattr(held, "message_row"):  # pipeline.HeldMessage
        stored = view_of(held.outcome or {})
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
            "decks": deck_views(stored),
            "message_row": held.message_row,
        }
    else:
        msg = view_of(held)
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
            "received_at": iso(received_at) or inbound_view(msg, None)["received_at"],
            "held_at": None,
            "raw_sha256": msg["raw_sha256"],
            "message_id": msg["message_id"],
            "auth": msg["auth"],
            "decks": deck_views(msg),
            "message_row": msg["row_id"],
        }
    vendor = config.vendor(view["vendor"]) if view["vendor"] else None
    view["vendor_name"] = (vendor.name or vendor.id) if vendor is not None else None
    view["reason_text"] = hold_text(view["reason"])
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


def hold_text(reason: str | None) -> str:
    """Why a message is held, in words (the reason itself when it has none)."""
    return HOLD_TEXT.get(reason or "", reason or "held")


def quarantine_commands(config: Config, held: Mapping[str, Any]) -> dict[str, str]:
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
        "show": command_line(config, "quarantine", "show", qid),
        "release": command_line(config, *release),
        "drop": command_line(config, "quarantine", "drop", qid),
    }


def command_line(config: Config, *args: str) -> str:
    """``ingestd [-c CONFIG] ARGS…`` quoted for a shell: the configuration the daemon runs
    with, so the command acts on the same database."""
    head = ["ingestd"]
    if config.path is not None:
        head += ["-c", str(config.path)]
    return shlex.join([*head, *args])


def export_file_name(vendor_id: str, deck: Mapping[str, Any]) -> str:
    return f"{slug(vendor_id)}-{slug(deck['table'])}-v{deck['version']}.csv"


def export_command_line(
    config: Config, vendor_id: str, table_ref: TableRef, deck: Mapping[str, Any]
) -> str:
    """The command that exports a deck's new version to the file a report names."""
    return command_line(
        config, "export", "--vendor", vendor_id, "--table", table_ref.name,
        "--kind", str(table_ref.kind), "--version", str(deck["version"]),
        "-o", export_file_name(vendor_id, deck),
    )  # fmt: skip


def common_context(config: Config) -> dict[str, Any]:
    name, address = parseaddr(config.outbound.from_addr)
    return {"desk": {"name": name or address, "address": address}}
