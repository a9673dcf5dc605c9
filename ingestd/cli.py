"""The ``ingestd`` command: parse arguments, call the library, print (SPEC §2.2).

Exit codes: 0 success, 1 the work was refused or failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import sqlalchemy.exc

from ingestd import __version__
from ingestd.config import Config, ConfigError, describe, load_config, name_problem
from ingestd.db.clock import utcnow
from ingestd.errors import IngestdError, RefusedError, UsageError
from ingestd.imports import ImportOutcome, import_file, rollback
from ingestd.logs import KvFormatter, kv
from ingestd.rates.export import write_export
from ingestd.rates.model import Kind, iso, spec_for
from ingestd.rates.schema import canonical_decimal
from ingestd.rates.semantics import in_effect_at
from ingestd.rates.store import Store, TableRef
from ingestd.sheets.answers import Answers
from ingestd.sheets.cells import DATE_RANGE

if TYPE_CHECKING:  # the mail modules load only for the commands that use them
    from ingestd.message.outcome import MessageOutcome
    from ingestd.message.quarantine import HeldMessage

SHOWN = 50  # rows of a list printed for people; --json gives all


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args: argparse.Namespace | None = None
    config: Config | None = None
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return 2
        config = load_config(getattr(args, "config", None))
        return args.func(args, config)
    except ConfigError as e:
        return _fail(f"configuration error: {e}", 2)
    except UsageError as e:
        return _fail(str(e), 2)
    except RefusedError as e:
        return _fail(f"{e.message} [{e.reason}]", 1)
    except IngestdError as e:
        return _fail(str(e), 1)
    except sqlalchemy.exc.OperationalError as e:
        return _fail(f"database error: {' '.join(str(e.orig or e).split())}", 1)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as e:
        # a failure no rule foresaw: one line for the user, the traceback in the log (README
        # "Command line": --debug)
        debug = getattr(args, "debug", False) if args is not None else "--debug" in argv
        return _crash(_command_name(args), e, config, debug=debug)


def _fail(message: str, code: int) -> int:
    print(f"ingestd: {message}", file=sys.stderr)
    return code


CLI_LOG = "ingestd-cli.log"  # in state_dir: the tracebacks of failed commands
CLI_LOG_SIZE, CLI_LOG_KEPT = 1 << 20, 3  # rotated at 1 MiB, three old files kept


def _crash(command: str, error: Exception, config: Config | None, *, debug: bool) -> int:
    """``ingestd: COMMAND failed: what`` on stderr (exit 1), the traceback logged at error
    level: to the daemon's log for ``run``, else to ``state_dir/ingestd-cli.log``; printed on
    stderr too with ``--debug``."""
    orig = getattr(error, "orig", None) if isinstance(error, sqlalchemy.exc.DBAPIError) else None
    if orig is not None:  # the driver's words, not SQLAlchemy's statement and parameters
        what = f"database error: {type(orig).__name__}: {orig}"
    elif isinstance(error, OSError):
        what = str(error)
    else:
        what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    what = " ".join(what.split())
    if len(what) > 500:
        what = what[:500] + "…"
    log = logging.getLogger("ingestd.cli")
    where = None
    daemon_log = command == "run" and bool(logging.getLogger().handlers)  # configured by run
    if not daemon_log and config is not None:
        where = config.daemon.state_dir / CLI_LOG
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                where, maxBytes=CLI_LOG_SIZE, backupCount=CLI_LOG_KEPT, encoding="utf-8"
            )
        except OSError:
            where = None
        else:
            handler.setFormatter(KvFormatter())
            log.addHandler(handler)
            log.propagate = False
    try:
        if where is not None or daemon_log:
            log.error(kv("command.failed", command=command, error=what), exc_info=error)
    finally:
        if where is not None:
            log.removeHandler(handler)
            handler.close()
            log.propagate = True
    if debug:
        traceback.print_exception(error, file=sys.stderr)
        return _fail(f"{command} failed: {what}", 1)
    hint = f"traceback in {where}; " if where is not None else ""
    return _fail(f"{command} failed: {what} ({hint}--debug prints it)", 1)


def _command_name(args: argparse.Namespace | None) -> str:
    if args is None or not getattr(args, "command", None):
        return "ingestd"
    action = getattr(args, "action", None)
    if args.command == "vendor":
        return f"vendor {args.subject} {action}"
    return f"{args.command} {action}" if args.command in ("quarantine", "outbox") else args.command


# --- arguments ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # accepted before or after the command name; SUPPRESS keeps the sub-parser from resetting it
    common.add_argument(
        "-c",
        "--config",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="configuration file (default: $INGESTD_CONFIG, then config/ingestd.toml)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="when a command fails unexpectedly, print the traceback too",
    )
    parser = argparse.ArgumentParser(
        prog="ingestd",
        description="Telecom rate decks → verified, normalized, versioned OpenTWPS rate tables.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"ingestd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        name: str, func: Callable, help: str, *, json_output: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        if json_output:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    def answer_args(p: argparse.ArgumentParser, *, usage: str = "") -> None:
        # a person's answers to a held deck (SPEC §3.5), kept as the vendor's profile
        p.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="HEADER=FIELD",
            help=f"{usage}the field a column holds ('Indicatif=code', 'C=price' for a sheet "
            "without a header row, 'Notes=ignore'); repeatable",
        )
        p.add_argument(
            "--increments",
            action="append",
            default=[],
            metavar="DESTINATION=60/60",
            help=f"{usage}the billing increments of destinations ('Mexico=60/60', '*=1/1' for "
            "every other one); repeatable",
        )
        p.add_argument(
            "--date-order",
            choices=["dmy", "mdy", "ymd"],
            help=f"{usage}the order of day, month and year in the deck's dates",
        )
        p.add_argument(
            "--hyphen",
            choices=["range", "pair"],
            help=f"{usage}a hyphen in a code joins a range (447400-447409) or a pair (1264-581)",
        )

    def table_args(p: argparse.ArgumentParser, *, table_required: bool = False) -> None:
        p.add_argument("--vendor", required=True, type=_name("a vendor id"), help="vendor id")
        p.add_argument(
            "--table",
            required=table_required,
            type=_name("a table name"),
            help="rate table name (default: the only one)",
        )
        p.add_argument("--kind", choices=[k.value for k in Kind], help="voice, sms or did")

    p = command(
        "import",
        cmd_import,
        "import rate sheets into a vendor's rate table, or whole messages (.eml) through the "
        "mail pipeline",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="csv, txt, xlsx, xls, ods, zip, or an .eml message"
    )
    p.add_argument(
        "--vendor",
        type=_name("a vendor id"),
        help="vendor id (need not be configured); required for sheets, a message's vendor is "
        "its authenticated sender",
    )
    p.add_argument(
        "--table",
        type=_name("a table name"),
        help="rate table name (default: the vendor's table rule, else 'default')",
    )
    p.add_argument(
        "--kind",
        choices=[k.value for k in Kind],
        help="voice, sms or did (default: from the sheet)",
    )
    p.add_argument("--mode", choices=["full", "partial"], help="full (A–Z) or partial deck")
    p.add_argument(
        "--received-at",
        metavar="ISO",
        type=_instant,
        help="when the deck was received (default: now); pins 'now' for notice periods",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.add_argument(
        "--accept-guards",
        action="store_true",
        help="write the version even if a guard (mass discontinue, stale deck, price jump) trips",
    )
    answer_args(p)

    p = command("versions", cmd_versions, "list the versions of a rate table")
    table_args(p)

    p = command("diff", cmd_diff, "what changed between two versions")
    table_args(p)
    p.add_argument("from_version", type=_whole(VERSION_MAX), metavar="FROM")
    p.add_argument("to_version", type=_whole(VERSION_MAX), metavar="TO")

    p = command("export", cmd_export, "write a rate table as an OpenTWPS file", json_output=False)
    table_args(p)
    p.add_argument("--format", choices=["csv", "xlsx", "json"], default="csv")
    p.add_argument(
        "--version",
        type=_whole(VERSION_MAX),
        dest="at_version",
        help="version number (default: latest)",
    )
    p.add_argument(
        "--at", type=_instant, metavar="ISO", help="only the rows in effect at this instant"
    )
    p.add_argument(
        "--extended", action="store_true", help="add description, end date, currency, change class"
    )
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: standard output)")

    p = command("lookup", cmd_lookup, "the rate for a number at an instant")
    table_args(p)
    p.add_argument(
        "number", help="E.164 number (voice: longest prefix), MCCMNC (sms), number (did)"
    )
    p.add_argument("--at", type=_instant, metavar="ISO", help="instant (default: now)")

    p = command("rollback", cmd_rollback, "a new version whose content equals an earlier one")
    table_args(p, table_required=True)
    p.add_argument(
        "--to", type=_whole(VERSION_MAX), required=True, metavar="N", help="version to return to"
    )

    command("status", cmd_status, "tables, versions and last imports")
    p = command(
        "check-config", cmd_check_config, "validate the configuration and reach the database"
    )
    p.add_argument(
        "--connect",
        action="store_true",
        help="also log in to every IMAP account and check its folders (creating missing "
        "processed/quarantine folders)",
    )

    p = command("db", cmd_db, "database schema", json_output=False)
    p.add_argument("action", choices=["upgrade", "current"], help="upgrade: apply migrations")

    p = command("quarantine", cmd_quarantine, "messages held for a person: list, show, release")
    p.add_argument("action", choices=["list", "show", "release", "drop"])
    p.add_argument(
        "id", type=_whole(ID_MAX), nargs="?", help="the quarantined message (show/release/drop)"
    )
    p.add_argument("--all", action="store_true", help="list: also released and dropped ones")
    p.add_argument(
        "--accept-unauthenticated",
        action="store_true",
        help="release: import a message whose sender authentication failed (recorded in the "
        "provenance of its versions)",
    )
    p.add_argument(
        "--vendor",
        type=_name("a vendor id"),
        help="release: the vendor of a sender no vendor lists",
    )
    p.add_argument("--note", help="release/drop: why (kept with the quarantine entry)")
    answer_args(p, usage="release: ")

    p = command("outbox", cmd_outbox, "outgoing mail: list it, send a failed one again")
    p.add_argument("action", choices=["list", "retry"])
    p.add_argument("id", type=_whole(ID_MAX), nargs="?", help="retry: the outbox message")
    p.add_argument(
        "--state", help="list: only pending, sent, failed or suppressed messages (default: all)"
    )

    p = command(
        "vendor", cmd_vendor, "a vendor's profiles: the answers kept about its decks' layouts"
    )
    p.add_argument("subject", choices=["profile"])
    p.add_argument("action", choices=["show", "drop"])
    p.add_argument("vendor", type=_name("a vendor id"), help="vendor id")
    p.add_argument(
        "fingerprint", nargs="?", help="one profile (default: all the vendor's profiles)"
    )

    command("run", cmd_run, "the daemon (SMTP, IMAP, pipeline)", json_output=False)
    return parser


def _instant(text: str) -> datetime:
    """ISO date or datetime; naive means UTC; returned as naive UTC, within the dates a deck
    may hold (1900 to 2200, README "Command line")."""
    try:
        value = datetime.fromisoformat(
            text.strip().replace(" ", "T", 1) if " " in text.strip() else text.strip()
        )
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or datetime (e.g. 2024-05-16 or 2024-05-16T10:00:00Z)"
        ) from None
    except OverflowError:  # the offset moves it past year 1 or 9999
        value = None
    if value is None or not DATE_RANGE[0] <= value < DATE_RANGE[1]:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside {DATE_RANGE[0]:%Y-%m-%d} … {DATE_RANGE[1]:%Y-%m-%d} (UTC)"
        )
    return value


VERSION_MAX = 2**31 - 1  # the database's INTEGER version numbers
ID_MAX = 2**63 - 1  # its BIGINT row ids


def _whole(limit: int) -> Callable[[str], int]:
    """A version number or row id: a whole number the database's column can hold."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 0 <= value <= limit:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to {limit}")
        return value

    return check


def _name(what: str) -> Callable[[str], str]:
    """An argument that is a vendor id or table name: the rule of both (config.name_problem)."""

    def check(text: str) -> str:
        problem = name_problem(text, what)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return text

    return check


def _answers(args: argparse.Namespace) -> Answers:
    """The answers the command gives (``--map``, ``--increments``, ``--date-order``,
    ``--hyphen``); a malformed one is a usage error."""
    try:
        return Answers.parse(
            map=args.map,
            increments=args.increments,
            date_order=args.date_order,
            hyphen=args.hyphen,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None


def _store(config: Config) -> Store:
    store = Store(config.database.url)
    store.require_schema(auto_upgrade=store.dialect == "sqlite")
    return store


def _table(store: Store, args: argparse.Namespace) -> TableRef:
    return store.find_table(args.vendor, name=args.table, kind=args.kind)


def _print_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    # one write: json.dump writes every token on its own, a system call each when Python's
    # output is unbuffered (PYTHONUNBUFFERED, as under systemd and in containers)
    out.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def _ts(value: datetime | None) -> str:
    return iso(value) or "-"


# --- commands ----------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace, config: Config) -> int:
    messages = [Path(n) for n in args.files if Path(n).suffix.lower() == ".eml"]
    if messages:
        if len(messages) != len(args.files):
            raise UsageError("import messages (.eml) and sheets in separate commands")
        return _import_messages(args, config, messages)
    if not args.vendor:
        raise UsageError("say which vendor the sheets are from with --vendor")
    answers = _answers(args)
    store = _store(config)
    received = args.received_at or utcnow()
    outcomes: list[ImportOutcome] = []
    for name in args.files:
        path = Path(name)
        data = _read(path)
        show = _progress(path.name)
        outcomes.extend(
            import_file(
                store,
                config,
                args.vendor,
                data,
                file_name=path.name,
                received_at=received,
                table=args.table,
                kind=args.kind,
                mode=args.mode,
                dry_run=args.dry_run,
                accept_guards=args.accept_guards,
                progress=show,
                answers=answers,
            )
        )
        show("done")
    if args.json:
        _print_json([o.as_dict() for o in outcomes] if len(outcomes) > 1 else outcomes[0].as_dict())
    else:
        for o in outcomes:
            print_outcome(o)
    return max(o.exit_code for o in outcomes)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


def _import_messages(args: argparse.Namespace, config: Config, paths: list[Path]) -> int:
    """Whole messages through the same pipeline as mail (SPEC §5): the sender is proven by
    DKIM, every attachment goes to its table; held ones land in the quarantine."""
    if args.vendor or args.table or args.kind or args.mode or args.dry_run or args.accept_guards:
        raise UsageError(
            "a message's vendor, tables and mode come from its sender and the vendor's rules; "
            "--vendor/--table/--kind/--mode/--dry-run/--accept-guards are for sheets"
        )
    if _answers(args):
        raise UsageError(
            "answers about a message's decks are given when it is released: "
            "`ingestd quarantine release ID --map …`; --map/--increments/--date-order/--hyphen "
            "here are for sheets"
        )
    from ingestd.message.pipeline import TemporaryFailure, pipeline_for

    outcomes = []
    with pipeline_for(config) as pipeline:
        for path in paths:
            raw = _read(path)
            try:
                outcomes.append(pipeline.process(raw, source="cli", received_at=args.received_at))
            except TemporaryFailure as e:
                raise IngestdError(f"{path}: {e}; try again later") from None
    if args.json:
        data = [o.as_dict() for o in outcomes]
        _print_json(data if len(data) > 1 else data[0])
    else:
        for path, o in zip(paths, outcomes, strict=True):
            print_message_outcome(path.name, o)
    return max(o.exit_code for o in outcomes)


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


def _progress(label: str) -> Callable[[str], None]:
    """Stages of a long command on a terminal; nothing when stderr is not one (SPEC §2.2)."""
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
    w(f"  received  {_ts(o.received_at)} UTC   sha256 {o.file_hash[:16]}…\n")
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


def cmd_versions(args: argparse.Namespace, config: Config) -> int:
    store = _store(config)
    table = _table(store, args)
    found = store.versions(table)
    if args.json:
        _print_json({"table": table.as_dict(), "versions": [v.as_dict() for v in found]})
        return 0
    print(f"{table.label} — {len(found)} versions, latest {table.current_version}")
    print(
        f"{'ver':>4}  {'imported (UTC)':<19}  {'received (UTC)':<19}  {'origin':<8} {'mode':<8}"
        f" {'rows':>8} {'added':>7} {'closed':>7}  file"
    )
    for v in found:
        origin = v.origin if v.rollback_to is None else f"→v{v.rollback_to}"
        print(
            f"{v.number:>4}  {_ts(v.created_at):<19}  {_ts(v.received_at):<19}  "
            f"{origin:<8} {v.mode:<8}"
            f" {v.rows_total:>8} {v.rows_added:>7} {v.rows_closed:>7}  {v.file_name or ''}"
        )
    return 0


def cmd_diff(args: argparse.Namespace, config: Config) -> int:
    store = _store(config)
    table = _table(store, args)
    diff = store.diff(table, args.from_version, args.to_version)
    if args.json:
        _print_json({"table": table.as_dict(), **diff.as_dict()})
        return 0
    print(f"{table.label}: version {diff.from_version} → {diff.to_version}")
    counts = " · ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(diff.counts.items()) if v)
    print(f"  {counts or 'no changes'}")
    spec = spec_for(table.kind)
    price = spec.rate_prices[0]
    for label, frame in (
        ("added", diff.added),
        ("changed", diff.changed),
        ("removed", diff.removed),
    ):
        if frame.is_empty():
            continue
        print(f"  {label} ({frame.height}):")
        for r in frame.head(SHOWN).iter_rows(named=True):
            old = f"{_price(r.get(price + '_old'))} → " if label == "changed" else ""
            flags = " forbidden" if r["forbidden"] else ""
            flags += " discontinued" if r["discontinued"] else ""
            print(
                f"    {r['code']:<16} from {_ts(r['effective_from'])}  {old}{_price(r[price])}"
                f"  [{r.get('change_class') or ''}]{flags}"
            )
        if frame.height > SHOWN:
            print(f"    … {frame.height - SHOWN} more (use --json for all)")
    return 0


def _price(value: Any) -> str:
    return "-" if value is None else canonical_decimal(value)


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    store = _store(config)
    table = _table(store, args)
    if args.at_version is not None:
        store.version(table, args.at_version)
    rows = store.rows(table, args.at_version)
    if args.at is not None:
        rows = in_effect_at(rows, args.at).select(rows.columns)
    if args.output:
        with _output(args.output) as out:
            n = write_export(rows, table.kind, args.format, out, extended=args.extended)
        if sys.stderr.isatty():
            print(f"{n} rows of {table.label} written to {args.output}", file=sys.stderr)
        return 0
    if args.format == "xlsx" and sys.stdout.isatty():
        raise UsageError("an xlsx export needs -o FILE")
    write_export(rows, table.kind, args.format, sys.stdout.buffer, extended=args.extended)
    sys.stdout.buffer.flush()
    return 0


def _output(name: str) -> BinaryIO:
    """The -o file, opened for writing; a path that cannot be one is a usage error."""
    try:
        return open(name, "wb")  # the caller's with closes it
    except OSError as e:
        raise UsageError(f"cannot write {name}: {e.strerror}") from None


def cmd_lookup(args: argparse.Namespace, config: Config) -> int:
    store = _store(config)
    table = _table(store, args)
    at = args.at or utcnow()
    hit = store.lookup(table, args.number, at)
    if args.json:
        out: dict[str, Any] = {
            "table": table.as_dict(),
            "number": args.number,
            "at": _ts(at),
            "match": None,
        }
        if hit is not None:
            out["match"] = {
                k: (
                    canonical_decimal(v)
                    if k in spec_for(table.kind).prices and v is not None
                    else _ts(v)
                    if isinstance(v, datetime)
                    else v
                )
                for k, v in hit.items()
                if k != "id"
            }
        _print_json(out)
        return 0 if hit is not None else 1
    if hit is None:
        print(f"{args.number}: no rate in {table.label} at {_ts(at)} UTC")
        return 1
    spec = spec_for(table.kind)
    prices = ", ".join(f"{p} {_price(hit[p])}" for p in spec.prices if hit.get(p) is not None)
    state = " FORBIDDEN" if hit["forbidden"] else ""
    intervals = "/".join(str(hit[i]) for i in spec.intervals if hit.get(i) is not None)
    print(
        f"{args.number}: {hit['code']}{state}  {prices}"
        + (f" {hit['currency']}" if hit.get("currency") else "")
        + (f"  interval {intervals}" if intervals else "")
    )
    print(
        f"  in effect {_ts(hit['effective_from'])} → "
        f"{_ts(hit['effective_to']) if hit['effective_to'] else 'open'}"
        f"  ({hit.get('description') or 'no description'}; {hit['change_class']})"
    )
    return 0


def cmd_rollback(args: argparse.Namespace, config: Config) -> int:
    store = _store(config)
    table = _table(store, args)
    number = rollback(store, table, args.to)
    info = store.version(table, number)
    if args.json:
        _print_json({"table": table.as_dict(), "version": info.as_dict()})
    else:
        print(
            f"{table.label}: version {number} now equals version {args.to} "
            f"({info.rows_added} rows added, {info.rows_closed} closed)"
        )
    return 0


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    from ingestd.intake.imap import read_status
    from ingestd.intake.queue import InboundQueue
    from ingestd.message.ledger import mail_counts

    store = _store(config)
    status = {"database": describe(config)["database_url"], **store.status()}
    status["tables_detail"] = [t.as_dict() for t in store.tables()]
    status.update(mail_counts(store))
    status["queue"] = InboundQueue.depths(config.daemon.state_dir / "queue")
    status["imap"] = [read_status(config.daemon.state_dir, a.name) for a in config.imap]
    if args.json:
        _print_json(status)
        return 0
    print(f"database   {status['database']}")
    q = status["queue"]
    print(f"queue      {q['waiting']} waiting, {q['processing']} being processed")
    held = ", ".join(f"{r} {n}" for r, n in status["quarantine_by_reason"].items())
    print(f"quarantine {status['quarantine_held']} held" + (f" ({held})" if held else ""))
    out = ", ".join(f"{n} {state}" for state, n in status["outbox"].items()) or "empty"
    print(f"outbox     {out}")
    for account in status["imap"]:
        print(f"imap       {_imap_line(account)}")
    print(f"tables     {status['tables']}   versions {status['versions']}")
    for t in status["last_imports"]:
        print(
            f"  {t['vendor']}/{t['kind']}/{t['table']}: "
            f"version {t['version']} at {t['imported_at']}"
            f" ({t['file_name'] or '-'})"
        )
    return 0


def _imap_line(a: dict[str, Any]) -> str:
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


def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    report: dict[str, Any] = {"config": describe(config), "database": {}}
    ok = True
    try:
        store = Store(config.database.url)
        report["database"] = {
            "reachable": True,
            "revision": store.revision(),
            "head": store.head_revision(),
        }
        if report["database"]["revision"] != report["database"]["head"]:
            report["database"]["note"] = "schema not current: run `ingestd db upgrade`"
    except sqlalchemy.exc.SQLAlchemyError as e:
        ok = False
        report["database"] = {"reachable": False, "error": str(getattr(e, "orig", None) or e)}
    from ingestd.mail.render import check_templates
    from ingestd.mail.signing import DkimSigner

    report["templates"] = check_templates(config.daemon.templates_dir)
    ok = ok and not report["templates"]
    try:
        signer = DkimSigner.from_config(config.outbound)
        report["dkim"] = (
            {"signing": True, "domain": signer.domain, "selector": signer.selector,
             "algorithm": signer.algorithm.decode()}
            if signer is not None
            else {"signing": False}
        )  # fmt: skip
    except ConfigError as e:
        ok = False
        report["dkim"] = {"signing": False, "error": str(e)}
    if args.connect:
        from ingestd.intake.imap import check_account

        checks = [check_account(account) for account in config.imap]
        report["imap"] = [c.as_json() for c in checks]
        ok = ok and all(c.ok for c in checks)
    if args.json:
        _print_json({"ok": ok, **report})
    else:
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
        if not args.connect and config.imap:
            print(f"{len(config.imap)} IMAP accounts not contacted (--connect logs in to them)")
        for check in report.get("imap", []):
            for line in _imap_check_lines(check):
                print(line)
    return 0 if ok else 1


def _imap_check_lines(c: dict[str, Any]) -> list[str]:
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


def cmd_db(args: argparse.Namespace, config: Config) -> int:
    store = Store(config.database.url)
    if args.action == "current":
        print(store.revision() or "none")
        return 0
    before, after = store.upgrade()
    print(
        f"database schema: {before or 'empty'} → {after}"
        if before != after
        else f"database schema current ({after})"
    )
    return 0


def cmd_quarantine(args: argparse.Namespace, config: Config) -> int:
    if args.action != "list" and args.id is None:
        raise UsageError(f"say which quarantined message to {args.action}: its id")
    answers = _answers(args)
    if answers and args.action != "release":
        raise UsageError("--map/--increments/--date-order/--hyphen are for release")
    from ingestd.message.pipeline import TemporaryFailure, pipeline_for
    from ingestd.message.quarantine import Quarantine

    with pipeline_for(config) as pipeline:
        held = Quarantine(pipeline)
        if args.action == "list":
            entries = held.list(all_states=args.all)
            if args.json:
                _print_json([e.as_dict() for e in entries])
            elif not entries:
                print("the quarantine is empty")
            for e in [] if args.json else entries:
                print(
                    f"{e.id:>5}  {_ts(e.created_at)}  {e.reason:<20} {e.state:<9} "
                    f"{e.from_addr or '?'}  {e.subject or ''}"
                )
            return 0
        if args.action == "show":
            entry = held.get(args.id)
            if args.json:
                _print_json(entry.as_dict(full=True))
            else:
                _print_held(entry)
            return 0
        if args.action == "drop":
            held.drop(args.id, note=args.note)
            print(f"quarantined message {args.id} dropped")
            return 0
        try:
            outcome = held.release(
                args.id,
                accept_unauthenticated=args.accept_unauthenticated,
                vendor=args.vendor,
                note=args.note,
                answers=answers,
            )
        except TemporaryFailure as e:
            raise IngestdError(f"{e}; try again later") from None
        if args.json:
            _print_json(outcome.as_dict())
        else:
            print_message_outcome(f"quarantine {args.id}", outcome)
        return outcome.exit_code


def _print_held(e: HeldMessage) -> None:
    from ingestd.auth import HOLD_REASONS

    print(f"quarantine {e.id}: {e.state}, held {_ts(e.created_at)} UTC [{e.reason}]")
    print(f"  from      {e.from_addr or '?'}  vendor {e.vendor or '?'}  via {e.source}")
    print(f"  subject   {e.subject or ''}")
    print(f"  received  {_ts(e.received_at)} UTC   raw message {e.raw_path}")
    print(f"  why       {e.detail}")
    if e.resolution:
        print(f"  resolved  {_ts(e.resolved_at)} UTC: {e.resolution}")
    if e.state == "held":
        flag = " --accept-unauthenticated" if e.reason in HOLD_REASONS else ""
        print(f"  release   ingestd quarantine release {e.id}{flag}   (or: drop {e.id})")


def cmd_outbox(args: argparse.Namespace, config: Config) -> int:
    if args.action == "retry" and args.id is None:
        raise UsageError("say which outbox message to retry: its id")
    if args.action == "retry" and args.state is not None:
        raise UsageError("--state is for list")
    from ingestd.mail.outbox import Outbox

    store = _store(config)
    try:
        outbox = Outbox(store, config)
        if args.action == "retry":
            entry = outbox.retry(args.id)
            if args.json:
                _print_json(entry.as_dict())
            else:
                print(
                    f"outbox message {entry.id} ({entry.purpose} to {', '.join(entry.recipients)}) "
                    "is due now: the daemon sends it at its next outbox run"
                )
            return 0
        entries = outbox.list(args.state)
        if args.json:
            _print_json([e.as_dict() for e in entries])
            return 0
        if not entries:
            print("the outbox is empty" if args.state is None else f"no {args.state} messages")
        if len(entries) > SHOWN:
            print(f"… {len(entries) - SHOWN} older messages (use --json for all)")
        for e in entries[-SHOWN:]:
            when = e.sent_at if e.state == "sent" else e.next_attempt_at
            print(
                f"{e.id:>5}  {_ts(e.created_at)}  {e.state:<10} {e.attempts:>2}x "
                f"{e.purpose:<16} {', '.join(e.recipients)}  {e.subject or ''}"
            )
            if e.state in ("pending", "failed", "suppressed") and (e.last_error or when):
                due = f"next attempt {_ts(when)}" if e.state == "pending" else ""
                print(f"       {due}{'; ' if due and e.last_error else ''}{e.last_error or ''}")
        return 0
    finally:
        store.close()


def cmd_vendor(args: argparse.Namespace, config: Config) -> int:
    """``ingestd vendor profile show|drop VENDOR [FINGERPRINT]`` (SPEC §3.5)."""
    from ingestd.rates.profiles import drop_profile, list_profiles

    store = _store(config)
    try:
        if args.action == "drop":
            dropped = drop_profile(store, args.vendor, args.fingerprint)
            if args.json:
                _print_json({"vendor": args.vendor, "dropped": dropped})
            else:
                print(f"dropped {dropped} profile{'' if dropped == 1 else 's'} of {args.vendor}")
            return 0
        found = list_profiles(store, args.vendor)
        if args.fingerprint is not None:
            found = [p for p in found if p.fingerprint == args.fingerprint]
            if not found:
                raise UsageError(
                    f"vendor {args.vendor!r} has no profile {args.fingerprint!r} "
                    f"(see `ingestd vendor profile show {args.vendor}`)"
                )
        if args.json:
            _print_json([p.as_dict() for p in found])
            return 0
        if not found:
            print(f"vendor {args.vendor} has no profiles")
        for p in found:
            last = f", last {_ts(p.last_used_at)} UTC" if p.last_used_at else ""
            print(
                f"profile {p.fingerprint}  ({p.source}; used {p.used_count} "
                f"time{'' if p.used_count == 1 else 's'}{last})"
            )
            print(f"  sheet     {p.sheet or '-'}")
            print(f"  header    {' | '.join(p.header) or '-'}")
            print(f"  answers   {' '.join(p.answers.as_options()) or '-'}")
            print(f"  kept      {_ts(p.created_at)} UTC, updated {_ts(p.updated_at)} UTC")
        return 0
    finally:
        store.close()


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from ingestd.daemon import Daemon
    from ingestd.logs import configure_logging

    configure_logging(config.daemon.log_format, config.daemon.log_level)
    return Daemon(config).run()
