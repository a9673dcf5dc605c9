"""The two systemd protocols a ``Type=notify`` service speaks
(docs/operations.md#running-as-a-service), without libsystemd.

``sd_notify``: one datagram of ``KEY=value`` lines to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace).  It tells systemd the
daemon is READY (only then do ``systemctl start`` and units ordered after us go on), what it is
doing (STATUS, shown by ``systemctl status``), that it is STOPPING, and that it is still alive
(WATCHDOG pings; a hung daemon is killed and restarted).

``sd_listen_fds``: with socket activation systemd binds port 25 as root and hands the listening
socket to the unprivileged daemon as fd 3 onwards (``$LISTEN_FDS``, ``$LISTEN_PID``).

Both are a few lines, so they are written here: python-systemd needs libsystemd headers to
build, and a daemon started outside systemd (tests, a terminal) must simply get "not under
systemd" answers — every function here is a no-op returning False/None/[] then.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping, MutableMapping

log = logging.getLogger("ingestd.systemd")

# the first passed fd: 0-2 are stdin/stdout/stderr (sd_listen_fds(3), SD_LISTEN_FDS_START)
LISTEN_FDS_START = 3


def _address(env: Mapping[str, str]) -> str | None:
    """The socket address from ``$NOTIFY_SOCKET``: a file path as is, ``@name`` as the
    abstract name ``\\0name``; None when unset or of a kind we do not speak (``vsock:``)."""
    value = env.get("NOTIFY_SOCKET", "")
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def notify(*fields: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``fields`` (each ``KEY=value``) to systemd as one datagram.

    Returns True when systemd got it, False when we are not under a ``Type=notify`` unit or the
    send failed.  It never raises: a status update that cannot be delivered is no reason to stop
    taking mail (a READY that never arrives is handled by systemd's own start timeout).
    A field must not contain a newline (it would split into two assignments): :func:`status`
    flattens free text for that reason.
    """
    env = os.environ if env is None else env
    address = _address(env)
    if address is None or not fields:
        return False
    for item in fields:
        if "\n" in item or "=" not in item:
            raise ValueError(f"not a KEY=value notify field: {item!r}")
    payload = "\n".join(fields).encode("utf-8")
    try:
        # a fresh socket per message, like sd_notify(): nothing to keep open across a fork,
        # and the message is a few bytes a handful of times a minute
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(payload)
    except OSError as e:
        log.debug("sd_notify to %r failed: %s", env.get("NOTIFY_SOCKET"), e)
        return False
    return True


def _one_line(text: str) -> str:
    # STATUS= is a single line; systemctl status shows it as is
    return " ".join(text.split())


def ready(status: str | None = None) -> bool:
    """READY=1: the listeners are bound and the worker runs; systemd finishes ``start``."""
    fields = ["READY=1"]
    if status:
        fields.append(f"STATUS={_one_line(status)}")
    return notify(*fields)


def status(text: str) -> bool:
    """STATUS=: one line for ``systemctl status`` (e.g. queue length, messages done)."""
    return notify(f"STATUS={_one_line(text)}")


def stopping(status: str | None = None) -> bool:
    """STOPPING=1: sent on SIGTERM so systemd shows "deactivating" while in-flight work ends."""
    fields = ["STOPPING=1"]
    if status:
        fields.append(f"STATUS={_one_line(status)}")
    return notify(*fields)


def reloading() -> bool:
    """RELOADING=1 with the CLOCK_MONOTONIC time (systemd ≥ 253 asks for both): sent when a
    SIGHUP reload starts; send :func:`ready` when it is done."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}")


def watchdog() -> bool:
    """WATCHDOG=1: "still alive"; without it for ``WatchdogSec=`` systemd kills and restarts us."""
    return notify("WATCHDOG=1")


def extend_timeout(seconds: float) -> bool:
    """EXTEND_TIMEOUT_USEC=: during a stop (or start), ask systemd for ``seconds`` more before
    it sends SIGKILL, e.g. while the worker finishes a large deck past ``TimeoutStopSec=``."""
    return notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout in seconds (``$WATCHDOG_USEC``), None when the watchdog is off.

    ``$WATCHDOG_PID``, when set, names the process the watchdog is for: a child that inherited
    the environment must not think it is the one being watched.  Ping at half this interval so
    one late ping is not a restart.
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid is not None:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1_000_000


def listen_fds(
    env: MutableMapping[str, str] | None = None, *, unset_environment: bool = True
) -> list[socket.socket]:
    """The sockets systemd passed us (socket activation), in ``ListenStream=`` order; [] when
    none were passed or they were meant for another process (``$LISTEN_PID`` is not ours).

    With ``ingestd.socket`` systemd binds port 25 itself, so the daemon needs neither root nor
    ``CAP_NET_BIND_SERVICE``.  The fds are marked close-on-exec and, with
    ``unset_environment`` (the default, like ``sd_listen_fds(1)``), the ``LISTEN_*`` variables are
    removed, so a program we start does not take them for its own.  Call it once: the sockets are
    owned by the returned objects from then on.
    """
    env = os.environ if env is None else env
    try:
        pid = int(env.get("LISTEN_PID", ""))
        count = int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    finally:
        if unset_environment:
            for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
                env.pop(name, None)
    if pid != os.getpid() or count <= 0:
        return []
    sockets: list[socket.socket] = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + count):
        try:
            os.set_inheritable(fd, False)
            # family, type and protocol are read from the fd itself
            sockets.append(socket.socket(fileno=fd))
        except OSError as e:
            # a wrong LISTEN_FDS (or a closed fd): say which one, instead of a bare errno
            for sock in sockets:
                sock.close()
            raise OSError(e.errno, f"passed fd {fd} is not a socket ({e.strerror})") from None
    return sockets


def listen_fds_with_names(
    env: MutableMapping[str, str] | None = None,
) -> list[tuple[str, socket.socket]]:
    """:func:`listen_fds` with each socket's name (``FileDescriptorName=``, passed in
    ``$LISTEN_FDNAMES`` as a colon-separated list like ``sd_listen_fds_with_names(3)``);
    ``"unknown"`` for a socket systemd named nothing, as libsystemd says."""
    env = os.environ if env is None else env
    names = env.get("LISTEN_FDNAMES", "")
    sockets = listen_fds(env)
    given = names.split(":") if names else []
    return [
        (given[i] if i < len(given) and given[i] else "unknown", sock)
        for i, sock in enumerate(sockets)
    ]
