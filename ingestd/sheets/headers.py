"""The header vocabulary (SPEC §3.2): which header spellings mean which logical field.

This module is data.  To teach ingestd a new spelling, add it to the field's list in
``VOCABULARY`` (English) or ``LANGUAGES`` (the other languages vendors write, merged into
``VOCABULARY``); spellings are compared after ``header_key`` (case, accents, spaces,
punctuation and ``Price1``/``Price 1`` do not matter), and when a header does not match as
written it is tried again without currency and unit words (``Rates (USD / Min)`` → ``rates``,
``Price($)`` → ``price``) and then with plurals made singular.  A pattern (``re.compile``) is
searched in the same normalised key.

``table.find_tables`` decides what the matches mean together (duplicates, current vs new rate,
a lone area code, kind-dependent fields); nothing here looks at cells.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache

# Logical fields of a table (the keys of ``FoundTable.columns``), with their spellings.
# A spelling maps to one field only; ``test_vocabulary_is_unambiguous`` checks it.
VOCABULARY: dict[str, tuple[str | re.Pattern[str], ...]] = {
    # --- keys --------------------------------------------------------------------------------
    "code": (
        "prefix", "prefixes", "code", "codes", "dial code", "dial codes", "dialcode",
        "dialcodes", "dialing code", "dialing codes", "dialling code", "dialling codes",
        "city code", "city codes", "complete code", "complete codes", "full code",
        "prefix e164", "e164 prefix", "e164", "e164 code", "destination code",
        "destination codes", "breakout code", "breakout codes", "area prefix", "codes e164",
        "prefix code", "route code",
    ),
    "country_code": ("country code", "country codes", "cc", "country prefix", "country dial code"),
    "area_code": ("area code", "area codes", "ndc", "national code", "area prefix code"),
    "npanxx": ("npanxx", "npa nxx", "npa nxx code", "npanxx code", "npa nxx e164"),
    "npa": ("npa", "npa code"),
    "nxx": ("nxx", "nxx code"),
    "mcc": ("mcc",),
    "mnc": ("mnc",),
    "mccmnc": (
        "mccmnc", "mcc mnc", "mccmnc e212", "mcc mnc e212", "e212", "hni", "mcc mnc code",
        "mccmnc code", "plmn", "imsi prefix",
    ),
    "number": (
        "number", "numbers", "did", "dids", "number e164", "e164 number", "phone number",
        "phone numbers", "did number", "did numbers", "telephone number", "msisdn",
    ),
    # --- names -------------------------------------------------------------------------------
    "destination": (
        "destination", "destinations", "description", "destination name", "dest", "zone",
        "zone name", "breakout", "breakout name", "route name", "name",
    ),
    "country": ("country", "country name", "countries"),
    "network": (
        "network", "operator", "network name", "operator name", "carrier", "mobile network",
    ),
    # --- prices ------------------------------------------------------------------------------
    "price": (
        "rate", "rates", "price", "prices", "price 1", "rate 1", "cost", "costs", "tariff",
        "sell rate", "selling rate", "sale rate", "rate per minute", "per minute rate",
        "price per minute", "minute rate", "sms price", "sms rate", "voice rate", "first price",
        "peak rate", "peak price", "standard rate",
    ),
    # a "New Rate" column beats a plain "Rate" column (SPEC: current/new rate, new wins)
    "new_price": ("new rate", "new price", "new rates", "new cost", "proposed rate"),
    "price_n": ("price n", "rate n", "next price", "subsequent price", "subsequent rate"),
    "price_current": (
        "current rate", "current price", "old rate", "old price", "previous rate",
        "previous price", "existing rate", "current rates", "old rates",
    ),
    # US domestic decks: one price column per jurisdiction, in sheet order
    "price_jurisdiction": (
        re.compile(r"^(inter ?state|intra ?state|indeterminate|indeterminate jurisdiction)"
                   r"( rate| price| cost)?$"),
        re.compile(r"^(rate|price|cost) (inter ?state|intra ?state|indeterminate)$"),
    ),
    # --- dates -------------------------------------------------------------------------------
    "effective_from": (
        "valid from", "effective date", "effective", "eff date", "effective from", "start date",
        "effective from date", "valid from date", "validity date", "date", "from", "begin date",
        "valid since", "effective time", "activation date", "eff from",
    ),
    "effective_to": (
        "end date", "valid to", "valid until", "valid till", "expiry", "expiry date",
        "expiration date", "expires", "effective to", "end", "to date", "valid to date",
    ),
    "timezone": ("timezone", "time zone", "tz"),
    # --- billing increments ------------------------------------------------------------------
    "interval1": (
        "interval 1", "initial increment", "min duration", "minimum duration", "first interval",
        "initial interval", "first increment", "initial billing increment", "initial period",
        "minimum", "min",
    ),
    # "Increment" columns holding "60/1" are read as ``pulse`` (table.find_tables looks)
    "interval_n": (
        "interval n", "increment", "subsequent increment", "next interval", "subsequent interval",
        "additional increment", "next increment", "subsequent period", "additional interval",
    ),
    "pulse": (
        "pulse", "billing", "increments", "billing increment", "billing increments",
        "billing interval", "billing cycle", "charging interval", "charging", "billing unit",
        "rounding", "increment s", "pulse s",
    ),
    # --- change markers and flags --------------------------------------------------------------
    "status": (
        "change", "rate change", "status", "change indicator", "rate status", "price change",
        "change type", "rate change indicator", "changes", "action", "rate action",
    ),
    "forbidden": ("forbidden", "blocked", "barred", "block"),
    "discontinued": ("discontinued", "withdrawn", "deleted", "closed"),
    "currency": ("currency", "curr", "ccy", "currency code"),
    "code_change": (
        "dial code change indicator", "code change", "area code change", "code change indicator",
        "dial code change", "code changes", "dial code changes", "number plan change",
        "numbering plan change", "code status", "code action",
    ),
    # --- DID numbers -------------------------------------------------------------------------
    "inbound_voice_price": (
        "inbound voice price", "inbound voice rate", "inbound price", "inbound rate",
        "inbound per minute",
    ),
    "inbound_sms_price": ("inbound sms price", "inbound sms rate", "inbound sms"),
    # a DID's single billing interval; in voice and SMS decks the same header is a ``pulse``
    "interval": ("interval",),
    "mrc": (
        "mrc", "monthly", "monthly fee", "monthly cost", "monthly price", "monthly rate",
        "monthly recurring charge", "monthly rental", "monthly charge", "rental",
    ),
    "nrc": (
        "nrc", "setup", "setup fee", "setup cost", "set up", "set up fee", "one time fee",
        "non recurring charge", "activation fee", "installation fee", "setup price",
    ),
    "docs_required": (
        "documents verification required", "docs required", "documents required",
        "documentation required", "document required", "kyc", "kyc required",
        "registration required", "verification required",
    ),
    # a DID's "Status"; the header "Status" itself is ``status`` until the kind is known
    "did_status": ("did status", "number status", "availability"),
    "did_type": ("type", "number type", "did type", "line type"),
    "voice": ("voice", "voice enabled"),
    "sms": ("sms", "sms enabled"),
    "fax": ("fax", "fax enabled"),
    "video": ("video", "video enabled"),
    "capacity": ("channels", "capacity", "max channels", "concurrent channels", "channel"),
    "notes": ("notes", "note", "remarks", "remark", "comments", "comment"),
    "local_requirements": (
        "local requirements", "requirements", "address requirements", "local requirement",
    ),
}  # fmt: skip

# The same fields in the other languages vendors write (README "Reading decks"), merged into
# ``VOCABULARY``.  Written with their accents; ``header_key`` folds them, so ``PRÉFIXE``,
# ``Prefixe`` and ``préfixe`` are one spelling.
LANGUAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "code": ("prefijo", "prefijos", "código", "códigos", "código de marcación"),
        "country_code": ("código de país", "código país"),
        "area_code": ("código de área", "código de zona"),
        "destination": ("destino", "destinos", "descripción", "nombre destino"),
        "country": ("país", "países"),
        "network": ("operador", "red"),
        "price": ("tarifa", "tarifas", "precio", "precios", "costo", "coste", "precio por minuto",
                  "tarifa por minuto"),
        "new_price": ("nueva tarifa", "nuevo precio"),
        "price_current": ("tarifa actual", "precio actual", "tarifa anterior", "precio anterior"),
        "effective_from": ("fecha de vigencia", "fecha efectiva", "vigencia", "fecha",
                           "fecha de inicio", "vigente desde", "válido desde",
                           "fecha de entrada en vigor"),
        "effective_to": ("fecha de fin", "fecha fin", "válido hasta", "vigente hasta",
                         "fecha de vencimiento"),
        "interval1": ("duración mínima", "incremento inicial", "mínimo"),
        "interval_n": ("incremento", "incremento siguiente", "incremento adicional"),
        "pulse": ("tasación", "facturación", "incrementos", "pulso", "intervalo de facturación"),
        "status": ("estado", "cambio", "estatus"),
        "currency": ("moneda", "divisa"),
        "notes": ("notas", "observaciones", "comentarios"),
    },
    "pt": {
        "code": ("prefixo", "prefixos", "código", "códigos"),
        "country_code": ("código do país", "código país"),
        "area_code": ("código de área", "ddd"),
        "destination": ("destino", "destinos", "descrição"),
        "country": ("país", "países"),
        "network": ("operadora",),
        "price": ("preço", "preços", "tarifa", "valor", "valor por minuto", "preço por minuto",
                  "custo"),
        "new_price": ("novo preço", "nova tarifa"),
        "price_current": ("preço atual", "tarifa atual", "preço anterior"),
        "effective_from": ("início da vigência", "data de vigência", "vigência", "data de início",
                           "data efetiva", "válido a partir de", "vigente a partir de"),
        "effective_to": ("fim da vigência", "data de término", "data final", "válido até"),
        "interval1": ("tempo mínimo", "duração mínima", "incremento inicial"),
        "interval_n": ("incremento seguinte", "incremento adicional"),
        "pulse": ("cadência", "tarifação", "faturamento", "faturação"),
        "status": ("situação", "alteração", "mudança"),
        "currency": ("moeda",),
        "notes": ("observações", "observação"),
    },
    "fr": {
        "code": ("préfixe", "préfixes", "indicatif", "indicatifs", "code destination"),
        "country_code": ("indicatif pays", "code pays"),
        "area_code": ("indicatif régional", "code zone"),
        "destination": ("libellé", "désignation", "nom destination"),
        "country": ("pays",),
        "network": ("opérateur", "réseau"),
        "price": ("tarif", "tarifs", "prix", "tarif min", "tarif par minute", "prix par minute",
                  "prix min", "coût"),
        "new_price": ("nouveau tarif", "nouveau prix"),
        "price_current": ("tarif actuel", "ancien tarif", "prix actuel", "ancien prix"),
        "effective_from": ("date d'effet", "date d'application", "date de début",
                           "date d'entrée en vigueur", "valable à partir du", "en vigueur le"),
        "effective_to": ("date de fin", "valable jusqu'au", "date d'expiration"),
        "interval1": ("durée minimale", "palier initial", "première période"),
        "interval_n": ("palier", "incrément", "période suivante"),
        "pulse": ("facturation", "paliers", "incréments", "taxation", "pas de facturation"),
        "status": ("statut", "modification", "évolution", "variation"),
        "currency": ("devise", "monnaie"),
        "notes": ("remarques", "commentaires"),
    },
    "de": {
        "code": ("vorwahl", "vorwahlen", "präfix", "rufnummernbereich"),
        "country_code": ("ländervorwahl", "landesvorwahl", "länderkennzahl"),
        "area_code": ("ortsvorwahl", "ortsnetzkennzahl"),
        "destination": ("ziel", "zielnetz", "bezeichnung", "beschreibung", "zielname"),
        "country": ("land", "länder"),
        "network": ("netz", "netzbetreiber", "betreiber"),
        "price": ("preis", "preise", "tarif min", "preis pro minute", "minutenpreis", "kosten",
                  "entgelt"),
        "new_price": ("neuer preis", "neuer tarif"),
        "price_current": ("aktueller preis", "alter preis", "bisheriger preis"),
        "effective_from": ("gültig ab", "gültig von", "datum", "startdatum", "gültigkeitsdatum",
                           "wirksam ab", "inkrafttreten"),
        "effective_to": ("gültig bis", "enddatum", "ablaufdatum"),
        "interval1": ("mindestdauer", "erster takt", "mindesttakt"),
        "interval_n": ("folgetakt", "nächster takt"),
        "pulse": ("taktung", "takt", "abrechnungstakt", "abrechnung"),
        "status": ("änderung", "änderungen", "zustand"),
        "currency": ("währung",),
        "notes": ("bemerkung", "bemerkungen", "hinweis", "hinweise", "kommentar"),
    },
    "it": {
        "code": ("prefisso", "prefissi", "codice", "codici"),
        "country_code": ("prefisso internazionale", "codice paese"),
        "area_code": ("prefisso area",),
        "destination": ("destinazione", "destinazioni", "descrizione"),
        "country": ("paese", "nazione", "paesi"),
        "network": ("operatore", "rete"),
        "price": ("prezzo", "prezzi", "tariffa", "tariffe", "costo al minuto", "prezzo al minuto",
                  "costo"),
        "new_price": ("nuovo prezzo", "nuova tariffa"),
        "price_current": ("prezzo attuale", "tariffa attuale", "prezzo precedente"),
        "effective_from": ("data di decorrenza", "decorrenza", "data inizio", "valido dal",
                           "data di validità", "data effettiva", "in vigore dal"),
        "effective_to": ("data fine", "valido fino al", "data di scadenza", "scadenza"),
        "interval1": ("durata minima", "scatto iniziale"),
        "interval_n": ("scatto successivo", "incremento successivo"),
        "pulse": ("tariffazione", "fatturazione", "scatti", "scatto"),
        "status": ("stato", "variazione", "modifica"),
        "currency": ("valuta",),
        "notes": ("note", "commenti"),
    },
    "ru": {
        "code": ("код", "коды", "префикс", "префиксы", "код направления", "коды направления"),
        "country_code": ("код страны",),
        "area_code": ("код города", "код зоны"),
        "destination": ("направление", "направления", "описание", "название направления"),
        "country": ("страна", "страны"),
        "network": ("оператор", "сеть"),
        "price": ("цена", "цены", "тариф", "тарифы", "стоимость", "цена за минуту",
                  "стоимость минуты", "ставка"),
        "new_price": ("новая цена", "новый тариф"),
        "price_current": ("текущая цена", "старая цена", "текущий тариф"),
        "effective_from": ("дата начала", "дата начала действия", "действует с",
                           "дата вступления в силу", "дата", "с даты"),
        "effective_to": ("дата окончания", "действует до", "дата окончания действия"),
        "interval1": ("минимальная длительность", "первый интервал"),
        "interval_n": ("шаг тарификации", "следующий интервал"),
        "pulse": ("тарификация", "интервал тарификации"),
        "status": ("статус", "изменение", "изменения"),
        "currency": ("валюта",),
        "notes": ("примечание", "примечания", "комментарий"),
    },
    "tr": {
        "code": ("kod", "kodu", "kodlar", "ön ek", "önek", "prefiks"),
        "country_code": ("ülke kodu",),
        "area_code": ("alan kodu",),
        "destination": ("yön", "hedef", "açıklama", "destinasyon"),
        "country": ("ülke", "ülkeler"),
        "network": ("operatör", "şebeke"),
        "price": ("fiyat", "fiyatlar", "tarife", "ücret", "dakika ücreti", "birim fiyat"),
        "new_price": ("yeni fiyat", "yeni tarife"),
        "price_current": ("mevcut fiyat", "eski fiyat"),
        "effective_from": ("geçerlilik tarihi", "başlangıç tarihi", "yürürlük tarihi",
                           "tarih", "geçerli tarih"),
        "effective_to": ("bitiş tarihi",),
        "interval1": ("minimum süre", "ilk artış"),
        "interval_n": ("sonraki artış",),
        "pulse": ("ücretlendirme", "faturalama", "artış aralığı"),
        "status": ("durum", "değişiklik", "değişim"),
        "currency": ("para birimi", "döviz"),
        "notes": ("notlar", "açıklamalar"),
    },
    "ar": {
        "code": ("الرمز", "رمز", "البادئة", "الكود", "رمز الوجهة"),
        "country_code": ("رمز الدولة", "مفتاح الدولة"),
        "area_code": ("رمز المنطقة",),
        "destination": ("الوجهة", "الوصف", "الاتجاه"),
        "country": ("الدولة", "البلد"),
        "network": ("المشغل", "الشبكة"),
        "price": ("السعر", "التعرفة", "التعريفة", "سعر الدقيقة", "الأسعار"),
        "new_price": ("السعر الجديد",),
        "price_current": ("السعر الحالي",),
        "effective_from": ("تاريخ السريان", "تاريخ البدء", "تاريخ النفاذ", "التاريخ"),
        "effective_to": ("تاريخ الانتهاء",),
        "pulse": ("وحدة الفوترة", "الفوترة", "وحدة المحاسبة"),
        "status": ("الحالة", "التغيير"),
        "currency": ("العملة",),
        "notes": ("ملاحظات",),
    },
    "zh": {
        "code": ("前缀", "号码前缀", "代码", "区号", "号段", "国家区号"),
        "country_code": ("国家代码",),
        "destination": ("目的地", "地区", "描述", "线路"),
        "country": ("国家", "国家地区"),
        "network": ("运营商", "网络"),
        "price": ("费率", "价格", "单价", "资费", "每分钟费率", "费率 分钟"),
        "new_price": ("新费率", "新价格"),
        "price_current": ("原费率", "当前费率", "旧费率"),
        "effective_from": ("生效日期", "生效时间", "开始日期", "日期"),
        "effective_to": ("失效日期", "截止日期", "结束日期"),
        "interval1": ("首次计费", "最小计费时长"),
        "interval_n": ("后续计费",),
        "pulse": ("计费方式", "计费单位", "计费周期", "计费间隔"),
        "status": ("状态", "变化", "变更"),
        "currency": ("币种", "货币"),
        "notes": ("备注", "说明"),
    },
}  # fmt: skip
for _spellings in LANGUAGES.values():
    for _field, _words in _spellings.items():
        VOCABULARY[_field] = (*VOCABULARY[_field], *_words)

# Internal vocabulary fields that table.find_tables resolves into public ones.
INTERNAL_FIELDS = ("new_price",)
FIELDS: tuple[str, ...] = tuple(f for f in VOCABULARY if f not in INTERNAL_FIELDS)

# Fields that may take several sheet columns, in sheet order.
MULTI_COLUMN_FIELDS = ("price_jurisdiction",)

# What a key column can be: any of these alone, or both parts of a pair.
CODE_FIELDS = ("code", "npanxx", "mccmnc", "number", "country_code", "area_code")
CODE_PAIRS = (("country_code", "area_code"), ("npa", "nxx"), ("mcc", "mnc"))
PRICE_FIELDS = (
    "price", "new_price", "price_n", "price_current", "price_jurisdiction",
    "inbound_voice_price", "inbound_sms_price", "mrc", "nrc",
)  # fmt: skip
SMS_FIELDS = ("mcc", "mnc", "mccmnc")
# Columns only a DID list has (with ``number``: a DID table)
DID_FIELDS = (
    "inbound_voice_price", "inbound_sms_price", "interval", "mrc", "nrc", "docs_required",
    "did_status", "did_type", "voice", "sms", "fax", "video", "capacity", "local_requirements",
)  # fmt: skip
# Columns that prove a voice table (no SMS or DID deck has them)
VOICE_FIELDS = (
    "npanxx", "npa", "nxx", "country_code", "area_code", "price_n", "price_jurisdiction",
    "interval1", "interval_n", "pulse",
)  # fmt: skip

# ISO 4217 codes common in wholesale decks (a header or notice naming one states the currency).
CURRENCY_CODES = frozenset(
    """
    USD EUR GBP CHF JPY CNY INR AUD CAD NZD SEK NOK DKK PLN CZK HUF RON BGN RUB TRY ZAR BRL MXN
    AED SAR HKD SGD ILS KES NGN PKR BDT IDR MYR PHP THB KRW XOF XAF EGP UAH
    """.split()
)
CURRENCY_SIGNS = (
    ("us$", "USD"), ("u$s", "USD"), ("€", "EUR"), ("£", "GBP"), ("$", "USD"), ("美元", "USD"),
    ("欧元", "EUR"),
)  # fmt: skip
CURRENCY_WORDS = {"dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR"}

# Words of a header that name a currency or a unit, not the field ("Rates (USD / Min)").
UNIT_WORDS = frozenset(code.lower() for code in CURRENCY_CODES) | frozenset(
    """
    rmb us dollar dollars euro euros cent cents per min mins minute minutes sec secs second
    seconds in
    por minuto minutos pro par mn руб мин минуту за 美元 元 分钟 dakika dk
    """.split()
)

# Notice-block labels (the text left of a value, or before ":" in one cell) → fact.
NOTICE_LABELS: dict[str, tuple[str, ...]] = {
    "currency": (
        "currency", "currency code", "ccy", "billing currency", "invoice currency",
        # es pt fr de it ru tr ar zh
        "moneda", "divisa", "moeda", "devise", "monnaie", "währung", "valuta", "валюта",
        "para birimi", "döviz", "العملة", "币种", "货币", "结算币种",
    ),
    "issue_date": (
        "date issued", "issue date", "date", "issued", "issued on", "date of issue",
        "notification date", "notice date", "issuing date", "publication date", "release date",
        # es pt fr de it ru tr ar zh
        "fecha", "fecha de emisión", "fecha de publicación", "data de emissão", "data",
        "date d'émission", "date de publication", "datum", "ausgabedatum", "erstellt am",
        "data di emissione", "дата", "дата выпуска", "дата публикации", "tarih", "yayın tarihi",
        "تاريخ الإصدار", "التاريخ", "日期", "发布日期",
    ),
    "increase_date": (
        "increase validity date", "increase date", "increases valid from",
        "increase effective date", "increases effective", "validity date for increases",
    ),
    "decrease_date": (
        "decrease validity date", "decrease date", "decreases valid from",
        "decrease effective date", "decreases effective", "validity date for decreases",
    ),
    "product": ("product name", "product", "route", "service", "route name", "service name"),
}  # fmt: skip


def fold(text: str) -> str:
    """``text`` without case or accents, for comparing words as vendors write them.

    Compatibility forms are unified and combining marks dropped (``PRÉFIXE`` → ``prefixe``,
    ``Gültig`` → ``gultig``, full-width ``（`` → ``(``; Cyrillic ``й`` → ``и``, on both sides of
    a comparison alike), then case folded (``ß`` → ``ss``); Turkish dotless ``ı`` is ``i``.
    Letters of other scripts (Cyrillic, Arabic, CJK) are kept.
    """
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


@cache
def _indexes() -> tuple[dict[str, str], dict[str, str], list[tuple[re.Pattern[str], str]]]:
    exact: dict[str, str] = {}
    singular: dict[str, str | None] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for name, spellings in VOCABULARY.items():
        for spelling in spellings:
            if isinstance(spelling, re.Pattern):
                patterns.append((spelling, name))
                continue
            key = header_key(spelling)
            exact.setdefault(key, name)
            one = _singular(key)
            # a singular form two fields share ("increment(s)") matches neither
            singular[one] = name if singular.get(one, name) == name else None
    return exact, {k: v for k, v in singular.items() if v}, patterns


def match_header(text: str | None) -> str | None:
    """The logical field a header cell names, or None."""
    if text is None:
        return None
    exact, singular, patterns = _indexes()
    key = header_key(text)
    if not key:
        return None
    for candidate in (key, _without_units(key)):
        if not candidate:
            continue
        if candidate in exact:
            return exact[candidate]
        for pattern, name in patterns:
            if pattern.search(candidate):
                return name
    one = _singular(_without_units(key))
    return singular.get(one)


def notice_label(text: str) -> str | None:
    """The notice fact a label names (``Date Issued:`` → ``issue_date``), or None."""
    key = header_key(text)
    for fact, labels in NOTICE_LABELS.items():
        if key in (header_key(label) for label in labels):
            return fact
    return None


def currency_in(text: str | None) -> str | None:
    """The ISO currency a text names: ``USD per minute`` → USD, ``US$`` → USD, ``€`` → EUR."""
    if not text:
        return None
    for word in re.findall(r"[A-Za-z]{3,}", text):
        if word.upper() in CURRENCY_CODES and (word.isupper() or len(text.split()) <= 3):
            return word.upper()
        if word.lower() in CURRENCY_WORDS:
            return CURRENCY_WORDS[word.lower()]
    lowered = text.lower()
    for sign, code in CURRENCY_SIGNS:
        if sign in lowered:
            return code
    return None


def ambiguous_spellings(vocabulary: dict[str, Iterable] = VOCABULARY) -> dict[str, set[str]]:
    """Normalised spellings listed under more than one field (should be none)."""
    fields: dict[str, set[str]] = {}
    for name, spellings in vocabulary.items():
        for spelling in spellings:
            if isinstance(spelling, str):
                fields.setdefault(header_key(spelling), set()).add(name)
    return {key: names for key, names in fields.items() if len(names) > 1}
