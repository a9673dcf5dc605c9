"""DKIM verification of inbound mail: who sent it, proved (docs/mail.md#mail-in, Authentication).

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

The policy rules that need no key (d=, h=, a=, l=, x=) are applied to every signature before
any key is fetched: a signature that could never count costs no DNS query. Of the others at
most ``[dns] max_signatures`` are examined (pinned keys first, then the bottom-most: relays add
their signatures on top of the signer's); the rest are reported as ``not_examined``. Their keys
are fetched in parallel within one time budget for the whole message (``[dns] budget``); the
first signature that passes settles the message without waiting for the other lookups, and a
lookup still unanswered when the budget runs out is ``dns_temporary``
(docs/mail.md#vendor-authentication).

When no signature passes, the reason shown is the most useful one: a DNS failure first (a retry
may pass), then a policy reason of a signature that verified (a key too small, a key in testing
mode), then a policy reason known without the key (the vendor's own signature that is not good
enough before a third party's misaligned one), then ``dkim_fail``.

Keys come from a :class:`~ingestd.auth.keys.KeyLookup`: pinned in the vendor's ``dkim_keys``,
else DNS within the message's budget (``keys.py``). The lookup is synchronous: call
:func:`authenticate` from a worker thread, never on the event loop. The verdict and the
signatures' records are in ``results.py``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from email.errors import HeaderParseError, ObsoleteHeaderDefect
from email.headerregistry import Address
from email.policy import default as email_default_policy
from email.utils import getaddresses

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from ingestd.auth.keys import DnsTemporaryError, KeyLookup, key_name
from ingestd.auth.results import (
    NOT_EXAMINED,
    AuthResult,
    SignatureResult,
    SignatureStatus,
    Status,
)
from ingestd.auth.vendor import (
    PolicyContext,
    SignatureFacts,
    first_violation,
    normalize_domain,
    sender_vendor,
)
from ingestd.config import Config, DnsConfig, Vendor

_MAX_DETAIL = 300  # characters of a dkimpy message kept in a detail line
# dkimpy raises plain Python errors on some malformed signatures (i= equal to d= is an
# IndexError in validate_signature_fields); a hostile header must be a fail, not a crash
_DKIMPY_ERRORS = (dkim.DKIMException, ValueError, IndexError, KeyError, TypeError)
# what the email package's header parser raises on hostile values instead of a defect
_HEADER_ERRORS = (HeaderParseError, ValueError, IndexError, TypeError, AttributeError)


# --- the message ----------------------------------------------------------------------------------


def authenticate(raw: bytes, config: Config, *, now: float | None = None) -> AuthResult:
    """Which configured vendor sent ``raw``, proved by a DKIM signature (docs/mail.md#mail-in)?

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
    results = _check_signatures(verifier, signature_headers, context, config.dns)
    return _verdict(results, vendor, address, config.dns)


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


def _check_signatures(
    verifier: dkim.DKIM, values: Sequence[bytes], context: PolicyContext, config: DnsConfig
) -> tuple[SignatureResult, ...]:
    """Every signature, topmost first: the rules that need no key decide which could count; at
    most ``max_signatures`` of those are verified, their keys fetched in parallel within the
    message's DNS budget, and the first that passes settles the message."""
    results: dict[int, SignatureResult] = {}
    candidates: list[tuple[int, SignatureFacts, str]] = []
    for index, value in enumerate(values):
        facts = _facts(value)
        if facts is None:
            results[index] = SignatureResult(
                index, "", "", "", "fail", "dkim_fail", "the DKIM-Signature is not a tag=value list"
            )
            continue
        violation = first_violation(facts, context)
        if violation is not None:  # could never count: no key is fetched for it
            results[index] = _signature_result(index, facts, "fail", *violation, verified=None)
            continue
        candidates.append((index, facts, key_name(facts.selector, facts.domain)))
    lookup = KeyLookup(config, context.vendor.dkim_keys)
    # pinned keys cost no query; the signer's own signature is the bottom-most (relays and
    # lists add theirs on top), so an added heap of signatures cannot push it out
    candidates.sort(key=lambda c: (not lookup.pinned(c[2]), -c[0]))
    for index, facts, _ in candidates[config.max_signatures :]:
        detail = (
            f"not examined: more than [dns] max_signatures = {config.max_signatures} "
            "signatures could count"
        )
        results[index] = _signature_result(index, facts, "skipped", NOT_EXAMINED, detail, None)
    pending: dict[str, list[tuple[int, SignatureFacts]]] = {}
    for index, facts, name in candidates[: config.max_signatures]:
        pending.setdefault(name, []).append((index, facts))
    passed: SignatureResult | None = None
    with closing(lookup.fetch(list(pending))) as answered:
        for name in answered:
            for index, facts in pending.pop(name):
                results[index] = _check_signature(verifier, index, facts, lookup, context)
                passed = passed or (results[index] if results[index].result == "pass" else None)
            if passed is not None:
                break
    for signatures in pending.values():
        for index, facts in signatures:
            if passed is None:  # the budget ran out before its key came: dns_temporary
                results[index] = _check_signature(verifier, index, facts, lookup, context)
            else:
                detail = f"not examined: signature {passed.index + 1} passed first"
                results[index] = _signature_result(
                    index, facts, "skipped", NOT_EXAMINED, detail, None
                )
    return tuple(results[index] for index in sorted(results))


def _signature_result(
    index: int,
    facts: SignatureFacts,
    status: SignatureStatus,
    reason: str,
    detail: str,
    verified: bool | None,
) -> SignatureResult:
    return SignatureResult(
        index, facts.domain, facts.selector, facts.algorithm, status, reason, detail, verified
    )


def _check_signature(
    verifier: dkim.DKIM,
    index: int,
    facts: SignatureFacts,
    lookup: KeyLookup,
    context: PolicyContext,
) -> SignatureResult:
    """Verify one signature the key-free rules accept with dkimpy, then hold its key to the
    vendor policy."""

    def result(
        status: SignatureStatus, reason: str, detail: str, verified: bool | None
    ) -> SignatureResult:
        return _signature_result(index, facts, status, reason, detail, verified)

    name = key_name(facts.selector, facts.domain)
    try:
        valid = verifier.verify(idx=index, dnsfunc=lookup)
    except DnsTemporaryError as e:
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
    if result.result == "skipped":
        return 7
    if result.verified and result.reason != "dkim_misaligned":
        return 2
    if result.verified:
        return 3
    if result.reason == "dkim_misaligned":
        return 5
    if result.reason != "dkim_fail":
        return 4
    return 6


def _verdict(
    results: tuple[SignatureResult, ...], vendor: Vendor, address: str, config: DnsConfig
) -> AuthResult:
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
    ignored = sum(1 for r in results if r.reason == NOT_EXAMINED)
    more = (
        f"; {ignored} more not examined ([dns] max_signatures = {config.max_signatures})"
        if ignored
        else ""
    )
    return AuthResult(
        status,
        best.reason,
        f"From {address} (vendor {vendor.id}): {which} ({where}): {best.detail}{more}",
        vendor=vendor,
        from_addr=address,
        signatures=results,
    )


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"
