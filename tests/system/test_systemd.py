"""sd_notify and socket activation against real sockets, and the unit file
(docs/operations.md#running-as-a-service)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ingestd import systemd

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "ingestd.service"
SOCKET_UNIT = ROOT / "systemd" / "ingestd.socket"


def _receiver(sock: socket.socket):
    sock.settimeout(5)

    def received() -> str:
        return sock.recv(4096).decode("utf-8")

    return received


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    """A datagram socket bound to a file, as systemd's /run/systemd/notify."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(os.fspath(path))
        monkeypatch.setenv("NOTIFY_SOCKET", os.fspath(path))
        yield _receiver(sock)


@pytest.fixture
def abstract_notify_socket(monkeypatch):
    """The same in the abstract namespace (``@name``), as systemd uses for some managers."""
    name = f"ingestd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        yield _receiver(sock)


def test_notify_sends_exactly_the_fields(notify_socket):
    assert systemd.notify("READY=1", "STATUS=up") is True
    assert notify_socket() == "READY=1\nSTATUS=up"


def test_helpers_send_the_protocol_messages(notify_socket):
    assert systemd.ready()
    assert notify_socket() == "READY=1"
    assert systemd.ready("listening on :25")
    assert notify_socket() == "READY=1\nSTATUS=listening on :25"
    assert systemd.status("queue=3\nprocessed=10")  # a newline would split the field
    assert notify_socket() == "STATUS=queue=3 processed=10"
    assert systemd.stopping()
    assert notify_socket() == "STOPPING=1"
    assert systemd.stopping("finishing 1 message")
    assert notify_socket() == "STOPPING=1\nSTATUS=finishing 1 message"
    assert systemd.watchdog()
    assert notify_socket() == "WATCHDOG=1"
    assert systemd.extend_timeout(1.5)
    assert notify_socket() == "EXTEND_TIMEOUT_USEC=1500000"
    assert systemd.reloading()
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", notify_socket())


def test_abstract_namespace_socket(abstract_notify_socket):
    assert systemd.ready("ok")
    assert abstract_notify_socket() == "READY=1\nSTATUS=ok"
    assert systemd.watchdog()
    assert abstract_notify_socket() == "WATCHDOG=1"


def test_not_under_systemd(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    assert systemd.ready() is False
    assert systemd.watchdog() is False
    # a socket that is gone (systemd restarted): False, never an exception
    monkeypatch.setenv("NOTIFY_SOCKET", os.fspath(tmp_path / "nobody"))
    assert systemd.status("x") is False
    # a kind of address we do not speak
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert systemd.ready() is False


def test_notify_rejects_malformed_fields(notify_socket):
    with pytest.raises(ValueError):
        systemd.notify("READY=1\nSTATUS=x")
    with pytest.raises(ValueError):
        systemd.notify("READY")


def test_watchdog_interval():
    pid = str(os.getpid())
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 60.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": pid}) == 60.0
    other = str(os.getpid() + 1)
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": other}) is None
    assert systemd.watchdog_interval({}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


def test_watchdog_interval_from_environment(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "500000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval() == 0.5


def test_listen_fds_not_ours():
    env = {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDNAMES": "smtp"}
    assert systemd.listen_fds(env) == []
    assert env == {}  # unset either way, so no child takes them for its own
    assert systemd.listen_fds({}) == []


# The child does what systemd does between fork and exec: moves the socket to fd 3 and sets
# LISTEN_PID to its own pid (which only exists once it runs), then asks for the sockets.
CHILD = """
import json, os, socket, sys
source = int(sys.argv[1])
if source != 3:
    os.dup2(source, 3)
    os.close(source)
os.environ["LISTEN_PID"] = str(os.getpid())
from ingestd import systemd
socks = systemd.listen_fds()
out = []
for s in socks:
    out.append({"fd": s.fileno(), "family": int(s.family), "type": int(s.type),
                "port": s.getsockname()[1], "inheritable": s.get_inheritable()})
conn, _ = socks[0].accept()
conn.sendall(b"220 from the child\\r\\n")
conn.close()
out.append({"env": sorted(k for k in os.environ if k.startswith("LISTEN_"))})
print(json.dumps(out))
"""


def test_listen_fds_from_a_real_listening_socket():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        fd = listener.fileno()
        env = {**os.environ, "LISTEN_FDS": "1", "LISTEN_FDNAMES": "smtp"}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(fd)],
            env=env,
            pass_fds=(fd,),
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.settimeout(10)
            assert client.recv(100) == b"220 from the child\r\n"
        out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    got = json.loads(out)
    assert got[0] == {
        "fd": 3,
        "family": int(socket.AF_INET),
        "type": int(socket.SOCK_STREAM),
        "port": port,
        "inheritable": False,
    }
    assert len(got) == 2
    assert got[1] == {"env": []}


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}}: keys may repeat, so no configparser."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_unit_file_has_the_required_directives():
    service = _unit(UNIT)["Service"]

    def one(key: str) -> str:
        assert key in service, f"{key}= missing from {UNIT.name}"
        return service[key][-1]

    assert one("Type") == "notify"
    assert one("ExecStart").endswith("-c /etc/ingestd/ingestd.toml run")
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one("WatchdogSec") == "60"
    assert one("Restart") == "on-failure"
    assert one("User") == one("Group") == "ingestd"
    assert "DynamicUser" not in service
    assert one("StateDirectory") == "ingestd"
    assert one("ConfigurationDirectory") == "ingestd"
    assert "INGESTD_DAEMON_STATE_DIR=/var/lib/ingestd" in service["Environment"]
    assert one("AmbientCapabilities") == "CAP_NET_BIND_SERVICE"
    assert one("CapabilityBoundingSet") == "CAP_NET_BIND_SERVICE"
    for key in (
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "NoNewPrivileges",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "RestrictNamespaces",
        "LockPersonality",
    ):
        assert one(key) == "yes", key
    assert one("ProtectSystem") == "strict"
    assert set(one("RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert one("SystemCallFilter") == "@system-service"
    assert one("SystemCallArchitectures") == "native"
    assert one("UMask") == "0027"
    assert one("TimeoutStopSec") == "60"
    assert one("KillMode") == "mixed"
    assert "LogsDirectory" not in service  # journald
    assert _unit(SOCKET_UNIT)["Socket"]["ListenStream"] == ["25"]


def test_sysusers_line():
    lines = [
        line
        for line in (ROOT / "systemd" / "ingestd.sysusers").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ['u ingestd - "ingestd rate deck daemon" /var/lib/ingestd']


def test_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (optional tooling)")
    # verify checks that ExecStart= exists: point it at this checkout's script (or python)
    program = Path(sys.executable).with_name("ingestd")
    if not program.exists():
        program = Path(sys.executable)
    for unit in (UNIT, SOCKET_UNIT):
        text = unit.read_text().replace("/usr/local/bin/ingestd", os.fspath(program))
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        [
            analyze,
            "verify",
            "--man=no",
            *(os.fspath(tmp_path / u.name) for u in (UNIT, SOCKET_UNIT)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # warnings come on stderr with rc 0; only lines about our units count
    ours = [line for line in result.stderr.splitlines() if "ingestd." in line]
    assert ours == [], result.stderr
