"""Columns typed by their content (SPEC §3.5): a provisional version, replaced by the full one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from ingestd.sheets.cells import (
    COUNTRY_CODES,
    parse_change_words,
    parse_datetimes,
    parse_flags,
    parse_prices,
    parse_pulse,
)

CONTENT_SAMPLE = 200
CONTENT_TYPES = ("pulse", "date", "flag", "change", "currency", "mccmnc", "number", "code",
                 "seconds", "price", "text")  # fmt: skip
_BILLING = {"0", "1", "6", "10", "15", "20", "30", "60", "90", "120", "180", "300", "600"}


@dataclass(frozen=True)
class ColumnContent:
    column: str
    filled: int
    shares: Mapping[str, float]
    examples: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def kind(self) -> str | None:
        return self.types[0] if self.types else None

    def fits(self, type_: str) -> bool:
        return type_ in self.types


def sample_rows(data: pl.DataFrame, size: int = CONTENT_SAMPLE) -> pl.DataFrame:
    if data.height <= size:
        return data
    step = data.height / size
    picks = sorted({min(int(i * step), data.height - 1) for i in range(size)} | {data.height - 1})
    return data[picks]


def type_column(cells: pl.Series, column: str = "") -> ColumnContent:
    cells = cells.cast(pl.String).str.strip_chars().drop_nulls()
    cells = cells.filter(cells != "")
    n = cells.len()
    if n == 0:
        return ColumnContent(column, 0, {}, (), ())
    shares: dict[str, float] = {}
    _, _, pulse_err = parse_pulse(cells)
    shares["pulse"] = float((pulse_err.is_null() & cells.str.contains(r"[/+:\-]")).mean())
    _, date_err, _ = parse_datetimes(cells)
    serial = cells.str.contains(r"^[0-9]{5}(\.[0-9]+)?$")
    shares["date"] = float((date_err.is_null() & ~serial & cells.str.contains(r"\D")).mean())
    _, flag_err = parse_flags(cells)
    shares["flag"] = float(flag_err.is_null().mean())
    change, _ = parse_change_words(cells)
    shares["change"] = float(change.is_not_null().mean())
    digits = cells.str.replace_all(r"[\s+]", "")
    code_like = digits.str.contains(r"^[0-9]{1,15}([,;\-][0-9]{1,15})*$")
    starts = pl.Series([any(d.startswith(c) for c in COUNTRY_CODES) for d in digits.to_list()])
    shares["code"] = float((code_like & starts).mean())
    shares["seconds"] = float(cells.is_in(list(_BILLING)).mean())
    prices, price_err = parse_prices(cells)
    fraction = cells.str.contains(r"[.,][0-9]")
    shares["price"] = float((price_err.is_null() & fraction).mean())
    shares["text"] = float(cells.str.contains(r"[^\W\d_]").mean())
    types = []
    for t in CONTENT_TYPES:
        if shares.get(t, 0) >= 0.8 and (n >= 3 or t == "text"):
            types.append(t)
    if "seconds" in types and cells.n_unique() > 12:
        types.remove("seconds")
    if "seconds" in types and "code" in types:
        types.remove("code")
    if "price" in types and "code" in types:
        types.remove("code")
    if "change" in types and "text" in types:
        types.remove("text")
    examples = tuple(cells.unique(maintain_order=True).head(3).to_list())
    return ColumnContent(column, n, shares, examples, tuple(types))


def type_columns(
    data: pl.DataFrame, columns: Iterable[str] | None = None, *, size: int = CONTENT_SAMPLE
) -> dict[str, ColumnContent]:
    sample = sample_rows(data, size)
    names = list(columns) if columns is not None else [
        c for c in data.columns if c[:1] == "c" and c[1:].isdigit()
    ]
    return {c: type_column(sample.get_column(c), c) for c in names}


def summary(content: ColumnContent) -> str:
    what = {
        "pulse": "billing increments", "date": "dates", "flag": "yes/no flags",
        "change": "change words", "currency": "currencies", "mccmnc": "MCCMNCs",
        "number": "phone numbers", "code": "codes", "seconds": "whole seconds",
        "price": "prices", "text": "text",
    }.get(content.kind or "", "values")
    shown = ", ".join(repr(e) for e in content.examples[:2])
    return f"{what} like {shown}" if shown else "nothing"
