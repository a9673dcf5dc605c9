"""docs/semantics.md#rate-semantics as pure functions: no database, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rig.factories import at, voice

from ingestd.rates import semantics
from ingestd.rates.model import DeckMode, spec_for
from ingestd.rates.semantics import (
    deck_mode_from_name,
    plan_import,
    plan_purge,
    plan_rollback,
)

RECEIVED = at("2024-05-09 11:33:01")


@dataclass
class Policy:
    short_notice: str = "defer"
    max_discontinue_share: float = 0.5
    stale_deck_days: float = 90
    max_price_factor: float = 10.0
    low_price_share: float = 0.2
    hours: dict = field(default_factory=lambda: {"increase": 168, "interval_change": 168})

    def notice_for(self, change: str) -> timedelta:
        return timedelta(hours=self.hours.get(change, 0))


def table_from(plan_inserts: pl.DataFrame, start_id: int = 1) -> pl.DataFrame:
    """Existing rows as the store would hand them over (with ids)."""
    return plan_inserts.with_row_index("id", offset=start_id).with_columns(
        pl.col("id").cast(pl.Int64)
    )


def apply(existing: pl.DataFrame, plan) -> pl.DataFrame:
    """What the store does with a plan: close ids, append inserts."""
    kept = existing.filter(~pl.col("id").is_in(plan.closes.implode()))
    next_id = (existing["id"].max() or 0) + 1 if existing.height else 1
    added = table_from(plan.inserts, next_id)
    return pl.concat([kept, added.select(kept.columns)] if kept.height else [added]).sort(
        "code", "effective_from"
    )


def plan(existing, deck, *, mode="partial", received=RECEIVED, policy=None):
    return plan_import(
        existing, deck, kind="voice", mode=mode, received_at=received, policy=policy or Policy()
    )


EMPTY = pl.DataFrame()


def rate(table: pl.DataFrame, code: str, when: datetime):
    rows = table.filter((pl.col("code") == code) & (pl.col("effective_from") <= when))
    if rows.is_empty():
        return None
    last = rows.sort("effective_from").row(-1, named=True)
    return "discontinued" if last["discontinued"] else str(last["price1"].normalize())


def test_first_deck_asap_rows_start_on_receipt_and_dates_are_kept():
    p = plan(
        EMPTY,
        voice(
            ("44", None, "0.1"), ("33", at("2024-06-01"), "0.2"), ("49", at("2020-01-01"), "0.3")
        ),
    )
    got = {r["code"]: r["effective_from"] for r in p.inserts.iter_rows(named=True)}
    assert got == {"44": RECEIVED, "33": at("2024-06-01"), "49": RECEIVED}
    assert p.counts["new"] == 3
    assert p.deferred == []


def test_increase_dated_too_early_is_deferred_to_receipt_plus_notice():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"))).inserts)
    p = plan(v1, voice(("44", at("2024-05-10"), "0.12")), received=RECEIVED + timedelta(hours=1))
    (row,) = p.inserts.iter_rows(named=True)
    assert row["change_class"] == "increase"
    assert row["effective_from"] == RECEIVED + timedelta(hours=1, days=7)
    (d,) = p.deferred
    assert (d.stated, d.effective, d.code) == (
        at("2024-05-10"),
        RECEIVED + timedelta(hours=1, days=7),
        "44",
    )


def test_increase_with_enough_notice_keeps_its_date():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"))).inserts)
    p = plan(v1, voice(("44", at("2024-06-01"), "0.12")))
    assert p.inserts["effective_from"].to_list() == [at("2024-06-01")]
    assert p.deferred == []


def test_short_notice_reject_and_accept():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"))).inserts)
    deck = voice(("44", at("2024-05-10"), "0.12"))
    rejected = plan(v1, deck, policy=Policy(short_notice="reject"))
    assert rejected.inserts.is_empty()
    assert [e.reason for e in rejected.rejected] == ["short_notice"]
    accepted = plan(v1, deck, policy=Policy(short_notice="accept"))
    assert accepted.inserts["effective_from"].to_list() == [at("2024-05-10")]
    assert any(w.name == "short_notice_accepted" for w in accepted.warnings)


def test_asap_increase_takes_notice_decrease_is_immediate():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"))).inserts)
    p = plan(
        v1, voice(("44", None, "0.20"), ("33", None, "0.05")), received=RECEIVED + timedelta(days=1)
    )
    got = {
        r["code"]: (r["change_class"], r["effective_from"]) for r in p.inserts.iter_rows(named=True)
    }
    assert got["44"] == ("increase", RECEIVED + timedelta(days=8))
    assert got["33"] == ("decrease", RECEIVED + timedelta(days=1))
    assert p.deferred == []  # ASAP is not short notice


def test_forbidden_and_discontinued_asap_are_immediate():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"))).inserts)
    later = RECEIVED + timedelta(days=1)
    p = plan(v1, voice(("44", None, "0.10", "F"), ("33", None, "0.10", "D")), received=later)
    got = {
        r["code"]: (r["change_class"], r["effective_from"]) for r in p.inserts.iter_rows(named=True)
    }
    assert got == {"44": ("forbidden", later), "33": ("discontinued", later)}


def test_unforbidden_and_interval_change_classes():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10", "F"), ("33", None, "0.10"))).inserts)
    p = plan(v1, voice(("44", None, "0.10"), ("33", None, "0.10", "", (60, 60))))
    assert dict(p.inserts.select("code", "change_class").iter_rows()) == {
        "44": "unforbidden",
        "33": "interval_change",
    }


def test_unchanged_deck_writes_nothing():
    deck = voice(("44", None, "0.10"), ("447", at("2024-01-01"), "0.20"))
    v1 = table_from(plan(EMPTY, deck).inserts)
    p = plan(v1, deck, received=RECEIVED + timedelta(days=3), mode="full")
    assert p.inserts.is_empty() and p.closes.len() == 0
    assert p.counts["unchanged"] == 2


def test_restating_a_pending_increase_is_unchanged_not_deferred_again():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"))).inserts)
    deck = voice(("44", at("2024-05-10"), "0.12"))
    v2 = apply(v1, plan(v1, deck))
    p = plan(v2, deck, received=RECEIVED + timedelta(days=1))
    assert p.inserts.is_empty() and p.closes.len() == 0
    assert p.deferred == [] and p.counts["unchanged"] == 1


def test_future_rate_keeps_the_current_one():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"))).inserts)
    v2 = apply(v1, plan(v1, voice(("44", at("2024-07-01"), "0.08"))))
    assert rate(v2, "44", at("2024-06-01")) == "0.1"
    assert rate(v2, "44", at("2024-07-02")) == "0.08"


def test_same_instant_replaces_and_restating_old_price_cancels_a_pending_change():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"))).inserts)
    v2 = apply(v1, plan(v1, voice(("44", at("2024-07-01"), "0.08"))))
    p = plan(v2, voice(("44", at("2024-07-01"), "0.10")))
    assert p.inserts.is_empty()
    assert p.closes.len() == 1  # the pending 0.08 is withdrawn
    v3 = apply(v2, p)
    assert rate(v3, "44", at("2024-08-01")) == "0.1"


def test_full_deck_discontinues_missing_codes_partial_does_not():
    v1 = table_from(
        plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"), ("49", None, "0.1"))).inserts
    )
    later = RECEIVED + timedelta(days=1)
    partial = plan(v1, voice(("44", None, "0.10")), received=later)
    assert partial.inserts.is_empty() and partial.missing_discontinued == 0
    full = plan(v1, voice(("44", None, "0.10"), ("49", None, "0.1")), received=later, mode="full")
    (row,) = full.inserts.iter_rows(named=True)
    assert (row["code"], row["discontinued"], row["effective_from"]) == ("33", True, later)
    assert str(row["price1"].normalize()) == "0.1"  # the last rate is kept as history
    assert full.counts["discontinued"] == 1


def test_discontinued_code_stays_discontinued_on_the_next_full_deck():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"))).inserts)
    v2 = apply(
        v1,
        plan(v1, voice(("44", None, "0.10")), mode="full", received=RECEIVED + timedelta(days=1)),
    )
    p = plan(v2, voice(("44", None, "0.10")), mode="full", received=RECEIVED + timedelta(days=2))
    assert p.inserts.is_empty() and p.closes.len() == 0 and p.missing_discontinued == 0


def test_discontinued_row_withdraws_later_rows_of_its_code():
    v1 = table_from(
        plan(EMPTY, voice(("44", None, "0.10"), ("44", at("2024-08-01"), "0.09"))).inserts
    )
    p = plan(v1, voice(("44", None, "0.10", "D")), received=RECEIVED + timedelta(days=1))
    assert p.closes.len() == 1
    v2 = apply(v1, p)
    assert rate(v2, "44", at("2024-09-01")) == "discontinued"


def test_mass_discontinue_guard_trips():
    v1 = table_from(plan(EMPTY, voice(*[(str(c), None, "0.1") for c in range(30, 40)])).inserts)
    p = plan(v1, voice(("30", None, "0.1")), mode="full", policy=Policy(max_discontinue_share=0.2))
    guard = next(g for g in p.guards if g.name == "mass_discontinue")
    assert guard.tripped and guard.count == 9 and p.held


def test_stale_deck_guard():
    old = plan(EMPTY, voice(("44", at("2023-01-01"), "0.1")))
    assert next(g for g in old.guards if g.name == "stale_deck").tripped
    fresh = plan(EMPTY, voice(("44", at("2023-01-01"), "0.1"), ("33", None, "0.1")))
    assert not fresh.held


def test_price_jump_guard_both_directions():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"))).inserts)
    p = plan(v1, voice(("44", None, "1.50"), ("33", None, "0.005")))
    guard = next(g for g in p.guards if g.name == "price_jump")
    assert guard.tripped and sorted(guard.examples) == ["33", "44"]
    calm = plan(v1, voice(("44", None, "0.15")))
    assert not calm.held


def test_warnings_zero_price_unknown_country_low_price_and_cheaper_shorter_prefix():
    base = [
        ("44", None, "0.10"),
        ("441", None, "0.11"),
        ("442", None, "0.12"),
        ("443", None, "0.001"),
    ]
    p = plan(EMPTY, voice(*base, ("445", None, "0"), ("999", None, "0.2")))
    names = {w.name: w for w in p.warnings}
    assert names["zero_price"].examples == ("445",)
    assert names["unknown_country_code"].examples == ("999",)
    assert "443" in names["low_price"].examples
    v1 = table_from(plan(EMPTY, voice(*base)).inserts)
    later = plan(v1, voice(("4479", at("2024-09-01"), "0.5")))
    assert {w.name for w in later.warnings} >= {"cheaper_shorter_prefix"}


def test_a_future_code_is_compared_with_its_longest_shorter_prefix_in_effect():
    v1 = table_from(
        plan(
            EMPTY,
            voice(("44", None, "0.10"), ("447", None, "0.80"), ("4471", None, "0.01", "D")),
        ).inserts
    )
    # 44715 waits for 2024-09-01: meanwhile 447 rates it (4471 is discontinued), dearer
    dear = plan(v1, voice(("44715", at("2024-09-01"), "0.50")))
    assert "cheaper_shorter_prefix" not in {w.name for w in dear.warnings}
    # 4480 falls to 44 meanwhile, cheaper than its own 0.50; 4490 to 44 too, not cheaper
    cheap = plan(v1, voice(("4480", at("2024-09-01"), "0.50"), ("4490", at("2024-09-01"), "0.05")))
    (warning,) = [w for w in cheap.warnings if w.name == "cheaper_shorter_prefix"]
    assert warning.count == 1 and warning.examples == ("4480",)


def test_same_code_on_one_instant_keeps_the_latest_statement():
    p = plan(EMPTY, voice(("44", at("2024-01-01"), "0.10"), ("44", None, "0.12")))
    assert p.inserts.select("code", "price1").rows() == [("44", p.inserts["price1"][0])]
    assert str(p.inserts["price1"][0].normalize()) == "0.12"


def test_rollback_plan_restores_content_by_value():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.1"))).inserts)
    v2 = apply(
        v1,
        plan(v1, voice(("44", None, "0.05")), received=RECEIVED + timedelta(days=1), mode="full"),
    )
    inserts, closes = plan_rollback(v2, v1, "voice")
    v3 = apply(v2, type("P", (), {"inserts": inserts, "closes": closes})())
    cols = list(spec_for("voice").row_columns)
    assert v3.select(cols).sort(cols).equals(v1.select(cols).sort(cols))


@pytest.mark.parametrize(
    ("names", "mode"),
    [
        (("Acme A-Z deck May",), DeckMode.FULL),
        (("rates_AtoZ.xlsx",), DeckMode.FULL),
        (("Full price list",), DeckMode.FULL),
        (("Rate amendment 12",), DeckMode.PARTIAL),
        (("price changes.csv",), DeckMode.PARTIAL),
        (("Weekly update",), DeckMode.PARTIAL),
        (("rates.csv",), None),
        ((None,), None),
    ],
)
def test_deck_mode_from_subject_or_file_name(names, mode):
    assert deck_mode_from_name(*names) is mode


def test_end_date_one_minute_after_start_removes_the_route():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"))).inserts)
    deck = voice(("44", at("2024-06-01 00:00"), "0.10"), ("33", at("2024-06-01 00:00"), "0.10"))
    deck = deck.with_columns(
        effective_to=pl.when(pl.col("code") == "44")
        .then(pl.lit(at("2024-06-01 00:01")))
        .otherwise(pl.lit(at("2024-07-01 00:00")))
    )
    p = plan(v1, deck)
    got = {r["code"]: r for r in p.inserts.iter_rows(named=True)}
    assert got["44"]["discontinued"] and got["44"]["effective_to"] is None
    assert (
        got["44"]["effective_from"] == at("2024-06-01")
        and got["44"]["change_class"] == "discontinued"
    )
    assert not got["33"]["discontinued"] and got["33"]["effective_to"] == at("2024-07-01")


def test_end_before_start_is_a_row_error():
    deck = voice(("44", at("2024-06-01"), "0.10")).with_columns(
        effective_to=pl.lit(at("2024-05-01"))
    )
    p = plan(EMPTY, deck)
    assert p.inserts.is_empty() and [e.reason for e in p.rejected] == ["end_before_start"]


def test_purge_takes_codes_discontinued_longer_than_the_retention():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"))).inserts)
    v2 = apply(
        v1, plan(v1, voice(("33", None, "0.10", "D")), received=RECEIVED + timedelta(days=1))
    )
    assert (
        plan_purge(v2, now=RECEIVED + timedelta(days=30), retention=timedelta(days=90)).len() == 0
    )
    ids = plan_purge(v2, now=RECEIVED + timedelta(days=92), retention=timedelta(days=90))
    assert sorted(v2.filter(pl.col("id").is_in(ids.implode()))["code"].to_list()) == ["33", "33"]


def test_vendor_change_word_that_contradicts_ours_is_a_warning():
    v1 = table_from(plan(EMPTY, voice(("44", None, "0.10"), ("33", None, "0.10"))).inserts)
    deck = voice(("44", None, "0.12"), ("33", None, "0.10")).with_columns(
        vendor_class=pl.Series(["decrease", "unchanged"])
    )
    p = plan(v1, deck)
    (w,) = [w for w in p.warnings if w.name == "vendor_class_differs"]
    assert w.examples == ("44",) and "1 say decrease where ingestd finds increase" in w.message
    agreeing = deck.with_columns(vendor_class=pl.Series(["increase", "unchanged"]))
    assert not [w for w in plan(v1, agreeing).warnings if w.name == "vendor_class_differs"]
    # on a first import ingestd finds everything new: the vendor's words are not contradicted
    assert not [w for w in plan(EMPTY, deck).warnings if w.name == "vendor_class_differs"]


# --- the settled-row shortcut changes no plan ---------------------------------------------------

_CODES = ["1", "12", "123", "44", "4420", "4477", "49", "491", "33", "331"]
_WHEN = [None, "2024-01-01 00:00:00", "2024-05-01 00:00:00", "2024-05-09 11:33:01",
         "2024-05-12 00:00:00", "2024-06-30 00:00:00"]  # fmt: skip


def _deck_rows(draw_list) -> pl.DataFrame:
    """A deck as the reader hands it over: a code is listed once per effective time (the
    reader refuses or merges the others, ``normalize._conflicts``)."""
    seen: set[tuple] = set()
    kept = [r for r in draw_list if (r[0], r[1]) not in seen and not seen.add((r[0], r[1]))]
    return voice(
        *[
            (code, at(when) if when else None, price, flags, (i1, 60))
            for code, when, price, flags, i1 in kept
        ]
    )


_row = st.tuples(
    st.sampled_from(_CODES),
    st.sampled_from(_WHEN),
    st.sampled_from(["0.01", "0.02", "0.05"]),
    st.sampled_from(["", "", "", "F", "D"]),
    st.sampled_from([1, 60]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.lists(_row, min_size=1, max_size=12),
    second=st.lists(_row, min_size=0, max_size=12),
    resend=st.booleans(),
    mode=st.sampled_from(["full", "partial"]),
    short_notice=st.sampled_from(["defer", "reject", "accept"]),
)
def test_settled_rows_shortcut_gives_the_same_plan(first, second, resend, mode, short_notice):
    """Rows restating a settled rate skip the timeline work; the plan must not notice."""
    policy = Policy(short_notice=short_notice)
    earlier = RECEIVED - timedelta(days=30)
    existing = table_from(plan(EMPTY, _deck_rows(first), received=earlier, policy=policy).inserts)
    # a re-sent deck: the first deck again (most rows settled), with the second's rows added
    deck = _deck_rows((first if resend else []) + second)
    plans = []
    for shortcut in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(semantics, "SETTLED_SHORTCUT", shortcut)
            plans.append(plan(existing, deck, mode=mode, policy=policy))
    fast, slow = plans
    key = ["code", "effective_from"]
    assert fast.inserts.sort(key).equals(slow.inserts.sort(key))
    assert fast.closes.sort().equals(slow.closes.sort())
    assert fast.counts == slow.counts
    assert fast.deferred == slow.deferred
    assert fast.rejected == slow.rejected
    assert fast.guards == slow.guards
    assert fast.warnings == slow.warnings


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(
        st.tuples(
            st.sampled_from(["0.01", "0.02", "0.05"]),
            st.sampled_from(["", "", "", "F", "D"]),
            st.sampled_from([None, "2024-05-01 00:00:00", "2024-06-30 00:00:00"]),
        ),
        min_size=len(_CODES),
        max_size=len(_CODES),
    ),
    mode=st.sampled_from(["full", "partial"]),
)
def test_a_deck_with_the_tables_codes_in_its_order_gives_the_same_plan(changes, mode):
    """The same codes in the same order, one row each: row i is compared with row i."""
    codes = sorted(_CODES)
    earlier = RECEIVED - timedelta(days=30)
    existing = table_from(
        plan(EMPTY, voice(*[(c, None, "0.02") for c in codes]), received=earlier).inserts
    )
    deck = voice(
        *[
            (c, at(when) if when else None, price, flags)
            for c, (price, flags, when) in zip(codes, changes, strict=True)
        ]
    )
    index = semantics._CodeIndex(semantics._prepare_existing(existing, spec_for("voice")))
    assert index.aligned(deck["code"])
    plans = []
    for shortcut in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(semantics, "SETTLED_SHORTCUT", shortcut)
            plans.append(plan(existing, deck, mode=mode))
    fast, slow = plans
    key = ["code", "effective_from"]
    assert fast.inserts.sort(key).equals(slow.inserts.sort(key))
    assert fast.closes.sort().equals(slow.closes.sort())
    assert (fast.counts, fast.deferred, fast.guards, fast.warnings) == (
        slow.counts,
        slow.deferred,
        slow.guards,
        slow.warnings,
    )
    # a code more, or one row more of a code: not aligned, the codes are looked up
    assert not index.aligned(pl.concat([deck["code"], pl.Series(["999"])]))
    assert not semantics._CodeIndex(pl.concat([existing, existing.head(1)]).sort("code")).aligned(
        deck["code"]
    )


def test_a_resent_deck_takes_the_shortcut_and_writes_nothing():
    deck = voice(("44", None, "0.05"), ("49", at("2024-01-01 00:00:00"), "0.02"))
    existing = table_from(plan(EMPTY, deck, received=RECEIVED - timedelta(days=3)).inserts)
    prepared, _ = semantics._prepare_deck(deck, spec_for("voice"), RECEIVED)
    existing = semantics._prepare_existing(existing, spec_for("voice"))
    rest, settled = semantics._split_settled(
        prepared, existing, semantics._CodeIndex(existing), spec_for("voice"), RECEIVED
    )
    assert (rest.height, settled.height) == (0, 2)
    again = plan(existing, deck)
    assert again.changes == 0
    assert again.counts["unchanged"] == 2
