"""The dialling codes of a found table's rows (docs/reading.md#cells): E.164 prefixes or
numbers, NANP codes or MCCMNCs, from whichever columns the sheet gives them in (one code column,
country code and area code, NPA-NXX, NPA and NXX, MCC and MNC).

A code cell that lists or ranges several codes becomes several rows with the same ``row``
(``cells.expand_codes``).  A column whose hyphens prove both ranges and pairs refuses the sheet
(``mixed_hyphens``) unless what the vendor's earlier decks proved settles the items it leaves
open.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ingestd.errors import SheetError
from ingestd.rates.model import Kind
from ingestd.sheets.codes import expand_codes, parse_codes
from ingestd.sheets.doubt import Proven
from ingestd.sheets.table_rows import ROW, TableRows, listed

# a list item of a code cell with a hyphen between digits: a range or a pair ("1264-581")
_HYPHENATED_ITEM = r"[0-9]\s*[-–—]\s*\+?[0-9]"


@dataclass
class Hyphens:
    """How the codes' hyphens are read: ``meaning`` ("auto", "range", "pair"); ``proven``, what
    the vendor's earlier decks proved, settles the items a column leaves open when its other
    items prove both meanings, and ``settled`` records that it did."""

    meaning: str
    proven: Proven | None = None
    settled: bool = False


def read_codes(sheet: TableRows, kind: Kind, hyphen: Hyphens) -> pl.DataFrame:
    """The codes of each row (``row``, ``code``, ``error``, ``item``, ``field``): E.164
    prefixes or numbers, NANP codes, or MCCMNCs, whatever columns the sheet gives them in."""
    if kind == Kind.SMS:
        for name in ("mccmnc", "code"):
            if sheet.has(name):
                return _listed_codes(sheet, name, hyphen, international=False)
        if sheet.has("mcc"):
            return _mcc_mnc(sheet)
        wanted = "MCCMNC (or MCC and MNC)"
    else:
        for name in ("number", "code") if kind == Kind.DID else ("code", "number"):
            if sheet.has(name):
                return _listed_codes(sheet, name, hyphen, international=True)
        if sheet.has("country_code"):
            return _country_area(sheet, hyphen)
        if sheet.has("npanxx"):
            return _nanp(sheet, hyphen)
        if sheet.has("npa"):
            return _npa_nxx(sheet)
        wanted = "numbers" if kind == Kind.DID else "codes (or country code and area code)"
    raise SheetError("no_code_column", f"the {kind} table has no column of {wanted}")


def _listed_codes(
    sheet: TableRows,
    name: str,
    hyphen: Hyphens,
    *,
    international: bool,
    text: pl.Series | None = None,
) -> pl.DataFrame:
    cells = sheet.text(name) if text is None else text
    codes, meaning = expand_codes(
        cells,
        hyphen=hyphen.meaning,
        open_as=hyphen.proven.meaning if hyphen.proven else None,
        international_prefix=international,
    )
    if meaning == "proven":
        hyphen.settled = True
    if meaning == "mixed":
        hyphenated = codes.filter(pl.col("item").str.contains(_HYPHENATED_ITEM))
        examples = hyphenated.get_column("item").unique(maintain_order=True).to_list()
        raise SheetError(
            "mixed_hyphens",
            f"column {sheet.header(name)!r} uses hyphens both for ranges of codes and for "
            f"country code–area code pairs ({listed(map(repr, examples), 5)}): set the vendor "
            'option hyphen ("range" or "pair")',
        )
    return codes.with_columns(pl.lit(name).alias("field"))


def _country_area(sheet: TableRows, hyphen: Hyphens) -> pl.DataFrame:
    """Country code + area code (docs/reading.md#finding-the-table): joined; a blank area is the
    country code alone."""
    country, country_errors = parse_codes(sheet.text("country_code"))
    per_row = pl.DataFrame({"country": country, "country_error": country_errors})
    per_row = per_row.with_row_index(ROW)
    if sheet.has("area_code"):
        areas = _listed_codes(sheet, "area_code", hyphen, international=False)
    else:
        areas = per_row.select(
            ROW,
            pl.lit(None, pl.String).alias("item"),
            pl.lit(None, pl.String).alias("code"),
            pl.lit("missing_code").alias("error"),
        )
    both = areas.join(per_row, on=ROW, how="left", maintain_order="left")
    area_blank = (pl.col("error") == "missing_code").fill_null(False)
    joined = both.select(
        pl.when(area_blank).then(pl.col("country")).otherwise(pl.col("country") + pl.col("code"))
    ).to_series()
    codes, errors = parse_codes(joined)
    both = both.with_columns(codes.alias("joined"), errors.alias("joined_error"))
    country_wrong = pl.col("country_error").is_not_null()
    area_wrong = ~area_blank & pl.col("error").is_not_null()
    return both.select(
        ROW,
        pl.col("item"),
        pl.col("joined").alias("code"),
        pl.when(country_wrong)
        .then(pl.col("country_error"))
        .when(area_wrong)
        .then(pl.col("error"))
        .otherwise(pl.col("joined_error"))
        .alias("error"),
        pl.when(country_wrong | area_blank)
        .then(pl.lit("country_code"))
        .otherwise(pl.lit("area_code"))
        .alias("field"),
    )


def _nanp(sheet: TableRows, hyphen: Hyphens) -> pl.DataFrame:
    """NPANXX codes (US domestic decks, docs/reading.md#finding-the-table) as E.164 prefixes: ``1``
    in front."""
    # "201-555" writes one NPA-NXX, not a range; "201200-201209" is a range
    text = sheet.text("npanxx").str.replace_all(r"\b([0-9]{3})[-. ]([0-9]{3})\b", "${1}${2}")
    codes = _listed_codes(sheet, "npanxx", hyphen, international=False, text=text)
    return codes.with_columns(_nanp_code(pl.col("code")))


def _npa_nxx(sheet: TableRows) -> pl.DataFrame:
    """NPA + NXX columns joined (a blank NXX: the whole NPA), ``1`` in front."""
    npa, npa_errors = parse_codes(sheet.text("npa"), international_prefix=False)
    nxx, nxx_errors = parse_codes(sheet.text("nxx"), international_prefix=False)
    frame = pl.DataFrame({"npa": npa, "npa_error": npa_errors, "nxx": nxx, "nxx_error": nxx_errors})
    nxx_wrong = (pl.col("nxx_error") == "bad_code") | (pl.col("nxx").str.len_chars() != 3)
    npa_wrong = pl.col("npa_error").is_not_null() | (pl.col("npa").str.len_chars() != 3)
    code = pl.lit("1") + pl.col("npa") + pl.col("nxx").fill_null("")
    return frame.with_row_index(ROW).select(
        ROW,
        pl.lit(None, pl.String).alias("item"),
        pl.when(~npa_wrong & ~nxx_wrong.fill_null(False)).then(code).alias("code"),
        pl.when(npa_wrong)
        .then(pl.col("npa_error").fill_null("bad_code"))
        .when(nxx_wrong.fill_null(False))
        .then(pl.lit("bad_code"))
        .alias("error"),
        pl.when(npa_wrong).then(pl.lit("npa")).otherwise(pl.lit("nxx")).alias("field"),
    )


def _nanp_code(code: pl.Expr) -> list[pl.Expr]:
    length = code.str.len_chars()
    nanp = (
        pl.when(length.is_in([3, 6]))
        .then(pl.lit("1") + code)
        .when((length == 7) & code.str.starts_with("1"))
        .then(code)
    )
    return [
        nanp.alias("code"),
        pl.when(pl.col("error").is_null() & nanp.is_null())
        .then(pl.lit("bad_code"))
        .otherwise(pl.col("error"))
        .alias("error"),
    ]


def _mcc_mnc(sheet: TableRows) -> pl.DataFrame:
    """MCC + MNC joined as text (docs/reading.md#finding-the-table): leading zeros kept, ``01`` is
    not ``001``; a blank MNC is the MCC alone.  An MCC of other than 3 digits, or an MNC of other
    than 2 or 3 (Excel dropped a leading zero), is a ``bad_code``."""
    mcc, mcc_errors = parse_codes(sheet.text("mcc"), international_prefix=False)
    mnc, mnc_errors = parse_codes(sheet.text("mnc"), international_prefix=False)
    frame = pl.DataFrame({"mcc": mcc, "mcc_error": mcc_errors, "mnc": mnc, "mnc_error": mnc_errors})
    mcc_wrong = pl.col("mcc_error").is_not_null() | (pl.col("mcc").str.len_chars() != 3)
    mnc_wrong = (pl.col("mnc_error") == "bad_code") | ~pl.col("mnc").str.len_chars().is_in([2, 3])
    mnc_wrong = mnc_wrong.fill_null(False)
    return frame.with_row_index(ROW).select(
        ROW,
        pl.lit(None, pl.String).alias("item"),
        pl.when(~mcc_wrong & ~mnc_wrong)
        .then(pl.col("mcc") + pl.col("mnc").fill_null(""))
        .alias("code"),
        pl.when(mcc_wrong)
        .then(pl.col("mcc_error").fill_null("bad_code"))
        .when(mnc_wrong)
        .then(pl.lit("bad_code"))
        .alias("error"),
        pl.when(mcc_wrong).then(pl.lit("mcc")).otherwise(pl.lit("mnc")).alias("field"),
    )


def hyphens_read(codes: pl.DataFrame) -> str | None:
    """What the hyphens of the deck's codes were read as: ranges (an item gave several codes),
    pairs (one), both, or None; kept in the report, a vendor's later deck whose hyphens its
    own values leave open is read the same way (``ingestd.ingest``)."""
    hyphenated = codes.filter(
        pl.col("error").is_null() & pl.col("item").str.contains(_HYPHENATED_ITEM)
    )
    if hyphenated.is_empty():
        return None
    per_item = hyphenated.group_by(ROW, "item").len().get_column("len")
    ranges, pairs = bool((per_item > 1).any()), bool((per_item == 1).any())
    return "both" if ranges and pairs else "range" if ranges else "pair"
