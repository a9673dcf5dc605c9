"""Cell parsers (docs/reading.md#cells): strings in, typed values and per-cell reason codes out.

Every parser takes a ``pl.Series`` of strings (nulls allowed) and returns the parsed values and
an ``errors`` series of the same length holding a reason code per cell, or null when the cell is
fine.  The work is done with polars expressions over the whole column; a rule that needs to look
at the whole column (decimal comma vs thousands separator, day-first vs month-first dates) is
decided once per column.

Reason codes (``REASON_TEXT`` says each one in words): ``missing_code``, ``bad_code``,
``bad_range``, ``bad_price``, ``negative_price``, ``absurd_price``, ``bad_date``,
``ambiguous_date``, ``bad_timezone``, ``bad_interval`` (of ``parse_pulse`` and, unless the
caller names another, ``parse_ints``), ``bad_flag``, ``bad_currency``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata

from ingestd.intervals import IN_CELLS, pair_pattern
from ingestd.rates.export import FORMULA_START
from ingestd.rates.model import PRICE, TIME
from ingestd.sheets.headers import currency_in, fold

MAX_CODE_DIGITS = 15  # E.164: a number (and so a prefix) has at most 15 digits
MAX_RANGE_CODES = 10_000  # "447400-447409" is ten codes; a range of more is a typo
HYPHEN_MEANINGS = ("auto", "range", "pair")
# E.164 country calling codes, from libphonenumber's metadata (docs/semantics.md#rate-semantics: the
# field's own data)
COUNTRY_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
ABSURD_PRICE = 1_000_000
# Excel keeps 15 significant digits; more in a price is binary float noise
PRICE_SIGNIFICANT_DIGITS = 15
# compared by ``word_key`` (no case, accents or end punctuation): ``IMMÉDIAT`` is ``immediat``
ASAP_WORDS = (
    "asap", "immediate", "immediately", "now", "effective immediately", "with immediate effect",
    # es pt fr de it ru tr ar zh
    "inmediato", "inmediata", "inmediatamente", "de inmediato", "efecto inmediato",
    "con efecto inmediato", "imediato", "imediata", "imediatamente", "de imediato",
    "efeito imediato", "com efeito imediato", "immédiat", "immédiate", "immédiatement",
    "dès que possible", "effet immédiat", "avec effet immédiat", "sofort", "ab sofort",
    "umgehend", "sofortig", "mit sofortiger wirkung", "unverzüglich", "immediato", "immediata",
    "immediatamente", "subito", "con effetto immediato", "effetto immediato", "немедленно",
    "сразу", "незамедлительно", "немедленное", "hemen", "derhal", "anında", "hemen geçerli",
    "فوري", "فورا", "فوراً", "على الفور", "حالا", "立即", "立即生效", "即时", "马上", "即刻",
    "即刻生效", "立刻",
)  # fmt: skip
# yes/no cells (capabilities, blocked, discontinued) as vendors write them, compared by
# ``word_key``; "no" is English and Spanish alike
FLAG_TRUE = (
    "1", "true", "yes", "y", "x", "✓", "✔", "☑", "✅", "○",
    "si", "sí", "s", "verdadero", "sim", "verdadeiro", "oui", "o", "vrai", "ja", "j", "wahr",
    "vero", "да", "д", "истина", "evet", "e", "doğru", "var", "نعم", "صح", "是", "有",
)  # fmt: skip
FLAG_FALSE = (
    "0", "false", "no", "n", "✗", "✘", "☐", "❌", "×",
    "falso", "não", "nao", "non", "faux", "nein", "falsch", "нет", "н", "ложь", "hayır", "h",
    "yanlış", "yok", "لا", "خطأ", "否", "无", "没有",
)  # fmt: skip
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

_WORK = "cell"  # the column name the parsers work on

# What each reason code means, for the messages of row errors: "<header> '<cell>' <text>".
REASON_TEXT = {
    "missing_code": "is empty",
    "bad_code": "is not a code (digits only, at most 15)",
    "bad_range": "is not a range of codes (two ends of one country and of equal length, at most "
    "10,000 codes) nor a country code and the digits that follow it",
    "missing_price": "is empty",
    "bad_price": "is not a price",
    "negative_price": "is negative",
    "absurd_price": "is above 1,000,000",
    "bad_date": "is not a date",
    "ambiguous_date": "could be day-first or month-first (set date_order)",
    "bad_timezone": "is not a time zone",
    "bad_interval": "is not a whole number of seconds",
    "bad_number": "is not a whole number",
    "bad_flag": "is not a yes/no value (1/0, true/false, yes/no, y/n, x)",
    "bad_currency": "is not a three-letter currency code",
}


def _frame(s: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({_WORK: s.cast(pl.String)})


def _per_cell(s: pl.Series, *columns: pl.Expr) -> pl.DataFrame:
    """``columns`` computed once per distinct cell of ``s`` (decks repeat their pulses, flags
    and words) and spread back over its rows."""
    blanks = s.null_count()
    if blanks and blanks * 2 >= s.len():
        return _per_filled_cell(s, columns)
    frame = _frame(s)
    return _spread(frame, frame.unique().select(pl.col(_WORK), *columns), [_WORK]).drop(_WORK)


def _per_filled_cell(s: pl.Series, columns: tuple[pl.Expr, ...]) -> pl.DataFrame:
    """``_per_cell`` of a column mostly blank (a flag column, a column the sheet does not
    have): only the filled cells are looked at, the blank ones take what a blank cell gives,
    instead of hashing a million nulls twice."""
    blank = _frame(pl.Series([None], dtype=pl.String)).select(*columns)
    where = s.is_not_null().arg_true()
    filled = _per_cell(s.gather(where), *columns) if where.len() else blank.clear()
    out = []
    for name, dtype in filled.schema.items():
        column = pl.repeat(blank.get_column(name)[0], s.len(), dtype=dtype, eager=True)
        if where.len():
            column.scatter(where, filled.get_column(name))
        out.append(column.alias(name))
    return pl.DataFrame(out)


def _spread(frame: pl.DataFrame, parsed: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Results computed once per distinct cell (decks repeat their prices and dates) spread
    back over the rows of ``frame``, in their order."""
    return frame.select(keys).join(
        parsed, on=keys, how="left", nulls_equal=True, maintain_order="left"
    )


def _blank(cell: pl.Expr) -> pl.Expr:
    return cell.is_null() | (cell.str.strip_chars() == "")


def _errors(rules: list[tuple[pl.Expr, str | None]]) -> pl.Expr:
    """The reason of the first condition that holds (None: the cell is fine), else null."""
    expr = pl.lit(None, dtype=pl.String)
    for condition, reason in reversed(rules):
        expr = pl.when(condition).then(pl.lit(reason, dtype=pl.String)).otherwise(expr)
    return expr


def raw_cells(row: tuple) -> tuple[str, ...]:
    """A sheet row as a row error shows it: text cells, trailing empty cells dropped."""
    cells = [cell if cell is not None else "" for cell in row]
    while cells and not cells[-1]:
        cells.pop()
    return tuple(cells)


def clean_text(cells: pl.Series, *, neutralized: bool = False) -> pl.Series:
    """Text cells: surrounding spaces go, blank is null; with ``neutralized`` the quote an
    exporter (ours, ``rates.export``) puts before text that looks like a formula goes too."""
    text = cells.cast(pl.String).str.strip_chars()
    text = pl.select(pl.when(text != "").then(text)).to_series()
    if neutralized:
        text = pl.select(
            pl.when(text.str.contains(FORMULA_START.replace("'*", "'+")))
            .then(text.str.slice(1))
            .otherwise(text)
        ).to_series()
    return text.rename(cells.name)


# --- codes -----------------------------------------------------------------------------------

_SCIENTIFIC = r"^([0-9]+)(?:\.([0-9]*))?[eE]\+?([0-9]+)$"
_LIST_SEPARATORS = r"[,;|\r\n]+"  # one cell, several codes: "49152, 49162", "234803; 234806"
_HYPHEN = r"[-\u2010\u2011\u2012\u2013\u2014]"
# after spaces go: "1264-581", "+44-20", "1-264-581" (group 2 keeps the later hyphens)
_HYPHENATED = rf"^\+?([0-9]+){_HYPHEN}\+?([0-9]+(?:{_HYPHEN}[0-9]+)*)$"


def ascii_digits(text: str) -> str:
    """``text`` with every Unicode decimal digit (full-width ``４``, Arabic-Indic ``٤``,
    Devanagari ``४``, …) as its ASCII digit and the full-width forms of ASCII signs
    (``＋``, ``－``, ``（``) as those signs: how codes and numbers are written in East Asian and
    Arabic-script spreadsheets and keyboards."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch))
        if ch.isdecimal()
        else chr(ord(ch) - 0xFEE0)
        if "\uff01" <= ch <= "\uff5e"
        else ch
        for ch in text
    )


def _ascii_code_cells(s: pl.Series) -> pl.Series:
    """Code cells with ``ascii_digits`` applied to those that are not ASCII (once per distinct
    cell; a deck of ASCII cells costs a count of bytes and characters)."""
    text = s.cast(pl.String)
    if text.str.len_bytes().sum() == text.str.len_chars().sum():
        return text
    foreign = text.filter(text.str.len_bytes() != text.str.len_chars()).unique()
    return text.replace({cell: ascii_digits(cell) for cell in foreign.to_list()})


def _with_code_digits(
    frame: pl.DataFrame, text: str, *, international_prefix: bool
) -> pl.DataFrame:
    """``frame`` with a ``digits`` column: the code written in column ``text``, null when it
    is not a code (see ``parse_codes``).  Cells that are plain digits already (nearly all of
    a large deck) skip the repairs; the rest go through them step by step."""
    plain = frame.get_column(text).str.contains(r"^[0-9]+$").fill_null(False)
    if plain.all():
        return _valid_digits(frame.with_columns(pl.col(text).alias("digits")), international_prefix)
    if not plain.any():
        return _repaired_digits(frame, text, international_prefix)
    marked = frame.with_row_index("_position")
    return (
        pl.concat(
            [
                _valid_digits(
                    marked.filter(plain).with_columns(pl.col(text).alias("digits")),
                    international_prefix,
                ),
                _repaired_digits(marked.filter(~plain), text, international_prefix),
            ]
        )
        .sort("_position")
        .drop("_position")
    )


def _repaired_digits(frame: pl.DataFrame, text: str, international_prefix: bool) -> pl.DataFrame:
    """Spaces, ``+`` and Excel damage (scientific notation, ``7940.0``) taken out of codes."""
    frame = frame.with_columns(
        pl.col(text).str.replace_all(r"\s+", "").str.strip_prefix("+").alias("_text")
    )
    frame = frame.with_columns(
        pl.col("_text").str.extract_groups(_SCIENTIFIC).struct.rename_fields(["m", "f", "e"])
        .alias("_scientific")
    )  # fmt: skip
    mantissa = pl.col("_scientific").struct.field("m")
    fraction = pl.col("_scientific").struct.field("f").fill_null("")
    exponent = pl.col("_scientific").struct.field("e").cast(pl.Int64, strict=False)
    significant = mantissa.str.strip_chars_start("0").str.len_chars() + fraction.str.len_chars()
    exact = (fraction.str.len_chars() == exponent) & (significant <= MAX_CODE_DIGITS)
    frame = frame.with_columns(
        pl.when(mantissa.is_not_null())
        .then(pl.when(exact).then(mantissa + fraction))
        .otherwise(pl.col("_text").str.replace(r"^([0-9]+)\.0+$", "$1"))
        .alias("digits")
    ).drop("_text", "_scientific")
    return _valid_digits(frame, international_prefix)


def _valid_digits(frame: pl.DataFrame, international_prefix: bool) -> pl.DataFrame:
    """The ``digits`` column kept only where it is a code (null elsewhere)."""
    valid = rf"^[0-9]{{1,{MAX_CODE_DIGITS}}}$"
    digits = pl.col("digits")
    if international_prefix:
        # E.164 digits never start with 0: what is left of "00"/"011" after one is not a code
        digits = digits.str.replace(r"^(?:00|011)", "")
        valid = rf"^[1-9][0-9]{{0,{MAX_CODE_DIGITS - 1}}}$"
    frame = frame.with_columns(digits.alias("digits"))
    return frame.with_columns(
        pl.when(pl.col("digits").str.contains(valid)).then(pl.col("digits")).alias("digits")
    )


def parse_codes(s: pl.Series, *, international_prefix: bool = True) -> tuple[pl.Series, pl.Series]:
    """Digits-only codes.

    Spaces and a leading ``+`` go; with ``international_prefix`` (E.164 prefixes and numbers,
    not MCCMNC) a leading ``00``/``011`` goes too, and what is left must not start with 0.
    Excel damage is repaired where it is exact: ``7.9407E+4`` → ``79407``, ``7940.0`` →
    ``7940``; a code in scientific notation whose mantissa does not hold every digit
    (``7.94E+4``, or more than Excel's 15 significant digits) lost digits and is a ``bad_code``.
    """
    cell, digits = pl.col(_WORK), pl.col("digits")
    cells = _frame(_ascii_code_cells(s))
    out = _with_code_digits(cells, _WORK, international_prefix=international_prefix).select(
        digits.alias("code"),
        _errors([(_blank(cell), "missing_code"), (digits.is_null(), "bad_code")]).alias("error"),
    )
    return out.get_column("code").rename(s.name), out.get_column("error")


def expand_codes(
    s: pl.Series,
    *,
    hyphen: str = "auto",
    international_prefix: bool = True,
    open_as: str | None = None,
) -> tuple[pl.DataFrame, str | None]:
    """The codes of cells that may hold lists and ranges, one output row per code.

    A cell holds one code or a list (``,`` ``;`` ``|`` newline).  A hyphen means a range
    (``447400-447409`` → ten codes, at most ``MAX_RANGE_CODES``) or a pair to join (E.164:
    country code + what follows, ``93-76`` → ``9376``, ``1264-581`` → ``1264581``,
    ``1-264-581`` → ``1264581``; MCCMNC: MCC + MNC, ``234-10`` → ``23410``).  ``hyphen``
    forces one meaning for the column; ``auto`` decides per item by numbering knowledge
    (``_hyphen_reading``): an item that could be either takes the meaning the column's other
    items prove, else a range.  When those prove both, the column is ``"mixed"``: the caller
    refuses it rather than guess.

    Returns the frame (``row``: position of the cell in ``s``; ``item``: the list item as
    written; ``code``; ``error``: a reason code or null; a blank cell gives one row with
    ``missing_code``) and the meaning of hyphens used: ``"range"``, ``"pair"``, ``"both"``
    (each item decided by itself, some ranges and some pairs), ``"mixed"`` or None when no
    value has a hyphen and none was forced.  ``open_as`` ("range" or "pair", what a vendor's
    earlier decks proved) settles the items that could be either in a column whose other items
    prove both meanings, instead of refusing it: the meaning is then ``"proven"``.
    """
    if hyphen not in HYPHEN_MEANINGS:
        raise ValueError(f"hyphen must be one of {HYPHEN_MEANINGS}, not {hyphen!r}")
    item, start, end = pl.col("item"), pl.col("start"), pl.col("end")
    cells = pl.DataFrame({"cell": _ascii_code_cells(s)}).with_row_index("row")
    # most cells hold one plain code: only the others are split and looked at for hyphens
    several = pl.col("cell").str.contains(r"[,;|\r\n\-\u2010-\u2014]").fill_null(False)
    plain = cells.filter(~several).select(
        "row", pl.col("cell").str.strip_chars().alias("item"), pl.lit(False).alias("bad_range")
    )
    frame = (
        cells.filter(several)
        .with_columns(
            pl.col("cell").str.replace_all(_LIST_SEPARATORS, ",").str.split(",").alias("item")
        )
        .explode("item")
        .with_columns(item.str.strip_chars())
    )
    written = item.is_not_null() & (item != "")
    # a list of nothing (",") stays as one row, to be reported missing
    first = pl.int_range(pl.len()).over("row") == 0
    frame = frame.filter(written | (~written.any().over("row") & first)).drop("cell")
    compact = item.str.replace_all(r"\s+", "")
    rest = compact.str.extract(_HYPHENATED, 2)
    frame = frame.with_columns(
        compact.str.extract(_HYPHENATED, 1).alias("start"),
        rest.str.replace_all(_HYPHEN, "").alias("end"),
        rest.str.contains(_HYPHEN).alias("chained"),  # 1-264-581: only ever joined
    )
    frame = frame.with_columns(
        start.is_not_null().alias("hyphenated"),
        *_hyphen_reading(start, end, pl.col("chained"), international_prefix=international_prefix),
    )
    if hyphen == "auto":
        meaning, ambiguous_as = _hyphen_meaning(frame)
        if meaning == "mixed" and open_as in ("range", "pair"):
            # what the vendor's earlier decks proved settles the items that could be either
            meaning, ambiguous_as = "proven", open_as
        could_range, could_pair = pl.col("could_range"), pl.col("could_pair")
        both = could_range & could_pair
        as_range = (could_range & ~could_pair) | (both & pl.lit(ambiguous_as == "range"))
        as_pair = (could_pair & ~could_range) | (both & pl.lit(ambiguous_as == "pair"))
    else:
        meaning = hyphen
        as_range = pl.col("shaped_range") & pl.lit(hyphen == "range")
        as_pair = pl.col("hyphenated") & pl.lit(hyphen == "pair")
    width = start.str.len_chars()
    count = end.cast(pl.Int64, strict=False) - start.cast(pl.Int64, strict=False) + 1
    in_range = as_range & (count <= MAX_RANGE_CODES)
    frame = frame.with_columns(
        in_range.alias("in_range"),
        as_pair.alias("joined"),
        pl.when(in_range).then(start.cast(pl.Int64, strict=False)).otherwise(0).alias("low"),
        pl.when(in_range).then(end.cast(pl.Int64, strict=False)).otherwise(0).alias("high"),
    )
    frame = frame.with_columns(pl.int_ranges("low", pl.col("high") + 1).alias("n")).explode("n")
    listed = frame.select(
        "row",
        pl.when(pl.col("in_range"))
        .then(pl.col("n").cast(pl.String).str.zfill(width))
        .when(pl.col("joined"))
        .then(start + end)
        .otherwise(item)
        .alias("text"),
        item,
        (pl.col("hyphenated") & ~pl.col("in_range") & ~pl.col("joined")).alias("bad_range"),
    )
    both = pl.concat([plain.with_columns(item.alias("text")), listed], how="diagonal")
    both = _with_code_digits(
        both.sort("row", maintain_order=True), "text", international_prefix=international_prefix
    )
    digits = pl.col("digits")
    out = both.select(
        "row",
        "item",
        digits.alias("code"),
        _errors(
            [
                (_blank(item), "missing_code"),
                (pl.col("bad_range"), "bad_range"),
                (digits.is_null(), "bad_code"),
            ]
        ).alias("error"),
    )
    return out, (meaning if meaning != "none" else None)


def _hyphen_reading(
    start: pl.Expr, end: pl.Expr, chained: pl.Expr, *, international_prefix: bool
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """What a hyphen between ``start`` and ``end`` (digits; ``chained``: more hyphens were in
    ``end``) can mean: ``shaped_range`` (ends of equal length, in order, same first digit: a
    range when the vendor says hyphens are ranges), ``could_range`` and ``could_pair``.

    E.164 (docs/reading.md#decks-nobody-taught-us, codes by numbering knowledge): a pair when
    ``start`` is a country code, NANP ones included (``1264``, ``1876``: ``nanp_areas``), and
    ``end`` can follow it (after ``1`` an area code, after ``1NPA`` an exchange or subscriber
    digits: neither starts with 0 or 1); a range when both ends are codes of one country
    (``country_of``).  MCCMNC: a pair is a 3-digit MCC and a 2- or 3-digit MNC, a range has ends of
    equal length."""
    width, end_width = start.str.len_chars(), end.str.len_chars()
    shaped_range = (
        ~chained
        & (width == end_width)
        & (width <= MAX_CODE_DIGITS)
        & (end >= start)
        & ((width == 1) | (start.str.slice(0, 1) == end.str.slice(0, 1)))
    )
    fits = width + end_width <= MAX_CODE_DIGITS
    if international_prefix:
        left = start.str.replace(r"^(?:00|011)", "")
        right = end.str.replace(r"^(?:00|011)", "")
        areas = list(nanp_areas())
        could_pair = (
            pl.when(left == "1")
            .then(end.str.contains(r"^[2-9][0-9]{0,9}$"))
            .when(left.is_in(areas))
            .then(end.str.contains(r"^[2-9][0-9]{0,6}$"))
            .otherwise(left.is_in(list(COUNTRY_CODES)))
        )
        could_range = shaped_range & (country_of(left) == country_of(right))
    else:
        could_pair = ~chained & (width == 3) & end_width.is_between(2, 3)
        could_range = shaped_range
    return (
        shaped_range.fill_null(False).alias("shaped_range"),
        could_range.fill_null(False).alias("could_range"),
        (could_pair & fits).fill_null(False).alias("could_pair"),
    )


@functools.cache
def nanp_areas() -> dict[str, str]:
    """Each NANP area code written as a code (``1`` + NPA) → its region, from libphonenumber's
    metadata: the regions other than US and CA by their leading digits (``1264`` AI, ``1876``
    JM), US and CA by the numbers their patterns accept."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]
    npas = [str(npa) for npa in range(200, 1000)]
    areas: dict[str, str] = {}
    for region in regions:
        leading = _leading_digits(region)
        if leading:
            pattern = re.compile(f"(?:{leading})")
            areas.update(("1" + npa, region) for npa in npas if pattern.match(npa))
    for region in regions:
        if _leading_digits(region):
            continue
        metadata = PhoneMetadata.metadata_for_region(region)
        patterns = [
            re.compile(f"(?:{desc.national_number_pattern})")
            for desc in (
                metadata.fixed_line, metadata.mobile, metadata.toll_free, metadata.premium_rate,
                metadata.personal_number, metadata.voip, metadata.uan, metadata.shared_cost,
            )
            if desc is not None and desc.national_number_pattern
        ]  # fmt: skip
        for npa in npas:
            if "1" + npa not in areas and any(
                pattern.fullmatch(npa + digit * 7) for pattern in patterns for digit in "23456789"
            ):
                areas["1" + npa] = region
    return areas


@functools.cache
def _nanp_countries() -> list[str]:
    """The NANP area codes that are countries of their own (all but US and CA)."""
    own = {r for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1] if _leading_digits(r)}
    return sorted(code for code, region in nanp_areas().items() if region in own)


def _leading_digits(region: str) -> str | None:
    return PhoneMetadata.metadata_for_region(region).leading_digits


def country_of(code: pl.Expr) -> pl.Expr:
    """The country calling code a code starts with (E.164 country codes are prefix-free), a
    NANP area code of a region other than US and CA standing for its country (``1264``);
    null when the code starts with none (``21``)."""
    calling = pl.coalesce(
        pl.when(code.str.slice(0, n).is_in(list(COUNTRY_CODES))).then(code.str.slice(0, n))
        for n in (1, 2, 3)
    )
    area = code.str.slice(0, 4)
    return pl.when((calling == "1") & area.is_in(_nanp_countries())).then(area).otherwise(calling)


def _hyphen_meaning(frame: pl.DataFrame) -> tuple[str, str]:
    """The meaning of the column's hyphens (``range``, ``pair``, ``both``, ``mixed``, ``none``)
    and the one an item that could be either takes: what the items that can be only one
    prove, else ``range``; ``mixed`` when they prove both and such an item is there."""
    could_range, could_pair = pl.col("could_range"), pl.col("could_pair")
    proof = (
        frame.filter(pl.col("hyphenated"))
        .select(
            any=pl.len() > 0,
            range_only=(could_range & ~could_pair).any(),
            pair_only=(could_pair & ~could_range).any(),
            either=(could_pair & could_range).any(),
        )
        .row(0, named=True)
    )
    ambiguous_as = "pair" if proof["pair_only"] and not proof["range_only"] else "range"
    if not proof["any"]:
        return "none", ambiguous_as
    if proof["range_only"] and proof["pair_only"]:
        return ("mixed" if proof["either"] else "both"), ambiguous_as
    if proof["pair_only"]:
        return "pair", ambiguous_as
    return "range", ambiguous_as


# --- prices ----------------------------------------------------------------------------------

_CURRENCY_MARKS = r"(?:[A-Z]{1,2})?\$|[€£¥₹\s']"
_CURRENCY_CODE = r"^[A-Za-z]{3}|[A-Za-z]{3}$"
_NUMBER = r"^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def parse_prices(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Exact prices (``PRICE``) from text with decimal point or comma, currency marks,
    thousands separators and float noise.  Empty cells are null without an error.

    ``1,234`` alone could be either; the column decides: if other cells show that ``.`` is the
    decimal separator (``0.15``, ``1,234.50``), a lone ``,`` with three digits after it groups
    thousands, and the other way round; with no evidence, a lone separator is decimal.
    """
    frame = _frame(s)
    out = _spread(frame, _prices(frame.unique()), [_WORK])
    return out.get_column("price").rename(s.name), out.get_column("error")


def _prices(frame: pl.DataFrame) -> pl.DataFrame:
    # each step reads the columns the previous one wrote, so every part is computed once
    cell, body, last = pl.col(_WORK), pl.col("body"), pl.col("last")
    dots, commas = pl.col("dots"), pl.col("commas")
    frame = frame.with_columns(
        cell.str.replace_all("\u2212", "-")  # a typographic minus
        .str.replace_all(_CURRENCY_MARKS, "")
        .str.replace_all(_CURRENCY_CODE, "")
        .alias("body")
    )
    frame = frame.with_columns(
        body.str.starts_with("-").alias("negative"),
        body.str.strip_prefix("-").str.strip_prefix("+").alias("body"),
    )
    frame = frame.with_columns(
        body.str.count_matches(".", literal=True).alias("dots"),
        body.str.count_matches(",", literal=True).alias("commas"),
        body.str.extract(r"([.,])([0-9]*)(?:[eE][+-]?[0-9]+)?$", 1).alias("last"),
        body.str.extract(r"([.,])([0-9]*)(?:[eE][+-]?[0-9]+)?$", 2).alias("tail"),
        body.str.extract(r"^([0-9]*)[.,]", 1).alias("head"),
    )
    both = (dots > 0) & (commas > 0)
    lone = (dots + commas) == 1
    # a lone separator is decimal unless it could group thousands ("1,234", "12.345")
    plain_lone = lone & (
        (pl.col("tail").str.len_chars() != 3)
        | pl.col("head").is_in(["", "0"])
        | (pl.col("head").str.len_chars() > 3)
    )
    other = pl.when(last == ".").then(pl.lit(",")).otherwise(pl.lit("."))
    frame = frame.with_columns(
        # what each cell proves on its own
        pl.when(both | plain_lone).then(last).alias("decimal"),
        # "1.234.567": a repeated separator groups thousands
        pl.when(both).then(other).when(~lone & (dots + commas > 1)).then(last).alias("thousands"),
        (lone & ~plain_lone).fill_null(False).alias("ambiguous"),
        # "1,234.5.6": the decimal separator twice is malformed
        (both & (pl.when(last == ".").then(dots).otherwise(commas) > 1)).alias("repeated"),
    )
    evidence = frame.select(
        comma=((pl.col("decimal") == ",") | (pl.col("thousands") == ".")).any(),
        dot=((pl.col("decimal") == ".") | (pl.col("thousands") == ",")).any(),
    ).row(0, named=True)
    grouping = []  # a separator the column proves to group thousands
    if evidence["dot"] and not evidence["comma"]:
        grouping.append(",")
    if evidence["comma"] and not evidence["dot"]:
        grouping.append(".")
    decimal = (
        pl.when(pl.col("ambiguous") & ~last.is_in(grouping)).then(last).otherwise(pl.col("decimal"))
    )
    frame = frame.with_columns(
        pl.when(decimal == ".")
        .then(body.str.replace_all(",", "", literal=True))
        .when(decimal == ",")
        .then(body.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .otherwise(body.str.replace_all(r"[.,]", ""))
        .alias("normal")
    )
    normal = pl.col("normal")
    frame = frame.with_columns(
        (~pl.col("repeated") & normal.str.contains(_NUMBER)).alias("number"),
        (normal.str.extract(r"^0*([0-9]*)", 1).str.len_chars() > len(str(ABSURD_PRICE))).alias(
            "huge"
        ),
    )
    frame = frame.with_columns(
        pl.when(pl.col("number") & ~pl.col("huge"))
        .then(normal)
        .cast(pl.Decimal(38, 20), strict=False)
        .alias("value")
    )
    frame = frame.with_columns(_round_noise(pl.col("value")).alias("value"))
    value = pl.col("value")
    blank = _blank(cell)
    errors = _errors(
        [
            (blank, None),
            (~pl.col("number"), "bad_price"),
            (pl.col("negative") & (value != 0), "negative_price"),
            (pl.col("huge") | value.is_null() | (value > ABSURD_PRICE), "absurd_price"),
        ],
    )
    return frame.select(
        cell,
        pl.when(errors.is_null() & ~blank).then(value.abs().cast(PRICE)).alias("price"),
        errors.alias("error"),
    )


def _round_noise(value: pl.Expr) -> pl.Expr:
    """Round once to the price scale or to 15 significant digits (Excel's; more is binary
    float noise), whichever keeps fewer decimals: only values of 100,000 and more have 15
    significant digits within the price scale."""
    rounded = value.round(PRICE.scale)
    for whole in range(PRICE_SIGNIFICANT_DIGITS - PRICE.scale + 1, len(str(ABSURD_PRICE)) + 1):
        # a value with `whole` digits before the point keeps 15 - whole decimals
        rounded = (
            pl.when(value.abs() >= 10 ** (whole - 1))
            .then(value.round(PRICE_SIGNIFICANT_DIGITS - whole))
            .otherwise(rounded)
        )
    return rounded


# --- currencies ------------------------------------------------------------------------------

# a currency written with a price: a sign before or after it, or a three-letter code
_CURRENCY_MARK = r"^(US\$|[A-Za-z]{3}|[$€£¥₹])\s*[-+.,0-9]|[-+.,0-9]\s*([A-Za-z]{3}|[$€£¥₹])$"


def _currency_codes(marks: pl.Series) -> pl.Series:
    """ISO codes of currency marks (``$``, ``€``, ``usd``), by the header vocabulary's
    ``currency_in``; once per distinct mark."""
    known = {mark: currency_in(mark) for mark in marks.drop_nulls().unique().to_list()}
    return marks.replace_strict(known, default=None, return_dtype=pl.String)


def parse_currencies(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A currency column: a three-letter code (any case) or a sign (``$``, ``€``, ``£``) →
    upper-case code; blank is null; anything else is ``bad_currency``."""
    text = s.cast(pl.String).str.strip_chars()
    three = pl.select(pl.when(text.str.contains(r"^[A-Za-z]{3}$")).then(text.str.to_uppercase()))
    sign = pl.select(pl.when(text.str.contains(r"^(?:US)?[$€£¥₹]$")).then(text)).to_series()
    code = pl.select(pl.coalesce(three.to_series(), _currency_codes(sign))).to_series()
    blank = text.is_null() | (text == "")
    errors = pl.select(pl.when(~blank & code.is_null()).then(pl.lit("bad_currency"))).to_series()
    return code.rename(s.name), errors.rename("error")


def currency_marks(s: pl.Series) -> pl.Series:
    """The currency a price cell writes with its number (``$0.15``, ``0.15 EUR``), else null."""
    text = pl.col(_WORK).str.strip_chars()
    mark = pl.coalesce(text.str.extract(_CURRENCY_MARK, 1), text.str.extract(_CURRENCY_MARK, 2))
    marks = _per_cell(s, mark.alias("mark")).to_series()
    return _currency_codes(marks).rename(s.name)


# --- dates -----------------------------------------------------------------------------------

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
    frame = _frame(s).with_columns(
        pl.Series(zones, dtype=pl.String).str.strip_chars().replace("", None).alias("zone_name")
        if zones is not None
        else pl.lit(None, dtype=pl.String).alias("zone_name")
    )
    keys = [_WORK, "zone_name"]
    parsed, order = _datetimes(
        frame.unique(), date_order=date_order, default_zone=default_zone, excel_1904=excel_1904
    )
    out = _spread(frame, parsed, keys)
    return out.get_column("value").rename(s.name), out.get_column("error"), order


def _datetimes(
    frame: pl.DataFrame, *, date_order: str, default_zone: str | int, excel_1904: bool
) -> tuple[pl.DataFrame, str | None]:
    cell = pl.col(_WORK)
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
        pl.col("text").is_in(_asap_cells(frame.get_column("text"))).alias("asap"),
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
    blank = _blank(cell) | pl.col("asap")
    errors = _errors(
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


# --- numbers and flags -----------------------------------------------------------------------

_INT32_MAX = 2**31 - 1


def parse_ints(s: pl.Series, *, reason: str = "bad_interval") -> tuple[pl.Series, pl.Series]:
    """Whole non-negative numbers (``60``, ``60.0``); anything else is ``reason``."""
    cell = pl.col(_WORK)
    digits = cell.str.strip_chars().str.extract(r"^\+?([0-9]+)(?:\.0*)?$", 1)
    number = digits.cast(pl.Int64, strict=False)
    valid = number.is_not_null() & (number <= _INT32_MAX)
    errors = _errors([(_blank(cell), None), (~valid, reason)])
    out = _per_cell(
        s, pl.when(valid).then(number).cast(pl.Int32).alias("value"), errors.alias("error")
    )
    return out.get_column("value").rename(s.name), out.get_column("error")


def parse_flags(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Booleans from ``FLAG_TRUE`` / ``FLAG_FALSE`` (1/0, yes/no, ticks and crosses, sí/no,
    oui/non, ja/nein, да/нет, evet/hayır, نعم/لا, 是/否, …), any case or accents; blank is
    null."""
    cell = pl.col(_WORK)
    words = _word_keys(s.cast(pl.String), _FLAG_KEYS)
    flags = {word: _FLAG_KEYS[key] for word, key in words.items()}
    value = cell.replace_strict(flags, default=None, return_dtype=pl.Boolean)
    errors = _errors([(_blank(cell), None), (value.is_null(), "bad_flag")])
    out = _per_cell(s, value.alias("value"), errors.alias("error"))
    return out.get_column("value").rename(s.name), out.get_column("error")


def parse_pulse(s: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Billing increments: ``60/1`` (also ``60-1``, ``60+1``, ``60:1``) → first 60, next 1;
    a single number ``60`` means 60/60."""
    cell = pl.col(_WORK)
    text = cell.str.strip_chars()
    pair = pair_pattern(IN_CELLS)
    single = r"^([0-9]{1,5})$"
    first = pl.coalesce(text.str.extract(pair, 1), text.str.extract(single, 1)).cast(pl.Int32)
    after = pl.coalesce(text.str.extract(pair, 2), text.str.extract(single, 1)).cast(pl.Int32)
    valid = (first > 0) & (after > 0)
    errors = _errors([(_blank(cell), None), (~valid.fill_null(False), "bad_interval")])
    out = _per_cell(
        s,
        pl.when(valid).then(first).alias("first"),
        pl.when(valid).then(after).alias("next"),
        errors.alias("error"),
    )
    return out.get_column("first"), out.get_column("next"), out.get_column("error")


# --- change words ----------------------------------------------------------------------------

# A vendor's own word for what happened to a row (a "Change" / "Rate Change" / "Status" column,
# or a code-changes sheet), normalised to ingestd's change classes.
CHANGE_WORDS = {
    "increase": (
        "increase", "increased", "up", "rate increase", "price increase", "rate up", "price up",
        "higher",
        # es pt fr de it ru tr ar zh
        "aumento", "subida", "sube", "incremento", "alza", "aumentado", "aumento de tarifa",
        "aumento de precio", "incrementado", "acréscimo", "aumento de preço", "elevação", "hausse",
        "augmentation", "augmenté", "en hausse", "hausse de prix", "erhöhung", "erhoehung",
        "erhöht", "erhoeht", "preiserhöhung", "preiserhoehung", "anstieg", "gestiegen", "rialzo",
        "aumentato", "повышение", "увеличение", "рост", "повышена", "повышен", "увеличена",
        "повышение цены", "artış", "zam", "arttı", "fiyat artışı", "yükseliş", "زيادة", "ارتفاع",
        "زيادة السعر", "مرتفع", "上调", "涨价", "上涨", "提高", "价格上调", "上升",
    ),
    "decrease": (
        "decrease", "decreased", "down", "rate decrease", "price decrease", "reduced", "reduction",
        "rate down", "price down", "lower",
        # "baja" is a removal ("alta/baja"): a lower price is "bajada", "rebaja", "disminución"
        "bajada", "rebaja", "disminución", "reducción", "descenso", "disminuido", "reducido",
        "bajada de precio", "redução", "diminuição", "reduzido", "redução de preço", "queda",
        "baisse", "diminution", "diminué", "réduction", "en baisse", "baisse de prix", "senkung",
        "gesenkt", "preissenkung", "reduzierung", "reduziert", "riduzione", "diminuzione",
        "ribasso", "ridotto", "diminuito", "понижение", "снижение", "уменьшение", "снижена",
        "понижена", "понижен", "снижение цены", "azalış", "düşüş", "indirim", "azaldı", "azalma",
        "fiyat düşüşü", "تخفيض", "انخفاض", "نقصان", "تخفيض السعر", "下调", "降价", "下降", "降低",
        "价格下调",
    ),
    "new": (
        "new", "added", "add", "new code", "code added", "destination added", "new destination",
        "new route", "addition", "code addition", "new prefix", "prefix added", "codes added",
        "nuevo", "nueva", "alta", "añadido", "añadida", "agregado", "agregada", "nuevo código",
        "código nuevo", "nuevo destino", "dado de alta", "alta de código", "novo", "nova",
        "adicionado", "adicionada", "incluído", "incluída", "novo código", "código novo",
        "novo destino", "inclusão", "nouveau", "nouvelle", "ajouté", "ajoutée", "ajout",
        "nouveau code", "code ajouté", "nouvelle destination", "neu", "hinzugefügt", "hinzugefuegt",
        "neuer code", "neue vorwahl", "neues ziel", "aufgenommen", "nuovo", "nuova", "aggiunto",
        "aggiunta", "nuovo codice", "nuovo prefisso", "новый", "новая", "новое", "добавлен",
        "добавлено", "добавлена", "новый код", "код добавлен", "yeni", "eklendi", "yeni kod",
        "eklenen", "kod eklendi", "جديد", "جديدة", "مضاف", "أضيف", "تمت الإضافة", "إضافة",
        "رمز جديد", "新增", "新", "新开", "新码", "新号段", "添加", "已添加", "新增号码",
    ),
    "unchanged": (
        "no change", "no changes", "unchanged", "same", "nochange", "not changed",
        "no change on pending increase", "code unchanged", "existing", "current", "sin cambio",
        "sin cambios", "igual", "sin variación", "sin modificación", "mismo", "sem alteração",
        "sem alterações", "inalterado", "sem mudança", "sem mudanças", "inchangé", "inchangée",
        "sans changement", "aucun changement", "pas de changement", "identique", "unverändert",
        "unveraendert", "keine änderung", "keine aenderung", "gleich", "ohne änderung",
        "ohne aenderung", "invariato", "invariata", "nessuna variazione", "nessun cambiamento",
        "без изменений", "не изменилось", "не изменен", "без изм", "değişiklik yok", "değişmedi",
        "aynı", "sabit", "بدون تغيير", "لا تغيير", "ثابت", "لم يتغير", "不变", "无变化", "未变",
        "没有变化", "保持不变", "维持",
    ),
    "discontinued": (
        "closed", "close", "deleted", "delete", "removed", "remove", "discontinued", "withdrawn",
        "code removed", "code deleted", "code closed", "code removal", "code deletion", "removal",
        "deletion", "destination removed", "destination closed", "codes removed", "terminated",
        "eliminado", "eliminada", "borrado", "borrada", "dado de baja", "baja", "cerrado",
        "cerrada", "suprimido", "suprimida", "retirado", "retirada", "código eliminado",
        "baja de código", "eliminación", "removido", "removida", "excluído", "excluída",
        "encerrado", "encerrada", "desativado", "exclusão", "remoção", "código removido",
        "supprimé", "supprimée", "fermé", "fermée", "retiré", "retirée", "suppression",
        "code supprimé", "gelöscht", "geloescht", "entfernt", "geschlossen", "eingestellt",
        "abgeschaltet", "gestrichen", "löschung", "loeschung", "entfällt", "entfaellt", "eliminato",
        "eliminata", "rimosso", "rimossa", "chiuso", "chiusa", "cancellato", "cancellata",
        "soppresso", "cessato", "удалено", "удален", "удалён", "удалена", "закрыто", "закрыт",
        "закрыта", "удаление", "код удален", "отключен", "silindi", "kaldırıldı", "kapatıldı",
        "kapalı", "silinen", "kaldırılan", "kod silindi", "محذوف", "حذف", "مغلق", "ملغى",
        "تم الحذف", "أزيل", "إزالة", "删除", "关闭", "已删除", "停用", "取消", "移除", "下线",
        "已关闭",
    ),
    "forbidden": (
        "blocked", "block", "barred", "forbidden", "bloqueado", "bloqueada", "prohibido",
        "proibido", "bloqué", "bloquée", "interdit", "gesperrt", "verboten", "bloccato", "vietato",
        "заблокировано", "заблокирован", "запрещено", "engellendi", "engelli", "yasak", "محظور",
        "محجوب", "禁止", "封锁", "屏蔽", "禁用",
    ),
}  # fmt: skip
# cells that say nothing: no word, not an unknown one
NO_WORDS = ("", "-", "n/a", "na", "none", "null", "undefined", "tbd")


def word_key(text: str) -> str:
    """A vendor's word as ``ASAP_WORDS``, ``CHANGE_WORDS`` and ``NO_WORDS`` are compared: no
    case or accents (``headers.fold``), spaces, ``_`` and ``-`` one space, no end punctuation."""
    return " ".join(fold(text).replace("_", " ").replace("-", " ").split()).strip(" .!:")


_WORD_CLASS = {word_key(word): change for change, words in CHANGE_WORDS.items() for word in words}
_ASAP_KEYS = frozenset(word_key(word) for word in ASAP_WORDS)
_NO_WORD_KEYS = frozenset(word_key(word) for word in NO_WORDS)
_FLAG_KEYS = {word_key(word): False for word in FLAG_FALSE} | {
    word_key(word): True for word in FLAG_TRUE
}
_CHANGE_OR_NO_WORD_KEYS = frozenset(_WORD_CLASS) | _NO_WORD_KEYS


def _word_keys(cells: pl.Series, known: Collection[str]) -> dict[str, str]:
    """Each distinct cell whose ``word_key`` is one of ``known`` → that key.  Once per distinct
    cell; ASCII cells (nearly all) as a whole column, where ``word_key`` is lower case, runs of
    spaces, ``_`` and ``-`` one space, no end punctuation."""
    distinct = cells.drop_nulls().unique()
    ascii_only = distinct.str.len_bytes() == distinct.str.len_chars()
    plain = distinct.filter(ascii_only)
    keys = (
        plain.str.to_lowercase().str.replace_all(r"[\s\x1c-\x1f_\-]+", " ").str.strip_chars(" .!:")
    )
    wanted = keys.is_in(list(known))
    words = dict(zip(plain.filter(wanted).to_list(), keys.filter(wanted).to_list(), strict=True))
    for cell in distinct.filter(~ascii_only).to_list():
        key = word_key(cell)
        if key in known:
            words[cell] = key
    return words


def _asap_cells(texts: pl.Series) -> list[str]:
    """The cells of a date column that are ASAP words (only cells without digits are looked
    at: a column of dates has many distinct cells, its words few)."""
    return list(_word_keys(texts.filter(~texts.str.contains(r"[0-9]").fill_null(True)), _ASAP_KEYS))


def parse_change_words(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Change classes (``CHANGE_WORDS``: new, increase, decrease, unchanged, discontinued,
    forbidden) from the vendor's words, any case and spacing; blank and ``NO_WORDS`` are null.

    Returns the classes and, for a word that is none of these, the word as written (a caller
    warns about it: an unknown word is not a reason to reject a row)."""
    cell = pl.col(_WORK)
    written = cell.str.strip_chars()
    words = _word_keys(s.cast(pl.String), _CHANGE_OR_NO_WORD_KEYS)
    classes = {word: _WORD_CLASS[key] for word, key in words.items() if key in _WORD_CLASS}
    change = cell.replace_strict(classes, default=None, return_dtype=pl.String)
    said_nothing = cell.is_in([word for word, key in words.items() if key in _NO_WORD_KEYS])
    unknown = change.is_null() & written.is_not_null() & ~said_nothing
    out = _per_cell(s, change.alias("change"), pl.when(unknown).then(written).alias("unknown"))
    return out.get_column("change").rename(s.name), out.get_column("unknown")
