"""What DKIM authentication answers (docs/mail.md#vendor-authentication): the stable reason
codes, which of them hold a message for a person, and the records of a message's verdict and of
each of its signatures, as provenance, logs and reports show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ingestd.config import Vendor

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
# The reason of a signature that was not looked at although the message got that far: beyond
# [dns] max_signatures, or not needed once another one passed (never a message's reason).
NOT_EXAMINED = "not_examined"


@dataclass(frozen=True)
class SignatureResult:
    """One DKIM-Signature header and what became of it, for provenance and logs."""

    index: int  # 0-based position among the DKIM-Signature headers, topmost first
    domain: str  # d= as written ("" when missing)
    selector: str  # s=
    algorithm: str  # a=
    result: SignatureStatus  # skipped: not looked at (the message failed before signatures,
    # or the signature was not examined: reason NOT_EXAMINED)
    reason: str  # a code of REASONS, or NOT_EXAMINED
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
