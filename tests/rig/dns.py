"""A real DNS server for the DKIM tests (docs/testing.md#real-components): dnslib, UDP and TCP on
one free port of 127.0.0.1, serving TXT records from a dict that the test changes while it runs.

    with TxtServer({"sel1._domainkey.acme.example": "v=DKIM1; k=rsa; p=..."}) as dns:
        config: [dns] nameservers = [dns.address], timeout = "500ms"
        dns.mode = "drop"        # stop answering: the client times out
        dns.mode = "servfail"    # answer SERVFAIL
        dns.drop("stall*._domainkey.acme.example")  # never answer these names (fnmatch)
        dns.set_cname("a._domainkey.acme.example", "b._domainkey.acme.example")

Unknown names get NXDOMAIN; a known name asked for another type gets an empty NOERROR answer.
A CNAME is followed the way a recursive resolver does (the chain, then the target's records,
in one answer; a loop is given once round), or with ``chase_cnames = False`` the way an
authoritative server of another zone does (only the CNAME: the client asks for the target).
UDP answers are limited to 512 bytes like a classic server, so a 2048-bit key arrives truncated
over UDP and the client must retry over TCP, as on the real Internet without EDNS.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Literal

from dnslib import CNAME, QTYPE, RCODE, RR, TXT, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

Mode = Literal["answer", "drop", "servfail"]
TXT_STRING_MAX = 255  # RFC 1035 §3.3: one character-string holds at most 255 bytes
UDP_LIMIT = 512  # RFC 1035 §4.2.1, without EDNS


def txt_strings(text: str | bytes) -> list[bytes]:
    """A TXT record value split into the 255-byte strings DNS can carry (RFC 6376 §3.6.2.2:
    the verifier joins them back without separators)."""
    data = text.encode("ascii") if isinstance(text, str) else text
    return [data[i : i + TXT_STRING_MAX] for i in range(0, len(data), TXT_STRING_MAX)] or [b""]


class _TxtResolver(BaseResolver):
    def __init__(self, server: TxtServer):
        self.server = server

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        name = str(request.q.qname).lower().rstrip(".")
        with self.server.lock:
            mode = self.server.mode
            dropped = any(fnmatchcase(name, pattern) for pattern in self.server.dropped)
            records = {k: list(v) for k, v in self.server.records.items()}
            cnames = dict(self.server.cnames)
            chase = self.server.chase_cnames
            self.server.queries.append((name, handler.protocol))
        if mode == "drop" or dropped:
            # DNSHandler sends nothing when the resolver raises DNSError
            raise DNSError(f"dropped query for {name}")
        reply = request.reply()
        if mode == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        owner, seen = name, set()
        while owner in cnames and owner not in seen and request.q.qtype != QTYPE.CNAME:
            seen.add(owner)
            reply.add_answer(RR(owner, QTYPE.CNAME, rdata=CNAME(cnames[owner])))
            if not chase:
                return reply
            owner = cnames[owner]
        if owner in seen:  # a loop, given once round
            return reply
        if owner not in records and owner not in cnames:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in records.get(owner, ()):
                reply.add_answer(RR(owner, QTYPE.TXT, rdata=TXT(txt_strings(value))))
        return reply


class _Handler(DNSHandler):
    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        packed = reply.pack()
        if self.protocol == "udp" and len(packed) > UDP_LIMIT:
            # dnslib's own truncate() drops the question, which dnspython rejects as an answer
            # to another query; a real server keeps it and sets TC
            truncated = request.reply()
            truncated.header.tc = 1
            packed = truncated.pack()
        return packed


class TxtServer:
    """dnslib on 127.0.0.1, UDP and TCP on the same free port; start/stop or use ``with``."""

    def __init__(self, records: Mapping[str, str | list[str]] | None = None):
        self.lock = threading.Lock()
        self.records: dict[str, list[str]] = {}
        self.mode: Mode = "answer"
        self.dropped: set[str] = set()  # fnmatch patterns of names never answered
        self.cnames: dict[str, str] = {}  # name -> target
        self.chase_cnames = True  # answer with the whole chain, as a recursive resolver does
        self.queries: list[tuple[str, str]] = []  # (name, "udp" | "tcp") in arrival order
        for name, value in (records or {}).items():
            self.set_txt(name, value)
        self._servers: list[DNSServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0

    @property
    def address(self) -> str:
        """The "ip:port" that ``[dns] nameservers`` takes."""
        return f"127.0.0.1:{self.port}"

    def set_txt(self, name: str, value: str | list[str]) -> None:
        """Serve ``value`` (one record, or several) as the TXT records of ``name``."""
        with self.lock:
            self.records[name.lower().rstrip(".")] = [value] if isinstance(value, str) else value

    def set_cname(self, name: str, target: str) -> None:
        """Serve ``name`` as a CNAME of ``target``."""
        with self.lock:
            self.cnames[name.lower().rstrip(".")] = target.lower().rstrip(".")

    def drop(self, *patterns: str) -> None:
        """Never answer the names matching these fnmatch patterns (the client times out)."""
        with self.lock:
            self.dropped.update(p.lower().rstrip(".") for p in patterns)

    def reset(self) -> None:
        """Back to answering, no records, no queries seen: one server can serve many tests."""
        with self.lock:
            self.records.clear()
            self.cnames.clear()
            self.dropped.clear()
            self.chase_cnames = True
            self.mode = "answer"
            self.queries.clear()

    def remove(self, name: str) -> None:
        with self.lock:
            self.records.pop(name.lower().rstrip("."), None)

    def start(self) -> TxtServer:
        resolver = _TxtResolver(self)
        quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
        for _ in range(20):  # another process may take the UDP port's TCP twin; try another
            udp = DNSServer(resolver, address="127.0.0.1", port=0, logger=quiet, handler=_Handler)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    resolver, address="127.0.0.1", port=port, tcp=True, logger=quiet,
                    handler=_Handler,
                )  # fmt: skip
            except OSError:
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            break
        else:
            raise OSError("no free port for both UDP and TCP on 127.0.0.1")
        for server in self._servers:
            # a short poll interval: shutdown() waits for the serving loop to notice
            thread = threading.Thread(
                target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> TxtServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unused_udp_address() -> str:
    """An "ip:port" where nothing listens (for a resolver that must never be asked)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"
