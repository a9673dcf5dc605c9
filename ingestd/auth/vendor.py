"""The small rules that decide "is this vendor V?" (docs/mail.md#mail-in, Authentication).

Two questions, answered without any I/O:
- which configured vendor does a From address belong to (:func:`sender_vendor`);
- does one cryptographically checked DKIM signature prove that vendor sent the message
  (:data:`SIGNATURE_RULES`, each rule a reason code, a description and a ``check``; adding a
  policy means adding a rule, not editing :mod:`ingestd.auth.dkim`).

Organizational domains come from the public suffix list bundled in the ``publicsuffixlist``
package; it is never downloaded at run time, so an update of the list is a package update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from publicsuffixlist import PublicSuffixList

from ingestd.config import Config, Vendor

MIN_RSA_BITS = 1024  # RFC 8301 §3.2: verifiers MUST NOT consider signatures with smaller keys valid
STRONG_ALGORITHMS = ("rsa-sha256", "ed25519-sha256")  # RFC 8301 §3.1 (no rsa-sha1), RFC 8463


@cache
def _suffix_list() -> PublicSuffixList:
    # the list bundled with the package (source=None); ICANN and private sections alike, as DMARC
    # does, so that two customers of github.io are not one organization
    return PublicSuffixList()


def normalize_domain(domain: str) -> str:
    """Lower case, no trailing dot, A-labels (xn--): the one spelling domains are compared in.

    A From header may carry a U-label (SMTPUTF8) while d= is always ASCII (RFC 6376 §3.5)."""
    text = domain.strip().rstrip(".").lower()
    if text.isascii():
        return text
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        return text  # not a valid IDN: keep it; it will match nothing configured


def is_public_suffix(domain: str) -> bool:
    """True for a public suffix (``co.uk``, ``com``, ``github.io``): nobody's own domain."""
    return _suffix_list().privatesuffix(normalize_domain(domain)) is None


def organizational_domain(domain: str) -> str:
    """The registered domain a name belongs to (RFC 7489 §3.2): ``mail.acme.example`` →
    ``acme.example``, ``a.b.foo.co.uk`` → ``foo.co.uk``. A public suffix is returned as itself
    (normalized); :func:`is_public_suffix` tells the two apart."""
    name = normalize_domain(domain)
    return _suffix_list().privatesuffix(name) or name


def aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1.1): both names share an organizational domain, and the
    signing domain is not a public suffix (a d=co.uk signature proves nothing about anyone)."""
    if not signing_domain or is_public_suffix(signing_domain):
        return False
    return organizational_domain(signing_domain) == organizational_domain(from_domain)


def sender_vendor(config: Config, address: str) -> Vendor | None:
    """The configured vendor whose ``senders`` contain this address, or None.

    Comparison is case-insensitive. An ``@domain`` entry covers that exact domain only, not its
    subdomains (list ``@sub.acme.example`` too if it sends). When two vendors claim the address,
    the one naming the exact address wins over a domain entry, then the first configured."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    wanted = f"{local.lower()}@{normalize_domain(domain)}"
    wanted_domain = "@" + normalize_domain(domain)
    by_domain: Vendor | None = None
    for vendor in config.vendors:
        senders = vendor.senders
        if wanted in senders:
            return vendor
        if by_domain is None and wanted_domain in senders:
            by_domain = vendor
    return by_domain


# --- the policy one verified signature must satisfy -------------------------------------------


@dataclass(frozen=True)
class SignatureFacts:
    """What the policy looks at in one DKIM-Signature (tags, RFC 6376 §3.5) and its key."""

    domain: str  # d=, normalized
    selector: str  # s=
    algorithm: str  # a=, lower case
    signed_headers: tuple[str, ...]  # h=, lower-case names
    length: str | None  # l= as written; its mere presence is refused
    expires: int | None  # x=, seconds since the epoch
    key_type: str | None = None  # "rsa" | "ed25519"; None until the key was fetched
    key_bits: int | None = None
    key_flags: tuple[str, ...] = ()  # t= of the key record (RFC 6376 §3.6.1), lower case


@dataclass(frozen=True)
class PolicyContext:
    """Who the From header claims, and when we judge."""

    vendor: Vendor
    from_domain: str
    now: float  # seconds since the epoch
    header_counts: Mapping[str, int] = field(default_factory=dict)  # lower-case name -> count


class SignatureRule(Protocol):
    reason: str  # the stable reason code of a violation
    description: str

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        """None when the signature satisfies the rule, else one line saying why not."""
        ...


class AlignedDomain:
    reason = "dkim_misaligned"
    description = "d= is one of the vendor's dkim_domains, or shares the From organizational domain"

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        allowed = context.vendor.dkim_domains
        if allowed:
            if facts.domain in allowed:
                return None
            return (
                f"d={facts.domain} is not a signing domain of vendor {context.vendor.id} "
                f"(allowed: {', '.join(allowed)})"
            )
        if aligned(facts.domain, context.from_domain):
            return None
        if is_public_suffix(facts.domain):
            return f"d={facts.domain} is a public suffix, never aligned with a sender"
        return (
            f"d={facts.domain} is not aligned with the From domain {context.from_domain} "
            f"(organizational domain {organizational_domain(context.from_domain)})"
        )


class FromSigned:
    reason = "dkim_from_unsigned"
    description = "h= covers the From header (else anyone can put any From on the signed mail)"

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        if "from" in facts.signed_headers:
            return None
        return f"h={':'.join(facts.signed_headers)} does not cover From"


class HeadersSigned:
    reason = "dkim_header_unsigned"
    description = (
        "every Subject is signed, and no Message-ID h= covers has an unsigned copy (a verifier "
        "checks the bottom-most instances; a reader sees the topmost)"
    )

    # name -> whether the header must be signed whenever present (Subject picks the table and
    # the deck mode); Message-ID only may not gain an unsigned copy above a signed one
    GUARDED = (("subject", True), ("message-id", False))

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        for name, required in self.GUARDED:
            present = context.header_counts.get(name, 0)
            signed = facts.signed_headers.count(name)
            if present > signed and (required or signed):
                return (
                    f"the message has {present} {name} header(s) but h= signs {signed}: "
                    f"an unsigned {name} could have been added"
                )
        return None


class StrongAlgorithm:
    reason = "dkim_weak_algorithm"
    description = "a= is rsa-sha256 or ed25519-sha256 (RFC 8301: rsa-sha1 is not accepted)"

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        if facts.algorithm in STRONG_ALGORITHMS:
            return None
        return f"a={facts.algorithm} is not accepted (allowed: {', '.join(STRONG_ALGORITHMS)})"


class StrongKey:
    reason = "dkim_weak_key"
    description = f"an RSA key has at least {MIN_RSA_BITS} bits (RFC 8301 §3.2)"

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        # unknown key (not fetched): the rule cannot fail yet; the key is checked when it is
        if facts.key_type != "rsa" or facts.key_bits is None or facts.key_bits >= MIN_RSA_BITS:
            return None
        return f"the RSA key has {facts.key_bits} bits (at least {MIN_RSA_BITS} required)"


class NotTestingKey:
    reason = "dkim_test_key"
    description = "the key is not in testing mode (t=y: RFC 6376 §3.6.1, treat as unsigned)"

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        if "y" not in facts.key_flags:
            return None
        return "the key record has t=y: the domain is testing DKIM, its signatures prove nothing"


class NoLengthTag:
    reason = "dkim_length_tag"
    description = "no l= tag (it lets anyone append content after the signed part of the body)"

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        if facts.length is None:
            return None
        return f"l={facts.length} signs only part of the body"


class NotExpired:
    reason = "dkim_expired"
    description = "x= (signature expiration) is not in the past"

    def check(self, facts: SignatureFacts, context: PolicyContext) -> str | None:
        if facts.expires is None or context.now <= facts.expires:
            return None
        return f"x={facts.expires} expired {int(context.now - facts.expires)}s before the check"


# In this order: first "is this the vendor's signature at all", then "is it good enough"; the
# first violation is the signature's reason.
SIGNATURE_RULES: tuple[SignatureRule, ...] = (
    AlignedDomain(),
    FromSigned(),
    HeadersSigned(),
    StrongAlgorithm(),
    StrongKey(),
    NotTestingKey(),
    NoLengthTag(),
    NotExpired(),
)


def first_violation(facts: SignatureFacts, context: PolicyContext) -> tuple[str, str] | None:
    """(reason, detail) of the first rule the signature breaks, or None when it satisfies all."""
    for rule in SIGNATURE_RULES:
        detail = rule.check(facts, context)
        if detail is not None:
            return rule.reason, detail
    return None
