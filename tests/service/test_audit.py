"""The audit log through the application layer, on every database (README "Users and the
audit log"); what release, drop and retry record is in test_messages.py and test_outbox.py."""

from __future__ import annotations

import pytest

from ingestd.errors import UsageError
from ingestd.service import App, audit
from ingestd.service.audit import Action


@pytest.fixture
def app(app_on_db: App) -> App:
    return app_on_db


def test_entries_are_recorded_and_listed_newest_first(app):
    assert audit.entries(app) == []
    first = audit.record(app, "user alice", Action.RELEASE, "quarantine 12", note="phoned",
                         detail={"status": "imported", "tables": [{"version": 3}]})  # fmt: skip
    second = audit.record(app, "cli root", Action.DROP, "quarantine 13")
    third = audit.record(app, "api key ops", Action.RETRY, "outbox 5", detail={"was": "failed"})
    listed = audit.entries(app)
    assert [e.id for e in listed] == [third.id, second.id, first.id]
    assert listed[2] == first
    assert first.as_dict() | {"at": None} == {
        "id": first.id, "at": None, "actor": "user alice", "action": "release",
        "target": "quarantine 12", "note": "phoned",
        "detail": {"status": "imported", "tables": [{"version": 3}]},
    }  # fmt: skip
    assert (listed[1].note, listed[1].detail) == (None, None)

    assert [e.id for e in audit.entries(app, limit=2)] == [third.id, second.id]
    assert [e.id for e in audit.entries(app, before=third.id)] == [second.id, first.id]
    assert [e.id for e in audit.entries(app, actor="cli root")] == [second.id]
    assert [e.id for e in audit.entries(app, action="retry")] == [third.id]
    assert [e.id for e in audit.entries(app, action=Action.RELEASE)] == [first.id]
    with pytest.raises(UsageError, match="'reboot' is not an audited action"):
        audit.entries(app, action="reboot")


def test_a_long_actor_and_target_are_cut_to_their_columns(app):
    entry = audit.record(app, "api key " + "k" * 300, Action.RETRY, "outbox " + "9" * 400)
    (found,) = audit.entries(app)
    assert found == entry
    assert (len(found.actor), len(found.target)) == (128, 255)
