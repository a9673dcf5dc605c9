"""docs/reading.md#decks-nobody-taught-us: billing increments written in prose, in any phrasing,
place and language."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.rates.model import Kind
from ingestd.sheets.normalize import normalize
from ingestd.sheets.notice import NoticeFacts
from ingestd.sheets.prose import answer_for, read_increment_notes, sentences, speaks_of_increments
from ingestd.sheets.regions import name_key, name_keys, region_of_code, regions_named
from ingestd.sheets.table import FoundTable


def rules_of(*lines: str) -> list[tuple[tuple[str, ...], int, int]]:
    return [(r.names, r.first, r.next) for r in read_increment_notes(lines).rules]


def default_of(*lines: str) -> tuple[int, int] | None:
    default = read_increment_notes(lines).default
    return None if default is None else (default.first, default.next)


# --- sentences that name destinations ---------------------------------------------------------

NAMED = [
    # (sentence as a vendor wrote it, the rules expected)
    ("the following countries will be billed 60/60: Fiji, Haiti, …",
     [(("Fiji", "Haiti"), 60, 60)]),
    ("THE FOLLOWING DESTINATIONS ARE BILLED 60/60: FIJI; HAITI; NAURU",
     [(("FIJI", "HAITI", "NAURU"), 60, 60)]),
    ("Fiji, Haiti: 60/60", [(("Fiji", "Haiti"), 60, 60)]),
    ("Cuba and Chad: 30/6", [(("Cuba", "Chad"), 30, 6)]),
    ("Mexico (all codes) - 60/60", [(("Mexico",), 60, 60)]),
    ("Mexico (all codes) – 60-60", [(("Mexico",), 60, 60)]),
    ("Billing increment for Fiji is 60 seconds", [(("Fiji",), 60, 60)]),
    ("initial 30 seconds then 6 second increments for Brazil", [(("Brazil",), 30, 6)]),
    ("Brazil: minimum 30 sec, thereafter 6 sec increments", [(("Brazil",), 30, 6)]),
    ("Cuba 60+60", [(("Cuba",), 60, 60)]),
    ("Cuba: 60 / 60", [(("Cuba",), 60, 60)]),
    ("per minute billing applies to Cuba", [(("Cuba",), 60, 60)]),
    ("Note: billed 60/1 for Peru", [(("Peru",), 60, 1)]),
    ("Calls to Mexico will be charged 60/60 effective immediately", [(("Mexico",), 60, 60)]),
    ("Increments: 60/60 for Mexico, 30/6 for Brazil",
     [(("Mexico",), 60, 60), (("Brazil",), 30, 6)]),
    ("Mexico 60/60, Brazil 30/6", [(("Mexico",), 60, 60), (("Brazil",), 30, 6)]),
    ("billed in 60/60 increments: Côte d'Ivoire; Mali & Niger etc.",
     [(("Côte d'Ivoire", "Mali", "Niger"), 60, 60)]),
    ("Trinidad & Tobago, Bosnia and Herzegovina, Isle of Man: 60/60",
     [(("Trinidad & Tobago", "Bosnia and Herzegovina", "Isle of Man"), 60, 60)]),
    ("Korea, Republic of: 60/60", [(("Korea, Republic",), 60, 60)]),
    ("Mexico Mobile/Fixed: 60/60", [(("Mexico Mobile", "Mexico Fixed"), 60, 60)]),
    ("UK (Mobile) 30/30", [(("UK Mobile",), 30, 30)]),
    ("Germany (incl. mobile) are billed 60/60", [(("Germany",), 60, 60)]),
    ("mexico, haiti: 60/60", [(("mexico", "haiti"), 60, 60)]),
    ("Fiji Mobile Digicel\u00a0:\u00a060/60", [(("Fiji Mobile Digicel",), 60, 60)]),
    # Spanish, Portuguese, French, German
    ("facturación 60/60 para México y Haití", [(("México", "Haití"), 60, 60)]),
    ("Los destinos siguientes se facturarán en incrementos de 60/60: Cuba, Haití y Honduras.",
     [(("Cuba", "Haití", "Honduras"), 60, 60)]),
    ("Tasación 30/6 para Brasil Móvil", [(("Brasil Móvil",), 30, 6)]),
    ("cadência 30/6 para o Brasil", [(("Brasil",), 30, 6)]),
    ("Cobrança em cadência 30/6 para Brasil Móvel e Brasil Fixo",
     [(("Brasil Móvel", "Brasil Fixo"), 30, 6)]),
    ("Les appels vers le Mexique seront facturés 60/60", [(("Mexique",), 60, 60)]),
    ("Facturation par paliers de 60/60 pour Haïti et la Tunisie",
     [(("Haïti", "Tunisie"), 60, 60)]),
    ("Taktung 60/60 für Deutschland Mobil und Frankreich",
     [(("Deutschland Mobil", "Frankreich"), 60, 60)]),
    ("Die Taktung beträgt 60/60 für Deutschland Mobilfunk", [(("Deutschland Mobilfunk",), 60, 60)]),
    ("Abrechnung im 60-Sekunden-Takt für Österreich und die Schweiz",
     [(("Österreich", "Schweiz"), 60, 60)]),
    ("Intervalo de tarifación 60/60 aplicado a los destinos: Venezuela, Colombia Móvil.",
     [(("Venezuela", "Colombia Móvil"), 60, 60)]),
    # lists in parentheses, "respectively", durations split by marks, footnote marks
    ("Increment: 60/60 (Mexico, Haiti)", [(("Mexico", "Haiti"), 60, 60)]),
    ("Haiti and Cuba are billed 60/60 and 30/6 respectively",
     [(("Haiti",), 60, 60), (("Cuba",), 30, 6)]),
    ("Increments for Mexico: 60 sec initial / 60 sec additional", [(("Mexico",), 60, 60)]),
    ("Min. duration 30 sec, increment 6 sec: Brazil", [(("Brazil",), 30, 6)]),
    ("Minimum call duration 30 seconds; billing increment 6 seconds thereafter (applies to "
     "Brazil and Argentina)", [(("Brazil", "Argentina"), 30, 6)]),
    ("Please note that calls to Haiti are billed on a 60/60 basis", [(("Haiti",), 60, 60)]),
    ("Destinations billed 60/60 include Mexico, Haiti and Jamaica.",
     [(("Mexico", "Haiti", "Jamaica"), 60, 60)]),
    ("Note (1): Mexico billed 60/60", [(("Mexico",), 60, 60)]),
    ("*Billing increment 60/60 for Haiti", [(("Haiti",), 60, 60)]),
    ("Haiti, Cuba - 60/60; Nigeria Mobile MTN, Nigeria Mobile Glo - 30/30",
     [(("Haiti", "Cuba"), 60, 60), (("Nigeria Mobile MTN", "Nigeria Mobile Glo"), 30, 30)]),
    ("Mexico: 60/60 except Mexico City 1/1", [(("Mexico",), 60, 60), (("Mexico City",), 1, 1)]),
    ("Mexico incl. mobile: 60/60", [(("Mexico",), 60, 60)]),
    ("Mexico including Mobile and Haiti: 60/60", [(("Mexico", "Haiti"), 60, 60)]),
    ("Mexico, all networks: 60/60", [(("Mexico",), 60, 60)]),
    ("Un minuto mínimo y luego por segundo para Cuba", [(("Cuba",), 60, 1)]),
    ("NOTE: Calls to Cuba are charged in 60 second blocks.", [(("Cuba",), 60, 60)]),
    ("Pulse 60/60 applies to: Afghanistan, Pakistan (Mobile), Sri Lanka.",
     [(("Afghanistan", "Pakistan Mobile", "Sri Lanka"), 60, 60)]),
    ("Les destinations suivantes sont facturées 60/60 : Algérie, Maroc, Tunisie.",
     [(("Algérie", "Maroc", "Tunisie"), 60, 60)]),
    ("Für folgende Destinationen gilt eine Taktung von 60/60: Russland, Kasachstan.",
     [(("Russland", "Kasachstan"), 60, 60)]),
    ("As destinações a seguir são tarifadas em 30/6: Brasil, Angola e Moçambique.",
     [(("Brasil", "Angola", "Moçambique"), 30, 6)]),
    ("Interval: 30/6 Brazil, 60/60 Mexico", [(("Brazil",), 30, 6), (("Mexico",), 60, 60)]),
]  # fmt: skip


@pytest.mark.parametrize(("sentence", "expected"), NAMED)
def test_a_sentence_gives_its_rules(sentence, expected):
    reading = read_increment_notes([sentence])
    assert [(r.names, r.first, r.next) for r in reading.rules] == expected
    assert reading.unread == () and reading.default is None
    assert {r.sentence for r in reading.rules} == {sentence.lstrip("*")}


# --- defaults -----------------------------------------------------------------------------------

DEFAULTS = [
    ("1/1 for all destinations except those noted below", (1, 1)),
    ("Regular billing increments of 1/1 apply for all destinations except as noted", (1, 1)),
    ("Default billing: 60/60", (60, 60)),
    ("All other destinations: 1/1", (1, 1)),
    ("All calls are billed per second.", (1, 1)),
    ("Billing is per minute for all destinations", (60, 60)),
    ("Rest of the world 1+1", (1, 1)),
    ("ROW 1/1", (1, 1)),
    ("1/1 for all destinations except Mexico and Haiti", (1, 1)),
    ("todos los demás destinos 1/1", (1, 1)),
    ("Facturación por segundo para todos los demás destinos", (1, 1)),
    ("Demais destinos: cadência 1/1", (1, 1)),
    ("Toutes les autres destinations sont facturées à la seconde", (1, 1)),
    ("Alle anderen Ziele: Taktung 1/1", (1, 1)),
    ("alle übrigen Ziele werden sekundengenau abgerechnet", (1, 1)),
    ("Billing: per second (1/1) unless stated otherwise", (1, 1)),
    ("All destinations are billed in one-second increments.", (1, 1)),
    # a notice label and its value: the deck's increments
    ("Billing Increment: 60/60", (60, 60)),
    ("Taktung: 60/60", (60, 60)),
    ("Tasación: 1+1", (1, 1)),
    (
        "The following rates are valid as of 01/11/2026 and billed per second unless otherwise "
        "stated.",
        (1, 1),
    ),
    ("**All destinations are billed 1/1 unless otherwise noted in the Billing column", (1, 1)),
]


@pytest.mark.parametrize(("sentence", "expected"), DEFAULTS)
def test_a_default_clause_sets_the_rest(sentence, expected):
    reading = read_increment_notes([sentence])
    assert default_of(sentence) == expected
    assert reading.rules == () and reading.unread == ()
    assert reading.default.sentence == sentence.lstrip("*")
    assert reading.default.source == "notes default"


def test_rules_and_a_default_in_one_sentence():
    assert rules_of(
        "60/60 applies to Mexico and Haiti; Brazil is billed 30/6; all other destinations 1/1"
    ) == [(("Mexico", "Haiti"), 60, 60), (("Brazil",), 30, 6)]
    assert default_of("Mexico 60/60, Brazil 30/6, rest of the world 1/1") == (1, 1)
    french = "La facturation se fait à la seconde (1/1), sauf pour la Tunisie : 60/60."
    assert rules_of(french) == [(("Tunisie",), 60, 60)] and default_of(french) == (1, 1)
    spanish = "Todos los destinos se facturan por segundo, excepto México (60/60) y Brasil (30/6)."
    assert rules_of(spanish) == [(("México",), 60, 60), (("Brasil",), 30, 6)]
    assert default_of(spanish) == (1, 1)
    german = (
        "Die Taktung beträgt 60/60 für Deutschland Mobilfunk, alle übrigen Ziele werden "
        "sekundengenau abgerechnet."
    )
    assert rules_of(german) == [(("Deutschland Mobilfunk",), 60, 60)]
    assert default_of(german) == (1, 1)
    assert default_of("Billing is per second except Mexico 60/60") == (1, 1)
    french = "Facturation à la minute pour Haïti, à la seconde pour le reste."
    assert rules_of(french) == [(("Haïti",), 60, 60)] and default_of(french) == (1, 1)
    spanish = "Tarifas en USD por minuto; facturación por segundo salvo México 60/60"
    assert rules_of(spanish) == [(("México",), 60, 60)] and default_of(spanish) == (1, 1)
    spanish = "Incremento 60/60 para Venezuela y Bolivia, 1/1 para el resto."
    assert rules_of(spanish) == [(("Venezuela", "Bolivia"), 60, 60)]
    assert default_of(spanish) == (1, 1)


def test_a_list_without_billing_words_or_countries_is_read_unless_it_could_be_a_date():
    assert rules_of("Telcel, Movistar: 60/60") == [(("Telcel", "Movistar"), 60, 60)]
    assert read_increment_notes(["Telcel, Movistar: 30/6"]).rules == ()
    assert rules_of("Telcel, Movistar: 30/30") == [(("Telcel", "Movistar"), 30, 30)]
    assert rules_of("Cuba, Chad: 30/6") == [(("Cuba", "Chad"), 30, 6)]  # countries: a pulse


def test_a_page_of_text_in_one_sentence_is_asked_about_not_read():
    countries = ", ".join(["Fiji", "Haiti", "Cuba", "Chad"] * 150)
    reading = read_increment_notes([f"The following are billed 60/60: {countries}"])
    (unread,) = reading.unread
    assert reading.rules == () and len(unread) == 2001 and unread.endswith("…")
    assert read_increment_notes(["lorem ipsum " * 3000]).unread == ()


def test_two_defaults_that_disagree_are_not_guessed():
    reading = read_increment_notes(["All other destinations: 1/1", "Default billing: 60/60"])
    assert (reading.default.first, reading.default.next) == (1, 1)
    assert reading.unread == ("Default billing: 60/60",)


# --- where the lines come from -----------------------------------------------------------------


def test_a_multi_line_cell_bullets_and_numbering_are_cut_into_sentences():
    cell = "Billing notes:\n• Mexico – 60/60\n• Brazil – 30/6\n1) St. Lucia: 60/60\n2) Other: see"
    assert rules_of(cell) == [
        (("Mexico",), 60, 60), (("Brazil",), 30, 6), (("St. Lucia",), 60, 60),
    ]  # fmt: skip
    assert sentences(["Fiji is billed 60/60. Haiti is billed 30/6! All rates in USD."]) == [
        "Fiji is billed 60/60.",
        "Haiti is billed 30/6!",
        "All rates in USD.",
    ]
    paragraph = "Rates change weekly.\n\n- Cuba: 60/60\n* Chad; Niger: 30/30"
    assert rules_of(paragraph) == [(("Cuba",), 60, 60), (("Chad", "Niger"), 30, 30)]


# --- sentences that speak of increments but give none -------------------------------------------

UNREAD = [
    "Billing increments may vary by destination, see attached",
    "Billing 60/60 applies",
    "Pulse as per agreement.",
    "Rounding: calls are rounded up to the next full minute for Cuba",
    "Die Taktung richtet sich nach dem Vertrag.",
    "La tarificación depende del destino.",
    "Cadência conforme contrato",
    "Les paliers de facturation varient selon la destination.",
    "All prices in USD per minute, billed per second",
    "Se facturará al segundo",
    "Haiti and Cuba are billed 60/60 respectively",
    "Mexico: 60/60, Haiti",  # a name left over
    "Fiji: 30/6 or 60/60",
    "Mexico: new rates 15/10",  # a day and a month, or a pulse: asked, not guessed
]


@pytest.mark.parametrize("sentence", UNREAD)
def test_a_sentence_about_increments_that_gives_no_rule_is_unread(sentence):
    reading = read_increment_notes([sentence])
    assert reading.unread == (sentence,)
    assert reading.rules == () and reading.default is None


# --- text that is not about increments ----------------------------------------------------------

NOT_INCREMENTS = [
    "Valid from: 01/02/2026",
    "Issue date: 16/09/2026; effective 2026-10-01",
    "Our NOC is available 24/7 support",
    "Page 1/3",
    "Document version 2/2",
    "Price 1/2 cent off for the first month",
    "Rates are subject to change without notice. All prices in USD per minute, excluding taxes.",
    "This notification is confidential and intended solely for the addressee.",
    "Invoices are issued monthly; payment terms 30 days net.",
    "Prices are rounded to 4 decimal places.",
    "Services are billed monthly in arrears.",
    "Billing as per the Billing column. Codes marked Closed are withdrawn from their effective "
    "date.",
    "Ref: 10/15 - Section 5/6",
    "Invoice no. 30/60 attached",
    "Tarifas válidas a partir del 01/02/2026; precios en USD por minuto.",
    "Alle Preise in EUR pro Minute, zzgl. MwSt.",
    "Issued 15/10",
    "Minimum commitment 1000 minutes per month",
    "Maintenance windows of minimum 30 minutes are announced 7 days ahead.",
    "Promo Q4 10/12",
    "Les prix sont en EUR par minute, hors taxes.",
    # billing, but not its increments
    "All billing disputes must be raised within 30 days of the invoice date.",
    "Calls are billed from the moment of answer supervision.",
    "Billing cycle: monthly, invoices due net 30.",
    "Support: +44 20 7946 0958, 24/7. Fax 44-20-7946-0959.",
    "Amendments as per clause 12/3 of the Agreement.",
    "Date d'effet : 01/01",  # found by the property below: a French date, not a 1/1 pulse
    "Date d’effet : 1/1",
    "Wirksam 01/03",
]


@pytest.mark.parametrize("text", NOT_INCREMENTS)
def test_legal_text_and_dates_give_nothing(text):
    reading = read_increment_notes([text])
    assert reading.rules == () and reading.default is None and reading.unread == ()


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
    style=st.sampled_from(["%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d",
                           "%d/%m", "%m/%d", "%-d/%-m"]),
    words=st.sampled_from(
        ["Valid from {}", "Issue date: {}", "Rates effective {} 00:00 UTC", "Fecha de vigencia {}",
         "Gültig ab {}", "Date d'effet : {}", "Mexico rates valid from {}",
         "Cuba: new rates from {}", "Tarifas de Cuba desde el {}", "Kuba ab {}",
         "Cuba à partir du {}"]
    ),
)  # fmt: skip
def test_no_date_in_any_format_reads_as_increments(day, style, words):
    text = words.format(day.strftime(style))
    reading = read_increment_notes([text])
    assert reading.rules == () and reading.default is None and reading.unread == ()


def test_speaking_of_increments_needs_the_words_of_billing_time():
    assert speaks_of_increments("Calls are billed in 60 second increments")
    assert speaks_of_increments("Taktung: 60/60")
    assert not speaks_of_increments("Billing questions: billing@example.com")
    assert not speaks_of_increments("Prices rounded to 4 decimals")


# --- countries of names and codes ---------------------------------------------------------------


def test_names_and_codes_resolve_to_regions():
    for name, region in [("Mexico", "MX"), ("México", "MX"), ("Méjico", "MX"),
                         ("Mexique", "MX"), ("Deutschland", "DE"), ("USA", "US"),
                         ("UK", "GB"), ("Russia", "RU"), ("Korea, Republic of", "KR"),
                         ("Ivory Coast", "CI"), ("Côte d’Ivoire", "CI"),
                         ("Trinidad y Tobago", "TT"), ("The Bahamas", "BS")]:  # fmt: skip
        assert regions_named(name) == {region}, name
    assert regions_named("Mexico Mobile") == frozenset()
    assert regions_named("Telcel") == frozenset()
    for code, region in [("52", "MX"), ("5215", "MX"), ("1876", "JM"), ("1264", "AI"),
                         ("1809", "DO"), ("1416", "CA"), ("1212", "US"), ("49", "DE"),
                         ("77", "KZ"), ("74", "RU"), ("4420", "GB")]:  # fmt: skip
        assert region_of_code(code) == region, code
    assert region_of_code("999") is None and region_of_code("") is None


def test_a_name_and_a_column_of_destinations_are_compared_alike():
    texts = ["Côte d’Ivoire Mobile", "ＭＥＸＩＣＯ", "Trinidad & Tobago", "The Bahamas", "Straße",
             "भारत", "กัมพูชา", "Isle of Man (Fixed)", "DEUTSCHLAND-MOBIL", "İstanbul"]  # fmt: skip
    column = pl.select(name_keys(pl.Series(texts))).to_series().to_list()
    assert column == [name_key(t) for t in texts]
    assert column[:4] == ["cote divoire mobile", "mexico", "trinidad tobago", "bahamas"]


# --- rules applied to rows ----------------------------------------------------------------------


def table(lines: tuple[str, ...], *rows: tuple[str, str, str], pulse: bool = False):
    columns = {"destination": ("c0",), "code": ("c1",), "price": ("c2",)}
    headers = {"c0": "Destination", "c1": "Code", "c2": "Rate"}
    if pulse:
        columns["pulse"] = ("c3",)
        headers["c3"] = "Billing"
    data = pl.DataFrame(
        [list(r) for r in rows],
        schema={c: pl.String for c in headers},
        orient="row",
    ).with_columns(pl.int_range(2, 2 + len(rows), dtype=pl.Int64).alias("source_row"))
    found = FoundTable(
        sheet="Rates",
        layout="header",
        kind=Kind.VOICE,
        kind_source="columns",
        header_row=1,
        columns=columns,
        headers=headers,
        data=data,
        notice=NoticeFacts(lines=lines),
    )
    (deck,) = normalize(found)
    return deck


def increments(deck) -> list[tuple[str, int, int]]:
    return list(deck.rows.select("code", "interval1", "interval_n").iter_rows())


def test_a_country_rule_sets_the_rows_of_its_code_whatever_their_description():
    deck = table(
        ("Mexico 60/60", "Jamaica: 30/6", "Deutschland: 60/1", "All other destinations: 1/1"),
        ("Mexico City Mobile Telcel", "5255", "0.1"),
        ("Méjico", "52", "0.1"),
        ("Digicel Kingston", "1876", "0.1"),
        ("Germany Mobile", "4915", "0.1"),
        ("Fiji", "679", "0.1"),
        ("New Mexico", "1505", "0.1"),  # a US area, not Mexico
    )
    assert increments(deck) == [
        ("5255", 60, 60), ("52", 60, 60), ("1876", 30, 6), ("4915", 60, 1), ("679", 1, 1),
        ("1505", 1, 1),
    ]  # fmt: skip
    assert deck.increments == {"notes": 4, "notes default": 2}
    assert deck.doubts == []
    assert [(r["names"], r["rows"], r["default"]) for r in deck.report()["increment_rules"]] == [
        (["Mexico"], 2, False),
        (["Jamaica"], 1, False),
        (["Deutschland"], 1, False),
        ([], 2, True),
    ]
    assert deck.report()["increment_rules"][0]["sentence"] == "Mexico 60/60"


def test_rules_in_other_languages_and_a_multi_line_cell_set_rows_by_country():
    cell = "Observaciones:\n- Méjico 60/60\n- Jamaica y Haití: 30/6\n- Resto del mundo 1/1"
    deck = table(
        (cell,),
        ("Mexico City", "5255", "0.1"),
        ("Kingston Mobile", "1876", "0.1"),
        ("Haiti Natcom", "509", "0.1"),
        ("Canada", "1416", "0.1"),
    )
    assert increments(deck) == [
        ("5255", 60, 60), ("1876", 30, 6), ("509", 30, 6), ("1416", 1, 1),
    ]  # fmt: skip
    assert [r["sentence"] for r in deck.report()["increment_rules"]] == [
        "Méjico 60/60", "Jamaica y Haití: 30/6", "Resto del mundo 1/1",
    ]  # fmt: skip


def test_a_country_name_with_a_qualifier_sets_that_countrys_rows_with_the_qualifier():
    deck = table(
        ("Mexico Mobile: 30/6", "Billing is per minute for all destinations"),
        ("Telcel Mobile", "52155", "0.1"),
        ("Telcel Fixed", "5255", "0.1"),
        ("Mexico Mobile", "1505", "0.1"),  # the text names it, whatever the code
    )
    assert increments(deck) == [("52155", 30, 6), ("5255", 60, 60), ("1505", 30, 6)]


def test_the_most_precise_name_wins():
    deck = table(
        ("Mexico: 60/60", "Mexico Mobile: 30/6"),
        ("Mexico Mobile", "521", "0.1"),
        ("Mexico Fixed", "52", "0.1"),
    )
    assert increments(deck) == [("521", 30, 6), ("52", 60, 60)]


def test_a_name_that_matches_nothing_is_a_doubt():
    deck = table(
        ("Billed 60/60: Mexico, Hati Digicel",),
        ("Mexico", "52", "0.1"),
        ("Haiti Digicel", "509", "0.1"),
    )
    assert increments(deck) == [("52", 60, 60), ("509", 1, 1)]
    (doubt,) = deck.doubts
    assert doubt.subject == "the sentence 'Billed 60/60: Mexico, Hati Digicel'"
    assert "'Hati Digicel' matched no destination" in doubt.question
    assert doubt.answer == '--increments "<destination>=60/60"'
    assert deck.report()["increment_rules"][0]["rows"] == 1


def test_a_country_without_rows_is_not_a_doubt():
    deck = table(("Fiji: 60/60",), ("Mexico", "52", "0.1"))
    assert deck.doubts == []
    assert deck.report()["increment_rules"] == [
        {"sentence": "Fiji: 60/60", "names": ["Fiji"], "first": 60, "next": 60, "rows": 0,
         "default": False},
    ]  # fmt: skip


def test_an_unread_sentence_is_a_doubt_with_the_answer_it_suggests():
    deck = table(
        ("Rates in USD.", "Haiti is billed in 60 second increments as agreed, see annex"),
        ("Haiti", "509", "0.1"),
    )
    assert deck.doubts == []  # it was read: Haiti 60/60
    assert increments(deck) == [("509", 60, 60)]
    deck = table(("Billing 60/60 applies to the routes in the annex",), ("Haiti", "509", "0.1"))
    (doubt,) = deck.doubts
    assert doubt.subject == "the sentence 'Billing 60/60 applies to the routes in the annex'"
    assert doubt.question.startswith("it speaks of billing increments but names no increments")
    assert doubt.answer == '--increments "<destination>=60/60"'
    assert increments(deck) == [("509", 1, 1)]
    deck = table(("Cuba: pulse to be confirmed, 30/6 likely",), ("Cuba", "53", "0.1"))
    assert [d.answer for d in deck.doubts] == ['--increments "Cuba=30/6"']


def test_notes_decide_nothing_when_every_row_has_its_own_increments():
    deck = table(
        ("Billing increments may vary by destination", "Billed 60/60: Atlantis"),
        ("Mexico", "52", "0.1", "1/1"),
        ("Haiti", "509", "0.1", "60/60"),
        pulse=True,
    )
    assert deck.doubts == []
    assert deck.increments == {"pulse": 2}
    assert deck.report()["increment_rules"][0]["rows"] == 0


@pytest.mark.parametrize(
    ("sentence", "answer"),
    [
        ("Naliczanie sekundowe 30/6 dla Meksyku.", '--increments "<destination>=30/6"'),  # pl
        ("Debitering 1/1 gäller alla destinationer.", '--increments "<destination>=1/1"'),  # sv
        ("Mexico (all networks): minimum charge 60 seconds.", '--increments "Mexico=60/60"'),
    ],
)
def test_a_pulse_in_a_sentence_ingestd_cannot_read_is_asked_not_dropped(sentence, answer):
    # words in a language ingestd does not read: the pulse's shape alone says increments
    notes = read_increment_notes([sentence])
    assert notes.rules == () and notes.default is None
    assert notes.unread == (sentence,)
    assert answer_for(sentence) == answer
