"""Attacks on ingestd (docs/mail.md#mail-in, docs/mail.md#mail-out): forgeries through the whole
pipeline, SMTP smuggling on the real listener (SMTP and LMTP), header injection into the mail
ingestd sends, one vendor writing another's tables, replays, and a flood of connections at the real
daemon.

Peers: the dnslib DNS server (tests/rig/dns.py) with the vendors' keys, dkimpy as signer, the
real SMTP/LMTP listener (tests/rig/smtp.py) with raw sockets, the real daemon process
(tests/rig/daemon.py); SQLite and the file outbox. The forgeries themselves are made and
checked one by one against ingestd.auth in tests/auth/test_dkim.py and
tests/system/test_attacks_dkim.py."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import smtplib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from rig.daemon import RECIPIENT as DAEMON_RECIPIENT
from rig.daemon import Setup
from rig.dns import TxtServer
from rig.mail import codes, csv_deck, rate_message, xlsx_deck
from rig.signers import SigningKey, ed25519_key, rsa_key, sign_crafted, sign_dkimpy
from rig.smtp import RECIPIENT, SENDER, Dialogue, running_smtp

from ingestd.config import Config, load_config
from ingestd.db.clock import utcnow
from ingestd.db.tables import messages, outbox
from ingestd.mail.outbox import Outbox, header_text
from ingestd.message.notify import Notifier
from ingestd.message.outcome import MessageOutcome
from ingestd.message.pipeline import Pipeline
from ingestd.rates.schema import rate_tables, versions
from ingestd.rates.store import Store
from ingestd.scheduler import NOTICES_SETTLE, Jobs, period_start

ACME, BETA = "acme.example", "beta.example"
ACME_FROM = f"Acme Rates <rates@{ACME}>"
BETA_FROM = f"Beta Pricing <rates@{BETA}>"
TEAM = "rates-team@carrier.example"
SUBSCRIBER = "prices@carrier.example"
# what ingestd's own mail may carry; anything else in a header section is an injection
OWN_HEADERS = {
    "from", "to", "subject", "date", "message-id", "in-reply-to", "references",
    "auto-submitted", "x-auto-response-suppress", "x-ingestd-purpose", "mime-version",
    "content-type", "content-transfer-encoding", "content-disposition",
}  # fmt: skip


# --- the installation: two vendors, their keys in a real DNS server --------------------------


@dataclass(frozen=True)
class Keys:
    acme: SigningKey
    beta: SigningKey
    ed25519: SigningKey
    evil: SigningKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(rsa_key(1024), rsa_key(1024), ed25519_key(), rsa_key(1024))


@pytest.fixture(scope="module")
def dns(keys: Keys) -> Iterator[TxtServer]:
    with TxtServer() as server:
        yield server


@pytest.fixture
def published(dns: TxtServer, keys: Keys) -> TxtServer:
    dns.reset()
    dns.set_txt(f"sel1._domainkey.{ACME}", keys.acme.record)
    dns.set_txt(f"sel1._domainkey.{BETA}", keys.beta.record)
    dns.set_txt("sel1._domainkey.acme-example.example", keys.evil.record)
    return dns


# acme's subject rule sends "premium" decks to its table "premium"; beta has no rules
VENDORS = """
[[vendors]]
id = "acme"
name = "Acme Voice Wholesale"
senders = ["rates@acme.example"]

[[vendors.tables]]
name = "premium"
kind = "voice"
mode = "partial"
match = { subject = "(?i)premium" }

[[vendors]]
id = "beta"
name = "Beta Telecom"
senders = ["rates@beta.example"]
"""


@dataclass
class World:
    config: Config
    pipeline: Pipeline
    outbox: Outbox
    folder: Path

    @property
    def store(self) -> Store:
        return self.pipeline.store

    def process(self, raw: bytes) -> MessageOutcome:
        return self.pipeline.process(raw, source="smtp", envelope_from="bounce@vendor.example")

    def rows(self, table: sa.Table) -> list[dict]:
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table)).mappings()]

    def owners(self) -> set[tuple[str, str]]:
        """(vendor of the table, sender in the provenance) of every version."""
        query = sa.select(rate_tables.c.vendor, versions.c.sender).join(
            rate_tables, rate_tables.c.id == versions.c.table_id
        )
        with self.store.engine.connect() as conn:
            return {(v, s) for v, s in conn.execute(query)}

    def outbox_recipients(self) -> list[tuple[str, list[str]]]:
        return [(r["purpose"], json.loads(r["recipients"])) for r in self.rows(outbox)]

    def tables(self, vendor: str) -> set[str]:
        return {t.name for t in self.store.tables(vendor)}

    def digest(self) -> list[int]:
        """The scheduler's notices job once this period is over: the digest of the messages
        held because their sender was not authenticated (README "Sending mail")."""
        notifier = Notifier(self.config, self.store, self.outbox)
        jobs = Jobs(self.config, self.store, notifier, self.outbox)
        period = timedelta(seconds=self.config.notify.unauthenticated_digest)
        end = period_start(utcnow(), period) + period + NOTICES_SETTLE
        stored = jobs.notices(now=end)
        self.outbox.deliver_due(now=end)  # as the daemon does at that time
        return stored

    def delivered(self) -> list[tuple[bytes, EmailMessage]]:
        """Every .eml the file transport wrote, raw and parsed."""
        self.outbox.deliver_due()
        found = []
        for path in sorted((self.folder / "outbox").glob("*.eml")):
            raw = path.read_bytes()
            found.append((raw, email.message_from_bytes(raw, policy=email.policy.default)))
        return found


@pytest.fixture
def world(tmp_path: Path, published: TxtServer) -> Iterator[World]:
    state = tmp_path / "var"
    text = (
        f'[daemon]\nstate_dir = "{state}"\n\n'
        f'[database]\nurl = "sqlite:///{state / "ingestd.db"}"\n\n'
        f'[dns]\nnameservers = ["{published.address}"]\ntimeout = "2s"\n\n'
        f'[outbound]\ndir = "{state / "outbox"}"\nfrom = "Rates Desk <desk@carrier.example>"\n\n'
        f'[notify]\nrates_team = ["{TEAM}"]\nprice_change_subscribers = ["{SUBSCRIBER}"]\n'
        + VENDORS
    )
    path = tmp_path / "ingestd.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, env={})
    store = Store(config.database.url)
    store.upgrade()
    pipeline = Pipeline(config, store)
    notifier = Notifier(config, store)
    pipeline.after = notifier.notify_safely
    yield World(config, pipeline, notifier.outbox, state)
    store.close()


def deck(n: int = 3, *, first: int = 4400, price: str = "0.0100") -> tuple[str, bytes]:
    return ("rates.csv", csv_deck(codes(n, first=first, price=price)))


def signed(raw: bytes, key: SigningKey, domain: str, selector: str = "sel1") -> bytes:
    return sign_dkimpy(raw, key, domain=domain, selector=selector)


# --- 1. the new forgeries through the pipeline: held, and the sender is told nothing ---------


def test_new_forgeries_are_quarantined_with_their_reason_and_nobody_is_answered(
    world: World, published: TxtServer, keys: Keys
) -> None:
    public = base64.b64decode(keys.ed25519.public_b64)
    published.set_txt(f"test._domainkey.{ACME}", keys.acme.record + "; t=y")
    published.set_txt(f"gone._domainkey.{ACME}", "v=DKIM1; k=rsa; p=")
    published.set_txt(
        f"ed._domainkey.{ACME}", "v=DKIM1; k=ed25519; p=" + base64.b64encode(public[:31]).decode()
    )
    published.set_txt(f"old._domainkey.{ACME}", f"v=DKIM1; h=sha1; k=rsa; p={keys.acme.public_b64}")

    def mail(n: int) -> bytes:
        return rate_message([deck(first=4400 + n)], message_id=f"<forged-{n}@{ACME}>")

    genuine = signed(mail(0), keys.acme, ACME)
    without_from = mail(1).replace(f"From: {ACME_FROM}\r\n".encode(), b"")
    fixtures = {
        "From added after signing": (
            "dkim_fail",
            f"From: {ACME_FROM}\r\n".encode()
            + sign_crafted(without_from, keys.acme, domain=ACME, selector="sel1"),
        ),
        "attacker beside a broken vendor signature": (
            "dkim_misaligned",
            signed(
                signed(mail(2), keys.acme, ACME).replace(b"attached", b"attached!"),
                keys.evil,
                "acme-example.example",
            ),
        ),
        "look-alike d=": ("dkim_misaligned", signed(mail(3), keys.evil, "acme-example.example")),
        "ed25519 key of 31 bytes": ("dkim_fail", signed(mail(4), keys.ed25519, ACME, "ed")),
        "revoked key (p= empty)": ("dkim_fail", signed(mail(5), keys.acme, ACME, "gone")),
        "key in testing mode (t=y)": ("dkim_test_key", signed(mail(6), keys.acme, ACME, "test")),
        "key for h=sha1 only": ("dkim_fail", signed(mail(7), keys.acme, ACME, "old")),
        "Subject added above the signed one": (
            "dkim_header_unsigned",
            b"Subject: Acme premium A-Z\r\n" + signed(mail(8), keys.acme, ACME),
        ),
    }
    assert world.process(genuine).status == "imported"
    for name, (reason, raw) in fixtures.items():
        outcome = world.process(raw)
        assert (outcome.status, outcome.reason) == ("quarantined", reason), (name, outcome.message)
    assert world.tables("acme") == {"default"}  # "premium" never made: the added Subject lost
    assert len(world.rows(versions)) == 1
    sent = world.outbox_recipients()
    to_vendor = [r for r in sent if f"rates@{ACME}" in r[1]]
    assert to_vendor == [("confirmation", [f"rates@{ACME}"])]  # the genuine deck's answer only
    assert [r for r in sent if r[0] == "quarantine_alert"] == []  # not one by one...
    (digest_id,) = world.digest()  # ...but all of them in the period's digest
    (digest,) = [r for r in world.rows(outbox) if r["id"] == digest_id]
    subject = email.message_from_bytes(bytes(digest["raw"]), policy=email.policy.default)["Subject"]
    assert (json.loads(digest["recipients"]), subject.split(" held")[0]) == (
        [TEAM], f"[ingestd] {len(fixtures)} messages",
    )  # fmt: skip


# --- 2. SMTP smuggling: one DATA is one message -----------------------------------------------

# <LF>.<CR><LF>, <CR><LF>.<LF>, <LF>.<LF>, <CR>.<CR><LF>: ends of DATA to some servers, not ours
SMUGGLING = [b"\n.\r\n", b"\r\n.\n", b"\n.\n", b"\r.\r\n"]


def smuggling_body(end: bytes) -> bytes:
    return (
        b"From: " + SENDER.encode() + b"\r\nSubject: first\r\n\r\nhello" + end
        + b"MAIL FROM:<ceo@carrier.example>\r\nRCPT TO:<" + RECIPIENT.encode() + b">\r\n"
        b"DATA\r\nFrom: ceo@carrier.example\r\nSubject: smuggled\r\n\r\npay us\r\n"
    )  # fmt: skip


def one_transaction(talk: Dialogue, hello: bytes, body: bytes) -> list[bytes]:
    """MAIL, RCPT, DATA with ``body``; the reply to DATA and what the server says to NOOP."""
    assert talk.command(hello)[-1].startswith(b"250")
    assert talk.command(b"MAIL FROM:<" + SENDER.encode() + b">")[0].startswith(b"250")
    assert talk.command(b"RCPT TO:<" + RECIPIENT.encode() + b">")[0].startswith(b"250")
    assert talk.command(b"DATA")[0].startswith(b"354")
    talk.send(body + b".\r\n")
    replies = talk.reply()
    # nothing else is pending: a second message would have produced more replies before NOOP's
    noop = talk.command(b"NOOP")
    assert talk.buffer == b""
    return replies + noop


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
def test_smuggled_second_message_is_never_split_off(tmp_path: Path, protocol: str) -> None:
    lmtp = tmp_path / "lmtp.sock"
    options = {"lmtp_socket": str(lmtp), "listen": ""} if protocol == "lmtp" else {}
    with running_smtp(tmp_path, **options) as server:
        bodies = [smuggling_body(end) for end in SMUGGLING]
        for body in bodies:
            if protocol == "lmtp":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(str(lmtp))
            else:
                sock = socket.create_connection(("127.0.0.1", server.port))
            talk = Dialogue(sock)
            try:
                assert talk.reply()[0].startswith(b"220")
                hello = (b"LHLO" if protocol == "lmtp" else b"EHLO") + b" mx.vendor.example"
                replies = one_transaction(talk, hello, body)
                assert [r[:3] for r in replies] == [b"250", b"250"], replies
                assert b"queued as" in replies[0]
            finally:
                talk.close()
        items = server.queue.items()
        # one item per session, holding the whole DATA: the "smuggled" lines are its body
        # (a line that starts with a dot loses it: RFC 5321 §4.5.2 transparency)
        unstuffed = [re.sub(rb"(?<=\r\n)\.", b"", body) for body in bodies]
        assert sorted(item.read() for item in items) == sorted(unstuffed)
        assert {item.meta["mail_from"] for item in items} == {SENDER}


# --- 3. header injection through what vendors write -------------------------------------------

ENCODED_BCC = "=?utf-8?q?x=0D=0ABcc:_victim@evil.example?="


def double_encoded(text: str) -> str:
    """An encoded word whose decoded text is ``text`` (itself an encoded word)."""
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def assert_clean(raw: bytes, message: EmailMessage, recipients: list[str]) -> None:
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b""), "a bare line break in the header section"
    for line in head.split(b"\r\n"):
        assert len(line) <= 998
        if not line[:1].isspace():
            assert line.split(b":", 1)[0].decode().lower() in OWN_HEADERS, line
    names = [name.lower() for name in message.keys()]
    assert len(names) == len(set(names)), names
    for part in message.walk():
        assert not {"bcc", "cc", "reply-to"} & {n.lower() for n in part.keys()}
        for value in part.values():
            assert "\r" not in str(value) and "\n" not in str(value)
    assert [a.addr_spec for a in message["To"].addresses] == recipients


def test_vendor_strings_cannot_add_headers_or_recipients_to_outgoing_mail(
    world: World, keys: Keys
) -> None:
    hostile_name = "rates Bcc: victim@evil.example " + ENCODED_BCC + ".csv"
    workbook = xlsx_deck(codes(3, first=4500), sheet="Rates Bcc victim")
    # written into the raw bytes: the email package would decode these while building
    message = rate_message(
        [(hostile_name, csv_deck(codes(3))), ("premium.xlsx", workbook)],
        subject="SUBJECT", message_id="<ID@acme.example>",
    ).replace(
        b"Subject: SUBJECT",
        b"Subject: Rates " + double_encoded(ENCODED_BCC).encode() + b" " + b"A" * 3000,
    ).replace(
        b"<ID@acme.example>", f"<=?utf-8?q?a=0D=0ABcc:_x=40evil.example?=@{ACME}>".encode()
    )  # fmt: skip
    references = (
        f"References: <r1@{ACME}> {ENCODED_BCC} {double_encoded(f'<{ENCODED_BCC}@{ACME}>')} "
        + "<" + "r" * 2000 + f"@{ACME}>\r\n"
    )  # fmt: skip
    authenticated = signed(references.encode() + message, keys.acme, ACME)
    # an unauthenticated stranger reaches the rates team's quarantine alert
    stranger = rate_message(
        [deck()], from_header="Mallory <m@evil.example>", subject="SUBJECT",
        message_id="<stranger@evil.example>",
    ).replace(
        b"Subject: SUBJECT", b"Subject: " + double_encoded(ENCODED_BCC).encode()
    ).replace(
        b"From: Mallory", b"From: " + double_encoded("Mallory\r\nBcc: victim@evil.example").encode()
    )  # fmt: skip
    assert world.process(authenticated).status == "imported"
    assert world.process(stranger).status == "quarantined"
    world.digest()  # the stranger's From and Subject reach the team in the digest
    delivered = world.delivered()
    purposes = sorted(m["X-Ingestd-Purpose"] for _, m in delivered)
    assert purposes == sorted(
        ["confirmation", "unauthenticated_digest", *["import_report", "price_change"] * 2]
    )
    by_id = {m["Message-ID"]: m for _, m in delivered}
    for row in world.rows(outbox):
        raw = bytes(row["raw"])
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert_clean(raw, parsed, json.loads(row["recipients"]))
        assert parsed["Message-ID"] in by_id
    recipients = {r for _, rs in world.outbox_recipients() for r in rs}
    assert recipients == {f"rates@{ACME}", TEAM, SUBSCRIBER}
    confirmation = next(m for _, m in delivered if m["X-Ingestd-Purpose"] == "confirmation")
    # only well-formed ids of the thread are kept; the hostile Message-ID is dropped
    assert "In-Reply-To" not in confirmation
    assert str(confirmation["References"]) == f"<r1@{ACME}>"
    assert "=\u2060?" in str(confirmation["Subject"])  # the vendor's text, inert


def test_the_outbox_refuses_a_header_that_decodes_to_a_line_break(world: World) -> None:
    def message(subject: str) -> EmailMessage:
        m = EmailMessage()
        m["From"] = "desk@carrier.example"
        m["To"] = TEAM
        m["Subject"] = subject
        m["Message-ID"] = f"<probe.{len(subject)}@carrier.example>"
        m.set_content("x")
        return m

    with pytest.raises(ValueError, match="Subject header holds a line break"):
        world.outbox.enqueue(message("Report " + ENCODED_BCC), purpose="import_report")
    assert world.rows(outbox) == []
    safe = message(header_text("Report " + ENCODED_BCC + " \r\n more"))
    assert world.outbox.enqueue(safe, purpose="import_report") is not None
    [(raw, parsed)] = world.delivered()
    assert_clean(raw, parsed, [TEAM])
    assert str(parsed["Subject"]) == "Report =\u2060?utf-8?q?x=0D=0ABcc:_victim@evil.example?= more"


# --- 4. a vendor writes only its own tables ---------------------------------------------------


def test_no_vendor_writes_another_vendors_tables(world: World, keys: Keys) -> None:
    def mail(sender: str, n: int, subject: str = "rate update") -> bytes:
        return rate_message(
            [deck(first=4600 + 10 * n)], from_header=sender, subject=subject,
            message_id=f"<cross-{n}@example>",
        )  # fmt: skip

    # From A with B's valid signature, and the reverse
    a_by_b = world.process(signed(mail(ACME_FROM, 1), keys.beta, BETA))
    b_by_a = world.process(signed(mail(BETA_FROM, 2), keys.acme, ACME))
    assert (a_by_b.status, a_by_b.reason) == ("quarantined", "dkim_misaligned")
    assert (b_by_a.status, b_by_a.reason) == ("quarantined", "dkim_misaligned")
    assert world.tables("acme") == set() and world.tables("beta") == set()
    # B's own mail with A's subject rule lands in B's own default table
    b_premium = world.process(signed(mail(BETA_FROM, 3, "Acme premium rates"), keys.beta, BETA))
    assert b_premium.status == "imported"
    assert world.tables("beta") == {"default"} and world.tables("acme") == set()
    # the same subject from A does take A's rule (the rule is real)
    a_premium = world.process(signed(mail(ACME_FROM, 4, "Acme premium rates"), keys.acme, ACME))
    assert a_premium.status == "imported"
    assert world.tables("acme") == {"premium"}
    assert world.owners() == {("beta", f"rates@{BETA}"), ("acme", f"rates@{ACME}")}


# --- 5. replays -------------------------------------------------------------------------------


def test_replays_are_processed_once_and_rewrite_nothing(world: World, keys: Keys) -> None:
    original = signed(rate_message([deck(5)], message_id=f"<replay-1@{ACME}>"), keys.acme, ACME)
    first = world.process(original)
    assert first.status == "imported"
    before = world.rows(versions)

    same_bytes = world.process(original)
    # re-encoded on the way: a relay's Received line on top, the signature still valid
    relayed = world.process(b"Received: from mx.relay.example by mx.carrier.example\r\n" + original)
    # the old deck signed afresh under a new Message-ID
    resigned = world.process(
        signed(rate_message([deck(5)], message_id=f"<replay-2@{ACME}>"), keys.acme, ACME)
    )
    assert same_bytes.status == "duplicate" and same_bytes.duplicate_of == first.row_id
    assert relayed.status == "duplicate" and relayed.duplicate_of == first.row_id
    assert resigned.status == "duplicate"  # a new message, but its sheet is version 1 again
    [sheet] = resigned.sheets
    assert [(o["status"], o["version"]) for o in sheet["outcomes"]] == [("duplicate", 1)]
    assert world.rows(versions) == before
    assert len(world.rows(messages)) == 3  # the exact replay made no row of its own
    answers = [r for r in world.outbox_recipients() if r[0] == "confirmation"]
    assert len(answers) == 2  # imported, then "already imported"; the replays got none


# --- 6. a flood of connections at the real daemon ---------------------------------------------

FLOOD = 200
CAP = 20
IDLE_TIMEOUT = 2.0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_connection_flood_is_capped_and_idle_sockets_are_dropped(
    tmp_path: Path, published: TxtServer, keys: Keys
) -> None:
    setup = Setup.create(tmp_path, nameserver=published.address)
    text = setup.config.read_text()
    setup.config.write_text(
        text.replace("[smtp]\n", f'[smtp]\nmax_sessions = {CAP}\ntimeout = "{IDLE_TIMEOUT}s"\n')
    )
    legit = signed(rate_message([deck(3)], message_id=f"<flood@{ACME}>"), keys.acme, ACME)
    warm = signed(rate_message([deck(2, first=4500)], message_id=f"<warm@{ACME}>"), keys.acme, ACME)
    with setup.daemon() as daemon:
        assert daemon.process is not None
        pid = daemon.process.pid
        # one message through the whole daemon first, so that what a first import loads
        # (templates, mail modules, the reader's caches) is not counted as the flood's memory
        with smtplib.SMTP("127.0.0.1", setup.port, local_hostname="mx.acme.example") as first:
            first.sendmail(SENDER, [DAEMON_RECIPIENT], warm)
        daemon.wait_for(lambda: setup.count("versions") == 1, 20, "the warm-up deck imported")
        rss_before = rss_kb(pid)
        client = smtplib.SMTP("127.0.0.1", setup.port, local_hostname="mx.acme.example", timeout=20)
        client.ehlo()
        assert client.mail(SENDER)[0] == 250  # a transaction under way when the flood comes

        sockets: list[socket.socket] = []
        greetings: list[bytes] = []
        try:
            for _ in range(FLOOD):
                sock = socket.create_connection(("127.0.0.1", setup.port), timeout=10)
                sockets.append(sock)
            for sock in sockets:
                greetings.append(sock.recv(200)[:3])
            assert greetings.count(b"220") == CAP - 1, greetings
            assert greetings.count(b"421") == FLOOD - CAP + 1
            # slowloris: the admitted ones dribble a command a byte at a time, never finishing
            slow = [s for s, g in zip(sockets, greetings, strict=True) if g == b"220"]
            for sock in slow:
                sock.sendall(b"E")
            # the legitimate transaction completes meanwhile (RCPT and DATA reset its timer)
            assert client.rcpt(DAEMON_RECIPIENT)[0] == 250
            assert client.data(legit)[0] == 250
            client.quit()
            started = time.monotonic()
            for sock in slow:
                sock.sendall(b"H")
            # every idle or slow socket is closed by the server within the timeout (plus slack)
            for sock in slow:
                sock.settimeout(IDLE_TIMEOUT + 5)
                assert sock.recv(100) == b""
            assert time.monotonic() - started < IDLE_TIMEOUT + 5
        finally:
            for sock in sockets:
                sock.close()
        # the slots are free again: a new sender gets in and is answered
        with smtplib.SMTP("127.0.0.1", setup.port, timeout=20) as again:
            assert again.noop()[0] == 250
        daemon.wait_for(lambda: setup.count("versions") == 2, 20, "the legitimate deck imported")
        grown = rss_kb(pid) - rss_before
        assert grown < 50_000, f"RSS grew by {grown} kB during the flood"
        assert daemon.stop() == 0
    log = daemon.log_text(200_000)
    assert log.count("smtp.refused_connection") >= FLOOD - CAP + 1
