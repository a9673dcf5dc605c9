"""DKIM keys and signers for the tests (docs/testing.md#real-components): dkimpy, and OpenDKIM as an
independent implementation (``opendkim -t`` test mode), plus a "crafted" dkimpy signer for the
attack fixtures that no honest signer produces (x= already past, h= without From).

Keys: RSA from ``openssl genpkey`` (any size, 512 bits included, PEM that OpenDKIM reads too);
ed25519 from PyNaCl, written as PKCS#8 PEM for OpenDKIM and as the base64 seed dkimpy takes.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dkim
import nacl.encoding
import nacl.signing
from conftest import missing
from dkim.canonicalization import CanonicalizationPolicy
from dkim.crypto import parse_pem_private_key

# RFC 8410 §7: PKCS#8 wrapping of a 32-byte ed25519 seed, the form OpenDKIM's KeyFile takes
_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
CANONICALIZATION = (b"relaxed", b"relaxed")


@dataclass(frozen=True)
class SigningKey:
    key_type: str  # "rsa" | "ed25519"
    bits: int
    pem: bytes  # private key, PEM (OpenDKIM's KeyFile)
    dkimpy_private: bytes  # what dkim.sign takes: the PEM for RSA, the base64 seed for ed25519
    public_b64: str  # the p= value

    @property
    def record(self) -> str:
        """The TXT record to publish at sel._domainkey.domain."""
        return f"v=DKIM1; k={self.key_type}; p={self.public_b64}"

    @property
    def algorithm(self) -> bytes:
        return b"ed25519-sha256" if self.key_type == "ed25519" else b"rsa-sha256"


def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        missing("openssl is not installed (it makes the RSA test keys)")
    assert path is not None
    return path


def rsa_key(bits: int = 2048) -> SigningKey:
    """A fresh RSA key of ``bits`` bits (openssl; 512 is allowed, for the weak-key fixture)."""
    openssl = _openssl()
    pem = subprocess.run(
        [openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    public_der = subprocess.run(
        [openssl, "pkey", "-pubout", "-outform", "DER"], input=pem, check=True, capture_output=True
    ).stdout
    return SigningKey("rsa", bits, pem, pem, base64.b64encode(public_der).decode("ascii"))


def ed25519_key() -> SigningKey:
    """A fresh ed25519 key (RFC 8463)."""
    seed = nacl.signing.SigningKey.generate()
    der = _ED25519_PKCS8_PREFIX + bytes(seed)
    pem = (
        b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END PRIVATE KEY-----\n"
    )
    public = base64.b64encode(bytes(seed.verify_key)).decode("ascii")
    return SigningKey("ed25519", 256, pem, base64.b64encode(bytes(seed)), public)


def rate_mail(
    from_header: str = "Acme Rates <rates@acme.example>",
    body: str = "Dear customer,\r\nplease find our new A-Z deck attached.\r\n",
    *,
    subject: str = "Acme A-Z rate deck",
    extra_headers: Sequence[str] = (),
) -> bytes:
    """A small plain-text mail with CRLF line ends, the way it arrives over SMTP."""
    headers = [
        f"From: {from_header}",
        "To: rates@carrier.example",
        f"Subject: {subject}",
        "Date: Mon, 06 Jan 2025 10:00:00 +0000",
        "Message-ID: <deck-1@acme.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        *extra_headers,
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


def sign_dkimpy(
    message: bytes,
    key: SigningKey,
    *,
    domain: str,
    selector: str,
    algorithm: bytes | None = None,
    length: bool = False,
) -> bytes:
    """``message`` with a dkimpy DKIM-Signature (relaxed/relaxed) prepended."""
    header = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        key.dkimpy_private,
        canonicalize=CANONICALIZATION,
        signature_algorithm=algorithm or key.algorithm,
        length=length,
    )
    return header + message


def sign_crafted(
    message: bytes,
    key: SigningKey,
    *,
    domain: str,
    selector: str,
    signed_headers: Sequence[str] = ("from", "to", "subject", "date"),
    extra_tags: Sequence[tuple[str, str]] = (),
    signed_at: int | None = None,
) -> bytes:
    """A cryptographically valid signature with tags dkimpy's ``sign`` refuses to write
    (h= without From, an x= of our choosing): dkimpy's own header hashing and signing step
    (``DKIM.gen_header``) with a tag list built here."""
    algorithm = key.algorithm
    signer = dkim.DKIM(message, signature_algorithm=algorithm)
    canon = CanonicalizationPolicy.from_c_value(b"/".join(CANONICALIZATION))
    signer.hasher = dkim.HASH_ALGORITHMS[algorithm]
    body_hash = base64.b64encode(signer.hasher(canon.canonicalize_body(signer.body)).digest())
    if key.key_type == "rsa":
        private = parse_pem_private_key(key.pem)
    else:
        private = nacl.signing.SigningKey(key.dkimpy_private, encoder=nacl.encoding.Base64Encoder)
    include = [h.lower().encode() for h in signed_headers]
    fields = [
        (b"v", b"1"),
        (b"a", algorithm),
        (b"c", b"/".join(CANONICALIZATION)),
        (b"d", domain.encode()),
        (b"s", selector.encode()),
        (b"t", str(signed_at if signed_at is not None else int(time.time())).encode()),
        *[(name.encode(), value.encode()) for name, value in extra_tags],
        (b"h", b":".join(include)),
        (b"bh", body_hash),
        (b"b", b"0" * 60),  # replaced by the signature; 60 wide so folding stays put
    ]
    header = signer.gen_header(fields, include, canon, b"DKIM-Signature", private)
    return b"DKIM-Signature: " + header + message


def opendkim_path() -> str:
    path = shutil.which("opendkim") or (
        "/usr/sbin/opendkim" if os.access("/usr/sbin/opendkim", os.X_OK) else None
    )
    if path is None:
        missing("opendkim is not installed (Debian package opendkim)")
    assert path is not None
    return path


def opendkim_supports(algorithm: str) -> bool:
    """Whether this opendkim build lists ``algorithm`` among its signing algorithms (-V)."""
    version = subprocess.run([opendkim_path(), "-V"], capture_output=True, text=True).stdout
    return algorithm in version


def sign_opendkim(
    message: bytes,
    key: SigningKey,
    *,
    domain: str,
    selector: str,
    signed_at: int | None = None,
    ttl: int | None = None,
) -> bytes:
    """``message`` with a DKIM-Signature written by OpenDKIM in test mode (``opendkim -t``).

    ``signed_at`` fixes t= (``-F``, test mode only) and ``ttl`` adds x= = t= + ttl, so an
    independent signer can also produce an expired signature."""
    opendkim = opendkim_path()
    algorithm = key.algorithm.decode()
    if not opendkim_supports(algorithm):
        missing(f"this opendkim cannot sign {algorithm} (see opendkim -V)")
    with tempfile.TemporaryDirectory(prefix="opendkim-") as folder:
        work = Path(folder)
        key_file = work / "key.pem"
        key_file.write_bytes(key.pem)
        key_file.chmod(0o600)
        msg_file = work / "message.eml"
        msg_file.write_bytes(message)
        settings = [
            "Mode s",
            f"Domain {domain}",
            f"Selector {selector}",
            f"KeyFile {key_file}",
            "Canonicalization relaxed/relaxed",
            f"SignatureAlgorithm {algorithm}",
            "Syslog no",
            "RequireSafeKeys no",  # the temporary folder lives under a world-writable /tmp
        ]
        if ttl is not None:
            settings.append(f"SignatureTTL {ttl}")
        conf = work / "opendkim.conf"
        conf.write_text("\n".join(settings) + "\n", encoding="ascii")
        command = [opendkim, "-x", str(conf), "-t", str(msg_file)]
        if signed_at is not None:
            command += ["-F", str(signed_at)]
        run = subprocess.run(command, capture_output=True, timeout=30)
    # stdout is "opendkim: <file>:" then the header; opendkim exits 0 even when it adds no
    # signature, so the header itself is the proof
    start = run.stdout.find(b"DKIM-Signature:")
    if start < 0:
        raise RuntimeError(
            f"opendkim did not sign: rc={run.returncode} {run.stderr.decode(errors='replace')}"
        )
    header = re.sub(rb"\r?\n", b"\r\n", run.stdout[start:].rstrip(b"\r\n") + b"\n")
    return header + message
