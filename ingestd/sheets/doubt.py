"""What the reader could not settle (docs/reading.md#decks-nobody-taught-us "never silently wrong").

A ``Doubt`` names one doubtful thing in a sheet (a column it could not place, a sentence about
billing increments that became no rule, a sheet that looks like rates but was not applied) and
the exact answer that settles it.  A deck with doubts is held by the ``doubtful_reading`` guard
(``ingestd.ingest``): quarantined when it came by mail, exit 1 with the question on the command
line; the answer (``--map``, ``--increments``, ``--date-order``, ``--hyphen``) or
``--accept-guards`` releases it.  README "How ingestd reads a deck".

A ``Proven`` is the other side: what a vendor's earlier decks proved of a reading that a new
deck's own values leave open; the reader uses it and says so instead of asking again.
"""

from __future__ import annotations

from dataclasses import dataclass

GUARD = "doubtful_reading"


@dataclass(frozen=True)
class Doubt:
    """One doubtful thing in a sheet and the answer that settles it."""

    sheet: str | None
    subject: str  # what is doubtful: "column C 'Tasa'", "the sentence '…'", "sheet 'Notes'"
    question: str  # what a person must decide, in one sentence
    # the exact option that settles it ("--map \"Tasa=price\"", "--increments \"Mexico=60/60\"");
    # "" when only a look at the deck can (then --accept-guards releases it as read)
    answer: str = ""
    # what kind of answer settles it: "columns", "increments", "date_order", "hyphen", "sheet"
    topic: str = "columns"

    def text(self) -> str:
        where = f"sheet {self.sheet!r}: " if self.sheet else ""
        settle = f" Answer: {self.answer}" if self.answer else ""
        return f"{where}{self.subject}: {self.question}{settle}"

    def as_dict(self) -> dict:
        return {
            "sheet": self.sheet,
            "subject": self.subject,
            "question": self.question,
            "answer": self.answer,
            "topic": self.topic,
        }


@dataclass(frozen=True)
class Proven:
    """What a vendor's earlier decks proved of a reading their values decided (a date order,
    the meaning of hyphens), and the version that proved it."""

    meaning: str
    source: str  # "acme/voice/default version 3"
