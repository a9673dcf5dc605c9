"""The ``ingestd`` command (docs/operations.md#command-line): its grammar (every command and
option), reading the configuration, and what a failure shows; each command itself is a function
of ``ingestd.cli_commands``, which calls the application layer and prints its result.

Exit codes: 0 success, 1 the work was refused or failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy.exc

from ingestd import __version__
from ingestd import cli_commands as commands
from ingestd.config import Config, ConfigError, load_config, name_problem
from ingestd.errors import IngestdError, RefusedError, UsageError
from ingestd.logs import KvFormatter, kv
from ingestd.rates.model import Kind
from ingestd.service.audit import Action
from ingestd.service.users import Role
from ingestd.sheets.dates import DATE_RANGE

if TYPE_CHECKING:
    pass


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
    with_action = ("quarantine", "outbox", "apikey", "webhooks", "user")
    return f"{args.command} {action}" if args.command in with_action else args.command


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
        # a person's answers to a held deck (docs/reading.md#decks-nobody-taught-us), kept as the
        # vendor's profile
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
        commands.cmd_import,
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

    p = command("versions", commands.cmd_versions, "list the versions of a rate table")
    table_args(p)

    p = command("diff", commands.cmd_diff, "what changed between two versions")
    table_args(p)
    p.add_argument("from_version", type=_whole(VERSION_MAX), metavar="FROM")
    p.add_argument("to_version", type=_whole(VERSION_MAX), metavar="TO")

    p = command(
        "export", commands.cmd_export, "write a rate table as an OpenTWPS file", json_output=False
    )
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

    p = command("lookup", commands.cmd_lookup, "the rate for a number at an instant")
    table_args(p)
    p.add_argument(
        "number", help="E.164 number (voice: longest prefix), MCCMNC (sms), number (did)"
    )
    p.add_argument("--at", type=_instant, metavar="ISO", help="instant (default: now)")

    p = command(
        "rollback", commands.cmd_rollback, "a new version whose content equals an earlier one"
    )
    table_args(p, table_required=True)
    p.add_argument(
        "--to", type=_whole(VERSION_MAX), required=True, metavar="N", help="version to return to"
    )

    command("status", commands.cmd_status, "tables, versions and last imports")
    p = command(
        "check-config",
        commands.cmd_check_config,
        "validate the configuration and reach the database",
    )
    p.add_argument(
        "--connect",
        action="store_true",
        help="also log in to every IMAP account and check its folders (creating missing "
        "processed/quarantine folders)",
    )

    p = command("db", commands.cmd_db, "database schema", json_output=False)
    p.add_argument("action", choices=["upgrade", "current"], help="upgrade: apply migrations")

    p = command(
        "quarantine", commands.cmd_quarantine, "messages held for a person: list, show, release"
    )
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

    p = command("outbox", commands.cmd_outbox, "outgoing mail: list it, send a failed one again")
    p.add_argument("action", choices=["list", "retry"])
    p.add_argument("id", type=_whole(ID_MAX), nargs="?", help="retry: the outbox message")
    p.add_argument(
        "--state", help="list: only pending, sent, failed or suppressed messages (default: all)"
    )

    p = command(
        "vendor",
        commands.cmd_vendor,
        "a vendor's profiles: the answers kept about its decks' layouts",
    )
    p.add_argument("subject", choices=["profile"])
    p.add_argument("action", choices=["show", "drop"])
    p.add_argument("vendor", type=_name("a vendor id"), help="vendor id")
    p.add_argument(
        "fingerprint", nargs="?", help="one profile (default: all the vendor's profiles)"
    )

    p = command(
        "apikey", commands.cmd_apikey, "keys of the HTTP API: create one, list them, revoke one"
    )
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("name", nargs="?", type=_name("a key name"), help="create/revoke: the key")
    p.add_argument(
        "--scope",
        choices=["read", "upload", "admin"],
        help="create: read the tables, upload one vendor's decks, or everything",
    )
    p.add_argument(
        "--vendor", type=_name("a vendor id"), help="create: the one vendor of an upload key"
    )
    p.add_argument("--all", action="store_true", help="list: also revoked keys")

    p = command(
        "webhooks", commands.cmd_webhooks, "webhook deliveries: a secret, list, retry, test"
    )
    p.add_argument("action", choices=["secret", "list", "retry", "test"])
    p.add_argument("id", type=_whole(ID_MAX), nargs="?", help="retry: the delivery")
    p.add_argument("--state", help="list: only pending, sent or failed deliveries")

    p = command(
        "user",
        commands.cmd_user,
        "the web console's users: add one, give a new password or role, remove one, list them",
    )
    p.add_argument("action", choices=["add", "passwd", "role", "remove", "list"])
    p.add_argument(
        "name", nargs="?", type=_name("a user name"), help="add/passwd/role/remove: the user"
    )
    p.add_argument(
        "--role",
        choices=[r.value for r in Role],
        help="add/role: reads; also releases, drops and retries; also manages users",
    )

    p = command("audit", commands.cmd_audit, "who released, dropped or retried what, newest first")
    p.add_argument(
        "--limit", type=_whole(ID_MAX), default=50, metavar="N", help="entries (default 50)"
    )
    p.add_argument("--action", choices=[a.value for a in Action], help="only these entries")
    p.add_argument("--actor", help="only this actor's ('user NAME', 'api key NAME', 'cli LOGIN')")

    command("run", commands.cmd_run, "the daemon (SMTP, IMAP, pipeline, HTTP)", json_output=False)
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
