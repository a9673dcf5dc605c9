"""Vendor profiles on real databases (docs/reading.md#decks-nobody-taught-us): kept per vendor and
layout, merged with what is stored, counted when used, dropped one or all."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ingestd.errors import UsageError
from ingestd.rates.profiles import (
    drop_profile,
    list_profiles,
    mark_used,
    profiles,
    save_profile,
)
from ingestd.rates.schema import vendor_profiles
from ingestd.rates.store import Store
from ingestd.sheets.answers import Answers, header_fingerprint

HEADER = ("Indicatif", "Destination", "Tarif/min", "Facturation", "Date d'effet")
LAYOUT = header_fingerprint(HEADER)
OTHER = header_fingerprint(["前缀", "目的地", "费率", "生效日期"])


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


def test_a_profile_is_kept_and_read_back(store):
    assert profiles(store, "acme") == {} and list_profiles(store, "acme") == []
    answers = Answers.parse(
        map=["Indicatif=code", "Facturation=pulse"],
        increments=["Mexico=60/60", "Côte d'Ivoire=60/1", "*=1/1"],
        date_order="dmy",
        hyphen="pair",
    )
    saved = save_profile(store, "acme", LAYOUT, answers, sheet="Tarifs", header=HEADER)
    assert profiles(store, "acme") == {LAYOUT: answers}
    assert profiles(store, "globex") == {}
    (listed,) = list_profiles(store, "acme")
    assert listed == saved
    assert (listed.vendor, listed.fingerprint, listed.sheet, listed.header) == (
        "acme",
        LAYOUT,
        "Tarifs",
        HEADER,
    )
    assert (listed.source, listed.used_count, listed.last_used_at) == ("answer", 0, None)
    assert listed.created_at == listed.updated_at
    shown = listed.as_dict()
    assert shown["answers"]["increments"]["Mexico"] == [60, 60]
    assert shown["header"] == list(HEADER)


def test_a_new_answer_is_merged_with_the_stored_one(store):
    save_profile(
        store,
        "acme",
        LAYOUT,
        Answers.parse(map=["Indicatif=code", "Tarif/min=price"], increments=["Mexico=60/60"]),
        sheet="Tarifs",
        header=HEADER,
    )
    (before,) = list_profiles(store, "acme")
    wider = (*HEADER, "Remarques")
    save_profile(
        store,
        "acme",
        LAYOUT,
        Answers.parse(map=["TARIF/MIN=ignore"], increments=["Haiti=60/60"], date_order="mdy"),
        sheet="Tarifs mai",
        header=wider,
    )
    (after,) = list_profiles(store, "acme")
    assert dict(after.answers.columns) == {"Indicatif": "code", "TARIF/MIN": "ignore"}
    assert dict(after.answers.increments) == {"Mexico": (60, 60), "Haiti": (60, 60)}
    assert after.answers.date_order == "mdy"
    assert (after.sheet, after.header) == ("Tarifs mai", wider)  # as seen the last time
    assert after.created_at == before.created_at and after.updated_at >= before.updated_at


def test_profiles_are_per_vendor_and_per_layout(store):
    save_profile(
        store, "acme", LAYOUT, Answers.parse(map=["Indicatif=code"]), sheet="a", header=HEADER
    )
    save_profile(store, "acme", OTHER, Answers.parse(map=["前缀=code"]), sheet="b", header=["前缀"])
    save_profile(store, "globex", LAYOUT, Answers.parse(hyphen="range"), sheet="c", header=HEADER)
    assert set(profiles(store, "acme")) == {LAYOUT, OTHER}
    assert profiles(store, "acme")[OTHER].columns == {"前缀": "code"}
    assert profiles(store, "globex") == {LAYOUT: Answers(hyphen="range")}
    assert [p.fingerprint for p in list_profiles(store, "acme")] == [LAYOUT, OTHER]


def test_use_is_counted(store):
    save_profile(store, "acme", LAYOUT, Answers.parse(date_order="dmy"), sheet=None, header=())
    mark_used(store, "acme", LAYOUT)
    mark_used(store, "acme", LAYOUT)
    mark_used(store, "globex", LAYOUT)  # no such profile: nothing happens
    (profile,) = list_profiles(store, "acme")
    assert profile.used_count == 2 and profile.last_used_at is not None
    assert profile.sheet is None and profile.header == ()


def test_an_answer_stays_an_answer_when_a_deck_proves_the_same(store):
    save_profile(
        store, "acme", LAYOUT, Answers(date_order="dmy"), sheet="s", header=HEADER, source="proven"
    )
    assert list_profiles(store, "acme")[0].source == "proven"
    save_profile(
        store, "acme", LAYOUT, Answers.parse(map=["Indicatif=code"]), sheet="s", header=HEADER
    )
    assert list_profiles(store, "acme")[0].source == "answer"
    save_profile(
        store, "acme", LAYOUT, Answers(hyphen="pair"), sheet="s", header=HEADER, source="proven"
    )
    (profile,) = list_profiles(store, "acme")
    assert profile.source == "answer"
    assert profile.answers == Answers(
        columns={"Indicatif": "code"}, date_order="dmy", hyphen="pair"
    )
    with pytest.raises(ValueError, match="source"):
        save_profile(store, "acme", LAYOUT, Answers(), sheet="s", header=HEADER, source="guess")


def test_long_sheet_names_and_text_in_any_script_fit(store):
    header = ["Код", "Направление", "Цена", "费率" * 2000]  # a 4,000-character header cell
    answers = Answers.parse(map=["Код=code", "Цена=price"], increments=["Россия=60/60"])
    save_profile(store, "acme", OTHER, answers, sheet="Прайс " * 100, header=header)
    (profile,) = list_profiles(store, "acme")
    assert profile.header == tuple(header) and profile.answers == answers
    assert profile.sheet == ("Прайс " * 100)[:255]


def test_drop_one_or_all(store):
    for fingerprint in (LAYOUT, OTHER, "headerless:12"):
        save_profile(store, "acme", fingerprint, Answers(hyphen="pair"), sheet="s", header=())
    save_profile(store, "globex", LAYOUT, Answers(hyphen="pair"), sheet="s", header=())
    with pytest.raises(UsageError, match="no profile 'feedbeef'"):
        drop_profile(store, "acme", "feedbeef")
    with pytest.raises(UsageError):
        drop_profile(store, "initech", LAYOUT)  # a vendor's profile is only its own
    assert drop_profile(store, "acme", OTHER) == 1
    assert set(profiles(store, "acme")) == {LAYOUT, "headerless:12"}
    assert drop_profile(store, "acme") == 2
    assert drop_profile(store, "acme") == 0
    assert profiles(store, "acme") == {}
    assert set(profiles(store, "globex")) == {LAYOUT}


def test_the_table_allows_one_profile_per_vendor_and_layout(store):
    save_profile(store, "acme", LAYOUT, Answers(hyphen="pair"), sheet="s", header=())
    (row,) = list_profiles(store, "acme")
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(
            vendor_profiles.insert().values(
                vendor="acme",
                fingerprint=LAYOUT,
                answers="{}",
                header="[]",
                source="answer",
                created_at=row.created_at,
                updated_at=row.created_at,
            )
        )
