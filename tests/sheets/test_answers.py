"""docs/reading.md#decks-nobody-taught-us "vendor profiles that learn": a person's answers as typed,
merged, applied to the reading of a deck, and the header fingerprint that keys them per layout."""

from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import pytest

from ingestd.sheets.answers import Answers, header_fingerprint
from ingestd.sheets.deck import ReadOptions, read_decks
from ingestd.sheets.vocabulary import FIELDS

# --- parsing what a person types -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "columns"),
    [
        (["Indicatif=code"], {"Indicatif": "code"}),
        ([" Tarif / min = price "], {"Tarif / min": "price"}),
        (["Fecha de vigencia=effective_from"], {"Fecha de vigencia": "effective_from"}),
        (["前缀=code", "费率=price"], {"前缀": "code", "费率": "price"}),
        (["Код=code", "Цена=price"], {"Код": "code", "Цена": "price"}),
        (["C=price"], {"C": "price"}),  # a column letter of a sheet without a header row
        (["Notes=ignore"], {"Notes": "ignore"}),
        (["Notes=IGNORE", "Rate=Price"], {"Notes": "ignore", "Rate": "price"}),
        (["Rate (USD)=price"], {"Rate (USD)": "price"}),
        (["a=b=price"], {"a=b": "price"}),  # the field follows the last "="
        # one header given twice (compared as headers are): the later answer and spelling win
        (["Tasa=price", "TASA=price_n"], {"TASA": "price_n"}),
        (["Código=code", "codigo=ignore"], {"codigo": "ignore"}),
    ],
)
def test_map_answers_as_typed(typed, columns):
    answers = Answers.parse(map=typed)
    assert dict(answers.columns) == columns
    assert bool(answers)


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("Indicatif", "expected HEADER=FIELD"),
        ("=code", "expected HEADER=FIELD"),
        ("Indicatif=", "expected HEADER=FIELD"),
        ("  =  ", "expected HEADER=FIELD"),
        ("Indicatif=prefix", "'prefix' is not a field"),
        ("Indicatif=cod", "'cod' is not a field"),
        ("Rate=prices", "'prices' is not a field"),
        ("Rate=price1", "'price1' is not a field"),
        ("Rate=new_price", "'new_price' is not a field"),  # internal, not an answer
    ],
)
def test_bad_map_answers_name_the_text_in_one_line(typed, named):
    with pytest.raises(ValueError) as raised:
        Answers.parse(map=["Destination=destination", typed])
    message = str(raised.value)
    assert f'--map "{typed}"' in message
    assert named in message
    assert "\n" not in message
    if "not a field" in named:
        assert "allowed: code, " in message and message.endswith(", ignore")
        assert all(field in message for field in FIELDS)


@pytest.mark.parametrize(
    ("typed", "increments"),
    [
        ("Mexico=60/60", {"Mexico": (60, 60)}),
        ("Mexico=60-60", {"Mexico": (60, 60)}),
        ("Mexico=60+60", {"Mexico": (60, 60)}),
        ("Mexico = 60 / 60", {"Mexico": (60, 60)}),
        ("Brazil=30/6", {"Brazil": (30, 6)}),
        ("*=1/1", {"*": (1, 1)}),
        ("Mex*=60/60", {"Mex*": (60, 60)}),
        ("Côte d'Ivoire=60/1", {"Côte d'Ivoire": (60, 1)}),
        ("United States - Alaska=6/6", {"United States - Alaska": (6, 6)}),
        ("Россия=60/60", {"Россия": (60, 60)}),
        ("墨西哥=60/60", {"墨西哥": (60, 60)}),
    ],
)
def test_increment_answers_as_typed(typed, increments):
    assert dict(Answers.parse(increments=[typed]).increments) == increments


def test_increments_of_one_destination_given_twice_keep_the_later():
    answers = Answers.parse(increments=["Mexico=60/60", "MEXICO=30/6", "Haiti=60/60"])
    assert dict(answers.increments) == {"MEXICO": (30, 6), "Haiti": (60, 60)}


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("Mexico=60", "'60' is not increments"),
        ("Mexico=60/60/60", "is not increments"),
        ("Mexico=a/b", "is not increments"),
        ("Mexico=-60/60", "is not increments"),
        ("Mexico=1.5/1", "is not increments"),
        ("Mexico=sixty", "is not increments"),
        ("Mexico=0/60", "above 0"),
        ("Mexico=60/0", "above 0"),
        ("=60/60", "expected DESTINATION=60/60"),
        ("Mexico", "expected DESTINATION=60/60"),
    ],
)
def test_bad_increment_answers_name_the_text_in_one_line(typed, named):
    with pytest.raises(ValueError) as raised:
        Answers.parse(increments=[typed])
    message = str(raised.value)
    assert f'--increments "{typed}"' in message and named in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("date_order", "hyphen", "parsed"),
    [
        ("dmy", None, ("dmy", None)),
        ("MDY", None, ("mdy", None)),
        (" ymd ", "Range", ("ymd", "range")),
        (None, "pair", (None, "pair")),
    ],
)
def test_date_order_and_hyphen_answers(date_order, hyphen, parsed):
    answers = Answers.parse(date_order=date_order, hyphen=hyphen)
    assert (answers.date_order, answers.hyphen) == parsed
    assert bool(answers)


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"date_order": "dd/mm/yyyy"}, "--date-order 'dd/mm/yyyy': allowed: dmy, mdy, ymd"),
        ({"date_order": "auto"}, "--date-order 'auto'"),  # an answer decides; auto decides not
        ({"hyphen": "dash"}, "--hyphen 'dash': allowed: range, pair"),
        ({"hyphen": "auto"}, "--hyphen 'auto'"),
    ],
)
def test_bad_date_order_and_hyphen_answers(kw, named):
    with pytest.raises(ValueError, match="allowed") as raised:
        Answers.parse(**kw)
    assert named in str(raised.value)


def test_no_answer_is_false_and_changes_nothing():
    empty = Answers.parse()
    assert not empty and empty == Answers()
    options = ReadOptions(columns={"Tasa": "price"}, date_order="mdy")
    assert empty.applied_to(options) is options


# --- merging, applying, storing --------------------------------------------------------------


def test_newer_answers_win_key_by_key():
    older = Answers.parse(
        map=["Código=code", "Tasa=price"], increments=["Mexico=60/60", "*=1/1"], date_order="dmy"
    )
    newer = Answers.parse(map=["CODIGO=ignore", "Zone=destination"], increments=["mexico=30/6"])
    merged = older.merged(newer)
    assert dict(merged.columns) == {"Tasa": "price", "CODIGO": "ignore", "Zone": "destination"}
    assert dict(merged.increments) == {"*": (1, 1), "mexico": (30, 6)}
    assert (merged.date_order, merged.hyphen) == ("dmy", None)  # not answered again: kept
    assert older.merged(Answers.parse(hyphen="pair", date_order="ymd")).date_order == "ymd"
    assert older.merged(Answers()) == older
    assert Answers().merged(older) == older


def test_answers_win_over_the_vendor_configuration():
    vendor = ReadOptions(
        columns={"Tasa": "price", "Zona": "destination"},
        increment_rules={"mexico": (1, 1), "Brazil": (30, 6)},
        default_intervals=(6, 6),
        date_order="mdy",
        hyphen="auto",
    )
    answers = Answers.parse(
        map=["TASA=ignore", "Precio=price"],
        increments=["Mexico=60/60", "*=1/1"],
        date_order="dmy",
    )
    read = answers.applied_to(vendor)
    assert dict(read.columns) == {"Zona": "destination", "TASA": "ignore", "Precio": "price"}
    # the answer for Mexico replaces the vendor's and comes first; Brazil's rule stays
    assert list(read.increment_rules.items()) == [("Mexico", (60, 60)), ("Brazil", (30, 6))]
    # every other destination: after the rules of the vendor and of the notes
    assert read.default_intervals == (1, 1)
    assert (read.date_order, read.hyphen) == ("dmy", "auto")
    assert Answers.parse(hyphen="range").applied_to(vendor).hyphen == "range"
    assert Answers.parse(hyphen="range").applied_to(vendor).default_intervals == (6, 6)


def test_answers_survive_json_and_say_how_they_were_typed():
    answers = Answers.parse(
        map=["Indicatif=code", "前缀=code"],
        increments=["Mexico=60-60", "*=1+1"],
        date_order="DMY",
        hyphen="pair",
    )
    stored = json.loads(json.dumps(answers.as_dict()))
    assert Answers.from_dict(stored) == answers
    assert Answers.from_dict({}) == Answers()
    assert answers.as_options() == [
        '--map "Indicatif=code"',
        '--map "前缀=code"',
        '--increments "Mexico=60/60"',
        '--increments "*=1/1"',
        "--date-order dmy",
        "--hyphen pair",
    ]
    # what was typed once reads back the same from its options
    again = Answers.parse(
        map=["Indicatif=code", "前缀=code"],
        increments=["Mexico=60/60", "*=1/1"],
        date_order="dmy",
        hyphen="pair",
    )
    assert again == answers


@pytest.mark.parametrize(
    "stored",
    [
        {"columns": {"Rate": "prize"}},
        {"increments": {"Mexico": [0, 60]}},
        {"date_order": "auto"},
        {"hyphen": "dash"},
    ],
)
def test_stored_answers_are_checked_as_typed_ones(stored):
    with pytest.raises(ValueError):
        Answers.from_dict(stored)


# --- the layout key --------------------------------------------------------------------------


def test_a_fingerprint_compares_headers_as_headers_are_compared():
    base = header_fingerprint(["Código", "Destino", "Tarifa (USD)"])
    assert len(base) == 16 and int(base, 16) >= 0
    assert header_fingerprint(["CODIGO", " destino ", "tarifa usd"]) == base
    assert header_fingerprint(["Código", None, "", "Destino", "  ", "Tarifa (USD)"]) == base
    assert header_fingerprint(["Destino", "Código", "Tarifa (USD)"]) != base  # order counts
    assert header_fingerprint(["Código", "Destino", "Tarifa (EUR)"]) != base
    assert header_fingerprint(["Código", "Destino"]) != base
    assert header_fingerprint(["前缀", "目的地", "费率"]) != header_fingerprint(["前缀", "费率"])


def test_a_sheet_without_a_header_row_is_keyed_by_its_width():
    assert header_fingerprint([None] * 12, headerless=True) == "headerless:12"
    assert header_fingerprint(["44", "UK", "0.01"], headerless=True) == "headerless:3"
    assert header_fingerprint([None, " ", ""]) == "headerless:3"


# --- answers in the reading of a deck --------------------------------------------------------

# a deck whose code column no vocabulary names
ZORG = (
    "Zorg,Pays,Tarif,Date\n"
    "52,Mexico,0.0300,03/04/2025\n"
    "509,Haiti,0.2000,03/04/2025\n"
    "33,France,0.0200,03/04/2025\n"
    "49,Germany,0.0150,03/04/2025\n"
)


def read(data: bytes | str, name: str = "deck.csv", **answers):
    options = Answers.parse(**answers).applied_to(ReadOptions(kind="voice"))
    data = data.encode() if isinstance(data, str) else data
    (deck,) = read_decks(data, filename=name, options=options)
    return deck


def by_code(deck, column: str) -> dict:
    return dict(zip(deck.rows["code"].to_list(), deck.rows[column].to_list(), strict=True))


def test_answers_given_decide_columns_increments_and_dates():
    deck = read(
        ZORG,
        map=["Zorg=code", "Pays=destination", "Tarif=price", "Date=effective_from"],
        increments=["Mexico=60/60", "Haiti=60-60", "*=30/6"],
        date_order="dmy",
    )
    assert deck.mapping["Zorg"] == "code"
    intervals = {
        code: (first, after)
        for code, first, after in deck.rows.select("code", "interval1", "interval_n").iter_rows()
    }
    assert intervals == {"52": (60, 60), "509": (60, 60), "33": (30, 6), "49": (30, 6)}
    assert set(by_code(deck, "effective_from").values()) == {dt.datetime(2025, 4, 3)}
    mdy = read(ZORG, map=["Zorg=code"], date_order="mdy")
    assert set(by_code(mdy, "effective_from").values()) == {dt.datetime(2025, 3, 4)}


def test_an_ignored_column_is_not_read():
    deck = read(ZORG, map=["Zorg=code", "Date=ignore"], date_order="dmy")
    assert "Date" not in deck.mapping


def xlsx(text: str) -> bytes:
    book = openpyxl.Workbook()
    for line in text.splitlines():
        book.active.append(line.split(","))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_decks_of_one_layout_share_a_fingerprint_whatever_their_rows_or_format():
    first = read(ZORG, map=["Zorg=code"], date_order="dmy")
    assert first.fingerprint == header_fingerprint(["Zorg", "Pays", "Tarif", "Date"])
    assert first.header == ("Zorg", "Pays", "Tarif", "Date")
    fewer_rows = "\n".join(ZORG.splitlines()[:3]).replace("0.0300", "0.0310")
    assert read(fewer_rows, map=["Zorg=code"], date_order="dmy").fingerprint == first.fingerprint
    as_workbook = read(xlsx(ZORG), "deck.xlsx", map=["Zorg=code"], date_order="dmy")
    assert as_workbook.fingerprint == first.fingerprint
    other = ZORG.replace("Tarif", "Precio")
    assert read(other, map=["Zorg=code"], date_order="dmy").fingerprint != first.fingerprint


def test_a_deck_without_a_header_row_gets_the_headerless_key():
    rows = "\n".join(
        f"{code},{name},0.0{i}00,60,0.0{i}00,60,,,,,2025-04-03,2026-04-03"
        for i, (code, name) in enumerate([("52", "Mexico"), ("33", "France"), ("49", "Germany")])
    )
    deck = read(rows + "\n")
    assert deck.header_row is None
    assert deck.fingerprint == "headerless:12"  # the Transmission Guidelines' 12 columns
