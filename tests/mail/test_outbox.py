"""docs/mail.md#mail-out "stored in an outbox before delivery … with retries and backoff; nothing is
lost when the relay is down", against a real relay: aiosmtpd's server in the test (the peer,
recording every envelope), STARTTLS and AUTH with a certificate made by openssl, real DKIM
verification against a real DNS server, and the databases of ``db_url``."""

from __future__ import annotations

import email
import json
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, LoginPassword
from rig.dns import TxtServer
from rig.relay import Relay
from rig.signers import SigningKey, ed25519_key, rsa_key
from rig.smtp import self_signed_certificate

from ingestd.auth.keys import KeyLookup
from ingestd.cli import main
from ingestd.config import Config, ConfigError, DnsConfig, load_config
from ingestd.db.clock import utcnow
from ingestd.db.tables import messages
from ingestd.db.tables import outbox as outbox_table
from ingestd.mail.outbox import Outbox, RetryPolicy
from ingestd.mail.signing import DKIM_HEADERS
from ingestd.mail.transport import SmtpTransport, eml_name
from ingestd.rates.store import Store

FROM = "Rates Desk <rates@carrier.example>"
VENDOR = "pricing@vendor.example"
RATES_TEAM = "rates-team@carrier.example"
RELAY_LOGIN, RELAY_PASSWORD = "ingestd", "s3cret relay password"


# --- the relay ------------------------------------------------------------------------------


@pytest.fixture
def relay() -> Iterator[Relay]:
    """A relay that is not running yet: the test starts it."""
    server = Relay()
    try:
        yield server
    finally:
        server.stop()


# --- configuration and messages -------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def make_config(folder: Path, db_url: str, *, rates_team: str = RATES_TEAM, **outbound: Any):
    """The configuration as the daemon loads it (the real loader, a TOML file)."""
    options = {"from": FROM, **outbound}
    lines = [
        "[daemon]", f"state_dir = {toml_value(folder / 'state')}",
        "[database]", f"url = {toml_value(db_url)}",
        "[notify]", f"rates_team = {toml_value([rates_team])}",
        "[outbound]", *[f"{key} = {toml_value(value)}" for key, value in options.items()],
    ]  # fmt: skip
    path = folder / "ingestd.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path, env={})


def smtp_config(folder: Path, db_url: str, relay: Relay, **outbound: Any) -> Config:
    options = {"transport": "smtp", "host": "127.0.0.1", "port": relay.port, "security": "none",
               "timeout": "5s", **outbound}  # fmt: skip
    return make_config(folder, db_url, **options)


def open_store(config: Config) -> Store:
    store = Store(config.database.url)
    store.upgrade()
    return store


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    """Every Store a test opens, closed at its end (PostgreSQL drops the database after)."""
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def outbox_for(stores: list[Store], config: Config, **kwargs: Any) -> Outbox:
    """An Outbox on its own engine, as a separate daemon would have."""
    store = open_store(config)
    stores.append(store)
    return Outbox(store, config, **kwargs)


def mail(n: int, to: str = VENDOR, **headers: str) -> EmailMessage:
    """A reply like the confirmations: threaded, auto-submitted, one Message-ID per ``n``."""
    message = EmailMessage()
    message["From"] = FROM
    message["To"] = to
    message["Subject"] = f"Your rate deck {n} was imported"
    message["Date"] = "Mon, 06 Jan 2025 10:00:00 +0000"
    message["Message-ID"] = f"<confirm.{n}@carrier.example>"
    message["In-Reply-To"] = f"<deck-{n}@vendor.example>"
    message["References"] = f"<deck-{n}@vendor.example>"
    message["Auto-Submitted"] = "auto-replied"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(f"Deck {n}: 1200 rates accepted, 3 rejected.\n")
    return message


def rows(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        q = sa.select(outbox_table).order_by(outbox_table.c.id)
        return [dict(r) for r in conn.execute(q).mappings()]


# --- delivery through the relay ---------------------------------------------------------------


def test_relay_down_then_up_each_message_sent_exactly_once(db_url, tmp_path, relay, stores):
    config = smtp_config(tmp_path, db_url, relay)
    first = outbox_for(stores, config)
    ids = [first.enqueue(mail(n), purpose="confirmation") for n in range(3)]
    t0 = utcnow()

    report = first.deliver_due(now=t0)  # the relay is not listening
    assert (report.sent, sorted(report.deferred)) == ([], ids)
    stored = rows(first.store)
    assert [(r["state"], r["attempts"]) for r in stored] == [("pending", 1)] * 3
    assert {r["next_attempt_at"] for r in stored} == {t0 + timedelta(minutes=1)}
    assert all("cannot reach 127.0.0.1" in r["last_error"] for r in stored)

    assert first.deliver_due(now=t0 + timedelta(seconds=30)).attempted == 0  # not due yet
    report = first.deliver_due(now=t0 + timedelta(minutes=1))
    assert sorted(report.deferred) == ids
    assert {r["next_attempt_at"] for r in rows(first.store)} == {t0 + timedelta(minutes=3)}
    assert {r["attempts"] for r in rows(first.store)} == {2}

    relay.start()
    second = outbox_for(stores, config)  # another daemon on the same database
    later = t0 + timedelta(hours=1)
    barrier = threading.Barrier(2)
    reports = []

    def run(box: Outbox) -> None:
        barrier.wait()
        reports.append(box.deliver_due(now=later))

    threads = [threading.Thread(target=run, args=(box,)) for box in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(i for r in reports for i in r.sent) == ids
    assert first.deliver_due(now=later).attempted == 0  # and once more: nothing left
    assert second.deliver_due(now=later + timedelta(days=1)).attempted == 0

    assert relay.message_ids() == Counter(f"<confirm.{n}@carrier.example>" for n in range(3))
    stored = rows(first.store)
    assert [(r["state"], r["attempts"], r["sent_at"]) for r in stored] == [("sent", 3, later)] * 3
    # the relay got the stored bytes as they are, from the From address, to the envelope
    by_id = {r["message_id"]: r for r in stored}
    for mail_from, rcpt_tos, raw in relay.handler.received:
        row = by_id[email.message_from_bytes(raw)["Message-ID"]]
        assert (mail_from, rcpt_tos) == ("rates@carrier.example", [VENDOR])
        assert raw == bytes(row["raw"])


def test_concurrent_deliverers_never_send_twice(db_url, tmp_path, relay, stores):
    relay.start()
    config = smtp_config(tmp_path, db_url, relay)
    boxes = [outbox_for(stores, config) for _ in range(3)]
    for n in range(24):
        boxes[0].enqueue(mail(n), purpose="confirmation")
    barrier = threading.Barrier(len(boxes))
    sent: list[int] = []

    def run(box: Outbox) -> None:
        barrier.wait()
        sent.extend(box.deliver_due().sent)

    threads = [threading.Thread(target=run, args=(box,)) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(sent) == list(range(1, 25))
    counts = relay.message_ids()
    assert len(counts) == 24 and set(counts.values()) == {1}


def test_permanent_refusal_fails_at_once_and_tells_the_rates_team_once(
    db_url, tmp_path, relay, stores
):
    relay.start()
    config = smtp_config(tmp_path, db_url, relay)
    box = outbox_for(stores, config)
    bad = box.enqueue(mail(1, to="bounce@vendor.example"), purpose="confirmation")
    report = box.deliver_due()
    # failed on the first 550, and the notice enqueued for it goes out in the same run
    assert report.failed == [bad] and report.notices == report.sent and len(report.sent) == 1
    failed, notice = rows(box.store)
    assert (failed["state"], failed["attempts"], failed["next_attempt_at"]) == ("failed", 1, None)
    assert "550" in failed["last_error"] and "refused by the relay" in failed["last_error"]
    assert (notice["purpose"], notice["state"], json.loads(notice["recipients"])) == (
        "delivery_failure",
        "sent",
        [RATES_TEAM],
    )
    assert box.deliver_due(now=utcnow() + timedelta(days=2)).attempted == 0  # failed stays failed
    ((_, rcpt_tos, raw),) = relay.handler.received
    sent = email.message_from_bytes(raw, policy=policy.default)
    assert rcpt_tos == [RATES_TEAM] and sent["Auto-Submitted"] == "auto-generated"
    body = sent.get_body(("plain",)).get_content()
    assert f"ingestd outbox retry {bad}" in body and "bounce@vendor.example" in body
    headers = next(sent.iter_attachments())
    assert headers.get_content_type() == "text/rfc822-headers"
    assert b"<confirm.1@carrier.example>" in headers.get_payload(decode=True)


def test_a_failing_notice_starts_no_loop(sqlite_url, tmp_path, relay, stores):
    relay.start()
    config = smtp_config(tmp_path, sqlite_url, relay, rates_team="bounce-team@carrier.example")
    box = outbox_for(stores, config)
    box.enqueue(mail(1, to="bounce@vendor.example"), purpose="confirmation")
    report = box.deliver_due()  # the notice goes out in the same run, and bounces too
    assert (report.failed, report.notices) == ([1, 2], [2])
    assert [(r["purpose"], r["state"]) for r in rows(box.store)] == [
        ("confirmation", "failed"),
        ("delivery_failure", "failed"),
    ]
    assert box.deliver_due(now=utcnow() + timedelta(days=3)).attempted == 0


def test_temporary_refusals_back_off_then_give_up(sqlite_url, tmp_path, relay, stores):
    relay.start()
    config = smtp_config(tmp_path, sqlite_url, relay)
    box = outbox_for(stores, config, retry=RetryPolicy(max_attempts=4))
    msg_id = box.enqueue(mail(1, to="later@vendor.example"), purpose="confirmation")
    now = utcnow()
    waits = []
    for _ in range(3):
        assert box.deliver_due(now=now).deferred == [msg_id]
        (row,) = rows(box.store)
        waits.append(row["next_attempt_at"] - now)
        assert "451" in row["last_error"] and row["state"] == "pending"
        now = row["next_attempt_at"]
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    report = box.deliver_due(now=now)
    assert report.failed == [msg_id] and len(report.notices) == 1
    assert "gave up after 4 attempts" in rows(box.store)[0]["last_error"]
    assert [rcpt for _, rcpt, _ in relay.handler.received] == [[RATES_TEAM]]  # the notice


def test_backoff_doubles_to_an_hour():
    policy_ = RetryPolicy()
    assert [policy_.delay(n).total_seconds() for n in (1, 2, 3, 6, 7, 8, 50)] == [
        60, 120, 240, 1920, 3600, 3600, 3600
    ]  # fmt: skip


# --- STARTTLS, TLS and AUTH -------------------------------------------------------------------


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        RELAY_LOGIN.encode(),
        RELAY_PASSWORD.encode(),
    )
    if ok:
        server.event_handler.logins.append(auth_data.login)
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_auth_against_the_relay(sqlite_url, tmp_path, certificate, stores, security):
    server_context = _server_context(certificate)
    # aiosmtpd does not count implicit TLS as TLS for auth_require_tls (it only knows the
    # STARTTLS it did itself): a quirk of the peer
    tls: dict[str, Any] = (
        {"tls_context": server_context, "require_starttls": True, "auth_require_tls": True}
        if security == "starttls"
        else {"ssl_context": server_context, "auth_require_tls": False}
    )
    relay = Relay(authenticator=_authenticate, **tls).start()
    try:
        secret = tmp_path / "relay.secret"
        secret.write_text(RELAY_PASSWORD + "\n", encoding="utf-8")
        config = smtp_config(
            tmp_path, sqlite_url, relay, security=security, username=RELAY_LOGIN,
            password_file=secret,
        )  # fmt: skip
        trust = ssl.create_default_context(cafile=str(certificate[0]))
        box = outbox_for(
            stores, config, transport=SmtpTransport(config.outbound, ssl_context=trust)
        )
        box.enqueue(mail(1), purpose="confirmation")
        assert len(box.deliver_due().sent) == 1
        assert relay.handler.logins == [RELAY_LOGIN.encode()]

        # a wrong password is the operator's to fix: retried, never failed
        secret.write_text("wrong\n", encoding="utf-8")
        box.enqueue(mail(2), purpose="confirmation")
        report = box.deliver_due()
        assert report.deferred == [2] and report.failed == []
        assert "535" in rows(box.store)[1]["last_error"]

        # and a client that does not trust the certificate never sends
        secret.write_text(RELAY_PASSWORD, encoding="utf-8")
        untrusting = outbox_for(stores, config)  # the system's CAs
        report = untrusting.deliver_due(now=utcnow() + timedelta(minutes=2))
        assert report.deferred == [2]
        assert "CERTIFICATE_VERIFY_FAILED" in rows(box.store)[1]["last_error"]
        assert relay.message_ids() == Counter({"<confirm.1@carrier.example>": 1})
    finally:
        relay.stop()


# --- the file transport -----------------------------------------------------------------------


def test_file_transport_writes_parseable_eml_files(sqlite_url, tmp_path, stores):
    config = make_config(tmp_path, sqlite_url)  # transport = "file", the default
    box = outbox_for(stores, config)
    message = mail(1, Cc="Ops <ops@vendor.example>", Bcc="audit@carrier.example")
    message.add_attachment(
        b"code,rate\r\n44,0.01\r\n", maintype="text", subtype="csv", filename="rejected.csv"
    )
    entry_id = box.enqueue(message, purpose="confirmation")
    assert box.get(entry_id).recipients == (VENDOR, "ops@vendor.example", "audit@carrier.example")
    assert box.deliver_due().sent == [entry_id]

    folder = config.outbound.dir
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["confirm.1@carrier.example.eml"]  # no temporary file left behind
    raw = (folder / files[0]).read_bytes()
    assert raw == bytes(rows(box.store)[0]["raw"])
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"] == "<confirm.1@carrier.example>"
    assert parsed["Bcc"] is None  # the envelope carries it, not the header
    assert parsed["Subject"] == "Your rate deck 1 was imported"
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content() == "code,rate\r\n44,0.01\r\n"


def test_eml_names_are_safe_and_distinct():
    assert eml_name("<a.b@c.example>") == "a.b@c.example.eml"
    odd = [eml_name("<../../etc/passwd@x>"), eml_name("<.._.._etc_passwd@x>"), eml_name("<a b@x>")]
    assert len(set(odd)) == 3
    assert all("/" not in name and not name.startswith(".") for name in odd)


def test_an_unwritable_drop_folder_is_retried(sqlite_url, tmp_path, stores):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    config = make_config(tmp_path, sqlite_url, dir=blocker)
    box = outbox_for(stores, config)
    box.enqueue(mail(1), purpose="confirmation")
    box.enqueue(mail(2), purpose="confirmation")
    report = box.deliver_due()
    assert (report.sent, report.deferred) == ([], [1, 2])
    blocker.unlink()
    report = box.deliver_due(now=utcnow() + timedelta(minutes=5))
    assert report.sent == [1, 2] and len(list(blocker.iterdir())) == 2


# --- DKIM -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns_server() -> Iterator[TxtServer]:
    with TxtServer() as server:
        yield server


def _key_file(folder: Path, key: SigningKey, form: str) -> Path:
    path = folder / f"dkim-{key.key_type}-{form}.key"
    path.write_bytes(key.pem if form == "pem" else key.dkimpy_private)
    return path


@pytest.mark.parametrize(
    ("key_type", "form"), [("rsa", "pem"), ("ed25519", "seed"), ("ed25519", "pem")]
)
def test_outgoing_mail_is_dkim_signed_and_verifies(
    sqlite_url, tmp_path, relay, stores, dns_server, key_type, form
):
    key = rsa_key(2048) if key_type == "rsa" else ed25519_key()
    dns_server.set_txt("out2025._domainkey.carrier.example", key.record)
    relay.start()
    config = smtp_config(
        tmp_path, sqlite_url, relay, dkim_domain="carrier.example", dkim_selector="out2025",
        dkim_key_file=_key_file(tmp_path, key, form),
    )  # fmt: skip
    box = outbox_for(stores, config)
    box.enqueue(mail(1, Cc="ops@vendor.example"), purpose="confirmation")
    assert len(box.deliver_due().sent) == 1
    ((_, _, raw),) = relay.handler.received

    lookup = KeyLookup(DnsConfig(nameservers=(dns_server.address,), timeout=2.0), {})
    assert dkim.verify(raw, dnsfunc=lookup)
    assert lookup.sources == {"out2025._domainkey.carrier.example": "DNS"}
    signature = email.message_from_bytes(raw)["DKIM-Signature"]
    tags = dict(
        part.strip().split("=", 1) for part in "".join(signature.split()).split(";") if part
    )
    assert (tags["d"], tags["s"], tags["a"], tags["c"]) == (
        "carrier.example", "out2025", key.algorithm.decode(), "relaxed/relaxed",
    )  # fmt: skip
    assert tags["h"].split(":") == [h.lower() for h in DKIM_HEADERS if h != "Reply-To"]
    # the verification would notice a change in transit
    tampered = raw.replace(b"1200 rates accepted", b"1300 rates accepted")
    assert tampered != raw and not dkim.verify(tampered, dnsfunc=lookup)


def test_an_unusable_dkim_key_stops_the_start(sqlite_url, tmp_path, stores):
    key_file = tmp_path / "broken.key"
    key_file.write_text("not a key\n", encoding="utf-8")
    config = make_config(
        tmp_path, sqlite_url, dkim_domain="carrier.example", dkim_selector="s",
        dkim_key_file=key_file,
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"broken\.key.*DKIM key"):
        outbox_for(stores, config)


# --- enqueue: idempotency, recipients, the daily cap ----------------------------------------------


def test_the_same_message_id_is_stored_once(db_url, tmp_path, stores):
    box = outbox_for(stores, make_config(tmp_path, db_url))
    first = box.enqueue(mail(1), purpose="confirmation")
    again = box.enqueue(mail(1), purpose="confirmation")
    assert first == again and len(rows(box.store)) == 1


def test_nothing_is_enqueued_without_a_recipient(sqlite_url, tmp_path, stores):
    box = outbox_for(stores, make_config(tmp_path, sqlite_url))
    assert box.enqueue(mail(1, to="<>"), purpose="confirmation") is None
    nobody = mail(2)
    del nobody["To"]
    assert box.enqueue(nobody, purpose="confirmation") is None
    assert box.enqueue(mail(3, to="undisclosed-recipients:;"), purpose="confirmation") is None
    assert box.enqueue(mail(4), purpose="confirmation", recipients=["", "<>"]) is None
    assert rows(box.store) == []
    # an explicit envelope wins over the headers
    explicit = box.enqueue(
        mail(5), purpose="price_change", recipients=["Sub <SUB@buyer.example>", "<>"]
    )
    assert box.get(explicit).recipients == ("sub@buyer.example",)
    no_id = mail(6)
    del no_id["Message-ID"]
    with pytest.raises(ValueError, match="Message-ID"):
        box.enqueue(no_id, purpose="confirmation")


def test_the_daily_cap_suppresses_the_51st_message_to_one_recipient(db_url, tmp_path, stores):
    box = outbox_for(stores, make_config(tmp_path, db_url))  # max_per_recipient_per_day = 50
    for n in range(51):
        box.enqueue(mail(n, to="Pricing <PRICING@vendor.example>"), purpose="confirmation")
    other = box.enqueue(mail(100, to="pricin_@vendor.example"), purpose="confirmation")
    stored = rows(box.store)
    assert Counter(r["state"] for r in stored[:51]) == {"pending": 50, "suppressed": 1}
    last = stored[50]
    assert (last["state"], last["next_attempt_at"]) == ("suppressed", None)
    assert "daily cap of 50" in last["last_error"] and VENDOR in last["last_error"]
    assert box.get(other).state == "pending"  # "_" is no wildcard: pricing@ is not pricin_@

    # two recipients, one over the cap: the other still gets it
    both = box.enqueue(mail(101, to=f"{VENDOR}, ops@vendor.example"), purpose="confirmation")
    entry = box.get(both)
    assert (entry.state, entry.recipients) == ("pending", ("ops@vendor.example",))
    assert VENDOR in (entry.last_error or "")

    # a day later the window has moved on
    tomorrow = utcnow() + timedelta(hours=25)
    later = box.enqueue(mail(102), purpose="confirmation", now=tomorrow)
    assert box.get(later).state == "pending"
    # suppressed messages are not delivered
    report = box.deliver_due(now=tomorrow)
    assert last["id"] not in report.sent and len(report.sent) == 53


def test_rates_team_alerts_are_capped_too(sqlite_url, tmp_path, stores):
    box = outbox_for(stores, make_config(tmp_path, sqlite_url, max_per_recipient_per_day=2))
    states = [
        box.get(box.enqueue(mail(n, to=RATES_TEAM), purpose="quarantine_alert")).state
        for n in range(3)
    ]
    assert states == ["pending", "pending", "suppressed"]


def test_caps_are_kept_per_source_class(db_url, tmp_path, stores):
    """Strangers' alerts use up their own class's count, never the count of reports about
    authenticated vendors' imports; what a cap held back is recorded per recipient."""
    box = outbox_for(stores, make_config(tmp_path, db_url, max_per_recipient_per_day=2))
    now = utcnow()

    def state(n: int, purpose: str, to: str = RATES_TEAM, **kwargs: Any) -> str:
        entry = box.get(box.enqueue(mail(n, to=to), purpose=purpose, now=now, **kwargs))
        return entry.state

    strangers = [state(n, "unauthenticated_digest") for n in range(4)]
    assert strangers == ["pending", "pending", "suppressed", "suppressed"]
    # an alert about a stranger's crash counts in the strangers' class too
    assert state(9, "quarantine_alert", source_class="unauthenticated") == "suppressed"
    # reports about authenticated vendors still go out, up to their own cap
    reports = [state(n, "import_report") for n in range(10, 13)]
    assert reports == ["pending", "pending", "suppressed"]
    assert state(20, "delivery_failure") == "pending"  # ingestd's own notices: a third count
    # the "cap reached" notice itself is never held back
    assert [state(n, "cap_notice") for n in range(30, 34)] == ["pending"] * 4
    # two recipients, one of them over the cap: the row records whom it was held from
    both = box.get(
        box.enqueue(mail(40, to=f"{RATES_TEAM}, ops@carrier.example"), purpose="import_report",
                    now=now)
    )  # fmt: skip
    assert (both.state, both.recipients, both.held_for) == (
        "pending", ("ops@carrier.example",), (RATES_TEAM,),
    )  # fmt: skip
    assert both.source_class == "authenticated" and both.as_dict()["class"] == "authenticated"

    held = box.held_back(now, now + timedelta(seconds=1))
    assert [(h.recipient, h.source_class, h.purpose) for h in held] == [
        (RATES_TEAM, "unauthenticated", "unauthenticated_digest"),
        (RATES_TEAM, "unauthenticated", "unauthenticated_digest"),
        (RATES_TEAM, "unauthenticated", "quarantine_alert"),
        (RATES_TEAM, "authenticated", "import_report"),
        (RATES_TEAM, "authenticated", "import_report"),
    ]
    assert box.held_back(now + timedelta(seconds=1), now + timedelta(hours=1)) == []
    with pytest.raises(ValueError, match="source class"):
        box.enqueue(mail(50), purpose="import_report", source_class="vip")


def test_the_upgrade_to_source_classes_keeps_and_classifies_stored_mail(db_url, stores):
    """Migration 0005 on a database with mail in it: each row gets its purpose's class."""
    from alembic import command

    store = Store(db_url)
    stores.append(store)
    with store.engine.begin() as conn:
        command.upgrade(store._alembic_config(conn), "0004")
    now = utcnow()
    old = sa.table(
        "outbox", *(sa.column(c) for c in ("message_id", "purpose", "recipients", "raw",
                                           "state", "attempts", "created_at"))
    )  # fmt: skip
    with store.engine.begin() as conn:
        for n, purpose in enumerate(("import_report", "quarantine_alert", "delivery_failure")):
            conn.execute(
                old.insert().values(message_id=f"<{n}@x>", purpose=purpose, raw=b"x",
                                    recipients=json.dumps([RATES_TEAM]), state="sent",
                                    attempts=1, created_at=now)
            )  # fmt: skip
    store.upgrade()
    assert store.revision() == store.head_revision()
    got = {r["purpose"]: (r["source_class"], r["held_for"]) for r in rows(store)}
    assert got == {
        "import_report": ("authenticated", None),
        "quarantine_alert": ("unauthenticated", None),
        "delivery_failure": ("system", None),
    }


# --- the command line -------------------------------------------------------------------------


def test_outbox_commands(db_url, tmp_path, relay, stores, capsys, monkeypatch):
    relay.start()
    config = smtp_config(tmp_path, db_url, relay)
    monkeypatch.delenv("INGESTD_CONFIG", raising=False)
    box = outbox_for(stores, config)
    sent = box.enqueue(mail(1), purpose="confirmation")
    failed = box.enqueue(mail(2, to="bounce@vendor.example"), purpose="confirmation")
    report = box.deliver_due()
    (notice,) = report.notices
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str]:
        code = main(["outbox", *args, "-c", str(config.path)])
        out = capsys.readouterr()
        return code, out.out + out.err

    code, out = run("list", "--json")
    listed = json.loads(out)
    assert code == 0
    assert [(e["id"], e["state"], e["purpose"]) for e in listed] == [
        (sent, "sent", "confirmation"),
        (failed, "failed", "confirmation"),
        (notice, "sent", "delivery_failure"),
    ]
    assert listed[0]["subject"] == "Your rate deck 1 was imported"
    assert listed[1]["recipients"] == ["bounce@vendor.example"] and "550" in listed[1]["last_error"]

    code, out = run("list", "--state", "failed", "--json")
    assert (code, [e["id"] for e in json.loads(out)]) == (0, [failed])
    code, out = run("list")
    assert code == 0 and "Your rate deck 2 was imported" in out and "failed" in out
    assert run("list", "--state", "lost")[0] == 2

    code, out = run("retry", str(failed))
    assert code == 0 and f"outbox message {failed}" in out
    entry = box.get(failed)
    assert (entry.state, entry.attempts) == ("pending", 0)
    code, out = run("retry", str(failed), "--json")
    assert code == 0 and json.loads(out)["state"] == "pending"
    assert run("retry", "999")[0] == 2
    code, out = run("retry", str(sent))
    assert code == 2 and "sent already" in out
    assert run("retry")[0] == 2


def test_log_lines_carry_the_inbound_messages_correlation_id(sqlite_url, tmp_path, stores, caplog):
    """docs/operations.md#running-as-a-service: an admin follows one message from arrival to its
    notification by one id."""
    box = outbox_for(stores, make_config(tmp_path, sqlite_url))
    now = utcnow()
    with box.store.begin_write() as conn:
        row = conn.execute(
            messages.insert().values(
                raw_sha256="0" * 64, source="smtp", correlation_id="q-20250106-abc",
                received_at=now, state="done", attempts=1, notify="pending", created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
    caplog.set_level("INFO", logger="ingestd.mail.outbox")
    entry = box.enqueue(mail(1), purpose="confirmation", message_row=row)
    box.deliver_due()
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        line.startswith("event=outbox.enqueued") and "correlation_id=q-20250106-abc" in line
        for line in lines
    )
    assert any(
        line.startswith("event=outbox.sent") and f"id={entry} " in line and "q-20250106-abc" in line
        for line in lines
    )
    assert box.get(entry).message_row == row
