"""Billing increments written in prose (docs/reading.md#decks-nobody-taught-us): the notice block,
the footnotes, a multi-line cell or a notes sheet may say, in any phrasing and in several languages,
which destinations are billed at which increments ("the following countries will be billed 60/60:
Fiji, Haiti", "Brazil is billed 30/6", "initial 30 seconds then 6 second increments for Brazil",
"Taktung 60/60 für Deutschland", "todos los demás destinos 1/1").

A sentence is read as tokens: increments (a pulse ``60/60``, ``60+60``, ``60-60``, or durations
"30 seconds", "per second"), words, and marks.  The words that are not the language of billing
(``FUNCTION_WORDS``) are the destination names.  A sentence that speaks of increments and
yields no rule is returned as ``unread``: the reader holds the deck on it rather than guess.
README "Reading decks", increments in prose.

This module cuts the notes into sentences and gathers what they say; ``sheets.prose_sentence``
reads one sentence, ``sheets.prose_tokens`` cuts it into tokens, ``sheets.prose_words`` holds the
words they know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ingestd.sheets.headers import fold
from ingestd.sheets.prose_sentence import destination_names, read_sentence
from ingestd.sheets.prose_tokens import tokenize, usual_pulse
from ingestd.sheets.prose_words import (
    PRICE_PER_MINUTE,
    SPEAKS_OF_BILLING,
    SPEAKS_OF_INCREMENTS,
    SPEAKS_OF_TIME,
)
from ingestd.sheets.regions import regions_named

NOTES = "notes"
MAX_SENTENCE = 2000  # characters of a sentence read for rules (a long list of names fits)
NOTES_DEFAULT = "notes default"


@dataclass(frozen=True)
class IncrementRule:
    """Billing increments for destinations whose name matches (docs/reading.md#cells and
    docs/reading.md#decks-nobody-taught-us)."""

    # vendor rules: a regular expression searched in the row's destination text (notes rules
    # match by ``names``, ``row_increments._names_row``)
    pattern: str
    first: int
    next: int
    source: str  # "vendor rule" | "notes" | "notes default"
    names: tuple[str, ...] = ()  # the destination names as written (notes)
    sentence: str = ""  # the sentence of the notes the rule was read from


@dataclass(frozen=True)
class NotesReading:
    """What the notes say about billing increments."""

    rules: tuple[IncrementRule, ...] = ()
    default: IncrementRule | None = None  # "all other destinations 1/1"
    unread: tuple[str, ...] = ()  # sentences about increments that gave no rule


_BULLET = re.compile(r"^\s*(?:[•·▪●◦‣∙*]+|[-–—]+(?=\s)|\(?\d{1,2}[).](?=\s)|\(?[a-z][)])\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:st|ste|mt|no|nr|incl|excl|approx|rep|dem|is|isl|fed|vs|dr|co|min|max|inkl|zzgl"
    r"|e\.g|i\.e|u\.s|u\.k)"
    r"|\b[A-Z])\.$",
    re.IGNORECASE,
)


def read_increment_notes(lines: Iterable[str]) -> NotesReading:
    """The increment rules, the default and the unread sentences of ``lines`` (text lines of a
    notice block, footnotes, a multi-line cell or a notes sheet), in the order written."""
    rules: list[IncrementRule] = []
    default: IncrementRule | None = None
    unread: list[str] = []
    for sentence in sentences(lines):
        if len(sentence) > MAX_SENTENCE:  # a page of text in one cell: not read, only asked about
            clipped = sentence[:MAX_SENTENCE] + "…"
            if speaks_of_increments(sentence) and clipped not in unread:
                unread.append(clipped)
            continue
        read = read_sentence(sentence)
        for names, first, after in read.rules:
            rules.append(IncrementRule("", first, after, NOTES, names, sentence))
        for first, after in read.defaults:
            if default is None:
                default = IncrementRule("", first, after, NOTES_DEFAULT, (), sentence)
            elif (default.first, default.next) != (first, after):
                read.doubtful = True  # two defaults that disagree: neither is guessed
        spoke = read.spoke or speaks_of_increments(sentence)
        if read.doubtful and spoke and sentence not in unread:
            unread.append(sentence)
    return NotesReading(tuple(rules), default, tuple(unread))


def sentences(lines: Iterable[str]) -> list[str]:
    """The sentences of ``lines`` as written: a line (or a paragraph of a multi-line cell) is
    cut at a full stop that ends a sentence, at bullets and numbering."""
    out = []
    for line in lines:
        for paragraph in re.split(r"[\r\n]+|\s[•▪●◦‣]\s", line or ""):
            paragraph = _BULLET.sub("", paragraph).strip()
            start = 0
            for stop in re.finditer(r"[.!?](?=\s+[^\w\s]*[^\W_a-z])", paragraph):
                if _ABBREVIATION.search(paragraph[start : stop.end()]):
                    continue
                out.append(paragraph[start : stop.end()].strip())
                start = stop.end()
            out.append(paragraph[start:].strip())
    return [s for s in out if re.search(r"[^\W\d_]|\d", s)]


def answer_for(sentence: str) -> str:
    """The ``--increments`` answer a person would give for ``sentence``, with the destination
    and the increments it names filled in where it names them."""
    tokens = tokenize(sentence)
    pulse = next((t.seconds for t in tokens if t.kind == "pulse"), None)
    durations = [s for t in tokens if t.kind in ("duration", "per") for s in t.seconds]
    if pulse is None and 1 <= len(durations) <= 2:
        pulse = (durations[0], durations[-1])
    # a country's name it gives; other words may be no name at all (a sentence in a language
    # ingestd does not read): the person writes the destination
    known = [n for n in destination_names(sentence, tokens) if regions_named(n)]
    destination = known[0] if known else "<destination>"
    increments = f"{pulse[0]}/{pulse[1]}" if pulse else "<first>/<next>"
    return f'--increments "{destination}={increments}"'


def speaks_of_increments(sentence: str) -> bool:
    """The sentence speaks of billing increments, pulses or rounding of call time, in words
    ingestd knows or, in any language, by a pulse in a pulse's usual shape ("30/6", "60/60")."""
    text = PRICE_PER_MINUTE.sub(" ", fold(sentence))
    return bool(
        SPEAKS_OF_INCREMENTS.search(text)
        or (SPEAKS_OF_BILLING.search(text) and SPEAKS_OF_TIME.search(text))
        or any(t.kind == "pulse" and usual_pulse(*t.seconds) for t in tokenize(sentence))
    )
