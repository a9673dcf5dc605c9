"""The header vocabulary read as vendors write headers: how a header matched (``read_header``)
— whole (``exact``), after splitting camelCase and glued words and writing out abbreviations
(``words``), or as a known spelling holding the head of a longer header (``guess``) — and the
headers that hold a known word but mean something else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.sheets import headers, notice, vocabulary
from ingestd.sheets.headers import HeaderMatch, read_header

# (header as a vendor writes it, field, strength)
EXACT = [
    ("Prefix", "code", "exact"), ("DIAL CODE(S)", "code", "exact"), ("Code(s)", "code", "exact"),
    ("Rates (USD / Min)", "price", "exact"), ("Price($)", "price", "exact"),
    ("Rate_Min", "price", "exact"), ("Rate/Min", "price", "exact"), ("rate", "price", "exact"),
    ("Min", "interval1", "exact"), ("Min Duration", "interval1", "exact"),
    ("Min. time", "interval1", "exact"), ("First Interval", "interval1", "exact"),
    ("Next Interval", "interval_n", "exact"), ("Increment", "interval_n", "exact"),
    ("billing_increment", "pulse", "exact"), ("Billing Increment (s)", "pulse", "exact"),
    ("Billable Unit(s)", "pulse", "exact"), ("Match Prefix", "code", "exact"),
    ("Initial Time(s)", "interval1", "exact"), ("Rate Change", "status", "exact"),
    ("Interstate ($/min)", "price_jurisdiction", "exact"),
    ("IntraState Rate", "price_jurisdiction", "exact"),
    ("INDETERMINATE_RATE", "price_jurisdiction", "exact"),
    ("PREFIXE_E164", "code", "exact"), ("费率(元/分钟)", "price", "exact"),
    ("计费周期(秒)", "pulse", "exact"), ("起始时长", "interval1", "exact"),
    ("地区前缀", "code", "exact"), ("地区名称", "destination", "exact"),
    ("Тариф, руб/мин", "price", "exact"), ("Стоимость, руб.", "price", "exact"),
    ("Tarifa USD/min", "price", "exact"), ("Preço R$", "price", "exact"),
    ("Preis ct/min", "price", "exact"), ("Prix HT", "price", "exact"),
    ("Tarif/min", "price", "exact"), ("Código de destino", "code", "exact"),
    ("Zielvorwahl", "code", "exact"), ("Fecha de activación", "effective_from", "exact"),
    ("Date de prise d'effet", "effective_from", "exact"), ("Primo scatto", "interval1", "exact"),
    ("Intervalo siguiente", "interval_n", "exact"), ("Tarificación", "pulse", "exact"),
    ("Mode de facturation", "pulse", "exact"), ("Шаг", "interval_n", "exact"),
]  # fmt: skip

WORDS = [
    # camelCase and capitals glued to the next word
    ("smsPriceEUR", "price"), ("costPerSms", "price"), ("SMSCostEUR", "price"),
    ("ratePerMinute", "price"), ("effectiveDate", "effective_from"), ("NewRate", "new_price"),
    ("priceEur", "price"), ("RatePerMin", "price"), ("countryCode", "country_code"),
    ("EffectiveFrom", "effective_from"), ("ValidUntil", "effective_to"),
    ("destinationName", "destination"), ("billingIncrement", "pulse"),
    ("InitialIncrement", "interval1"), ("NextIncrement", "interval_n"),
    ("InterRate", "price_jurisdiction"), ("connectionFee", "other"),
    # separated by _ or - and written out
    ("Dest_Name", "destination"), ("dest-name", "destination"),
    # glued lowercase, split against the vocabulary's own words
    ("ratepermin", "price"), ("effectivedate", "effective_from"), ("countrycode", "country_code"),
    ("dialprefix", "code"), ("rateinitial", "price"), ("initblock", "interval1"),
    ("billingblock", "interval_n"), ("connectcharge", "other"), ("buyrate", "other"),
    ("validfrom", "effective_from"), ("enddate", "effective_to"), ("gracePeriod", "other"),
    # abbreviations
    ("Pfx", "code"), ("PFX", "code"), ("Dest.", "destination"), ("Dst", "destination"),
    ("Desc", "destination"), ("Eff Dt", "effective_from"),
    ("Eff. Dt.", "effective_from"), ("Incr", "interval_n"), ("Inc.", "interval_n"),
    ("Init Incr", "interval1"), ("Init. Inc.", "interval1"), ("Min Dur", "interval1"),
    ("Nxt Incr", "interval_n"), ("Subs Incr", "interval_n"), ("Ctry", "country"),
    ("Cntry Code", "country_code"), ("Chg", "status"), ("Exp Date", "effective_to"),
    ("Conn Fee", "other"), ("Pfx E164", "code"),
    # US jurisdiction decks, abbreviated
    ("Inter", "price_jurisdiction"), ("Intra", "price_jurisdiction"),
    ("Indet", "price_jurisdiction"), ("Inter Rate", "price_jurisdiction"),
    ("INTRA RATE", "price_jurisdiction"), ("Indet. Rate ($/min)", "price_jurisdiction"),
    ("IntraRate", "price_jurisdiction"), ("Rate Inter", "price_jurisdiction"),
]  # fmt: skip

GUESS = [
    # English, German, Turkish, Chinese: the head is the last word
    ("Voice Termination Rate USD", "price"), ("Customer Prefix", "code"),
    ("Wholesale Rate", "price"), ("A-Z Price (EUR)", "price"), ("Carrier Dial Code", "code"),
    ("Rate Increase Date", "effective_from"), ("Price Change Date", "effective_from"),
    ("Route Description", "destination"), ("Vendor Currency", "currency"),
    ("Festnetzpreis", "price"), ("Mobilfunkpreis EUR", "price"), ("语音费率", "price"),
    ("国际费率 (美元)", "price"), ("费率变更日期", "effective_from"), ("Sabit hat fiyatı", None),
    ("Effective Rate Date", "effective_from"),
    # Spanish, Portuguese, French, Italian, Arabic: the head is the first word
    ("Fecha de la tarifa", "effective_from"), ("Tarifa vigente", "price"),
    ("Tarifa mayorista USD", "price"), ("Preço final", "price"), ("Prix de gros", "price"),
    ("Tariffa wholesale", "price"), ("Destino final", "destination"),
    ("Indicatif international", "code"),
    # Russian: either side (adjectives before, genitives after)
    ("Международный тариф", "price"), ("Цена для абонентов", "price"),
]  # fmt: skip

# Headers that hold a known word and mean something else: another field, or nothing known.
MUST_NOT_MATCH = [
    ("Rate Change", "status"), ("Rate Type", None), ("Rate Increase Date", "effective_from"),
    ("Price Change Date", "effective_from"), ("Code Change Date", "effective_from"),
    ("Customer Name", None), ("Product Code", None), ("Network Code", None), ("ISO Code", "other"),
    ("Code Type", None), ("Vendor Number", None), ("Account Status", None),
    ("Connection Rate", "other"), ("Connect Fee", "other"), ("Connection Charge ($)", "other"),
    ("Off-Peak Rate", "other"), ("Off-Peak Price 1", "other"), ("Weekend Rate USD", "other"),
    ("Night Rate", "other"), ("Grace Period (s)", "other"), ("Free Seconds", "other"),
    ("Surcharge", "other"), ("Buy Rate", "other"), ("Cargo de conexión", "other"),
    ("Frais de mise en relation", "other"), ("Scatto alla risposta", "other"),
    ("Verbindungsentgelt", "other"), ("Плата за соединение", "other"), ("接通费", "other"),
    ("Taxa de conexão", "other"), ("Bağlantı ücreti", "other"),
    ("Tarifa de conexión USD", "other"), ("Connection Rate per Minute", "other"),
    ("Código ISO", None), ("Código del operador", None), ("Код оператора", None),
    ("Separate", None), ("Time Type", None), ("Notes about rate", "notes"), ("No.", None),
    ("Tarif de connexion", "other"),
]  # fmt: skip


@pytest.mark.parametrize(("header", "field", "strength"), EXACT, ids=[c[0] for c in EXACT])
def test_a_whole_header_that_is_a_known_spelling_is_exact(header, field, strength):
    found = read_header(header)
    assert (found.field, found.strength) == (field, strength)


@pytest.mark.parametrize(("header", "field"), WORDS, ids=[c[0] for c in WORDS])
def test_camel_case_glued_words_and_abbreviations_match_as_words(header, field):
    found = read_header(header)
    assert (found.field, found.strength) == (field, "words")
    assert headers.match_header(header) == field


@pytest.mark.parametrize(("header", "field"), GUESS, ids=[c[0] for c in GUESS])
def test_a_known_spelling_holding_the_head_of_a_longer_header_is_a_guess(header, field):
    found = read_header(header)
    assert (found and (found.field, found.strength)) == (field and (field, "guess"))
    # a guess is never a match for the table finder
    assert headers.match_header(header) is None


@pytest.mark.parametrize(("header", "field"), MUST_NOT_MATCH, ids=[c[0] for c in MUST_NOT_MATCH])
def test_a_header_whose_other_words_change_its_meaning(header, field):
    found = read_header(header)
    assert (found.field if found else None) == field


def test_the_head_decides_which_known_word_names_the_header():
    # the same two known words, in both orders, in a head-last and a head-first language
    assert read_header("Rate Date").field == "effective_from"
    assert read_header("Date Rate").field == "price"
    assert read_header("Fecha tarifa").field == "effective_from"
    assert read_header("Tarifa fecha").field == "price"
    assert read_header("Tarifa de la fecha").field == "price"


def test_a_generic_head_needs_a_word_of_its_own_field():
    assert read_header("Code Type") is None
    assert read_header("Breakout Type") is None
    assert read_header("Zone Name") == HeaderMatch("destination", "exact", "zone name")
    assert read_header("Destination Zone Name").field == "destination"
    assert read_header("Customer Name") is None


def test_the_longest_known_spelling_wins():
    found = read_header("Voice Termination Rate USD")
    assert found == HeaderMatch("price", "guess", "termination rate")
    found = read_header("Wholesale New Rate")
    assert found == HeaderMatch("new_price", "guess", "new rate")


def test_min_is_a_minimum_alone_and_a_unit_after_a_price():
    assert read_header("Min").field == "interval1"
    assert read_header("MIN.").field == "interval1"
    assert read_header("Rate/Min").field == "price"
    assert read_header("Price per min").field == "price"
    assert read_header("Min Duration").field == "interval1"


def test_the_spelling_is_reported():
    assert read_header("Eff Dt") == HeaderMatch("effective_from", "words", "effective date")
    assert read_header("Rates (USD / Min)") == HeaderMatch("price", "exact", "rates")
    assert read_header("Customer Prefix") == HeaderMatch("code", "guess", "prefix")


def test_match_header_keeps_exact_and_words_and_drops_guesses():
    assert headers.match_header("Prefix") == "code"
    assert headers.match_header("Pfx") == "code"
    assert headers.match_header("Customer Prefix") is None
    assert headers.match_header("Connection Charge") == vocabulary.OTHER
    assert headers.match_header(None) is None and read_header(None) is None
    assert headers.match_header("  ") is None and read_header("--") is None


def test_other_is_a_vocabulary_field_the_reader_does_not_read():
    assert vocabulary.OTHER == "other" and vocabulary.OTHER in vocabulary.VOCABULARY
    assert vocabulary.OTHER not in vocabulary.FIELDS
    assert vocabulary.OTHER not in vocabulary.PRICE_FIELDS


def test_every_abbreviation_is_written_out_in_the_vocabulary_words():
    words = {w for key in headers._index().exact for w in key.split()}
    for short, long in headers.ABBREVIATIONS.items():
        assert short == headers.header_key(short)
        assert all(w in words or read_header(w) for w in long.split()), long


def test_the_vocabulary_stays_unambiguous_with_the_new_spellings():
    assert headers.ambiguous_spellings() == {}


@pytest.mark.parametrize(
    ("label", "fact"),
    [
        ("Fecha de aumento:", "increase_date"), ("Aumentos válidos desde", "increase_date"),
        ("Data de redução", "decrease_date"), ("Hausses applicables le", "increase_date"),
        ("Date des baisses :", "decrease_date"), ("Erhöhungen gültig ab", "increase_date"),
        ("Senkungen gültig ab:", "decrease_date"), ("Aumenti validi dal", "increase_date"),
        ("Riduzioni valide dal", "decrease_date"), ("Дата повышения", "increase_date"),
        ("Понижения действуют с:", "decrease_date"), ("Zam tarihi", "increase_date"),
        ("İndirim tarihi", "decrease_date"), ("تاريخ الزيادة", "increase_date"),
        ("下调生效日期：", "decrease_date"), ("上调生效日期", "increase_date"),
        ("Producto", "product"), ("Produit :", "product"), ("Produktname", "product"),
        ("Продукт", "product"), ("Ürün", "product"), ("产品名称：", "product"),
        ("币种：", "currency"), ("日期：", "issue_date"), ("Валюта:", "currency"),
        ("Increase Validity Date", "increase_date"), ("Rate", None), ("Destino", None),
    ],
)  # fmt: skip
def test_notice_labels_in_the_vendors_language(label, fact):
    assert notice.notice_label(label) == fact


@pytest.mark.parametrize(
    ("cell", "split"),
    [
        ("币种：美元", ("币种", "美元")), ("Currency: USD", ("Currency", "USD")),
        ("日期：2027-03-01", ("日期", "2027-03-01")),
        ("Date: 2027-03-01 10:00", ("Date", "2027-03-01 10:00")),
        ("产品：国际语音：A-Z", ("产品", "国际语音：A-Z")), ("Currency USD", None),
    ],
)  # fmt: skip
def test_a_label_and_its_value_in_one_cell_with_either_colon(cell, split):
    assert notice.label_and_value(cell) == split


HEADERS = st.text(
    alphabet=st.characters(categories=("L", "Nd", "P", "Zs"), exclude_characters="\x00"),
    max_size=40,
)


@given(HEADERS)
def test_read_header_is_total_and_consistent(text):
    found = read_header(text)
    if found is None:
        return
    assert found.strength in ("exact", "words", "guess")
    assert found.field in vocabulary.VOCABULARY
    assert headers.match_header(text) == (found.field if found.strength != "guess" else None)


@given(st.sampled_from([s for spellings in vocabulary.VOCABULARY.values() for s in spellings]))
def test_every_spelling_reads_exact_as_its_own_field(spelling):
    if not isinstance(spelling, str):
        return
    found = read_header(spelling)
    assert found.strength == "exact"
    assert found.field == headers._index().exact[headers.header_key(spelling)]


def test_every_field_of_every_language_lists_whole_spellings():
    # a tuple written without its comma would be a string, read letter by letter
    for spellings in (vocabulary.VOCABULARY, *vocabulary.LANGUAGES.values(), notice.NOTICE_LABELS):
        for field, words in spellings.items():
            assert isinstance(words, tuple), field
            assert all((isinstance(w, str) and len(w) > 1) or not isinstance(w, str) for w in words)


# Header rows as billing systems and carriers export them → what the table finder is told
# (``match_header``: exact or words; None for a guess or an unknown header).
HEADER_ROWS = [
    (
        "Destination|Prefix|Rate|Connection charge|Min. time|Increment|Grace",
        ["destination", "code", "price", "other", "interval1", "interval_n", "other"],
    ),
    (
        "dialprefix|destination|rateinitial|initblock|billingblock|connectcharge|stopdate|buyrate",
        ["code", "destination", "price", "interval1", "interval_n", "other", "effective_to",
         "other"],
    ),
    (
        "Code|Destination|Connect Cost|Included Seconds|Per Minute Cost|Initial Increment|Inc",
        ["code", "destination", "other", "other", "price", "interval1", "interval_n"],
    ),
    (
        "Prefix|Description|Interval 1|Interval N|Price 1|Price N|Grace Period|Connect Fee",
        ["code", "destination", "interval1", "interval_n", "price", "price_n", "other", "other"],
    ),
    (
        "Destination|Interval First|Interval Next|Price First|Price Next|Off-peak Price First",
        ["destination", "interval1", "interval_n", "price", "price_n", "other"],
    ),
    (
        "Name|Match Prefix|Rate|Billable Unit(s)|Initial Time(s)|Initial Cost",
        ["destination", "code", "price", "pulse", "interval1", "other"],
    ),
    (
        "NPANXX|Inter Rate|Intra Rate|Indet Rate|Eff Date",
        ["npanxx", "price_jurisdiction", "price_jurisdiction", "price_jurisdiction",
         "effective_from"],
    ),
    (
        "费率名称|地区前缀|地区名称|费率|计费周期(秒)|起始时长|生效时间",
        [None, "code", "destination", "price", "pulse", "interval1", "effective_from"],
    ),
    (
        "前缀|国家|运营商|费率（美元/条）|生效日期",
        ["code", "country", "network", "price", "effective_from"],
    ),
    (
        "Направление|Код|Цена, руб/мин|Тарификация|Дата начала действия|Плата за соединение",
        ["destination", "code", "price", "pulse", "effective_from", "other"],
    ),
    (
        "Destination|Indicatif|Prix € HT/min|Palier|Date d'application|Frais de mise en relation",
        ["destination", "code", "price", "interval_n", "effective_from", "other"],
    ),
    (
        "Zielnetz|Vorwahl|Preis ct/min|Taktung|Gültig ab|Verbindungsentgelt|Nebenzeitpreis",
        ["destination", "code", "price", "pulse", "effective_from", "other", "other"],
    ),
    (
        "Destino|Prefijo|Tarifa USD/min|Incremento|Fecha efectiva|Cargo de conexión",
        ["destination", "code", "price", "interval_n", "effective_from", "other"],
    ),
    (
        "الوجهة|رمز الوجهة|السعر (دولار/دقيقة)|وحدة الفوترة|تاريخ السريان",
        ["destination", "code", "price", "pulse", "effective_from"],
    ),
    (
        "smsPriceEUR|mccMnc|countryName|operatorName|effectiveDate",
        ["price", "mccmnc", "country", "network", "effective_from"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("row", "fields"), HEADER_ROWS, ids=[r.split("|")[0] for r, _ in HEADER_ROWS]
)
def test_header_rows_as_billing_systems_export_them(row, fields):
    assert [headers.match_header(cell) for cell in row.split("|")] == fields


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Effective Date (dd/mm/yyyy)", "effective_from"),
        ("Valid From (UTC)", "effective_from"),
        ("Fecha (dd/mm/aaaa)", "effective_from"),
        ("Date d'effet (jj/mm/aaaa)", "effective_from"),
        ("End Date (YYYY-MM-DD)", "effective_to"),
        ("CC-AREA", "code"),
        ("CC - Area", "code"),
    ],
)
def test_a_date_format_or_zone_written_in_the_header_is_no_word_of_it(header, field):
    found = read_header(header)
    assert found is not None and found.field == field
