"""Each column's meaning from its header and its content together, with a confidence (SPEC §3.5).

The table finder (``ingestd.sheets.table``) says what each header names (the vocabulary of
``ingestd.sheets.headers``, or the vendor's own ``columns``); ``ingestd.sheets.content`` says
what each column holds.  This module puts the two together:

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

from collections.abc import Mapping
from dataclasses import dataclass

from ingestd.sheets.content import ColumnContent, summary
from ingestd.sheets.doubt import Doubt

HIGH, MEDIUM, LOW = "high", "medium", "low"

# What a field's cells hold (content.CONTENT_TYPES); a field not listed holds anything.
_CODES = frozenset({"code", "number", "mccmnc", "seconds"})
_PRICES = frozenset({"price", "seconds"})
EXPECTED_CONTENT: dict[str, frozenset[str]] = {
    **{f: _CODES for f in ("code", "country_code", "area_code", "npanxx", "npa", "nxx")},
    **{f: _CODES for f in ("mcc", "mnc", "mccmnc", "number")},
    **{f: frozenset({"text", "change"}) for f in ("destination", "country", "network")},
    **{
        f: _PRICES
        for f in (
            "price", "new_price", "price_n", "price_current", "price_jurisdiction",
            "inbound_voice_price", "inbound_sms_price", "mrc", "nrc",
        )
    },  # fmt: skip
    "effective_from": frozenset({"date"}),
    "effective_to": frozenset({"date"}),
    **{f: frozenset({"seconds", "pulse"}) for f in ("interval1", "interval_n", "interval")},
    "pulse": frozenset({"pulse", "seconds"}),
    **{
        f: frozenset({"flag", "seconds"})
        for f in ("forbidden", "discontinued", "voice", "sms", "fax", "video", "docs_required")
    },
    "status": frozenset({"change", "text"}),
    "code_change": frozenset({"change", "text"}),
    "currency": frozenset({"currency", "text"}),
}
# Content that says what a column is on its own (text may be anything: names, notes, words)
TELLING = ("pulse", "date", "flag", "price", "seconds", "code", "number", "mccmnc", "currency")
# An unused column holding these is a doubt (SPEC §3.5 "never silently wrong")
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
            "column": letter(self.column),
            "header": self.header,
            "field": self.field,
            "source": self.source,
            "confidence": self.confidence,
            "content": self.content,
            "note": self.note,
        }


def letter(column: str) -> str:
    """``c0`` → ``A``, ``c27`` → ``AB``: how a spreadsheet names the column."""
    number, letters = int(column[1:]) + 1, ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def contradicts(field: str, content: ColumnContent | None) -> bool:
    """The column's content clearly is something the field never holds."""
    if content is None or content.kind not in TELLING:
        return False
    expected = EXPECTED_CONTENT.get(field)
    return expected is not None and not (set(content.types) & expected)


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
        return self.written.get(column) or letter(column)

    def describe(self, column: str) -> str:
        header = self.written.get(column)
        return f"column {letter(column)}" + (f" {header!r}" if header else "")

    # -- header evidence checked against the content

    def check_headers(self) -> None:
        """A header over content it never holds is not taken at its word (a vendor's own
        mapping is: the vendor said so)."""
        for column, field in list(self.raw.items()):
            content = self.contents.get(column)
            if self.sources.get(column) in ("vendor", "profile", "answer"):
                self.confidence[column] = HIGH
                continue
            if contradicts(field, content):
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

        if not fields & {"code", "npanxx", "mccmnc", "number", "country_code", "npa", "mcc"}:
            codes = [c for c in unread if self.contents[c].kind in ("code", "number")]
            if codes:
                best = max(codes, key=lambda c: self.contents[c].shares.get("code", 0))
                take(best, "code", MEDIUM, f"it holds {summary(self.contents[best])}")
        if not fields & {"pulse", "interval1", "interval_n"}:
            pulses = [c for c in unread if self.contents[c].kind == "pulse"]
            if len(pulses) == 1:
                take(pulses[0], "pulse", MEDIUM, f"it holds {summary(self.contents[pulses[0]])}")
        if not fields & {"price", "new_price", "price_current", "price_jurisdiction"}:
            prices = [c for c in unread if self.contents[c].kind == "price"]
            if len(prices) == 1:
                (column,) = prices
                sure = MEDIUM if understood or not self.written.get(column) else LOW
                take(column, "price", sure, f"it is the one column of prices ({summary(self.contents[column])})")
        if not fields & {"destination", "country", "network"}:
            names = [c for c in unread if self.contents[c].kind == "text"]
            if names:
                take(names[0], "destination", MEDIUM, f"it holds {summary(self.contents[names[0]])}")

    # -- what is left

    def account(
        self, columns: Mapping[str, tuple[str, ...] | list[str]], dropped: set[str]
    ) -> list[ColumnReading]:
        """Every column's reading, and the doubts: low confidence, and unused columns that
        hold what a rate deck is made of."""
        field_of = {c: f for f, cols in columns.items() for c in cols}
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
                if confidence == LOW:
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
                        column, self.written.get(column), field, source, confidence, described,
                        self.notes.get(column, ""),
                    )
                )
                continue
            readings.append(
                ColumnReading(
                    column, self.written.get(column), None, "", "", described,
                    self.notes.get(column, ""),
                )
            )
            if column in dropped or content is None:
                continue
            likely = WORTH_READING.get(content.kind or "")
            if likely == "interval1" or (likely is None and content.fits("seconds")):
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
