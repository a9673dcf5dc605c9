"""Sender authentication: DKIM and the rules that decide which vendor sent a message.

``authenticate(raw, config)`` (in :mod:`ingestd.auth.dkim`) is the entry point; the vendor rules
(sender match, organizational domains, the policy a signature must meet) are in
:mod:`ingestd.auth.vendor`.
"""

from ingestd.auth.dkim import HOLD_REASONS, REASONS, AuthResult, SignatureResult, authenticate
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
