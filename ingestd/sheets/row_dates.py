"""The effective dates of a found table's rows and the order they are written in
(docs/reading.md#cells): from/to in UTC, read in the vendor's zone or the row's own, day- or
month-first as the column's values prove, else as the vendor's earlier decks proved, else
day-first with a doubt that holds the deck (``--date-order``).  Rows without a date take the
notice block's increase or decrease date."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from ingestd.rates.model import TIME
from ingestd.sheets.dates import parse_datetimes
from ingestd.sheets.doubt import Doubt, Proven
from ingestd.sheets.table_rows import TableReading, TableRows, listed, nulls

# how dates nothing proves are read while the deck is held for the answer (most of the world)
UNPROVEN_DATE_ORDER = "dmy"


def read_dates(
    reading: TableReading, *, date_order: str, timezone: str, proven: Proven | None
) -> str | None:
    """Effective from/to in UTC: per column day-first or month-first, the vendor's zone or
    the row's Timezone column; without dates the notice's increase/decrease dates.  Returns the
    order the dates were read in (None: no date needed one)."""
    sheet = reading.sheet
    zones = sheet.text("timezone") if sheet.has("timezone") else None
    parsed: dict[str, tuple[pl.Series, pl.Series, str | None]] = {}
    for name in ("effective_from", "effective_to"):
        if sheet.has(name):
            parsed[name] = parse_datetimes(
                sheet.text(name),
                date_order=date_order,
                timezone=timezone,
                zones=zones,
                excel_1904=sheet.found.date1904,
            )
    decided = [order for _, _, order in parsed.values() if order is not None]
    for name, (_, errors, order) in list(parsed.items()):
        if order is None and (errors == "ambiguous_date").any():
            if not decided and proven is not None and date_order == "auto":
                # nothing in the deck proves the order: the vendor's earlier decks did
                decided.append(proven.meaning)
                reading.warnings.append(
                    "no date in the sheet proves day or month first: read as "
                    f"{proven.meaning}, as earlier decks of this vendor proved "
                    f"({proven.source})"
                )
            if not decided:
                # nothing proves the order: read day-first and ask
                # (docs/reading.md#decks-nobody-taught-us)
                reading.doubts.append(_ambiguous_dates(sheet, name, errors))
                decided.append(UNPROVEN_DATE_ORDER)
            # the sheet's other date column proved the order: one vendor, one habit
            parsed[name] = parse_datetimes(
                sheet.text(name),
                date_order=decided[0],
                timezone=timezone,
                zones=zones,
                excel_1904=sheet.found.date1904,
            )
    read_order = None
    for name in ("effective_from", "effective_to"):
        if name not in parsed:
            reading.values[name] = nulls(sheet.height, TIME).rename(name)
            continue
        values, errors, order = parsed[name]
        wrong_zone = errors == "bad_timezone"
        if wrong_zone.any():
            reading.problem(
                "timezone", pl.select(pl.when(wrong_zone).then(errors)).to_series(), zones
            )
            errors = pl.select(pl.when(~wrong_zone).then(errors)).to_series()
        reading.problem(name, errors)
        reading.values[name] = values.rename(name)
        read_order = read_order or order
    _notice_dates(reading, timezone, blank=sheet.text("effective_from").is_null())
    return read_order


def _notice_dates(reading: TableReading, timezone: str, blank: pl.Series) -> None:
    """Rows without a date take the notice block's increase or decrease date
    (docs/reading.md#finding-the-table: notice dates are defaults); the others stay ASAP."""
    notice = reading.sheet.found.notice
    change = reading.values["vendor_class"]
    dated = reading.values["effective_from"]
    for word, when in (("increase", notice.increase_date), ("decrease", notice.decrease_date)):
        if when is None:
            continue
        at = _notice_utc(when, timezone)
        dated = pl.select(
            pl.when(blank & (change == word).fill_null(False))
            .then(pl.lit(at, dtype=TIME))
            .otherwise(dated)
        ).to_series()
    reading.values["effective_from"] = dated.rename("effective_from")


def _notice_utc(when: datetime, timezone: str) -> datetime | None:
    """A notice-block date (a wall time as written) in UTC, read in the vendor's zone."""
    values, _, _ = parse_datetimes(
        pl.Series([when.strftime("%Y-%m-%d %H:%M:%S")]), date_order="ymd", timezone=timezone
    )
    return values[0]


def _ambiguous_dates(sheet: TableRows, name: str, errors: pl.Series) -> Doubt:
    texts = sheet.text(name).filter(errors == "ambiguous_date").unique(maintain_order=True)
    examples = listed(map(repr, texts.to_list()), 3)
    return Doubt(
        sheet.found.sheet,
        f"the dates in column {sheet.header(name)!r} ({examples})",
        "they could be day-first or month-first and no value in the deck proves which; they "
        "are read day-first: is that right (or set the vendor option date_order)?",
        f"--date-order {UNPROVEN_DATE_ORDER}",
        topic="date_order",
    )
