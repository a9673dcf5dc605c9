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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from ingestd.sheets.headers import fold
from ingestd.sheets.regions import names_a_country, regions_named

NOTES = "notes"
MAX_SENTENCE = 2000  # characters of a sentence read for rules (a long list of names fits)
NOTES_DEFAULT = "notes default"


@dataclass(frozen=True)
class IncrementRule:
    """Billing increments for destinations whose name matches (docs/reading.md#cells and
    docs/reading.md#decks-nobody-taught-us)."""

    # vendor rules: a regular expression searched in the row's destination text (notes rules
    # match by ``names``, ``normalize._names_row``)
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


# durations and pulses a vendor bills in: a pair of other numbers is a date, a page, a fraction
PLAUSIBLE_SECONDS = frozenset(
    {1, 5, 6, 10, 12, 15, 18, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600}
)

# The language of billing in English, Spanish, Portuguese, French and German (folded forms):
# stems of the words that say "billed", "increment", "rounding".
_BILLING = (
    r"bill|charg|rated\b|factur|fatur|tarific|tarifac|tarifier|tasacion|tasad|taxation|cobra|"
    r"abgerechnet|abrechnung|verrechn|cadenc|takt|increment|inkrement|pulse|pulso|impulsion|"
    r"palier|interval"
)
_INCREMENT = (
    r"increment|inkrement|pulse\b|pulses|pulso|impulsion|palier|taktung|takt\b|"
    r"tarificacion|tarifacao|tarification|tarifierung|cadencia|cadence|"
    r"(?:billing|charging) (?:interval|unit|step|granularity)|granularit|"
    r"per[ -]?second (?:billing|basis)|per[ -]?minute (?:billing|basis)"
)
_ROUNDING = r"round|redonde|arredond|arrondi|rundung|gerundet|aufgerundet"
_TIME = r"second|\bsecs?\b|segundo|\bseg\b|seconde|sekunde|minut|\bmins?\b|duration|duracion|dauer"
_SPEAKS_OF_INCREMENTS = re.compile(_INCREMENT)
_SPEAKS_OF_BILLING = re.compile(rf"{_BILLING}|{_ROUNDING}")
_SPEAKS_OF_TIME = re.compile(rf"{_TIME}|\d\s*[/+]\s*\d")
_BILLING_WORD = re.compile(rf"^(?:{_BILLING}|{_ROUNDING})")
# a price per minute ("USD per minute", "precios en USD por minuto") is no billing increment
_PRICES = (
    r"usd|eur|gbp|chf|cad|aud|cents?|prices?|rates?|precios?|tarifas?|precos?|preise?|prix|"
    r"tarifs?|costs?"
)
_PRICE_PER_MINUTE = re.compile(
    rf"\b(?:{_PRICES})\b(?:\W+\w+){{0,3}}?\W+(?:per|por|par|pro|a|/)\W*min\w*"
)
_PRICE_WORD = re.compile(rf"^(?:{_PRICES})$")
# words beside which durations are a call's billing ("minimum 30 seconds, then 6")
_DURATION_CONTEXT = re.compile(
    rf"^(?:{_BILLING}|{_ROUNDING}|minim|thereafter|afterwards|luego|despues|depois|ensuite|puis|"
    r"danach|anschliessend)"
)
# a minimum charge or duration, and the words that say what comes after it
_MINIMUM = re.compile(r"\b(?:minimum|minimo|minima|minimal|minimale|mindest\w*|min)\b")
_THEN = re.compile(
    r"\b(?:then|thereafter|afterwards|subsequent\w*|additional|each|every|luego|despues|"
    r"depois|ensuite|puis|danach|anschliessend|jede\w*|cada|chaque|increments?)\b"
)
# "may vary", "to be confirmed", "depending on": the sentence hedges, nothing is read from it
_HEDGE = re.compile(
    r"\b(?:may|might|could|likely|expected|tbc|tbd|to be confirmed|pending|depending|depends?|"
    r"vary|varies|approx\w*|puede|pueden|podra|depende|dependiendo|variar|pode|podem|varia|"
    r"peut|peuvent|depend|dependent|kann|konnen|abhangig|variieren)\b"
)

# "all other destinations", "default", "except as noted": the clause sets every other row
_DEFAULT = re.compile(
    r"\ball (?:the )?(?:other|others|remaining)\b|\ball (?:destinations|countries|routes|calls)\b|"
    r"\bevery(?:thing)? (?:other|else)\b|\brest of (?:the )?world\b|\bdefault\b|"
    r"\bexcept (?:as|where|when|those|otherwise)\b|\bunless (?:otherwise|noted|stated)|"
    r"\b(?:regular|standard|general|normal) (?:billing|increments?|pulse)\b|"
    r"\btod[oa]s l[oa]s (?:dem[a]s |otr[oa]s )?(?:destinos|paises)\b|\b(?:los )?demas destinos\b|"
    r"\bresto del? (?:los )?(?:destinos|mundo|paises)\b|\bpor (?:defecto|omision)\b|"
    r"\btodos os (?:demais |outros )?(?:destinos|paises)\b|\bdemais destinos\b|"
    r"\boutros destinos\b|\brestantes destinos\b|\bpadrao\b|\bresto do mundo\b|"
    r"\btoutes les (?:autres )?destinations\b|\bautres destinations\b|\btous les autres\b|"
    r"\bpar defaut\b|\breste du monde\b|"
    r"\balle (?:anderen|ubrigen|weiteren|sonstigen)\b|\balle (?:ziele|destinationen|lander)\b|"
    r"\bubrigen? (?:ziele|destinationen|lander)\b|\bstandard\w*\b|\brest der welt\b|"
    r"\b(?:el|lo|o) resto\b|\bthe rest\b|\ble reste\b|\bde[nm] rest\b"
)
# "Haiti and Cuba are billed 60/60 and 30/6 respectively": names and increments pair in order
_RESPECTIVELY = re.compile(r"\b(?:respectively|respectivamente|respectivement|jeweils|bzw)\b")
# "Mexico incl. mobile": the qualifier after it widens the name, it is not another name
_INCLUDING = frozenset(
    "incl including inclusive inkl einschliesslich incluido incluidos incluyendo incluindo "
    "inclus compris".split()
)
_EXCEPT = re.compile(r"^(?:except|excepto|salvo|exceto|sauf|excepte|ausser|ausgenommen)$")

# Words that are the language of billing or of sentences, never part of a destination's name
FUNCTION_WORDS = frozenset(
    fold(word)
    for word in """
    the a an of for to in on at by with from into via as per than then thereafter after each
    every all any other others rest remaining following below above noted listed mentioned
    stated specified shown indicated those these this that such same which where who what when
    is are be been being will shall would should may can could must was were has have had do
    does apply applies applied applicable applicability apply: billed billing bill bills charged
    charge charges charging rated rating rate rates price prices pricing increment increments
    incremental incrementally pulse pulses interval intervals unit units step steps basis based
    second seconds sec secs minute minutes min mins initial initially first next subsequent
    subsequently additional following followed thereafter minimum maximum rounding rounded round
    up down note notes nb please important attention remark remarks info information
    destination destinations country countries route routes call calls traffic number numbers
    code codes prefix prefixes dial dialcode dialcodes termination regular standard default
    general generally normal usual except excluding excl exclude including incl include
    otherwise unless etc also only just both either and or nor not no yes effective immediately
    now until from date dates valid validity our your their its we you they it vendor
    usd eur gbp chf cad aud jpy cny rub brl mxn inr
    tarifa tarifas precio precios preco precos prix tarif tarifs preis preise costo costos coste
    custo custos cost costs valor valores fecha vigencia datum data
    increment: billing: cycle cycles duration length time timing ie eg i e g
    per-second per-minute persecond perminute secondly everything else world ROW
    el la los las lo un una unos unas de del para al en por con se sera seran es son esta estan
    facturacion facturado facturada facturados facturadas factura facturan facturara
    facturaran tarificacion tarifacion tarifado tarifados tasacion tasado tasados tasa
    incremento incrementos pulso pulsos intervalo intervalos segundo segundos seg minuto minutos
    inicial iniciales luego despues siguiente siguientes cada adicional adicionales todos todas
    demas destino destinos pais paises resto mundo excepto salvo otros otras y e o u que
    aplica aplican aplicara redondeo redondeado minimo nota notas segun cobro cobrado cobrados
    cobrada llamada llamadas ruta rutas lista indicados indicado defecto omision tambien
    os as do da dos das em no na nos nas com serao sao cadencia faturamento faturacao
    faturado faturados tarifacao cobranca cobrados chamada chamadas demais outros exceto
    aplica-se aplicam arredondamento seguintes depois padrao abaixo acima
    le les l du des d pour a au aux par avec seront est sont facture facturee factures
    facturees facturation tarife tarifee tarifes tarification taxation taxe taxes increment
    increments palier paliers impulsion impulsions seconde secondes initiale puis ensuite
    suivant suivants suivantes chaque toutes tous autres sauf excepte vers appel appels
    s'applique applique appliquent arrondi arrondie et ou reste monde defaut ci-dessous
    ci-dessus
    der die das den dem des fur nach im mit von zu zum zur wird werden ist sind taktung takt
    abgerechnet abrechnung tarifiert tarifierung sekunde sekunden sekundengenau minute minuten
    minutengenau erste ersten danach anschliessend jede jeden alle anderen ubrigen weiteren
    sonstigen ziele ziel lander land destinationen ausser ausgenommen ausnahme gilt gelten
    und oder rundung gerundet aufgerundet anruf anrufe verbindung verbindungen welt folgende
    folgenden unten oben sowie standardtaktung
    """.split()
)
_CONNECTORS = frozenset({"and", "y", "e", "et", "und", "or", "o", "ou", "oder", "u", "&"})
QUALIFIERS = frozenset(
    fold(word)
    for word in """mobile mobiles mobil cellular cell landline landlines fixed fix fixe fijo
    fija fijos fixo fixa movil moviles movel moveis festnetz mobilfunk portable portables
    proper national special premium""".split()
)

_UNIT_SECONDS = {"s": 1, "m": 60}
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
    r"jusqu'au|ate|até)"
    r"\.?\s*(?:n[or]\.?|#)?\s*:?\s*$",
    re.IGNORECASE,
)
_NOT_PULSE_AFTER = re.compile(
    r"^\s*(?:%|cents?|ct|usd|eur|gbp|\$|€|£|hours?|h\b|days?|support|"
    r"service|price|rate|off\b)",
    re.IGNORECASE,
)
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
        read = _read_sentence(sentence)
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
    tokens = _tokens(sentence)
    pulse = next((t.seconds for t in tokens if t.kind == "pulse"), None)
    durations = [s for t in tokens if t.kind in ("duration", "per") for s in t.seconds]
    if pulse is None and 1 <= len(durations) <= 2:
        pulse = (durations[0], durations[-1])
    # a country's name it gives; other words may be no name at all (a sentence in a language
    # ingestd does not read): the person writes the destination
    known = [n for n in _names(sentence, tokens) if regions_named(n)]
    destination = known[0] if known else "<destination>"
    increments = f"{pulse[0]}/{pulse[1]}" if pulse else "<first>/<next>"
    return f'--increments "{destination}={increments}"'


def speaks_of_increments(sentence: str) -> bool:
    """The sentence speaks of billing increments, pulses or rounding of call time, in words
    ingestd knows or, in any language, by a pulse in a pulse's usual shape ("30/6", "60/60")."""
    text = _PRICE_PER_MINUTE.sub(" ", fold(sentence))
    return bool(
        _SPEAKS_OF_INCREMENTS.search(text)
        or (_SPEAKS_OF_BILLING.search(text) and _SPEAKS_OF_TIME.search(text))
        or any(t.kind == "pulse" and _usual_pulse(*t.seconds) for t in _tokens(sentence))
    )


def _usual_pulse(first: int, after: int) -> bool:
    """The shapes pulses come in: the same twice, or then per second or per 6 seconds."""
    return first == after or after in (1, 6)


# --- one sentence --------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # pulse | duration | per | word | number | mark
    text: str
    start: int
    end: int
    seconds: tuple[int, ...] = ()  # pulse: (first, next); duration: (seconds,)


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
class _SentenceReading:
    rules: list[tuple[tuple[str, ...], int, int]] = field(default_factory=list)
    defaults: list[tuple[int, int]] = field(default_factory=list)
    doubtful: bool = False  # not all of it became rules
    spoke: bool = False  # it has increments beside billing words or a country's name


def _read_sentence(sentence: str) -> _SentenceReading:
    reading = _SentenceReading()
    if _HEDGE.search(fold(sentence)):
        reading.doubtful = True
        return reading
    tokens = _tokens(sentence)
    billing = any(t.kind == "word" and _BILLING_WORD.match(fold(t.text)) for t in tokens)
    timed = any(t.kind == "word" and _DURATION_CONTEXT.match(fold(t.text)) for t in tokens)
    tokens = _increments(tokens, billing or timed)
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
    if _RESPECTIVELY.search(fold(sentence)):
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


def _first_only(sentence: str, tokens: list[_Token]) -> bool:
    """A minimum charge or duration alone ("minimum charge 60 seconds", "Mindestdauer 60
    Sekunden") gives the first interval, not the increment after it."""
    folded = fold(sentence)
    increments = [t for t in tokens if t.kind == "increment"]
    return (
        bool(_MINIMUM.search(folded))
        and not _THEN.search(folded)
        and len(increments) == 1
        and not re.search(r"[0-9]\s*[/+:\-]\s*[0-9]", increments[0].text)
    )


def _reads_as_a_pulse(first: int, after: int, country: bool) -> bool:
    """Without billing words, "60/60" beside a name is a pulse; a pair that could be a day and
    a month ("15/10", "01/15") is one only beside a country's name and in a pulse's usual shape
    (the same twice, or then per second or per 6 seconds: "1/1", "30/6", "60/1")."""
    if not (first <= 31 and after <= 31 and (first <= 12 or after <= 12)):
        return True
    return country and _usual_pulse(first, after)


def _labelled(tokens: list[_Token]) -> bool:
    """The sentence is a notice label and its value, "Billing increment: 60/60", "Taktung:
    1/1": the deck's increments, as "Currency: USD" is the deck's currency."""
    words = [t for t in tokens if t.kind == "word"]
    kinds = [t.kind if t.kind != "mark" else t.text for t in tokens]
    return (
        kinds[-3:] == ["word", ":", "increment"]
        and all(k == "word" for k in kinds[:-2])
        and all(fold(w.text) in FUNCTION_WORDS for w in words)
        and any(_BILLING_WORD.match(fold(w.text)) for w in words)
    )


def _alternatives(tokens: list[_Token]) -> bool:
    """Two increments offered as alternatives ("30/6 or 60/60"): neither is the rule."""
    at = [i for i, t in enumerate(tokens) if t.kind in ("increment", "unclear")]
    return any(
        [fold(t.text) for t in tokens[a + 1 : b]] in (["or"], ["o"], ["ou"], ["oder"], ["u"])
        for a, b in pairwise(at)
    )


def _respectively(sentence: str, tokens: list[_Token]) -> list[tuple[tuple[str, ...], int, int]]:
    """One rule per name, in the order of the increments; none when the counts differ."""
    increments = [t for t in tokens if t.kind in ("increment", "unclear")]
    names = _names(sentence, tokens)
    if len(names) != len(increments) or any(t.kind == "unclear" for t in increments):
        return []
    return [((n,), *t.seconds) for n, t in zip(names, increments, strict=True)]


def _tokens(sentence: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(sentence):
        kind = match.lastgroup
        if match.group("pulse"):
            kind = "pulse"
        elif match.group("duration"):
            kind = "duration"
        elif match.group("per"):
            kind = "per"
        token = _Token(kind, match.group(0), match.start(), match.end())
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


def _increments(tokens: list[_Token], timed: bool) -> list[_Token]:
    """Pulses, and durations grouped into one increment ("initial 30 seconds then 6 second
    increments" → 30/6) when the sentence speaks of billing (``timed``); "per minute" after a
    currency or a price is a price ("USD per minute")."""
    out: list[_Token] = []
    group: list[_Token] = []

    def close() -> None:
        if not group:
            return
        seconds = [s for t in group for s in t.seconds]
        if len(seconds) <= 2:
            first, after = seconds[0], seconds[-1]
            out.append(_Token("increment", "", group[0].start, group[-1].end, (first, after)))
        else:
            out.append(_Token("unclear", "", group[0].start, group[-1].end))
        group.clear()

    for index, token in enumerate(tokens):
        if token.kind == "pulse":
            close()
            out.append(_Token("increment", token.text, token.start, token.end, token.seconds))
        elif token.kind in ("duration", "per") and timed:
            if token.kind == "per" and not group and _after_a_price(tokens, index):
                out.append(_Token("number", token.text, token.start, token.end))
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


def _between_durations(token: _Token) -> bool:
    """A token that may stand between the durations of one increment ("30 seconds, then 6")."""
    if token.kind == "mark":
        return token.text in ",;/"
    return token.kind == "word" and fold(token.text) in FUNCTION_WORDS


def _restates_a_pulse(tokens: list[_Token], index: int) -> bool:
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


def _after_a_price(tokens: list[_Token], index: int) -> bool:
    """A currency or a price among the three words before ``index`` (no mark between): "USD
    per minute" is a price, not an increment."""
    for token in reversed(tokens[max(0, index - 3) : index]):
        if token.kind == "mark":
            break
        if token.kind == "word" and _PRICE_WORD.match(fold(token.text)):
            return True
    return False


def _parts(sentence: str, tokens: list[_Token]) -> list[_Part]:
    """The sentence cut at commas and semicolons (and between two increments of one stretch),
    each part's names on either side of its increment."""
    stretches: list[list[_Token]] = [[]]
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
        elif token.kind == "word" and _EXCEPT.match(fold(token.text)) and depth == 0:
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


def _inside_a_name(sentence: str, tokens: list[_Token], comma: int) -> bool:
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


def _part(sentence: str, tokens: list[_Token]) -> _Part:
    """One stretch of a sentence: its increment, whether it is a default clause, its names."""
    part = _Part()
    increment = next((t for t in tokens if t.kind in ("increment", "unclear")), None)
    if increment is not None and increment.kind == "unclear":
        part.increment = (0, 0)  # more durations than one increment has: ``_claim`` gives up
    elif increment is not None:
        part.increment = increment.seconds  # type: ignore[assignment]
    text = fold(" ".join(t.text for t in tokens if t.kind in ("word", "per")))
    part.default = bool(_DEFAULT.search(text)) or any(
        t.kind == "word" and t.text == "ROW" for t in tokens
    )
    part.excepted = bool(tokens) and bool(_EXCEPT.match(fold(tokens[0].text)))
    cut = tokens.index(increment) if increment is not None else len(tokens)
    # "1/1 for all destinations except Mexico": the names after "except" are not the default's
    part.before = _names(sentence, tokens[:cut], part.default)
    part.after = _names(sentence, tokens[cut + 1 :], part.default)
    part.opens = increment is not None and any(
        t.kind == "mark" and t.text == ":" for t in tokens[cut + 1 :]
    )
    if increment is None:
        part.after, part.before = part.before, []
    return part


def _names(sentence: str, tokens: list[_Token], stop_at_except: bool = False) -> list[str]:
    """The destination names among ``tokens``: runs of words that are not function words,
    split at marks and connectors ("and", "y", "und", "&"…) unless the words around a connector
    are one country's name ("Trinidad and Tobago"); a parenthesis adds its qualifier ("Mexico
    (Mobile)") or nothing ("Mexico (all codes)").  In a sentence written in capitals and small
    letters a name starts with a capital or is a country's ("vers le Mexique", not "fait")."""
    runs: list[list[int]] = []  # [start, end] of each run of name words in the sentence
    joinable: list[bool] = []  # per run: only function words or a connector since the last
    qualifiers: dict[int, list[str]] = {}  # run → qualifiers in parentheses after it
    current: list[_Token] = []
    inner: list[_Token] = []
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
                listed = _names(sentence, inner, stop_at_except)
                if any(names_a_country(n) for n in listed):
                    in_parentheses.extend(listed)
            plain = False
        elif depth:
            inner.append(token)
        elif stop_at_except and token.kind == "word" and _EXCEPT.match(folded):
            break
        elif token.kind == "word" and folded not in FUNCTION_WORDS and token.text != "ROW":
            if not current and at and fold(tokens[at - 1].text) in _INCLUDING:
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
