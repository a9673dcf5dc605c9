"""Rows of a found table with the same code and effective time (docs/reading.md#cells):
identical ones read once, different ones a ``conflict`` each unless the vendor's
``duplicate_policy`` lets the first or the last win."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from ingestd.errors import RowError
from ingestd.rates.model import KindSpec, has_repeats
from ingestd.sheets.cells import raw_cells
from ingestd.sheets.table_rows import TableRows, cell_columns, listed

DUPLICATE_POLICIES = ("refuse", "first", "last")


def conflicts(
    rows: pl.DataFrame, sheet: TableRows, spec: KindSpec, policy: str
) -> tuple[pl.DataFrame, list[RowError], list[str]]:
    """The same code and effective time twice (docs/reading.md#cells): identical rows are read once
    (with a warning); rows with different values are each a ``conflict`` naming the others, unless
    the vendor's ``duplicate_policy`` says which one wins (the first or the last in the sheet).

    The description and the vendor's change word do not make two rows different."""
    keys = ["code", "effective_from"]
    compared = [c for c in spec.schema() if c not in (*keys, "description")]
    # codes first (a quarter of the memory of hashing code and time together on a large
    # deck where every code is listed once), then code and time among the repeated codes
    if not has_repeats(rows.get_column("code")):
        return rows, [], []
    repeated = rows.get_column("code").is_duplicated()
    positions = (
        rows.select(keys)
        .with_row_index("_position")
        .filter(repeated)
        .filter(pl.struct(keys).is_duplicated())
        .get_column("_position")
    )
    if positions.is_empty():
        return rows, [], []
    twice = pl.select(
        pl.int_range(rows.height, dtype=positions.dtype).is_in(positions.implode())
    ).to_series()
    rows = rows.with_row_index("_order")
    order = pl.col("_order")
    marked = rows.filter(twice).with_columns(
        pl.struct(compared).n_unique().over(keys).alias("_variants"),
        order.min().over(keys).alias("_first"),
        order.max().over(keys).alias("_last"),
        pl.col("source_row").unique(maintain_order=True).implode().over(keys).alias("_rows"),
    )
    differ = pl.col("_variants") > 1
    winner = {"refuse": pl.lit(False), "first": order == pl.col("_first"),
              "last": order == pl.col("_last")}[policy]  # fmt: skip
    keep = pl.when(differ).then(winner).otherwise(order == pl.col("_first"))
    dropped = marked.filter(~keep).get_column("_order")
    kept = rows.filter(~order.is_in(dropped.implode())).drop("_order")
    warnings = []
    same = marked.filter(~differ & (order == pl.col("_first")))
    if same.height:
        warnings.append(
            f"{same.height} codes appear more than once with the same values and are read once: "
            + listed(_where(r) for r in same.iter_rows(named=True))
        )
    chosen = marked.filter(differ & keep)
    if chosen.height:
        warnings.append(
            f"{chosen.height} codes appear more than once with different values; the "
            f"{policy} row wins (vendor option duplicate_policy): "
            + listed(_where(r) + f" → row {r['source_row']}" for r in chosen.iter_rows(named=True))
        )
    errors = []
    if policy == "refuse":
        refused = marked.filter(differ)
        cells = _raw_rows(sheet, refused.get_column("source_row"))
        for r in refused.iter_rows(named=True):
            others = [str(x) for x in r["_rows"] if x != r["source_row"]] or [str(r["source_row"])]
            errors.append(
                RowError(
                    reason="conflict",
                    message=f"code {r['code']} (effective {_when(r['effective_from'])}) is also "
                    f"in row {', '.join(others)} with different values (set the vendor option "
                    'duplicate_policy to "first" or "last" to let one win)',
                    row=r["source_row"],
                    sheet=sheet.found.sheet,
                    cells=cells.get(r["source_row"], ()),
                    code=r["code"],
                )
            )
    return kept, errors, warnings


def _where(row: dict) -> str:
    rows = ", ".join(str(r) for r in row["_rows"])
    return f"{row['code']} ({_when(row['effective_from'])}; rows {rows})"


def _when(at: datetime | None) -> str:
    return "ASAP" if at is None else at.isoformat(sep=" ")


def _raw_rows(sheet: TableRows, source_rows: pl.Series) -> dict[int, tuple[str, ...]]:
    data = sheet.data.filter(pl.col("source_row").is_in(source_rows.implode()))
    cells = data.select(cell_columns(data)).iter_rows()
    return dict(zip(data.get_column("source_row"), map(raw_cells, cells), strict=True))
