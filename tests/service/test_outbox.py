"""The outbox through the application layer: list, one entry, retry, delivery of what is due."""

from __future__ import annotations

import pytest
from rig.mail import rate_message, signed
from rig.signers import SigningKey

from ingestd.errors import UsageError
from ingestd.service import App, audit, messages, outbox

from .conftest import csv_deck


@pytest.fixture
def filled(app: App, key: SigningKey) -> App:
    """What an imported message put in the outbox (the app does not deliver on close)."""
    raw = signed(rate_message([("rates.csv", csv_deck(("4400", "0.0100")))]), key)
    assert messages.import_message(app, raw).status == "imported"
    return app


def test_list_get_deliver_retry(filled: App):
    pending = outbox.entries(filled)
    assert pending and {e.state for e in pending} == {"pending"}
    assert outbox.entries(filled, "sent") == []
    first = outbox.entry(filled, pending[0].id)
    assert first == pending[0] and first.recipients

    report = outbox.deliver_due(filled)
    assert sorted(report.as_dict()["sent"]) == [e.id for e in pending]
    assert {e.state for e in outbox.entries(filled)} == {"sent"}
    with pytest.raises(UsageError, match="was sent already"):
        outbox.retry(filled, first.id, actor="cli tester")


def test_a_failed_message_is_made_due_again(filled: App):
    entry = outbox.entries(filled)[0]
    with filled.store.begin_write() as conn:
        conn.exec_driver_sql(
            f"UPDATE outbox SET state = 'failed', attempts = 5 WHERE id = {entry.id}"
        )
    again = outbox.retry(filled, entry.id, actor="cli tester")
    assert (again.id, again.state, again.attempts) == (entry.id, "pending", 0)
    (retried,) = audit.entries(filled)
    assert (retried.actor, retried.action, retried.target) == (
        "cli tester", "retry", f"outbox {entry.id}",
    )  # fmt: skip
    assert retried.detail == {"was": "failed", "attempts": 5}


def test_unknown_ids_and_states_are_usage_errors(app: App):
    with pytest.raises(UsageError, match="no outbox message 999"):
        outbox.entry(app, 999)
    with pytest.raises(UsageError, match="no outbox message 999"):
        outbox.retry(app, 999, actor="cli tester")
    with pytest.raises(UsageError, match="no outbox state"):
        outbox.entries(app, "lost")
