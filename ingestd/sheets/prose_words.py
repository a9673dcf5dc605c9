"""The words of sentences about billing increments (docs/reading.md#increments-in-prose), in
English, Spanish, Portuguese, French and German, folded (``headers.fold``): the language of
billing, of prices per minute, of minimums, defaults, hedges and exceptions; the function words
that are never part of a destination's name, and the qualifiers that widen one ("Mexico
Mobile")."""

from __future__ import annotations

import re

from ingestd.sheets.headers import fold

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
SPEAKS_OF_INCREMENTS = re.compile(_INCREMENT)
SPEAKS_OF_BILLING = re.compile(rf"{_BILLING}|{_ROUNDING}")
SPEAKS_OF_TIME = re.compile(rf"{_TIME}|\d\s*[/+]\s*\d")
BILLING_WORD = re.compile(rf"^(?:{_BILLING}|{_ROUNDING})")
# a price per minute ("USD per minute", "precios en USD por minuto") is no billing increment
_PRICES = (
    r"usd|eur|gbp|chf|cad|aud|cents?|prices?|rates?|precios?|tarifas?|precos?|preise?|prix|"
    r"tarifs?|costs?"
)
PRICE_PER_MINUTE = re.compile(
    rf"\b(?:{_PRICES})\b(?:\W+\w+){{0,3}}?\W+(?:per|por|par|pro|a|/)\W*min\w*"
)
PRICE_WORD = re.compile(rf"^(?:{_PRICES})$")
# words beside which durations are a call's billing ("minimum 30 seconds, then 6")
DURATION_CONTEXT = re.compile(
    rf"^(?:{_BILLING}|{_ROUNDING}|minim|thereafter|afterwards|luego|despues|depois|ensuite|puis|"
    r"danach|anschliessend)"
)
# a minimum charge or duration, and the words that say what comes after it
MINIMUM = re.compile(r"\b(?:minimum|minimo|minima|minimal|minimale|mindest\w*|min)\b")
THEN = re.compile(
    r"\b(?:then|thereafter|afterwards|subsequent\w*|additional|each|every|luego|despues|"
    r"depois|ensuite|puis|danach|anschliessend|jede\w*|cada|chaque|increments?)\b"
)
# "may vary", "to be confirmed", "depending on": the sentence hedges, nothing is read from it
HEDGE = re.compile(
    r"\b(?:may|might|could|likely|expected|tbc|tbd|to be confirmed|pending|depending|depends?|"
    r"vary|varies|approx\w*|puede|pueden|podra|depende|dependiendo|variar|pode|podem|varia|"
    r"peut|peuvent|depend|dependent|kann|konnen|abhangig|variieren)\b"
)

# "all other destinations", "default", "except as noted": the clause sets every other row
DEFAULT_CLAUSE = re.compile(
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
RESPECTIVELY = re.compile(r"\b(?:respectively|respectivamente|respectivement|jeweils|bzw)\b")
# "Mexico incl. mobile": the qualifier after it widens the name, it is not another name
INCLUDING = frozenset(
    "incl including inclusive inkl einschliesslich incluido incluidos incluyendo incluindo "
    "inclus compris".split()
)
EXCEPT = re.compile(r"^(?:except|excepto|salvo|exceto|sauf|excepte|ausser|ausgenommen)$")

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
QUALIFIERS = frozenset(
    fold(word)
    for word in """mobile mobiles mobil cellular cell landline landlines fixed fix fixe fijo
    fija fijos fixo fixa movil moviles movel moveis festnetz mobilfunk portable portables
    proper national special premium""".split()
)
