"""The header vocabulary (SPEC §3.2): which header spellings mean which logical field.

This module is data.  To teach ingestd a new spelling, add it to the field's list in
``VOCABULARY``; spellings are compared after ``header_key`` (case, spaces, punctuation and
``Price1``/``Price 1`` do not matter), and when a header does not match as written it is tried
again without currency and unit words (``Rates (USD / Min)`` → ``rates``, ``Price($)`` →
``price``) and then with plurals made singular.  A pattern (``re.compile``) is searched in the
same normalised key.

``table.find_tables`` decides what the matches mean together (duplicates, current vs new rate,
a lone area code, kind-dependent fields); nothing here looks at cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

# Logical fields of a table (the keys of ``FoundTable.columns``), with their spellings.
# A spelling maps to one field only; ``test_vocabulary_is_unambiguous`` checks it.
VOCABULARY: dict[str, tuple[str | re.Pattern[str], ...]] = {
    # --- keys --------------------------------------------------------------------------------
    "code": (
        "prefix", "prefixes", "code", "codes", "dial code", "dial codes", "dialcode",
        "dialcodes", "dialing code", "dialing codes", "dialling code", "dialling codes",
        "city code", "city codes", "complete code", "complete codes", "full code",
        "prefix e164", "e164 prefix", "e164", "e164 code", "destination code",
        "destination codes", "breakout code", "breakout codes", "area prefix", "codes e164",
        "prefix code", "route code",
    ),
    "country_code": ("country code", "country codes", "cc", "country prefix", "country dial code"),
    "area_code": ("area code", "area codes", "ndc", "national code", "area prefix code"),
    "npanxx": ("npanxx", "npa nxx", "npa nxx code", "npanxx code", "npa nxx e164"),
    "npa": ("npa", "npa code"),
    "nxx": ("nxx", "nxx code"),
    "mcc": ("mcc",),
    "mnc": ("mnc",),
    "mccmnc": (
        "mccmnc", "mcc mnc", "mccmnc e212", "mcc mnc e212", "e212", "hni", "mcc mnc code",
        "mccmnc code", "plmn", "imsi prefix",
    ),
    "number": (
        "number", "numbers", "did", "dids", "number e164", "e164 number", "phone number",
        "phone numbers", "did number", "did numbers", "telephone number", "msisdn",
    ),
    # --- names -------------------------------------------------------------------------------
    "destination": (
        "destination", "destinations", "description", "destination name", "dest", "zone",
        "zone name", "breakout", "breakout name", "route name", "name",
    ),
    "country": ("country", "country name", "countries"),
    "network": (
        "network", "operator", "network name", "operator name", "carrier", "mobile network",
    ),
    # --- prices ------------------------------------------------------------------------------
    "price": (
        "rate", "rates", "price", "prices", "price 1", "rate 1", "cost", "costs", "tariff",
        "sell rate", "selling rate", "sale rate", "rate per minute", "per minute rate",
        "price per minute", "minute rate", "sms price", "sms rate", "voice rate", "first price",
        "peak rate", "peak price", "standard rate",
    ),
    # a "New Rate" column beats a plain "Rate" column (SPEC: current/new rate, new wins)
    "new_price": ("new rate", "new price", "new rates", "new cost", "proposed rate"),
    "price_n": ("price n", "rate n", "next price", "subsequent price", "subsequent rate"),
    "price_current": (
        "current rate", "current price", "old rate", "old price", "previous rate",
        "previous price", "existing rate", "current rates", "old rates",
    ),
    # US domestic decks: one price column per jurisdiction, in sheet order
    "price_jurisdiction": (
        re.compile(r"^(inter ?state|intra ?state|indeterminate|indeterminate jurisdiction)"
                   r"( rate| price| cost)?$"),
        re.compile(r"^(rate|price|cost) (inter ?state|intra ?state|indeterminate)$"),
    ),
    # --- dates -------------------------------------------------------------------------------
    "effective_from": (
        "valid from", "effective date", "effective", "eff date", "effective from", "start date",
        "effective from date", "valid from date", "validity date", "date", "from", "begin date",
        "valid since", "effective time", "activation date", "eff from",
    ),
    "effective_to": (
        "end date", "valid to", "valid until", "valid till", "expiry", "expiry date",
        "expiration date", "expires", "effective to", "end", "to date", "valid to date",
    ),
    "timezone": ("timezone", "time zone", "tz"),
    # --- billing increments ------------------------------------------------------------------
    "interval1": (
        "interval 1", "initial increment", "min duration", "minimum duration", "first interval",
        "initial interval", "first increment", "initial billing increment", "initial period",
        "minimum", "min",
    ),
    # "Increment" columns holding "60/1" are read as ``pulse`` (table.find_tables looks)
    "interval_n": (
        "interval n", "increment", "subsequent increment", "next interval", "subsequent interval",
        "additional increment", "next increment", "subsequent period", "additional interval",
    ),
    "pulse": (
        "pulse", "billing", "increments", "billing increment", "billing increments",
        "billing interval", "billing cycle", "charging interval", "charging", "billing unit",
        "rounding", "increment s", "pulse s",
    ),
    # --- change markers and flags --------------------------------------------------------------
    "status": (
        "change", "rate change", "status", "change indicator", "rate status", "price change",
        "change type", "rate change indicator", "changes", "action", "rate action",
    ),
    "forbidden": ("forbidden", "blocked", "barred", "block"),
    "discontinued": ("discontinued", "withdrawn", "deleted", "closed"),
    "currency": ("currency", "curr", "ccy", "currency code"),
    "code_change": (
        "dial code change indicator", "code change", "area code change", "code change indicator",
        "dial code change", "code changes", "dial code changes", "number plan change",
        "numbering plan change", "code status", "code action",
    ),
    # --- DID numbers -------------------------------------------------------------------------
    "inbound_voice_price": (
        "inbound voice price", "inbound voice rate", "inbound price", "inbound rate",
        "inbound per minute",
    ),
    "inbound_sms_price": ("inbound sms price", "inbound sms rate", "inbound sms"),
    # a DID's single billing interval; in voice and SMS decks the same header is a ``pulse``
    "interval": ("interval",),
    "mrc": (
        "mrc", "monthly", "monthly fee", "monthly cost", "monthly price", "monthly rate",
        "monthly recurring charge", "monthly rental", "monthly charge", "rental",
    ),
    "nrc": (
        "nrc", "setup", "setup fee", "setup cost", "set up", "set up fee", "one time fee",
        "non recurring charge", "activation fee", "installation fee", "setup price",
    ),
    "docs_required": (
        "documents verification required", "docs required", "documents required",
        "documentation required", "document required", "kyc", "kyc required",
        "registration required", "verification required",
    ),
    # a DID's "Status"; the header "Status" itself is ``status`` until the kind is known
    "did_status": ("did status", "number status", "availability"),
    "did_type": ("type", "number type", "did type", "line type"),
    "voice": ("voice", "voice enabled"),
    "sms": ("sms", "sms enabled"),
    "fax": ("fax", "fax enabled"),
    "video": ("video", "video enabled"),
    "capacity": ("channels", "capacity", "max channels", "concurrent channels", "channel"),
    "notes": ("notes", "note", "remarks", "remark", "comments", "comment"),
    "local_requirements": (
        "local requirements", "requirements", "address requirements", "local requirement",
    ),
}  # fmt: skip

# Internal vocabulary fields that table.find_tables resolves into public ones.
INTERNAL_FIELDS = ("new_price",)
FIELDS: tuple[str, ...] = tuple(f for f in VOCABULARY if f not in INTERNAL_FIELDS)

# Fields that may take several sheet columns, in sheet order.
MULTI_COLUMN_FIELDS = ("price_jurisdiction",)

# What a key column can be: any of these alone, or both parts of a pair.
CODE_FIELDS = ("code", "npanxx", "mccmnc", "number", "country_code", "area_code")
CODE_PAIRS = (("country_code", "area_code"), ("npa", "nxx"), ("mcc", "mnc"))
PRICE_FIELDS = (
    "price", "new_price", "price_n", "price_current", "price_jurisdiction",
    "inbound_voice_price", "inbound_sms_price", "mrc", "nrc",
)  # fmt: skip
SMS_FIELDS = ("mcc", "mnc", "mccmnc")
# Columns only a DID list has (with ``number``: a DID table)
DID_FIELDS = (
    "inbound_voice_price", "inbound_sms_price", "interval", "mrc", "nrc", "docs_required",
    "did_status", "did_type", "voice", "sms", "fax", "video", "capacity", "local_requirements",
)  # fmt: skip
# Columns that prove a voice table (no SMS or DID deck has them)
VOICE_FIELDS = (
    "npanxx", "npa", "nxx", "country_code", "area_code", "price_n", "price_jurisdiction",
    "interval1", "interval_n", "pulse",
)  # fmt: skip

# ISO 4217 codes common in wholesale decks (a header or notice naming one states the currency).
CURRENCY_CODES = frozenset(
    """
    USD EUR GBP CHF JPY CNY INR AUD CAD NZD SEK NOK DKK PLN CZK HUF RON BGN RUB TRY ZAR BRL MXN
    AED SAR HKD SGD ILS KES NGN PKR BDT IDR MYR PHP THB KRW XOF XAF EGP UAH
    """.split()
)
CURRENCY_SIGNS = (("us$", "USD"), ("u$s", "USD"), ("€", "EUR"), ("£", "GBP"), ("$", "USD"))
CURRENCY_WORDS = {"dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR"}

# Words of a header that name a currency or a unit, not the field ("Rates (USD / Min)").
UNIT_WORDS = frozenset(code.lower() for code in CURRENCY_CODES) | frozenset(
    """
    rmb us dollar dollars euro euros cent cents per min mins minute minutes sec secs second
    seconds in
    """.split()
)

# Notice-block labels (the text left of a value, or before ":" in one cell) → fact.
NOTICE_LABELS: dict[str, tuple[str, ...]] = {
    "currency": ("currency", "currency code", "ccy", "billing currency", "invoice currency"),
    "issue_date": (
        "date issued", "issue date", "date", "issued", "issued on", "date of issue",
        "notification date", "notice date", "issuing date", "publication date", "release date",
    ),
    "increase_date": (
        "increase validity date", "increase date", "increases valid from",
        "increase effective date", "increases effective", "validity date for increases",
    ),
    "decrease_date": (
        "decrease validity date", "decrease date", "decreases valid from",
        "decrease effective date", "decreases effective", "validity date for decreases",
    ),
    "product": ("product name", "product", "route", "service", "route name", "service name"),
}  # fmt: skip


def header_key(text: str) -> str:
    """The normalised form headers and spellings are compared in.

    Lower case; ``(s)`` glued to the word (``Dial Code(s)`` → ``dial codes``); ``E.164`` →
    ``e164``; every other punctuation mark a space; a number split from the word before it
    (``Price1`` → ``price 1``); spaces collapsed.
    """
    key = text.lower().replace("(s)", "s")
    key = re.sub(r"\be\.?\s?(164|212)\b", r"e\1", key)
    key = re.sub(r"[^\w$€£]+|_", " ", key)
    key = re.sub(r"(?<=[a-z])(?=[0-9])(?<!\be)", " ", key)
    key = re.sub(r"(?<=[0-9])(?=[a-z])", " ", key)
    key = re.sub(r"[$€£]", " ", key)
    return " ".join(key.split())


def _without_units(key: str) -> str:
    return " ".join(word for word in key.split() if word not in UNIT_WORDS)


def _singular(key: str) -> str:
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in key.split())


@cache
def _indexes() -> tuple[dict[str, str], dict[str, str], list[tuple[re.Pattern[str], str]]]:
    exact: dict[str, str] = {}
    singular: dict[str, str | None] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for name, spellings in VOCABULARY.items():
        for spelling in spellings:
            if isinstance(spelling, re.Pattern):
                patterns.append((spelling, name))
                continue
            key = header_key(spelling)
            exact.setdefault(key, name)
            one = _singular(key)
            # a singular form two fields share ("increment(s)") matches neither
            singular[one] = name if singular.get(one, name) == name else None
    return exact, {k: v for k, v in singular.items() if v}, patterns


def match_header(text: str | None) -> str | None:
    """The logical field a header cell names, or None."""
    if text is None:
        return None
    exact, singular, patterns = _indexes()
    key = header_key(text)
    if not key:
        return None
    for candidate in (key, _without_units(key)):
        if not candidate:
            continue
        if candidate in exact:
            return exact[candidate]
        for pattern, name in patterns:
            if pattern.search(candidate):
                return name
    one = _singular(_without_units(key))
    return singular.get(one)


def notice_label(text: str) -> str | None:
    """The notice fact a label names (``Date Issued:`` → ``issue_date``), or None."""
    key = header_key(text)
    for fact, labels in NOTICE_LABELS.items():
        if key in (header_key(label) for label in labels):
            return fact
    return None


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


def ambiguous_spellings(vocabulary: dict[str, Iterable] = VOCABULARY) -> dict[str, set[str]]:
    """Normalised spellings listed under more than one field (should be none)."""
    fields: dict[str, set[str]] = {}
    for name, spellings in vocabulary.items():
        for spelling in spellings:
            if isinstance(spelling, str):
                fields.setdefault(header_key(spelling), set()).add(name)
    return {key: names for key, names in fields.items() if len(names) > 1}
