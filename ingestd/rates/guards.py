"""The guards that hold a deck for a person and the warnings that only inform
(docs/semantics.md#guards, docs/semantics.md#warnings): pure functions of the table's rows,
the deck's classified rows and its plan."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
import polars as pl

from ingestd.rates.model import ChangeClass, DeckMode, Kind, KindSpec, iso
from ingestd.rates.plan import EXAMPLES, Finding, Plan, PolicyLike


def guards_for(
    existing: pl.DataFrame, deck: pl.DataFrame, plan: Plan, spec: KindSpec, policy: PolicyLike
) -> Iterable[Finding]:
    # existing is in code order: a code's last row is where the code changes
    last = (pl.col("code") != pl.col("code").shift(-1)).fill_null(True)
    live = existing.select((last & ~pl.col("discontinued")).sum()).item() or 0
    if plan.mode is DeckMode.FULL and live:
        share = plan.missing_discontinued / live
        yield Finding(
            "mass_discontinue",
            f"the full deck discontinues {plan.missing_discontinued} of {live} codes "
            f"({share:.1%}; limit {policy.max_discontinue_share:.0%})",
            count=plan.missing_discontinued,
            examples=_examples(deck.filter(pl.col("_missing").fill_null(False))["code"])
            if "_missing" in deck.columns
            else (),
            tripped=share > policy.max_discontinue_share,
        )

    # ASAP rows are dated "now": a deck with any of them is never stale
    # one column, not a copy of the deck (memory)
    stated = deck.select(
        pl.col("stated").filter(pl.col("_missing").is_null())
        if "_missing" in deck.columns
        else pl.col("stated")
    ).to_series()
    newest = None if stated.null_count() else stated.max()
    if newest is not None:
        age = (plan.received_at - newest).total_seconds() / 86400
        yield Finding(
            "stale_deck",
            f"the newest date in the deck is {iso(newest)}, {age:.0f} days before receipt "
            f"(limit {policy.stale_deck_days:g} days)",
            tripped=age > policy.stale_deck_days,
        )

    price = spec.rate_prices[0]
    ratio = pl.col(price).cast(pl.Float64) / pl.col("_old_price").cast(pl.Float64)
    factor = policy.max_price_factor  # above 1: a price that stays never jumps
    jumps = (
        deck.select("code", price, "_old_price")
        .filter(pl.col("_old_price").is_not_null() & (pl.col(price) != pl.col("_old_price")))
        .filter(
            (pl.col("_old_price") > 0)
            & ((ratio > factor) | ((ratio < 1 / factor) & (pl.col(price) > 0)))
        )
        if "_old_price" in deck.columns
        else deck.clear()
    )
    yield Finding(
        "price_jump",
        f"{jumps.height} prices change by more than a factor of {factor:g}",
        count=jumps.height,
        examples=_examples(jumps["code"]),
        tripped=jumps.height > 0,
    )


def warnings_for(
    existing: pl.DataFrame,
    deck: pl.DataFrame,
    inserts: pl.DataFrame,
    plan: Plan,
    spec: KindSpec,
    policy: PolicyLike,
) -> Iterable[Finding]:
    price = spec.rate_prices[0]
    # two columns, not the whole deck: these frames have a row per code (memory)
    rated = deck.select(
        pl.col("code", price).filter(~pl.col("forbidden") & ~pl.col("discontinued"))
    )
    zero = rated.filter(pl.col(price) == 0)
    if zero.height:
        yield _about_codes("zero_price", f"{zero.height} rows have a price of zero", zero)
    yield from _vendor_disagrees(deck)
    if plan.accepted_short:
        yield Finding(
            "short_notice_accepted",
            f"{plan.accepted_short} rows take effect with less notice than the policy asks "
            "(short_notice = accept)",
            count=plan.accepted_short,
        )
    if spec.kind is not Kind.VOICE or rated.is_empty():
        return
    with_cc = rated.with_columns(_cc=country_code(pl.col("code")))
    bad = with_cc.filter(pl.col("_cc").is_null())
    if bad.height:
        yield _about_codes(
            "unknown_country_code",
            f"{bad.height} codes do not start with an E.164 country code",
            bad,
        )
    low = (
        with_cc.filter(pl.col("_cc").is_not_null())
        .with_columns(_median=pl.col(price).cast(pl.Float64).median().over("_cc"))
        .filter(pl.col(price).cast(pl.Float64) < pl.col("_median") * policy.low_price_share)
        .filter(pl.col(price) > 0)
    )
    if low.height:
        share = f"{policy.low_price_share:.0%}"
        yield _about_codes(
            "low_price", f"{low.height} prices are below {share} of their country's median", low
        )
    yield from _shorter_prefix_meanwhile(existing, inserts, plan, spec)


# The vendor's own change word compared with ours (only where both speak of a price move).
COMPARABLE = ("new", "increase", "decrease", "unchanged")


def _vendor_disagrees(deck: pl.DataFrame) -> Iterable[Finding]:
    """ "Vendor says Decrease, ingestd computes increase" is worth a person's look."""
    if "vendor_class" not in deck.columns:
        return
    # ingestd's "new" only says the table had no rate yet (a first import): nothing to compare
    differ = deck.filter(
        pl.col("vendor_class").is_in(COMPARABLE)
        & pl.col("change_class").is_in(COMPARABLE)
        & (pl.col("change_class") != ChangeClass.NEW.value)
        & (pl.col("vendor_class") != pl.col("change_class"))
    )
    if differ.is_empty():
        return
    pairs = differ.group_by("vendor_class", "change_class").len().sort("len", descending=True)
    said = ", ".join(f"{n} say {v} where ingestd finds {c}" for v, c, n in pairs.iter_rows())
    yield _about_codes("vendor_class_differs", f"the vendor's change words differ: {said}", differ)


def _about_codes(name: str, message: str, rows: pl.DataFrame) -> Finding:
    return Finding(name, message, count=rows.height, examples=_examples(rows["code"]))


def _examples(codes: pl.Series) -> tuple[str, ...]:
    """The first codes in code order: the same examples whatever order the rows came in."""
    return tuple(codes.unique().sort().head(EXAMPLES))


def _shorter_prefix_meanwhile(
    existing: pl.DataFrame, inserts: pl.DataFrame, plan: Plan, spec: KindSpec
) -> Iterable[Finding]:
    """A new code dated in the future: until then its calls go to the longest shorter prefix;
    warn when that one is cheaper (docs/semantics.md#rate-semantics warnings)."""
    price = spec.rate_prices[0]
    future = inserts.filter(
        (pl.col("change_class") == ChangeClass.NEW.value)
        & (pl.col("effective_from") > plan.received_at)
    )
    if future.is_empty():
        return
    now = plan.received_at
    # the rate in effect now of every code that could be a shorter prefix
    columns = ["code", "effective_from", "discontinued", "forbidden", price]
    in_effect = (
        pl.concat(
            [
                r.select(columns).filter(pl.col("effective_from") <= now)
                for r in (existing, inserts)
            ],
            how="vertical_relaxed",
        )
        .group_by("code")
        .agg(pl.all().sort_by("effective_from").last())
        .filter(~pl.col("discontinued") & ~pl.col("forbidden"))
        .select("code", pl.col(price).alias("_short_price"))
    )
    # the longest shorter prefix with a rate, one prefix length at a time from the longest:
    # never every prefix of every future code at once (a deck of new codes dated ahead has a
    # million of them, docs/performance.md#targets memory)
    lengths = in_effect.get_column("code").str.len_chars().unique().sort(descending=True)
    waiting = future.select("code", price)
    found = []
    for length in lengths:
        if waiting.is_empty():
            break
        longer = waiting.filter(pl.col("code").str.len_chars() > length)
        hit = longer.with_columns(_shorter=pl.col("code").str.slice(0, length)).join(
            in_effect, left_on="_shorter", right_on="code", how="inner"
        )
        if hit.height:
            found.append(hit.select("code", price, "_short_price"))
            waiting = waiting.join(hit.select("code"), on="code", how="anti")
    candidates = (
        pl.concat(found).filter(pl.col("_short_price") < pl.col(price)) if found else future.clear()
    )
    if candidates.height:
        yield Finding(
            "cheaper_shorter_prefix",
            f"{candidates.height} future-dated new codes are rated meanwhile at a cheaper "
            "shorter prefix",
            count=candidates.height,
            examples=_examples(candidates["code"]),
        )


# Every number of one to three digits (no leading zero) → the E.164 country code it starts
# with (libphonenumber's metadata; country codes are prefix-free, so there is at most one).
_COUNTRY_CODE_OF = {
    head: int(text[:n])
    for head in range(1, 1000)
    for text in [str(head)]
    for n in (1, 2, 3)
    if int(text[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
}


def country_code(code: pl.Expr) -> pl.Expr:
    """The E.164 country code a code of digits starts with, as a number, else null: looked up
    by the number of its first three digits (one slice of the strings, not three)."""
    head = code.str.slice(0, 3)
    number = pl.when(head.str.contains(r"^[1-9][0-9]*$")).then(head.cast(pl.Int32, strict=False))
    return number.replace_strict(_COUNTRY_CODE_OF, default=None, return_dtype=pl.Int32)
