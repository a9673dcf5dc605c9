"""What a header cell names (docs/reading.md#finding-the-table): a header matched against the
vocabulary of ``sheets.vocabulary``.

Spellings are compared after ``header_key`` (case, accents, spaces, punctuation and
``Price1``/``Price 1`` do not matter), and when a header does not match as written it is tried
again without currency and unit words (``Rates (USD / Min)`` → ``rates``, ``Price($)`` →
``price``) and then with plurals made singular.  ``read_header`` says how a header matched:
whole (``exact``), once camelCase and glued words are split and ``ABBREVIATIONS`` written out
(``words``: ``smsPriceEUR``, ``ratepermin``, ``Eff Dt``), or as a known spelling holding the
head word of a longer header (``guess``: ``Voice Termination Rate USD``).  The words matching
reasons with are here too: units, abbreviations, prepositions, where each language puts the
head of a phrase, the words that make a column one we do not read.

``sheets.field_columns`` decides what the matches of a header row mean together (duplicates,
current vs new rate, a lone area code, kind-dependent fields); nothing here looks at cells.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from ingestd.sheets.currencies import CURRENCY_CODES
from ingestd.sheets.vocabulary import ENGLISH, LANGUAGES, OTHER, PRICE_FIELDS, VOCABULARY

# Words that make a price or an interval a column we do not read (``Connection Rate``,
# ``Weekend Price``, ``Tarif de connexion``): a guess of those fields from a header holding one
# of them is ``other``.
UNREAD_WORDS = frozenset(
    """
    connection connect connexion conexion conexão connessione verbindung verbindungs disconnect
    grace gracia carência grâce surcharge offpeak off weekend night evening buy buying
    соединение соединения соединения бесплатные льготный 接通 宽限 免费
    """.split()
)
_READ_FIELDS = (*PRICE_FIELDS, "interval1", "interval_n", "pulse", "interval")
# A header is a name: a longer text (a notice line, a footnote) is not guessed at.
_LONGEST_HEADER = 8

# Words of a header that name a currency or a unit, not the field ("Rates (USD / Min)").
UNIT_WORDS = frozenset(code.lower() for code in CURRENCY_CODES) | frozenset(
    """
    rmb us dollar dollars euro euros cent cents per min mins minute minutes sec secs second
    seconds in
    por minuto minutos pro par mn руб мин минуту за 美元 元 分钟 dakika dk
    s r rs ct ht ttc net netto brutto vat excl incl рублей коп 秒 秒钟 每分钟 tl 条 每条 دولار
    دقيقة
    dd mm mmm yyyy yy aaaa jj tt gg hh utc gmt
    """.split()
)

# Abbreviations vendors write in headers, written out before a header is matched again
# (``Pfx`` → prefix, ``Eff Dt`` → effective date, ``Inter`` → interstate).  ``min`` is not
# here: alone it is a minimum (``Min``), after a price a unit (``Rate/Min``).
ABBREVIATIONS: dict[str, str] = {
    "pfx": "prefix", "prfx": "prefix", "dst": "destination",
    "dest": "destination", "destn": "destination", "desc": "description", "descr": "description",
    "eff": "effective", "effec": "effective", "dt": "date", "incr": "increment",
    "inc": "increment", "init": "initial", "ini": "initial", "dur": "duration",
    "inter": "interstate",
    "intra": "intrastate", "indet": "indeterminate", "ind": "indeterminate",
    "ctry": "country", "cntry": "country", "cty": "country",
    "chg": "change", "stat": "status", "intvl": "interval",
    "nxt": "next", "subs": "subsequent", "subseq": "subsequent", "addl": "additional",
    "term": "termination", "prc": "price", "descrip": "description",
    "conn": "connection", "connect": "connection", "exp": "expiry", "expir": "expiry",
    "mthly": "monthly",
}  # fmt: skip

# Prepositions after which a head-last language writes what qualifies the head ("Notes about
# rate", "Preis pro Minute"): the head is the last content word before the first of them.
PREPOSITIONS = frozenset("of for about on at by with per from pro je für von".split())
# Words that join the words of a header without naming anything ("Fecha de la tarifa").
FILLER_WORDS = PREPOSITIONS | frozenset(
    """
    the a an de del la el los las da do dos das du des le les d l di della dei al au en y e et
    und der die das zu и в на для ve ile
    """.split()
)

# Where a language puts the head of a noun phrase, the word its other words qualify: last
# in English, German, Turkish and Chinese; first in the Romance languages and Arabic; Russian
# both (adjectives before, genitives after).  See ``_guess``.
HEAD_LAST = frozenset({"en", "de", "tr", "zh", "ru"})
HEAD_FIRST = frozenset({"es", "pt", "fr", "it", "ar", "ru"})
# Languages that glue the words of a compound (``Festnetzpreis``, ``语音费率``).
GLUED_LANGUAGES = frozenset({"de", "zh"})
# Heads too general to name a field by themselves inside a longer header ("Rate Type",
# "Customer Name", "Product Code"), in the spelling of each language.
GENERIC_HEADS = frozenset(
    """
    type name code codes number numbers status change action from to end
    nombre codigo nom nome codice numero name код название номер kod ad 代码 名称
    """.split()
)


def fold(text: str) -> str:
    """``text`` without case or accents, for comparing words as vendors write them.

    Compatibility forms are unified and combining marks dropped (``PRÉFIXE`` → ``prefixe``,
    ``Gültig`` → ``gultig``, full-width ``（`` → ``(``; Cyrillic ``й`` → ``и``, on both sides of
    a comparison alike), then case folded (``ß`` → ``ss``); Turkish dotless ``ı`` is ``i``.
    Letters of other scripts (Cyrillic, Arabic, CJK) are kept.
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().replace("ı", "i")


def header_key(text: str) -> str:
    """The normalised form headers and spellings are compared in.

    Without case or accents (``fold``); ``(s)`` glued to the word (``Dial Code(s)`` →
    ``dial codes``); ``E.164`` → ``e164``; every other punctuation mark a space; a number split
    from the word before it (``Price1`` → ``price 1``); spaces collapsed.
    """
    key = fold(text).replace("(s)", "s")
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


@dataclass(frozen=True)
class HeaderMatch:
    """What a header cell names and how sure the vocabulary is of it.

    ``strength``: ``exact`` (the whole header is a known spelling, after ``header_key``, unit
    words and plurals), ``words`` (a known spelling once camelCase and glued words are split
    and abbreviations written out: ``smsPriceEUR``, ``Eff Dt``, ``ratepermin``) or ``guess``
    (a known spelling holding the head word of a longer header: ``Voice Termination Rate USD``).
    ``spelling`` is the known spelling, as ``header_key`` writes it.
    """

    field: str
    strength: str
    spelling: str


@dataclass(frozen=True)
class _Index:
    exact: dict[str, str]  # header_key of a spelling → field
    singular: dict[str, tuple[str, str]]  # its singular form → (field, spelling)
    patterns: list[tuple[re.Pattern[str], str]]
    languages: dict[str, frozenset[str]]  # spelling → the languages that write it
    words: frozenset[str]  # every word of every spelling, unit and abbreviation
    glued_heads: dict[str, str]  # spelling that may end a compound → field


@cache
def _index() -> _Index:
    exact: dict[str, str] = {}
    singular: dict[str, tuple[str, str] | None] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    languages: dict[str, set[str]] = {}
    for name, spellings in VOCABULARY.items():
        for spelling in spellings:
            if isinstance(spelling, re.Pattern):
                patterns.append((spelling, name))
                continue
            key = header_key(spelling)
            exact.setdefault(key, name)
            one = _singular(key)
            # a singular form two fields share ("increment(s)") matches neither
            held = singular.get(one, (name, key))
            singular[one] = (name, held[1]) if held is not None and held[0] == name else None
    for language, spellings in (("en", ENGLISH), *LANGUAGES.items()):
        for words in spellings.values():
            for spelling in words:
                if isinstance(spelling, str):
                    languages.setdefault(header_key(spelling), set()).add(language)
    words = {w for key in exact for w in key.split()} | set(UNIT_WORDS) | set(ABBREVIATIONS)
    words |= {w for expansion in ABBREVIATIONS.values() for w in expansion.split()}
    return _Index(
        exact=exact,
        singular={k: v for k, v in singular.items() if v},
        patterns=patterns,
        languages={k: frozenset(v) for k, v in languages.items()},
        words=frozenset(w for w in words if len(w) > 1 and not w.isdigit()),
        glued_heads={
            key: exact[key]
            for key, written_in in languages.items()
            if written_in & GLUED_LANGUAGES
            and " " not in key
            and len(key) >= (5 if key.isascii() else 1)  # not "land" in "Finland"
        },
    )


def _known(key: str) -> tuple[str, str] | None:
    """(field, spelling) when the whole ``key`` is a spelling, with or without unit words."""
    index = _index()
    for candidate in (key, _without_units(key)):
        if not candidate:
            continue
        if candidate in index.exact:
            return index.exact[candidate], candidate
        for pattern, name in index.patterns:
            if pattern.search(candidate):
                return name, candidate
    return index.singular.get(_singular(_without_units(key)))


def read_header(text: str | None) -> HeaderMatch | None:
    """What a header cell names (``HeaderMatch``), or None when the vocabulary cannot tell."""
    return None if text is None else _read(text, guess=True)


def match_header(text: str | None) -> str | None:
    """The logical field a header cell names, or None (a guess is not a match)."""
    found = None if text is None else _read(text, guess=False)
    return found.field if found else None


@lru_cache(maxsize=16384)
def _read(text: str, guess: bool) -> HeaderMatch | None:
    key = header_key(text)
    if not key:
        return None
    known = _known(key)
    if known:
        return HeaderMatch(known[0], "exact", known[1])
    words = _words(text, key)
    if words != key.split():
        known = _known(" ".join(words))
        if known:
            return HeaderMatch(known[0], "words", known[1])
    return _guess(words) if guess and len(words) <= _LONGEST_HEADER else None


# --- words: camelCase, glued compounds, abbreviations ---------------------------------------


def _words(text: str, key: str) -> list[str]:
    """The words of a header as the vocabulary writes them: camelCase split (``smsPriceEUR`` →
    sms price eur), glued words split into known ones (``ratepermin`` → rate per min),
    abbreviations written out (``Eff Dt`` → effective date)."""
    split = _CAMEL_CASE.sub(" ", text)
    words: list[str] = []
    for word in (key if split == text else header_key(split)).split():
        for part in _split_glued(word):
            words.extend(ABBREVIATIONS.get(part, part).split())
    return words


_CAMEL_CASE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@cache
def _split_glued(word: str) -> tuple[str, ...]:
    """``word`` as known words of three letters or more (longest first), or as it is when it
    is known or cannot be split."""
    known = _index().words
    if word in known or not word.isalpha() or len(word) < 4:
        return (word,)

    def parts(rest: str) -> tuple[str, ...] | None:
        if not rest:
            return ()
        for end in range(len(rest), 2, -1):  # no word of two letters ("red di")
            if rest[:end] in known and (tail := parts(rest[end:])) is not None:
                return (rest[:end], *tail)
        return None

    return parts(word) or (word,)


# --- guess: a known spelling inside a longer header ------------------------------------------


def _guess(words: list[str]) -> HeaderMatch | None:
    """The field of the longest known spelling holding the header's head word.

    The head is the word the others qualify: the last content word in languages that put
    modifiers first (``Rate Increase Date`` is a date), the first in those that put them after
    (``Fecha de la tarifa`` is a date, ``Tarifa vigente`` a price); Russian does both; a
    preposition ends a head-last phrase (``Notes about rate`` are notes).  A lone word of
    ``GENERIC_HEADS`` (``Type``, ``Name``, ``Code``) names its field only when another word of
    the header is of that field too, and a price or interval whose header also holds a word of
    ``UNREAD_WORDS`` (``Connection Rate``) is ``other``, a column we do not read.
    """
    content = [i for i, w in enumerate(words) if w not in UNIT_WORDS and w not in FILLER_WORDS]
    if not content:
        return None
    index = _index()
    first, last = content[0], content[-1]
    before = next((i for i, w in enumerate(words) if w in PREPOSITIONS and i > first), None)
    if before is not None:
        last = max(i for i in content if i < before)
    found: list[tuple[int, str, str]] = []  # (words in the spelling, field, spelling)
    for start in range(len(words)):
        for end in range(start + 1, len(words) + 1):
            spelling = " ".join(words[start:end])
            field = index.exact.get(spelling)
            if field is None:
                continue
            heads = set()
            for language in index.languages.get(spelling, ()):
                heads |= {first} if language in HEAD_FIRST else set()
                heads |= {last} if language in HEAD_LAST else set()
            if any(start <= head < end for head in heads):
                found.append((end - start, field, spelling))
    found += _glued_head(words[last], index)
    if not found:
        return None
    size = max(n for n, _, _ in found)
    best = {(field, spelling) for n, field, spelling in found if n == size}
    if len({field for field, _ in best}) != 1:
        return None
    field, spelling = min(best)
    others = [words[i] for i in content if words[i] not in spelling.split()]
    if size == 1 and spelling in GENERIC_HEADS:
        if not any(index.exact.get(word) == field for word in others):
            return None
    unread = [word for word in others if _unread(word)]
    if field in _READ_FIELDS and unread:
        return HeaderMatch(OTHER, "guess", unread[0])
    return HeaderMatch(field, "guess", spelling)


def _glued_head(word: str, index: _Index) -> list[tuple[int, str, str]]:
    """A known spelling that ends a compound of a language gluing its words
    (``Festnetzpreis`` → preis, ``语音费率`` → 费率)."""
    heads = index.glued_heads
    return [(1, heads[word[i:]], word[i:]) for i in range(1, len(word)) if word[i:] in heads]


def _unread(word: str) -> bool:
    """Whether a word (or a compound it begins) marks a column we do not read."""
    return any(word == m or (len(m) > 5 and word.startswith(m)) for m in _unread_keys())


@cache
def _unread_keys() -> tuple[str, ...]:
    return tuple(header_key(word) for word in UNREAD_WORDS)


def ambiguous_spellings(vocabulary: dict[str, Iterable] = VOCABULARY) -> dict[str, set[str]]:
    """Normalised spellings listed under more than one field (should be none)."""
    fields: dict[str, set[str]] = {}
    for name, spellings in vocabulary.items():
        for spelling in spellings:
            if isinstance(spelling, str):
                fields.setdefault(header_key(spelling), set()).add(name)
    return {key: names for key, names in fields.items() if len(names) > 1}
