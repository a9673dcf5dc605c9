"""The real daemon for the end-to-end tests (docs/testing.md#real-components): ``python -m ingestd
-c CFG run`` as a child process with its SMTP listener on a free port of 127.0.0.1, its state folder
and SQLite database in a temporary folder, stopped with SIGTERM and, whatever happens, killed by PID
at the end.

A test looks at what the daemon did the way an operator or a billing system would: through the
CLI (``--json``), the SQLite database opened read-only, and the queue folders.

    setup = Setup.create(tmp_path, nameserver=dns.address)
    with setup.daemon() as daemon:
        ... smtplib.SMTP("127.0.0.1", setup.port) ...
        daemon.wait_for(lambda: setup.count("versions") == 1, 20, "the version")
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import openpyxl

from rig.ports import free_port
from rig.smtp import wait_until

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
RECIPIENT = "rates@carrier.example"
VENDOR_SENDER = "rates@acme.example"
START_TIMEOUT = 60.0  # seconds until the SMTP port must accept connections (a loaded machine)
STOP_TIMEOUT = 15.0  # seconds a SIGTERM may take

# Vendor acme: its XLSX decks go to table "default" (one per kind), anything named *premium*
# to table "premium".
VENDOR = """
[[vendors]]
id = "acme"
name = "Acme Voice Wholesale"
senders = ["rates@acme.example"]

[[vendors.tables]]
name = "premium"
kind = "voice"
mode = "partial"
match = { filename = "*premium*" }
"""


@dataclass(frozen=True)
class ImapMailbox:
    """An ``[[imap]]`` account of the daemon (see ``ImapAccount`` in ingestd/config/model.py)."""

    host: str
    port: int
    username: str
    password_file: Path
    name: str = "vendor-mailbox"
    poll_interval: str = "1s"
    folder: str = "INBOX"
    processed_folder: str = "ingestd/processed"
    quarantine_folder: str = "ingestd/quarantine"


def _toml(value: Any) -> str:
    # a TOML basic string is a JSON string for everything written here (paths, addresses)
    return json.dumps(str(value) if isinstance(value, Path) else value)


def _clean_env() -> dict[str, str]:
    """The caller's environment without INGESTD_* overrides (docs/operations.md#configuration): the
    file decides."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}


@dataclass(frozen=True)
class Setup:
    """One installation: a configuration file, its state folder and database."""

    folder: Path
    config: Path
    port: int

    @classmethod
    def create(
        cls,
        folder: Path,
        *,
        nameserver: str,
        max_message_size: str = "1MB",
        imap: ImapMailbox | None = None,
        extra: str = "",
        database_url: str | None = None,
        dns_timeout: str = "1s",
    ) -> Setup:
        """``database_url``: another database than the folder's SQLite file (a PostgreSQL
        database several installations share); the ``query`` helpers read only the SQLite one,
        and a server database is not upgraded by the daemon (``cli("db", "upgrade")``).
        ``dns_timeout``: ``[dns] timeout``, the wait for each DKIM key."""
        port = free_port()
        url = database_url or "sqlite:///" + str(folder / "ingestd.db")
        lines = [
            "[daemon]",
            f"state_dir = {_toml(folder / 'state')}",
            'log_level = "info"',
            "",
            "[database]",
            f"url = {_toml(url)}",
            "",
            "[smtp]",
            f"listen = {_toml(f'127.0.0.1:{port}')}",
            f"recipients = [{_toml(RECIPIENT)}]",
            f"max_message_size = {_toml(max_message_size)}",
            "",
            "[dns]",
            f"nameservers = [{_toml(nameserver)}]",
            f"timeout = {_toml(dns_timeout)}",
            "",
        ]
        if imap is not None:
            lines += [
                "[[imap]]",
                f"name = {_toml(imap.name)}",
                f"host = {_toml(imap.host)}",
                f"port = {imap.port}",
                'security = "none"',
                f"username = {_toml(imap.username)}",
                f"password_file = {_toml(imap.password_file)}",
                f"folder = {_toml(imap.folder)}",
                f"processed_folder = {_toml(imap.processed_folder)}",
                f"quarantine_folder = {_toml(imap.quarantine_folder)}",
                f"poll_interval = {_toml(imap.poll_interval)}",
                "",
            ]
        config = folder / "ingestd.toml"
        config.write_text("\n".join(lines) + extra + VENDOR, encoding="utf-8")
        return cls(folder, config, port)

    @property
    def db_path(self) -> Path:
        return self.folder / "ingestd.db"

    @property
    def queue_dir(self) -> Path:
        return self.folder / "state" / "queue"

    # --- the CLI -------------------------------------------------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m ingestd -c CONFIG ARGS…`` in its own process."""
        return subprocess.run(
            [sys.executable, "-m", "ingestd", "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_clean_env(),
            timeout=120,
        )

    def cli_json(self, *args: str, exit_code: int = 0) -> Any:
        done = self.cli(*args, "--json")
        assert done.returncode == exit_code, (
            f"ingestd {' '.join(args)}: exit {done.returncode}, expected {exit_code}\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return json.loads(done.stdout)

    # --- the database, read-only ---------------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of a read-only query; [] while the database does not exist yet."""
        if not self.db_path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]
        finally:
            conn.close()

    def count(self, table: str, where: str = "1=1", *params: Any) -> int:
        rows = self.query(f"SELECT count(*) AS n FROM {table} WHERE {where}", *params)
        return rows[0]["n"] if rows else 0

    def messages(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM messages ORDER BY id")

    def versions(self, table: str | None = None) -> list[dict[str, Any]]:
        """Versions of vendor acme's tables (or of one), with the table name, oldest first."""
        sql = (
            "SELECT t.name AS table_name, v.* FROM versions v "
            "JOIN rate_tables t ON t.id = v.table_id WHERE t.vendor = 'acme'"
        )
        if table is None:
            return self.query(sql + " ORDER BY v.id")
        return self.query(sql + " AND t.name = ? ORDER BY v.id", table)

    # --- the queue -----------------------------------------------------------------------------

    def queued(self) -> list[str]:
        """Items still in the queue (waiting, then claimed), oldest first. new/ is listed before
        processing/: an item moves new → processing → gone, so it cannot slip between the two."""
        found = []
        for sub in ("new", "processing"):
            folder = self.queue_dir / sub
            found += [f"{sub}/{name}" for name in sorted(os.listdir(folder))]
        return found

    # --- the daemon ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def daemon(self, *, listen_socket: socket.socket | None = None) -> Iterator[Daemon]:
        """A running daemon, killed by PID on the way out unless the test stopped it.
        ``listen_socket``: a listening socket handed over as systemd's socket activation does
        (fd 3, ``LISTEN_PID``/``LISTEN_FDS``/``LISTEN_FDNAMES=smtp``)."""
        daemon = Daemon(self, listen_socket=listen_socket).start()
        try:
            yield daemon
        finally:
            daemon.close()


# What systemd does between fork and exec for a socket unit: the socket to fd 3, then the
# variables naming it, LISTEN_PID being the pid that execs ingestd.
ACTIVATE = """
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1", LISTEN_FDNAMES="smtp")
os.execv(sys.argv[2], sys.argv[2:])
"""


class Daemon:
    """``ingestd run`` as a child process; its stderr (the log) goes to a file."""

    def __init__(self, setup: Setup, *, listen_socket: socket.socket | None = None):
        self.setup = setup
        self.log_path = setup.folder / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.listen_socket = listen_socket

    def start(self) -> Daemon:
        command = [sys.executable, "-m", "ingestd", "-c", str(self.setup.config), "run"]
        passed: tuple[int, ...] = ()
        if self.listen_socket is not None:
            passed = (self.listen_socket.fileno(),)
            command = [sys.executable, "-c", ACTIVATE, str(passed[0]), *command]
        with open(self.log_path, "ab") as log:
            started_at = log.tell()
            log.write(b"--- ingestd run ---\n")
            log.flush()
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env=_clean_env(),
                pass_fds=passed,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready(started_at):
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the daemon exited with {self.process.returncode} before listening:\n"
                    f"{self.log_text()}"
                )
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError(
                    f"the daemon did not accept SMTP connections within {START_TIMEOUT:g} s:\n"
                    f"{self.log_text()}"
                )
            time.sleep(0.05)
        return self

    def _ready(self, log_offset: int) -> bool:
        if self.listen_socket is None:
            return self._accepts()
        # a passed socket accepts (into its backlog) before the daemon runs: ask the log
        try:
            with open(self.log_path, "rb") as log:
                log.seek(log_offset)
                return b"daemon.ready" in log.read()
        except FileNotFoundError:
            return False

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.setup.port), timeout=1):
                return True
        except OSError:
            return False

    def log_text(self, tail: int = 8000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, as systemd stops it; returns the exit code (0 is a clean stop).  ``timeout``:
        the seconds it may take (more for a test that stops it in the middle of a long import)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError(
                f"the daemon did not stop within {timeout:g} s of SIGTERM:\n{self.log_text()}"
            ) from None

    def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup, as a crash or the OOM killer would end it."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``condition``; on timeout fail with the daemon's log, which says why."""
        try:
            wait_until(condition, timeout, what)
        except AssertionError as e:
            alive = self.process is not None and self.process.poll() is None
            raise AssertionError(
                f"{e} (daemon {'running' if alive else 'not running'}); its log:\n{self.log_text()}"
            ) from None


# --- vendor mails as they travel to the daemon over SMTP ---------------------------------------

TODAY = datetime.now(UTC).date()

Row = tuple[str, str, str]  # code, destination, rate


def voice_xlsx(rows: Sequence[Row]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Code", "Destination", "Rate", "Effective Date"])
    for code, destination, rate in rows:
        sheet.append([code, destination, float(rate), TODAY])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def voice_csv(rows: Sequence[Row]) -> bytes:
    lines = ["Code,Destination,Rate,Effective Date"]
    lines += [
        f"{code},{destination},{rate},{TODAY.isoformat()}" for code, destination, rate in rows
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def zipped(member: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    return out.getvalue()


XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
ZIP = ("application", "zip")
CSV = ("text", "csv")


def deck_mail(
    *attachments: tuple[str, bytes, tuple[str, str]],
    message_id: str | None = None,
    from_header: str = f"Acme Rates <{VENDOR_SENDER}>",
    subject: str = "Acme rate update",
    body: str = "Dear partner,\nplease find our rate update attached.\n",
) -> bytes:
    """A vendor's mail with CRLF line ends, as it travels over SMTP."""
    message = EmailMessage()
    message["From"] = from_header
    message["To"] = RECIPIENT
    message["Subject"] = subject
    message["Date"] = "Mon, 06 Jan 2025 10:00:00 +0000"
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@acme.example>"
    message.set_content(body)
    for name, data, (maintype, subtype) in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=SMTP_POLICY)


def az_deck(*rows: Row) -> tuple[str, bytes, tuple[str, str]]:
    return ("acme_az.xlsx", voice_xlsx(rows), XLSX)


def send(port: int, raw: bytes, *, to: str = RECIPIENT) -> None:
    """smtplib's sendmail; raises on anything but 250."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example", timeout=30) as client:
        refused = client.sendmail(VENDOR_SENDER, [to], raw)
    assert refused == {}
