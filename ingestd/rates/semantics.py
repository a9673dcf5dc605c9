"""What a deck means for a rate table (docs/semantics.md#rate-semantics): pure functions over polars
frames.

No database, no clock: the table's current rows and ``received_at`` come in, a ``Plan`` comes
out (rows to insert, rows to close, the change class of every deck row, deferrals, warnings and
guard results).  The store writes the plan as one version.

The model: a rate table holds, per code, a timeline of rows keyed by ``effective_from``.  A deck
row either restates what is already in effect (unchanged: nothing is written), or adds a row to
the code's timeline; a row at the same instant as an existing one replaces it.  A discontinued
row ends the code's timeline: later rows of that code are withdrawn.  Future-dated rows never
erase the rate in effect before them (OpenTWPS "several rates per code").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import phonenumbers
import polars as pl

from ingestd.errors import RowError
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

# Which notice period applies to which change class (docs/semantics.md#rate-semantics "notice
# periods per change class").
NOTICE_OF = {
    ChangeClass.INCREASE: "increase",
    ChangeClass.INTERVAL_CHANGE: "interval_change",
    ChangeClass.DECREASE: "decrease",
    ChangeClass.NEW: "new",
    ChangeClass.UNFORBIDDEN: "new",
    ChangeClass.DISCONTINUED: "removal",
}
# Classes that take effect at once when dated ASAP (docs/semantics.md#rate-semantics: forbidden and
# discontinued rows).
IMMEDIATE = (ChangeClass.FORBIDDEN, ChangeClass.DISCONTINUED)
EXAMPLES = 20  # codes listed per warning or guard; the count is always complete


class PolicyLike(Protocol):
    short_notice: str
    max_discontinue_share: float
    stale_deck_days: float
    max_price_factor: float
    low_price_share: float

    def notice_for(self, change: str) -> timedelta: ...


@dataclass(frozen=True)
class Deferral:
    code: str
    change_class: str
    stated: datetime
    effective: datetime
    row: int | None

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "change_class": self.change_class,
            "stated": iso(self.stated),
            "effective": iso(self.effective),
            "row": self.row,
        }


@dataclass(frozen=True)
class Finding:
    """A warning or a guard result: a stable name, a sentence, and the codes it is about."""

    name: str
    message: str
    count: int = 0
    examples: tuple[str, ...] = ()
    tripped: bool = False  # guards only: the deck is held for a person

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "message": self.message, "count": self.count}
        if self.examples:
            out["examples"] = list(self.examples)
        return out


@dataclass
class Plan:
    kind: Kind
    mode: DeckMode
    received_at: datetime
    inserts: pl.DataFrame  # spec.row_columns + change_class
    closes: pl.Series  # ids of existing rows the new version no longer holds
    counts: dict[
        str, int
    ]  # deck rows per change class (+ discontinued codes missing from a full deck)
    deferred: list[Deferral]
    rejected: list[RowError]
    warnings: list[Finding]
    guards: list[Finding]
    deck_rows: int
    missing_discontinued: int = 0
    accepted_short: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # the warnings still to work out (plan_import with later_warnings)
    pending_warnings: Callable[[], list[Finding]] | None = field(default=None, repr=False)

    def finish_warnings(self) -> list[Finding]:
        """Work out the warnings if that was left for later; they only inform, so this may
        run beside the write of the version (another core)."""
        if self.pending_warnings is not None:
            self.warnings, self.pending_warnings = self.pending_warnings(), None
        return self.warnings

    @property
    def held(self) -> bool:
        return any(g.tripped for g in self.guards)

    @property
    def changes(self) -> int:
        return self.inserts.height + self.closes.len()


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
    deck, rejected, accepted_short = _resolve_effective(deck, received, policy)
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
    plan.guards = list(_guards(existing, deck, plan, spec, policy))
    plan.pending_warnings = functools.partial(
        _listed_warnings, existing, deck, inserts, plan, spec, policy
    )
    if not later_warnings:
        plan.finish_warnings()
    return plan


def _listed_warnings(*args) -> list[Finding]:
    return list(_warnings(*args))


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
    old = existing.rename({c: c + "_old" for c in existing.columns if c != "code"})
    if old.is_empty():  # a first import: nothing to find (and no million-row as-of join)
        joined = deck.with_columns(
            pl.lit(None, dtype).alias(name) for name, dtype in old.schema.items() if name != "code"
        )
    else:
        joined = deck.sort("code", at).join_asof(
            old.sort("code", "effective_from_old"),
            left_on=at,
            right_on="effective_from_old",
            by="code",
            strategy="backward",
            check_sortedness=False,
        )
    live_old = (
        pl.col("id_old").is_not_null()
        & ~pl.col("discontinued_old")
        & (pl.col("effective_to_old").is_null() | (pl.col("effective_to_old") > pl.col(at)))
    )
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


def _resolve_effective(
    deck: pl.DataFrame, received: datetime, policy: PolicyLike
) -> tuple[pl.DataFrame, list[RowError], int]:
    """Effective time of every row: explicit dates, ASAP, notice periods, short-notice policy."""
    notice = pl.col("change_class").replace_strict(
        {c.value: policy.notice_for(n) for c, n in NOTICE_OF.items()},
        default=timedelta(0),
        return_dtype=pl.Duration("us"),
    )
    earliest = pl.lit(received) + notice
    immediate = pl.col("change_class").is_in([c.value for c in IMMEDIATE])
    asap = pl.col("stated").is_null()
    short = ~asap & (pl.col("stated") < earliest) & (notice > timedelta(0))
    deck = deck.with_columns(
        _earliest=earliest,
        _short=short,
        _immediate=immediate,
    )
    rejected: list[RowError] = []
    accepted_short = 0
    if policy.short_notice == "reject":
        for r in deck.filter(pl.col("_short")).iter_rows(named=True):
            rejected.append(
                RowError(
                    reason="short_notice",
                    message=(
                        f"{r['change_class']} dated {iso(r['stated'])} needs notice until "
                        f"{iso(r['_earliest'])}"
                    ),
                    row=r["source_row"],
                    code=r["code"],
                )
            )
        deck = deck.filter(~pl.col("_short"))
        eff = pl.max_horizontal(pl.col("stated"), pl.lit(received))
    elif policy.short_notice == "accept":
        accepted_short = int(deck["_short"].sum())
        eff = pl.max_horizontal(pl.col("stated"), pl.lit(received))
    else:  # defer to the earliest allowed time
        eff = pl.max_horizontal(pl.col("stated"), pl.col("_earliest"))
    effective = (
        pl.when(asap & pl.col("_immediate"))
        .then(pl.lit(received))
        .when(asap)
        .then(pl.col("_earliest"))
        .otherwise(eff)
    )
    deferred = pl.col("_short") & pl.lit(policy.short_notice == "defer")
    deck = deck.with_columns(effective_from=effective.cast(TIME), _deferred=deferred)
    return deck.drop("_short", "_immediate", "_tentative"), rejected, accepted_short


def _restated(deck: pl.DataFrame, existing: pl.DataFrame, spec: KindSpec) -> pl.DataFrame:
    """A row equal to what the table already holds at its final time restates a known rate
    (a pending increase sent again): it is unchanged, and nothing was deferred."""
    if existing.is_empty():
        return deck
    old = existing.select("effective_from", "code", *spec.value_columns).rename(
        {c: c + "_old" for c in ("effective_from", *spec.value_columns)}
    )
    joined = deck.sort("code", "effective_from").join_asof(
        old.sort("code", "effective_from_old"),
        left_on="effective_from",
        right_on="effective_from_old",
        by="code",
        strategy="backward",
        check_sortedness=False,
    )
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


# --- guards and warnings -----------------------------------------------------------------------


def _guards(
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


def _warnings(
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


def in_effect_at(rows: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """Per code, the row in effect at ``at``, with ``effective_until``: its own end date or the
    start of the code's next row, whichever comes first (null: open)."""
    until = pl.min_horizontal(
        pl.col("effective_to"), pl.col("effective_from").shift(-1).over("code")
    ).alias("effective_until")
    return (
        rows.sort("code", "effective_from")
        .with_columns(until)
        .filter(pl.col("effective_from") <= at)
        .filter(pl.col("effective_until").is_null() | (pl.col("effective_until") > at))
    )


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
