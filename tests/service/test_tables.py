"""Rate tables through the application layer: listing, versions, rows, exports, diffs, lookups,
rollback and purge, and the errors for what does not exist."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from ingestd.errors import RefusedError, UsageError
from ingestd.service import App, decks, tables

from .conftest import RECEIVED, csv_deck

LATER = RECEIVED + timedelta(days=1)


@pytest.fixture
def filled(app: App) -> App:
    """acme's voice table with two versions (v2, a full deck, lowers 4401, withdraws 4402 and
    adds 4403: the mass-discontinue guard accepted), and beta's with one."""
    for vendor, deck, when in (
        ("acme", csv_deck(("4400", "0.0100"), ("4401", "0.0200"), ("4402", "0.0300")), RECEIVED),
        ("acme", csv_deck(("4400", "0.0100"), ("4401", "0.0150"), ("4403", "0.0500")), LATER),
        ("beta", csv_deck(("44", "0.0080")), RECEIVED),
    ):
        (outcome,) = decks.import_deck(
            app,
            vendor,
            deck,
            file_name=f"{vendor}.csv",
            received_at=when,
            mode="full",
            accept_guards=True,
        )
        assert outcome.status == "imported", outcome.as_dict()
    return app


def test_tables_and_their_versions(filled):
    assert [t.label for t in tables.tables(filled)] == ["acme/voice/default", "beta/voice/default"]
    assert [t.label for t in tables.tables(filled, "beta")] == ["beta/voice/default"]
    found = tables.versions(filled, "acme")
    assert found.table.current_version == 2
    assert [(v.number, v.file_name, v.received_at) for v in found.versions] == [
        (1, "acme.csv", RECEIVED),
        (2, "acme.csv", LATER),
    ]
    data = found.as_dict()
    assert data["table"]["vendor"] == "acme" and [v["version"] for v in data["versions"]] == [1, 2]
    assert tables.version(filled, "acme", 1, kind="voice").rows_total == 3


def test_what_does_not_exist_is_refused(filled):
    with pytest.raises(RefusedError) as e:
        tables.versions(filled, "nobody")
    assert e.value.reason == "no_table"
    with pytest.raises(RefusedError) as e:
        tables.version(filled, "acme", 9)
    assert e.value.reason == "no_version"
    with pytest.raises(RefusedError) as e:
        tables.rows(filled, "acme", version=9)
    assert e.value.reason == "no_version"
    with pytest.raises(RefusedError) as e:
        tables.diff(filled, "acme", 1, 9)
    assert e.value.reason == "no_version"
    with pytest.raises(RefusedError) as e:
        tables.rollback(filled, "acme", 5)
    assert e.value.reason == "no_version"
    with pytest.raises(RefusedError):
        tables.lookup(filled, "acme", "4400", table="premium")


def test_a_vendor_with_several_tables_must_say_which(filled):
    decks.import_deck(
        filled, "acme", csv_deck(("33", "0.0200")), file_name="p.csv", table="premium"
    )
    with pytest.raises(UsageError, match="several tables"):
        tables.versions(filled, "acme")
    assert tables.versions(filled, "acme", table="premium").table.current_version == 1


def test_rows_of_a_version_and_at_an_instant(filled):
    latest = tables.rows(filled, "acme")
    assert latest.version is None
    assert latest.frame["code"].to_list() == ["4400", "4401", "4401", "4402", "4402", "4403"]
    first = tables.rows(filled, "acme", version=1)
    assert sorted(first.frame["code"].to_list()) == ["4400", "4401", "4402"]
    before = tables.rows(filled, "acme", at=RECEIVED + timedelta(hours=1))
    assert dict(zip(before.frame["code"], before.frame["price1"], strict=True)) == {
        "4400": Decimal("0.0100"),
        "4401": Decimal("0.0200"),
        "4402": Decimal("0.0300"),
    }
    after = tables.rows(filled, "acme", at=LATER + timedelta(days=30))
    assert after.frame.filter(~after.frame["discontinued"])["code"].to_list() == [
        "4400",
        "4401",
        "4403",
    ]


def test_export_to_bytes_and_to_a_file(filled):
    data = tables.export(filled, "acme", version=1)
    assert isinstance(data, bytes)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["4400", "4401", "4402"]
    out = io.BytesIO()
    assert tables.export(filled, "acme", version=1, out=out) == 3
    assert out.getvalue() == data
    assert tables.export(filled, "acme", fmt="json", version=1).startswith(b"{")


def test_diff(filled):
    found = tables.diff(filled, "acme", 1, 2)
    assert (found.diff.from_version, found.diff.to_version) == (1, 2)
    assert found.diff.added["code"].to_list() == ["4401", "4402", "4403"]
    assert found.diff.counts == {"decrease": 1, "discontinued": 1, "new": 1, "withdrawn": 0}
    data = found.as_dict()
    assert data["table"]["vendor"] == "acme" and data["from"] == 1 and data["to"] == 2
    assert [(r["code"], r["change_class"]) for r in data["added"]][-1] == ("4403", "new")


def test_lookup_in_one_table_and_across_vendors(filled):
    hit = tables.lookup(filled, "acme", "+44 01 234", at=LATER + timedelta(days=30))
    assert hit.match is not None
    assert (hit.match["code"], hit.price) == ("4401", Decimal("0.0150"))
    data = hit.as_dict()
    assert data["match"]["price1"] == "0.015" and "id" not in data["match"]
    assert data["at"] == (LATER + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    miss = tables.lookup(filled, "acme", "33 1", at=LATER)
    assert miss.match is None and miss.as_dict()["match"] is None

    ranked = tables.lookup_all(filled, "4401999", at=LATER + timedelta(days=30))
    assert [(h.table.vendor, h.match["code"]) for h in ranked] == [("beta", "44"), ("acme", "4401")]
    assert tables.lookup_all(filled, "33", at=LATER) == []


def test_rollback_and_purge(filled):
    done = tables.rollback(filled, "acme", 1)
    assert (done.to, done.version.number, done.version.rollback_to) == (1, 3, 1)
    assert done.as_dict()["version"]["version"] == 3

    def content(version: int) -> list[tuple]:
        frame = tables.rows(filled, "acme", version=version).frame
        return sorted(frame.select("code", "price1", "discontinued").unique().rows())

    assert content(3) == content(1)
    assert tables.purge(filled, "acme", now=LATER) is None  # nothing discontinued
