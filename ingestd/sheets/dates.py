"""Date cells (docs/reading.md#dates): ISO dates and date-times, day-first or month-first
numeric dates decided once per column, month names, Excel serial numbers, time zones and
offsets, and the ASAP words (``vendor_words.ASAP_WORDS``) that are no date of their own."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from ingestd.rates.model import TIME
from ingestd.sheets.cells import WORK, cell_frame, first_reason, is_blank, spread
from ingestd.sheets.vendor_words import asap_cells

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
# "ymd" reads the short numeric form as yy/mm/dd; ISO dates are year-first whatever the order
DATE_ORDERS = ("auto", "dmy", "mdy", "ymd")
# dates a rate deck can mean (and Python can hold after any time zone shift): [from, to)
DATE_RANGE = (datetime(1900, 1, 1), datetime(2200, 1, 1))
# Excel's day 0 (1900 system, counting its phantom 29 Feb 1900) and the 1904 system's
EXCEL_EPOCH_1900 = (1899, 12, 30)
EXCEL_EPOCH_1904 = (1904, 1, 1)

_TIME = (
    r"(?:(?:[T ]|, ?)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)? ?(?P<ampm>[AaPp][Mm])?)?"
    r" ?(?P<zone>Z|UTC|GMT|[+-][0-9]{2}:?[0-9]{2})?$"
)
_DATE_PATTERNS = {
    # 2023-05-16, 2023/05/16, 2023-05-16T10:30:00+02:00
    "ymd": r"^(?P<year>[0-9]{4})[-/.](?P<month>[0-9]{1,2})[-/.](?P<day>[0-9]{1,2})" + _TIME,
    # 16/05/2023 or 05/16/2023, decided per column
    "numeric": r"^(?P<first>[0-9]{1,2})[-/.](?P<second_part>[0-9]{1,2})[-/.]"
    r"(?P<year>[0-9]{4}|[0-9]{2})" + _TIME,
    # 16-May-23, 16 May 2023
    "day_month": r"^(?P<day>[0-9]{1,2})[-/. ](?P<month_name>[A-Za-z]{3,9})\.?[-/. ,]*"
    r"(?P<year>[0-9]{4}|[0-9]{2})" + _TIME,
    # May 16, 2023
    "month_day": r"^(?P<month_name>[A-Za-z]{3,9})\.? (?P<day>[0-9]{1,2}),? "
    r"(?P<year>[0-9]{4})" + _TIME,
}
_DATE_PARTS = (
    "year", "month", "day", "month_name", "first", "second_part",
    "hour", "minute", "second", "fraction", "ampm", "zone",
)  # fmt: skip
_EXCEL_SERIAL = r"^[0-9]{5}(?:\.[0-9]+)?$"  # 1927-05-18 … 2173-10-14: any plausible rate date
_FIXED_ZONE = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*([0-9]{1,2})(?::?([0-9]{2}))?$", re.I)


def parse_timezone(name: str) -> str | int:
    """An IANA zone name, or a fixed offset in minutes east of UTC (``UTC+2``, ``+02:00``).

    Raises ``ValueError`` for anything else.
    """
    text = name.strip()
    if text.upper() in ("UTC", "GMT", "Z", "UTC0", "GMT0", "ZULU"):
        return 0
    fixed = _FIXED_ZONE.match(text)
    if fixed:
        sign, hours, minutes = fixed.groups()
        offset = int(hours) * 60 + int(minutes or 0)
        if offset > 14 * 60:
            raise ValueError(f"{name!r} is not a UTC offset")
        return -offset if sign == "-" else offset
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a time zone") from exc
    return text


def parse_datetimes(
    s: pl.Series,
    *,
    date_order: str = "auto",
    timezone: str = "UTC",
    zones: pl.Series | None = None,
    excel_1904: bool = False,
) -> tuple[pl.Series, pl.Series, str | None]:
    """Naive UTC datetimes; ``ASAP`` and its synonyms are null without an error.

    Values without an offset are in ``timezone`` (IANA name or fixed offset, see
    ``parse_timezone``), or in the zone ``zones`` names for that cell (a voice deck's Timezone
    column; blank there means ``timezone``; a name that is no zone is ``bad_timezone``).
    Excel serial numbers count days in the 1900 system (``excel_1904`` for the other one).
    Day-first vs month-first is decided once for the column: ``date_order`` forces it,
    ``auto`` takes what the values prove (a first part above 12 proves day-first, a second part
    above 12 proves month-first); returns the order used (``None`` when nothing decided it).
    """
    if date_order not in DATE_ORDERS:
        raise ValueError(f"date_order must be one of {DATE_ORDERS}, not {date_order!r}")
    default_zone = parse_timezone(timezone)
    frame = cell_frame(s).with_columns(
        pl.Series(zones, dtype=pl.String).str.strip_chars().replace("", None).alias("zone_name")
        if zones is not None
        else pl.lit(None, dtype=pl.String).alias("zone_name")
    )
    keys = [WORK, "zone_name"]
    parsed, order = _datetimes(
        frame.unique(), date_order=date_order, default_zone=default_zone, excel_1904=excel_1904
    )
    out = spread(frame, parsed, keys)
    return out.get_column("value").rename(s.name), out.get_column("error"), order


def _datetimes(
    frame: pl.DataFrame, *, date_order: str, default_zone: str | int, excel_1904: bool
) -> tuple[pl.DataFrame, str | None]:
    cell = pl.col(WORK)
    frame = frame.with_columns(cell.str.strip_chars().str.replace_all(r"\s+", " ").alias("text"))
    parts = [
        frame.select(pl.col("text").str.extract_groups(pattern).alias(kind)).unnest(kind)
        for kind, pattern in _DATE_PATTERNS.items()
    ]
    frame = frame.with_columns(
        pl.coalesce(part.get_column(key) for part in parts if key in part.columns).alias(key)
        for key in _DATE_PARTS
    )
    first = pl.col("first").cast(pl.Int32, strict=False)
    second = pl.col("second_part").cast(pl.Int32, strict=False)
    numeric = first.is_not_null()
    proofs = frame.select(
        dmy=(numeric & (first > 12) & (second <= 12)).any(),
        mdy=(numeric & (second > 12) & (first <= 12)).any(),
    ).row(0, named=True)
    order = date_order if date_order != "auto" else _decide_order(proofs)
    if order is None:
        # nothing decides: only cells that read the same either way are dates
        ambiguous = numeric & (first != second)
        if proofs["dmy"] and proofs["mdy"]:
            ambiguous = numeric
        day, month = first, second
    else:
        ambiguous = pl.lit(False)
        day, month = {
            "dmy": (first, second),
            "mdy": (second, first),
            "ymd": (pl.col("year").cast(pl.Int32, strict=False), second),  # yy/mm/dd
        }[order]
    month = pl.coalesce(
        pl.col("month").cast(pl.Int32, strict=False),
        pl.col("month_name").str.to_lowercase().str.slice(0, 3)
        .replace_strict(MONTHS, default=None, return_dtype=pl.Int32),
        pl.when(numeric).then(month),
    )  # fmt: skip
    day = pl.coalesce(pl.col("day").cast(pl.Int32, strict=False), pl.when(numeric).then(day))
    year = pl.col("year").cast(pl.Int32, strict=False)
    year = pl.when(pl.col("year").str.len_chars() == 2).then(year + 2000).otherwise(year)
    if order == "ymd":
        year = pl.when(numeric).then(first + 2000).otherwise(year)
    hour = pl.col("hour").cast(pl.Int32, strict=False).fill_null(0)
    ampm = pl.col("ampm").str.to_lowercase()
    bad_clock = ampm.is_not_null() & ((hour > 12) | (hour == 0))
    hour = (
        pl.when(ampm == "am").then(hour % 12).when(ampm == "pm").then(hour % 12 + 12)
        .otherwise(hour)
    )  # fmt: skip
    stamp = pl.format(
        "{}-{}-{} {}:{}:{}.{}",
        year.cast(pl.String).str.zfill(4),
        month.cast(pl.String).str.zfill(2),
        day.cast(pl.String).str.zfill(2),
        hour.cast(pl.String).str.zfill(2),
        pl.col("minute").fill_null("00").str.zfill(2),
        pl.col("second").fill_null("00").str.zfill(2),
        pl.col("fraction").fill_null("0").str.slice(0, 6).str.pad_end(6, "0"),
    )
    written = pl.when(~bad_clock).then(
        stamp.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
    )
    epoch = EXCEL_EPOCH_1904 if excel_1904 else EXCEL_EPOCH_1900
    serial = pl.col("text").str.extract(_EXCEL_SERIAL, 0).cast(pl.Float64, strict=False)
    from_serial = pl.datetime(*epoch, time_unit="us") + pl.duration(
        seconds=(serial * 86400).round(0).cast(pl.Int64)
    )
    offset = _offset_minutes(pl.col("zone"))
    local = pl.coalesce(written, from_serial)
    frame = frame.with_columns(
        local.alias("local"),
        offset.alias("offset"),
        ambiguous.alias("ambiguous"),
        pl.col("text").is_in(asap_cells(frame.get_column("text"))).alias("asap"),
    )
    in_zone = _to_utc(pl.col("local"), default_zone)
    bad_zone = pl.lit(False)
    for name in frame.get_column("zone_name").drop_nulls().unique().sort():
        named = pl.col("zone_name") == name
        try:
            zone = parse_timezone(name)
        except ValueError:
            bad_zone = bad_zone | named
            continue
        in_zone = pl.when(named).then(_to_utc(pl.col("local"), zone)).otherwise(in_zone)
    frame = frame.with_columns(
        pl.when(pl.col("offset").is_not_null())
        .then(pl.col("local") - pl.duration(minutes=pl.col("offset")))
        .otherwise(in_zone)
        .alias("utc"),
        (bad_zone & pl.col("offset").is_null()).alias("bad_zone"),
    )
    blank = is_blank(cell) | pl.col("asap")
    errors = first_reason(
        [
            (blank, None),
            (pl.col("bad_zone"), "bad_timezone"),
            (pl.col("ambiguous"), "ambiguous_date"),
            (~pl.col("utc").is_between(*DATE_RANGE, closed="left").fill_null(False), "bad_date"),
        ],
    )
    out = frame.select(
        cell,
        pl.col("zone_name"),
        pl.when(errors.is_null() & ~blank).then(pl.col("utc")).cast(TIME).alias("value"),
        errors.alias("error"),
    )
    return out, order


def _decide_order(proofs: dict[str, bool]) -> str | None:
    if proofs["dmy"] != proofs["mdy"]:
        return "dmy" if proofs["dmy"] else "mdy"
    return None


def _offset_minutes(zone: pl.Expr) -> pl.Expr:
    """Minutes east of UTC of ``Z``, ``UTC``, ``GMT``, ``+02:00`` or ``-0500``."""
    digits = zone.str.replace(":", "", literal=True)
    hours = digits.str.slice(1, 2).cast(pl.Int32, strict=False)
    minutes = hours * 60 + digits.str.slice(3, 2).cast(pl.Int32, strict=False)
    return (
        pl.when(zone.is_in(["Z", "UTC", "GMT"]))
        .then(pl.lit(0, dtype=pl.Int32))
        .when(zone.str.starts_with("-"))
        .then(-minutes)
        .otherwise(minutes)
    )


def _to_utc(local: pl.Expr, zone: str | int) -> pl.Expr:
    if isinstance(zone, int):
        return local - pl.duration(minutes=zone)
    # a wall time that happens twice (autumn) takes the first; one that never happens (spring
    # gap) is not a date in that zone
    return (
        local.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
