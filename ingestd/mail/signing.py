"""DKIM signatures on the mail ingestd sends (``[outbound] dkim_*``, RFC 6376)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from ingestd.config import ConfigError, OutboundConfig

# The headers a signature covers when the message has them (relaxed/relaxed, RFC 6376 §3.4).
DKIM_HEADERS = (
    "From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Auto-Submitted", "MIME-Version", "Content-Type",
)  # fmt: skip
# RFC 8410 §7: the PKCS#8 wrapping of a 32-byte ed25519 seed (OpenDKIM's key file form)
_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


@dataclass(frozen=True)
class DkimSigner:
    """Signs outgoing mail for ``[outbound] dkim_domain`` (RFC 6376, relaxed/relaxed) with an
    RSA key (PEM) or an ed25519 key (RFC 8463: dknewkey's base64 seed, or PKCS#8 PEM)."""

    domain: str
    selector: str
    algorithm: bytes  # b"rsa-sha256" | b"ed25519-sha256"
    private_key: bytes  # what dkim.sign takes: the PEM, or the base64 seed

    @classmethod
    def from_config(cls, config: OutboundConfig) -> DkimSigner | None:
        if not (config.dkim_domain and config.dkim_selector and config.dkim_key_file):
            return None
        algorithm, key = load_signing_key(config.dkim_key_file)
        return cls(config.dkim_domain, config.dkim_selector, algorithm, key)

    def sign(self, raw: bytes) -> bytes:
        """``raw`` with a DKIM-Signature prepended, covering the listed headers it has."""
        present = {
            name.lower() for name in BytesHeaderParser(policy=SMTP_POLICY).parsebytes(raw).keys()
        }
        include = [name.lower().encode() for name in DKIM_HEADERS if name.lower() in present]
        header = dkim.sign(
            raw,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=self.algorithm,
            include_headers=include,
        )
        return header + raw


def load_signing_key(path: Path) -> tuple[bytes, bytes]:
    """(algorithm, dkimpy private key) from a key file; a :class:`ConfigError` says what is
    wrong with it, at start rather than at the first message."""

    def bad(why: str) -> ConfigError:
        return ConfigError(f"cannot use {path} as a DKIM key: {why}", key="outbound.dkim_key_file")

    try:
        data = path.read_bytes()
    except OSError as e:
        raise bad(e.strerror or str(e)) from None
    text = data.strip()
    if b"-----BEGIN" in text:
        body = re.search(rb"-----BEGIN [A-Z ]+-----(.*?)-----END", text, re.DOTALL)
        try:
            der = base64.b64decode(b"".join(body[1].split()) if body else b"", validate=True)
        except binascii.Error:
            raise bad("the PEM body is not base64") from None
        if der.startswith(_ED25519_PKCS8_PREFIX) and len(der) == len(_ED25519_PKCS8_PREFIX) + 32:
            return b"ed25519-sha256", base64.b64encode(der[len(_ED25519_PKCS8_PREFIX) :])
        try:
            parse_pem_private_key(text + b"\n")
        except (UnparsableKeyError, ValueError, IndexError) as e:
            raise bad(f"not an RSA or ed25519 private key ({e})") from None
        return b"rsa-sha256", text + b"\n"
    try:
        seed = base64.b64decode(text, validate=True)
    except binascii.Error:
        seed = b""
    if len(seed) != 32:
        raise bad("expected a PEM private key or an ed25519 seed in base64 (dknewkey)")
    return b"ed25519-sha256", base64.b64encode(seed)
