"""What one version of a rate table changes against the one before, as people read it: one
row per changed rate with the old and the new price (the subscribers' price-change notices)."""

from __future__ import annotations

import polars as pl

from ingestd.rates.model import Kind, spec_for
from ingestd.rates.records import TableRef
from ingestd.rates.store import Store
from ingestd.rates.timeline import as_of, in_effect

# the classes a price-change list holds, and how it names them; "withdrawn" is a code a
# version dropped without a discontinued row, "cancelled" a pending rate it took back (a
# rollback)
CHANGE_LABELS = {
    "increase": "increase",
    "decrease": "decrease",
    "new": "new code",
    "discontinued": "removed",
    "withdrawn": "removed",
    "cancelled": "change cancelled",
    "forbidden": "blocked",
    "unforbidden": "unblocked",
    "interval_change": "increment change",
}


# a change list pairs its codes with the version before by an indexed read of those codes' rows,
# unless they are more than this share of that version (then one whole read is faster)
WHOLE_READ_SHARE = 0.1


def price_changes(
    store: Store, table: TableRef, version: int, *, since: int | None = None
) -> pl.DataFrame:
    """What version ``version`` changes against the one before (or against version ``since``,
    an earlier one; 0 is the empty table), one row per changed rate:
    ``code, description, change, change_class, old_price, new_price, currency,
    effective_from`` and, for voice, ``old_increment, new_increment``.

    A new or changed row is paired with the rate the previous version had in effect at its
    start (docs/semantics.md "Change classes").  A row the version closed without a replacement is a
    code ``withdrawn`` when nothing of the code is left, else a pending change ``cancelled``
    (a rollback, a future rate taken back), paired with the rate in effect at that instant
    now.  Unchanged rows and mere description changes are not listed."""
    spec = spec_for(table.kind)
    price = spec.rate_prices[0]
    intervals = list(spec.intervals) if table.kind == Kind.VOICE else []
    since = version - 1 if since is None else since
    diff = store.diff(table, since, version)
    keep = ["code", "effective_from", price, *intervals, "description", "currency"]
    flags = ["change_class", "discontinued"]
    new = pl.concat(
        [diff.added.select(keep + flags), diff.changed.select(keep + flags)], how="vertical"
    ).filter(pl.col("change_class").is_in(list(CHANGE_LABELS)))
    before = _rows_before(store, table, since, new["code"].unique(), diff.removed.clear())
    listed = _rate_at(new, before, price, intervals, "old").with_columns(
        _own_rate(price, intervals, "new")
    )

    gone = diff.removed.join(new.select("code"), on="code", how="anti")
    if not gone.is_empty():
        after = store.rows(table, version)
        left = after.select("code").unique()
        withdrawn = (
            gone.join(left, on="code", how="anti")
            .sort("code", "effective_from")
            .group_by("code", maintain_order=True)
            .last()
            .with_columns(_own_rate(price, intervals, "old"), change_class=pl.lit("withdrawn"))
        )
        cancelled = _rate_at(
            gone.join(left, on="code", how="semi"), after, price, intervals, "new"
        ).with_columns(_own_rate(price, intervals, "old"), change_class=pl.lit("cancelled"))
        undated = pl.lit(None, dtype=listed.schema["effective_from"]).alias("effective_from")
        listed = pl.concat(
            [listed, _pad(withdrawn.with_columns(undated), listed), _pad(cancelled, listed)],
            how="vertical",
        )
    order = {cls: i for i, cls in enumerate(CHANGE_LABELS)}
    columns = ["code", "description", "change", "change_class", "old_price", "new_price"]
    columns += ["currency", "effective_from"]
    columns += ["old_increment", "new_increment"] if intervals else []
    return (
        listed.with_columns(
            pl.col("change_class").replace_strict(CHANGE_LABELS).alias("change"),
            pl.col("change_class").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
        )
        .sort("_order", "code", "effective_from", nulls_last=True)
        .select(columns)
    )


def _rows_before(
    store: Store, table: TableRef, since: int, codes: pl.Series, empty: pl.DataFrame
) -> pl.DataFrame:
    """The rows of version ``since`` that a change list pairs its changed codes with: of
    those codes only when they are few against the table (a 1% re-import of 1M rows reads
    10,000 codes' rows, not the whole version), else the whole version in one read."""
    if since == 0:
        return empty
    if codes.len() <= WHOLE_READ_SHARE * store.version(table, since).rows_total:
        return store.rows_of_codes(table, since, codes.sort().to_list())
    return store.rows(table, since)


def _own_rate(price: str, intervals: list[str], side: str) -> list[pl.Expr]:
    """A row's own price and increment as the ``old_``/``new_`` columns; none when the row
    discontinues the code."""
    alive = ~pl.col("discontinued").fill_null(False)
    out = [pl.when(alive).then(pl.col(price)).alias(f"{side}_price")]
    if intervals:
        out.append(pl.when(alive).then(_increment(*intervals)).alias(f"{side}_increment"))
    return out


def _rate_at(
    frame: pl.DataFrame, rows: pl.DataFrame, price: str, intervals: list[str], side: str
) -> pl.DataFrame:
    """``frame`` with ``<side>_price`` (and ``<side>_increment``): the rate ``rows`` have in
    effect for each row's code at its ``effective_from``; none when the code had no rate
    then, its row had ended, or it was discontinued."""
    then = rows.select("code", "effective_from", "effective_to", "discontinued", price, *intervals)
    joined = as_of(frame, "effective_from", then, "_then")
    live = in_effect("effective_from", "_then")
    added = [pl.when(live).then(pl.col(f"{price}_then")).alias(f"{side}_price")]
    if intervals:
        rate = _increment(*[f"{c}_then" for c in intervals])
        added.append(pl.when(live).then(rate).alias(f"{side}_increment"))
    return joined.with_columns(added).drop([c for c in joined.columns if c.endswith("_then")])


def _pad(frame: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the columns of ``like``, a column it lacks as nulls (a withdrawn code
    has no new price)."""
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in like.schema.items()
    )


def _increment(first: str, then: str) -> pl.Expr:
    return pl.concat_str(
        [pl.col(first).cast(pl.String), pl.col(then).cast(pl.String)], separator="/"
    )
