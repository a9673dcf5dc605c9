"""Columns typed by their content (docs/reading.md#decks-nobody-taught-us): what a column holds,
said by its cells alone.

Where a header is unknown, missing or misleading, the values decide.  Each column is looked at
through a sample of at most ``CONTENT_SAMPLE`` rows spread over the whole data (``sample_rows``),
so a 1M-row deck costs what a 1k-row one does.  Every cell is read by the cell parsers (the
modules ``ingestd.sheets.cells`` names: one description of each rule); this module only counts
what they say and applies the column-level rules (README "Reading decks", content typing).

A cell may fit several types (``60`` is whole seconds, a price and a code): ``shares`` says, per
type, how many of the filled cells fit it.  A column FITS a type when its cells say so as a whole:
at least ``FIT_SHARE`` of the filled cells fit it, at least ``MIN_FILLED`` cells are filled
(except text), plus the type's own column rule (``_column_types``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import phonenumbers
import polars as pl

from ingestd.sheets.codes import ascii_digits, expand_codes, parse_codes
from ingestd.sheets.currencies import CURRENCY_CODES, parse_currencies
from ingestd.sheets.dates import parse_datetimes
from ingestd.sheets.increments import parse_ints, parse_pulse
from ingestd.sheets.prices import parse_prices
from ingestd.sheets.regions import COUNTRY_CODES
from ingestd.sheets.vendor_words import (
    ASAP_WORDS,
    NO_WORDS,
    parse_change_words,
    parse_flags,
    word_key,
)

CONTENT_SAMPLE = 200  # rows looked at per column: head, evenly spaced middle, tail
# Precedence of ``ColumnContent.kind``, most specific first; one line per choice:
# - pulse before date: the parsers never share a cell (a pulse has two parts, a date three);
# - date before flag/change/text: "Immediate" is a date word (ASAP), not text; a bare number
#   (an Excel serial) is a date only when a header says so;
# - flag before change and currency: their vocabularies are disjoint, the order only fixes one;
# - mccmnc before number and code: leads only when every cell is 5–6 digits with a real MCC,
#   else it follows code;
# - number before code: a complete E.164 number is also a code's digits;
# - code before seconds and price: never both (a code column is not seconds-like and writes no
#   fraction), so the order says nothing more;
# - seconds before price: never both either (a price column is mostly fractional);
# - text last: letters that fit nothing else.
# Exception: a column of only 0 and 1 fits flag and seconds; the flag leads when a 0 appears (a
# billing increment is never 0 seconds), seconds when the cells are all 1 (1/1 billing).
CONTENT_TYPES = (
    "pulse", "date", "flag", "change", "currency", "mccmnc", "number", "code", "seconds",
    "price", "text",
)  # fmt: skip
FIT_SHARE = 0.8  # the share of filled cells that must fit a type for the column to fit it
MIN_FILLED = 3  # fewer filled cells prove nothing (text excepted: one name is still a name)
MAX_SECOND = 3600  # an interval or increment above an hour is not one
MAX_SECONDS_VALUES = 12  # an interval column repeats a few values; a code column does not
# the increments vendors bill by; an interval column is mostly these
BILLING_SECONDS = frozenset({1, 6, 10, 15, 20, 30, 60, 90, 120, 180, 300, 600, 900, 1800, 3600})
# "most" cells: a pulse or seconds column is mostly usual increments, a price column mostly
# fractions ("0.0123"; whole seconds are no price)
MOSTLY = 0.5
MAX_RATE = 1000  # a per-minute or per-message rate is below this; a larger number is not one
NUMBER_DIGITS = (8, 15)  # a complete E.164 number (a DID), country code included
MCCMNC_DIGITS = (5, 6)  # MCC (3) + MNC (2 or 3)
# the mobile country codes of ITU-T E.212 that name a country (2xx Europe … 7xx South America)
MCC = frozenset(
    """
    202 204 206 208 212 213 214 216 218 219 220 221 222 225 226 228 230 231 232 234 235 238 240
    242 244 246 247 248 250 255 257 259 260 262 266 268 270 272 274 276 278 280 282 283 284 286
    288 289 290 292 293 294 295 297
    302 308 310 311 312 313 314 315 316 330 332 334 338 340 342 344 346 348 350 352 354 356 358
    360 362 363 364 365 366 368 370 372 374 376
    400 401 402 404 405 406 410 412 413 414 415 416 417 418 419 420 421 422 424 425 426 427 428
    429 430 431 432 434 436 437 438 440 441 450 452 454 455 456 457 460 461 466 467 470 472
    502 505 510 514 515 520 525 528 530 536 537 539 540 541 542 543 544 545 546 547 548 549 550
    551 552 553 554 555
    602 603 604 605 606 607 608 609 610 611 612 613 614 615 616 617 618 619 620 621 622 623 624
    625 626 627 628 629 630 631 632 633 634 635 636 637 638 639 640 641 642 643 645 646 647 648
    649 650 651 652 653 654 655 657 658 659
    702 704 706 708 710 712 714 716 722 724 730 732 734 736 738 740 742 744 746 748 750
    """.split()
)
_BILLING = sorted(BILLING_SECONDS)
_COUNTRY_CODES = sorted(COUNTRY_CODES)
_CURRENCIES = sorted(CURRENCY_CODES)
_MCC = sorted(MCC)
_COLUMN_NAME = re.compile(r"^c[0-9]+$")  # the sheet columns of a FoundTable's data
# "20260101": a yyyymmdd date (``parse_datetimes`` does not read it), so neither a number nor codes
_COMPACT_DATE = r"^(?:19[5-9][0-9]|2[01][0-9]{2})(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])$"


@dataclass(frozen=True)
class ColumnContent:
    """What a column's cells say about it."""

    column: str  # "c3"
    filled: int  # cells looked at that say something (blank and "-", "n/a" … do not)
    shares: Mapping[str, float]  # content type → share (0..1) of the filled cells that fit it
    examples: tuple[str, ...]  # up to 3 distinct cells as written
    types: tuple[str, ...]  # the types the column fits as a whole, most specific first

    @property
    def kind(self) -> str | None:
        """The most specific type the column fits; None when empty or nothing fits."""
        return self.types[0] if self.types else None

    def fits(self, type_: str) -> bool:
        return type_ in self.types


def sample_rows(data: pl.DataFrame, size: int = CONTENT_SAMPLE) -> pl.DataFrame:
    """At most ``size`` rows of ``data``: the first quarter of them from the head, a quarter
    from the tail (notes and totals end a sheet, headers repeat at its start) and the rest
    evenly spaced in between.  Deterministic; the whole frame when it is small."""
    height = data.height
    if height <= size:
        return data
    head = tail = size // 4
    middle = size - head - tail
    span = height - head - tail  # more than ``middle``: the spaced rows are distinct
    rows = [
        *range(head),
        *(head + i * span // middle for i in range(middle)),
        *range(height - tail, height),
    ]
    return data.select(pl.all().gather(rows))


def type_columns(
    data: pl.DataFrame, columns: Iterable[str] | None = None, *, size: int = CONTENT_SAMPLE
) -> dict[str, ColumnContent]:
    """The content of each of ``columns`` (default: every sheet column ``c<i>``), read from one
    sample of the rows; every parser reads the cells of all the columns at once."""
    names = (
        [name for name in data.columns if _COLUMN_NAME.match(name)]
        if columns is None
        else list(dict.fromkeys(columns))
    )
    sample = sample_rows(data.select(names), size)
    return _typed({name: sample.get_column(name) for name in names})


def type_column(cells: pl.Series, column: str = "") -> ColumnContent:
    """The content of one column's cells (strings; null is blank).  All the cells given are
    read: sample a large column first (``sample_rows``)."""
    name = column or cells.name
    return _typed({name: cells})[name]


def summary(content: ColumnContent) -> str:
    """A short description of a column's content for reports: "codes like '4420', '4478'"."""
    examples = ", ".join(repr(example) for example in content.examples[:2])
    if content.kind is None:
        return "empty" if not content.filled else f"values of no known kind like {examples}"
    return f"{_DESCRIPTIONS[content.kind]} like {examples}"


_DESCRIPTIONS = {
    "pulse": "billing increments",
    "date": "dates",
    "flag": "yes/no flags",
    "change": "change words",
    "currency": "currencies",
    "mccmnc": "MCC/MNC codes",
    "number": "phone numbers",
    "code": "codes",
    "seconds": "whole seconds",
    "price": "prices",
    "text": "text",
}
_ASAP_KEYS = frozenset(word_key(word) for word in ASAP_WORDS)
_NO_WORD_KEYS = frozenset(word_key(word) for word in NO_WORDS)
_MEASURES = ("pulse_billed", "billed", "fractional", "compact_date")


def _typed(columns: dict[str, pl.Series]) -> dict[str, ColumnContent]:
    """The content of each column: the cells of all of them in one frame (``column``,
    ``written``, ``cell``), each parser run once over it, the column rules per column."""
    if not columns:
        return {}
    frame = pl.concat(
        [
            pl.DataFrame(
                {
                    "column": pl.repeat(name, cells.len(), dtype=pl.String, eager=True),
                    "written": cells.cast(pl.String).str.strip_chars(),
                }
            )
            for name, cells in columns.items()
        ]
    )
    frame = frame.filter(pl.col("written").is_not_null() & (pl.col("written") != ""))
    words = _word_keys(frame.get_column("written"))
    said_nothing = [word for word, key in words.items() if key in _NO_WORD_KEYS]
    frame = frame.filter(~pl.col("written").is_in(said_nothing))
    frame = frame.with_columns(_ascii(frame.get_column("written")).alias("cell"))
    asap = [word for word, key in words.items() if key in _ASAP_KEYS]
    stats = (
        _cell_fits(frame, asap)
        .group_by("column", maintain_order=True)
        .agg(
            pl.len().alias("filled"),
            *(pl.col(kind).mean() for kind in (*CONTENT_TYPES, *_MEASURES)),
            pl.col("cell").filter(pl.col("pulse")).n_unique().alias("pulse_values"),
            pl.col("whole").filter(pl.col("seconds")).n_unique().alias("second_values"),
            pl.col("fractional").any().alias("any_fraction"),
            (pl.col("mccmnc") & pl.col("cell").str.contains(r"^[0-9]{5,6}$"))
            .all()
            .alias("mccmnc_only"),
            (pl.col("whole") == 0).any().alias("zero"),
            pl.col("written").unique(maintain_order=True).head(3).alias("examples"),
        )
    )
    found = {row["column"]: row for row in stats.iter_rows(named=True)}
    empty = dict.fromkeys(CONTENT_TYPES, 0.0)
    return {
        name: ColumnContent(
            name,
            found[name]["filled"],
            {kind: found[name][kind] for kind in CONTENT_TYPES},
            tuple(found[name]["examples"]),
            _column_types(found[name]),
        )
        if name in found
        else ColumnContent(name, 0, empty, (), ())
        for name in columns
    }


def _word_keys(written: pl.Series) -> dict[str, str]:
    """Each distinct cell without digits → its ``word_key`` (how ``NO_WORDS`` and
    ``ASAP_WORDS`` are compared)."""
    words = written.filter(~written.str.contains(r"[0-9]")).unique()
    return {word: word_key(word) for word in words.to_list()}


def _ascii(written: pl.Series) -> pl.Series:
    """Cells with their digits and signs in ASCII (``ascii_digits``), once per distinct cell."""
    foreign = written.filter(written.str.len_bytes() != written.str.len_chars()).unique()
    if foreign.is_empty():
        return written
    return written.replace({cell: ascii_digits(cell) for cell in foreign.to_list()})


def _on(frame: pl.DataFrame, where: pl.Expr, parse, *dtypes: pl.DataType) -> list[pl.Series]:
    """The series ``parse`` returns for the cells ``where`` holds, as long as ``frame`` (null
    for the other cells): a parser runs only on cells that could fit its type, and not at all
    when none could (``dtypes``: of what it returns, for that case)."""
    rows = frame.select(where.fill_null(False).arg_true()).to_series()
    if rows.is_empty():
        return [pl.repeat(None, frame.height, dtype=dtype, eager=True) for dtype in dtypes]
    parsed = parse(frame.get_column("cell").gather(rows))
    out = []
    for values in parsed if isinstance(parsed, tuple) else (parsed,):
        if values.dtype == pl.Decimal:
            values = values.cast(pl.Float64)
        column = pl.repeat(None, frame.height, dtype=values.dtype, eager=True)
        column.scatter(rows, values)
        out.append(column)
    return out


def _by_column(frame: pl.DataFrame, where: pl.Expr, parse, dtype: pl.DataType) -> pl.Series:
    """``_on`` for a parser that decides something for the whole column (a hyphen's meaning,
    a lone separator's): run once per column that has cells ``where`` holds."""
    out = pl.repeat(None, frame.height, dtype=dtype, eager=True)
    marked = frame.with_row_index("_row").filter(where.fill_null(False))
    for (_,), cells in marked.group_by("column", maintain_order=True):
        out.scatter(cells.get_column("_row"), parse(cells.get_column("cell")))
    return out


# cells that could be what a parser reads: prefilters, the parsers decide
_PULSE_LIKE = r"^[0-9]{1,5} ?[/+:-] ?[0-9]{1,5}$"  # a pair ("60" alone is seconds)
_DATE_LIKE = r"[0-9][-/.][0-9]{1,2}[-/.][0-9]|[0-9][-/. ]\p{L}{3}|\p{L}{3}\.? [0-9]{1,2},? [0-9]{4}"
_CODE_LIST = r"^[\s+0-9.eE]+(?:[-,;|\r\n\u2010-\u2014][\s+0-9.eE]*)+$"  # lists, ranges, pairs
# "1,234": the only prices another cell of the column can change (thousands or decimals)
_GROUPED = r"^[^0-9]*[1-9][0-9]{0,2}[.,][0-9]{3}[^0-9]*$"


def _cell_fits(frame: pl.DataFrame, asap: list[str]) -> pl.DataFrame:
    """Per filled cell, whether it fits each content type, and what the column rules need."""
    cell = pl.col("cell")
    digit = cell.str.contains(r"[0-9]")
    plain = cell.str.contains(r"^[0-9]+$")
    first, after, pulse_error = _on(
        frame, cell.str.contains(_PULSE_LIKE), parse_pulse, pl.Int32, pl.Int32, pl.String
    )
    _, date_error = _on(frame, cell.str.contains(_DATE_LIKE), _datetimes, pl.Datetime, pl.String)
    _, flag_error = _on(frame, cell.str.len_chars() <= 5, parse_flags, pl.Boolean, pl.String)
    change, _ = _on(frame, ~digit, parse_change_words, pl.String, pl.String)
    currency, _ = _on(
        frame, ~digit & (cell.str.len_chars() <= 4), parse_currencies, pl.String, pl.String
    )
    whole, _ = _on(frame, digit & (cell.str.len_chars() <= 12), parse_ints, pl.Int32, pl.String)
    mcc_digits, _ = _on(
        frame, digit, lambda s: parse_codes(s, international_prefix=False), pl.String, pl.String
    )
    listed = cell.str.contains(_CODE_LIST) & ~cell.str.contains(_DATE_LIKE)
    code, _ = _on(frame, digit & ~listed, parse_codes, pl.String, pl.String)
    code_list = _by_column(frame, listed, _code_list_fits, pl.Boolean)
    grouped = cell.str.contains(_GROUPED)
    # parse_prices reads separators by what the column's other cells show: column by column
    price = _by_column(frame, digit & ~plain & ~grouped, _prices, pl.Float64)
    price_grouped = _by_column(frame, grouped, _prices, pl.Float64)
    number = _possible_numbers(code)
    coded = _country_coded(pl.DataFrame({"code": code}))
    frame = frame.with_columns(
        first=first, next=after, pulse_error=pulse_error, date_error=date_error,
        flag_error=flag_error, change=change, currency_code=currency, whole=whole,
        mcc_digits=mcc_digits, code=code, code_list=code_list, price=price,
        price_grouped=price_grouped, number_fit=number, code_fit=coded,
    )  # fmt: skip
    whole, value, mcc_digits = pl.col("whole"), pl.col("price"), pl.col("mcc_digits")
    # a bare digit string is its own price ("60" is 60); parse_prices reads the rest (null: not
    # a price)
    value = pl.coalesce(pl.when(plain).then(whole.cast(pl.Float64)), pl.col("price_grouped"), value)
    price = (value < MAX_RATE).fill_null(False)
    date = (
        (pl.col("date_error").is_null() | (pl.col("date_error") == "ambiguous_date"))
        & cell.str.contains(_DATE_LIKE)
    ) | pl.col("written").is_in(asap)
    return frame.select(
        "column",
        "written",
        "cell",
        "whole",
        pulse=cell.str.contains(_PULSE_LIKE) & pl.col("pulse_error").is_null(),
        date=date.fill_null(False),
        flag=(cell.str.len_chars() <= 5) & pl.col("flag_error").is_null(),
        change=pl.col("change").is_not_null(),
        currency=pl.col("currency_code").is_in(_CURRENCIES).fill_null(False),
        mccmnc=(
            mcc_digits.str.len_chars().is_between(*MCCMNC_DIGITS)
            & mcc_digits.str.slice(0, 3).is_in(_MCC)
        ).fill_null(False),
        number=pl.col("number_fit").fill_null(False),
        code=pl.when(listed).then(pl.col("code_list")).otherwise(pl.col("code_fit")),
        seconds=(whole <= MAX_SECOND).fill_null(False),
        price=price,
        text=cell.str.contains(r"\p{L}"),
        # what the column rules look at
        pulse_billed=(pl.col("first").is_in(_BILLING) & pl.col("next").is_in(_BILLING)).fill_null(
            False
        ),
        billed=whole.is_in(_BILLING).fill_null(False),
        # any price written with a fraction, plausible or not ("7123,45" is no list of codes);
        # "49152, 49162" is a list
        fractional=((value != value.floor()) & ~cell.str.contains(r",\s")).fill_null(False),
        compact_date=cell.str.contains(_COMPACT_DATE),
    )


def _datetimes(cells: pl.Series) -> tuple[pl.Series, pl.Series]:
    # whether a cell is a date does not depend on the others: ambiguous ones count as dates
    value, error, _ = parse_datetimes(cells)
    return value, error


def _code_list_fits(cells: pl.Series) -> pl.Series:
    """Per cell of one column: every code it holds (a list, a range, a pair; ``expand_codes``
    decides the hyphen for the column) starts with an E.164 country code.  Each distinct cell
    is expanded once (a range of 1,000 codes repeated down a sample is 1,000 codes, not 200,000)."""
    distinct = cells.unique(maintain_order=True)
    codes, _ = expand_codes(distinct, international_prefix=True)
    fits = _country_coded(codes)
    per_row = codes.select("row", fits.alias("fit")).group_by("row").agg(pl.col("fit").all())
    rows = pl.DataFrame(
        {"row": pl.int_range(distinct.len(), eager=True, dtype=per_row.schema["row"])}
    )
    fit = rows.join(per_row, on="row", how="left").get_column("fit").fill_null(False)
    return cells.replace_strict(distinct, fit, return_dtype=pl.Boolean)


def _country_coded(codes: pl.DataFrame) -> pl.Series:
    """Per code of ``codes`` (a ``code`` column): it starts with an E.164 country code (1 to 3
    digits); a null code does not."""
    code = pl.col("code")
    starts = (code.str.slice(0, width).is_in(_COUNTRY_CODES) for width in (1, 2, 3))
    return codes.select(pl.any_horizontal(*starts).fill_null(False)).to_series()


def _prices(cells: pl.Series) -> pl.Series:
    """The prices of one column's cells (``parse_prices`` decides a lone separator for the
    column), null where a cell is not one."""
    return parse_prices(cells)[0].cast(pl.Float64)


def _possible_numbers(codes: pl.Series) -> pl.Series:
    """Per cell: its code (as ``parse_codes`` reads it) is a complete phone number, E.164 with
    8–15 digits, that ``phonenumbers`` calls possible."""
    length = codes.str.len_chars().is_between(*NUMBER_DIGITS)
    candidates = codes.filter(length & ~codes.str.contains(_COMPACT_DATE)).unique().to_list()
    return codes.is_in([code for code in candidates if _possible_number(code)]).fill_null(False)


def _possible_number(digits: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        return False


def _column_types(stats: dict) -> tuple[str, ...]:
    """The types a column fits as a whole, in ``CONTENT_TYPES`` order but for the two
    exceptions said there; ``stats``: its shares and measures (``_typed``)."""
    enough = stats["filled"] >= MIN_FILLED

    def fit(kind: str) -> bool:
        return enough and stats[kind] >= FIT_SHARE

    rules = {
        # few distinct pairs of usual increments: "1264-581" is a NANP code, not a pulse
        "pulse": fit("pulse")
        and stats["pulse_billed"] >= MOSTLY
        and stats["pulse_values"] <= MAX_SECONDS_VALUES,
        "date": fit("date"),
        "flag": fit("flag"),
        "change": fit("change"),
        "currency": fit("currency"),
        "mccmnc": fit("mccmnc"),
        "number": fit("number"),
        "seconds": fit("seconds")
        and stats["second_values"] <= MAX_SECONDS_VALUES
        and stats["billed"] >= MOSTLY,
        "price": fit("price") and stats["fractional"] >= MOSTLY,
    }
    # a code column is not seconds-like, pulses or yyyymmdd dates, and writes no price fraction
    rules["code"] = (
        fit("code")
        and not rules["seconds"]
        and not rules["pulse"]
        and stats["compact_date"] < FIT_SHARE
        and not stats["any_fraction"]
    )
    rules["text"] = stats["text"] >= FIT_SHARE and not any(rules.values())
    types = [kind for kind in CONTENT_TYPES if rules[kind]]
    if rules["mccmnc"] and rules["code"] and not stats["mccmnc_only"]:
        types.remove("mccmnc")
        types.insert(types.index("code") + 1, "mccmnc")
    if rules["flag"] and rules["seconds"] and not stats["zero"]:
        types.remove("flag")
        types.insert(types.index("seconds") + 1, "flag")
    return tuple(types)
