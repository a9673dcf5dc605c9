"""The prices of a found table's rows and the currency they are in (docs/reading.md#cells,
docs/reading.md#prices): the kind's price columns (Current Rate / New Rate, the new one wins
where it is written; a DID list's rental and per-use prices), a price missing only where the
code is closed; the currency from the row's currency column, else a sign or code in the price
cell, else in the price header, else the notice block's, else the vendor's."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ingestd.rates.model import PRICE, Kind
from ingestd.sheets.currencies import currency_in, currency_marks, parse_currencies
from ingestd.sheets.prices import parse_prices
from ingestd.sheets.sheet import column_position
from ingestd.sheets.table_rows import CellProblem, TableReading, TableRows, nulls, repeated


def read_currency_column(reading: TableReading) -> None:
    """The currency column's values (``currency_column``), where the sheet has one."""
    if reading.sheet.has("currency"):
        values, errors = parse_currencies(reading.sheet.text("currency"))
        reading.problem("currency", errors)
        reading.values["currency_column"] = values


def read_prices(
    deck: TableReading,
    kind: Kind,
    *,
    closed: pl.Series,
    price_column: str | None,
    currency: str | None,
) -> None:
    """Reads into one ``deck`` the kind's prices, from ``price_column`` (a jurisdiction) else
    from the sheet's price fields, and each row's currency (``currency``: the vendor's).  Only
    a ``closed`` code may come without a price."""
    cells = _prices(deck, kind, closed, price_column)
    deck.values["currency"] = _currency(deck.sheet, deck.values, cells, currency)


def deck_currency(rows: pl.DataFrame) -> tuple[str | None, list[str]]:
    """The currency of most of a deck's rows, and a warning where they are in several."""
    counts = rows.get_column("currency").drop_nulls().value_counts(sort=True)
    if counts.height == 0:
        return None, []
    names = counts.get_column("currency").to_list()
    if len(names) == 1:
        return names[0], []
    return names[0], [f"the rows are in several currencies: {', '.join(names)}"]


def _prices(
    deck: TableReading, kind: Kind, closed: pl.Series, price_column: str | None
) -> list[_PriceCells]:
    """Fills the kind's prices; returns the price columns read (their cells and headers
    may say the currency)."""
    sheet, values, problems, height = deck.sheet, deck.values, deck.problems, deck.sheet.height
    if kind == Kind.DID:
        read = []
        for name in ("inbound_voice_price", "inbound_sms_price", "mrc", "nrc"):
            cells = _PriceCells.of(sheet, name)
            if cells is None and name == "mrc":  # a DID list's one "Price" is its rental
                cells = _PriceCells.of(sheet, "price") or _PriceCells.of(sheet, "price_current")
            if cells is not None:
                problems.append(cells.problem())
                read.append(cells)
            values[name] = cells.prices if cells else nulls(height, PRICE)
        return read
    if price_column:
        chosen = [_PriceCells.of(sheet, column=price_column)]
    else:
        # docs/reading.md#finding-the-table: Current Rate / New Rate, the new one wins where it
        # is written
        chosen = [_PriceCells.of(sheet, "price"), _PriceCells.of(sheet, "price_current")]
    read = [cells for cells in chosen if cells is not None]
    unwritten = repeated(True, height, pl.Boolean)
    for cells in read:
        problems.append(cells.problem(where=unwritten))
        unwritten = unwritten & cells.texts.is_null()
    price = pl.select(pl.coalesce(nulls(height, PRICE), *(c.prices for c in read)))
    price = price.to_series()
    # only a closed or blocked code may come without a price; the row shape needs one: 0
    missing = unwritten & ~closed
    first = read[0] if read else None
    problems.append(
        CellProblem(
            first.position if first else sheet.position("price"),
            first.header if first else sheet.header("price"),
            first.texts if first else nulls(height, pl.String),
            pl.select(pl.when(missing).then(pl.lit("missing_price"))).to_series(),
        )
    )
    main = "price1" if kind == Kind.VOICE else "price"
    values[main] = price.fill_null(0).cast(PRICE).rename(main)
    if kind == Kind.VOICE:
        after = None if price_column else _PriceCells.of(sheet, "price_n")
        if after is not None:
            problems.append(after.problem())
            read.append(after)
        values["price_n"] = (  # OpenTWPS: a missing Price N is Price1 (docs/reading.md#prices)
            pl.select(pl.coalesce(after.prices, values["price1"])).to_series()
            if after is not None
            else values["price1"]
        ).rename("price_n")
    return read


def _currency(
    sheet: TableRows,
    values: dict[str, pl.Series],
    price_cells: list[_PriceCells],
    vendor_currency: str | None,
) -> pl.Series:
    """Per row: the currency column, else a sign or code in the price cell, else in the
    price header, else the notice block's, else the vendor's."""
    height = sheet.height
    candidates = []
    if "currency_column" in values:
        candidates.append(values.pop("currency_column"))
    candidates += [currency_marks(cells.texts) for cells in price_cells]
    in_header = (currency_in(cells.header) for cells in price_cells)
    stated = (
        next((c for c in in_header if c), None) or sheet.found.notice.currency or vendor_currency
    )
    candidates.append(repeated(stated, height, pl.String))
    return pl.select(pl.coalesce(candidates)).to_series().rename("currency")


@dataclass(frozen=True)
class _PriceCells:
    """One price column read: its cells, header, place and parsed prices."""

    texts: pl.Series
    header: str
    position: int
    prices: pl.Series
    errors: pl.Series

    @classmethod
    def of(cls, sheet: TableRows, name: str = "", column: str | None = None) -> _PriceCells | None:
        if column is None and not sheet.has(name):
            return None
        texts = sheet.column_text(column) if column else sheet.text(name)
        prices, errors = parse_prices(texts)
        return cls(
            texts,
            sheet.header_of(column) if column else sheet.header(name),
            column_position(column) if column else sheet.position(name),
            prices,
            errors,
        )

    def problem(self, where: pl.Series | None = None) -> CellProblem:
        reasons = self.errors
        if where is not None:
            reasons = pl.select(pl.when(where).then(reasons)).to_series()
        return CellProblem(self.position, self.header, self.texts, reasons)
