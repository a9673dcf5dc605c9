"""Columns typed by their content (SPEC §3.5): what a column holds, said by its cells alone.

Where a header is unknown, missing or misleading, the values decide.  Each column is looked at
through a sample of at most ``CONTENT_SAMPLE`` rows spread over the whole data (``sample_rows``),
so a 1M-row deck costs what a 1k-row one does.  Every cell is read by the cell parsers of
``ingestd.sheets.cells`` (one description of each rule); this module only counts what they say
and applies the column-level rules (README "Reading decks", content typing).

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

from ingestd.sheets.cells import (
    COUNTRY_CODES,
    NO_WORDS,
    ascii_digits,
    expand_codes,
    parse_change_words,
    parse_codes,
    parse_currencies,
    parse_datetimes,
    parse_flags,
    parse_ints,
    parse_prices,
    parse_pulse,
    word_key,
)
from ingestd.sheets.headers import CURRENCY_CODES

CONTENT_SAMPLE = 200  # rows looked at per column: head, evenly spaced middle, tail
# Precedence of ``ColumnContent.kind``, most specific first; one line per choice:
# - pulse before date: the parsers never share a cell (a pulse has two parts, a date three);
# - date before flag/change/text: "Immediate" is a date word (ASAP), not text;
# - flag before change: the vocabularies are disjoint, the order only fixes a rule;
# - currency before text: "USD" has letters but says a currency;
# - mccmnc before number and code: 5–6 digits with a real MCC (code leads unless every cell is);
# - number before code: a complete E.164 number is also a code's digits;
# - code before seconds and price: a code column is never seconds-like or fractional, so
#   when code fits it is the more specific reading ("4420" fits price and code);
# - seconds before price: whole seconds are never a price (price needs fractions);
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
PRICE_FRACTION_SHARE = 0.5  # a price column is mostly fractional ("0.0123"); seconds are whole
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
_COLUMN_NAME = re.compile(r"^c[0-9]+$")  # the sheet columns of a FoundTable's data
_NO_WORD_KEYS = frozenset(word_key(word) for word in NO_WORDS)
_BARE_NUMBER = r"^[0-9]+(?:[.,][0-9]+)?$"  # an Excel serial is a date only when a header says so
_PHONE_MARKS = r"[().\-\u2010-\u2014]"  # "+1 (212) 555-0100": how a whole number is written
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
    sample of the rows."""
    names = (
        [name for name in data.columns if _COLUMN_NAME.match(name)]
        if columns is None
        else list(columns)
    )
    sample = sample_rows(data.select(names), size)
    return {name: type_column(sample.get_column(name), name) for name in names}


def type_column(cells: pl.Series, column: str = "") -> ColumnContent:
    """The content of one column's cells (strings; null is blank).  All the cells given are
    read: sample a large column first (``sample_rows``)."""
    name = column or cells.name
    written = cells.cast(pl.String).str.strip_chars()
    written = written.filter(written.is_not_null() & (written != ""))
    written = written.filter(~written.is_in(_said_nothing(written)))
    if written.is_empty():
        return ColumnContent(name, 0, dict.fromkeys(CONTENT_TYPES, 0.0), (), ())
    text = _ascii(written).rename("cell")
    fits = _cell_fits(text)
    shares = {kind: float(fits.get_column(kind).mean()) for kind in CONTENT_TYPES}
    examples = tuple(written.unique(maintain_order=True).head(3).to_list())
    types = _column_types(text, fits, shares)
    return ColumnContent(name, text.len(), shares, examples, types)


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


def _said_nothing(written: pl.Series) -> list[str]:
    """The cells that say nothing ("-", "n/a", "none": ``cells.NO_WORDS``)."""
    words = written.filter(~written.str.contains(r"[0-9]")).unique().to_list()
    return [word for word in words if word_key(word) in _NO_WORD_KEYS]


def _ascii(written: pl.Series) -> pl.Series:
    """Cells with their digits and signs in ASCII (``ascii_digits``), once per distinct cell."""
    foreign = written.filter(written.str.len_bytes() != written.str.len_chars()).unique()
    if foreign.is_empty():
        return written
    return written.replace({cell: ascii_digits(cell) for cell in foreign.to_list()})


def _cell_fits(text: pl.Series) -> pl.DataFrame:
    """Per filled cell, whether it fits each content type, and what the column rules need."""
    first, after, pulse_error = parse_pulse(text)
    _, date_error, _ = parse_datetimes(text)
    _, flag_error = parse_flags(text)
    change, _ = parse_change_words(text)
    currency, _ = parse_currencies(text)
    mccmnc, _ = parse_codes(text, international_prefix=False)
    seconds, _ = parse_ints(text)
    price, price_error = parse_prices(text)
    price_value = price.cast(pl.Float64)
    frame = pl.DataFrame(
        {
            "cell": text,
            "first": first,
            "next": after,
            "pulse_error": pulse_error,
            "date_error": date_error,
            "flag_error": flag_error,
            "change": change,
            "currency_code": currency,
            "mcc_digits": mccmnc,
            "whole": seconds,
            "price_value": price_value,
            "price_error": price_error,
            "code_fit": _code_fits(text),
            "number_fit": _number_fits(text),
        }
    )
    cell, whole, value = pl.col("cell"), pl.col("whole"), pl.col("price_value")
    mcc_digits = pl.col("mcc_digits")
    return frame.select(
        pulse=pl.col("pulse_error").is_null() & cell.str.contains(r"[/+:-]"),
        date=(pl.col("date_error").is_null() | (pl.col("date_error") == "ambiguous_date"))
        & ~cell.str.contains(_BARE_NUMBER),
        flag=pl.col("flag_error").is_null(),
        change=pl.col("change").is_not_null(),
        currency=pl.col("currency_code").is_in(list(CURRENCY_CODES)).fill_null(False),
        mccmnc=(
            mcc_digits.str.len_chars().is_between(*MCCMNC_DIGITS)
            & mcc_digits.str.slice(0, 3).is_in(list(MCC))
        ).fill_null(False),
        number=pl.col("number_fit"),
        code=pl.col("code_fit"),
        seconds=(whole <= MAX_SECOND).fill_null(False),
        price=(pl.col("price_error").is_null() & (value < MAX_RATE)).fill_null(False),
        text=cell.str.contains(r"\p{L}"),
        # what the column rules look at
        pulse_billed=(pl.col("first").is_in(_BILLING) & pl.col("next").is_in(_BILLING))
        .fill_null(False),
        billed=whole.is_in(_BILLING).fill_null(False),
        fractional=(
            pl.col("price_error").is_null() & (value < MAX_RATE) & (value != value.floor())
        ).fill_null(False),
        mccmnc_only=cell.str.contains(r"^[0-9]{5,6}$"),
        compact_date=cell.str.contains(_COMPACT_DATE),
        whole_value=whole,
        cell=cell,
    )


def _code_fits(text: pl.Series) -> pl.Series:
    """Per cell: every code it holds (one, a list, a range, a pair) starts with an E.164
    country code (``expand_codes`` reads them, the hyphen decided for the column)."""
    codes, _ = expand_codes(text, international_prefix=True)
    code = pl.col("code")
    country = code.str.slice(0, 1).is_in(_COUNTRY_CODES) | code.str.slice(0, 2).is_in(
        COUNTRY_CODES
    ) | code.str.slice(0, 3).is_in(_COUNTRY_CODES)
    per_row = codes.group_by("row").agg(fit=country.fill_null(False).all())
    rows = pl.DataFrame({"row": pl.int_range(text.len(), eager=True, dtype=pl.UInt32)})
    joined = rows.join(per_row.with_columns(pl.col("row").cast(pl.UInt32)), on="row", how="left")
    return joined.get_column("fit").fill_null(False).rename("code")


def _number_fits(text: pl.Series) -> pl.Series:
    """Per cell: a complete phone number (E.164, 8–15 digits) that ``phonenumbers`` calls
    possible; brackets, dots and hyphens of a written number ("+1 (212) 555-0100") go when the
    cell has brackets or two of them (one hyphen is a range or a pair of codes)."""
    marked = text.str.contains(r"[()]") | (text.str.count_matches(_PHONE_MARKS) >= 2)
    bare = pl.select(
        pl.when(marked).then(text.str.replace_all(_PHONE_MARKS, "")).otherwise(text)
    ).to_series()
    digits, _ = parse_codes(bare, international_prefix=True)
    length = digits.str.len_chars()
    candidates = digits.filter(length.is_between(*NUMBER_DIGITS).fill_null(False)).unique()
    possible = [number for number in candidates.to_list() if _possible_number(number)]
    return digits.is_in(possible).fill_null(False).rename("number")


def _possible_number(digits: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        return False


def _column_types(text: pl.Series, fits: pl.DataFrame, shares: dict[str, float]) -> tuple[str, ...]:
    """The types the column fits as a whole, in ``CONTENT_TYPES`` order but for the two
    exceptions said there."""
    filled = text.len()
    enough = filled >= MIN_FILLED

    def share(column: str) -> float:
        return float(fits.get_column(column).mean())

    def fit(kind: str) -> bool:
        return enough and shares[kind] >= FIT_SHARE

    pulses = fits.filter(pl.col("pulse")).get_column("cell")
    seconds = fits.filter(pl.col("seconds")).get_column("whole_value")
    rules = {
        # few distinct pairs of usual increments: "1264-581" is a NANP code, not a pulse
        "pulse": fit("pulse")
        and share("pulse_billed") >= PRICE_FRACTION_SHARE
        and pulses.n_unique() <= MAX_SECONDS_VALUES,
        "date": fit("date"),
        "flag": fit("flag"),
        "change": fit("change"),
        "currency": fit("currency"),
        "mccmnc": fit("mccmnc"),
        # "20260101": digits that read as a date are neither a number nor a code
        "number": fit("number") and share("compact_date") < FIT_SHARE,
        "seconds": fit("seconds")
        and seconds.n_unique() <= MAX_SECONDS_VALUES
        and share("billed") >= PRICE_FRACTION_SHARE,
        "price": fit("price") and share("fractional") >= PRICE_FRACTION_SHARE,
    }
    # a code column is not seconds-like, pulses or yyyymmdd dates, and writes no price fraction
    rules["code"] = (
        fit("code")
        and not rules["seconds"]
        and not rules["pulse"]
        and share("compact_date") < FIT_SHARE
        and not fits.get_column("fractional").any()
    )
    rules["text"] = shares["text"] >= FIT_SHARE and not any(rules.values())
    types = [kind for kind in CONTENT_TYPES if rules[kind]]
    if rules["mccmnc"] and rules["code"] and not (fits.get_column("mccmnc_only") & fits.get_column("mccmnc")).all():
        types.remove("mccmnc")
        types.insert(types.index("code") + 1, "mccmnc")
    if rules["flag"] and rules["seconds"] and not (fits.get_column("whole_value") == 0).any():
        types.remove("flag")
        types.insert(types.index("seconds") + 1, "flag")
    return tuple(types)
