"""DKIM verification of inbound mail: who sent it, proved (SPEC §5, Authentication).

:func:`authenticate` takes the raw bytes exactly as received (never decoded and re-encoded: that
breaks body hashes) and answers pass, fail or temperror with a stable reason code:

- ``no_from`` / ``multiple_from``: exactly one From header with exactly one address is required
  (RFC 5322 §3.6; two From headers are the classic way to show one and sign another);
- ``unknown_sender``: the From address is in no vendor's ``senders``;
- ``unsigned``: no DKIM-Signature header (``Authentication-Results`` already on the message are
  ignored: anyone can write them);
- per signature, every one of them (not only the first, as ``dkim.verify`` does):
  ``dkim_fail`` (does not verify: body or headers changed, no key, wrong key),
  ``dns_temporary`` (the key could not be fetched: timeout, SERVFAIL; retry later),
  and the policy of :mod:`ingestd.auth.vendor` for signatures that verify: ``dkim_misaligned``,
  ``dkim_from_unsigned``, ``dkim_weak_algorithm``, ``dkim_weak_key``, ``dkim_length_tag``,
  ``dkim_expired``;
- ``ok``: at least one signature verifies and satisfies every rule.

When no signature passes, the reason shown is the most useful one: a DNS failure first (a retry
may pass), then a policy reason of a signature that verified (the vendor's own signature that is
not good enough before a third party's misaligned one), then a policy reason known without the
key, then ``dkim_fail``.

Keys come from DNS (dnspython, ``[dns]`` of the configuration) unless the vendor pins the key
name in ``dkim_keys``, which then replaces DNS for that name. The lookup is synchronous: call
:func:`authenticate` from a worker thread, never on the event loop.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.errors import HeaderParseError, ObsoleteHeaderDefect
from email.headerregistry import Address
from email.policy import default as email_default_policy
from email.utils import getaddresses
from typing import Literal

import dkim
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from dkim.util import InvalidTagValueList, parse_tag_value

from ingestd.auth.vendor import (
    PolicyContext,
    SignatureFacts,
    first_violation,
    normalize_domain,
    sender_vendor,
)
from ingestd.config import Config, DnsConfig, Vendor

Status = Literal["pass", "fail", "temperror"]
SignatureStatus = Literal["pass", "fail", "temperror", "skipped"]

REASONS = (
    "ok",
    "unknown_sender",
    "no_from",
    "multiple_from",
    "unsigned",
    "dkim_fail",
    "dkim_misaligned",
    "dkim_length_tag",
    "dkim_weak_algorithm",
    "dkim_from_unsigned",
    "dkim_expired",
    "dkim_weak_key",
    "dkim_header_unsigned",
    "dkim_test_key",
    "dns_temporary",
)
# The reasons that hold a message for a person: every failure but the temporary one. A release
# of such a message needs --accept-unauthenticated.
HOLD_REASONS = frozenset(REASONS) - {"ok", "dns_temporary"}

EDNS_PAYLOAD = 1232  # DNS flag day 2020: fits a 2048-bit key in UDP; larger answers go over TCP
_MAX_DETAIL = 300  # characters of a dkimpy message kept in a detail line
# dkimpy raises plain Python errors on some malformed signatures (i= equal to d= is an
# IndexError in validate_signature_fields); a hostile header must be a fail, not a crash
_DKIMPY_ERRORS = (dkim.DKIMException, ValueError, IndexError, KeyError, TypeError)
_KEY_RECORD = re.compile(rb"(^|;)\s*p\s*=")
# what the email package's header parser raises on hostile values instead of a defect
_HEADER_ERRORS = (HeaderParseError, ValueError, IndexError, TypeError, AttributeError)


@dataclass(frozen=True)
class SignatureResult:
    """One DKIM-Signature header and what became of it, for provenance and logs."""

    index: int  # 0-based position among the DKIM-Signature headers, topmost first
    domain: str  # d= as written ("" when missing)
    selector: str  # s=
    algorithm: str  # a=
    result: SignatureStatus  # skipped: not looked at (the message failed before signatures)
    reason: str  # a code of REASONS
    detail: str  # one line for people
    verified: bool | None = None  # the cryptographic check: None = not done or not possible

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "d": self.domain,
            "s": self.selector,
            "a": self.algorithm,
            "result": self.result,
            "reason": self.reason,
            "detail": self.detail,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class AuthResult:
    """The answer to "which vendor sent this, proved by DKIM?"."""

    status: Status
    reason: str  # a code of REASONS; "ok" exactly when status is "pass"
    detail: str  # one line for people: which signature failed and why
    vendor: Vendor | None = None  # the vendor of the From address, also when the proof failed
    from_addr: str | None = None  # lower-case addr@domain of the single From address
    signing_domain: str | None = None  # d= of the passing signature
    selector: str | None = None  # s= of the passing signature
    signatures: tuple[SignatureResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "vendor": self.vendor.id if self.vendor else None,
            "from": self.from_addr,
            "signing_domain": self.signing_domain,
            "selector": self.selector,
            "signatures": [s.as_dict() for s in self.signatures],
        }


# --- key lookup ---------------------------------------------------------------------------------


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


class KeyLookup:
    """The ``dnsfunc`` handed to dkimpy: pinned keys first, then DNS; remembers for each name
    where its answer came from, so a failure can say "no key at …" rather than "did not verify".

    Returns the key record (bytes) or None when there is none (NXDOMAIN, no TXT record: a
    permanent failure of that signature, RFC 6376 §6.1.2); raises :class:`DnsTemporaryError`
    when DNS could not answer. Answers are kept for the life of the object (one message)."""

    def __init__(self, config: DnsConfig, pins: Mapping[str, str]):
        self._config = config
        self._pins = pins
        self._resolver: dns.resolver.Resolver | None = None
        self._answers: dict[str, bytes | DnsTemporaryError | None] = {}
        self.sources: dict[str, str] = {}  # name -> "pinned key" | "DNS" | why there is none

    def __call__(self, name: bytes, timeout: float = 5.0) -> bytes | None:
        # dkimpy passes its own timeout; ours comes from the configuration
        key = name.decode("ascii", "replace").lower().rstrip(".")
        if not name.isascii():
            self.sources[key] = "not an ASCII DNS name"
            return None
        if key not in self._answers:
            self._answers[key] = self._fetch(key)
        answer = self._answers[key]
        if isinstance(answer, DnsTemporaryError):
            raise answer
        return answer

    def _fetch(self, key: str) -> bytes | DnsTemporaryError | None:
        pinned = self._pins.get(key)
        if pinned is not None:
            self.sources[key] = "pinned key"
            return pinned.encode("ascii", "replace")
        try:
            qname = dns.name.from_text(key)
        except dns.exception.DNSException as e:  # a label too long, an empty label
            self.sources[key] = f"not a DNS name ({type(e).__name__})"
            return None
        try:
            if self._resolver is None:
                self._resolver = make_resolver(self._config)
            answer = self._resolver.resolve(qname, dns.rdatatype.TXT, search=False)
        except dns.resolver.NXDOMAIN:
            self.sources[key] = "NXDOMAIN"
            return None
        except dns.resolver.NoAnswer:
            self.sources[key] = "no TXT record"
            return None
        except dns.exception.Timeout:
            return DnsTemporaryError(f"DNS timeout for {key} after {self._config.timeout:g}s")
        except dns.resolver.NoNameservers as e:
            return DnsTemporaryError(f"no DNS server answered for {key} (SERVFAIL?): {e}")
        except dns.resolver.NoResolverConfiguration:
            return DnsTemporaryError("no DNS resolver configured ([dns] nameservers is empty)")
        except dns.exception.DNSException as e:
            return DnsTemporaryError(f"DNS lookup of {key} failed: {type(e).__name__}: {e}")
        records = [b"".join(rdata.strings) for rdata in answer]
        self.sources[key] = "DNS"
        # RFC 6376 §3.6.2.2 leaves several records undefined; take the first that is a key
        for record in records:
            if _KEY_RECORD.search(record):
                return record
        return records[0] if records else None


# --- the message ----------------------------------------------------------------------------------


def authenticate(raw: bytes, config: Config, *, now: float | None = None) -> AuthResult:
    """Which configured vendor sent ``raw``, proved by a DKIM signature (SPEC §5)?

    ``now`` (seconds since the epoch, default the clock) is when x= expiry is judged; dkimpy
    itself also refuses an x= more than 10 hours behind the real clock."""
    checked_at = time.time() if now is None else now
    try:
        verifier = dkim.DKIM(raw, minkey=0, timeout=config.dns.timeout)  # key size: our rule
    except dkim.MessageFormatError as e:
        return AuthResult(
            "fail", "dkim_fail", f"the header section cannot be parsed: {_one_line(str(e))}"
        )
    headers: list[tuple[bytes, bytes]] = [(bytes(n), bytes(v)) for n, v in verifier.headers]
    signature_headers = [v for n, v in headers if n.lower() == b"dkim-signature"]

    def early(
        status: Status,
        reason: str,
        detail: str,
        vendor: Vendor | None = None,
        from_addr: str | None = None,
    ) -> AuthResult:
        skipped = tuple(
            _skipped(i, value, reason, detail) for i, value in enumerate(signature_headers)
        )
        return AuthResult(status, reason, detail, vendor, from_addr, signatures=skipped)

    from_values = [v for n, v in headers if n.lower() == b"from"]
    if not from_values:
        return early("fail", "no_from", "the message has no From header")
    if len(from_values) > 1:
        return early("fail", "multiple_from", f"the message has {len(from_values)} From headers")
    address, reason, problem = _single_address(from_values[0])
    if address is None:
        return early("fail", reason, problem)
    vendor = sender_vendor(config, address)
    if vendor is None:
        return early(
            "fail", "unknown_sender", f"From {address} is no vendor's sender", None, address
        )
    if not signature_headers:
        detail = f"From {address} (vendor {vendor.id}) but no DKIM-Signature"
        return early("fail", "unsigned", detail, vendor, address)

    counts = Counter(n.decode("ascii", "replace").lower() for n, _ in headers)
    context = PolicyContext(
        vendor, normalize_domain(address.rpartition("@")[2]), checked_at, header_counts=counts
    )
    lookup = KeyLookup(config.dns, vendor.dkim_keys)
    results = tuple(
        _check_signature(verifier, i, value, lookup, context)
        for i, value in enumerate(signature_headers)
    )
    return _verdict(results, vendor, address)


def _single_address(value: bytes) -> tuple[str | None, str, str]:
    """(lower-case addr@domain, "ok", "") when a From header holds exactly one address, else
    (None, reason, why). Two parsers must agree: a header that one parser reads as acme and
    another as evil is how From spoofing slips past checks, so anything ambiguous is refused."""
    text = re.sub(r"\r?\n(?=[ \t])", "", value.decode("utf-8", "surrogateescape")).strip()
    try:
        header = email_default_policy.header_factory("From", text)  # an AddressHeader
    except _HEADER_ERRORS as e:
        # the parser raises instead of recording a defect, e.g. on an encoded word whose
        # display name decodes to CR/LF: a header nobody honest writes
        return None, "no_from", f"From cannot be parsed ({_one_line(str(e))}): {_one_line(text)}"
    modern: tuple[Address, ...] = tuple(header.addresses)
    # the legacy parser splits "a@x <b@y>" or "<a@x> b@y" in two where the new one sees one
    legacy = [addr for _, addr in getaddresses([text]) if addr]
    count = max(len(modern), len(legacy))
    if count > 1:
        return None, "multiple_from", f"From has {count} addresses: {_one_line(text)}"
    defects = [d for d in header.defects if not isinstance(d, ObsoleteHeaderDefect)]
    if count == 0 or defects or not modern or not legacy:
        return None, "no_from", f"From has no usable address: {_one_line(text)}"
    only = modern[0]
    if not only.username or not only.domain:
        return None, "no_from", f"From has no usable address: {_one_line(text)}"
    if normalize_domain(legacy[0].rpartition("@")[2]) != normalize_domain(only.domain):
        return None, "no_from", f"From is ambiguous: {_one_line(text)}"
    return f"{only.username.lower()}@{normalize_domain(only.domain)}", "ok", ""


# --- one signature ------------------------------------------------------------------------------


def _facts(value: bytes) -> SignatureFacts | None:
    """The policy-relevant tags of a DKIM-Signature value, or None when it is not a tag list."""
    try:
        tags = parse_tag_value(value)
    except InvalidTagValueList:
        return None

    def tag(name: bytes) -> str:
        return re.sub(r"\s+", "", tags.get(name, b"").decode("ascii", "replace"))

    expires = tag(b"x")
    return SignatureFacts(
        domain=normalize_domain(tag(b"d")),
        selector=tag(b"s"),
        algorithm=tag(b"a").lower(),
        signed_headers=tuple(h.lower() for h in tag(b"h").split(":") if h),
        length=tag(b"l") if b"l" in tags else None,
        expires=int(expires) if expires.isdigit() else None,
    )


def _skipped(index: int, value: bytes, reason: str, detail: str) -> SignatureResult:
    facts = _facts(value)
    return SignatureResult(
        index=index,
        domain=facts.domain if facts else "",
        selector=facts.selector if facts else "",
        algorithm=facts.algorithm if facts else "",
        result="skipped",
        reason=reason,
        detail=f"not checked: {detail}",
    )


def _check_signature(
    verifier: dkim.DKIM, index: int, value: bytes, lookup: KeyLookup, context: PolicyContext
) -> SignatureResult:
    """Verify one signature with dkimpy, then hold it to the vendor policy."""
    facts = _facts(value)
    if facts is None:
        return SignatureResult(
            index, "", "", "", "fail", "dkim_fail", "the DKIM-Signature is not a tag=value list"
        )

    def result(
        status: SignatureStatus, reason: str, detail: str, verified: bool | None
    ) -> SignatureResult:
        return SignatureResult(
            index, facts.domain, facts.selector, facts.algorithm, status, reason, detail, verified
        )

    name = key_name(facts.selector, facts.domain)
    try:
        valid = verifier.verify(idx=index, dnsfunc=lookup)
    except DnsTemporaryError as e:
        # a signature the policy refuses anyway needs no retry
        violation = first_violation(facts, context)
        if violation is not None:
            return result("fail", *violation, verified=None)
        return result("temperror", "dns_temporary", str(e), verified=None)
    except _DKIMPY_ERRORS as e:
        message = _one_line(str(e))
        if isinstance(e, dkim.ValidationError) and message.startswith("x= value is past"):
            # dkimpy judges x= by the real clock, before it looks at the key
            detail = f"x={facts.expires} is more than 10 hours in the past"
            return result("fail", "dkim_expired", detail, None)
        if message.startswith("body hash mismatch"):
            return result(
                "fail", "dkim_fail", "body hash mismatch: the body changed after signing", False
            )
        return result("fail", "dkim_fail", f"{type(e).__name__}: {message}", False)

    if not valid:
        return result("fail", "dkim_fail", _why_invalid(name, lookup), False)
    key_type = verifier.ktag.decode("ascii") if verifier.ktag else None
    # RFC 8463 §3 / RFC 6376 §3.3: the key type must be the one the signature names
    if key_type is not None and not facts.algorithm.startswith(key_type + "-"):
        return result(
            "fail",
            "dkim_fail",
            f"a={facts.algorithm} but the key at {name} is k={key_type}",
            False,
        )
    key_tags = _key_tags(lookup, name)
    # RFC 6376 §3.6.1: h= of the key lists the hash algorithms it may be used with
    allowed = [h for h in key_tags.get("h", "").split(":") if h]
    if allowed and facts.algorithm.rpartition("-")[2] not in allowed:
        return result(
            "fail",
            "dkim_fail",
            f"a={facts.algorithm} but the key at {name} allows only h={':'.join(allowed)}",
            False,
        )
    flags = tuple(f for f in key_tags.get("t", "").split(":") if f)
    checked = replace(facts, key_type=key_type, key_bits=verifier.keysize, key_flags=flags)
    violation = first_violation(checked, context)
    if violation is not None:
        return result("fail", *violation, verified=True)
    source = lookup.sources.get(name, "DNS")
    return result("pass", "ok", f"verified with the {source} at {name}", verified=True)


def _key_tags(lookup: KeyLookup, name: str) -> dict[str, str]:
    """The tags of the key record a signature verified with (lower case, no white space)."""
    try:
        record = lookup(name.encode("ascii"))  # cached: no second DNS query
        tags = parse_tag_value(record or b"")
    except (DnsTemporaryError, InvalidTagValueList, UnicodeError):
        return {}
    return {
        k.decode("ascii", "replace").lower(): re.sub(
            r"\s+", "", v.decode("ascii", "replace")
        ).lower()
        for k, v in tags.items()
    }


def _why_invalid(name: str, lookup: KeyLookup) -> str:
    """Why dkimpy said False: no key, an unusable key record, or a signature that is wrong."""
    source = lookup.sources.get(name)
    if source is None or source not in ("pinned key", "DNS"):
        return f"no DKIM key at {name} ({source or 'not found'})"
    try:
        record = lookup(name.encode("ascii"))
    except DnsTemporaryError:  # cannot happen: the answer is cached and was not temporary
        record = None
    if _key_tags(lookup, name).get("p") == "":
        return f"the key at {name} is revoked (empty p=, RFC 6376 §3.6.1)"
    try:
        dkim.evaluate_pk(name.encode("ascii"), record)
    except dkim.DKIMException as e:
        return f"the {source} at {name} is unusable: {_one_line(str(e))}"
    return f"the signature does not verify with the {source} at {name}"


# --- all signatures -----------------------------------------------------------------------------


def _rank(result: SignatureResult) -> int:
    """Lower is more useful to report; see the module docstring."""
    if result.result == "pass":
        return 0
    if result.result == "temperror":
        return 1
    if result.verified and result.reason != "dkim_misaligned":
        return 2
    if result.verified:
        return 3
    if result.reason != "dkim_fail":
        return 4
    return 5


def _verdict(results: tuple[SignatureResult, ...], vendor: Vendor, address: str) -> AuthResult:
    best = min(results, key=lambda r: (_rank(r), r.index))
    where = f"d={best.domain or '?'} s={best.selector or '?'}"
    if best.result == "pass":
        return AuthResult(
            "pass",
            "ok",
            f"From {address} (vendor {vendor.id}): DKIM {where} a={best.algorithm} {best.detail}",
            vendor=vendor,
            from_addr=address,
            signing_domain=best.domain,
            selector=best.selector,
            signatures=results,
        )
    which = (
        "the DKIM signature"
        if len(results) == 1
        else f"none of {len(results)} DKIM signatures passes; signature {best.index + 1}"
    )
    status: Status = "temperror" if best.result == "temperror" else "fail"
    return AuthResult(
        status,
        best.reason,
        f"From {address} (vendor {vendor.id}): {which} ({where}): {best.detail}",
        vendor=vendor,
        from_addr=address,
        signatures=results,
    )


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"
