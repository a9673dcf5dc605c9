"""Extra DKIM signatures cannot stall SMTP or the worker (docs/mail.md#mail-in, Authentication):
signatures that could never count cost no DNS query, at most ``[dns] max_signatures`` are examined,
their keys are fetched in parallel within one ``[dns] budget`` per message, and a CNAME loop of any
length is a permanent failure. Against the real DNS server of tests/rig/dns.py (names it never
answers), with dkimpy signatures, and through the real daemon over SMTP."""

from __future__ import annotations

import smtplib
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest
from conftest import Keys, MakeConfig, publish
from rig.daemon import RECIPIENT, VENDOR_SENDER, Setup
from rig.dns import TxtServer
from rig.signers import rate_mail, sign_dkimpy

from ingestd.auth import authenticate
from ingestd.config import ConfigError, load_config

ACME = "acme.example"
STALLING = "stall*._domainkey.acme.example"  # never answered: every lookup times out


def with_extra_signatures(
    message: bytes, keys: Keys, *, foreign: int, stalling: int, tag: str = ""
) -> bytes:
    """``message`` under ``foreign`` signatures of other domains and ``stalling`` aligned ones
    whose selectors (stall…) the DNS server never answers; added on top, as a relay would."""
    for i in range(foreign):
        message = sign_dkimpy(message, keys.other, domain=f"relay{i}.example", selector="s")
    for i in range(stalling):
        message = sign_dkimpy(message, keys.other, domain=ACME, selector=f"stall{tag}{i}")
    return message


def stalled_names(dns: TxtServer) -> set[str]:
    return {name for name, _ in dns.queries if name.startswith("stall")}


# --- the budget and the cap -------------------------------------------------------------------


def test_sixty_extra_signatures_do_not_delay_a_good_one(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    dns_server.drop(STALLING, "s._domainkey.relay*.example")
    genuine = sign_dkimpy(rate_mail(), keys.rsa2048, domain=ACME, selector="sel1")
    raw = with_extra_signatures(genuine, keys, foreign=30, stalling=30)
    # a per-query timeout far above the work itself, so that a loaded machine cannot pass it
    # unless the good key really waited for one; the default budget, 10s
    config = make_config(timeout="8s")
    started = time.monotonic()
    result = authenticate(raw, config)
    elapsed = time.monotonic() - started
    assert result.ok, result.detail
    assert (result.signing_domain, result.selector) == (ACME, "sel1")
    # the good key settles the message: no waiting for a timeout, let alone 30 of them
    assert elapsed < config.dns.timeout, elapsed
    assert len(result.signatures) == 61
    by_reason = {s.reason for s in result.signatures[:30]}
    assert by_reason <= {"not_examined", "dns_temporary"}  # the stalling ones
    assert {s.reason for s in result.signatures[30:60]} == {"dkim_misaligned"}
    asked = {name for name, _ in dns_server.queries}
    assert not any("relay" in name for name in asked)  # could never count: never looked up
    assert len(asked) <= config.dns.max_signatures


@pytest.mark.parametrize(
    ("timeout", "dns_extra", "bound"),
    [
        # the five examined in parallel: about 1 s; one after the other 5 s, all sixty a minute
        ("1s", "", 3.0),
        ("5s", 'budget = "1s"', 4.0),  # the budget ends the wait, not the per-query timeout
    ],
)
def test_only_stalling_signatures_are_temporary_within_the_budget(
    keys: Keys,
    dns_server: TxtServer,
    make_config: MakeConfig,
    timeout: str,
    dns_extra: str,
    bound: float,
) -> None:
    dns_server.drop(STALLING)
    raw = with_extra_signatures(rate_mail(), keys, foreign=0, stalling=60)
    config = make_config(timeout=timeout, dns_extra=dns_extra)
    started = time.monotonic()
    result = authenticate(raw, config)
    elapsed = time.monotonic() - started
    assert (result.status, result.reason) == ("temperror", "dns_temporary"), result.detail
    assert elapsed < bound, elapsed
    assert "55 more not examined ([dns] max_signatures = 5)" in result.detail
    examined = [s for s in result.signatures if s.reason == "dns_temporary"]
    # the bottom-most five: the signer's own signature is below the ones relays add
    assert sorted(s.selector for s in examined) == [f"stall{i}" for i in range(5)]
    assert len(stalled_names(dns_server)) == 5
    if dns_extra:
        assert "DNS budget of 1s" in examined[0].detail


def test_max_signatures_is_the_number_examined(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "sel1", ACME, keys.rsa2048)
    # three signatures whose keys do not exist below the vendor's: with a cap of 2 the
    # vendor's is not examined, and the verdict says so
    below = rate_mail()
    for i in range(3):
        below = sign_dkimpy(below, keys.other, domain=ACME, selector=f"gone{i}")
    raw = sign_dkimpy(below, keys.rsa2048, domain=ACME, selector="sel1")
    capped = authenticate(raw, make_config(dns_extra="max_signatures = 2"))
    assert (capped.status, capped.reason) == ("fail", "dkim_fail"), capped.detail
    assert "2 more not examined ([dns] max_signatures = 2)" in capped.detail
    assert authenticate(raw, make_config(dns_extra="max_signatures = 4")).ok


def test_a_pinned_key_is_examined_before_any_dns_signature(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    dns_server.drop(STALLING)
    pinned = sign_dkimpy(rate_mail(), keys.rsa2048, domain=ACME, selector="pin")
    raw = with_extra_signatures(pinned, keys, foreign=0, stalling=20, tag="pinned")
    pin = f'dkim_keys = {{ "pin._domainkey.acme.example" = "{keys.rsa2048.record}" }}'
    result = authenticate(raw, make_config(acme_extra=pin, dns_extra="max_signatures = 1"))
    assert result.ok, result.detail
    # no query for this message's keys (a lookup an earlier test left in flight may still
    # arrive at the shared server: its names are not this message's)
    asked = [name for name, _ in dns_server.queries]
    assert [n for n in asked if n.startswith(("pin.", "stallpinned"))] == [], asked


# --- CNAME loops --------------------------------------------------------------------------------


@pytest.mark.parametrize("chase", [True, False], ids=["recursive", "authoritative"])
@pytest.mark.parametrize("length", [1, 3])
def test_a_cname_loop_of_any_length_is_a_permanent_failure(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig, length: int, chase: bool
) -> None:
    names = [f"loop{i}._domainkey.{ACME}" for i in range(length)]
    for i, name in enumerate(names):
        dns_server.set_cname(name, names[(i + 1) % length])
    dns_server.chase_cnames = chase
    raw = sign_dkimpy(rate_mail(), keys.rsa2048, domain=ACME, selector="loop0")
    started = time.monotonic()
    result = authenticate(raw, make_config())
    assert (result.status, result.reason) == ("fail", "dkim_fail"), result.detail
    assert time.monotonic() - started < 2
    loop = " → ".join([*names, names[0]])
    assert f"a CNAME loop: {loop}" in result.detail


def test_a_cname_to_the_key_is_followed(
    keys: Keys, dns_server: TxtServer, make_config: MakeConfig
) -> None:
    publish(dns_server, "real", "keys.esp.example", keys.rsa2048)
    dns_server.set_cname("sel1._domainkey.acme.example", "hop._domainkey.acme.example")
    dns_server.set_cname("hop._domainkey.acme.example", "real._domainkey.keys.esp.example")
    raw = sign_dkimpy(rate_mail(), keys.rsa2048, domain=ACME, selector="sel1")
    for chase in (True, False):
        dns_server.chase_cnames = chase
        result = authenticate(raw, make_config())
        assert result.ok, result.detail


# --- configuration ------------------------------------------------------------------------------


def load(tmp_path: Path, dns: str, env: dict[str, str] | None = None):
    path = tmp_path / "ingestd.toml"
    path.write_text(f"[dns]\n{dns}\n", encoding="utf-8")
    return load_config(path, env=env or {})


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('budget = "0s"', "dns.budget", "is too short; allowed: more than 0s"),
        ('budget = "2h"', "dns.budget", "is too long; allowed: at most 1h"),
        ('budget = "soon"', "dns.budget", "expected a duration"),
        ("max_signatures = 0", "dns.max_signatures", "0 is out of range; allowed: 1 to 100"),
        ('max_signatures = "5"', "dns.max_signatures", "expected an integer"),
    ],
)
def test_bad_dns_limits_are_refused(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert caught.value.key == key
    assert message in caught.value.message


def test_dns_limits_defaults_file_and_environment(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert (config.dns.budget, config.dns.max_signatures) == (10.0, 5)
    config = load(tmp_path, 'budget = "3s"\nmax_signatures = 2')
    assert (config.dns.budget, config.dns.max_signatures) == (3.0, 2)
    env = {"INGESTD_DNS_BUDGET": "500ms", "INGESTD_DNS_MAX_SIGNATURES": "8"}
    config = load(tmp_path, 'budget = "3s"', env)
    assert (config.dns.budget, config.dns.max_signatures) == (0.5, 8)


# --- through the daemon: stalling senders and a genuine deck -----------------------------------


def deck(today: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Acme Rates <{VENDOR_SENDER}>"
    message["To"] = RECIPIENT
    message["Subject"] = "Acme A-Z rate deck"
    message["Date"] = "Mon, 06 Jan 2025 10:00:00 +0000"
    message["Message-ID"] = "<deck-budget@acme.example>"
    message.set_content("New rates attached.\n")
    sheet = f"Code,Destination,Rate,Effective Date\r\n44,UK,0.01,{today}\r\n"
    message.add_attachment(sheet.encode(), maintype="text", subtype="csv", filename="az.csv")
    return message.as_bytes(policy=SMTP_POLICY)


def test_stalling_senders_do_not_delay_a_genuine_decks_250(tmp_path: Path, keys: Keys) -> None:
    sessions, per_message = 8, 60
    with TxtServer() as dns:
        publish(dns, "sel1", ACME, keys.rsa2048)
        dns.drop(STALLING)
        timeout = 3.0  # [dns] timeout: far above what the genuine deck's answer takes
        setup = Setup.create(tmp_path, nameserver=dns.address, dns_timeout=f"{timeout:g}s")
        genuine = sign_dkimpy(
            deck(datetime.now(UTC).date().isoformat()), keys.rsa2048, domain=ACME, selector="sel1"
        )
        forgeries = [
            with_extra_signatures(rate_mail(), keys, foreign=0, stalling=per_message, tag=f"{n}x")
            for n in range(sessions)
        ]
        replies: dict[int, tuple[int, float]] = {}

        def forge(n: int) -> None:
            started = time.monotonic()
            try:
                with smtplib.SMTP("127.0.0.1", setup.port, timeout=60) as client:
                    client.sendmail(VENDOR_SENDER, [RECIPIENT], forgeries[n])
                code = 250
            except smtplib.SMTPDataError as e:
                code = e.smtp_code
            except (OSError, smtplib.SMTPException):
                code = -1
            replies[n] = (code, time.monotonic() - started)

        with setup.daemon() as daemon:
            threads = [threading.Thread(target=forge, args=(n,)) for n in range(sessions)]
            for thread in threads:
                thread.start()
            # the forgeries' DATA checks are waiting for DNS before the genuine deck is sent
            daemon.wait_for(
                lambda: len({name.split("x")[0] for name in stalled_names(dns)}) >= sessions // 2,
                30,
                "the stalling sessions in their DKIM check",
            )
            time.sleep(0.2)  # the others reach theirs
            started = time.monotonic()
            try:
                with smtplib.SMTP("127.0.0.1", setup.port, timeout=30) as client:
                    assert client.sendmail(VENDOR_SENDER, [RECIPIENT], genuine) == {}
                answered = time.monotonic() - started
            except (TimeoutError, smtplib.SMTPServerDisconnected):
                answered = float("inf")  # no 250 within 30 s
            # less than one DNS timeout: the checks of the stalling sessions hold no thread the
            # deck needs
            assert answered < timeout - 1, answered
            daemon.wait_for(lambda: len(setup.versions()) == 1, 20, "the genuine deck's version")
            imported = time.monotonic() - started
            for thread in threads:
                thread.join(timeout=90)
            assert daemon.stop() == 0
        assert imported < 10.0, imported
        # each forgery: 451 (temporary: the keys never came) after one timeout, not 60 (the
        # eight sessions share the daemon's check threads, at least five: two rounds at most)
        assert sorted(replies) == list(range(sessions))
        assert {code for code, _ in replies.values()} == {451}, replies
        assert max(seconds for _, seconds in replies.values()) < 4 * timeout, replies
        (message,) = setup.messages()
        assert message["result"] == "imported"
