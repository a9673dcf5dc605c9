"""What a deck means for a rate table (docs/semantics.md#rate-semantics): pure functions over polars
frames.

No database, no clock: the table's current rows and ``received_at`` come in, a ``Plan`` comes
out (rows to insert, rows to close, the change class of every deck row, deferrals, warnings and
guard results: ``rates.plan``; the guards and warnings themselves: ``rates.guards``).  The store
writes the plan as one version.

The model: a rate table holds, per code, a timeline of rows keyed by ``effective_from``.  A deck
row either restates what is already in effect (unchanged: nothing is written), or adds a row to
the code's timeline; a row at the same instant as an existing one replaces it.  A discontinued
row ends the code's timeline: later rows of that code are withdrawn.  Future-dated rows never
erase the rate in effect before them (OpenTWPS "several rates per code").
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta

import polars as pl

from ingestd.errors import RowError
from ingestd.rates.effective import effective_times
from ingestd.rates.guards import guards_for, warnings_for
from ingestd.rates.model import (
    TIME,
    ChangeClass,
    DeckMode,
    Kind,
    KindSpec,
    has_repeats,
    in_code_order,
    iso,
    spec_for,
)
from ingestd.rates.plan import Deferral, Finding, Plan, PolicyLike
from ingestd.rates.timeline import as_of, in_effect


def _second(value: datetime) -> datetime:
    return value.replace(microsecond=0, tzinfo=None)


def deck_mode_from_name(*names: str | None) -> DeckMode | None:
    """Full or partial from a subject or file name (docs/semantics.md#rate-semantics), or None when
    they do not say."""
    text = " ".join(n for n in names if n).lower()
    if re.search(r"\ba\s*-?\s*(to|2)?\s*-?\s*z\b|atoz|\bfull\b", text):
        return DeckMode.FULL
    if re.search(r"amend|\bchanges?\b|\bupdates?\b|\bpartial\b|increment", text):
        return DeckMode.PARTIAL
    return None


def plan_import(
    existing: pl.DataFrame,
    deck: pl.DataFrame,
    *,
    kind: Kind | str,
    mode: DeckMode | str,
    received_at: datetime,
    policy: PolicyLike,
    later_warnings: bool = False,
) -> Plan:
    """Plan one deck against a table's current rows.

    With ``later_warnings`` the warnings are left to ``plan.finish_warnings()``: the guards
    decide whether the plan is written, the warnings only inform.

    ``existing``: the rows of the table's latest version (``spec.row_columns`` + ``id``).
    ``deck``: normalized deck rows (``spec.row_columns`` + ``source_row``), null
    ``effective_from`` meaning ASAP.
    """
    spec = spec_for(kind)
    mode = DeckMode(mode)
    received = _second(received_at)
    deck_rows = deck.height
    existing = _prepare_existing(existing, spec)
    index = _CodeIndex(existing)
    deck, end_errors = _prepare_deck(deck, spec, received)
    deck, settled = _split_settled(deck, existing, index, spec, received)

    tentative = pl.max_horizontal(pl.col("stated").fill_null(pl.lit(received)), pl.lit(received))
    deck = deck.with_columns(_tentative=tentative)
    # the timelines of the codes the deck lists (the others stay as they are)
    touched = index.rows(deck.get_column("code"))
    deck = _classify(deck, touched, spec, at="_tentative")
    deck, rejected, accepted_short = effective_times(deck, received, policy)
    rejected = end_errors + rejected
    deck = _restated(deck, touched, spec)
    deck = _dedupe_slots(deck)
    counts = _count(deck["change_class"])
    counts[ChangeClass.UNCHANGED.value] += settled.height

    missing = pl.DataFrame()
    if mode is DeckMode.FULL:
        listed = index.listed(deck.get_column("code"), settled.get_column("_at"))
        missing = _discontinue_missing(existing, listed, spec, received, policy)
        deck = pl.concat([deck, missing], how="diagonal_relaxed")
        counts[ChangeClass.DISCONTINUED] = counts.get(ChangeClass.DISCONTINUED, 0) + missing.height

    # the timelines the deck changes: its codes', and those of the codes it leaves out
    timelines = touched
    if missing.height:
        timelines = pl.concat([touched, index.rows(missing.get_column("code"))])
    inserts, closes = _merge(timelines, deck, spec)
    # settled rows are never deferred
    deferred = [
        Deferral(r["code"], r["change_class"], r["stated"], r["effective_from"], r["source_row"])
        for r in deck.filter(pl.col("_deferred"))
        .sort("code", "effective_from")
        .iter_rows(named=True)
    ]
    if settled.height:  # the guards and warnings look at the whole deck (in any order)
        deck = pl.concat([deck, settled.drop("_at")], how="diagonal_relaxed")

    plan = Plan(
        kind=spec.kind,
        mode=mode,
        received_at=received,
        inserts=inserts,
        closes=closes,
        counts=counts,
        deferred=deferred,
        rejected=rejected,
        warnings=[],
        guards=[],
        deck_rows=deck_rows,
        missing_discontinued=missing.height,
        accepted_short=accepted_short,
    )
    plan.guards = list(guards_for(existing, deck, plan, spec, policy))
    plan.pending_warnings = functools.partial(
        _listed_warnings, existing, deck, inserts, plan, spec, policy
    )
    if not later_warnings:
        plan.finish_warnings()
    return plan


def _listed_warnings(*args) -> list[Finding]:
    return list(warnings_for(*args))


# --- steps -------------------------------------------------------------------------------------


def _prepare_existing(existing: pl.DataFrame, spec: KindSpec) -> pl.DataFrame:
    cols = ["id", *spec.row_columns]
    if existing.is_empty() and not existing.columns:
        existing = pl.DataFrame(schema={"id": pl.Int64, **spec.schema()})
    existing = existing.select(cols).cast({"id": pl.Int64, **spec.schema()})
    return existing if in_code_order(existing) else existing.sort("code", "effective_from")


def _prepare_deck(
    deck: pl.DataFrame, spec: KindSpec, received: datetime
) -> tuple[pl.DataFrame, list[RowError]]:
    if "source_row" not in deck.columns:
        deck = deck.with_columns(source_row=pl.lit(None, pl.Int64))
    if "vendor_class" not in deck.columns:
        deck = deck.with_columns(vendor_class=pl.lit(None, pl.String))
    deck = deck.select(*spec.row_columns, "source_row", "vendor_class").cast(spec.schema())
    # Transmission Guidelines: a row whose end is at most one minute after its start removes
    # the route; an end before the start is an error
    span = pl.col("effective_to") - pl.col("effective_from").fill_null(pl.lit(received))
    removal = (
        pl.col("effective_to").is_not_null()
        & (span >= timedelta(0))
        & (span <= timedelta(minutes=1))
    )
    backwards = pl.col("effective_to").is_not_null() & (span < timedelta(0))
    errors = [
        RowError(
            reason="end_before_start",
            message=f"the end date {iso(r['effective_to'])} is before the start "
            f"{iso(r['effective_from']) or 'ASAP'}",
            row=r["source_row"],
            code=r["code"],
        )
        for r in deck.filter(backwards).iter_rows(named=True)
    ]
    deck = deck.filter(~backwards).with_columns(
        pl.col("discontinued").fill_null(False) | removal,
        pl.when(removal).then(None).otherwise(pl.col("effective_to")).alias("effective_to"),
    )
    deck = deck.with_columns(
        pl.col("effective_from").dt.truncate("1s").alias("stated"),
        pl.col("forbidden").fill_null(False),
    ).drop("effective_from")
    return deck, errors


class _CodeIndex:
    """The existing rows (in code order) found by code: a binary search finds where a code's
    rows start, and a code's rows are marked through the start of the run they are in.  On a
    million codes this is several times cheaper than a hash join of their strings, and it
    copies no row (docs/performance.md#targets)."""

    def __init__(self, existing: pl.DataFrame):
        self.existing = existing
        self.code = existing.get_column("code")
        n = existing.height
        first = (self.code != self.code.shift(1)).fill_null(True)
        self.one_row_per_code = bool(first.all())
        # each row's index of the first row of its code
        self.start = pl.select(
            pl.when(first).then(pl.int_range(n, dtype=pl.UInt32)).forward_fill()
        ).to_series()

    def aligned(self, codes: pl.Series) -> bool:
        """Whether ``codes`` are the existing rows' codes in their order, one row each: a deck
        sent again with the same codes (most are), whose row i is then existing row i."""
        return (
            self.one_row_per_code
            and codes.len() == self.code.len()
            and self.code.equals(codes, check_names=False)
        )

    def find(self, codes: pl.Series) -> pl.Series:
        """Where each of ``codes`` starts in the existing rows, null where it has none."""
        n = self.code.len()
        if n == 0:
            return pl.repeat(None, codes.len(), dtype=pl.UInt32, eager=True).alias("_at")
        ordered = codes.is_sorted()
        order = None if ordered else codes.arg_sort()
        wanted = codes if order is None else codes.gather(order)
        at = self.code.search_sorted(wanted, side="left").clip(upper_bound=n - 1)
        found = pl.select(
            pl.when(self.code.gather(at) == wanted).then(at).cast(pl.UInt32).alias("_at")
        ).to_series()
        return found if order is None else found.gather(order.arg_sort())

    def marked(self, at: pl.Series) -> pl.Series:
        """A mask of the existing rows whose code starts at one of ``at``."""
        hit = pl.zeros(self.code.len(), pl.Boolean, eager=True)
        at = at.drop_nulls()
        if at.len():
            hit.scatter(at, True)
        return hit.gather(self.start)

    def rows(self, codes: pl.Series) -> pl.DataFrame:
        """The existing rows of ``codes`` (a few of a large table: the timelines a deck
        touches)."""
        return self.existing.filter(self.marked(self.find(codes)))

    def listed(self, codes: pl.Series, at: pl.Series) -> pl.Series:
        """A mask of the existing rows whose code is one of ``codes`` or starts at one of
        ``at`` (found before)."""
        return self.marked(pl.concat([self.find(codes), at.cast(pl.UInt32)]))


# Rows that restate their code's only, settled row skip the timeline work (a switch for the
# test that proves the shortcut changes no plan).
SETTLED_SHORTCUT = True
# what the guards and warnings read of a settled row (the rest of it is never copied)
_SETTLED_COLUMNS = ("code", "stated", "forbidden", "discontinued", "vendor_class")


def _split_settled(
    deck: pl.DataFrame,
    existing: pl.DataFrame,
    index: _CodeIndex,
    spec: KindSpec,
    received: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split off the deck rows that repeat the one row their code has, in effect since before
    receipt, open-ended, not discontinued, with the same values, listed once in the deck: most
    of a re-sent deck.  Whatever their stated date, such a row is unchanged and writes nothing
    (it lands after the existing row with equal values).  They come back classified, with
    only the columns the guards and warnings read and ``_at``, where their code starts in
    ``existing``."""
    price = spec.rate_prices[0]
    columns = [*_SETTLED_COLUMNS, price]

    def settled(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.select(
            *columns,
            change_class=pl.lit(ChangeClass.UNCHANGED.value),
            _old_price=pl.col(price),
            _at=pl.col("_at").cast(pl.UInt32),
        )

    none = settled(deck.clear().with_columns(_at=pl.lit(None, pl.UInt32)))
    if not SETTLED_SHORTCUT or existing.is_empty() or deck.is_empty():
        return deck, none
    code = pl.col("code")  # existing is in code order: a code alone differs from both sides
    alone = existing.select(
        (pl.col("effective_from") <= received)
        & pl.col("effective_to").is_null()
        & ~pl.col("discontinued")
        & (code != code.shift(1)).fill_null(True)
        & (code != code.shift(-1)).fill_null(True)
    ).to_series()
    if not alone.any():
        return deck, none
    codes = deck.get_column("code")
    # each deck row's existing row by position, compared one value column at a time: never a
    # frame of a million rows twice as wide (memory, docs/performance.md#targets)
    if index.aligned(codes):  # row i is row i: nothing to look up or gather
        at = pl.int_range(deck.height, dtype=pl.UInt32, eager=True).alias("_at")
        same = alone
        where = None
    else:
        at = index.find(codes)
        where = at.fill_null(0)
        same = at.is_not_null() & alone.gather(where)
        if has_repeats(codes):
            same = same & ~codes.is_duplicated()
    for column in spec.value_columns:
        if not same.any():
            break
        old = existing.get_column(column)
        old = old if where is None else old.gather(where)
        same = same & deck.get_column(column).eq_missing(old)
    if not same.any():
        return deck, none
    return deck.filter(~same), settled(deck.select(columns).with_columns(_at=at).filter(same))


def _values_equal(spec: KindSpec, left_suffix: str = "", right_suffix: str = "_old") -> pl.Expr:
    return pl.all_horizontal(
        [pl.col(c + left_suffix).eq_missing(pl.col(c + right_suffix)) for c in spec.value_columns]
    )


def _classify(
    deck: pl.DataFrame, existing: pl.DataFrame, spec: KindSpec, *, at: str
) -> pl.DataFrame:
    """Change class of each deck row against the rate in effect at its time
    (docs/semantics.md#rate-semantics)."""
    joined = as_of(deck, at, existing, "_old")
    live_old = in_effect(at, "_old")
    up = pl.any_horizontal(
        [pl.col(p).fill_null(0) > pl.col(p + "_old").fill_null(0) for p in spec.rate_prices]
    )
    down = pl.any_horizontal(
        [pl.col(p).fill_null(0) < pl.col(p + "_old").fill_null(0) for p in spec.rate_prices]
    )
    intervals = (
        pl.any_horizontal([pl.col(i).ne_missing(pl.col(i + "_old")) for i in spec.intervals])
        if spec.intervals
        else pl.lit(False)
    )
    same = _values_equal(spec)
    cls = (
        pl.when(pl.col("discontinued") & pl.col("id_old").is_not_null() & same)
        .then(pl.lit(ChangeClass.UNCHANGED.value))
        .when(pl.col("discontinued"))
        .then(pl.lit(ChangeClass.DISCONTINUED.value))
        .when(~live_old & pl.col("forbidden"))
        .then(pl.lit(ChangeClass.FORBIDDEN.value))
        .when(~live_old)
        .then(pl.lit(ChangeClass.NEW.value))
        .when(same)
        .then(pl.lit(ChangeClass.UNCHANGED.value))
        .when(pl.col("forbidden") & ~pl.col("forbidden_old"))
        .then(pl.lit(ChangeClass.FORBIDDEN.value))
        .when(~pl.col("forbidden") & pl.col("forbidden_old"))
        .then(pl.lit(ChangeClass.UNFORBIDDEN.value))
        .when(up)
        .then(pl.lit(ChangeClass.INCREASE.value))
        .when(down)
        .then(pl.lit(ChangeClass.DECREASE.value))
        .when(intervals)
        .then(pl.lit(ChangeClass.INTERVAL_CHANGE.value))
        .otherwise(pl.lit(ChangeClass.DETAILS.value))
    )
    price = spec.rate_prices[0]
    return joined.with_columns(
        change_class=cls, _old_price=pl.when(live_old).then(pl.col(price + "_old"))
    ).drop([c for c in joined.columns if c.endswith("_old")])


def _restated(deck: pl.DataFrame, existing: pl.DataFrame, spec: KindSpec) -> pl.DataFrame:
    """A row equal to what the table already holds at its final time restates a known rate
    (a pending increase sent again): it is unchanged, and nothing was deferred."""
    if existing.is_empty():
        return deck
    old = existing.select("effective_from", "code", *spec.value_columns)
    joined = as_of(deck, "effective_from", old, "_old")
    known = pl.col("effective_from_old").is_not_null() & _values_equal(spec)
    return joined.with_columns(
        change_class=pl.when(known)
        .then(pl.lit(ChangeClass.UNCHANGED.value))
        .otherwise("change_class"),
        _deferred=pl.col("_deferred") & ~known,
    ).drop([c for c in joined.columns if c.endswith("_old")])


def _dedupe_slots(deck: pl.DataFrame) -> pl.DataFrame:
    """Rows of one code that land on the same instant: the most recently stated one wins
    (a past-dated row and an ASAP row both take effect on receipt), then the later row."""
    if not has_repeats(deck.get_column("code")):  # one row per code: nothing to do
        return deck
    order = pl.col("stated").fill_null(datetime.max)
    return (
        deck.with_columns(_order=order)
        .sort("code", "effective_from", "_order", "source_row", nulls_last=False)
        .unique(subset=["code", "effective_from"], keep="last", maintain_order=True)
        .drop("_order")
    )


def _count(classes: pl.Series) -> dict[str, int]:
    counts = {c.value: 0 for c in ChangeClass}
    for value, n in classes.value_counts().iter_rows():
        counts[value] = n
    return counts


def _discontinue_missing(
    existing: pl.DataFrame,
    listed: pl.Series,
    spec: KindSpec,
    received: datetime,
    policy: PolicyLike,
) -> pl.DataFrame:
    """A full deck replaces the table: codes it leaves out are discontinued
    (docs/semantics.md#rate-semantics). ``listed`` marks the existing rows of the codes the deck
    lists."""
    at = received + policy.notice_for("removal")
    # existing is sorted by code and effective_from: a code's last row is where the code
    # changes; only the rows of codes the deck leaves out are copied (memory on a million-row
    # table)
    code = pl.col("code")
    last = (code != code.shift(-1)).fill_null(True)
    rows = existing.filter(~listed)
    gone = rows.select(code.filter(last & ~pl.col("discontinued")))
    # the row carried into the discontinued row: the one in effect then, else the first later one
    rows = rows.join(gone, on="code", how="semi")
    in_effect = (
        rows.filter(pl.col("effective_from") <= at)
        .group_by("code")
        .agg(pl.all().sort_by("effective_from").last())
    )
    later = (
        rows.join(in_effect.select("code"), on="code", how="anti")
        .group_by("code")
        .agg(pl.all().sort_by("effective_from").first())
    )
    carried = pl.concat([in_effect, later], how="vertical_relaxed")
    return carried.select(
        "code",
        *[c for c in spec.value_columns if c != "discontinued"],
        pl.lit(True).alias("discontinued"),
        pl.lit(at).cast(TIME).alias("effective_from"),
        pl.lit(None, TIME).alias("stated"),
        pl.lit(None, pl.Int64).alias("source_row"),
        pl.lit(ChangeClass.DISCONTINUED.value).alias("change_class"),
        pl.lit(False).alias("_deferred"),
        pl.lit(True).alias("_missing"),
    ).cast({c: t for c, t in spec.schema().items() if c in spec.row_columns})


def _merge(
    existing: pl.DataFrame, deck: pl.DataFrame, spec: KindSpec
) -> tuple[pl.DataFrame, pl.Series]:
    """Put the deck rows into the codes' timelines (``existing``: their rows, at least those
    of the codes the deck lists); return rows to insert and ids to close."""
    cols = list(spec.row_columns)
    if existing.is_empty() and not has_repeats(deck.get_column("code")):
        # new codes (a first import), each listed once: each row is its code's whole timeline
        inserts = deck.select(*cols, "change_class").sort("code", "effective_from")
        return inserts, pl.Series("id", [], pl.Int64)
    # existing rows the deck replaces: the same instant, or after a discontinued row of the code
    same_slot = existing.join(
        deck.select("code", "effective_from"), on=["code", "effective_from"], how="semi"
    )
    ends = (
        deck.filter(pl.col("discontinued"))
        .group_by("code")
        .agg(pl.col("effective_from").min().alias("_end"))
    )
    after_end = existing.join(ends, on="code").filter(pl.col("effective_from") > pl.col("_end"))
    superseded = pl.concat([same_slot.select("id"), after_end.select("id")]).unique()

    kept_old = existing.join(superseded, on="id", how="anti")
    timeline = pl.concat(
        [
            kept_old.select(*cols, change_class=pl.lit(None, pl.String), _new=pl.lit(False)),
            deck.select(*cols, "change_class", _new=pl.lit(True)),
        ],
        how="vertical_relaxed",
    ).sort("code", "effective_from")
    # a new row equal to the row before it in its code's timeline changes nothing
    first = pl.col("code") != pl.col("code").shift(1)
    same_as_prev = ~first.fill_null(True) & pl.all_horizontal(
        [pl.col(c).eq_missing(pl.col(c).shift(1)) for c in spec.value_columns]
    )
    new_rows = timeline.filter(pl.col("_new") & ~same_as_prev).drop("_new")

    # a new row identical to the existing row of the same instant: keep the existing one
    old_slots = existing.join(superseded, on="id", how="semi").rename(
        {c: c + "_old" for c in existing.columns if c not in ("code", "effective_from")}
    )
    paired = new_rows.join(old_slots, on=["code", "effective_from"], how="left")
    identical = pl.col("id_old").is_not_null() & _values_equal(spec)
    keep_ids = paired.filter(identical)["id_old"]
    inserts = paired.filter(~identical).select(*cols, "change_class")
    closes = superseded.filter(~pl.col("id").is_in(keep_ids.implode()))["id"].sort()
    return inserts, closes


def plan_rollback(
    current: pl.DataFrame, target: pl.DataFrame, kind: Kind | str
) -> tuple[pl.DataFrame, pl.Series]:
    """Rows to insert and ids to close so that the latest version equals ``target`` (history is
    never rewritten: a rollback is a new version).  Rows are compared by value, not by id."""
    spec = spec_for(kind)
    cols = list(spec.row_columns)
    current = current.select("id", *cols, "change_class")
    target = target.select(*cols, "change_class")
    inserts = target.join(current, on=cols, how="anti", nulls_equal=True)
    closes = current.join(target, on=cols, how="anti", nulls_equal=True)["id"].sort()
    return inserts, closes


def plan_purge(current: pl.DataFrame, *, now: datetime, retention: timedelta) -> pl.Series:
    """Ids of the rows of codes discontinued longer than the retention ago
    (docs/semantics.md#rate-semantics: the row is kept as history, then purged)."""
    if current.is_empty():
        return pl.Series("id", [], pl.Int64)
    last = current.sort("code", "effective_from").group_by("code", maintain_order=True).last()
    expired = last.filter(
        pl.col("discontinued") & (pl.col("effective_from") <= _second(now) - retention)
    )
    return current.join(expired.select("code"), on="code", how="semi")["id"].sort()
