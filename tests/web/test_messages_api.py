"""Messages and the quarantine over HTTP (docs/http.md#read): what the pipeline did, the held
messages, and an admin's release (with answers) or drop."""

from __future__ import annotations

from rig.mail import rate_message

from ingestd.service import audit, messages, tables

from .test_api import PROBLEM, assert_problem

DECK = b"Destination,Prefix,Rate\r\nUK,4400,0.0100\r\nUK 2,4401,0.0200\r\n"


def held(api) -> tuple[int, int]:
    """Two unsigned messages from acme's address: held (the sender is not proven)."""
    first = messages.import_message(api.app, rate_message([("rates.csv", DECK)]))
    second = messages.import_message(
        api.app, rate_message([("other.csv", DECK)], subject="Other rates")
    )
    assert first.status == second.status == "quarantined"
    return first.quarantine_id, second.quarantine_id


def test_messages_newest_first_with_paging_and_one_in_full(api):
    held(api)
    with api.client("reader") as c:
        page = c.get("/api/v1/messages", params={"limit": 1}).json()
        (newest,) = page["messages"]
        older = c.get("/api/v1/messages", params={"before": page["next_before"]}).json()
        one = c.get(f"/api/v1/messages/{newest['id']}").json()
        assert_problem(c.get("/api/v1/messages/999"), 404, "no_message")
    assert newest["subject"] == "Other rates" and newest["state"] == "quarantined"
    assert [m["id"] for m in older["messages"]] == [newest["id"] - 1]
    assert older["next_before"] is None
    assert one["authentication"]["status"] != "pass"
    assert (one["outcome"] and one["correlation_id"] is None) or isinstance(one["outcome"], dict)


def test_the_quarantine_listed_shown_released_and_dropped_by_an_admin(api):
    first, second = held(api)
    with api.client("reader") as c:
        listed = c.get("/api/v1/quarantine").json()["held"]
        assert [h["id"] for h in listed] == [first, second]
        shown = c.get(f"/api/v1/quarantine/{first}").json()
        assert shown["reason"] == listed[0]["reason"] and shown["detail"]
        assert_problem(c.get("/api/v1/quarantine/999"), 404, "no_held")
        assert_problem(c.post(f"/api/v1/quarantine/{first}/release"), 403, "forbidden")
    with api.client("admin") as c:
        refused = c.post(f"/api/v1/quarantine/{first}/release", json={})
        assert refused.status_code == 422  # unauthenticated: only with accept_unauthenticated
        assert refused.headers["content-type"].startswith(PROBLEM)
        released = c.post(
            f"/api/v1/quarantine/{first}/release",
            json={"accept_unauthenticated": True, "note": "checked by phone"},
        )
        assert released.status_code == 200, released.text
        assert released.json()["status"] == "imported"
        dropped = c.post(f"/api/v1/quarantine/{second}/drop", json={"note": "a copy"})
        assert dropped.json()["state"] == "dropped"
        assert dropped.json()["resolution"] == "a copy (api key admin)"
        bad = c.post(f"/api/v1/quarantine/{second}/release", json={"date_order": "sometimes"})
        assert bad.status_code == 422
    assert tables.versions(api.app, "acme").table.current_version == 1
    entry = messages.held_message(api.app, first)
    assert entry.resolution == "checked by phone (api key admin)"
    # the audit log names the key that decided, the refused attempts left no entry
    logged = [(e.actor, e.action, e.target) for e in audit.entries(api.app)]
    assert logged == [
        ("api key admin", "drop", f"quarantine {second}"),
        ("api key admin", "release", f"quarantine {first}"),
    ]
    with api.client("reader") as c:
        every = c.get("/api/v1/quarantine", params={"all": True}).json()["held"]
        assert {h["state"] for h in every} == {"released", "dropped"}
        assert c.get("/api/v1/quarantine").json()["held"] == []
