"""The header vocabulary (docs/reading.md#finding-the-table): which header spellings mean which
logical field, and the groups of fields the table finder reasons with.

This module is data.  To teach ingestd a new spelling, add it to the field's list in
``VOCABULARY`` (English) or ``LANGUAGES`` (the other languages vendors write, merged into
``VOCABULARY``).  ``sheets.headers`` compares spellings after ``header_key`` (case, accents,
spaces, punctuation and ``Price1``/``Price 1`` do not matter); a pattern (``re.compile``) is
searched in the same normalised key.  The field ``other`` names columns we know and
deliberately do not read (connection charge, grace, off-peak…).
"""

from __future__ import annotations

import re

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
    # "Increment" columns holding "60/1" are read as ``pulse`` (field_columns.pulse_by_content)
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
# the English spellings, before the other languages join them: a spelling's language
ENGLISH = dict(VOCABULARY)
for _spellings in LANGUAGES.values():
    for _field, _words in _spellings.items():
        VOCABULARY[_field] = (*VOCABULARY[_field], *_words)

# Internal vocabulary fields that the table finder resolves into public ones.
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
