"""The changes between any two versions as the console pages them (``service.changes``): the
list of a pair worked out once, filtered, searched, paged and written as CSV."""

from __future__ import annotations

from datetime import datetime

import pytest

from ingestd.errors import RefusedError, UsageError
from ingestd.service import changes, decks, tables

FIRST = b"Destination,Prefix,Rate\nGermany,49,0.0123\nFrance,33,0.0200\nItaly,39,0.0150\n"
SECOND = b"Destination,Prefix,Rate\nGermany,49,0.0150\nFrance,33,0.0180\nSpain,34,0.0110\n"


@pytest.fixture
def table(app):
    for data, day in ((FIRST, 1), (SECOND, 8)):
        (done,) = decks.import_deck(
            app,
            "acme",
            data,
            file_name=f"d{day}.csv",
            mode="full",
            received_at=datetime(2026, 3, day),
            accept_guards=True,
        )
        assert done.status == "imported", done.message
    return tables.find_table(app, "acme")


def test_the_list_of_a_pair_is_worked_out_once(app, table, monkeypatch):
    calls = []
    real = changes.price_changes
    monkeypatch.setattr(changes, "price_changes", lambda *a, **k: calls.append(a) or real(*a, **k))
    changes._kept.clear()
    first = changes.change_page(app, table, 1, 2)
    again = changes.change_page(app, table, 2, 1, change_class="increase")
    assert len(calls) == 1
    assert first.counts == {"increase": 1, "decrease": 1, "new": 1, "discontinued": 1}
    assert [r["code"] for r in again.rows] == ["49"] and again.matching == 1
    assert (again.rows[0]["old_price"], again.rows[0]["new_price"]) == ("0.0123", "0.015")


def test_from_the_empty_table_every_row_is_new(app, table):
    found = changes.change_page(app, table, 0, 1, limit=2)
    assert found.matching == 3 and len(found.rows) == 2 and found.more
    rest = changes.change_page(app, table, 0, 1, offset=2, limit=2)
    assert len(rest.rows) == 1 and not rest.more
    assert {r["change_class"] for r in found.rows + rest.rows} == {"new"}


def test_search_by_code_prefix_or_destination_and_csv(app, table):
    by_name = changes.change_page(app, table, 1, 2, search="FRA")
    by_code = changes.change_page(app, table, 1, 2, search="+3")
    assert [r["code"] for r in by_name.rows] == ["33"]
    assert sorted(r["code"] for r in by_code.rows) == ["33", "34", "39"]
    text = changes.changes_csv(app, table, 1, 2, change_class="decrease").decode()
    assert text.splitlines()[1].startswith("33,France,decrease,decrease,0.02,0.018,")


def test_bad_pairs_and_classes_are_refused(app, table):
    with pytest.raises(UsageError, match="two different versions"):
        changes.change_page(app, table, 2, 2)
    with pytest.raises(RefusedError):
        changes.change_page(app, table, 1, 7)
    with pytest.raises(UsageError, match="change class 'up'"):
        changes.change_page(app, table, 1, 2, change_class="up")
