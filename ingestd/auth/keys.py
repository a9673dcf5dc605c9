"""DKIM keys for one message (docs/mail.md#vendor-authentication): a key the vendor pins in
``dkim_keys`` replaces DNS for that name; the others are fetched from DNS (dnspython, ``[dns]``
of the configuration), in parallel and within one time budget for the whole message. A CNAME
chain is followed (at most :data:`MAX_CNAME_HOPS` names); a loop of any length is a permanent
failure of that key. A key DNS could not give now is a :class:`DnsTemporaryError`: retry later.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FutureTimeout

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from ingestd.auth.vendor import normalize_domain
from ingestd.config import DnsConfig

EDNS_PAYLOAD = 1232  # DNS flag day 2020: fits a 2048-bit key in UDP; larger answers go over TCP
MAX_CNAME_HOPS = 8  # CNAMEs followed from a key name before the chain counts as broken
_KEY_RECORD = re.compile(rb"(^|;)\s*p\s*=")


class DnsTemporaryError(Exception):
    """The key could not be fetched now (timeout, SERVFAIL, no resolver): retry later.

    Deliberately not a ``dkim.DKIMException``: dkimpy catches its own ``DnsTimeoutError`` in
    ``verify_sig`` and returns False, which would turn a DNS outage into a forgery verdict. Any
    other exception from the dnsfunc passes through ``verify`` to us."""


def make_resolver(config: DnsConfig) -> dns.resolver.Resolver:
    """A dnspython resolver for ``[dns]``: the listed servers (ip or ip:port), else the system's.

    Raises ``dns.resolver.NoResolverConfiguration`` when the system has no resolver."""
    if config.nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(ip, port) for ip, port in config.nameserver_addresses
        ]
    else:
        resolver = dns.resolver.Resolver(configure=True)
    resolver.timeout = config.timeout  # per server try
    resolver.lifetime = config.timeout  # the whole lookup
    resolver.use_edns(0, 0, EDNS_PAYLOAD)
    return resolver


def key_name(selector: str, domain: str) -> str:
    """The DNS name of a DKIM key, as ``dkim_keys`` pins spell it (RFC 6376 §3.6.2.1)."""
    return f"{selector.lower()}._domainkey.{normalize_domain(domain)}"


Answer = bytes | DnsTemporaryError | None


class KeyLookup:
    """The ``dnsfunc`` handed to dkimpy: pinned keys first, then DNS; remembers for each name
    where its answer came from, so a failure can say "no key at …" rather than "did not verify".

    Returns the key record (bytes) or None when there is none (NXDOMAIN, no TXT record, a CNAME
    loop: a permanent failure of that signature, RFC 6376 §6.1.2); raises
    :class:`DnsTemporaryError` when DNS could not answer. Answers are kept for the life of the
    object (one message), and every lookup ends by ``deadline`` (``time.monotonic()``), the
    message's DNS budget (default: the configured budget from now): :meth:`fetch` asks for
    several names at once."""

    def __init__(self, config: DnsConfig, pins: Mapping[str, str], deadline: float | None = None):
        self._config = config
        self._pins = pins
        self._deadline = time.monotonic() + config.budget if deadline is None else deadline
        self._resolver: dns.resolver.Resolver | None = None
        self._answers: dict[str, Answer] = {}
        self.sources: dict[str, str] = {}  # name -> "pinned key" | "DNS" | why there is none

    def pinned(self, name: str) -> bool:
        return name in self._pins

    def __call__(self, name: bytes, timeout: float = 5.0) -> bytes | None:
        # dkimpy passes its own timeout; ours comes from the configuration and the budget
        key = name.decode("ascii", "replace").lower().rstrip(".")
        if not name.isascii():
            self.sources[key] = "not an ASCII DNS name"
            return None
        if key not in self._answers:
            self._keep(key, *self._fetch(key))
        answer = self._answers[key]
        if isinstance(answer, DnsTemporaryError):
            raise answer
        return answer

    def fetch(self, names: Sequence[str]) -> Iterator[str]:
        """Look ``names`` up in parallel; yield each name as its answer is known (pinned and
        known ones first), until all are or the budget runs out. A name never yielded is
        answered :class:`DnsTemporaryError` from then on. The caller may stop early: lookups
        still running end by themselves within the budget."""
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            if name in self._pins and name not in self._answers:
                self._keep(name, *self._fetch(name))
        yield from (name for name in wanted if name in self._answers)
        missing = [name for name in wanted if name not in self._answers]
        if not missing:
            return
        try:
            self._resolver_ready()  # once, before the threads share it
        except dns.resolver.NoResolverConfiguration:
            pass  # each lookup says so
        executor = ThreadPoolExecutor(max_workers=len(missing), thread_name_prefix="dkim-dns")
        try:
            futures: dict[Future[tuple[Answer, str | None]], str] = {
                executor.submit(self._fetch, name): name for name in missing
            }
            try:
                for future in as_completed(futures, timeout=self._remaining()):
                    name = futures[future]
                    try:
                        self._keep(name, *future.result())
                    except Exception as e:  # no socket, no thread: this host, not the key
                        failed = f"DNS lookup of {name} failed: {type(e).__name__}: {e}"
                        self._keep(name, DnsTemporaryError(failed), None)
                    yield name
            except FutureTimeout:
                pass
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            for name in missing:
                if name not in self._answers:
                    self._answers[name] = self._out_of_budget(name)

    def _keep(self, name: str, answer: Answer, source: str | None) -> None:
        self._answers[name] = answer
        if source is not None:
            self.sources[name] = source

    def _remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def _out_of_budget(self, key: str) -> DnsTemporaryError:
        return DnsTemporaryError(
            f"the DNS budget of {self._config.budget:g}s for this message ran out before the "
            f"key at {key} came"
        )

    def _resolver_ready(self) -> dns.resolver.Resolver:
        if self._resolver is None:
            self._resolver = make_resolver(self._config)
        return self._resolver

    def _fetch(self, key: str) -> tuple[Answer, str | None]:
        """(answer, where it came from or why there is none); runs in a thread of :meth:`fetch`:
        only reads the object."""
        pinned = self._pins.get(key)
        if pinned is not None:
            return pinned.encode("ascii", "replace"), "pinned key"
        try:
            qname = dns.name.from_text(key)
        except dns.exception.DNSException as e:  # a label too long, an empty label
            return None, f"not a DNS name ({type(e).__name__})"
        chain = [qname]
        while len(chain) <= MAX_CNAME_HOPS + 1:
            lifetime = min(self._config.timeout, self._remaining())
            if lifetime <= 0:
                return self._out_of_budget(key), None
            try:
                answer = self._resolver_ready().resolve(
                    chain[-1], dns.rdatatype.TXT, search=False, raise_on_no_answer=False,
                    lifetime=lifetime,
                )  # fmt: skip
            except dns.resolver.NXDOMAIN:
                return None, "NXDOMAIN"
            except dns.exception.Timeout:
                if lifetime < self._config.timeout:
                    return self._out_of_budget(key), None
                return DnsTemporaryError(
                    f"DNS timeout for {key} after {self._config.timeout:g}s"
                ), None
            except dns.resolver.NoNameservers as e:
                loop = _cname_loop(e)
                if loop is not None:
                    return None, _loop_text(chain[:-1] + loop)
                return DnsTemporaryError(f"no DNS server answered for {key} (SERVFAIL?): {e}"), None
            except dns.resolver.NoResolverConfiguration:
                return DnsTemporaryError(
                    "no DNS resolver configured ([dns] nameservers is empty)"
                ), None
            except dns.exception.DNSException as e:
                return DnsTemporaryError(
                    f"DNS lookup of {key} failed: {type(e).__name__}: {e}"
                ), None
            if answer.rrset is not None:
                records = [b"".join(rdata.strings) for rdata in answer.rrset]
                # RFC 6376 §3.6.2.2 leaves several records undefined; take the first key
                for record in records:
                    if _KEY_RECORD.search(record):
                        return record, "DNS"
                return (records[0] if records else None), "DNS"
            target = answer.canonical_name
            if target == chain[-1]:
                return None, "no TXT record"
            # a server that gives only the CNAME (the target is in another zone): ask for it
            chain = [*chain, *_chain_names(answer.response, chain[-1])[1:]]
            if len(set(chain)) < len(chain) or target in chain[:-1]:
                return None, _loop_text(chain)
        return None, f"a CNAME chain of more than {MAX_CNAME_HOPS} names: {_path_text(chain)}"


def _chain_names(response: dns.message.Message, qname: dns.name.Name) -> list[dns.name.Name]:
    """The names a response's CNAME records lead through from ``qname``, stopping at the first
    repeated name (included, so that a loop shows where it closes)."""
    names = [qname]
    while len(names) <= dns.message.MAX_CHAIN + 1:
        try:
            rrset = response.find_rrset(
                response.answer, names[-1], dns.rdataclass.IN, dns.rdatatype.CNAME
            )
        except KeyError:
            break
        target = next(iter(rrset)).target
        names.append(target)
        if target in names[:-1]:
            break
    return names


def _cname_loop(error: dns.resolver.NoNameservers) -> list[dns.name.Name] | None:
    """The CNAME loop (first name to the repeated one) when a server's answer was refused for
    chaining too long (a recursive resolver gives the whole loop at once), else None."""
    for attempt in error.kwargs.get("errors") or ():
        exception, response = attempt[3], attempt[4]
        if isinstance(exception, dns.message.ChainTooLong) and response is not None:
            return _chain_names(response, response.question[0].name)
    return None


def _path_text(names: Sequence[dns.name.Name]) -> str:
    return " → ".join(name.to_text(omit_final_dot=True) for name in names)


def _loop_text(names: Sequence[dns.name.Name]) -> str:
    if names and names[-1] in names[:-1]:
        return f"a CNAME loop: {_path_text(names)}"
    return f"a CNAME chain that does not end: {_path_text(names)}"
