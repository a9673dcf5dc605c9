"""A sentence as tokens (docs/reading.md#increments-in-prose): increments (a pulse ``60/60``,
``60+60``, ``60-60``, or durations "30 seconds", "per second"), words, numbers and marks; and the
durations of one increment grouped together ("initial 30 seconds then 6 second increments" →
30/6)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestd.sheets.headers import fold
from ingestd.sheets.prose_words import FUNCTION_WORDS, PRICE_WORD

# durations and pulses a vendor bills in: a pair of other numbers is a date, a page, a fraction
PLAUSIBLE_SECONDS = frozenset(
    {1, 5, 6, 10, 12, 15, 18, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600}
)

_TOKEN = re.compile(
    r"""
    (?P<pulse>(?<![\w/.:,-])(?P<a>\d{1,4})(?:\s*/\s*|\s?[+-]\s?|\s[xX]\s)(?P<b>\d{1,4})
        (?![\w/%]|[.,:]\d|-\d))
    |(?P<duration>(?P<n>\d{1,4}|one|single|un|una|uno|une|um|uma|ein|eine|einer)\s*-?\s*
        (?P<unit>seconds?|secs?|segundos?|segs?|secondes?|sekunden?|sek|s
        |minutes?|mins?|minutos?|minuten?|m)\b\.?)
    |(?P<per>(?:per|por|pro|par|a\ la|à\ la|al)[\s-](?P<perunit>second|sec|segundo|seconde|sekunde
        |minute|min|minuto)\b|(?P<glued>sekunden|minuten)genau|(?P<short>per)(?P<shortunit>second|
        minute))
    |(?P<word>[^\W\d_](?:[\w'’]|[.-](?=[^\W\d_]))*)
    |(?P<number>\d+(?:[.,]\d+)*)
    |(?P<mark>[,;:()\[\]/&]|\s[-–—]\s|…)
    """,
    re.VERBOSE | re.IGNORECASE,
)
# what comes before or after "1/3" when it is not a pulse: a page, a version, a price
_NOT_PULSE_BEFORE = re.compile(
    r"\b(?:page|pag|pagina|seite|p|version|ver|v|rev|revision|no|nr|art|article|section|annex|"
    r"item|part|step|issue|edition|sheet|ref|reference|doc|document|invoice|contract|"
    r"agreement|order|ticket|case|id|hoja|teil|anlage|factura|fatura|rechnung|vertrag|"
    # a date: "valid from 15/10", "ab 15/10", "à partir du 15/10"
    r"from|since|until|till|dated?|valid|effective|vigencia|fecha|datum|data|desde(?: el)?|"
    r"hasta(?: el)?|a partir del?|partir d[eu]|compter du|ab|bis|seit|vom|depuis(?: le)?|"
    r"jusqu'au|ate|até|"
    # "Date d'effet : 01/01", "en vigueur le", "gültig", "wirksam", "efectiva", "decorrenza dal"
    r"effet|d'effet|d’effet|vigueur|gültig|wirksam|efectiv[oa]|efetiv[oa]|vigência|validez|"
    r"validade|decorrenza|dal|dès|des le|dès le)"
    r"\.?\s*(?:n[or]\.?|#)?\s*:?\s*$",
    re.IGNORECASE,
)
_NOT_PULSE_AFTER = re.compile(
    r"^\s*(?:%|cents?|ct|usd|eur|gbp|\$|€|£|hours?|h\b|days?|support|"
    r"service|price|rate|off\b)",
    re.IGNORECASE,
)


@dataclass
class Token:
    """One piece of a sentence, where it stands, and the seconds an increment says."""

    kind: str  # pulse | duration | per | word | number | mark; grouped: increment | unclear
    text: str
    start: int
    end: int
    seconds: tuple[int, ...] = ()  # pulse: (first, next); duration: (seconds,)


def tokenize(sentence: str) -> list[Token]:
    """The tokens of ``sentence`` in order; a pulse or a duration that cannot be one (a date, a
    page, a price, seconds no vendor bills in) is a number."""
    tokens = []
    for match in _TOKEN.finditer(sentence):
        kind = match.lastgroup
        if match.group("pulse"):
            kind = "pulse"
        elif match.group("duration"):
            kind = "duration"
        elif match.group("per"):
            kind = "per"
        token = Token(kind, match.group(0), match.start(), match.end())
        if kind == "pulse":
            first, after = int(match.group("a")), int(match.group("b"))
            before = sentence[max(0, match.start() - 40) : match.start()]
            rest = sentence[match.end() : match.end() + 40]
            if (
                first in PLAUSIBLE_SECONDS
                and after in PLAUSIBLE_SECONDS
                and not _NOT_PULSE_BEFORE.search(before)
                and not _NOT_PULSE_AFTER.match(rest)
            ):
                token.seconds = (first, after)
            else:
                token.kind = "number"
        elif kind == "duration":
            unit = match.group("unit").lower()
            count = match.group("n")
            seconds = (int(count) if count.isdigit() else 1) * (60 if unit.startswith("m") else 1)
            token.seconds = (seconds,) if seconds in PLAUSIBLE_SECONDS else ()
            if not token.seconds:
                token.kind = "number"
        elif kind == "per":
            unit = fold(match.group("perunit") or match.group("glued") or match.group("shortunit"))
            token.seconds = (60 if unit.startswith("min") else 1,)
        tokens.append(token)
    return tokens


def increments_of(tokens: list[Token], timed: bool) -> list[Token]:
    """Pulses, and durations grouped into one increment ("initial 30 seconds then 6 second
    increments" → 30/6) when the sentence speaks of billing (``timed``); "per minute" after a
    currency or a price is a price ("USD per minute")."""
    out: list[Token] = []
    group: list[Token] = []

    def close() -> None:
        if not group:
            return
        seconds = [s for t in group for s in t.seconds]
        if len(seconds) <= 2:
            first, after = seconds[0], seconds[-1]
            out.append(Token("increment", "", group[0].start, group[-1].end, (first, after)))
        else:
            out.append(Token("unclear", "", group[0].start, group[-1].end))
        group.clear()

    for index, token in enumerate(tokens):
        if token.kind == "pulse":
            close()
            out.append(Token("increment", token.text, token.start, token.end, token.seconds))
        elif token.kind in ("duration", "per") and timed:
            if token.kind == "per" and not group and _after_a_price(tokens, index):
                out.append(Token("number", token.text, token.start, token.end))
                continue
            group.append(token)
        elif group and _between_durations(token):
            out.append(token)  # words between the durations of one increment
        else:
            close()
            out.append(token)
    close()
    # the words between the durations of one increment are part of it
    out = [t for i, t in enumerate(out) if not _restates_a_pulse(out, i)]
    kept = [
        t
        for t in out
        if t.kind in ("increment", "unclear")
        or not any(i.kind in ("increment", "unclear") and i.start <= t.start < i.end for i in out)
    ]
    return sorted(kept, key=lambda t: t.start)


def _between_durations(token: Token) -> bool:
    """A token that may stand between the durations of one increment ("30 seconds, then 6")."""
    if token.kind == "mark":
        return token.text in ",;/"
    return token.kind == "word" and fold(token.text) in FUNCTION_WORDS


def _restates_a_pulse(tokens: list[Token], index: int) -> bool:
    """The increment of durations at ``index`` says again what a pulse beside it says
    ("per second (1/1)", "60/60 (60 seconds)")."""
    token = tokens[index]
    if token.kind != "increment" or not token.text == "":
        return False
    for step in (-1, 1):
        at = index + step
        while 0 <= at < len(tokens) and tokens[at].kind == "mark" and tokens[at].text in "()[]":
            at += step
        if 0 <= at < len(tokens) and tokens[at].kind == "increment" and tokens[at].text:
            return tokens[at].seconds == token.seconds
    return False


def _after_a_price(tokens: list[Token], index: int) -> bool:
    """A currency or a price among the three words before ``index`` (no mark between): "USD
    per minute" is a price, not an increment."""
    for token in reversed(tokens[max(0, index - 3) : index]):
        if token.kind == "mark":
            break
        if token.kind == "word" and PRICE_WORD.match(fold(token.text)):
            return True
    return False


def usual_pulse(first: int, after: int) -> bool:
    """The shapes pulses come in: the same twice, or then per second or per 6 seconds."""
    return first == after or after in (1, 6)
