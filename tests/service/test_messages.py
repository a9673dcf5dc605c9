"""Messages through the application layer: the pipeline, the quarantine (list, show, release
with answers, drop), the counts, and the outbox delivered when the app closes."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from rig.mail import SENDER, VENDOR, rate_message, signed
from rig.signers import SigningKey

from ingestd.config import Config
from ingestd.errors import UsageError
from ingestd.service import App, audit, decks, messages, tables

from .conftest import csv_deck

ME = "cli tester"  # the actor the audit log names
DECK = csv_deck(("4400", "0.0100"), ("4401", "0.0200"))


def mail(key: SigningKey | None, **headers: str) -> bytes:
    raw = rate_message([("rates.csv", DECK)], **headers)
    return signed(raw, key) if key is not None else raw


def test_a_signed_message_is_imported(app: App, key: SigningKey, tmp_path: Path):
    outcome = messages.import_message(app, mail(key))
    assert (outcome.status, outcome.vendor, outcome.from_addr) == ("imported", VENDOR, SENDER)
    assert tables.versions(app, VENDOR).table.current_version == 1
    path = tmp_path / "again.eml"
    path.write_bytes(mail(key))
    assert messages.import_message_file(app, path).status == "duplicate"
    with pytest.raises(UsageError, match="cannot read"):
        messages.import_message_file(app, tmp_path / "missing.eml")
    counts = messages.counts(app)
    assert counts["quarantine_held"] == 0 and sum(counts["messages"].values()) >= 1


def test_the_quarantine_list_show_release_drop(app: App, key: SigningKey):
    unsigned = messages.import_message(app, mail(None))
    spam = messages.import_message(app, mail(None, message_id="<spam@acme.example>"))
    assert unsigned.status == spam.status == "quarantined"
    assert [e.id for e in messages.held(app)] == [unsigned.quarantine_id, spam.quarantine_id]
    entry = messages.held_message(app, unsigned.quarantine_id)
    assert (entry.state, entry.from_addr) == ("held", SENDER)
    assert messages.counts(app)["quarantine_held"] == 2

    with pytest.raises(UsageError, match="accept-unauthenticated"):
        messages.release(app, unsigned.quarantine_id, actor=ME)
    answers = decks.answers(map=["Prefix=code", "Rate=price"])
    released = messages.release(
        app,
        unsigned.quarantine_id,
        actor=ME,
        accept_unauthenticated=True,
        note="checked",
        answers=answers,
    )
    assert released.status == "imported"
    assert messages.held_message(app, unsigned.quarantine_id).resolution == "checked"
    with pytest.raises(UsageError, match="released already"):
        messages.release(app, unsigned.quarantine_id, actor=ME, accept_unauthenticated=True)

    dropped = messages.drop(app, spam.quarantine_id, actor=ME, note="spam")
    assert (dropped.state, dropped.resolution) == ("dropped", "spam")
    assert not dropped.raw_path.exists()
    assert messages.held(app) == []
    assert len(messages.held(app, all_states=True)) == 2

    # the release and the drop are in the audit log, newest first; the refusals are not
    drop, release = audit.entries(app)
    assert (drop.actor, drop.action, drop.target, drop.note, drop.detail) == (
        ME, "drop", f"quarantine {spam.quarantine_id}", "spam", None,
    )  # fmt: skip
    assert (release.actor, release.action, release.note) == (ME, "release", "checked")
    assert release.target == f"quarantine {unsigned.quarantine_id}"
    assert release.detail["status"] == "imported"
    assert release.detail["tables"] == [
        {"table": f"{VENDOR}/voice/default", "status": "imported", "version": 1}
    ]


def test_unknown_held_ids_are_usage_errors(app: App):
    for call in (
        messages.held_message,
        functools.partial(messages.release, actor=ME),
        functools.partial(messages.drop, actor=ME),
    ):
        with pytest.raises(UsageError, match="no quarantined message 999"):
            call(app, 999)
    assert audit.entries(app) == []


def test_what_the_pipeline_put_in_the_outbox_goes_when_the_app_closes(
    config: Config, key: SigningKey
):
    sent = config.outbound.dir
    with App.open(config) as app:
        assert messages.import_message(app, mail(key)).status == "imported"
        waiting = [e.state for e in app.outbox.list()]
        assert waiting and set(waiting) == {"pending"}
        assert not sent.exists() or not any(sent.iterdir())
    assert any(sent.iterdir())
    with App.open(config) as app:
        assert {e.state for e in app.outbox.list()} == {"sent"}
