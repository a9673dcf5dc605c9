"""The shape of normalized rate rows, one definition per kind.

Everything that handles rows (readers, semantics, store, exports) takes its column lists from
here, so adding a field means editing one table.  Rows travel as polars DataFrames:

- ``code``             the key: E.164 prefix (voice), MCCMNC (sms) or E.164 number (did)
- ``effective_from``   naive UTC datetime; null in a *deck* means ASAP
- ``effective_to``     naive UTC datetime or null (Transmission Guidelines end date)
- prices               ``PRICE`` = exact decimals (never floats)
- flags                booleans; text fields nullable strings
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import polars as pl

# Exact decimal for every money column: 28 digits, 10 after the point.
PRICE_PRECISION = 28
PRICE_SCALE = 10
PRICE = pl.Decimal(PRICE_PRECISION, PRICE_SCALE)
TIME = pl.Datetime("us")


class Kind(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    DID = "did"


class DeckMode(StrEnum):
    FULL = "full"
    PARTIAL = "partial"


class ChangeClass(StrEnum):
    NEW = "new"
    INCREASE = "increase"
    DECREASE = "decrease"
    UNCHANGED = "unchanged"
    FORBIDDEN = "forbidden"
    UNFORBIDDEN = "unforbidden"
    DISCONTINUED = "discontinued"
    INTERVAL_CHANGE = "interval_change"
    # description or another non-billing detail changed; prices and flags are the same
    DETAILS = "details"


@dataclass(frozen=True)
class Field:
    name: str  # column name in frames and in the database
    dtype: pl.DataType
    # exact OpenTWPS header (docs/operations.md#exports); None = extended export only
    opentwps: str | None
    default: object = None  # value when an OpenTWPS file leaves the column out


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    table: str  # database table holding the rows of this kind
    view: str  # view of the current state
    fields: tuple[Field, ...]  # kind-specific value fields, in OpenTWPS order
    key_header: str  # OpenTWPS header of ``code``
    from_header: str | None  # OpenTWPS header of ``effective_from`` (None: not in OpenTWPS)
    # OpenTWPS header naming the time zone of ``from_header``; exports always write UTC
    tz_header: str | None
    # prices compared for increase/decrease, first the one that decides "the price"
    rate_prices: tuple[str, ...]
    intervals: tuple[str, ...]

    @property
    def prices(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.dtype == PRICE)

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Every column that makes two rows of one code different (besides the key)."""
        return tuple(f.name for f in self.fields) + COMMON_VALUES

    @property
    def row_columns(self) -> tuple[str, ...]:
        return ("code", "effective_from", *self.value_columns)

    def schema(self) -> dict[str, pl.DataType]:
        out: dict[str, pl.DataType] = {"code": pl.String, "effective_from": TIME}
        out.update({f.name: f.dtype for f in self.fields})
        out.update(COMMON_SCHEMA)
        return out

    def opentwps_headers(self) -> list[str]:
        heads = [self.key_header]
        for f in self.fields:
            if f.opentwps:
                heads.append(f.opentwps)
        if self.from_header:
            at = self._from_position()
            heads[at:at] = [self.from_header] + ([self.tz_header] if self.tz_header else [])
        heads += [h for h in COMMON_OPENTWPS[self.kind] if h]
        return heads

    def _from_position(self) -> int:
        # OpenTWPS puts the date after the prices: voice "… Price N, Valid From, Timezone, …",
        # sms "MCCMNC E.212, Price, Effective From, …"
        return 1 + len([f for f in self.fields if f.dtype == PRICE and f.opentwps])


# Columns every kind has after its own fields.
COMMON_SCHEMA: dict[str, pl.DataType] = {
    "effective_to": TIME,
    "forbidden": pl.Boolean,
    "discontinued": pl.Boolean,
    "description": pl.String,
    "currency": pl.String,
}
COMMON_VALUES = tuple(COMMON_SCHEMA)
COMMON_OPENTWPS = {
    # the flags' OpenTWPS headers, in this order, after the kind's own fields
    Kind.VOICE: ("Forbidden", "Discontinued"),
    Kind.SMS: ("forbidden", "discontinued"),
    Kind.DID: (),
}
# Extended export headers (docs/operations.md#exports: description, end date, currency, change
# class)
EXTENDED_HEADERS = {
    "description": "Description",
    "effective_to": "End Date",
    "currency": "Currency",
    "change_class": "Change Class",
}

VOICE = KindSpec(
    kind=Kind.VOICE,
    table="voice_rates",
    view="current_voice_rates",
    fields=(
        Field("price1", PRICE, "Price1"),
        Field("price_n", PRICE, "Price N"),
        Field("interval1", pl.Int32, "Interval 1", 1),
        Field("interval_n", pl.Int32, "Interval N", 1),
    ),
    key_header="Prefix E164",
    from_header="Valid From",
    tz_header="Timezone",
    rate_prices=("price1", "price_n"),
    intervals=("interval1", "interval_n"),
)

SMS = KindSpec(
    kind=Kind.SMS,
    table="sms_rates",
    view="current_sms_rates",
    fields=(Field("price", PRICE, "Price"),),
    key_header="MCCMNC E.212",
    from_header="Effective From",
    tz_header=None,
    rate_prices=("price",),
    intervals=(),
)

DID = KindSpec(
    kind=Kind.DID,
    table="did_numbers",
    view="current_did_numbers",
    fields=(
        Field("inbound_voice_price", PRICE, "Inbound Voice Price"),
        Field("inbound_sms_price", PRICE, "Inbound SMS Price"),
        Field("interval", pl.Int32, "Interval", 1),
        Field("mrc", PRICE, "MRC"),
        Field("nrc", PRICE, "NRC"),
        Field("docs_required", pl.Boolean, "Documents Verification Required", False),
        Field("status", pl.String, "Status"),
        Field("type", pl.String, "Type"),
        Field("voice", pl.Boolean, "Voice", True),
        Field("sms", pl.Boolean, "SMS", False),
        Field("fax", pl.Boolean, "Fax", False),
        Field("video", pl.Boolean, "Video", False),
        Field("capacity", pl.Int32, "Capacity"),
        Field("notes", pl.String, "Notes"),
        Field("local_requirements", pl.String, "Local Requirements"),
    ),
    key_header="Number e164",
    from_header=None,
    tz_header=None,
    rate_prices=("mrc", "inbound_voice_price", "inbound_sms_price", "nrc"),
    intervals=("interval",),
)

SPECS: dict[Kind, KindSpec] = {Kind.VOICE: VOICE, Kind.SMS: SMS, Kind.DID: DID}


def price_text(price: pl.Expr) -> pl.Expr:
    """``0.1584000000`` → ``0.1584``, ``1.0000000000`` → ``1``: the one text form of a price,
    column-wise (``rates.schema.canonical_decimal`` is the same for one value)."""
    text = price.cast(pl.String)
    return text.str.replace(r"(\.[0-9]*[1-9])0+$", "$1").str.replace(r"\.0+$", "")


def has_repeats(column: pl.Series) -> bool:
    """Whether a value occurs more than once: on a million codes a distinct count is several
    times cheaper than marking every repeated row, and most decks list each code once; in a
    column already in order (many decks are) comparing neighbours is cheaper still."""
    if column.len() < 2:
        return False
    if column.null_count() == 0 and column.is_sorted():
        return bool((column.slice(1) == column.slice(0, column.len() - 1)).any())
    return column.n_unique() < column.len()


def in_code_order(rows: pl.DataFrame) -> bool:
    """Sorted by code, then effective_from, as the store hands rows over: checking is a
    fraction of sorting a million rows again."""
    n = rows.height
    code, start = rows.get_column("code"), rows.get_column("effective_from")
    if n < 2:
        return True
    if code.null_count() or start.null_count() or not code.is_sorted():
        return False
    same = code.slice(1) == code.slice(0, n - 1)
    return not (same & (start.slice(1) < start.slice(0, n - 1))).any()


def iso(value: datetime | None) -> str | None:
    """An instant as reports and the store's text show it: naive UTC, whole seconds."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def spec_for(kind: Kind | str) -> KindSpec:
    return SPECS[Kind(kind)]
