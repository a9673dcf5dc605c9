"""docs/mail.md#mail-out mail out: the confirmation, the import report, the price-change notice and
the quarantine alert, composed from what the real pipeline decided about real signed messages
(SQLite), then parsed back with the ``email`` package the way a mail client would read them.

Every composed message goes through ``read``: multipart/alternative (inside multipart/mixed
when files are attached) with a text and an HTML part, well-formed HTML that fetches nothing,
and the purpose headers; the tests then check the figures, the attachments and the headers
that keep mail loops and duplicates away."""

from __future__ import annotations

import csv
import dataclasses
import email
import email.policy
import io
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import sqlalchemy as sa
from rig.mail import (
    PDF,
    SENDER,
    VENDOR,
    codes,
    config_text,
    csv_deck,
    rate_message,
    signed,
)
from rig.signers import SigningKey, rsa_key

from ingestd.cli import main
from ingestd.config import Config, load_config
from ingestd.db.tables import messages
from ingestd.ingest import import_file, import_sheet, rollback
from ingestd.mail import compose, wording
from ingestd.mail.compose import (
    Outgoing,
    RatesWanted,
    VersionRates,
    cap_notice,
    deck_key,
    import_report,
    notifications,
    price_change_notice,
    quarantine_alert,
    unauthenticated_digest,
    vendor_confirmation,
)
from ingestd.mail.headers import summarize
from ingestd.mail.outbox import HeldBack
from ingestd.mail.parse import parse_message
from ingestd.mail.render import check_templates, instant, price, text_table
from ingestd.message.notify import rates_for, version_rates
from ingestd.message.outcome import MessageOutcome
from ingestd.message.pipeline import Pipeline
from ingestd.message.quarantine import Quarantine
from ingestd.rates.changes import price_changes
from ingestd.rates.model import spec_for
from ingestd.rates.store import Store
from ingestd.sheets.answers import Answers, header_fingerprint

DESK = "Rates Desk <desk@carrier.example>"
TEAM = ("rates-team@carrier.example", "noc@carrier.example")
V1_AT = datetime(2025, 1, 6, 10, 0)
V2_AT = datetime(2025, 1, 20, 10, 0)
V3_AT = datetime(2025, 1, 21, 10, 0)
NOTIFY = """
[notify]
rates_team = ["rates-team@carrier.example", "noc@carrier.example"]
price_change_subscribers = [
  "all@carrier.example",
  { address = "acme-default@carrier.example", vendor = "acme", table = "default" },
  { address = "acme-premium@carrier.example", vendor = "acme", table = "premium" },
  { address = "globex@carrier.example", vendor = "globex" },
]

[[vendors]]
id = "globex"
name = "Globex"
senders = ["rates@globex.example"]
"""
# version 2 of acme/default against version 1 (30 codes at 0.01, a full deck): 4400-4404 go
# up, 4405-4407 down, 3300 is new, and 4428-4429 are missing, so discontinued
V2_ROWS = (
    [(str(4400 + i), "0.0200") for i in range(5)]
    + [(str(4405 + i), "0.0050") for i in range(3)]
    + [(str(4408 + i), "0.0100") for i in range(20)]
    + [("3300", "0.3000")]
)
PREMIUM_RULE = """
[[vendors.tables]]
name = "premium"
kind = "voice"
match = { filename = "*premium*" }
"""
CHANGED = {"3300", "4428", "4429"} | {str(c) for c in range(4400, 4408)}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key(1024)


@dataclass
class Rig:
    config: Config
    pipeline: Pipeline
    key: SigningKey
    count: int = 0

    @property
    def store(self) -> Store:
        return self.pipeline.store

    def send(
        self,
        attachments,
        *,
        key: bool = True,
        headers: bytes = b"",
        at=V1_AT,
        envelope_from: str | None = None,
        **kw,
    ) -> MessageOutcome:
        """One message through the real pipeline (signed with the pinned key unless
        ``key=False``); each gets its own Message-ID unless one is given."""
        self.count += 1
        kw.setdefault("message_id", f"<deck-{self.count}@acme.example>")
        raw = headers + rate_message(attachments, **kw)
        if key:
            raw = signed(raw, self.key)
        return self.pipeline.process(
            raw, source="smtp", received_at=at, envelope_from=envelope_from
        )


def make_rig(tmp_path: Path, url: str, key: SigningKey, *, daemon: str = "", vendor: str = ""):
    text = config_text(tmp_path, db_url=url, pin=key, vendor_extra=vendor)
    text = text.replace("[outbound]\n", f'[outbound]\nfrom = "{DESK}"\n', 1)
    text = text.replace("[daemon]\n", "[daemon]\n" + daemon, 1) + NOTIFY
    path = tmp_path / "ingestd.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, env={})
    store = Store(url)
    store.upgrade()
    return Rig(config, Pipeline(config, store), key)


@pytest.fixture
def make(tmp_path: Path, sqlite_url: str, key: SigningKey) -> Iterator:
    """Rigs on the test's SQLite database: ``make(daemon=…, vendor=…, folder=…)`` (TOML lines
    for the [daemon] section and the acme vendor); their stores are closed afterwards."""
    made: list[Rig] = []

    def build(*, folder: str = "", daemon: str = "", vendor: str = "") -> Rig:
        where = tmp_path / folder
        where.mkdir(exist_ok=True)
        made.append(make_rig(where, sqlite_url, key, daemon=daemon, vendor=vendor))
        return made[-1]

    yield build
    for one in made:
        one.store.close()


@pytest.fixture
def rig(make) -> Rig:
    return make()


@pytest.fixture
def two_versions(rig: Rig) -> tuple[MessageOutcome, MessageOutcome]:
    """acme/default version 1 (30 codes) and version 2 (V2_ROWS, a full deck)."""
    first = rig.send([("rates.csv", csv_deck(codes(30)))], subject="Acme A-Z full", at=V1_AT)
    second = rig.send([("rates.csv", csv_deck(V2_ROWS))], subject="Acme A-Z full", at=V2_AT)
    assert (first.status, second.status) == ("imported", "imported")
    return first, second


def deck_of(outcome: MessageOutcome, n: int = 0) -> dict:
    return [d for s in outcome.sheets for d in s["outcomes"]][n]


# --- reading a composed message back ------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Balance(HTMLParser):
    """Checks that every tag is closed in order, and keeps the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "background") or (value and "url(" in value):
                self.errors.append(f"<{tag} {name}={value!r}> loads something")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


@dataclass
class Read:
    message: EmailMessage
    subject: str  # unfolded: Python folds a long value onto the next line, as RFC 5322 allows
    text: str
    html: str
    html_text: str  # what the HTML shows, whitespace collapsed
    attachments: dict[str, bytes]


def rates_of(rig, deck) -> VersionRates:
    """What the store holds of one deck's version, everything the mail about it may render."""
    key = deck_key(deck)
    return version_rates(rig.store, [RatesWanted(key, compose.ATTACH_MAX_ROWS, True)])[key]


def read(out: Outgoing) -> Read:
    """The message as a client parses it, its structure checked on the way."""
    msg = email.message_from_bytes(out.message.as_bytes(), policy=email.policy.default)
    assert msg["X-Ingestd-Purpose"] == out.purpose
    assert msg["From"] == DESK
    assert sorted(a.addr_spec for a in msg["To"].addresses) == sorted(out.recipients)
    assert msg["Message-ID"] == out.message_id
    assert re.fullmatch(r"<[a-z]+\.[0-9a-f]{32}@carrier\.example>", out.message_id)
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    attachments = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    if attachments:
        assert msg.get_content_type() == "multipart/mixed"
        assert msg.get_payload()[0].get_content_type() == "multipart/alternative"
    else:
        assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text_part.get_content_charset() == html_part.get_content_charset() == "utf-8"
    html = html_part.get_content()
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    assert not checker.tags & {"img", "script", "style", "link", "iframe"}
    assert "style=" in html  # inline styles, not a stylesheet
    data = {k: v.encode() if isinstance(v, str) else v for k, v in attachments.items()}
    shown = " ".join(" ".join(checker.text).split())
    subject = str(msg["Subject"]).strip()
    assert "\n" not in subject
    text = text_part.get_content().replace("\r\n", "\n")  # quoted-printable keeps CRLF
    return Read(msg, subject, text, html, shown, data)


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def both(r: Read, *needles: str) -> None:
    """Each figure is in the text part and in what the HTML part shows."""
    flat_text = " ".join(r.text.split())
    for needle in needles:
        assert needle in flat_text, (needle, r.text)
        assert needle in r.html_text, (needle, r.html_text)


def row_of(text: str, label: str) -> str:
    """The figure after ``label`` in a text table line (``increases    5`` → ``5``)."""
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d,]+)\s*$", text, re.M)
    assert match, (label, text)
    return match.group(1)


# --- vendor confirmation --------------------------------------------------------------------


def test_an_accepted_deck_is_confirmed_to_the_vendor_as_a_reply(rig, two_versions):
    _, second = two_versions
    out = vendor_confirmation(
        second, rig.config, references="<earlier@acme.example> <deck-1@acme.example>"
    )
    assert out is not None
    assert (out.purpose, out.recipients) == ("confirmation", (SENDER,))
    r = read(out)
    subject = r.subject
    assert subject.startswith("Accepted: Acme Voice Wholesale rates, default version 2")
    assert "Acme A-Z full" in subject
    assert r.message["In-Reply-To"] == "<deck-2@acme.example>"
    # the inbound References, then the inbound Message-ID (RFC 5322 §3.6.4)
    assert r.message["References"].split() == [
        "<earlier@acme.example>",
        "<deck-1@acme.example>",
        "<deck-2@acme.example>",
    ]
    assert r.message["Auto-Submitted"] == "auto-replied"
    assert r.attachments == {}
    counts = {"new codes": "1", "increases": "5", "decreases": "3", "discontinued": "2"}
    for label, n in counts.items():
        assert row_of(r.text, label) == n
        assert f"{label} {n}" in r.html_text
    both(r, "accepted as version 2", "29 in the file, 29 accepted, 0 rejected")


def test_confirm_to_replaces_the_sender_as_recipient(make):
    rig = make(vendor='confirm_to = ["ops@acme.example"]\n')
    outcome = rig.send([("rates.csv", csv_deck(codes(5)))])
    out = vendor_confirmation(outcome, rig.config)
    assert out is not None and out.recipients == ("ops@acme.example",)
    assert read(out).message["To"].addresses[0].addr_spec == "ops@acme.example"


def test_a_refused_deck_lists_every_rejected_row_and_what_to_fix(rig):
    deck = csv_deck(codes(6)) + b"Dest x,44ab,0.1\r\nDest y,4499,-1\r\n"
    outcome = rig.send([("bad.csv", deck)], subject="new rates")
    assert outcome.status == "refused"
    r = read(vendor_confirmation(outcome, rig.config))
    assert r.subject.startswith("Refused: Acme Voice Wholesale rates, default")
    both(
        r,
        "2 of 8 rows were rejected",
        "44ab",
        "Rate '-1' is negative",
        wording.ROW_FIXES["bad_code"],
        wording.ROW_FIXES["negative_price"],
        wording.SHEET_FIXES["too_many_rejected"],
    )
    # a spreadsheet's row numbers (the header is row 1) and the raw cells
    assert "row 8, code 44ab" in r.text and "Dest y | 4499 | -1" in r.text
    assert "bad.csv bad 8 44ab" in r.html_text and "bad.csv bad 9 4499" in r.html_text
    assert r.attachments == {}  # two rows fit in the body


def test_a_long_rejected_list_is_attached_as_csv(make):
    rig = make(vendor="[vendors.policy]\nmax_rejected_share = 0.9\n")
    bad = [f"Dest {i},44x{i},0.1" for i in range(29)] + ["Dest q,=1+2,0.1"]
    deck = csv_deck(codes(40)) + ("\r\n".join(bad) + "\r\n").encode()
    outcome = rig.send([("rates.csv", deck)])
    assert outcome.status == "imported"
    r = read(vendor_confirmation(outcome, rig.config))
    assert list(r.attachments) == ["rejected-rows.csv"]
    rows = csv_rows(r.attachments["rejected-rows.csv"])
    assert len(rows) == 30
    assert [int(x["Row"]) for x in rows] == list(range(42, 72))
    assert {x["Reason"] for x in rows} == {"bad_code"}
    assert rows[0]["Code"] == "44x0" and rows[0]["Cell 2"] == "44x0"
    # a vendor's cell that a spreadsheet would run as a formula is neutralized
    assert rows[-1]["Cell 2"] == "'=1+2"
    # the body lists the first 20 and says where the rest are
    assert r.text.count("cells:") == compose.REJECTED_IN_BODY
    both(r, "(30)", "rejected-rows.csv")
    assert "44x19" in r.text and "44x20," not in r.text


def test_no_confirmation_to_an_unsigned_sender(rig):
    outcome = rig.send([("rates.csv", csv_deck(codes(5)))], key=False)
    assert (outcome.status, outcome.reason) == ("quarantined", "unsigned")
    assert vendor_confirmation(outcome, rig.config) is None
    # nobody hears of it one by one: the rates team reads it in the period's digest
    # (tests/test_scheduler.py), so strangers cannot flood the team with alerts
    assert notifications(outcome, rig.config, rates_for(outcome, rig.config, rig.store)) == []


@pytest.mark.parametrize(
    "header",
    [b"Auto-Submitted: auto-generated\r\n", b"Precedence: bulk\r\n", b"List-Id: <rates.x>\r\n"],
)
def test_no_confirmation_in_answer_to_robots_and_lists(rig, header):
    outcome = rig.send([("rates.csv", csv_deck(codes(5)))], headers=header)
    assert outcome.status == "imported"  # signed and imported all the same
    assert outcome.automated  # the pipeline kept MessageSummary.is_automated
    assert vendor_confirmation(outcome, rig.config) is None
    # that is what stops it: the same outcome from a person would be confirmed...
    person = dataclasses.replace(outcome, automated=False)
    assert vendor_confirmation(person, rig.config) is not None
    # ...unless the caller knows better (the flag only ever adds a refusal)
    flagged = summarize(parse_message(header + rate_message([]))).is_automated
    assert vendor_confirmation(person, rig.config, automated=flagged) is None
    kinds = [
        o.purpose
        for o in notifications(outcome, rig.config, rates_for(outcome, rig.config, rig.store))
    ]
    assert "confirmation" not in kinds and "import_report" in kinds


def test_no_confirmation_to_a_null_sender(rig):
    outcome = rig.send([("rates.csv", csv_deck(codes(5)))], envelope_from="")
    assert outcome.status == "imported"
    assert vendor_confirmation(outcome, rig.config) is None
    person = dataclasses.replace(outcome, envelope_from=SENDER)
    assert vendor_confirmation(person, rig.config) is not None
    assert vendor_confirmation(person, rig.config, null_sender=True) is None


def test_a_message_with_many_decks_gets_one_report_listing_them_all(rig):
    """More decks than [notify] reports_per_message (5): one summary report, not one each,
    so one message cannot use up the rates team's daily cap."""
    sheets = [(f"rates_{n}.csv", csv_deck(codes(5, price=f"0.0{n}00"))) for n in range(1, 7)]
    sheets.append(("broken.csv", b"Foo,Bar\r\n1,2\r\n"))
    outcome = rig.send(sheets, subject="Acme: seven sheets")
    statuses = [d["status"] for s in outcome.as_dict()["sheets"] for d in s["outcomes"]]
    assert statuses == ["imported"] * 6 + ["refused"]
    sent = notifications(outcome, rig.config, rates_for(outcome, rig.config, rig.store))
    reports = [o for o in sent if o.purpose == "import_report"]
    assert len(reports) == 1 and sent[0].purpose == "confirmation"
    r = read(reports[0])
    assert reports[0].recipients == TEAM and reports[0].source_class == "authenticated"
    assert r.subject == (
        "[ingestd] Acme Voice Wholesale: 7 decks in one message, 6 accepted, 1 refused"
    )
    both(r, "7 decks", "rates_1.csv", "rates_6.csv", "broken.csv", "decks.csv")
    (part,) = [a for a in r.message.iter_attachments() if a.get_filename() == "decks.csv"]
    decks = csv_rows(part.get_payload(decode=True))  # the bytes, with their BOM for Excel
    assert [(d["File"], d["Version"], d["Status"]) for d in decks] == [
        *[(f"rates_{n}.csv", str(n), "accepted") for n in range(1, 7)],
        ("broken.csv", "", "refused"),
    ]
    assert "export --vendor acme --table default" in decks[5]["Export"]
    assert decks[6]["Export"] == ""
    # the same outcome composed again is the same message
    again = [
        o
        for o in notifications(outcome, rig.config, rates_for(outcome, rig.config, rig.store))
        if o.purpose == reports[0].purpose
    ]
    assert [o.message_id for o in again] == [reports[0].message_id]


def test_the_digest_of_strangers_and_the_cap_notice_read_well_in_both_parts(rig):
    """The digest lists what strangers wrote escaped, the rest as CSV; the cap notice says what
    was held back and how to see it."""
    held = [
        {"id": n, "reason": "unknown_sender" if n % 2 else "unsigned", "detail": "no key",
         "from": f"m{n % 4}@evil.example", "subject": f"<script>x</script> {n}",
         "source": "smtp", "received_at": "2025-01-06T10:00:00", "held_at": "2025-01-06T10:00:01",
         "state": "held"}
        for n in range(1, 41)
    ]  # fmt: skip
    since, until = datetime(2025, 1, 6, 10), datetime(2025, 1, 6, 11)
    digest = unauthenticated_digest(held, rig.config, since=since, until=until)
    assert (digest.purpose, digest.recipients, digest.source_class) == (
        "unauthenticated_digest", TEAM, "unauthenticated",
    )  # fmt: skip
    r = read(digest)
    assert r.subject == (
        "[ingestd] 40 messages held from unauthenticated senders (4 senders), "
        "2025-01-06 10:00 UTC to 2025-01-06 11:00 UTC"
    )
    both(r, "unknown_sender", "m1@evil.example", "<script>x</script> 30", "held.csv")
    assert "<script>" not in r.html and "<script>x</script> 31" not in r.text
    (part,) = [a for a in r.message.iter_attachments() if a.get_filename() == "held.csv"]
    assert len(csv_rows(part.get_payload(decode=True))) == 40
    again = unauthenticated_digest(held[:3], rig.config, since=since, until=until)
    assert again.message_id == digest.message_id  # one per period, whatever it lists

    box = [
        HeldBack(n, TEAM[0], "authenticated", "import_report", "acme", since) for n in (7, 8)
    ] + [HeldBack(9, TEAM[0], "authenticated", "price_change", None, since)]
    notice = cap_notice(TEAM[0], "authenticated", box, rig.config, since=since, until=until)
    assert (notice.purpose, notice.recipients, notice.source_class) == (
        "cap_notice", (TEAM[0],), "system",
    )  # fmt: skip
    r = read(notice)
    assert r.subject.startswith("[ingestd] Daily cap reached: 3 messages about authenticated")
    both(r, "import reports", "price-change notices", "acme", "7, 8, 9",
         "outbox list --state suppressed", "outbox retry 7")  # fmt: skip


def test_a_message_without_a_sheet_is_answered_and_alerted(rig):
    outcome = rig.send([("terms.pdf", PDF)], subject="our terms")
    assert (outcome.status, outcome.reason) == ("quarantined", "no_sheet")
    confirmation, alert = notifications(
        outcome, rig.config, rates_for(outcome, rig.config, rig.store)
    )
    r = read(confirmation)
    assert r.subject.startswith("No rate sheet found in your message")
    both(r, "no rate sheet", "terms.pdf", wording.SHEET_FIXES["no_sheet"])
    a = read(alert)
    assert "Quarantined #" in a.subject and "(no_sheet)" in a.subject
    assert "--accept-unauthenticated" not in a.text


def test_a_held_deck_is_held_for_review_and_the_alert_names_the_guard(rig):
    rig.send([("rates.csv", csv_deck(codes(30)))], subject="Acme A-Z full")
    outcome = rig.send([("rates.csv", csv_deck(codes(10)))], subject="Acme A-Z full")
    assert (outcome.status, outcome.reason) == ("quarantined", "guard_triggered")
    confirmation, alert = notifications(
        outcome, rig.config, rates_for(outcome, rig.config, rig.store)
    )
    r = read(confirmation)
    assert r.subject.startswith("Held for review: Acme Voice Wholesale rates")
    both(r, "held for review", "discontinues 20 of 30 codes")
    a = read(alert)
    both(a, "mass_discontinue", "discontinues 20 of 30 codes")
    command = f"ingestd -c {rig.config.path} quarantine release {outcome.quarantine_id}"
    assert re.search(rf"^\s*{re.escape(command)}\s*$", a.text, re.M)  # no --accept-unauthenticated

    # the command in the mail does what it says: the deck is imported
    assert main(shlex.split(command)[1:]) == 0
    assert rig.store.find_table(VENDOR).current_version == 2
    assert Quarantine(rig.pipeline).get(outcome.quarantine_id).state == "released"
    # the released message gets its own confirmation, not the held one again
    with rig.store.engine.connect() as conn:
        stored = conn.execute(
            sa.select(messages.c.outcome).where(messages.c.id == outcome.row_id)
        ).scalar_one()
    accepted = vendor_confirmation(json.loads(stored), rig.config)
    assert read(accepted).subject.startswith("Accepted:")
    assert accepted.message_id != confirmation.message_id


def test_a_deck_imported_beside_a_held_one_is_still_reported(make):
    rig = make(vendor=PREMIUM_RULE)
    rig.send([("rates.csv", csv_deck(codes(30)))], subject="Acme A-Z full")
    outcome = rig.send(
        [("premium.csv", csv_deck(codes(3, first=8810))), ("rates.csv", csv_deck(codes(10)))],
        subject="Acme A-Z full",
    )
    assert (outcome.status, outcome.reason) == ("quarantined", "guard_triggered")
    sent = notifications(outcome, rig.config, rates_for(outcome, rig.config, rig.store))
    assert [o.purpose for o in sent] == [
        "confirmation",
        "quarantine_alert",
        "import_report",
        "price_change",
        "price_change",
    ]
    assert {o.recipients for o in sent[3:]} == {
        ("all@carrier.example",),
        ("acme-premium@carrier.example",),
    }
    assert read(sent[2]).subject.startswith("[ingestd] Acme Voice Wholesale: premium (voice)")
    both(read(sent[0]), "accepted as version 1", "held for review")


def test_the_alert_for_an_unauthenticated_message_asks_for_the_override(rig):
    outcome = rig.send([("rates.csv", csv_deck(codes(5)))], key=False)
    held = Quarantine(rig.pipeline).get(outcome.quarantine_id)
    from_outcome = quarantine_alert(outcome, rig.config, source="smtp", received_at=V1_AT)
    from_held = quarantine_alert(held, rig.config)
    # the CLI and the pipeline compose the same alert: one message, never two
    assert from_outcome.message_id == from_held.message_id
    r = read(from_held)
    assert r.message["Auto-Submitted"] == "auto-generated"
    assert r.message["In-Reply-To"] is None
    assert r.subject.startswith(f"[ingestd] Quarantined #{outcome.quarantine_id}")
    qid = outcome.quarantine_id
    release = f"ingestd -c {rig.config.path} quarantine release {qid} --accept-unauthenticated"
    drop = f"ingestd -c {rig.config.path} quarantine drop {qid}"
    both(r, release, drop, "unsigned", "the message carries no DKIM signature", SENDER)
    for alert in (r, read(from_outcome)):
        both(alert, release, "Source smtp", "Received 2025-01-06 10:00 UTC")
    assert main([*shlex.split(release)[1:]]) == 0
    assert Quarantine(rig.pipeline).get(qid).state == "released"


def test_a_sender_no_vendor_lists_needs_a_vendor_to_be_released(rig):
    outcome = rig.send(
        [("rates.csv", csv_deck(codes(5)))], key=False, from_header="Eve <eve@else.example>"
    )
    assert outcome.reason == "unknown_sender"
    r = read(quarantine_alert(outcome, rig.config))
    both(r, "--accept-unauthenticated --vendor VENDOR_ID", "eve@else.example", "none matched")


def test_an_already_imported_file_is_confirmed_as_a_duplicate(rig):
    rig.send([("rates.csv", csv_deck(codes(5)))])
    again = rig.send([("rates.csv", csv_deck(codes(5)))], subject="resent")
    assert again.status == "duplicate"
    r = read(vendor_confirmation(again, rig.config))
    assert r.subject.startswith("Already imported: Acme Voice Wholesale rates")
    both(r, "already imported as version 1", "nothing was changed")


def test_partly_imported_names_what_was_accepted_and_what_was_refused(rig):
    outcome = rig.send(
        [("rates.csv", csv_deck(codes(5))), ("notes.csv", b"Hello,World\r\nfoo,bar\r\n")]
    )
    assert outcome.status == "partly_imported"
    r = read(vendor_confirmation(outcome, rig.config))
    assert r.subject.startswith(
        "Partly accepted: Acme Voice Wholesale rates, default version 1 accepted, notes.csv refused"
    )
    both(r, "accepted as version 1", "no rate table found", wording.SHEET_FIXES["no_table"])


# --- import report --------------------------------------------------------------------------


def test_the_import_report_names_the_vendor_profile_of_the_layout(rig, two_versions):
    _, second = two_versions
    zorg = b"Zorg,Pays,Tarif\r\n4400,Dest 4400,0.0110\r\n4401,Dest 4401,0.0120\r\n"
    answers = Answers.parse(map=["Zorg=code", "Pays=destination"], increments=["Dest 4400=60/60"])
    (first,) = import_file(rig.store, rig.config, VENDOR, zorg, file_name="zorg.csv",
                           received_at=V2_AT, mode="partial", answers=answers)  # fmt: skip
    assert first.status == "imported", first.as_dict()
    layout = header_fingerprint(["Zorg", "Pays", "Tarif"])
    r = read(import_report(second, first.as_dict(), rig.config, rates_of(rig, first.as_dict())))
    both(
        r,
        f"Read with the answers for layout {layout}:",
        '--map "Zorg=code" --map "Pays=destination" --increments "Dest 4400=60/60"',
        "kept as the vendor's profile of this layout",
    )
    plain = read(import_report(second, deck_of(second), rig.config, rates_of(rig, deck_of(second))))
    assert "Read with" not in plain.text and "Read with" not in plain.html_text


def test_the_import_report_attaches_the_table_that_reimports_to_the_same_rows(
    rig, two_versions, tmp_path
):
    _, second = two_versions
    out = import_report(second, deck_of(second), rig.config, rates_of(rig, deck_of(second)))
    assert (out.purpose, out.recipients) == ("import_report", TEAM)
    r = read(out)
    assert r.message["Auto-Submitted"] == "auto-generated"
    assert r.message["In-Reply-To"] is None
    assert r.subject == (
        "[ingestd] Acme Voice Wholesale: default (voice) version 2 imported, full deck, 11 changes"
    )
    both(
        r,
        "full (from the subject or file name)",
        "rates@acme.example (DKIM d=acme.example s=sel1)",
        "mass_discontinue",
        "discontinues 2 of 30 codes",
        "Prefix code",  # the column mapping
        "Rate price",
    )
    assert row_of(r.text, "increases") == "5" and row_of(r.text, "unchanged") == "20"
    assert list(r.attachments) == ["acme-default-v2.csv"]

    # the file holds the table: imported into an empty store at the table's first instant,
    # it gives the same rows
    table = rig.store.find_table(VENDOR)
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    other.upgrade()
    (again,) = import_file(
        other,
        rig.config,
        VENDOR,
        r.attachments["acme-default-v2.csv"],
        file_name="acme-default-v2.csv",
        received_at=V1_AT,
        mode="full",
    )
    assert again.status == "imported", again.as_dict()
    cols = list(spec_for("voice").row_columns)
    want = rig.store.rows(table, 2).select(cols).sort("code", "effective_from")
    got = other.rows(other.find_table(VENDOR)).select(cols).sort("code", "effective_from")
    assert got.equals(want)
    assert want.height == 41  # history included: 30 + 11 rows of version 2
    other.close()


def test_a_table_too_big_to_mail_is_named_with_the_command_that_exports_it(
    rig, two_versions, monkeypatch, tmp_path
):
    _, second = two_versions
    monkeypatch.setattr(compose, "ATTACH_MAX_ROWS", 40)  # version 2 holds 41 rows
    monkeypatch.setattr(compose, "XLSX_MAX_ROWS", 5)
    r = read(import_report(second, deck_of(second), rig.config, rates_of(rig, deck_of(second))))
    assert r.attachments == {}
    both(r, "The table has 41 rows, too many to mail")
    (command,) = [line.strip() for line in r.text.splitlines() if "ingestd -c" in line]
    assert command.endswith("--version 2 -o acme-default-v2.csv")
    with monkeypatch.context() as m:
        m.chdir(tmp_path)
        assert main(shlex.split(command)[1:]) == 0
        exported = (tmp_path / "acme-default-v2.csv").read_bytes()
    assert len(exported.splitlines()) == 1 + 41
    # the notice keeps its CSV (11 changes) but leaves out the XLSX above its own limit
    (notice, _) = price_change_notice(
        second, deck_of(second), rig.config, rates_of(rig, deck_of(second))
    )
    assert sorted(read(notice).attachments) == ["acme-default-v2-changes.csv"]


def test_the_report_lists_deferred_rows_with_both_dates(rig):
    dated = "Destination,Prefix,Rate,Effective Date\r\n" + "".join(
        f"Dest {c},{c},{p},2025-01-21\r\n" for c, p in [("4400", "0.02"), ("4401", "0.005")]
    )
    rig.send([("rates.csv", csv_deck(codes(3)))], at=V1_AT)
    outcome = rig.send([("update.csv", dated.encode())], at=V2_AT)
    deck = deck_of(outcome)
    assert [d["code"] for d in deck["deferred"]] == ["4400"]
    r = read(import_report(outcome, deck, rig.config, rates_of(rig, deck)))
    both(r, "2025-01-21 00:00 UTC", "2025-01-27 10:00 UTC")  # stated, then effective
    c = read(vendor_confirmation(outcome, rig.config))
    both(c, "(1)", "2025-01-21 00:00 UTC", "2025-01-27 10:00 UTC", "notice period")


def test_a_refused_deck_is_reported_without_a_file(rig):
    outcome = rig.send([("bad.csv", csv_deck(codes(3)) + b"Dest x,44ab,0.1\r\n")])
    r = read(import_report(outcome, deck_of(outcome), rig.config, rates_of(rig, deck_of(outcome))))
    assert "refused (too_many_rejected)" in r.subject
    assert r.attachments == {}
    both(r, "1 of 4 rows were rejected", "44ab", "bad_code")


# --- price-change notice --------------------------------------------------------------------


def test_the_price_change_notice_lists_exactly_the_changed_codes(rig, two_versions):
    _, second = two_versions
    notices = price_change_notice(
        second, deck_of(second), rig.config, rates_of(rig, deck_of(second))
    )
    # the subscribers of every table and of acme/default, one message each
    assert sorted(n.recipients for n in notices) == [
        ("acme-default@carrier.example",),
        ("all@carrier.example",),
    ]
    assert len({n.message_id for n in notices}) == 2
    r = read(notices[0])
    assert r.message["Auto-Submitted"] == "auto-generated"
    assert r.subject == (
        "Price changes: Acme Voice Wholesale default version 2 — 5 increases, 3 decreases, "
        "1 new code, 2 removed codes"
    )
    assert sorted(r.attachments) == ["acme-default-v2-changes.csv", "acme-default-v2-changes.xlsx"]
    rows = csv_rows(r.attachments["acme-default-v2-changes.csv"])
    assert {x["Code"] for x in rows} == CHANGED and len(rows) == len(CHANGED)
    by_code = {x["Code"]: x for x in rows}
    # an increase takes effect after the 7-day notice; the old price is the one it replaces
    assert (by_code["4400"]["Change"], by_code["4400"]["Old Price"]) == ("increase", "0.01")
    assert by_code["4400"]["New Price"] == "0.02"
    assert by_code["4400"]["Effective From (UTC)"] == "2025-01-27 10:00:00"
    assert (by_code["4405"]["Change"], by_code["4405"]["New Price"]) == ("decrease", "0.005")
    assert (by_code["3300"]["Change"], by_code["3300"]["Old Price"]) == ("new code", "")
    assert (by_code["4428"]["Change"], by_code["4428"]["New Price"]) == ("removed", "")
    assert by_code["4428"]["Effective From (UTC)"] == "2025-01-20 10:00:00"

    book = openpyxl.load_workbook(io.BytesIO(r.attachments["acme-default-v2-changes.xlsx"]))
    sheet = list(book.active.iter_rows(values_only=True))
    assert list(sheet[0]) == list(rows[0])
    assert [[c or "" for c in line] for line in sheet[1:]] == [list(x.values()) for x in rows]

    both(r, "(5)", "4400", "0.02", "2025-01-27 10:00 UTC", "acme-default-v2-changes.xlsx")


def test_no_notice_when_nothing_changed_or_nobody_subscribes(rig, two_versions):
    # the same rates in another file: a new version, but no price changed
    same = rig.send([("again.csv", csv_deck(V2_ROWS) + b"\r\n")], subject="Acme A-Z full", at=V3_AT)
    deck = deck_of(same)
    assert (deck["status"], deck["version"]) == ("imported", 3)
    assert price_change_notice(same, deck, rig.config, rates_of(rig, deck)) == []
    # a refused deck changes nothing either
    refused = rig.send([("x.csv", b"Hello,World\r\nfoo,bar\r\n")], at=V3_AT)
    assert (
        price_change_notice(refused, deck_of(refused), rig.config, rates_of(rig, deck_of(refused)))
        == []
    )


@pytest.fixture(params=["whole version", "changed codes"])
def pairing(request, monkeypatch):
    """Either way a change list reads the version before it: whole, or the changed codes'
    rows by the index (``rates.changes.WHOLE_READ_SHARE``); both give the same list."""
    import ingestd.rates.changes

    monkeypatch.setattr(
        ingestd.rates.changes, "WHOLE_READ_SHARE", 0.0 if request.param == "whole version" else 1.0
    )


def test_price_change_rows_pairs_each_change_with_the_rate_it_replaces(rig, two_versions, pairing):
    changes = price_changes(rig.store, rig.store.find_table(VENDOR), 2)
    assert changes["change_class"].value_counts(sort=True).rows() == [
        ("increase", 5),
        ("decrease", 3),
        ("discontinued", 2),
        ("new", 1),
    ]
    inc = changes.filter(pl.col("code") == "4401").row(0, named=True)
    assert (price(inc["old_price"]), price(inc["new_price"])) == ("0.01", "0.02")
    assert (inc["old_increment"], inc["new_increment"]) == ("1/1", "1/1")


def test_a_rollback_lists_cancelled_changes_and_withdrawn_codes(rig, two_versions, pairing):
    table = rig.store.find_table(VENDOR)
    assert rollback(rig.store, table, 1) == 3
    changes = price_changes(rig.store, rig.store.find_table(VENDOR), 3)
    by_code = {r["code"]: r for r in changes.iter_rows(named=True)}
    assert set(by_code) == CHANGED
    # 3300 is gone altogether; the rest keep version 1's rate again
    assert (by_code["3300"]["change"], price(by_code["3300"]["old_price"])) == ("removed", "0.3")
    increase = by_code["4400"]
    assert increase["change"] == "change cancelled"
    assert (price(increase["old_price"]), price(increase["new_price"])) == ("0.02", "0.01")
    assert increase["effective_from"] == datetime(2025, 1, 27, 10, 0)
    restored = by_code["4428"]  # its discontinuation taken back
    assert (restored["old_price"], price(restored["new_price"])) == (None, "0.01")


def test_price_change_rows_of_an_sms_table(rig, pairing):
    def load(data: bytes, at: datetime):
        return import_sheet(
            rig.store, rig.config, VENDOR, data, file_name="sms.csv", received_at=at,
            kind="sms", table="sms", mode="partial",
        )  # fmt: skip

    load(b"MCC,MNC,Price\r\n234,10,0.01\r\n234,15,0.02\r\n", V1_AT)
    assert load(b"MCC,MNC,Price\r\n234,10,0.02\r\n262,02,0.03\r\n", V2_AT).version == 2
    changes = price_changes(rig.store, rig.store.find_table(VENDOR, name="sms"), 2)
    assert changes.select("code", "change").rows() == [("23410", "increase"), ("26202", "new code")]
    assert "old_increment" not in changes.columns  # SMS has no increments


# --- the same message, every time ---------------------------------------------------------


def test_message_ids_are_stable_and_differ_by_purpose_and_recipients(make):
    rig = make()
    rig.send([("rates.csv", csv_deck(codes(30)))], at=V1_AT, subject="Acme A-Z full")
    outcome = rig.send([("rates.csv", csv_deck(V2_ROWS))], at=V2_AT, subject="Acme A-Z full")
    first = notifications(outcome, rig.config, rates_for(outcome, rig.config, rig.store))
    again = notifications(
        outcome, rig.config, rates_for(outcome, rig.config, rig.store), now=datetime(2031, 1, 1)
    )
    assert [o.message_id for o in first] == [o.message_id for o in again]
    assert [o.purpose for o in first] == [
        "confirmation",
        "import_report",
        "price_change",
        "price_change",
    ]
    assert len({o.message_id for o in first}) == len(first)
    assert {o.message_id.split(".")[0] for o in first} == {"<confirm", "<report", "<prices"}

    # from the outcome as the messages row stores it (JSON): the very same message
    stored = json.loads(json.dumps(outcome.as_dict(), default=str))
    from_row = vendor_confirmation(stored, rig.config)
    assert from_row.message_id == first[0].message_id
    assert read(from_row).text == read(first[0]).text

    # other recipients, another message
    other = make(folder="ops", vendor='confirm_to = ["ops@acme.example"]\n')
    assert vendor_confirmation(outcome, other.config).message_id != first[0].message_id


# --- templates --------------------------------------------------------------------------------


def test_an_override_folder_replaces_one_template_and_the_rest_fall_back(tmp_path, make):
    local = tmp_path / "templates.local"
    local.mkdir()
    (local / "vendor_confirmation.txt").write_text(
        "OVERRIDDEN for {{ vendor.name }}: {{ verdict }}\n", encoding="utf-8"
    )
    (local / "quarantine_alert.html").write_text(
        '{% extends "bundled/quarantine_alert.html" %}'
        "{% block footer %}Call the duty phone.{% endblock %}",
        encoding="utf-8",
    )
    rig = make(daemon=f'templates_dir = "{local}"\n')
    outcome = rig.send([("rates.csv", csv_deck(codes(5)))])
    r = read(vendor_confirmation(outcome, rig.config))
    assert r.text == "OVERRIDDEN for Acme Voice Wholesale: accepted\n"
    assert "Dear Acme Voice Wholesale" in r.html_text  # the bundled HTML part
    assert r.subject.startswith("Accepted:")  # and the bundled subject

    held = rig.send([("rates.csv", csv_deck(codes(5)))], key=False)
    a = read(quarantine_alert(held, rig.config))
    assert "Call the duty phone." in a.html_text and "What to do" in a.html_text
    assert "ingestd -c" in a.text  # the bundled text part
    assert check_templates(local) == []


def test_check_templates_names_a_broken_override(tmp_path):
    assert check_templates(None) == []
    (tmp_path / "import_report.html").write_text("{% if %}", encoding="utf-8")
    (problem,) = check_templates(tmp_path)
    assert "import_report.html" in problem


def test_subjects_are_one_line_and_html_escapes_what_vendors_write(rig):
    outcome = rig.send(
        [("rates.csv", csv_deck(codes(5)))],
        subject="<b>rates</b> & more\tplus",
    )
    r = read(vendor_confirmation(outcome, rig.config))
    assert "\n" not in r.subject and "<b>rates</b> & more plus" in r.subject
    assert "&lt;b&gt;rates&lt;/b&gt; &amp; more" in r.html
    assert "<b>rates</b>" not in r.html


# --- filters ----------------------------------------------------------------------------------


def test_filters_show_exact_prices_instants_and_aligned_tables():
    assert price("0.0200000000") == "0.02" and price("1.0000") == "1" and price(None) == "—"
    assert instant("2025-01-27 10:00:00") == "2025-01-27 10:00 UTC"
    assert instant(datetime(2025, 1, 27, 10, 0, 5)) == "2025-01-27 10:00:05 UTC"
    table = text_table(
        [{"c": "44", "n": 5}, {"c": "4420", "n": 12345}], ["Code:c", "Rows:n:number"]
    )
    assert table.splitlines() == [
        "Code    Rows",
        "----  ------",
        "44         5",
        "4420  12,345",
    ]
