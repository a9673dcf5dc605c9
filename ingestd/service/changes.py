"""What changed between any two versions of a table, as a person pages through it: the
price-change list of ``rates.changes`` (old and new price and increment, the change class),
filtered by change class, searched by code or destination, a page at a time or as a CSV.

Versions never change once written, so the list of a pair is worked out once and kept for the
next pages and searches (``KEPT`` pairs, the latest used): a 1M-row diff is read from the
store once, then every page is a filter of the kept frame."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from ingestd.errors import UsageError
from ingestd.rates.changes import CHANGE_LABELS, price_changes
from ingestd.rates.model import iso
from ingestd.rates.records import TableRef
from ingestd.rates.schema import canonical_decimal
from ingestd.service.app import App

KEPT = 2  # pairs of versions whose change list stays in memory
CHANGE_CLASSES = tuple(CHANGE_LABELS)
LABELS = CHANGE_LABELS  # how the list names each class

_kept: OrderedDict[tuple[int, int, int, int], pl.DataFrame] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class ChangePage:
    """``rows`` of the changes from ``since`` to ``version`` that match the filter, from
    ``offset``; ``matching`` counts them all, ``counts`` the whole list by change class."""

    table: TableRef
    since: int
    version: int
    rows: list[dict[str, Any]]
    matching: int
    counts: dict[str, int]
    offset: int
    limit: int

    @property
    def more(self) -> bool:
        return self.offset + len(self.rows) < self.matching


def ordered(a: int, b: int) -> tuple[int, int]:
    """Two versions as (older, newer): a diff reads forward whichever way it was asked."""
    return (a, b) if a <= b else (b, a)


def change_list(app: App, table: TableRef, a: int, b: int) -> pl.DataFrame:
    """Every changed rate from version ``a`` to ``b`` (either order; 0 is the empty table)."""
    since, version = ordered(a, b)
    if version == since:
        raise UsageError(f"pick two different versions of {table.label}")
    for number in (since, version):
        if number:
            app.store.version(table, number)  # refused when the table has no such version
    key = (id(app.store), table.id, since, version)
    with _lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
    found = price_changes(app.store, table, version, since=since)
    with _lock:
        _kept[key] = found
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return found


def matching(
    frame: pl.DataFrame, *, change_class: str | None = None, search: str | None = None
) -> pl.DataFrame:
    """The rows of one change class, whose code starts with ``search`` or whose destination
    holds it (any case)."""
    if change_class:
        if change_class not in CHANGE_CLASSES:
            raise UsageError(f"change class {change_class!r}: one of {', '.join(CHANGE_CLASSES)}")
        frame = frame.filter(pl.col("change_class") == change_class)
    search = (search or "").strip()
    if search:
        digits = search.lstrip("+")
        frame = frame.filter(
            pl.col("code").str.starts_with(digits)
            | pl.col("description").str.to_lowercase().str.contains(search.lower(), literal=True)
        )
    return frame


def change_page(
    app: App,
    table: TableRef,
    a: int,
    b: int,
    *,
    change_class: str | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> ChangePage:
    everything = change_list(app, table, a, b)
    found = matching(everything, change_class=change_class, search=search)
    counts = dict(everything.group_by("change_class").len().iter_rows())
    page = found.slice(max(offset, 0), limit)
    since, version = ordered(a, b)
    return ChangePage(
        table,
        since,
        version,
        [{k: _shown(v) for k, v in row.items()} for row in page.iter_rows(named=True)],
        found.height,
        {cls: int(counts.get(cls, 0)) for cls in CHANGE_CLASSES if counts.get(cls)},
        max(offset, 0),
        limit,
    )


def changes_csv(
    app: App,
    table: TableRef,
    a: int,
    b: int,
    *,
    change_class: str | None = None,
    search: str | None = None,
) -> bytes:
    """The changes that match, as a CSV a spreadsheet opens (prices as written, exact)."""
    found = matching(change_list(app, table, a, b), change_class=change_class, search=search)
    text = found.with_columns(
        pl.col(c).cast(pl.String).str.replace(r"(\.\d*?)0+$", "${1}").str.replace(r"\.$", "")
        for c, t in found.schema.items()
        if isinstance(t, pl.Decimal)
    )
    out = io.BytesIO()
    text.write_csv(out, datetime_format="%Y-%m-%d %H:%M:%S")
    return out.getvalue()


def _shown(value: Any) -> Any:
    """A cell as a page shows it: instants as ISO text, prices in their one text form."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    return value
