"""Currencies as decks write them (docs/reading.md#prices): ISO codes, signs and words in a
header, a notice line, a currency column, or beside the number of a price cell."""

from __future__ import annotations

import re

import polars as pl

from ingestd.sheets.cells import WORK, per_cell

# ISO 4217 codes common in wholesale decks (a header or notice naming one states the currency).
CURRENCY_CODES = frozenset(
    """
    USD EUR GBP CHF JPY CNY INR AUD CAD NZD SEK NOK DKK PLN CZK HUF RON BGN RUB TRY ZAR BRL MXN
    AED SAR HKD SGD ILS KES NGN PKR BDT IDR MYR PHP THB KRW XOF XAF EGP UAH
    """.split()
)
CURRENCY_SIGNS = (
    ("us$", "USD"), ("u$s", "USD"), ("€", "EUR"), ("£", "GBP"), ("$", "USD"), ("美元", "USD"),
    ("欧元", "EUR"),
)  # fmt: skip
CURRENCY_WORDS = {"dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR"}

# a currency written with a price: a sign before or after it, or a three-letter code
_CURRENCY_MARK = r"^(US\$|[A-Za-z]{3}|[$€£¥₹])\s*[-+.,0-9]|[-+.,0-9]\s*([A-Za-z]{3}|[$€£¥₹])$"


def currency_in(text: str | None) -> str | None:
    """The ISO currency a text names: ``USD per minute`` → USD, ``US$`` → USD, ``€`` → EUR."""
    if not text:
        return None
    for word in re.findall(r"[A-Za-z]{3,}", text):
        if word.upper() in CURRENCY_CODES and (word.isupper() or len(text.split()) <= 3):
            return word.upper()
        if word.lower() in CURRENCY_WORDS:
            return CURRENCY_WORDS[word.lower()]
    lowered = text.lower()
    for sign, code in CURRENCY_SIGNS:
        if sign in lowered:
            return code
    return None


def _currency_codes(marks: pl.Series) -> pl.Series:
    """ISO codes of currency marks (``$``, ``€``, ``usd``), by ``currency_in``; once per
    distinct mark."""
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
    text = pl.col(WORK).str.strip_chars()
    mark = pl.coalesce(text.str.extract(_CURRENCY_MARK, 1), text.str.extract(_CURRENCY_MARK, 2))
    marks = per_cell(s, mark.alias("mark")).to_series()
    return _currency_codes(marks).rename(s.name)
