"""When each row of a deck takes effect (docs/semantics.md#effective-time): its stated time, ASAP,
the notice period its change class needs, and what the policy does with short notice."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from ingestd.errors import RowError
from ingestd.rates.model import TIME, ChangeClass, iso
from ingestd.rates.plan import PolicyLike

# Which notice period applies to which change class (docs/semantics.md#notice-periods).
NOTICE_OF = {
    ChangeClass.INCREASE: "increase",
    ChangeClass.INTERVAL_CHANGE: "interval_change",
    ChangeClass.DECREASE: "decrease",
    ChangeClass.NEW: "new",
    ChangeClass.UNFORBIDDEN: "new",
    ChangeClass.DISCONTINUED: "removal",
}
# Classes that take effect at once when dated ASAP (docs/semantics.md#asap: forbidden and
# discontinued rows).
IMMEDIATE = (ChangeClass.FORBIDDEN, ChangeClass.DISCONTINUED)


def effective_times(
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
