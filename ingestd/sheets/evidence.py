"""Each column's meaning from its header and its content together, with a confidence
(docs/reading.md#decks-nobody-taught-us).

The table finder (``ingestd.sheets.sheet_search``) says what each header names (the vocabulary
of ``ingestd.sheets.vocabulary`` as ``ingestd.sheets.headers`` matches it, or the vendor's own
``columns``); ``ingestd.sheets.content`` says what each column holds.  This module puts the two
together:

- a header whose column holds something else (``SMS`` over prices, ``Rate`` over dates) is not
  taken at its word;
- a column whose header is unknown, abbreviated beyond recognition or missing is read by its
  content when the content leaves no doubt and the field is not there yet (a code column, a
  ``60/60`` pulse column, the one price column of the sheet);
- what stays unsettled is a ``Doubt`` with the answer that settles it: a column read by content
  with low confidence, and a column the reading does not use although it holds intervals,
  prices, dates or flags.

README "How ingestd reads a deck" explains the confidences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from ingestd.sheets.answers import IGNORE
from ingestd.sheets.content import CONTENT_TYPES, ColumnContent, summary
from ingestd.sheets.content import FIT_SHARE as MOSTLY
from ingestd.sheets.doubt import Doubt
from ingestd.sheets.headers import header_key
from ingestd.sheets.sheet import column_letter
from ingestd.sheets.vocabulary import OTHER, PRICE_FIELDS

HIGH, MEDIUM, LOW = "high", "medium", "low"
_GENERIC = re.compile(r"(column|col|field|f|unnamed|spalte|columna|colonne|coluna)( ?[0-9]+)?")

# What a field's cells hold (content.CONTENT_TYPES); a field not listed holds anything.
_CODES = frozenset({"code", "number", "mccmnc", "seconds"})
_PRICES = frozenset({"price", "seconds"})
_FLAGS = frozenset({"flag", "seconds"})
_NUMBERS = frozenset({"code", "number", "mccmnc", "seconds", "price"})
EXPECTED_CONTENT: dict[str, frozenset[str]] = {
    **{f: _CODES for f in ("code", "country_code", "area_code", "npanxx", "npa", "nxx")},
    **{f: _CODES for f in ("mcc", "mnc", "mccmnc", "number")},
    # names hold anything ("0", "1" as a description): never overruled by their content
    **dict.fromkeys(PRICE_FIELDS, _PRICES),
    "effective_from": frozenset({"date"}),
    "effective_to": frozenset({"date"}),
    **{f: frozenset({"seconds", "pulse"}) for f in ("interval1", "interval_n", "interval")},
    "pulse": frozenset({"pulse", "seconds"}),
    **{
        f: _FLAGS
        for f in ("forbidden", "discontinued", "voice", "sms", "fax", "video", "docs_required")
    },
    "status": frozenset({"change", "text"}),
    "code_change": frozenset({"change", "text"}),
    "currency": frozenset({"currency", "text"}),
}
# Content that says what a column is on its own (text may be anything: names, notes, words)
TELLING = ("pulse", "date", "flag", "price", "seconds", "code", "number", "mccmnc", "currency")
# An unused column holding these is a doubt (docs/reading.md#decks-nobody-taught-us "never silently
# wrong")
WORTH_READING = {
    "pulse": "pulse",
    "seconds": "interval1",
    "price": "price",
    "date": "effective_from",
    "flag": "forbidden",
}
# fields whose cells the deck's rows are made of: a low-confidence one is a doubt
_FIELD_NAMES = {
    "code": "the codes",
    "price": "the price",
    "pulse": "the billing increments",
    "interval1": "the first billing interval",
    "interval_n": "the next billing interval",
    "effective_from": "the effective date",
    "effective_to": "the end date",
    "destination": "the destination names",
}


# The words a price header may say its service or period with ("Per SMS", "Per Minute",
# "Monthly"): the price field they name.  Used only over columns that hold prices.
_PRICE_ROLES = (
    ("inbound_sms_price", ("sms", "smss", "message", "messages", "mensaje", "mensagem")),
    ("mrc", ("month", "monthly", "mrc", "mensual", "mensal", "monat", "monatlich", "mensuel")),
    ("nrc", ("setup", "nrc", "activation", "installation", "instalacion", "einrichtung")),
    ("inbound_voice_price", ("minute", "minutes", "voice", "call", "calls", "minuto")),
)


# a price per delivered vs per submitted message (SMS lists quote both)
_DELIVERED = frozenset(
    "delivered delivery dlr entregado entregados entregue entregues livre livres zugestellt "
    "consegnato consegnati доставлено доставленные teslim".split()
)
_SUBMITTED = frozenset(
    "submit submitted submission sent enviado enviados soumis envoye envoyes gesendet "
    "eingereicht inviato inviati отправлено gonderilen".split()
)


def _says(header: str | None, words: frozenset[str]) -> bool:
    return bool(header) and bool(set(header_key(header).split()) & words)


def price_role(header: str | None) -> str | None:
    """The price field a header over prices names by its service or period words (a DID
    list's ``Per SMS`` beside its ``SMS`` yes/no column), or None."""
    if not header:
        return None
    words = set(header_key(header).split())
    return next((role for role, said in _PRICE_ROLES if words & set(said)), None)


@dataclass(frozen=True)
class ColumnReading:
    """How one sheet column was read: its field (None: not read), why, and how sure."""

    column: str  # "c3"
    header: str | None  # as written; None without a header row
    field: str | None
    source: str  # vendor | profile | header | header words | content | position | "" (unread)
    confidence: str  # high | medium | low | "" (unread)
    content: str  # what the cells hold, in words ("codes like '44', '4420'")
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "column": column_letter(self.column),
            "header": self.header,
            "field": self.field,
            "source": self.source,
            "confidence": self.confidence,
            "content": self.content,
            "note": self.note,
        }


def kind_of(content: ColumnContent) -> str | None:
    """What a column holds: its content type, or on a sheet of a row or two (too few cells
    for the column rules of ``content``) what every one of its cells is."""
    if content.kind or content.filled >= 3:
        return content.kind
    return next((t for t in CONTENT_TYPES if content.shares.get(t, 0) >= MOSTLY), None)


def holds(content: ColumnContent, type_: str) -> bool:
    """The column holds ``type_``: by the column rules, or on a sheet of a row or two, by
    every cell."""
    return content.fits(type_) or (content.filled < 3 and content.shares.get(type_, 0) >= MOSTLY)


def contradicts(field: str, content: ColumnContent | None) -> bool:
    """The column's content clearly is something the field never holds (prices of 0 and 1
    look like yes/no flags but are prices)."""
    if content is None or content.kind not in TELLING:  # a row or two never overrule a header
        return False
    if field in PRICE_FIELDS and content.shares.get("price", 0) >= MOSTLY:
        return False
    expected = EXPECTED_CONTENT.get(field)
    if expected is None or set(content.types) & expected:
        return False
    # numbers under a header of numbers: codes, seconds and prices are all digits, and a
    # column of "1", "11" is whichever its header says (only other kinds overrule a header)
    return not (content.kind in _NUMBERS and expected & _NUMBERS)


def _interval_like(content: ColumnContent) -> bool:
    """Cells that are all billing increments, as pairs ("60/60", some at least) or as whole
    seconds beside them ("60")."""
    pulses, seconds = content.shares.get("pulse", 0), content.shares.get("seconds", 0)
    return pulses >= 0.2 and pulses + seconds >= MOSTLY


def numbers(content: ColumnContent | None) -> bool:
    """Every cell (bar a few) is a number a price could be, whatever else it looks like."""
    if content is None or content.filled < 3 or content.shares.get("flag", 0) >= MOSTLY:
        return False  # too few cells to tell, or 0s and 1s (yes/no as much as prices)
    return content.shares.get("price", 0) >= MOSTLY and not any(
        content.fits(t) for t in ("code", "number", "date", "pulse")
    )


def generic_header(text: str | None) -> bool:
    """A header that names nothing (``Column1``, ``Field 3``, ``F2``, ``Unnamed: 0``): what a
    spreadsheet or an export writes when the vendor wrote no header."""
    return text is None or bool(_GENERIC.fullmatch(header_key(text)))


def confirms(field: str, content: ColumnContent | None) -> bool:
    expected = EXPECTED_CONTENT.get(field)
    return content is not None and expected is not None and bool(set(content.types) & expected)


@dataclass
class Settling:
    """One sheet's columns being settled: raw matches in, meanings and doubts out."""

    sheet: str
    written: Mapping[str, str]  # column → header as written ({} without a header row)
    contents: Mapping[str, ColumnContent]
    raw: dict[str, str]  # column → field, from the header (or the vendor)
    sources: dict[str, str]  # column → source of its raw field
    notes: dict[str, str]
    doubts: list[Doubt]
    confidence: dict[str, str]
    warnings: list[str] = dataclass_field(default_factory=list)
    # a column read with low confidence → the other columns that could be the field instead
    alternatives: dict[str, tuple[str, ...]] = dataclass_field(default_factory=dict)

    @property
    def ignored(self) -> set[str]:
        """Columns the vendor (or an answer) said to leave unread."""
        return {c for c, name in self.raw.items() if name == IGNORE}

    @classmethod
    def of(
        cls,
        sheet: str,
        written: Mapping[str, str],
        contents: Mapping[str, ColumnContent],
        raw: Mapping[str, str],
        sources: Mapping[str, str],
    ) -> Settling:
        return cls(sheet, written, contents, dict(raw), dict(sources), {}, [], {})

    def name(self, column: str) -> str:
        """How a person and an answer name the column: its header, else its letter."""
        return self.written.get(column) or column_letter(column)

    def describe(self, column: str) -> str:
        header = self.written.get(column)
        return f"column {column_letter(column)}" + (f" {header!r}" if header else "")

    # -- header evidence checked against the content

    def check_headers(self) -> None:
        """A header over content it never holds is not taken at its word (a vendor's own
        mapping is: the vendor said so)."""
        for column, field in list(self.raw.items()):
            content = self.contents.get(column)
            if self.sources.get(column) in ("vendor", "profile", "answer") or field == IGNORE:
                self.confidence[column] = HIGH
                continue
            role = price_role(self.written.get(column))
            if EXPECTED_CONTENT.get(field) == _FLAGS and role and numbers(content):
                # "Per SMS" beside "SMS": the header's service word over prices
                self.raw[column] = role
                self.confidence[column] = HIGH
                self.notes[column] = f"its header's words and its prices say {role}"
                continue
            if contradicts(field, content):
                role = role if content.kind == "price" else None
                if role is not None and role not in self.raw.values():
                    self.raw[column] = role
                    self.confidence[column] = HIGH
                    self.notes[column] = f"its header's words and its prices say {role}"
                    continue
                del self.raw[column]
                self.notes[column] = (
                    f"the header says {field} but the column holds {summary(content)}"
                )
            elif self.sources.get(column) == "header guess":
                if confirms(field, content):
                    self.confidence[column] = MEDIUM
                else:
                    del self.raw[column]
                    self.notes[column] = f"the header may mean {field}; the content does not say"
            else:
                self.confidence[column] = HIGH

    # -- content evidence where the header said nothing

    def delivered_over_submitted(self) -> None:
        """An SMS list with a price per submitted and a price per delivered message: the
        delivered one is read (what is billed when both are quoted, and the dearer: never a
        cost too low), the other is named in a warning."""
        priced = [
            c
            for c in self.contents
            if kind_of(self.contents[c]) == "price" and self.raw.get(c) in (None, "price")
        ]
        delivered = [c for c in priced if _says(self.written.get(c), _DELIVERED)]
        submitted = [c for c in priced if _says(self.written.get(c), _SUBMITTED)]
        if len(delivered) != 1 or not submitted:
            return
        (column,) = delivered
        self.raw[column], self.sources[column] = "price", "header words"
        self.confidence[column] = HIGH
        for other in submitted:
            self.raw[other] = OTHER
            self.sources[other] = "header words"
            self.warnings.append(
                f"{self.describe(other)} is the price per submitted message and "
                f"{self.describe(column)} the price per delivered one: the delivered price is "
                "read (the one billed when both are quoted)"
            )

    def fill_by_content(self, *, understood: int) -> None:
        """Fields the sheet lacks taken from unread columns whose content leaves no doubt.

        ``understood`` is how many header cells the vocabulary knew: with none (a header in a
        language ingestd does not know) a price read by content is only a guess."""
        fields = set(self.raw.values())
        unread = [c for c in self.contents if c not in self.raw and self.contents[c].filled]

        def take(column: str, field: str, confidence: str, why: str) -> None:
            self.raw[column] = field
            self.sources[column] = "content"
            self.confidence[column] = confidence
            self.notes[column] = why
            fields.add(field)
            unread.remove(column)

        for column in list(unread):  # "Per Minute", "Per SMS", "Monthly" over prices
            role = price_role(self.written.get(column))
            if kind_of(self.contents[column]) == "price" and role and role not in fields:
                take(column, role, HIGH, f"its header's words and its prices say {role}")
        if not fields & {"code", "npanxx", "mccmnc", "number", "country_code", "npa", "mcc"}:
            codes = [c for c in unread if kind_of(self.contents[c]) in ("code", "number")]
            if codes:
                best = max(codes, key=lambda c: self.contents[c].shares.get("code", 0))
                take(best, "code", MEDIUM, f"it holds {summary(self.contents[best])}")
        if not fields & {"pulse", "interval1", "interval_n"}:
            pulses = [c for c in unread if kind_of(self.contents[c]) == "pulse"]
            if len(pulses) == 1:
                take(pulses[0], "pulse", MEDIUM, f"it holds {summary(self.contents[pulses[0]])}")
        if not fields & {
            "price",
            "new_price",
            "price_current",
            "price_jurisdiction",
            "inbound_voice_price",
            "inbound_sms_price",
            "mrc",
        }:
            prices = [c for c in unread if kind_of(self.contents[c]) == "price"]
            # a column the header says is not read (off-peak, connection fee) may be the price
            other = [
                c
                for c, f in self.raw.items()
                if f == OTHER and c in self.contents and kind_of(self.contents[c]) == "price"
            ]
            if len(prices) == 1 and other:
                (column,) = prices
                take(column, "price", LOW, "the one column of prices the header does not exclude")
                self.alternatives[column] = tuple(other)
            elif len(prices) == 1:
                (column,) = prices
                sure = MEDIUM if understood or generic_header(self.written.get(column)) else LOW
                take(
                    column,
                    "price",
                    sure,
                    f"it is the one column of prices ({summary(self.contents[column])})",
                )
            elif prices:  # several: the first is read, and which one is billed is asked
                first, others = prices[0], prices[1:]
                take(first, "price", LOW, "the first of several columns of prices")
                self.alternatives[first] = tuple(others)
        seconds = [c for c in unread if self.contents[c].fits("seconds")]
        for have, lacks in (("interval1", "interval_n"), ("interval_n", "interval1")):
            if have in fields and not fields & {lacks, "pulse"} and len(seconds) == 1:
                (column,) = seconds  # "Initial" and "Additional", "Min" and "Inc"
                take(column, lacks, MEDIUM, f"it holds whole seconds beside the {have} column")
                seconds = []
        dates = [c for c in unread if kind_of(self.contents[c]) == "date"]
        if dates and "effective_from" not in fields:
            bare = [c for c in dates if generic_header(self.written.get(c))]
            for column, name in zip(bare, ("effective_from", "effective_to"), strict=False):
                why = f"it holds {summary(self.contents[column])} and has no header"
                take(column, name, MEDIUM, why)
        if not fields & {"destination", "country", "network"}:
            names = [c for c in unread if kind_of(self.contents[c]) == "text"]
            if names:
                take(
                    names[0], "destination", MEDIUM, f"it holds {summary(self.contents[names[0]])}"
                )

    # -- what is left

    def account(
        self, columns: Mapping[str, tuple[str, ...] | list[str]], dropped: set[str]
    ) -> list[ColumnReading]:
        """Every column's reading, and the doubts: low confidence, and unused columns that
        hold what a rate deck is made of."""
        field_of = {c: f for f, cols in columns.items() for c in cols}
        field_of |= dict.fromkeys(self.ignored, IGNORE)
        # a column of whole seconds is asked as the first interval the deck lacks
        intervals = [f for f in ("interval1", "interval_n") if f not in columns]
        readings = []
        for column in sorted(set(self.contents) | set(self.written), key=lambda c: int(c[1:])):
            content = self.contents.get(column)
            described = summary(content) if content is not None and content.filled else "nothing"
            field = field_of.get(column)
            if field is not None:
                confidence = self.confidence.get(column, HIGH)
                source = self.sources.get(column, "header")
                others = self.alternatives.get(column, ())
                if confidence == LOW and others:
                    names = ", ".join(self.describe(c) for c in others)
                    self.doubts.append(
                        Doubt(
                            self.sheet,
                            self.describe(column),
                            f"read as {_FIELD_NAMES.get(field, field)}, but {names} also "
                            f"hold{'s' if len(others) == 1 else ''} prices: which one is billed?",
                            f'--map "{self.name(column)}={field}"'
                            + "".join(
                                f' --map "{self.name(c)}=ignore"'
                                for c in others
                                if self.raw.get(c) != OTHER  # read as not read already
                            ),
                        )
                    )
                elif confidence == LOW:
                    self.doubts.append(
                        Doubt(
                            self.sheet,
                            self.describe(column),
                            f"read as {_FIELD_NAMES.get(field, field)} by its content alone "
                            f"({described}), its header is not one ingestd knows: is it?",
                            f'--map "{self.name(column)}={field}"',
                        )
                    )
                readings.append(
                    ColumnReading(
                        column,
                        self.written.get(column),
                        field,
                        source,
                        confidence,
                        described,
                        self.notes.get(column, ""),
                    )
                )
                continue
            readings.append(
                ColumnReading(
                    column,
                    self.written.get(column),
                    None,
                    "",
                    "",
                    described,
                    self.notes.get(column, ""),
                )
            )
            asked = any(column in others for others in self.alternatives.values())
            if column in dropped or content is None or asked:
                continue
            likely = WORTH_READING.get(kind_of(content) or "")
            if likely is None and _interval_like(content):
                likely = "pulse"  # "60" beside "60/60": increments either way
            if likely == "interval1" or (likely is None and holds(content, "seconds")):
                likely = intervals.pop(0) if intervals else "interval_n"
            if likely is None:
                continue
            self.doubts.append(
                Doubt(
                    self.sheet,
                    self.describe(column),
                    f"the column is not read but holds {described}, which a rate deck is made of: "
                    f"what is it (or answer {self.name(column)}=ignore)?",
                    f'--map "{self.name(column)}={likely}"',
                )
            )
        return readings
