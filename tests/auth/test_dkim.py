"""ingestd.auth: DKIM verification against a real DNS server, with signatures from dkimpy and
from OpenDKIM, and one attack fixture per reason code (docs/mail.md#mail-in,
docs/testing.md#real-components)."""

from __future__ import annotations

import time

import pytest
from conftest import Keys, MakeConfig, publish
from rig.dns import TxtServer, txt_strings
from rig.signers import (
    opendkim_supports,
    rate_mail,
    sign_crafted,
    sign_dkimpy,
    sign_opendkim,
)

from ingestd.auth import REASONS, authenticate, organizational_domain, sender_vendor
from ingestd.auth.results import AuthResult

ACME = "acme.example"


def signed_by_acme(keys: Keys, dns: TxtServer, message: bytes | None = None, **kw) -> bytes:
    """A rate mail signed by acme's 2048-bit key, published as sel1._domainkey.acme.example."""
    publish(dns, "sel1", ACME, keys.rsa2048)
    return sign_dkimpy(message or rate_mail(), keys.rsa2048, domain=ACME, selector="sel1", **kw)


def assert_fail(result: AuthResult, reason: str) -> None:
    assert (result.status, result.reason) == ("fail", reason), result.detail
    assert reason in REASONS


# --- signatures that pass ---------------------------------------------------------------------


def test_rsa_sha256_by_dkimpy_passes_and_names_the_vendor(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)
    result = authenticate(raw, make_config())
    assert (result.status, result.reason) == ("pass", "ok"), result.detail
    assert result.ok
    assert result.vendor is not None and result.vendor.id == "acme"
    assert result.from_addr == "rates@acme.example"
    assert (result.signing_domain, result.selector) == (ACME, "sel1")
    [signature] = result.signatures
    assert (signature.domain, signature.selector, signature.algorithm) == (
        ACME,
        "sel1",
        "rsa-sha256",
    )
    assert (signature.result, signature.reason, signature.verified) == ("pass", "ok", True)
    assert len(txt_strings(keys.rsa2048.record)) == 2  # served as two 255-byte strings


def test_key_among_several_txt_records_arrives_over_tcp(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)
    filler = "verification=" + "0123456789" * 30  # not a key, and makes the answer > 512 bytes
    dns_server.set_txt("sel1._domainkey.acme.example", [filler, keys.rsa2048.record])
    result = authenticate(raw, make_config())
    assert result.ok, result.detail
    # the UDP answer was truncated: the resolver had to ask again over TCP
    assert dns_server.queries == [
        ("sel1._domainkey.acme.example", "udp"),
        ("sel1._domainkey.acme.example", "tcp"),
    ]


def test_ed25519_by_dkimpy_passes(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "ed", ACME, keys.ed25519)
    raw = sign_dkimpy(rate_mail(), keys.ed25519, domain=ACME, selector="ed")
    result = authenticate(raw, make_config())
    assert result.ok, result.detail
    assert result.signatures[0].algorithm == "ed25519-sha256"
    assert result.selector == "ed"


@pytest.mark.parametrize("key_name", ["rsa2048", "ed25519"])
def test_signature_by_opendkim_passes(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig, key_name: str
) -> None:
    key = getattr(keys, key_name)
    if key_name == "ed25519" and not opendkim_supports("ed25519-sha256"):
        pytest.skip("this opendkim cannot sign ed25519-sha256; dkimpy's ed25519 is tested")
    publish(dns_server, "odk", ACME, key)
    raw = sign_opendkim(rate_mail(), key, domain=ACME, selector="odk")
    result = authenticate(raw, make_config())
    assert result.ok, result.detail
    assert result.signatures[0].algorithm == key.algorithm.decode()
    assert result.vendor is not None and result.vendor.id == "acme"


def test_a_valid_signature_beside_a_broken_one_passes(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)
    # the topmost signature names a key that does not exist (NXDOMAIN)
    raw = sign_dkimpy(raw, keys.other, domain=ACME, selector="gone")
    result = authenticate(raw, make_config())
    assert result.ok, result.detail
    first, second = result.signatures
    # the keys are fetched together: the pass settles the message, whether or not the
    # NXDOMAIN arrived first
    assert (first.selector, first.result, first.reason) in {
        ("gone", "fail", "dkim_fail"),
        ("gone", "skipped", "not_examined"),
    }
    assert (second.selector, second.result) == ("sel1", "pass")
    assert result.selector == "sel1"
    # and the other way round: a broken signature below the vendor's does not hide it
    below = sign_dkimpy(rate_mail(), keys.other, domain=ACME, selector="gone")
    reversed_order = signed_by_acme(keys, dns_server, below)
    result = authenticate(reversed_order, make_config())
    assert result.ok and result.selector == "sel1", result.detail
    assert result.signatures[1].reason in ("dkim_fail", "not_examined")


def test_subdomain_sender_aligns_with_the_organizational_domain(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    mail = rate_mail("Acme <desk@mail.acme.example>")
    raw = signed_by_acme(keys, dns_server, mail)
    result = authenticate(raw, make_config())
    assert result.ok, result.detail
    assert (result.from_addr, result.signing_domain) == ("desk@mail.acme.example", ACME)


def test_listed_dkim_domain_of_a_mailing_service_passes(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "esp", "esp-mailer.example", keys.rsa1024)
    raw = sign_dkimpy(
        rate_mail("Beta <rates@beta.example>"), keys.rsa1024, domain="esp-mailer.example",
        selector="esp",
    )  # fmt: skip
    result = authenticate(raw, make_config())
    assert result.ok, result.detail
    assert result.vendor is not None and result.vendor.id == "beta"


# --- one attack fixture per reason ------------------------------------------------------------


def test_unsigned_mail_is_refused(make_config: MakeConfig) -> None:
    result = authenticate(rate_mail(), make_config())
    assert_fail(result, "unsigned")
    assert result.vendor is not None and result.vendor.id == "acme"  # known, but not proved


def test_forged_authentication_results_do_not_help_unsigned_mail(make_config: MakeConfig) -> None:
    forged = (
        b"Authentication-Results: carrier.example; dkim=pass header.d=acme.example"
        b" header.s=sel1; dmarc=pass header.from=acme.example\r\n"
    )
    result = authenticate(forged + rate_mail(), make_config())
    assert_fail(result, "unsigned")


def test_body_altered_after_signing_fails(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server).replace(b"A-Z deck", b"A-Z deck (prices x10)")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_fail")
    assert "body hash mismatch" in result.detail
    assert result.vendor is not None and result.vendor.id == "acme"


def test_signature_of_another_domain_is_misaligned(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", "evil.example", keys.other)
    raw = sign_dkimpy(rate_mail(), keys.other, domain="evil.example", selector="sel1")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_misaligned")
    # a real signature, just not acme's: it could never count, so its key is not fetched
    assert result.signatures[0].verified is None
    assert dns_server.queries == []
    assert "evil.example" in result.detail


def test_aligned_domain_not_in_dkim_domains_is_misaligned(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", "beta.example", keys.rsa1024)
    raw = sign_dkimpy(
        rate_mail("Beta <rates@beta.example>"), keys.rsa1024, domain="beta.example",
        selector="sel1",
    )  # fmt: skip
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_misaligned")
    assert "esp-mailer.example" in result.detail  # says what would be allowed


def test_public_suffix_signature_never_aligns(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", "co.uk", keys.other)
    raw = sign_dkimpy(
        rate_mail("Coop <rates@coop.co.uk>"), keys.other, domain="co.uk", selector="sel1"
    )
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_misaligned")
    assert "public suffix" in result.detail


def test_length_tag_with_appended_content_is_refused(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server, length=True)
    raw += b"\r\nPS: send payments to our NEW bank account.\r\n"
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_length_tag")
    assert result.signatures[0].verified is None  # refused before its key was fetched


def test_rsa_sha1_is_refused(keys: Keys, dns_server: TxtServer, make_config: MakeConfig) -> None:
    raw = signed_by_acme(keys, dns_server, algorithm=b"rsa-sha1")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_weak_algorithm")
    assert result.signatures[0].algorithm == "rsa-sha1"


def test_from_not_covered_by_the_signature_is_refused(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    raw = sign_crafted(
        rate_mail(), keys.rsa2048, domain=ACME, selector="sel1", signed_headers=("to", "subject")
    )
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_from_unsigned")
    assert result.signatures[0].verified is None
    assert dns_server.queries == []


def test_two_from_headers_are_refused(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)
    raw = b"From: Evil <rates@acme.example>\r\n" + raw
    assert_fail(authenticate(raw, make_config()), "multiple_from")


@pytest.mark.parametrize(
    ("from_header", "reason"),
    [
        ("rates@acme.example, boss@acme.example", "multiple_from"),
        ("Rates <rates@acme.example> x@evil.example", "multiple_from"),
        ("undisclosed-recipients:;", "no_from"),
        ("rates", "no_from"),
    ],
)
def test_from_header_must_hold_exactly_one_address(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig, from_header: str, reason: str
) -> None:
    raw = signed_by_acme(keys, dns_server, rate_mail(from_header))
    result = authenticate(raw, make_config())
    assert_fail(result, reason)
    assert result.vendor is None
    assert [s.result for s in result.signatures] == ["skipped"]


def test_missing_from_header_is_refused(make_config: MakeConfig) -> None:
    raw = rate_mail().replace(b"From: Acme Rates <rates@acme.example>\r\n", b"")
    assert_fail(authenticate(raw, make_config()), "no_from")


def test_signature_expired_by_opendkim_is_refused(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "odk", ACME, keys.rsa2048)
    a_year_ago = int(time.time()) - 365 * 86400
    raw = sign_opendkim(
        rate_mail(), keys.rsa2048, domain=ACME, selector="odk", signed_at=a_year_ago, ttl=3600
    )
    assert f"x={a_year_ago + 3600}".encode() in raw
    assert_fail(authenticate(raw, make_config()), "dkim_expired")


def test_expiry_is_judged_at_now(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    expires = int(time.time()) + 3600
    raw = sign_crafted(
        rate_mail(), keys.rsa2048, domain=ACME, selector="sel1", extra_tags=[("x", str(expires))]
    )
    config = make_config()
    assert authenticate(raw, config, now=expires - 60).ok
    late = authenticate(raw, config, now=expires + 60)
    assert_fail(late, "dkim_expired")
    assert late.signatures[0].verified is None


def test_512_bit_key_is_refused(keys: Keys, dns_server: TxtServer, make_config: MakeConfig) -> None:
    publish(dns_server, "small", ACME, keys.rsa512)
    raw = sign_dkimpy(rate_mail(), keys.rsa512, domain=ACME, selector="small")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_weak_key")
    assert "512 bits" in result.detail


def test_1024_bit_key_is_enough(keys: Keys, dns_server: TxtServer, make_config: MakeConfig) -> None:
    publish(dns_server, "mid", ACME, keys.rsa1024)
    raw = sign_dkimpy(rate_mail(), keys.rsa1024, domain=ACME, selector="mid")
    assert authenticate(raw, make_config()).ok


def test_unknown_sender_is_refused_without_dns(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    mail = rate_mail("Someone <sales@acme.example>")  # acme's domain, not a listed address
    raw = signed_by_acme(keys, dns_server, mail)
    result = authenticate(raw, make_config())
    assert_fail(result, "unknown_sender")
    assert (result.vendor, result.from_addr) == (None, "sales@acme.example")
    assert result.signatures[0].domain == ACME and result.signatures[0].result == "skipped"
    assert dns_server.queries == []  # no lookups for mail nobody is waiting for


# --- which reason wins ------------------------------------------------------------------------


def test_verified_policy_reason_beats_a_broken_signature(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", "evil.example", keys.other)
    raw = sign_dkimpy(rate_mail(), keys.other, domain="evil.example", selector="sel1")
    raw = sign_dkimpy(raw, keys.rsa1024, domain=ACME, selector="unpublished")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_misaligned")
    assert [s.reason for s in result.signatures] == ["dkim_fail", "dkim_misaligned"]
    assert "signature 2" in result.detail


def test_the_vendors_own_signature_reason_beats_a_third_partys(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", "evil.example", keys.other)
    raw = sign_dkimpy(rate_mail(), keys.other, domain="evil.example", selector="sel1")
    raw = signed_by_acme(keys, dns_server, raw, algorithm=b"rsa-sha1")
    # topmost is acme's rsa-sha1 signature, below it a misaligned one
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_weak_algorithm")


# --- keys: pins and DNS failures --------------------------------------------------------------


def pin(selector: str, key_record: str) -> str:
    return f'dkim_keys = {{ "{selector}._domainkey.acme.example" = "{key_record}" }}'


def test_pinned_key_is_used_without_dns(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    dns_server.mode = "drop"  # DNS would time out if it were asked
    raw = sign_dkimpy(rate_mail(), keys.rsa2048, domain=ACME, selector="pin")
    result = authenticate(raw, make_config(acme_extra=pin("pin", keys.rsa2048.record)))
    assert result.ok, result.detail
    assert "pinned key" in result.signatures[0].detail
    assert dns_server.queries == []


def test_pinned_key_mismatch_fails_even_when_dns_has_the_right_key(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)  # DNS serves the signing key at sel1
    result = authenticate(raw, make_config(acme_extra=pin("sel1", keys.other.record)))
    assert_fail(result, "dkim_fail")
    assert "pinned key" in result.detail
    assert dns_server.queries == []


def test_unanswered_dns_is_a_temporary_error(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)
    dns_server.mode = "drop"
    started = time.monotonic()
    result = authenticate(raw, make_config(timeout="300ms"))
    assert (result.status, result.reason) == ("temperror", "dns_temporary"), result.detail
    assert not result.ok
    assert result.vendor is not None and result.vendor.id == "acme"
    assert "timeout" in result.detail
    assert dns_server.queries  # it did ask
    assert time.monotonic() - started < 3


def test_servfail_is_a_temporary_error(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)
    dns_server.mode = "servfail"
    result = authenticate(raw, make_config())
    assert (result.status, result.reason) == ("temperror", "dns_temporary"), result.detail


def test_nxdomain_for_the_key_is_a_plain_fail(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = signed_by_acme(keys, dns_server)
    dns_server.remove("sel1._domainkey.acme.example")
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_fail")
    assert "NXDOMAIN" in result.detail


def test_dns_failure_wins_over_other_failures(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    # a pinned signature that is refused (l=), and one that DNS cannot check: a retry may pass
    raw = sign_dkimpy(rate_mail(), keys.rsa1024, domain=ACME, selector="pin", length=True)
    raw = signed_by_acme(keys, dns_server, raw)
    dns_server.mode = "drop"
    config = make_config(acme_extra=pin("pin", keys.rsa1024.record), timeout="300ms")
    result = authenticate(raw, config)
    assert (result.status, result.reason) == ("temperror", "dns_temporary"), result.detail
    assert [s.reason for s in result.signatures] == ["dns_temporary", "dkim_length_tag"]


def test_dns_failure_of_a_signature_refused_anyway_is_no_reason_to_retry(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    raw = sign_dkimpy(rate_mail(), keys.other, domain="evil.example", selector="sel1")
    dns_server.mode = "drop"
    result = authenticate(raw, make_config(timeout="300ms"))
    assert_fail(result, "dkim_misaligned")
    assert result.signatures[0].verified is None


def test_malformed_signature_is_a_fail_not_a_crash(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    # i= equal to d= (no "@") makes dkimpy's own tag check raise IndexError
    raw = sign_crafted(
        rate_mail(), keys.rsa2048, domain=ACME, selector="sel1", extra_tags=[("i", ACME)]
    )
    result = authenticate(raw, make_config())
    assert_fail(result, "dkim_fail")


# --- the vendor rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "organizational"),
    [
        ("mail.acme.example", "acme.example"),
        ("ACME.Example.", "acme.example"),
        ("a.b.coop.co.uk", "coop.co.uk"),
        ("co.uk", "co.uk"),
        ("x.y.github.io", "y.github.io"),  # the private section counts: github.io is a suffix
    ],
)
def test_organizational_domain(domain: str, organizational: str) -> None:
    assert organizational_domain(domain) == organizational


def test_sender_vendor_matches_addresses_and_exact_domains(make_config: MakeConfig) -> None:
    config = make_config()

    def vendor_of(address: str) -> str | None:
        vendor = sender_vendor(config, address)
        return vendor.id if vendor else None

    assert vendor_of("rates@acme.example") == "acme"
    assert vendor_of("RATES@ACME.EXAMPLE") == "acme"
    assert vendor_of("anyone@mail.acme.example") == "acme"  # @mail.acme.example
    assert vendor_of("anyone@x.mail.acme.example") is None  # @domain is exact, no subdomains
    assert vendor_of("other@acme.example") is None  # only rates@ is listed there
    assert vendor_of("desk@beta.example") == "beta"
    assert vendor_of("not-an-address") is None
