"""Sender authentication: DKIM and the rules that decide which vendor sent a message.

``authenticate(raw, config)`` (in :mod:`ingestd.auth.dkim`) is the entry point; the vendor rules
(sender match, organizational domains, the policy a signature must meet) are in
:mod:`ingestd.auth.vendor`; the keys, pinned or from DNS within one budget, in
:mod:`ingestd.auth.keys`; the verdict's records and reason codes in :mod:`ingestd.auth.results`.
"""

from ingestd.auth.dkim import authenticate
from ingestd.auth.results import HOLD_REASONS, REASONS, AuthResult, SignatureResult
from ingestd.auth.vendor import organizational_domain, sender_vendor

__all__ = [
    "HOLD_REASONS",
    "REASONS",
    "AuthResult",
    "SignatureResult",
    "authenticate",
    "organizational_domain",
    "sender_vendor",
]
