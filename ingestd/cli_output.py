"""What the ``ingestd`` command prints: for people, the text renderings of what the application
layer (``ingestd.service``) returns; for programs (``--json``), its data as JSON."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from ingestd.ingest import ImportOutcome
from ingestd.rates.model import iso, spec_for
from ingestd.rates.schema import canonical_decimal
from ingestd.service.apikeys import ApiKey
from ingestd.states import HeldState, OutboxState, WebhookState

if TYPE_CHECKING:  # the mail modules load only for the commands that use them
    from ingestd.config import Config
    from ingestd.mail.outbox import OutboxEntry
    from ingestd.message.ledger import HeldMessage
    from ingestd.message.outcome import MessageOutcome
    from ingestd.rates.profiles import Profile
    from ingestd.service.audit import AuditEntry
    from ingestd.service.tables import Lookup, Rollback, TableDiff, TableVersions
    from ingestd.service.users import User
    from ingestd.webhooks.deliveries import Delivery

SHOWN = 50  # rows of a list printed for people; --json gives all


def print_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    # one write: json.dump writes every token on its own, a system call each when Python's
    # output is unbuffered (PYTHONUNBUFFERED, as under systemd and in containers)
    out.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def ts(value: datetime | None) -> str:
    return iso(value) or "-"


# --- imports -----------------------------------------------------------------------------------


def print_message_outcome(label: str, o: MessageOutcome, out: TextIO | None = None) -> None:
    w = (out or sys.stdout).write
    w(f"{label}: {o.status.replace('_', ' ')} — {o.message}\n")
    auth = o.auth or {}
    w(f"  from      {o.from_addr or '?'}  vendor {o.vendor or '?'}\n")
    if auth:
        proof = (
            f"DKIM pass (d={auth.get('signing_domain')}, s={auth.get('selector')})"
            if auth.get("status") == "pass"
            else f"{auth.get('status')}: {auth.get('reason')} — {auth.get('detail')}"
        )
        w(f"  sender    {proof}\n")
    if o.quarantine_id is not None:
        w(f"  held      quarantine {o.quarantine_id} [{o.reason}]: `ingestd quarantine show "
          f"{o.quarantine_id}`\n")  # fmt: skip
    for sheet in o.sheets:
        for result in sheet["outcomes"]:
            where = f"{result['vendor']}/{result['kind'] or '?'}/{result['table'] or '?'}"
            w(
                f"  sheet     {sheet['file_name']} → {where}: {result['status']}"
                f" — {result['message'] or ''}\n"
            )
    for part in o.skipped:
        if part["reason"] not in ("body_text", "inline_image"):
            w(f"  skipped   {part['path']}: {part['detail']} [{part['reason']}]\n")


def progress(label: str) -> Callable[[str], None]:
    """Stages of a long command on a terminal; nothing when stderr is not one
    (docs/operations.md#command-line)."""
    if not sys.stderr.isatty():
        return lambda stage: None
    started = time.monotonic()

    def show(stage: str) -> None:
        sys.stderr.write(f"\r\033[K{label}: {stage}… ({time.monotonic() - started:.1f} s)")
        sys.stderr.flush()
        if stage == "done":
            sys.stderr.write("\r\033[K")

    return show


def print_outcome(o: ImportOutcome, out: TextIO | None = None) -> None:
    w = (out or sys.stdout).write
    where = f"{o.vendor}/{o.kind or '?'}/{o.table or '?'}"
    w(f"{o.file_name}: {o.status.replace('_', ' ')} — {o.message or ''}\n")
    w(
        f"  table     {where}"
        + ("" if o.vendor_known else "  (vendor not configured: defaults used)")
        + "\n"
    )
    if o.mode:
        w(f"  mode      {o.mode} deck ({o.mode_source})\n")
    w(f"  received  {ts(o.received_at)} UTC   sha256 {o.file_hash[:16]}…\n")
    print_detection(o.sheet, w)
    if o.rows:
        r = o.rows
        w(
            f"  rows      {r['in_file']} in the sheet → {r['accepted']} rates accepted, "
            f"{r['rejected']} rejected; {r['written']} written, {r['closed']} closed\n"
        )
    if o.counts:
        parts = [f"{k.replace('_', ' ')} {v}" for k, v in o.counts.items() if v]
        w(f"  changes   {' · '.join(parts) or 'none'}\n")
    if o.deferred:
        w(f"  deferred  {len(o.deferred)} rows (notice period):\n")
        for d in o.deferred[:SHOWN]:
            w(
                f"    {d['code']:<16} {d['change_class']:<15} "
                f"stated {d['stated']} → effective {d['effective']}"
                + (f"  (row {d['row']})" if d.get("row") else "")
                + "\n"
            )
        _more(w, len(o.deferred))
    for g in o.guards:
        if g.get("tripped"):
            w(f"  HELD      {g['name']}: {g['message']}" + _examples(g) + "\n")
    for warning in o.warnings:
        w(f"  warning   {warning['name']}: {warning['message']}" + _examples(warning) + "\n")
    if o.rejected:
        w(f"  rejected  {len(o.rejected)} rows:\n")
        for e in o.rejected[:SHOWN]:
            where_ = f"row {e.row}" if e.row else (e.code or "")
            cells = " | ".join(e.cells)
            w(
                f"    {where_:<10} [{e.reason}] {e.message}"
                + (f"  ({cells})" if cells else "")
                + "\n"
            )
        _more(w, len(o.rejected))
    if o.status == "held":
        for doubt in (o.sheet or {}).get("doubts") or ():
            w(f"  DOUBT     {doubt['subject']}: {doubt['question']}\n")
            if doubt.get("answer"):
                w(f"            answer with {doubt['answer']}\n")
        w(
            "  nothing was written; check the deck, then re-run with --accept-guards "
            "to import it anyway\n"
        )


def print_detection(report: dict, w: Callable[[str], Any]) -> None:
    """How the sheet was understood (the detection report), in a few lines."""
    if not report:
        return
    where = f"header on row {report['header_row']}" if report.get("header_row") else "no header"
    w(
        f"  sheet     {report.get('sheet') or '-'} ({where}; {report.get('layout')}), "
        f"{report.get('kind')} from {report.get('kind_source')}\n"
    )
    if report.get("mapping"):
        cols = " · ".join(f"{h} → {f}" for h, f in report["mapping"].items())
        w(f"  columns   {cols}\n")
    facts = []
    if report.get("currency"):
        facts.append(f"currency {report['currency']}")
    if report.get("product"):
        facts.append(f"product {report['product']}")
    if report.get("date_order"):
        facts.append(f"dates {report['date_order']}")
    notice = report.get("notice") or {}
    for key, label in (
        ("issue_date", "issued"),
        ("increase_date", "increases from"),
        ("decrease_date", "decreases from"),
    ):
        if notice.get(key):
            facts.append(f"{label} {notice[key]}")
    if facts:
        w(f"  deck      {' · '.join(facts)}\n")
    if report.get("increments"):
        inc = " · ".join(f"{src} {n}" for src, n in report["increments"].items() if n)
        w(f"  intervals {inc}\n")
    skipped = " · ".join(
        f"{k.replace('_', ' ')} {n}" for k, n in (report.get("skipped") or {}).items() if n
    )
    if skipped:
        w(f"  skipped   {skipped}\n")
    profile = report.get("profile")
    if profile:
        used = "vendor profile" if profile.get("used") else "answers for layout"
        kept = "; kept as the vendor's profile" if profile.get("saved") else ""
        w(
            f"  profile   {used} {profile['fingerprint']}: "
            f"{' '.join(profile.get('answers') or ()) or '-'}{kept}\n"
        )
    for warning in report.get("warnings") or []:
        w(f"  warning   {warning}\n")


def _examples(finding: dict) -> str:
    ex = finding.get("examples") or []
    return (
        f" ({', '.join(ex[:10])}"
        f"{', …' if len(ex) > 10 or finding.get('count', 0) > len(ex) else ''})"
        if ex
        else ""
    )


def _more(w: Callable[[str], Any], n: int) -> None:
    if n > SHOWN:
        w(f"    … {n - SHOWN} more (use --json for all)\n")


def price(value: Any) -> str:
    return "-" if value is None else canonical_decimal(value)


def imap_line(a: dict[str, Any]) -> str:
    """``name: state since …`` and what matters for that state, for ``ingestd status``."""
    line = f"{a['account']}: {a['state']}"
    if a.get("since"):
        line += f" since {a['since']}"
    if a["state"] not in ("unknown", "stopped") and not a["running"]:
        line += " (daemon not running)"
    if a["state"] in ("backoff", "config_error") and a.get("retry_at"):
        line += f", next attempt {a['retry_at']}"
    line += f", last sweep {a.get('last_sweep') or 'never'}"
    if a.get("last_error"):
        at = f" at {a['last_error_at']}" if a.get("last_error_at") else ""
        what = "configuration error" if a["state"] == "config_error" else "last error"
        line += f"; {what}{at}: {a['last_error']}"
    return line


def imap_check_lines(c: dict[str, Any]) -> list[str]:
    """``check-config --connect``'s report of one IMAP account."""
    head = f"imap {c['account']} ({c['host']}:{c['port']})"
    if not c["ok"]:
        why = "configuration error" if c["config_error"] else "not reachable"
        return [f"{head}: NOT usable, {why}: {c['error']}"]
    delimiter = "NIL" if c["delimiter"] is None else repr(c["delimiter"])
    lines = [f"{head}: ok, namespace prefix {c['prefix']!r}, delimiter {delimiter}"]
    for f in c["folders"]:
        lines.append(f"  {f['role']:<10} {f['folder']!r} is {f['server']!r} on the server: "
                     f"{f['result']}")  # fmt: skip
    return lines


def print_held(e: HeldMessage) -> None:
    from ingestd.auth import HOLD_REASONS

    print(f"quarantine {e.id}: {e.state}, held {ts(e.created_at)} UTC [{e.reason}]")
    print(f"  from      {e.from_addr or '?'}  vendor {e.vendor or '?'}  via {e.source}")
    print(f"  subject   {e.subject or ''}")
    print(f"  received  {ts(e.received_at)} UTC   raw message {e.raw_path}")
    print(f"  why       {e.detail}")
    if e.resolution:
        print(f"  resolved  {ts(e.resolved_at)} UTC: {e.resolution}")
    if e.state == HeldState.HELD:
        flag = " --accept-unauthenticated" if e.reason in HOLD_REASONS else ""
        print(f"  release   ingestd quarantine release {e.id}{flag}   (or: drop {e.id})")


# --- tables ------------------------------------------------------------------------------------


def print_versions(found: TableVersions) -> None:
    table = found.table
    print(f"{table.label} — {len(found.versions)} versions, latest {table.current_version}")
    print(
        f"{'ver':>4}  {'imported (UTC)':<19}  {'received (UTC)':<19}  {'origin':<8} {'mode':<8}"
        f" {'rows':>8} {'added':>7} {'closed':>7}  file"
    )
    for v in found.versions:
        origin = v.origin if v.rollback_to is None else f"→v{v.rollback_to}"
        print(
            f"{v.number:>4}  {ts(v.created_at):<19}  {ts(v.received_at):<19}  "
            f"{origin:<8} {v.mode:<8}"
            f" {v.rows_total:>8} {v.rows_added:>7} {v.rows_closed:>7}  {v.file_name or ''}"
        )


def print_diff(found: TableDiff) -> None:
    table, diff = found.table, found.diff
    print(f"{table.label}: version {diff.from_version} → {diff.to_version}")
    counts = " · ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(diff.counts.items()) if v)
    print(f"  {counts or 'no changes'}")
    deciding = spec_for(table.kind).rate_prices[0]
    for label, frame in (
        ("added", diff.added),
        ("changed", diff.changed),
        ("removed", diff.removed),
    ):
        if frame.is_empty():
            continue
        print(f"  {label} ({frame.height}):")
        for r in frame.head(SHOWN).iter_rows(named=True):
            old = f"{price(r.get(deciding + '_old'))} → " if label == "changed" else ""
            flags = " forbidden" if r["forbidden"] else ""
            flags += " discontinued" if r["discontinued"] else ""
            print(
                f"    {r['code']:<16} from {ts(r['effective_from'])}  {old}{price(r[deciding])}"
                f"  [{r.get('change_class') or ''}]{flags}"
            )
        if frame.height > SHOWN:
            print(f"    … {frame.height - SHOWN} more (use --json for all)")


def print_lookup(found: Lookup) -> None:
    table, hit = found.table, found.match
    if hit is None:
        print(f"{found.number}: no rate in {table.label} at {ts(found.at)} UTC")
        return
    spec = spec_for(table.kind)
    prices = ", ".join(f"{p} {price(hit[p])}" for p in spec.prices if hit.get(p) is not None)
    state = " FORBIDDEN" if hit["forbidden"] else ""
    intervals = "/".join(str(hit[i]) for i in spec.intervals if hit.get(i) is not None)
    print(
        f"{found.number}: {hit['code']}{state}  {prices}"
        + (f" {hit['currency']}" if hit.get("currency") else "")
        + (f"  interval {intervals}" if intervals else "")
    )
    print(
        f"  in effect {ts(hit['effective_from'])} → "
        f"{ts(hit['effective_to']) if hit['effective_to'] else 'open'}"
        f"  ({hit.get('description') or 'no description'}; {hit['change_class']})"
    )


def print_rollback(done: Rollback) -> None:
    info = done.version
    print(
        f"{done.table.label}: version {info.number} now equals version {done.to} "
        f"({info.rows_added} rows added, {info.rows_closed} closed)"
    )


# --- status ------------------------------------------------------------------------------------


def print_status(status: dict[str, Any]) -> None:
    print(f"database   {status['database']}")
    q = status["queue"]
    print(f"queue      {q['waiting']} waiting, {q['processing']} being processed")
    held = ", ".join(f"{r} {n}" for r, n in status["quarantine_by_reason"].items())
    print(f"quarantine {status['quarantine_held']} held" + (f" ({held})" if held else ""))
    out = ", ".join(f"{n} {state}" for state, n in status["outbox"].items()) or "empty"
    print(f"outbox     {out}")
    for account in status["imap"]:
        print(f"imap       {imap_line(account)}")
    print(f"tables     {status['tables']}   versions {status['versions']}")
    for t in status["last_imports"]:
        print(
            f"  {t['vendor']}/{t['kind']}/{t['table']}: "
            f"version {t['version']} at {t['imported_at']}"
            f" ({t['file_name'] or '-'})"
        )


def print_check_config(report: dict[str, Any], config: Config, *, connect: bool) -> None:
    src = config.path or "built-in defaults"
    print(f"configuration {src}: ok ({len(config.vendors)} vendors)")
    db = report["database"]
    if db.get("reachable"):
        print(
            f"database reachable, schema {db['revision'] or 'none'} (head {db['head']})"
            + (f" — {db['note']}" if db.get("note") else "")
        )
    else:
        print(f"database NOT reachable: {db['error']}")
    for problem in report["templates"]:
        print(f"template problem: {problem}")
    if not report["templates"]:
        print(f"templates ok ({config.daemon.templates_dir or 'bundled'})")
    dkim = report["dkim"]
    if dkim.get("error"):
        print(f"outgoing DKIM key NOT usable: {dkim['error']}")
    elif dkim["signing"]:
        print(f"outgoing mail signed: d={dkim['domain']} s={dkim['selector']} "
              f"({dkim['algorithm']})")  # fmt: skip
    else:
        print("outgoing mail not DKIM-signed ([outbound] dkim_domain/selector/key_file unset)")
    http = report["http"]
    if http.get("error"):
        print(f"HTTP NOT servable: {http['error']}")
    elif http["serving"]:
        print(f"HTTP on {http['listen']}" + (" with TLS" if http["tls"] else ""))
    for hook in report["webhooks"]:
        if hook.get("error"):
            print(f"webhook {hook['url']} NOT usable: {hook['error']}")
        else:
            print(f"webhook {hook['url']}: {', '.join(hook['events'])}")
    if not connect and config.imap:
        print(f"{len(config.imap)} IMAP accounts not contacted (--connect logs in to them)")
    for check in report.get("imap", []):
        for line in imap_check_lines(check):
            print(line)


# --- mail --------------------------------------------------------------------------------------


def print_held_list(entries: list[HeldMessage]) -> None:
    if not entries:
        print("the quarantine is empty")
    for e in entries:
        print(
            f"{e.id:>5}  {ts(e.created_at)}  {e.reason:<20} {e.state:<9} "
            f"{e.from_addr or '?'}  {e.subject or ''}"
        )


def print_outbox(entries: list[OutboxEntry], state: str | None) -> None:
    if not entries:
        print("the outbox is empty" if state is None else f"no {state} messages")
    if len(entries) > SHOWN:
        print(f"… {len(entries) - SHOWN} older messages (use --json for all)")
    for e in entries[-SHOWN:]:
        when = e.sent_at if e.state == OutboxState.SENT else e.next_attempt_at
        print(
            f"{e.id:>5}  {ts(e.created_at)}  {e.state:<10} {e.attempts:>2}x "
            f"{e.purpose:<16} {', '.join(e.recipients)}  {e.subject or ''}"
        )
        if e.state in ("pending", "failed", "suppressed") and (e.last_error or when):
            due = f"next attempt {ts(when)}" if e.state == OutboxState.PENDING else ""
            print(f"       {due}{'; ' if due and e.last_error else ''}{e.last_error or ''}")


def print_outbox_retry(entry: OutboxEntry) -> None:
    print(
        f"outbox message {entry.id} ({entry.purpose} to {', '.join(entry.recipients)}) "
        "is due now: the daemon sends it at its next outbox run"
    )


# --- API keys ----------------------------------------------------------------------------------


def print_apikey_created(key: ApiKey, token: str) -> None:
    bound = f" for vendor {key.vendor}" if key.vendor else ""
    print(f"created {key.scope} key {key.name}{bound}; its token (shown only now):")
    print(token)


def print_apikeys(keys: list[ApiKey]) -> None:
    if not keys:
        print("no API keys (ingestd apikey create NAME --scope read|upload|admin)")
    for k in keys:
        state = (
            f"revoked {ts(k.revoked_at)}"
            if k.revoked_at
            else (f"last used {ts(k.last_used_at)}" if k.last_used_at else "never used")
        )
        print(f"{k.name:<24} {k.scope:<7} {k.vendor or '-':<16} {k.prefix}…  {state}")


# --- users and the audit log --------------------------------------------------------------------


def print_users(found: list[User]) -> None:
    if not found:
        print("no users (ingestd user add NAME --role viewer|operator|admin)")
    for u in found:
        login = f"last login {ts(u.last_login_at)}" if u.last_login_at else "never logged in"
        print(f"{u.name:<24} {u.role:<9} added {ts(u.created_at)}  {login}")


def print_audit(found: list[AuditEntry]) -> None:
    if not found:
        print("nothing in the audit log")
    for e in found:
        came = f": {e.detail['status']}" if e.detail and "status" in e.detail else ""
        note = f"  {' '.join(e.note.split())}" if e.note else ""
        print(f"{e.id:>5}  {ts(e.at)}  {e.actor:<24} {e.action:<8} {e.target}{came}{note}")


# --- webhooks ----------------------------------------------------------------------------------


def print_deliveries(found: list[Delivery]) -> None:
    if not found:
        print("no webhook deliveries")
    for d in found[:SHOWN]:
        status = f"HTTP {d.last_status}" if d.last_status else ""
        print(
            f"{d.id:>5}  {ts(d.created_at)}  {d.state:<8} {d.attempts:>2}x {d.event_type:<20} "
            f"{d.url}  {status}"
        )
        if d.state != WebhookState.SENT and (d.last_error or d.next_attempt_at):
            due = f"next attempt {ts(d.next_attempt_at)}" if d.next_attempt_at else ""
            print(f"       {due}{'; ' if due and d.last_error else ''}{d.last_error or ''}")
    if len(found) > SHOWN:
        print(f"… {len(found) - SHOWN} older deliveries (use --json for all)")


def print_webhook_tests(results: list[dict[str, Any]]) -> None:
    for r in results:
        verdict = "ok" if r["ok"] else "FAILED"
        print(f"{verdict:<6} {r['url']}  {r['status'] or 'no answer'}  {r['error'] or ''}".rstrip())


# --- vendors -----------------------------------------------------------------------------------


def print_profiles(vendor: str, found: list[Profile]) -> None:
    if not found:
        print(f"vendor {vendor} has no profiles")
    for p in found:
        last = f", last {ts(p.last_used_at)} UTC" if p.last_used_at else ""
        print(
            f"profile {p.fingerprint}  ({p.source}; used {p.used_count} "
            f"time{'' if p.used_count == 1 else 's'}{last})"
        )
        print(f"  sheet     {p.sheet or '-'}")
        print(f"  header    {' | '.join(p.header) or '-'}")
        print(f"  answers   {' '.join(p.answers.as_options()) or '-'}")
        print(f"  kept      {ts(p.created_at)} UTC, updated {ts(p.updated_at)} UTC")
