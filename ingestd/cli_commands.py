"""What each ``ingestd`` command does (docs/operations.md#command-line): one function per
command, given the parsed arguments and the configuration; each calls the application layer
(``ingestd.service``) and prints its result (``ingestd.cli_output``), as text or, with
``--json``, as JSON.  The grammar of the arguments is ``ingestd.cli``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ingestd import cli_output as out
from ingestd.config import Config
from ingestd.db.clock import utcnow
from ingestd.errors import UsageError
from ingestd.service import (
    App,
    apikeys,
    audit,
    decks,
    messages,
    outbox,
    status,
    tables,
    users,
    vendors,
    webhooks,
)

if TYPE_CHECKING:
    from ingestd.ingest import ImportOutcome
    from ingestd.sheets.answers import Answers


def answers_of(args: argparse.Namespace) -> Answers:
    """The answers the command gives (``--map``, ``--increments``, ``--date-order``,
    ``--hyphen``); a malformed one is a usage error."""
    return decks.answers(
        map=args.map, increments=args.increments, date_order=args.date_order, hyphen=args.hyphen
    )


def print_result(args: argparse.Namespace, result: Any, print_text: Callable[[Any], None]) -> None:
    """``result`` as JSON (its ``as_dict()``) with --json, else as ``print_text`` writes it."""
    if args.json:
        out.print_json(result.as_dict())
    else:
        print_text(result)


def one_or_list(outcomes: Sequence[Any]) -> Any:
    """The JSON of the outcomes of one command: one outcome as an object, several as a list."""
    data = [o.as_dict() for o in outcomes]
    return data if len(data) > 1 else data[0]


def cli_actor() -> str:
    """How the audit log names a person at the command line: ``cli`` and the login name."""
    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):  # no login name and no passwd entry (a container's bare uid)
        return f"cli uid {os.getuid()}"


def table_of(args: argparse.Namespace) -> dict[str, str | None]:
    """The table the arguments name (``--table``, ``--kind``; the vendor is passed apart)."""
    return {"table": args.table, "kind": args.kind}


def cmd_import(args: argparse.Namespace, config: Config) -> int:
    emls = [Path(n) for n in args.files if Path(n).suffix.lower() == ".eml"]
    if emls:
        if len(emls) != len(args.files):
            raise UsageError("import messages (.eml) and sheets in separate commands")
        return _import_messages(args, config, emls)
    if not args.vendor:
        raise UsageError("say which vendor the sheets are from with --vendor")
    answers = answers_of(args)
    received = args.received_at or utcnow()
    outcomes: list[ImportOutcome] = []
    with App.open(config) as app:
        for name in args.files:
            path = Path(name)
            show = out.progress(path.name)
            outcomes.extend(
                decks.import_path(
                    app,
                    args.vendor,
                    path,
                    received_at=received,
                    table=args.table,
                    kind=args.kind,
                    mode=args.mode,
                    dry_run=args.dry_run,
                    accept_guards=args.accept_guards,
                    answers=answers,
                    progress=show,
                )
            )
            show("done")
    if args.json:
        out.print_json(one_or_list(outcomes))
    else:
        for o in outcomes:
            out.print_outcome(o)
    return max(o.exit_code for o in outcomes)


def _import_messages(args: argparse.Namespace, config: Config, paths: list[Path]) -> int:
    """Whole messages through the same pipeline as mail (docs/mail.md#mail-in): the sender is proven
    by DKIM, every attachment goes to its table; held ones land in the quarantine."""
    if args.vendor or args.table or args.kind or args.mode or args.dry_run or args.accept_guards:
        raise UsageError(
            "a message's vendor, tables and mode come from its sender and the vendor's rules; "
            "--vendor/--table/--kind/--mode/--dry-run/--accept-guards are for sheets"
        )
    if answers_of(args):
        raise UsageError(
            "answers about a message's decks are given when it is released: "
            "`ingestd quarantine release ID --map …`; --map/--increments/--date-order/--hyphen "
            "here are for sheets"
        )
    with App.open(config) as app:
        outcomes = [
            messages.import_message_file(app, path, received_at=args.received_at) for path in paths
        ]
    if args.json:
        out.print_json(one_or_list(outcomes))
    else:
        for path, o in zip(paths, outcomes, strict=True):
            out.print_message_outcome(path.name, o)
    return max(o.exit_code for o in outcomes)


def cmd_versions(args: argparse.Namespace, config: Config) -> int:
    with App.open(config) as app:
        found = tables.versions(app, args.vendor, **table_of(args))
    print_result(args, found, out.print_versions)
    return 0


def cmd_diff(args: argparse.Namespace, config: Config) -> int:
    with App.open(config) as app:
        found = tables.diff(app, args.vendor, args.from_version, args.to_version, **table_of(args))
    print_result(args, found, out.print_diff)
    return 0


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    with App.open(config) as app:
        rows = tables.rows(app, args.vendor, **table_of(args), version=args.at_version, at=args.at)
    if args.output:
        with _output(args.output) as file:
            n = rows.write(file, args.format, extended=args.extended)
        if sys.stderr.isatty():
            print(f"{n} rows of {rows.table.label} written to {args.output}", file=sys.stderr)
        return 0
    if args.format == "xlsx" and sys.stdout.isatty():
        raise UsageError("an xlsx export needs -o FILE")
    rows.write(sys.stdout.buffer, args.format, extended=args.extended)
    sys.stdout.buffer.flush()
    return 0


def _output(name: str) -> BinaryIO:
    """The -o file, opened for writing; a path that cannot be one is a usage error."""
    try:
        return open(name, "wb")  # the caller's with closes it
    except OSError as e:
        raise UsageError(f"cannot write {name}: {e.strerror}") from None


def cmd_lookup(args: argparse.Namespace, config: Config) -> int:
    with App.open(config) as app:
        found = tables.lookup(app, args.vendor, args.number, **table_of(args), at=args.at)
    print_result(args, found, out.print_lookup)
    return 0 if found.match is not None else 1


def cmd_rollback(args: argparse.Namespace, config: Config) -> int:
    with App.open(config) as app:
        done = tables.rollback(app, args.vendor, args.to, **table_of(args))
    print_result(args, done, out.print_rollback)
    return 0


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    with App.open(config) as app:
        found = status.status(app)
    if args.json:
        out.print_json(found)
    else:
        out.print_status(found)
    return 0


def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    report = status.check_config(config, connect=args.connect)
    if args.json:
        out.print_json(report)
    else:
        out.print_check_config(report, config, connect=args.connect)
    return 0 if report["ok"] else 1


def cmd_db(args: argparse.Namespace, config: Config) -> int:
    with App.open(config, schema=False) as app:
        if args.action == "current":
            print(status.schema_revision(app) or "none")
            return 0
        before, after = status.upgrade_schema(app)
    print(
        f"database schema: {before or 'empty'} → {after}"
        if before != after
        else f"database schema current ({after})"
    )
    return 0


def cmd_quarantine(args: argparse.Namespace, config: Config) -> int:
    if args.action != "list" and args.id is None:
        raise UsageError(f"say which quarantined message to {args.action}: its id")
    answers = answers_of(args)
    if answers and args.action != "release":
        raise UsageError("--map/--increments/--date-order/--hyphen are for release")
    with App.open(config) as app:
        if args.action == "list":
            entries = messages.held(app, all_states=args.all)
            if args.json:
                out.print_json([e.as_dict() for e in entries])
            else:
                out.print_held_list(entries)
            return 0
        if args.action == "show":
            entry = messages.held_message(app, args.id)
            if args.json:
                out.print_json(entry.as_dict(full=True))
            else:
                out.print_held(entry)
            return 0
        if args.action == "drop":
            messages.drop(app, args.id, actor=cli_actor(), note=args.note)
            print(f"quarantined message {args.id} dropped")
            return 0
        outcome = messages.release(
            app,
            args.id,
            actor=cli_actor(),
            accept_unauthenticated=args.accept_unauthenticated,
            vendor=args.vendor,
            note=args.note,
            answers=answers,
        )
        if args.json:
            out.print_json(outcome.as_dict())
        else:
            out.print_message_outcome(f"quarantine {args.id}", outcome)
        return outcome.exit_code


def cmd_outbox(args: argparse.Namespace, config: Config) -> int:
    if args.action == "retry" and args.id is None:
        raise UsageError("say which outbox message to retry: its id")
    if args.action == "retry" and args.state is not None:
        raise UsageError("--state is for list")
    with App.open(config) as app:
        if args.action == "retry":
            entry = outbox.retry(app, args.id, actor=cli_actor())
            print_result(args, entry, out.print_outbox_retry)
            return 0
        entries = outbox.entries(app, args.state)
    if args.json:
        out.print_json([e.as_dict() for e in entries])
    else:
        out.print_outbox(entries, args.state)
    return 0


def cmd_vendor(args: argparse.Namespace, config: Config) -> int:
    """``ingestd vendor profile show|drop VENDOR [FINGERPRINT]``
    (docs/reading.md#decks-nobody-taught-us)."""
    with App.open(config) as app:
        if args.action == "drop":
            dropped = vendors.drop_profiles(app, args.vendor, args.fingerprint)
            if args.json:
                out.print_json({"vendor": args.vendor, "dropped": dropped})
            else:
                print(f"dropped {dropped} profile{'' if dropped == 1 else 's'} of {args.vendor}")
            return 0
        found = vendors.profiles(app, args.vendor, args.fingerprint)
    if args.json:
        out.print_json([p.as_dict() for p in found])
    else:
        out.print_profiles(args.vendor, found)
    return 0


def cmd_apikey(args: argparse.Namespace, config: Config) -> int:
    """``ingestd apikey create NAME --scope S [--vendor V] | list | revoke NAME``
    (docs/http.md#keys)."""
    if args.action != "list" and args.name is None:
        raise UsageError(f"say which key to {args.action}: its name")
    if args.action != "create" and (args.scope or args.vendor):
        raise UsageError("--scope and --vendor are for create")
    if args.action == "create" and args.scope is None:
        raise UsageError("say what the key may do: --scope read, upload or admin")
    with App.open(config) as app:
        if args.action == "create":
            key, token = apikeys.create(app, args.name, args.scope, vendor=args.vendor)
            if args.json:
                out.print_json({**key.as_dict(), "token": token})
            else:
                out.print_apikey_created(key, token)
            return 0
        if args.action == "revoke":
            key = apikeys.revoke(app, args.name)
            if args.json:
                out.print_json(key.as_dict())
            else:
                print(f"revoked key {key.name} ({key.prefix}…): it no longer works")
            return 0
        found = apikeys.keys(app, revoked=args.all)
    if args.json:
        out.print_json([k.as_dict() for k in found])
    else:
        out.print_apikeys(found)
    return 0


def cmd_webhooks(args: argparse.Namespace, config: Config) -> int:
    """``ingestd webhooks secret | list [--state S] | retry ID | test`` (docs/http.md#webhooks)."""
    if args.action == "retry" and args.id is None:
        raise UsageError("say which delivery to retry: its id")
    if args.action != "retry" and args.id is not None:
        raise UsageError(f"webhooks {args.action} takes no id")
    if args.action != "list" and args.state is not None:
        raise UsageError("--state is for list")
    if args.action == "secret":
        secret = webhooks.new_secret()
        out.print_json({"secret": secret}) if args.json else print(secret)
        return 0
    with App.open(config) as app:
        if args.action == "test":
            results = webhooks.test(app)
            out.print_json(results) if args.json else out.print_webhook_tests(results)
            return 0 if all(r["ok"] for r in results) else 1
        if args.action == "retry":
            found = webhooks.retry(app, args.id, actor=cli_actor())
            if args.json:
                out.print_json(found.as_dict())
            else:
                print(f"webhook delivery {found.id} ({found.event_type} to {found.url}) is due "
                      "now: the daemon sends it at its next webhooks run")  # fmt: skip
            return 0
        found = webhooks.deliveries(app, args.state)
    out.print_json([d.as_dict() for d in found]) if args.json else out.print_deliveries(found)
    return 0


def cmd_user(args: argparse.Namespace, config: Config) -> int:
    """``ingestd user add NAME --role R | passwd NAME | role NAME --role R | remove NAME |
    list`` (README "Users and the audit log"); a password is read from standard input, or
    asked for twice on a terminal."""
    if args.action != "list" and args.name is None:
        raise UsageError(f"say which user to {args.action}: its name")
    with_role = ("add", "role")
    if args.action not in with_role and args.role is not None:
        raise UsageError("--role is for add and role")
    if args.action in with_role and args.role is None:
        raise UsageError("say what the user may do: --role viewer, operator or admin")
    with App.open(config) as app:
        if args.action == "add":
            found = users.add(app, args.name, args.role, read_password(args.name))
            done = f"user {found.name} added ({found.role})"
        elif args.action == "passwd":
            users.user(app, args.name)  # an unknown name is said before the password is asked
            found = users.passwd(app, args.name, read_password(args.name))
            done = f"new password for {found.name}; its console sessions are closed"
        elif args.action == "role":
            found = users.set_role(app, args.name, args.role)
            done = f"{found.name} is now {found.role}"
        elif args.action == "remove":
            found = users.remove(app, args.name)
            done = f"user {found.name} removed; its console sessions are closed"
        else:
            listed = users.users(app)
            out.print_json([u.as_dict() for u in listed]) if args.json else out.print_users(listed)
            return 0
    out.print_json(found.as_dict()) if args.json else print(done)
    return 0


def read_password(name: str) -> str:
    """The first line of standard input (its newline taken off) when it is not a terminal;
    else asked for twice, without echo."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    try:
        first = getpass.getpass(f"password for {name}: ")
        again = getpass.getpass("the same password again: ")
    except EOFError:
        raise UsageError("no password given") from None
    if first != again:
        raise UsageError("the two passwords differ; nothing changed")
    return first


def cmd_audit(args: argparse.Namespace, config: Config) -> int:
    """``ingestd audit [--limit N] [--action A] [--actor WHO]`` (README "Users and the audit
    log")."""
    with App.open(config) as app:
        found = audit.entries(app, limit=args.limit, action=args.action, actor=args.actor)
    out.print_json([e.as_dict() for e in found]) if args.json else out.print_audit(found)
    return 0


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from ingestd.daemon import Daemon
    from ingestd.logs import configure_logging

    configure_logging(config.daemon.log_format, config.daemon.log_level)
    return Daemon(config).run()
