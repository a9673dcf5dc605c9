"""The header vocabulary (docs/reading.md#finding-the-table): which header spellings mean which
logical field.

This module is data.  To teach ingestd a new spelling, add it to the field's list in
``VOCABULARY`` (English) or ``LANGUAGES`` (the other languages vendors write, merged into
``VOCABULARY``); spellings are compared after ``header_key`` (case, accents, spaces,
punctuation and ``Price1``/``Price 1`` do not matter), and when a header does not match as
written it is tried again without currency and unit words (``Rates (USD / Min)`` → ``rates``,
``Price($)`` → ``price``) and then with plurals made singular.  A pattern (``re.compile``) is
searched in the same normalised key.  ``read_header`` says how a header matched: whole
(``exact``), once camelCase and glued words are split and ``ABBREVIATIONS`` written out
(``words``: ``smsPriceEUR``, ``ratepermin``, ``Eff Dt``), or as a known spelling holding the
head word of a longer header (``guess``: ``Voice Termination Rate USD``).  The field ``other``
names columns we know and deliberately do not read (connection charge, grace, off-peak…).

``table.find_tables`` decides what the matches mean together (duplicates, current vs new rate,
a lone area code, kind-dependent fields); nothing here looks at cells.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

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
        "prefix code", "route code", "match prefix", "dial prefix", "destination prefix",
        "dialing prefix", "dialling prefix", "number prefix", "calling code", "cc area",
        "cc area code", "cc ndc",
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
        "destination", "destinations", "description", "destination name", "zone",
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
        "peak rate", "peak price", "standard rate", "rate cost", "per minute cost",
        "cost per minute", "sell price", "selling price", "rate initial", "initial rate",
        "sms cost", "cost per sms", "price per sms", "rate per sms", "mt price", "mt rate",
        "unit price", "termination rate", "price first", "rate first",
    ),
    # a "New Rate" column beats a plain "Rate" column (current and new rate: the new one wins,
    # docs/reading.md#finding-the-table)
    "new_price": ("new rate", "new price", "new rates", "new cost", "proposed rate"),
    "price_n": (
        "price n", "rate n", "next price", "subsequent price", "subsequent rate", "price next",
        "rate next", "additional price",
    ),
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
        "stop date", "effective until", "effective end date",
    ),
    "timezone": ("timezone", "time zone", "tz"),
    # --- billing increments ------------------------------------------------------------------
    "interval1": (
        "interval 1", "initial increment", "min duration", "minimum duration", "first interval",
        "initial interval", "first increment", "initial billing increment", "initial period",
        "minimum", "min", "initial", "initial time", "min time", "minimal time", "minimum time",
        "initial block", "minimum time to charge", "minimal time charge", "initial seconds",
        "first period", "initial duration", "interval first", "rate minimum",
    ),
    # "Increment" columns holding "60/1" are read as ``pulse`` (table.find_tables looks)
    "interval_n": (
        "interval n", "increment", "subsequent increment", "next interval", "subsequent interval",
        "additional increment", "next increment", "subsequent period", "additional interval",
        "billing block", "recurring increment", "subsequent block", "next block",
        "additional block", "next period", "interval next", "rate increment",
    ),
    "pulse": (
        "pulse", "billing", "increments", "billing increment", "billing increments",
        "billing interval", "billing cycle", "charging interval", "charging", "billing unit",
        "rounding", "increment s", "pulse s", "billable unit", "billing step", "charging step",
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
    # a column we know and deliberately do not read: a per-call connection charge, a grace or
    # free period, off-peak and weekend prices, a buying price beside the selling one
    "other": (
        "connection charge", "connection fee", "connection cost", "connection rate",
        "connect charge", "connect fee", "connect cost", "connection charges", "disconnect charge",
        "disconnect fee", "setup charge", "call setup fee", "call setup charge", "grace",
        "grace period", "grace time", "free seconds", "free time", "included seconds",
        "no charge time", "off peak", "off peak rate", "off peak price", "offpeak rate",
        "offpeak price", "off peak price first", "off peak price next", "off peak interval first",
        "off peak interval next", "weekend rate", "weekend price", "night rate", "evening rate",
        "surcharge", "post call surcharge", "call surcharge", "buy rate", "buying rate",
        "buy price", "initial cost", "minimum charge", "rate multiplier", "rate addition",
        "priority", "preference", "strip", "prepend", "tag", "surcharge time",
        "surcharge amount", "rate surcharge", "huntstop", "route category", "hidden", "formula",
        "iso", "iso code", "iso country code", "country iso", "country iso code", "iso2", "iso3",
    ),
}  # fmt: skip

# The same fields in the other languages vendors write (README "Reading decks"), merged into
# ``VOCABULARY``.  Written with their accents; ``header_key`` folds them, so ``PRÉFIXE``,
# ``Prefixe`` and ``préfixe`` are one spelling.
LANGUAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "code": ("prefijo", "prefijos", "código", "códigos", "código de marcación",
                 "código de destino", "prefijo de marcación", "indicativo", "código de marcado"),
        "country_code": ("código de país", "código país"),
        "area_code": ("código de área", "código de zona"),
        "destination": ("destino", "destinos", "descripción", "nombre destino",
                        "nombre del destino", "nombre de destino"),
        "country": ("país", "países"),
        "network": ("operador", "red"),
        "price": ("tarifa", "tarifas", "precio", "precios", "costo", "coste", "precio por minuto",
                  "tarifa por minuto", "costo por minuto", "valor por minuto", "precio minuto",
                  "tarifa minuto", "precio unitario"),
        "new_price": ("nueva tarifa", "nuevo precio"),
        "price_current": ("tarifa actual", "precio actual", "tarifa anterior", "precio anterior"),
        "effective_from": ("fecha de vigencia", "fecha efectiva", "vigencia", "fecha",
                           "fecha de inicio", "vigente desde", "válido desde",
                           "fecha de entrada en vigor", "fecha de activación",
                           "fecha de aplicación", "vigente a partir de",
                           "fecha de entrada en vigencia"),
        "effective_to": ("fecha de fin", "fecha fin", "válido hasta", "vigente hasta",
                         "fecha de vencimiento"),
        "interval1": ("duración mínima", "incremento inicial", "mínimo", "tiempo mínimo",
                      "bloque inicial", "primer intervalo", "intervalo inicial"),
        "interval_n": ("incremento", "incremento siguiente", "incremento adicional",
                       "intervalo siguiente", "bloque siguiente", "intervalo adicional"),
        "pulse": ("tasación", "facturación", "incrementos", "pulso", "intervalo de facturación",
                  "tarificación", "cadencia", "intervalo de tarificación"),
        "status": ("estado", "cambio", "estatus"),
        "currency": ("moneda", "divisa"),
        "notes": ("notas", "observaciones", "comentarios"),
        "other": ("cargo de conexión", "costo de conexión", "tarifa de conexión",
                  "cargo por conexión", "período de gracia", "tiempo de gracia", "horario reducido",
                  "tarifa fin de semana"),
    },
    "pt": {
        "code": ("prefixo", "prefixos", "código", "códigos", "código de destino"),
        "country_code": ("código do país", "código país"),
        "area_code": ("código de área", "ddd"),
        "destination": ("destino", "destinos", "descrição"),
        "country": ("país", "países"),
        "network": ("operadora",),
        "price": ("preço", "preços", "tarifa", "valor", "valor por minuto", "preço por minuto",
                  "custo", "custo por minuto", "tarifa por minuto", "valor minuto",
                  "preço unitário"),
        "new_price": ("novo preço", "nova tarifa"),
        "price_current": ("preço atual", "tarifa atual", "preço anterior"),
        "effective_from": ("início da vigência", "data de vigência", "vigência", "data de início",
                           "data início", "data", "início", "a partir de",
                           "data efetiva", "válido a partir de", "vigente a partir de",
                           "data de ativação", "data de início de vigência", "data de vigor"),
        "effective_to": ("fim da vigência", "data de término", "data final", "válido até"),
        "interval1": ("tempo mínimo", "duração mínima", "incremento inicial", "primeiro intervalo",
                      "intervalo inicial"),
        "interval_n": ("incremento seguinte", "incremento adicional", "intervalo seguinte",
                       "intervalo adicional"),
        "pulse": ("cadência", "tarifação", "faturamento", "faturação", "bilhetagem"),
        "status": ("situação", "alteração", "mudança"),
        "currency": ("moeda",),
        "notes": ("observações", "observação"),
        "other": ("taxa de conexão", "tarifa de conexão", "custo de conexão", "período de carência",
                  "horário reduzido"),
    },
    "fr": {
        "code": ("préfixe", "préfixes", "indicatif", "indicatifs", "code destination",
                 "préfixe de numérotation", "indicatif destination", "préfixe e164"),
        "country_code": ("indicatif pays", "code pays"),
        "area_code": ("indicatif régional", "code zone"),
        "destination": ("libellé", "désignation", "nom destination", "nom de la destination"),
        "country": ("pays",),
        "network": ("opérateur", "réseau"),
        "price": ("tarif", "tarifs", "prix", "tarif min", "tarif par minute", "prix par minute",
                  "prix min", "coût", "prix unitaire", "tarif unitaire"),
        "new_price": ("nouveau tarif", "nouveau prix"),
        "price_current": ("tarif actuel", "ancien tarif", "prix actuel", "ancien prix"),
        "effective_from": ("date d'effet", "date d'application", "date de début",
                           "date d'entrée en vigueur", "valable à partir du", "en vigueur le",
                           "date de validité", "date de prise d'effet", "applicable au",
                           "applicable le", "valable du"),
        "effective_to": ("date de fin", "valable jusqu'au", "date d'expiration"),
        "interval1": ("durée minimale", "palier initial", "première période", "durée minimum",
                      "palier minimum"),
        "interval_n": ("palier", "incrément", "période suivante", "palier suivant",
                       "incrément suivant"),
        "pulse": ("facturation", "paliers", "incréments", "taxation", "pas de facturation",
                  "mode de facturation", "pas de taxation", "unité de facturation"),
        "status": ("statut", "modification", "évolution", "variation"),
        "currency": ("devise", "monnaie"),
        "notes": ("remarques", "commentaires"),
        "other": ("frais de connexion", "frais de mise en relation", "mise en relation",
                  "coût de connexion", "coût de mise en relation", "heures creuses",
                  "tarif heures creuses", "période de grâce"),
    },
    "de": {
        "code": ("vorwahl", "vorwahlen", "präfix", "rufnummernbereich", "zielvorwahl",
                 "präfix e164"),
        "country_code": ("ländervorwahl", "landesvorwahl", "länderkennzahl"),
        "area_code": ("ortsvorwahl", "ortsnetzkennzahl"),
        "destination": ("ziel", "zielnetz", "bezeichnung", "beschreibung", "zielname"),
        "country": ("land", "länder"),
        "network": ("netz", "netzbetreiber", "betreiber"),
        "price": ("preis", "preise", "tarif min", "preis pro minute", "minutenpreis", "kosten",
                  "entgelt", "preis je minute", "tarif", "minutentarif"),
        "new_price": ("neuer preis", "neuer tarif"),
        "price_current": ("aktueller preis", "alter preis", "bisheriger preis"),
        "effective_from": ("gültig ab", "gültig von", "datum", "startdatum", "gültigkeitsdatum",
                           "wirksam ab", "inkrafttreten", "gültig ab datum", "gültigkeit ab",
                           "aktivierungsdatum"),
        "effective_to": ("gültig bis", "enddatum", "ablaufdatum"),
        "interval1": ("mindestdauer", "erster takt", "mindesttakt", "erstes intervall",
                      "anfangstakt", "mindestabrechnung"),
        "interval_n": ("folgetakt", "nächster takt", "folgeintervall", "folgetaktung"),
        "pulse": ("taktung", "takt", "abrechnungstakt", "abrechnung", "abrechnungsintervall",
                  "taktungsart"),
        "status": ("änderung", "änderungen", "zustand"),
        "currency": ("währung",),
        "notes": ("bemerkung", "bemerkungen", "hinweis", "hinweise", "kommentar"),
        "other": ("verbindungsentgelt", "verbindungsgebühr", "verbindungsaufbau", "einwahlgebühr",
                  "nebenzeit", "nebenzeitpreis", "wochenendpreis", "freisekunden"),
    },
    "it": {
        "code": ("prefisso", "prefissi", "codice", "codici"),
        "country_code": ("prefisso internazionale", "codice paese"),
        "area_code": ("prefisso area",),
        "destination": ("destinazione", "destinazioni", "descrizione"),
        "country": ("paese", "nazione", "paesi"),
        "network": ("operatore", "rete"),
        "price": ("prezzo", "prezzi", "tariffa", "tariffe", "costo al minuto", "prezzo al minuto",
                  "costo", "tariffa al minuto", "costo minuto", "prezzo unitario"),
        "new_price": ("nuovo prezzo", "nuova tariffa"),
        "price_current": ("prezzo attuale", "tariffa attuale", "prezzo precedente"),
        "effective_from": ("data di decorrenza", "decorrenza", "data inizio", "valido dal",
                           "data di validità", "data effettiva", "in vigore dal", "data decorrenza",
                           "data attivazione", "data di attivazione"),
        "effective_to": ("data fine", "valido fino al", "data di scadenza", "scadenza"),
        "interval1": ("durata minima", "scatto iniziale", "primo scatto",
                      "durata minima addebitata"),
        "interval_n": ("scatto successivo", "incremento successivo", "scatti successivi"),
        "pulse": ("tariffazione", "fatturazione", "scatti", "scatto", "unità di tariffazione"),
        "status": ("stato", "variazione", "modifica"),
        "currency": ("valuta",),
        "notes": ("note", "commenti"),
        "other": ("scatto alla risposta", "costo di connessione", "costo alla risposta",
                  "fascia ridotta"),
    },
    "ru": {
        "code": ("код", "коды", "префикс", "префиксы", "код направления", "коды направления",
                 "код набора", "префикс направления"),
        "country_code": ("код страны",),
        "area_code": ("код города", "код зоны"),
        "destination": ("направление", "направления", "описание", "название направления"),
        "country": ("страна", "страны"),
        "network": ("оператор", "сеть"),
        "price": ("цена", "цены", "тариф", "тарифы", "стоимость", "цена за минуту",
                  "стоимость минуты", "ставка", "тариф за минуту", "стоимость минуты разговора"),
        "new_price": ("новая цена", "новый тариф"),
        "price_current": ("текущая цена", "старая цена", "текущий тариф"),
        "effective_from": ("дата начала", "дата начала действия", "действует с",
                           "дата вступления в силу", "дата", "с даты", "начало действия",
                           "дата активации"),
        "effective_to": ("дата окончания", "действует до", "дата окончания действия"),
        "interval1": ("минимальная длительность", "первый интервал", "минимальное время",
                      "минимальная длительность тарификации"),
        "interval_n": ("шаг тарификации", "следующий интервал", "шаг", "последующий интервал"),
        "pulse": ("тарификация", "интервал тарификации", "единица тарификации"),
        "status": ("статус", "изменение", "изменения"),
        "currency": ("валюта",),
        "notes": ("примечание", "примечания", "комментарий"),
        "other": ("плата за соединение", "стоимость соединения", "бесплатные секунды",
                  "льготный период"),
    },
    "tr": {
        "code": ("kod", "kodu", "kodlar", "ön ek", "önek", "prefiks"),
        "country_code": ("ülke kodu",),
        "area_code": ("alan kodu",),
        "destination": ("yön", "hedef", "açıklama", "destinasyon"),
        "country": ("ülke", "ülkeler"),
        "network": ("operatör", "şebeke"),
        "price": ("fiyat", "fiyatlar", "tarife", "ücret", "dakika ücreti", "birim fiyat", "ücreti",
                  "dakika fiyatı", "birim ücret"),
        "new_price": ("yeni fiyat", "yeni tarife"),
        "price_current": ("mevcut fiyat", "eski fiyat"),
        "effective_from": ("geçerlilik tarihi", "başlangıç tarihi", "yürürlük tarihi", "tarih",
                           "geçerli tarih", "başlangıç", "yürürlük"),
        "effective_to": ("bitiş tarihi",),
        "interval1": ("minimum süre", "ilk artış"),
        "interval_n": ("sonraki artış",),
        "pulse": ("ücretlendirme", "faturalama", "artış aralığı", "ücretlendirme aralığı",
                  "faturalama aralığı"),
        "status": ("durum", "değişiklik", "değişim"),
        "currency": ("para birimi", "döviz"),
        "notes": ("notlar", "açıklamalar"),
        "other": ("bağlantı ücreti", "kuruluş ücreti"),
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
        "interval1": ("الحد الأدنى للمدة", "الفترة الأولى"),
        "interval_n": ("الزيادة", "الفترة التالية"),
        "other": ("رسوم الاتصال", "رسوم الربط"),
    },
    "zh": {
        "code": ("前缀", "号码前缀", "代码", "区号", "号段", "国家区号", "地区前缀", "呼叫前缀",
                 "被叫前缀"),
        "country_code": ("国家代码",),
        "destination": ("目的地", "地区", "描述", "线路", "地区名称", "区域名称", "目的地名称"),
        "country": ("国家", "国家地区"),
        "network": ("运营商", "网络"),
        "price": ("费率", "价格", "单价", "资费", "每分钟费率", "费率 分钟", "费用", "资费标准"),
        "new_price": ("新费率", "新价格"),
        "price_current": ("原费率", "当前费率", "旧费率"),
        "effective_from": ("生效日期", "生效时间", "开始日期", "日期", "启用日期", "生效"),
        "effective_to": ("失效日期", "截止日期", "结束日期"),
        "interval1": ("首次计费", "最小计费时长", "起始时长", "首次计费时长", "最低计费时长",
                      "首段时长"),
        "interval_n": ("后续计费", "计费步长", "续计费时长", "后续时长"),
        "pulse": ("计费方式", "计费单位", "计费周期", "计费间隔", "计费", "计费规则"),
        "status": ("状态", "变化", "变更"),
        "currency": ("币种", "货币"),
        "notes": ("备注", "说明"),
        "other": ("接通费", "建立费", "免费时长", "宽限期"),
    },
}  # fmt: skip
_ENGLISH = dict(VOCABULARY)  # before the other languages join it: a spelling's language
for _spellings in LANGUAGES.values():
    for _field, _words in _spellings.items():
        VOCABULARY[_field] = (*VOCABULARY[_field], *_words)

# Internal vocabulary fields that table.find_tables resolves into public ones.
INTERNAL_FIELDS = ("new_price",)
# A column the vocabulary knows and the reader deliberately leaves unread (``VOCABULARY``).
OTHER = "other"
FIELDS: tuple[str, ...] = tuple(f for f in VOCABULARY if f not in (*INTERNAL_FIELDS, OTHER))

# Fields that may take several sheet columns, in sheet order.
MULTI_COLUMN_FIELDS = ("price_jurisdiction", "other")

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
        "increases effective from", "effective date for increases",
        # es pt fr de it ru tr ar zh
        "fecha de aumento", "aumentos válidos desde", "vigencia de aumentos",
        "fecha de vigencia de aumentos", "data de aumento", "aumentos válidos a partir de",
        "vigência dos aumentos", "date des hausses", "hausses applicables le",
        "date d'effet des hausses", "hausses valables à partir du", "erhöhungen gültig ab",
        "datum der erhöhung", "gültig ab für erhöhungen", "data aumenti", "aumenti validi dal",
        "decorrenza aumenti", "дата повышения", "повышения действуют с",
        "дата вступления в силу повышений", "artış tarihi", "zam tarihi",
        "artışların geçerlilik tarihi", "تاريخ الزيادة", "تاريخ سريان الزيادات", "上调生效日期",
        "涨价生效日期", "上调日期",
    ),
    "decrease_date": (
        "decrease validity date", "decrease date", "decreases valid from",
        "decrease effective date", "decreases effective", "validity date for decreases",
        "decreases effective from", "effective date for decreases",
        # es pt fr de it ru tr ar zh
        "fecha de reducción", "reducciones válidas desde", "vigencia de reducciones",
        "fecha de vigencia de reducciones", "data de redução", "reduções válidas a partir de",
        "vigência das reduções", "date des baisses", "baisses applicables le",
        "date d'effet des baisses", "baisses valables à partir du", "senkungen gültig ab",
        "datum der senkung", "gültig ab für senkungen", "data riduzioni", "riduzioni valide dal",
        "decorrenza riduzioni", "дата понижения", "понижения действуют с",
        "дата вступления в силу понижений", "indirim tarihi", "düşüş tarihi",
        "indirimlerin geçerlilik tarihi", "تاريخ التخفيض", "تاريخ سريان التخفيضات",
        "下调生效日期", "降价生效日期", "下调日期",
    ),
    "product": (
        "product name", "product", "route", "service", "route name", "service name",
        # es pt fr de it ru tr ar zh
        "producto", "servicio", "nombre del producto", "ruta", "produto", "serviço",
        "nome do produto", "rota", "produit", "nom du produit", "offre", "produkt",
        "produktname", "dienst", "dienstleistung", "prodotto", "servizio", "nome prodotto",
        "продукт", "услуга", "название продукта", "маршрут", "ürün", "hizmet", "ürün adı",
        "المنتج", "الخدمة", "اسم المنتج", "产品", "产品名称", "业务", "业务类型",
    ),
}  # fmt: skip

# What ends a notice label written in the same cell as its value ("Currency: USD", "币种：USD").
LABEL_COLONS = (":", "：")


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
    for language, spellings in (("en", _ENGLISH), *LANGUAGES.items()):
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


def notice_label(text: str) -> str | None:
    """The notice fact a label names (``Date Issued:``, ``币种：`` → ``currency``), or None."""
    return _notice_labels().get(header_key(text))


@cache
def _notice_labels() -> dict[str, str]:
    return {header_key(label): fact for fact, labels in NOTICE_LABELS.items() for label in labels}


def label_and_value(cell: str) -> tuple[str, str] | None:
    """A notice cell holding its label and value (``Currency: USD``, ``币种：美元``) split in two
    at the first colon of either width, or None when there is no colon."""
    at = min((i for colon in LABEL_COLONS if (i := cell.find(colon)) >= 0), default=-1)
    if at < 0:
        return None
    return cell[:at], cell[at + 1 :].strip()


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
