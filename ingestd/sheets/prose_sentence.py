"""One sentence about billing increments read into rules (docs/reading.md#increments-in-prose):
the sentence cut into parts at commas and semicolons, each part's destination names on either
side of its increment, names claimed by increments across the parts; a default clause ("all
other destinations 1/1"); and what makes a sentence doubtful (hedges, alternatives, a minimum
alone, names and increments left over)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from ingestd.sheets.headers import fold
from ingestd.sheets.prose_tokens import Token, increments_of, tokenize, usual_pulse
from ingestd.sheets.prose_words import (
    BILLING_WORD,
    DEFAULT_CLAUSE,
    DURATION_CONTEXT,
    EXCEPT,
    FUNCTION_WORDS,
    HEDGE,
    INCLUDING,
    MINIMUM,
    QUALIFIERS,
    RESPECTIVELY,
    THEN,
)
from ingestd.sheets.regions import names_a_country, regions_named


@dataclass
class _Part:
    """A stretch of a sentence between commas or semicolons: names and at most one increment."""

    before: list[str] = field(default_factory=list)  # names before the increment
    after: list[str] = field(default_factory=list)  # names after it (or all, without one)
    increment: tuple[int, int] | None = None
    default: bool = False
    excepted: bool = False  # it starts with "except": names the rule before it does not cover
    opens: bool = False  # a colon after the increment: the names follow ("billed 60/60: A, B")


@dataclass
class SentenceReading:
    """What one sentence says: rules (names, first, next) and defaults (first, next)."""

    rules: list[tuple[tuple[str, ...], int, int]] = field(default_factory=list)
    defaults: list[tuple[int, int]] = field(default_factory=list)
    doubtful: bool = False  # not all of it became rules
    spoke: bool = False  # it has increments beside billing words or a country's name


def read_sentence(sentence: str) -> SentenceReading:
    """The rules and defaults of one sentence, and whether any of it was left unread."""
    reading = SentenceReading()
    if HEDGE.search(fold(sentence)):
        reading.doubtful = True
        return reading
    tokens = tokenize(sentence)
    billing = any(t.kind == "word" and BILLING_WORD.match(fold(t.text)) for t in tokens)
    timed = any(t.kind == "word" and DURATION_CONTEXT.match(fold(t.text)) for t in tokens)
    tokens = increments_of(tokens, billing or timed)
    if not any(t.kind == "increment" for t in tokens):
        reading.doubtful = True
        return reading
    # increments beside billing words or a country's name: whatever is not read is a doubt
    reading.spoke = billing or names_a_country(sentence)
    if _first_only(sentence, tokens):  # "minimum charge 60 seconds": the next is not said
        reading.doubtful = True
        return reading
    if _alternatives(tokens):
        reading.doubtful = True
        return reading
    if RESPECTIVELY.search(fold(sentence)):
        pairs = _respectively(sentence, tokens)
        reading.rules.extend(pairs)
        reading.doubtful = not pairs
        return reading
    parts = _parts(sentence, tokens)
    claimed = _claim(parts)
    if claimed is None:
        reading.doubtful = True
        return reading
    excepting = any(p.excepted for p in parts) or _labelled(tokens)
    for names, increment, is_default in claimed:
        first, after = increment
        # "billing is per second, except for Mexico: 60/60": the rule with the exceptions
        # and no names is the default
        if is_default or (not names and excepting):
            reading.defaults.append((first, after))
        elif names and (billing or _reads_as_a_pulse(first, after, reading.spoke)):
            reading.rules.append((tuple(names), first, after))
        else:
            reading.doubtful = True
    return reading


def _first_only(sentence: str, tokens: list[Token]) -> bool:
    """A minimum charge or duration alone ("minimum charge 60 seconds", "Mindestdauer 60
    Sekunden") gives the first interval, not the increment after it."""
    folded = fold(sentence)
    increments = [t for t in tokens if t.kind == "increment"]
    return (
        bool(MINIMUM.search(folded))
        and not THEN.search(folded)
        and len(increments) == 1
        and not re.search(r"[0-9]\s*[/+:\-]\s*[0-9]", increments[0].text)
    )


def _reads_as_a_pulse(first: int, after: int, country: bool) -> bool:
    """Without billing words, "60/60" beside a name is a pulse; a pair that could be a day and
    a month ("15/10", "01/15") is one only beside a country's name and in a pulse's usual shape
    (the same twice, or then per second or per 6 seconds: "1/1", "30/6", "60/1")."""
    if not (first <= 31 and after <= 31 and (first <= 12 or after <= 12)):
        return True
    return country and usual_pulse(first, after)


def _labelled(tokens: list[Token]) -> bool:
    """The sentence is a notice label and its value, "Billing increment: 60/60", "Taktung:
    1/1": the deck's increments, as "Currency: USD" is the deck's currency."""
    words = [t for t in tokens if t.kind == "word"]
    kinds = [t.kind if t.kind != "mark" else t.text for t in tokens]
    return (
        kinds[-3:] == ["word", ":", "increment"]
        and all(k == "word" for k in kinds[:-2])
        and all(fold(w.text) in FUNCTION_WORDS for w in words)
        and any(BILLING_WORD.match(fold(w.text)) for w in words)
    )


def _alternatives(tokens: list[Token]) -> bool:
    """Two increments offered as alternatives ("30/6 or 60/60"): neither is the rule."""
    at = [i for i, t in enumerate(tokens) if t.kind in ("increment", "unclear")]
    return any(
        [fold(t.text) for t in tokens[a + 1 : b]] in (["or"], ["o"], ["ou"], ["oder"], ["u"])
        for a, b in pairwise(at)
    )


def _respectively(sentence: str, tokens: list[Token]) -> list[tuple[tuple[str, ...], int, int]]:
    """One rule per name, in the order of the increments; none when the counts differ."""
    increments = [t for t in tokens if t.kind in ("increment", "unclear")]
    names = destination_names(sentence, tokens)
    if len(names) != len(increments) or any(t.kind == "unclear" for t in increments):
        return []
    return [((n,), *t.seconds) for n, t in zip(names, increments, strict=True)]


def _parts(sentence: str, tokens: list[Token]) -> list[_Part]:
    """The sentence cut at commas and semicolons (and between two increments of one stretch),
    each part's names on either side of its increment."""
    stretches: list[list[Token]] = [[]]
    depth = 0
    for index, token in enumerate(tokens):
        if token.kind == "mark" and token.text in "([":
            depth += 1
        elif token.kind == "mark" and token.text in ")]":
            depth = max(0, depth - 1)
        if token.kind == "mark" and token.text in ",;" and depth == 0:
            if token.text == "," and _inside_a_name(sentence, tokens, index):
                stretches[-1].append(token)
            else:
                stretches.append([])
        elif token.kind == "word" and EXCEPT.match(fold(token.text)) and depth == 0:
            stretches.append([token])  # "… except Mexico": what follows is not the same rule
        else:
            stretches[-1].append(token)
    parts: list[_Part] = []
    for stretch in stretches:
        increments = [i for i, t in enumerate(stretch) if t.kind in ("increment", "unclear")]
        if len(increments) <= 1:
            parts.append(_part(sentence, stretch))
            continue
        # "Brazil 30/6 and Mexico 60/60": names precede; "60/60 for A and 30/6 for B": follow
        names_first = any(
            t.kind == "word" and fold(t.text) not in FUNCTION_WORDS
            for t in stretch[: increments[0]]
        )
        cuts = [i + 1 for i in increments[:-1]] if names_first else increments[1:]
        for start, end in zip([0, *cuts], [*cuts, len(stretch)], strict=True):
            parts.append(_part(sentence, stretch[start:end]))
    return parts


def _inside_a_name(sentence: str, tokens: list[Token], comma: int) -> bool:
    """The comma at ``comma`` is part of a country's name ("Korea, Republic of")."""
    before = []
    for token in reversed(tokens[max(0, comma - 4) : comma]):
        if token.kind != "word":
            break
        before.append(token)
    after = []
    for token in tokens[comma + 1 : comma + 5]:
        if token.kind != "word":
            break
        after.append(token)
    return any(regions_named(sentence[start.start : end.end]) for start in before for end in after)


def _part(sentence: str, tokens: list[Token]) -> _Part:
    """One stretch of a sentence: its increment, whether it is a default clause, its names."""
    part = _Part()
    increment = next((t for t in tokens if t.kind in ("increment", "unclear")), None)
    if increment is not None and increment.kind == "unclear":
        part.increment = (0, 0)  # more durations than one increment has: ``_claim`` gives up
    elif increment is not None:
        part.increment = increment.seconds  # type: ignore[assignment]
    text = fold(" ".join(t.text for t in tokens if t.kind in ("word", "per")))
    part.default = bool(DEFAULT_CLAUSE.search(text)) or any(
        t.kind == "word" and t.text == "ROW" for t in tokens
    )
    part.excepted = bool(tokens) and bool(EXCEPT.match(fold(tokens[0].text)))
    cut = tokens.index(increment) if increment is not None else len(tokens)
    # "1/1 for all destinations except Mexico": the names after "except" are not the default's
    part.before = destination_names(sentence, tokens[:cut], part.default)
    part.after = destination_names(sentence, tokens[cut + 1 :], part.default)
    part.opens = increment is not None and any(
        t.kind == "mark" and t.text == ":" for t in tokens[cut + 1 :]
    )
    if increment is None:
        part.after, part.before = part.before, []
    return part


def destination_names(
    sentence: str, tokens: list[Token], stop_at_except: bool = False
) -> list[str]:
    """The destination names among ``tokens``: runs of words that are not function words,
    split at marks and connectors ("and", "y", "und", "&"…) unless the words around a connector
    are one country's name ("Trinidad and Tobago"); a parenthesis adds its qualifier ("Mexico
    (Mobile)") or nothing ("Mexico (all codes)").  In a sentence written in capitals and small
    letters a name starts with a capital or is a country's ("vers le Mexique", not "fait")."""
    runs: list[list[int]] = []  # [start, end] of each run of name words in the sentence
    joinable: list[bool] = []  # per run: only function words or a connector since the last
    qualifiers: dict[int, list[str]] = {}  # run → qualifiers in parentheses after it
    current: list[Token] = []
    inner: list[Token] = []
    in_parentheses: list[str] = []
    plain, depth = True, 0
    widened: set[int] = set()  # runs after "incl.": qualifiers that widen the name before

    def end_run() -> None:
        nonlocal plain
        if current:
            runs.append([current[0].start, current[-1].end])
            joinable.append(plain and len(runs) > 1)
            current.clear()
            plain = True

    for at, token in enumerate(tokens):
        folded = fold(token.text)
        if token.kind == "mark" and token.text in "([":
            end_run()
            depth, inner = depth + 1, []
        elif token.kind == "mark" and token.text in ")]":
            depth = max(0, depth - 1)
            words = [fold(t.text) for t in inner if t.kind == "word"]
            if runs and words and all(w in QUALIFIERS for w in words):
                qualifiers.setdefault(len(runs) - 1, []).extend(t.text for t in inner)
            elif not depth:
                # "60/60 (Mexico, Haiti)": a list of countries in parentheses names them
                listed = destination_names(sentence, inner, stop_at_except)
                if any(names_a_country(n) for n in listed):
                    in_parentheses.extend(listed)
            plain = False
        elif depth:
            inner.append(token)
        elif stop_at_except and token.kind == "word" and EXCEPT.match(folded):
            break
        elif token.kind == "word" and folded not in FUNCTION_WORDS and token.text != "ROW":
            if not current and at and fold(tokens[at - 1].text) in INCLUDING:
                widened.add(len(runs))
            current.append(token)
        else:
            end_run()
            if token.kind != "word" and token.text not in ("&", ","):
                plain = False
    end_run()
    names: list[tuple[int, int]] = []
    extra: list[list[str]] = []
    for index, (start, end) in enumerate(runs):
        if index in widened and all(fold(w) in QUALIFIERS for w in sentence[start:end].split()):
            continue
        # "Trinidad and Tobago", "Isle of Man", "Bosnia y Herzegovina": one name
        if names and joinable[index] and regions_named(sentence[names[-1][0] : end]):
            names[-1] = (names[-1][0], end)
            extra[-1] = qualifiers.get(index, [])
            continue
        names.append((start, end))
        extra.append(qualifiers.get(index, []))
    out: list[str] = []
    for (start, end), words in zip(names, extra, strict=True):
        name = " ".join([sentence[start:end].strip(" .-'\"’"), *words])
        # "Mexico Mobile/Fixed", "Mexico Mobile and Fixed": a qualifier alone takes the name
        # before it
        if out and all(fold(w) in QUALIFIERS for w in name.split()):
            base = [w for w in out[-1].split() if fold(w) not in QUALIFIERS]
            if base:
                name = " ".join(base + name.split())
        if name:
            out.append(name)
    out += in_parentheses
    if sentence != sentence.lower() and sentence != sentence.upper():
        out = [n for n in out if n[0].isupper() or n[0].isdigit() or names_a_country(n)]
    return out


def _claim(parts: list[_Part]) -> list[tuple[list[str], tuple[int, int], bool]] | None:
    """Names to increments across the parts of a sentence: a part whose names follow its
    increment ("billed 60/60: A", "60/60 applies to A") takes the name-only parts after it; a
    part whose names precede it ("A: 60/60", "Brazil is billed 30/6") or that has none takes the
    name-only parts before it.  None when a name or an increment is left over."""
    claimed: list[tuple[list[str], tuple[int, int], bool]] = []
    pending: list[_Part] = []
    opener: int | None = None
    for part in parts:
        if part.increment is None and part.excepted:
            continue  # "except those noted below", "except Mexico": their increments are
            # given elsewhere
        if part.increment is None:
            if opener is not None and part.after and not part.default:
                names, increment, default = claimed[opener]
                claimed[opener] = (names + part.after, increment, default)
            elif part.after or part.default:
                pending.append(part)
            continue
        if part.increment == (0, 0):
            return None  # more durations than an increment has
        names = part.before + part.after
        default = part.default
        if pending and (part.before or not part.after):
            names = [n for p in pending for n in p.after] + names
            default = default or any(p.default for p in pending)
            pending = []
        claimed.append((names, part.increment, default))
        opener = len(claimed) - 1 if (part.after or part.opens or not names) else None
    if pending:
        return None
    return claimed
