"""What the fields a header row (or the content) names mean together
(docs/reading.md#finding-the-table): which sheet columns hold which field of a table.

How the matches are settled (each change is said in ``FoundTable.warnings``):
- a sheet column means at most one field; two columns for one field: the first wins (a vendor
  ``columns`` entry beats the vocabulary), except ``price_jurisdiction`` which takes them all;
- ``New Rate`` beats ``Rate``/``Current Rate`` (the other becomes ``price_current``); a lone
  ``Current Rate`` is the ``price``;
- a lone ``Country Code`` or ``Area Code`` (no other code column) holds complete codes: ``code``;
- by kind: a DID's ``Status`` is ``did_status``; a voice/SMS ``Interval`` is a ``pulse``; an
  ``Increment`` column holding ``60/1`` pairs is a ``pulse``; a voice deck's ``Number`` is its
  ``code``, an SMS deck's ``Code`` its ``mccmnc``, a DID list's ``Code`` its ``number``;
- a sheet without a header row is read by position (the headerless Transmission Guidelines
  layout) only when its content agrees with every position.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from ingestd.rates.model import Kind
from ingestd.sheets import vocabulary as vocab
from ingestd.sheets.content import CONTENT_SAMPLE
from ingestd.sheets.evidence import Settling, holds
from ingestd.sheets.sheet import column_letter

# Telco Rate Transmission Guidelines, headerless: fields by position (None: off-peak, ignored)
GUIDELINES_COLUMNS = (
    "code", "destination", "price", "interval1", "price_n", "interval_n",
    None, None, None, None, "effective_from", "effective_to",
)  # fmt: skip
_PULSE_LIKE = r"^\s*[0-9]{1,5}\s*[/+:\-]\s*[0-9]{1,5}\s*$"


def has_code(fields: set[str]) -> bool:
    """Whether ``fields`` name a key column: a code field alone or both parts of a pair."""
    return any(f in fields for f in vocab.CODE_FIELDS) or any(
        a in fields and b in fields for a, b in vocab.CODE_PAIRS
    )


# what each position of the headerless Transmission Guidelines layout holds (content types)
_GUIDELINES_CONTENT = {
    "code": ("code",), "destination": ("text",), "price": ("price", "seconds"),
    "interval1": ("seconds",), "price_n": ("price", "seconds"), "interval_n": ("seconds",),
    "effective_from": ("date",), "effective_to": ("date",),
}  # fmt: skip


def guidelines_columns(width: int, contents: Mapping) -> dict[str, list[str]] | None:
    """The positional layout's columns when every filled column holds what its position
    says (an off-peak position holds prices or nothing); None when the content disagrees."""
    if not 3 <= width <= len(GUIDELINES_COLUMNS):
        return None
    columns = {}
    for i, name in enumerate(GUIDELINES_COLUMNS[:width]):
        content = contents.get(f"c{i}")
        if content is None or not content.filled:
            if name in ("code", "destination", "price"):
                return None
            continue
        wanted = _GUIDELINES_CONTENT.get(name, ("price", "seconds"))
        if not any(holds(content, t) for t in wanted):
            return None
        if name is not None:
            columns[name] = [f"c{i}"]
    return columns


def changes_by_content(raw: dict[str, str], settling: Settling) -> None:
    """A sheet of codes without prices whose status (or unread) column holds code-change
    words (``Code Removal``, ``Deleted``, ``Baja``…) is a code-changes sheet
    (docs/reading.md#decks-nobody-taught-us)."""
    fields = set(raw.values())
    if not has_code(fields) or fields & set(vocab.PRICE_FIELDS) or "code_change" in fields:
        return
    for column, content in settling.contents.items():
        if content.kind != "change" and not content.fits("change"):
            continue
        if raw.get(column) == "status" or column not in raw:
            raw[column] = "code_change"
            settling.sources.setdefault(column, "content")
            settling.notes[column] = "it holds code-change words and the sheet has no prices"
            return


def table_shape(fields: set[str]) -> str | None:
    """``table`` (a code and a price), ``code_changes`` (a code and a change marker) or None."""
    if not has_code(fields):
        return None
    if fields & set(vocab.PRICE_FIELDS):
        return "table"
    if "code_change" in fields:
        return "code_changes"
    return None


def kind_of(fields: set[str]) -> tuple[Kind, bool]:
    """The kind the columns suggest, and whether they prove it."""
    if fields & set(vocab.SMS_FIELDS):
        return Kind.SMS, True
    if "number" in fields and fields & set(vocab.DID_FIELDS):
        return Kind.DID, True
    return Kind.VOICE, bool(fields & set(vocab.VOICE_FIELDS))


def resolve_columns(
    raw: dict[str, str], written: dict[str, str], overridden: set[str]
) -> tuple[dict[str, list[str]], list[tuple[str, str, str]], list[str]]:
    """Field → columns from column → raw field: one column per field (first wins, a vendor
    override beats the vocabulary), new rate over rate, a lone area code as the code.

    Returns the columns, the dropped duplicates ``(column, kept column, field)`` and warnings.
    """
    columns: dict[str, list[str]] = {}
    dropped: list[tuple[str, str, str]] = []
    warnings: list[str] = []
    for column, name in raw.items():
        held = columns.get(name)
        if not held or name in vocab.MULTI_COLUMN_FIELDS:
            columns.setdefault(name, []).append(column)
        elif column in overridden and held[0] not in overridden:
            dropped.append((held[0], column, name))
            columns[name] = [column]
        else:
            dropped.append((column, held[0], name))
    if "new_price" in columns:
        (new,) = columns.pop("new_price")
        if "price" in columns:
            (old,) = columns.pop("price")
            if "price_current" not in columns:
                columns["price_current"] = [old]
                warnings.append(
                    f"column {column_letter(new)} {written[new]!r} is the price (new rate wins); "
                    f"column {column_letter(old)} {written[old]!r} is read as the current rate"
                )
            else:
                dropped.append((old, new, "price"))
        columns["price"] = [new]
    if "price" not in columns and "price_current" in columns:
        columns["price"] = columns.pop("price_current")
        (column,) = columns["price"]
        warnings.append(
            f"column {column_letter(column)} {written[column]!r} is the only rate: "
            "read as the price"
        )
    keys = [f for f in ("code", "npanxx", "mccmnc", "number", "npa", "mcc") if f in columns]
    lone = [f for f in ("country_code", "area_code") if f in columns]
    if not keys and len(lone) == 1:
        (column,) = columns.pop(lone[0])
        columns["code"] = [column]
        warnings.append(
            f"column {column_letter(column)} {written[column]!r} is the only code column: "
            "read as complete codes"
        )
    return _in_sheet_order(columns), dropped, warnings


def rename_for_kind(
    columns: dict[str, list[str]], kind: Kind, written: dict[str, str]
) -> list[str]:
    """Headers whose meaning depends on the kind ("Status" of a DID, "Interval" of a voice
    deck), and a key column that names another kind's key."""
    renames = {
        # a DID list's plain "Price" stays ``price``: the normalizer reads it as the rental
        Kind.DID: (("status", "did_status"), ("code", "number")),
        Kind.VOICE: (
            ("interval", "pulse"),
            ("number", "code"),
            ("inbound_voice_price", "price"),
            ("nrc", vocab.OTHER),  # a voice deck's setup fee is a connection charge: not read
        ),
        Kind.SMS: (
            ("interval", "pulse"),
            ("code", "mccmnc"),
            ("number", "mccmnc"),
            ("inbound_sms_price", "price"),
        ),
    }[kind]
    warnings = []
    for old, new in renames:
        if old not in columns or new in columns:
            continue
        if new in ("code", "mccmnc", "number") and has_code(set(columns) - {old}):
            continue
        columns[new] = columns.pop(old)
        if new in ("code", "mccmnc", "number"):
            (column,) = columns[new]
            warnings.append(f"column {column_letter(column)} {written[column]!r} is read as {new}")
    _reorder(columns)
    return warnings


def _in_sheet_order(columns: dict[str, list[str]]) -> dict[str, list[str]]:
    ordered = sorted(columns.items(), key=lambda item: int(item[1][0][1:]))
    return dict(ordered)


def _reorder(columns: dict[str, list[str]]) -> None:
    ordered = _in_sheet_order(columns)
    columns.clear()
    columns.update(ordered)


def key_columns(columns: dict[str, list[str]]) -> list[str]:
    keys = ("code", "npanxx", "mccmnc", "number", "country_code", "area_code", "npa", "mcc")
    return [c for f in keys for c in columns.get(f, ())]


def pulse_by_content(
    columns: dict[str, list[str]], data: pl.DataFrame, written: dict[str, str]
) -> list[str]:
    """An "Increment" column holding "60/1" pairs is a ``pulse`` column
    (docs/reading.md#finding-the-table)."""
    warnings = []
    for name in ("interval_n", "interval1"):
        if name not in columns or "pulse" in columns:
            continue
        (column,) = columns[name]
        sample = data.get_column(column).drop_nulls().head(CONTENT_SAMPLE)
        if sample.len() and sample.str.contains(_PULSE_LIKE).mean() > 0.5:
            columns["pulse"] = columns.pop(name)
            warnings.append(
                f"column {column_letter(column)} {written[column]!r} holds pairs like "
                f"{sample[0]!r}: read as the pulse (interval 1 / interval N)"
            )
    _reorder(columns)
    return warnings


def duplicate_warnings(
    dropped: list[tuple[str, str, str]],
    columns: dict[str, list[str]],
    data: pl.DataFrame,
    written: dict[str, str],
) -> list[str]:
    warnings = []
    for column, kept, name in dropped:
        differ = data.select(pl.col(column).ne_missing(pl.col(kept)).sum()).item()
        agree = "their cells agree in every row" if differ == 0 else f"they differ in {differ} rows"
        read_as = next((f for f, cols in columns.items() if kept in cols), name)
        warnings.append(
            f"column {column_letter(column)} {written[column]!r} also means {name}: column "
            f"{column_letter(kept)} {written[kept]!r} is read as {read_as} and column "
            f"{column_letter(column)} is not read ({agree})"
        )
    return warnings
