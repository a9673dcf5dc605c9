"""Forgeries against ingestd.auth (docs/mail.md#mail-in): headers added after signing, attacker
signatures beside broken vendor ones, look-alike domains, bad and revoked keys, testing-mode
keys, hash restrictions of a key and header oversigning games; each refused with its reason.

The ten fixtures of docs/testing.md#real-components (l=, rsa-sha1, wrong d=, unsigned From, second
From, expired x=, unsigned, body altered, 512-bit key, unknown sender) are in
tests/auth/test_dkim.py and, through the daemon, in tests/system/test_mail_e2e.py;
tests/system/test_attacks_mail.py runs these new ones through the pipeline and checks that nothing
is sent to the From address."""

from __future__ import annotations

import base64

import pytest
from conftest import Keys, MakeConfig, publish
from rig.dns import TxtServer
from rig.signers import rate_mail, sign_crafted, sign_dkimpy

from ingestd.auth import REASONS, authenticate
from ingestd.auth.results import AuthResult

ACME = "acme.example"
FROM = b"From: Acme Rates <rates@acme.example>\r\n"


def assert_fail(result: AuthResult, reason: str, *, verified: bool | None = None) -> None:
    assert (result.status, result.reason) == ("fail", reason), result.detail
    assert reason in REASONS
    assert result.signing_domain is None  # no vendor proved
    if verified is not None:
        assert any(s.verified is verified for s in result.signatures), result.signatures


def assert_refused_without_a_key(result: AuthResult, reason: str, dns: TxtServer) -> None:
    """Refused by a rule that needs no key (docs/mail.md#mail-in): the signature was never verified
    and its key never asked for."""
    assert_fail(result, reason)
    assert all(s.verified is None for s in result.signatures if s.reason == reason)
    assert dns.queries == []


def acme_signed(keys: Keys, dns: TxtServer, message: bytes | None = None) -> bytes:
    publish(dns, "sel1", ACME, keys.rsa2048)
    return sign_dkimpy(message or rate_mail(), keys.rsa2048, domain=ACME, selector="sel1")


def test_from_added_after_signing_breaks_the_signature(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    # the signer saw no From (h= names it, so an absent From was signed as empty)
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    without_from = rate_mail().replace(FROM, b"")
    raw = sign_crafted(without_from, keys.rsa2048, domain=ACME, selector="sel1")
    result = authenticate(FROM + raw, make_config())
    assert_fail(result, "dkim_fail", verified=False)
    assert result.vendor is not None and result.vendor.id == "acme"


def test_attacker_signature_beside_a_broken_vendor_signature_is_misaligned(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", "evil.example", keys.other)
    vendor = acme_signed(keys, dns_server)
    tampered = vendor.replace(b"A-Z deck", b"A-Z deck, route via us")  # acme's now fails
    raw = sign_dkimpy(tampered, keys.other, domain="evil.example", selector="sel1")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_misaligned", verified=False)
    assert result.signatures[0].verified is None  # could never count: not verified
    assert [(s.domain, s.reason) for s in result.signatures] == [
        ("evil.example", "dkim_misaligned"),
        (ACME, "dkim_fail"),
    ]


@pytest.mark.parametrize(
    "domain",
    [
        "acme-example.example",  # a hyphen for the dot
        "acme.example.evil.example",  # the vendor's name as a subdomain of the attacker's
        "acrne.example",  # rn for m
        "xn--cme-8cd.example",  # аcme.example with a Cyrillic а (IDN homograph)
        "example",  # the parent, a top-level name
    ],
)
def test_look_alike_signing_domains_are_misaligned(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig, domain: str
) -> None:
    publish(dns_server, "sel1", domain, keys.other)
    raw = sign_dkimpy(rate_mail(), keys.other, domain=domain, selector="sel1")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_misaligned")
    assert domain in result.detail


@pytest.mark.parametrize("length", [31, 33, 0])
def test_ed25519_key_of_the_wrong_length_is_unusable(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig, length: int
) -> None:
    public = base64.b64decode(keys.ed25519.public_b64)
    wrong = (public + b"\x00")[:length]
    dns_server.set_txt(
        "ed._domainkey.acme.example", f"v=DKIM1; k=ed25519; p={base64.b64encode(wrong).decode()}"
    )
    raw = sign_dkimpy(rate_mail(), keys.ed25519, domain=ACME, selector="ed")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_fail", verified=False)
    if length:
        assert "unusable" in result.detail
    else:
        assert "revoked" in result.detail  # p= with nothing in it


def test_revoked_key_is_a_fail_that_says_so(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = acme_signed(keys, dns_server)
    dns_server.set_txt("sel1._domainkey.acme.example", "v=DKIM1; k=rsa; p=")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_fail", verified=False)
    assert "revoked" in result.detail


@pytest.mark.parametrize("flags", ["y", "y:s", " s : y "])
def test_key_in_testing_mode_proves_nothing(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig, flags: str
) -> None:
    raw = acme_signed(keys, dns_server)
    dns_server.set_txt("sel1._domainkey.acme.example", f"{keys.rsa2048.record}; t={flags}")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_test_key", verified=True)


def test_key_flag_s_alone_still_passes(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = acme_signed(keys, dns_server)
    dns_server.set_txt("sel1._domainkey.acme.example", f"{keys.rsa2048.record}; t=s")
    assert authenticate(raw, make_config()).ok


def test_key_restricted_to_sha1_refuses_both_sha256_and_sha1_signatures(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    record = f"v=DKIM1; h=sha1; k=rsa; p={keys.rsa2048.public_b64}"
    sha256 = acme_signed(keys, dns_server)
    sha1 = sign_dkimpy(
        rate_mail(), keys.rsa2048, domain=ACME, selector="sel1", algorithm=b"rsa-sha1"
    )
    dns_server.set_txt("sel1._domainkey.acme.example", record)
    config = make_config()
    refused = authenticate(sha256, config)
    assert_fail(refused, "dkim_fail")
    assert "allows only h=sha1" in refused.detail
    assert_fail(authenticate(sha1, config), "dkim_weak_algorithm")
    # the same key with h=sha256 listed is fine
    dns_server.set_txt("sel1._domainkey.acme.example", record.replace("h=sha1", "h=sha1:sha256"))
    assert authenticate(sha256, make_config()).ok


def test_subject_added_above_the_signed_one_is_refused(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    # a verifier hashes the bottom-most Subject; ingestd's table rules read the topmost
    raw = b"Subject: Acme PREMIUM full A-Z\r\n" + acme_signed(keys, dns_server)
    result = authenticate(raw, make_config())
    assert_refused_without_a_key(result, "dkim_header_unsigned", dns_server)
    assert "2 subject header(s) but h= signs 1" in result.detail


def test_unsigned_subject_is_refused(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    raw = sign_crafted(
        rate_mail(), keys.rsa2048, domain=ACME, selector="sel1", signed_headers=("from", "date")
    )
    result = authenticate(raw, make_config())
    assert_refused_without_a_key(result, "dkim_header_unsigned", dns_server)


def test_message_id_added_above_a_signed_one_is_refused(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    signed = sign_crafted(
        rate_mail(), keys.rsa2048, domain=ACME, selector="sel1",
        signed_headers=("from", "subject", "date", "message-id"),
    )  # fmt: skip
    raw = b"Message-ID: <fresh-1@acme.example>\r\n" + signed
    assert authenticate(signed, make_config()).ok
    dns_server.queries.clear()
    result = authenticate(raw, make_config())
    assert_refused_without_a_key(result, "dkim_header_unsigned", dns_server)


def test_oversigned_headers_pass_and_block_additions(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    oversigned = sign_crafted(
        rate_mail(), keys.rsa2048, domain=ACME, selector="sel1",
        signed_headers=("from", "from", "subject", "subject", "to", "date"),
    )  # fmt: skip
    config = make_config()
    assert authenticate(oversigned, config).ok  # h= naming a header twice is legitimate
    # the second, empty instance in h= is what makes an added Subject break the signature
    added = b"Subject: Acme PREMIUM full A-Z\r\n" + oversigned
    assert_fail(authenticate(added, config), "dkim_fail", verified=False)
    assert_fail(authenticate(FROM + oversigned, config), "multiple_from")


def test_encoded_from_display_name_with_a_line_break_is_refused_not_a_crash(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    mail = rate_mail("=?utf-8?q?Acme=0D=0ABcc:_victim@evil.example?= <rates@acme.example>")
    result = authenticate(acme_signed(keys, dns_server, mail), make_config())
    assert_fail(result, "no_from")
    assert "cannot be parsed" in result.detail
