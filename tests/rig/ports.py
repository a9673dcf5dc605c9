"""Free TCP ports of 127.0.0.1 for the servers the tests start and stop themselves (Dovecot, the
daemon, relays, webhook receivers), when a server must be told its port before it binds or must
bind the same port again after a restart (docs/testing.md#running-the-tests-in-parallel).

A port the operating system hands out for port 0 is free only until somebody else asks: another
pytest-xdist worker, or any outgoing connection, may get it before our server binds it. So the
ports come from below the kernel's ephemeral range (which the operating system never hands out
by itself), each xdist worker from its own slice of it, and each is checked to be free before it
is returned. A server that needs no fixed port binds port 0 itself and reports the one it got.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path

LOWEST = 10_000  # below: the well-known services a machine may run (PostgreSQL, MariaDB, …)
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral() -> tuple[int, int]:
    try:
        low, high = map(int, EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default
    return low, high


def _worker() -> tuple[int, int]:
    """This process's xdist worker number and the number of workers (0 and 1 without xdist)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return int(name.removeprefix("gw") or 0), max(count, 1)


def _slice() -> range | None:
    """This worker's share of the ports below the ephemeral range; None when there are too few
    of them (a machine whose ephemeral range starts low)."""
    low, _ = _ephemeral()
    worker, count = _worker()
    size = (low - LOWEST) // count
    if size < 100:
        return None
    start = LOWEST + (worker % count) * size
    return range(start, start + size)


def _candidates() -> tuple[Iterator[int], int]:
    """The ports of this worker's slice in turn, from a random start (so that two test runs on
    one machine seldom walk the same ports together), and how many there are."""
    ports = _slice()
    if ports is None:
        return iter(()), 0
    offset = random.randrange(len(ports))
    return itertools.cycle([*ports[offset:], *ports[:offset]]), len(ports)


_next_port, _slice_size = _candidates()


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on, and that nobody else is handed meanwhile: the
    next free one of this worker's slice (a port comes round again only after all the others)."""
    for port in itertools.islice(_next_port, _slice_size):
        if _bindable(port):
            return port
    # no slice of our own on this machine, or all of it taken: the operating system's choice
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
