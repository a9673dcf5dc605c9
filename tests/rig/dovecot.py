"""A real Dovecot IMAP server for tests (docs/testing.md#real-components): unprivileged, on a free
127.0.0.1 port, with passwd-file auth and a Maildir in a temporary folder, stopped by PID.

Dovecot refuses to run its login and mail processes as root, so when the tests run as root (CI)
the whole server runs as ``nobody``; otherwise as the current user. Every process of the
instance then has that one user, which is what ``default_internal_user``/``default_login_user``
and the static userdb are set to. The folder lives outside pytest's ``tmp_path`` because that
one is private to root and ``nobody`` could not enter it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient

from rig.ports import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
IMAP_BINARY_DIRS = (Path("/usr/lib/dovecot"), Path("/usr/libexec/dovecot"))

# Login and mail processes run as one unprivileged user; no chroot, which needs root.
_CONFIG = """\
{preamble}protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = ingestd-test-{port}
log_path = {root}/log/dovecot.log
info_log_path = {root}/log/dovecot.log
ssl = {ssl}
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
first_valid_gid = {gid}
namespace inbox {{
  inbox = yes
{namespace}}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
{auth_and_mail}
{tls}
{extra}
"""

_AUTH_AND_MAIL_23 = """\
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
# a message delivered while an IDLE starts, before Dovecot watches the maildir, is otherwise
# announced only at the next check (30 s by default): the tests wait seconds, not half a minute
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}"""

# Dovecot 2.4 renamed these; written from its documentation, not tried here (2.3 is)
_PREAMBLE_24 = "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n"
_AUTH_AND_MAIL_24 = """\
auth_allow_cleartext = yes
mail_driver = maildir
mail_path = ~/Maildir
passdb passwd-file {{
  passwd_file_path = {root}/passwd
}}
userdb static {{
  fields {{
    uid = {uid}
    gid = {gid}
    home = {root}/home/%{{user}}
  }}
}}"""


def dovecot_problem(*, tls: bool = False) -> str | None:
    """Why this machine cannot run the rig, or None."""
    if not Path(DOVECOT).is_file():
        return "Dovecot is not installed (Debian package dovecot-imapd)"
    if not any((d / "imap").is_file() for d in IMAP_BINARY_DIRS):
        return "Dovecot's IMAP server is not installed (Debian package dovecot-imapd)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            return "running as root, and there is no user 'nobody' to run Dovecot as"
    if tls and shutil.which("openssl") is None:
        return "the openssl command is not installed (it makes the test certificate)"
    return None


def dovecot_version() -> tuple[int, int]:
    out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=True)
    major, minor = out.stdout.split()[0].split(".")[:2]
    return int(major), int(minor)


def _self_signed_certificate(cert: Path, key: Path) -> None:
    """A one-day certificate for 127.0.0.1 and localhost, made with the openssl command."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


# The personal namespace of each folder layout the rig can run, as ``(prefix, separator)``
# and the lines of dovecot.conf's ``namespace inbox`` that make it.
LAYOUTS: dict[str, tuple[tuple[str, str], str]] = {
    # Exchange's and Gmail's shape: "ingestd/processed" is the server's name too
    "slash": (("", "/"), "  separator = /\n"),
    # Dovecot's default for Maildir (no separator line): "ingestd.processed"
    "dot": (("", "."), ""),
    # Courier's and Cyrus's shape: every folder below INBOX, "INBOX.ingestd.processed"
    "inbox-prefix": (("INBOX.", "."), "  prefix = INBOX.\n  separator = .\n"),
}


@dataclass(frozen=True)
class StoredMessage:
    uid: int
    raw: bytes
    flags: tuple[bytes, ...]


class Dovecot:
    """One Dovecot instance with one user; ``start``/``stop``/``restart`` keep its mail."""

    host = "127.0.0.1"
    user = "alice"
    password = "rates-secret"

    def __init__(self, *, tls: bool = False, extra_config: str = "", layout: str = "slash") -> None:
        """``tls`` adds IMAPS (``imaps_port``) and STARTTLS with a self-signed certificate for
        127.0.0.1 (``ca_file`` trusts it); ``extra_config`` is appended to dovecot.conf;
        ``layout`` is one of ``LAYOUTS``: the personal namespace's separator and prefix."""
        (self.prefix, self.separator), self._namespace = LAYOUTS[layout]
        self.layout = layout
        self.port = free_port()
        self.imaps_port = free_port() if tls else 0
        self.root = Path(tempfile.mkdtemp(prefix="ingestd-dovecot-"))
        self._drop_root = os.geteuid() == 0
        account = pwd.getpwnam("nobody") if self._drop_root else pwd.getpwuid(os.getuid())
        self.uid, self.gid = account.pw_uid, account.pw_gid
        self._user_name = account.pw_name
        self._group_name = grp.getgrgid(account.pw_gid).gr_name
        self.ca_file: Path | None = self.root / "cert.pem" if tls else None
        self.process: subprocess.Popen[bytes] | None = None
        self._write_files(extra_config)

    def _write_files(self, extra_config: str) -> None:
        for sub in ("run", "state", "log", "home"):
            (self.root / sub).mkdir()
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        new_syntax = dovecot_version() >= (2, 4)
        tls = ""
        if self.ca_file is not None:
            key = self.root / "key.pem"
            _self_signed_certificate(self.ca_file, key)
            if new_syntax:
                tls = f"ssl_server_cert_file = {self.ca_file}\nssl_server_key_file = {key}"
            else:
                tls = f"ssl_cert = <{self.ca_file}\nssl_key = <{key}"
        names = {
            "root": self.root,
            "port": self.port,
            "imaps_port": self.imaps_port,
            "user": self._user_name,
            "group": self._group_name,
            "uid": self.uid,
            "gid": self.gid,
        }
        auth_and_mail = _AUTH_AND_MAIL_24 if new_syntax else _AUTH_AND_MAIL_23
        (self.root / "dovecot.conf").write_text(
            _CONFIG.format(
                preamble=_PREAMBLE_24 if new_syntax else "",
                auth_and_mail=auth_and_mail.format(**names),
                ssl="yes" if tls else "no",
                tls=tls,
                extra=extra_config,
                namespace=self._namespace,
                **names,
            )
        )
        if self._drop_root:
            self.root.chmod(0o755)
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, self.uid, self.gid)

    @property
    def log_path(self) -> Path:
        return self.root / "log" / "dovecot.log"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        if self.process is not None:
            raise RuntimeError("Dovecot is already running")
        (self.root / "run" / "master.pid").unlink(missing_ok=True)
        extra: dict = {}
        if self._drop_root:
            extra = {"user": self.uid, "group": self.gid, "extra_groups": []}
        with open(self.root / "log" / "stderr.log", "ab") as err:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,  # its own process group, killed as one at stop
                **extra,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise RuntimeError(f"Dovecot exited with {code}:\n{self._diagnostics()}")
            if self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Dovecot did not answer in {timeout}s:\n{self._diagnostics()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        """True when the IMAP greeting arrives (the port is bound and a login process runs)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(5) == b"* OK "
        except OSError:
            return False

    def _diagnostics(self) -> str:
        stderr = (self.root / "log" / "stderr.log").read_text(errors="replace")
        return f"{stderr}\n{self.log_text()}"

    def stop(self, timeout: float = 10.0, *, graceful: bool = True) -> None:
        """Graceful: SIGTERM the master (it says BYE to clients and ends its children, which
        takes about a second). Then, or at once when not graceful, SIGKILL whatever is left of
        its process group."""
        process, self.process = self.process, None
        if process is None:
            return
        if graceful:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):  # the usual case after SIGTERM: all gone
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop(graceful=False)  # the mail is thrown away: no need to wait for goodbyes
        shutil.rmtree(self.root)

    # -- processes --------------------------------------------------------------------------

    def imap_processes(self) -> list[int]:
        """PIDs of the ``imap`` children of the master: one per logged-in session."""
        if self.process is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process ended while we looked
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if comm == "imap" and ppid == self.process.pid:
                found.append(int(entry.name))
        return found

    def kill_imap_sessions(self) -> list[int]:
        """SIGKILL every IMAP session process: its clients see the connection drop. The rig's
        own helpers log out after each call, so these are the sessions of the code under test."""
        pids = self.imap_processes()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    # -- mail -------------------------------------------------------------------------------

    def server_name(self, folder: str) -> str:
        """The server's name of a folder written with ``/`` (as ingestd's configuration writes
        it), worked out from this rig's own layout: what a mail client shows."""
        if folder.upper() == "INBOX":
            return "INBOX"
        return self.prefix + folder.replace("/", self.separator)

    @contextlib.contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in client, logged out afterwards."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(OSError, IMAPClient.Error):
                client.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """Store a message as a delivery would; returns its UID (from APPENDUID)."""
        with self.client() as c:
            response = c.append(folder, raw)
        # b"[APPENDUID <uidvalidity> <uid>] Append completed"
        return int(response.split(b"]")[0].split()[-1])

    def messages(self, folder: str = "INBOX") -> list[StoredMessage]:
        """Every message of a folder with its flags, read without setting \\Seen."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            fetched = c.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        return [
            StoredMessage(uid, fetched[uid][b"BODY[]"], tuple(fetched[uid][b"FLAGS"]))
            for uid in sorted(fetched)
        ]

    def contents(self, folder: str = "INBOX") -> list[bytes]:
        return [m.raw for m in self.messages(folder)]

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def create_folder(self, folder: str) -> None:
        with self.client() as c:
            c.create_folder(folder)

    def recreate_folder(self, folder: str) -> tuple[int, int]:
        """Delete and create ``folder`` again, which gives it a new UIDVALIDITY; returns
        (old, new)."""
        with self.client() as c:
            old = int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])
            c.delete_folder(folder)
            c.create_folder(folder)
            new = int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])
        return old, new
