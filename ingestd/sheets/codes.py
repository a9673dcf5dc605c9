"""Code cells (docs/reading.md#codes): E.164 prefixes and numbers, MCCMNCs, as vendors write
them: with spaces, ``+`` and international prefixes, in lists and ranges, as a country code and
the digits after it joined by a hyphen, damaged by Excel, in the digits of any script.

Which country a code belongs to, and the NANP area codes, are ``sheets.regions``'s; this module
decides what a cell holds by them.
"""

from __future__ import annotations

import unicodedata

import polars as pl

from ingestd.sheets.cells import WORK, cell_frame, first_reason, is_blank
from ingestd.sheets.regions import COUNTRY_CODES, country_of, nanp_areas

MAX_CODE_DIGITS = 15  # E.164: a number (and so a prefix) has at most 15 digits
MAX_RANGE_CODES = 10_000  # "447400-447409" is ten codes; a range of more is a typo
HYPHEN_MEANINGS = ("auto", "range", "pair")

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
    cell, digits = pl.col(WORK), pl.col("digits")
    cells = cell_frame(_ascii_code_cells(s))
    out = _with_code_digits(cells, WORK, international_prefix=international_prefix).select(
        digits.alias("code"),
        first_reason([(is_blank(cell), "missing_code"), (digits.is_null(), "bad_code")]).alias(
            "error"
        ),
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
        first_reason(
            [
                (is_blank(item), "missing_code"),
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
