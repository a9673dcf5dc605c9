"""What changed between two versions of a rate table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from ingestd.rates.model import (
    Kind,
    KindSpec,
    iso,
)
from ingestd.rates.schema import (
    canonical_decimal,
)


@dataclass
class Diff:
    """What changed between two versions: rows added and removed, paired by code and instant."""

    kind: Kind
    from_version: int
    to_version: int
    added: pl.DataFrame
    removed: pl.DataFrame
    changed: pl.DataFrame  # code, effective_from, the old and new values
    counts: dict[str, int]

    @classmethod
    def build(
        cls, spec: KindSpec, a: int, b: int, added: pl.DataFrame, removed: pl.DataFrame
    ) -> Diff:
        key = ["code", "effective_from"]
        # a row closed and put back with the same values (a rollback) is no change
        cols = list(spec.row_columns)
        added, removed = (
            added.join(removed, on=cols, how="anti", nulls_equal=True),
            removed.join(added, on=cols, how="anti", nulls_equal=True),
        )
        changed = added.join(removed, on=key, how="inner", suffix="_old")
        only_added = added.join(removed, on=key, how="anti")
        only_removed = removed.join(added, on=key, how="anti")
        counts: dict[str, int] = {}
        for cls_name, n in added["change_class"].value_counts().iter_rows():
            counts[cls_name] = n
        counts["withdrawn"] = only_removed.filter(
            ~pl.col("code").is_in(added["code"].implode())
        ).height
        return cls(
            spec.kind, a, b, only_added.sort(key), only_removed.sort(key), changed.sort(key), counts
        )

    def as_dict(self, limit: int | None = None) -> dict:
        def rows(frame: pl.DataFrame) -> list[dict]:
            frame = frame.drop([c for c in frame.columns if c in ("id", "id_old")])
            if limit is not None:
                frame = frame.head(limit)
            return [{k: _jsonable(v) for k, v in r.items()} for r in frame.iter_rows(named=True)]

        return {
            "kind": str(self.kind),
            "from": self.from_version,
            "to": self.to_version,
            "counts": self.counts,
            "added": rows(self.added),
            "changed": rows(self.changed),
            "removed": rows(self.removed),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, datetime):
        return iso(value)
    return value
