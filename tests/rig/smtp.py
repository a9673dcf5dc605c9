"""Test rig for the SMTP intake (docs/testing.md#real-components): the real listener on a free port
in its own event loop (a thread running ``asyncio.run``), a real daemon child process to SIGKILL,
self-signed certificates made with the ``openssl`` CLI, and a way to make a directory unwritable
even for root.

Plain helpers and context managers, not fixtures: each test module wraps what it needs in a
two-line fixture, so nothing here collides with tests/intake/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestd.config import Config, load_config
from ingestd.intake.queue import InboundQueue, QueueItem
from ingestd.intake.smtp import SmtpListener, start_smtp

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
RECIPIENT = "rates@carrier.example"
SENDER = "pricing@vendor.example"


def missing(what: str) -> None:
    """tests/conftest.py's rule: skip on a developer's machine, fail under CI=true
    (docs/testing.md#real-components).

    Loaded by path: with tests/intake/conftest.py present, the module named "conftest" is that
    one by the time the intake tests are collected."""
    spec = importlib.util.spec_from_file_location(
        "ingestd_tests_root_conftest", TESTS / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    root_conftest.missing(what)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(folder: Path, **smtp: Any) -> Path:
    """An ingestd.toml with state_dir in ``folder`` and the given [smtp] options."""
    options = {"listen": "127.0.0.1:0", "recipients": [RECIPIENT], **smtp}
    lines = ["[daemon]", f"state_dir = {_toml_value(folder / 'state')}", "", "[smtp]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in options.items()]
    path = folder / "ingestd.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_config(folder: Path, **smtp: Any) -> Config:
    """The configuration as the daemon would load it (through the real loader)."""
    return load_config(write_config(folder, **smtp), env={})


def queue_root(config: Config) -> Path:
    return config.daemon.state_dir / "queue"


class RunningSmtp:
    """The real listener on its own event loop in a thread, as the daemon would run it."""

    def __init__(self, config: Config):
        self.config = config
        self.queue = InboundQueue(queue_root(config))
        self.notified: list[QueueItem] = []
        self.listener: SmtpListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="smtp-rig", daemon=True)

    @property
    def port(self) -> int:
        assert self.listener is not None and self.listener.port is not None
        return self.listener.port

    def start(self) -> RunningSmtp:
        self._thread.start()
        if not self._started.wait(10):
            raise TimeoutError("the SMTP listener did not start within 10 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the SMTP listener did not stop within 15 s"

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self.listener = await start_smtp(
                self.config, self.queue, on_queued=self.notified.append
            )
        except BaseException as e:
            self._error = e
            self._started.set()
            raise
        self._started.set()
        await self._stop.wait()
        await self.listener.close()

    def wait_notified(self, count: int, timeout: float = 5.0) -> list[QueueItem]:
        """on_queued runs just after the 250 went out: give it a moment to be called."""
        wait_until(lambda: len(self.notified) >= count, timeout, f"{count} on_queued calls")
        return list(self.notified)


@contextlib.contextmanager
def running_smtp(folder: Path, **smtp: Any) -> Iterator[RunningSmtp]:
    server = RunningSmtp(make_config(folder, **smtp)).start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def send_raw(
    port: int,
    raw: bytes,
    *,
    to: list[str] | None = None,
    mail_from: str = SENDER,
    declare_size: bool = False,
) -> tuple[int, bytes]:
    """One transaction with smtplib's low-level commands; returns the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.vendor.example", timeout=20) as s:
        s.ehlo()
        options = ["BODY=8BITMIME"] + ([f"SIZE={len(raw)}"] if declare_size else [])
        code, reply = s.mail(mail_from, options)
        assert code == 250, (code, reply)
        for rcpt in to or [RECIPIENT]:
            code, reply = s.rcpt(rcpt)
            assert code == 250, (code, reply)
        return s.data(raw)


class Dialogue:
    """A raw client socket, for what smtplib cannot do (LMTP replies per recipient, bare LF)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sock.settimeout(10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> list[bytes]:
        """The lines of one (possibly multi-line) reply."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"connection closed; got {self.buffer!r}")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line)
            if line[3:4] != b"-":
                return lines

    def command(self, line: bytes) -> list[bytes]:
        self.send(line + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        missing("the openssl command is not installed (needed to make a test certificate)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """Make ``directory`` refuse new entries: chmod for a normal user, the immutable attribute
    for root (whom permissions do not stop)."""
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o500)
        try:
            yield
        finally:
            directory.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root and chattr is missing: cannot make a directory unwritable")
    made = subprocess.run([chattr, "+i", str(directory)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"running as root and chattr +i failed: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


# A daemon stand-in for the kill tests: the real queue and listener in a fresh Python process;
# the pipeline "starts work" on each message (claims it) as the daemon's worker would.
DAEMON_SCRIPT = """
import asyncio, sys
from ingestd.config import load_config
from ingestd.intake.queue import InboundQueue
from ingestd.intake.smtp import start_smtp

async def main():
    config = load_config(sys.argv[1], env={})
    queue = InboundQueue(config.daemon.state_dir / "queue")
    recovered = queue.recover()
    loop = asyncio.get_running_loop()
    def on_queued(item):
        loop.run_in_executor(None, queue.claim)
    listener = await start_smtp(config, queue, on_queued=on_queued)
    print(listener.port, len(recovered), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextlib.contextmanager
def daemon_process(config_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    """(process, SMTP port, items recovered at start); the process is killed on exit."""
    process = subprocess.Popen(
        [sys.executable, "-c", DAEMON_SCRIPT, str(config_path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the daemon child exited with {process.wait(5)} before listening")
        port, recovered = (int(field) for field in line.split())
        yield process, port, recovered
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
