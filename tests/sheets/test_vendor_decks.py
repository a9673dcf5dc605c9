"""docs/reading.md#decks-nobody-taught-us acceptance: decks as vendors write them, read with no
vendor configuration at all.

Each deck ends one of two ways: read exactly (every row, and no doubt), or held with the precise
question whose answer, given back as a read option, then reads it exactly.  A deck is never
expected to be read on a silent default where a careful analyst would have a doubt."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import openpyxl
import pytest
import vendor_decks as v
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from ingestd.errors import SheetError
from ingestd.sheets.deck import ReadOptions, read_decks

NOW = None  # an ASAP word: effective as soon as loaded


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day)


def row(code, price, start=NOW, pulse=(1, 1), *, n=None, gone=False) -> tuple:
    """(code, price1, price_n, interval1, interval_n, effective_from, discontinued)."""
    return (code, Decimal(price), Decimal(n or price), *pulse, start, gone)


def removed(code, start) -> tuple:
    """A code-change removal: no rate of its own, discontinued from its date."""
    return (code, Decimal(0), Decimal(0), 1, 1, start, True)


def rows_of(deck) -> list[tuple]:
    cols = ["code", "price1", "price_n", "interval1", "interval_n", "effective_from"]
    got = deck.rows.select(*cols, "discontinued").rows()
    return sorted(got, key=_order)


def _order(r: tuple):
    return (r[0], r[5] or dt.datetime.min)


def read(built: v.Built, **options) -> list:
    return read_decks(built.data, filename=built.filename, options=ReadOptions(**options))


def one(built: v.Built, **options):
    decks = read(built, **options)
    assert len(decks) == 1, [(d.sheet, d.table_suffix) for d in decks]
    return decks[0]


def describe(deck) -> str:
    return json.dumps(
        {
            "report": deck.report(),
            "errors": [e.as_dict() for e in deck.errors],
        },
        default=str,
        ensure_ascii=False,
    )[:3000]


@dataclass(frozen=True)
class Case:
    build: Callable[[], v.Built]
    rows: list[tuple]
    waits_for: str | None = None  # the reader capability missing today (strict xfail)


def params(cases: dict[str, Case]):
    out = []
    for name, case in cases.items():
        marks = [pytest.mark.xfail(strict=True, reason=case.waits_for)] if case.waits_for else []
        out.append(pytest.param(case, id=name, marks=marks))
    return out


# --- (a) decks read exactly -----------------------------------------------------------------

M16, M18, M20 = at("2026-03-16"), at("2026-03-18"), at("2026-03-20")

READ_EXACTLY: dict[str, Case] = {
    # 1. headers in the languages vendors write
    "es-andina-xlsx": Case(
        v.es_andina_xlsx,
        [
            row("34", "0.0120"),
            row("52", "0.0185", NOW, (60, 60)),
            row("521", "0.0240", NOW, (60, 60)),
            row("54", "0.0320", M16),
            row("5411", "0.0095", M16),
            row("57", "0.0410", M16, (60, 60)),
        ],
    ),
    "es-iberica-cp1252": Case(
        v.es_iberica_cp1252,
        [
            row("33", "0.0105", at("2026-04-20")),
            row("34", "0.0098", at("2026-04-01")),
            row("346", "0.0145", at("2026-04-01")),
            row("351", "0.0110", at("2026-04-01")),
            row("3519", "0.0190", at("2026-04-20")),
            row("39", "0.0112"),
        ],
    ),
    "es-pais-area-cp1252": Case(
        v.es_pais_area_csv,
        [
            row("5411", "0.0093"),
            row("54351", "0.0131"),
            row("549", "0.0298", at("2026-03-24")),
            row("59521", "0.0510", at("2026-03-24")),
            row("5982", "0.0840", at("2026-03-24")),
        ],
    ),
    "pt-voxbrasil-xlsx": Case(
        v.pt_voxbrasil_xlsx,
        [
            row("244", "0.0850", NOW, (60, 60)),
            row("258", "0.0920", at("2026-03-15"), (60, 60)),
            row("351", "0.0105", at("2026-03-15"), (60, 60)),
            row("3519", "0.0195", at("2026-03-15"), (60, 60)),
            row("55", "0.0075", NOW, (30, 6)),
            row("5511", "0.0062", NOW, (30, 6)),
            row("55119", "0.0310", at("2026-03-15"), (30, 6)),
        ],
    ),
    "pt-lusotel-utf8bom": Case(
        v.pt_lusotel_utf8bom,
        [
            row("238", "0.1850"),
            row("239", "0.4100"),
            row("245", "0.3200", at("2026-03-25")),
            row("351", "0.0102", at("2026-03-25")),
            row("3519", "0.0188", at("2026-03-25")),
        ],
    ),
    "fr-atlantique-xlsx": Case(
        v.fr_atlantique_xlsx,
        [
            row("212", "0.0650", at("2026-03-17"), (60, 60)),
            row("2126", "0.2100", NOW, (60, 60)),
            row("225", "0.1300", at("2026-03-17"), (60, 60)),
            row("32", "0.0110", at("2026-03-17"), (60, 60)),
            row("324", "0.0290", at("2026-03-17"), (60, 60)),
            row("33", "0.0085", NOW, (60, 60)),
            row("336", "0.0160", NOW, (60, 60)),
        ],
    ),
    "fr-hexavoix-cp1252": Case(
        v.fr_hexavoix_cp1252,
        [
            row("213", "0.0870"),
            row("216", "0.0980", at("2026-04-14")),
            row("221", "0.1450", at("2026-04-14")),
            row("2217", "0.1890", at("2026-04-14")),
            row("237", "0.1620"),
        ],
    ),
    "de-nordwind-xlsx": Case(
        v.de_nordwind_xlsx,
        [
            row("41", "0.0150", M18, (60, 60)),
            row("4179", "0.0590", NOW, (60, 60)),
            row("43", "0.0078", M18, (60, 60)),
            row("4366", "0.0210", M18),
            row("49", "0.0045", NOW, (60, 60)),
            row("4915", "0.0095", NOW, (60, 60)),
        ],
    ),
    "de-alpentel-cp1252": Case(
        v.de_alpentel_cp1252,
        [
            row("420", "0.0095", at("2026-04-15")),
            row("48", "0.0088", at("2026-04-15")),
            row("485", "0.0120", at("2026-04-15")),
            row("81", "0.0310", at("2026-04-15")),
            row("82", "0.0270", at("2026-04-15")),
        ],
    ),
    "it-tirreno-xlsx": Case(
        v.it_tirreno_xlsx,
        [
            row("30", "0.0095", M20),
            row("356", "0.0480", M20, (60, 60)),
            row("378", "0.0650", M20, (60, 60)),
            row("39", "0.0052", NOW, (60, 60)),
            row("393", "0.0115", NOW, (60, 60)),
        ],
    ),
    "it-adriatica-utf8": Case(
        v.it_adriatica_utf8,
        [
            row("382", "0.1100"),
            row("385", "0.0330", at("2026-03-23")),
            row("3859", "0.0610", at("2026-03-23")),
            row("386", "0.0290", at("2026-03-23")),
            row("387", "0.0870"),
        ],
    ),
    "ru-svyaz-cp1251": Case(
        v.ru_svyaz_cp1251,
        [
            row("375", "0.0850", M16, (60, 60)),
            row("380", "0.0740", M16, (60, 60)),
            row("7", "0.0110", NOW, (60, 60)),
            row("7495", "0.0060", NOW, (60, 60)),
            row("79", "0.0190", M16, (60, 60)),
            row("998", "0.0930", NOW, (60, 60)),
        ],
    ),
    "ru-baltica-koi8r": Case(
        v.ru_baltica_koi8r,
        [
            row("374", "5.4000", M20),
            row("7701", "4.1200", M20),
            row("7727", "2.8500", M20),
            row("992", "7.1500"),
            row("995", "4.9800"),
            row("996", "6.3000", M20),
        ],
    ),
    "tr-anadolu-cp1254": Case(
        v.tr_anadolu_cp1254,
        [
            row("49", "0.0048", M18),
            row("90", "0.0095", M18),
            row("905", "0.0310", M18),
            row("993", "0.1800", M18),
            row("994", "0.1450", M18),
        ],
    ),
    "tr-bosphorus-xlsx": Case(
        v.tr_bosphorus_xlsx,
        [
            row("30", "0.0098", at("2026-03-21")),
            row("359", "0.0150", at("2026-03-21")),
            row("90212", "0.0070", at("2026-03-21"), (60, 60)),
            row("90312", "0.0072", at("2026-03-21"), (60, 60)),
            row("9053", "0.0285", at("2026-03-21"), (60, 60)),
        ],
    ),
    "ar-khaleej-xlsx": Case(
        v.ar_khaleej_xlsx,
        [
            row("20", "0.0610", at("2026-03-22")),
            row("201", "0.0690", at("2026-03-22")),
            row("962", "0.0950", at("2026-03-22")),
            row("966", "0.0450", at("2026-03-22")),
            row("9665", "0.0720", at("2026-03-22")),
            row("971", "0.0830", at("2026-03-22")),
        ],
    ),
    "ar-nile-cp1256": Case(
        v.ar_nile_cp1256,
        [
            row("212", "0.0640", at("2026-03-15")),
            row("213", "0.0880", at("2026-03-15")),
            row("216", "0.0970", at("2026-03-15")),
            row("218", "0.1150", at("2026-03-15")),
            row("249", "0.2100", at("2026-03-15")),
        ],
    ),
    "zh-huayu-xlsx": Case(
        v.zh_huayu_xlsx,
        [
            row("65", "0.0075"),
            row("852", "0.0120", M20, (6, 6)),
            row("853", "0.0450", M20, (60, 60)),
            row("86", "0.0085", NOW, (60, 60)),
            row("8613", "0.0092", NOW, (60, 60)),
            row("886", "0.0330", M20, (60, 60)),
        ],
    ),
    "zh-dongfang-gb18030": Case(
        v.zh_dongfang_gb18030,
        [
            row("60", "0.0210"),
            row("66", "0.0370", M20),
            row("81", "0.0290", M20),
            row("82", "0.0250", M20),
            row("84", "0.0680"),
        ],
    ),
    "ar-sahara-utf8": Case(
        v.ar_sahara_utf8,
        [
            row("964", "0.0980", at("2026-03-19")),
            row("965", "0.0890", at("2026-03-19")),
            row("968", "0.1720", at("2026-03-19")),
            row("973", "0.1240", at("2026-03-19")),
            row("974", "0.1650", at("2026-03-19")),
        ],
    ),
    "zh-haitong-utf16-tab": Case(
        v.zh_haitong_utf16_tab,
        [
            row("855", "0.0610", at("2026-03-25")),
            row("856", "0.0750", at("2026-03-25")),
            row("880", "0.0400"),
            row("95", "0.0920"),
            row("977", "0.1250", at("2026-03-25")),
        ],
    ),
    "de-rheinland-latin9": Case(
        v.de_rheinland_latin9,
        [
            row("31", "0.0072", at("2026-03-23"), (60, 60)),
            row("316", "0.0183", at("2026-03-23"), (60, 60)),
            row("32", "0.0107", at("2026-03-23"), (60, 60)),
            row("352", "0.0121", NOW, (60, 60)),
            row("45", "0.0084"),
        ],
    ),
    "zh-jinqiao-utf8": Case(
        v.zh_jinqiao_utf8,
        [
            row("62", "0.0405", at("2026-03-26")),
            row("852", "0.0118", NOW, (6, 6)),
            row("8525", "0.0135", NOW, (6, 6)),
            row("886", "0.0325", at("2026-03-26"), (60, 60)),
            row("8869", "0.0560", at("2026-03-26"), (60, 60)),
        ],
    ),
    "en-globalvoice-xlsx": Case(
        v.en_globalvoice_xlsx,
        [
            row("353", "0.0090", at("2026-03-02")),
            row("3538", "0.0240", at("2026-03-02")),
            row("44", "0.0065", at("2026-03-09")),
            row("447", "0.0105", at("2026-03-09")),
            row("61", "0.0120", at("2026-03-09"), (60, 60)),
            row("614", "0.0310", at("2026-03-09"), (60, 60)),
        ],
    ),
    "en-pacific-csv": Case(
        v.en_pacific_csv,
        [
            row("1204", "0.0042", NOW, (6, 6)),
            row("1416", "0.0040", NOW, (6, 6)),
            row("63", "0.1150", M16, (60, 60)),
            row("639", "0.1680", M16, (60, 60)),
            row("64", "0.0210", M16),
        ],
    ),
    # 2. no header row, readable by content
    "headerless-name-first-csv": Case(
        v.headerless_name_first_csv,
        [
            row("213", "0.0880", at("2026-03-15")),
            row("244", "0.0850", at("2026-03-15")),
            row("355", "0.0920", at("2026-03-15")),
            row("376", "0.0610", at("2026-03-15")),
            row("93", "0.2150", at("2026-03-15")),
            row("9370", "0.2380", at("2026-03-15")),
        ],
    ),
    "headerless-pulse-xlsx": Case(
        v.headerless_pulse_xlsx,
        [
            row("51", "0.0160", M18),
            row("52", "0.0175", M18, (60, 60)),
            row("521", "0.0230", M18, (60, 60)),
            row("56", "0.0190", M18),
            row("569", "0.0340", M18),
            row("591", "0.0980", M18, (60, 60)),
        ],
    ),
    "generic-headers-column1": Case(
        v.generic_headers_csv,
        [
            row("250", "0.1650", at("2026-03-19")),
            row("254", "0.0515", at("2026-03-19")),
            row("2547", "0.0990", at("2026-03-19")),
            row("255", "0.1280", at("2026-03-19")),
            row("256", "0.1410", at("2026-03-19")),
        ],
    ),
    # 3. intervals in two columns
    "intervals-min-duration-increment": Case(
        v.intervals_min_duration_xlsx,
        [
            row("44", "0.0062", at("2026-03-10")),
            row("509", "0.1850", at("2026-03-10"), (60, 60)),
            row("52", "0.0180", at("2026-03-10"), (60, 60)),
            row("55", "0.0070", at("2026-03-10"), (30, 6)),
            row("91", "0.0095", at("2026-03-10")),
        ],
    ),
    "intervals-initial-additional": Case(
        v.intervals_initial_additional_csv,
        [
            row("1242", "0.0890", NOW, (6, 6)),
            row("1809", "0.0420", NOW, (60, 60)),
            row("1876", "0.1350", NOW, (60, 60)),
            row("506", "0.0310"),
            row("507", "0.0290", NOW, (30, 6)),
        ],
    ),
    "intervals-mindestdauer-folgetakt": Case(
        v.intervals_mindestdauer_cp1252,
        [
            row("36", "0.0094", at("2026-04-15"), (60, 1)),
            row("386", "0.0280", at("2026-04-15"), (60, 60)),
            row("40", "0.0105", at("2026-04-15")),
            row("421", "0.0099", at("2026-04-15"), (30, 30)),
            row("48", "0.0086", at("2026-04-15"), (60, 60)),
        ],
    ),
    "intervals-min-inc": Case(
        v.intervals_min_inc_pipe,
        [
            row("880", "0.0420"),
            row("8801", "0.0395"),
            row("92", "0.0610", NOW, (60, 60)),
            row("923", "0.0705", NOW, (60, 60)),
            row("94", "0.0980", NOW, (30, 30)),
        ],
    ),
    # 4. increments only in prose
    "prose-footnote": Case(
        v.prose_footnote_xlsx,
        [
            row("1809", "0.0410", at("2026-03-12"), (60, 60)),
            row("44", "0.0061", at("2026-03-12")),
            row("49", "0.0052", at("2026-03-12")),
            row("509", "0.1820", at("2026-03-12"), (60, 60)),
            row("52", "0.0180", at("2026-03-12"), (60, 60)),
            row("521", "0.0235", at("2026-03-12"), (60, 60)),
        ],
    ),
    "prose-notice-sentence": Case(
        v.prose_notice_sentence_csv,
        [
            row("50937", "0.1790", at("2026-03-15"), (60, 60)),
            row("5255", "0.0085", at("2026-03-15"), (60, 60)),
            row("52155", "0.0240", at("2026-03-15"), (60, 60)),
            row("5511", "0.0060", at("2026-03-15"), (30, 6)),
            row("55219", "0.0290", at("2026-03-15"), (30, 6)),
            row("56", "0.0180", at("2026-03-15")),
        ],
    ),
    "prose-legal-cell": Case(
        v.prose_legal_cell_xlsx,
        [
            row("62", "0.0410", at("2026-03-14"), (30, 30)),
            row("628", "0.0520", at("2026-03-14"), (30, 30)),
            row("63", "0.1120", at("2026-03-14"), (30, 30)),
            row("639", "0.1650", at("2026-03-14"), (30, 30)),
            row("66", "0.0350", at("2026-03-14")),
            row("84", "0.0660", at("2026-03-14")),
        ],
    ),
    "prose-notes-sheet-es": Case(
        v.prose_notes_sheet_es_xlsx,
        [
            row("51", "0.0170"),
            row("521", "0.0236", NOW, (60, 60)),
            row("5255", "0.0088", NOW, (60, 60)),
            row("56", "0.0182"),
            row("571", "0.0105", NOW, (60, 60)),
            row("573", "0.0150", NOW, (60, 60)),
        ],
    ),
    "prose-default-clause": Case(
        v.prose_default_clause_csv,
        [
            row("880", "0.0410", M20, (60, 60)),
            row("91", "0.0098", M20),
            row("919", "0.0102", M20),
            row("92", "0.0590", M20),
            row("94", "0.0950", M20, (60, 60)),
            row("977", "0.1280", M20, (60, 60)),
        ],
    ),
    # 5. a column of clear pulses under a header nobody knows is a pulse by its content
    "unknown-header-tasacion-especial": Case(
        v.unknown_pulse_header_es_xlsx,
        [
            row("58", "0.0430", M16),
            row("593", "0.0610", M16, (60, 60)),
            row("5939", "0.1120", M16, (60, 60)),
            row("595", "0.0520", M16),
            row("598", "0.0870", M16, (30, 30)),
        ],
    ),
    "unknown-header-bill-blk": Case(
        v.unknown_pulse_header_bill_blk_csv,
        [
            row("30", "0.0097", M16),
            row("357", "0.0160", M16, (6, 6)),
            row("90", "0.0099", M16),
            row("972", "0.0125", M16, (60, 60)),
            row("9725", "0.0240", M16, (60, 60)),
        ],
    ),
    # 6. NANP pairs and ranges
    "nanp-pairs-and-ranges": Case(
        v.nanp_pairs_ranges_xlsx,
        sorted(
            [
                row("1264497", "0.1320", at("2026-03-10")),
                row("1264581", "0.1450", at("2026-03-10")),
                row("18763", "0.1680", at("2026-03-10")),
                row("4420", "0.0048", at("2026-03-10")),
                *(row(f"44740{d}", "0.0105", at("2026-03-10")) for d in range(10)),
                row("9370", "0.2380", at("2026-03-10")),
            ],
            key=_order,
        ),
    ),
    "nanp-code-lists": Case(
        v.nanp_code_lists_csv,
        [
            row("1242357", "0.1150"),
            row("1242359", "0.1150"),
            row("144129", "0.0640"),
            row("3366", "0.0155"),
            row("3367", "0.0155"),
            row("3368", "0.0155"),
            row("3369", "0.0155"),
            row("49151", "0.0098"),
            row("49152", "0.0098"),
            row("7495", "0.0063"),
        ],
    ),
    # 11. billing-system exports
    "billing-pfx": Case(
        v.billing_pfx_csv,
        [
            row("3531", "0.0081", at("2026-03-11")),
            row("3538", "0.0235", at("2026-03-11")),
            row("4412", "0.0058", at("2026-03-11")),
            row("4420", "0.0049", at("2026-03-11")),
            row("447", "0.0102", at("2026-03-11")),
        ],
    ),
    "billing-a2billing-order": Case(
        v.billing_a2billing_csv,
        [
            row("33", "0.0090", at("2026-03-12"), (30, 6)),
            row("336", "0.0170", at("2026-03-12"), (30, 6)),
            row("34", "0.0085", at("2026-03-12")),
            row("44", "0.0070", at("2026-03-12"), (60, 60)),
            row("447", "0.0115", at("2026-03-12"), (60, 60)),
        ],
    ),
    "billing-dialprefix-ids": Case(
        v.billing_dialprefix_ids_csv,
        [
            row("61", "0.0118"),
            row("614", "0.0305"),
            row("64", "0.0205"),
            row("642", "0.0410"),
            row("679", "0.2350"),
        ],
    ),
    # 12. workbooks of several sheets
    "workbook-regions": Case(
        v.workbook_regions_xlsx,
        [
            row("1", "0.0040", M16),
            row("33", "0.0088", M16),
            row("44", "0.0063", M16),
            row("49", "0.0053", M16),
            row("54", "0.0315", M16),
            row("55", "0.0072", M16),
            row("81", "0.0295", M16),
            row("86", "0.0086", M16),
        ],
    ),
    "workbook-info-summary": Case(
        v.workbook_info_summary_xlsx,
        [
            row("31", "0.0074", at("2026-04-01")),
            row("316", "0.0185", at("2026-04-01")),
            row("32", "0.0108", at("2026-04-01")),
            row("352", "0.0122", at("2026-04-01")),
        ],
    ),
}


@pytest.mark.parametrize("case", params(READ_EXACTLY))
def test_deck_reads_exactly(case: Case) -> None:
    deck = one(case.build())
    assert rows_of(deck) == sorted(case.rows, key=_order), describe(deck)
    assert deck.doubts == [], describe(deck)
    assert deck.errors == [], describe(deck)
    if not case.build.__name__.startswith("headerless"):
        assert deck.layout != "guidelines"  # a header row was there: never the positional layout


WORKBOOKS = {
    "workbook-regions": (
        v.workbook_regions_xlsx,
        ("Cover", "Europe", "Americas", "Asia", "Notes", "Sheet6"),
    ),
    "workbook-info-summary": (v.workbook_info_summary_xlsx, ("Info", "A-Z", "Summary")),
    "code-changes-en": (v.code_changes_en_xlsx, ("Rates", "Code Changes")),
}


@pytest.mark.parametrize(
    "name",
    [
        "workbook-regions",
        "workbook-info-summary",
        "code-changes-en",
    ],
)
def test_every_sheet_accounted_for(name: str) -> None:
    build, sheets = WORKBOOKS[name]
    decks = read(build())
    said = json.dumps([d.report() for d in decks], ensure_ascii=False)
    for sheet in sheets:
        assert json.dumps(sheet, ensure_ascii=False) in said or repr(sheet) in said, (sheet, said)


# --- (b) decks held with a precise question, and read exactly once it is answered -----------


@dataclass(frozen=True)
class Hold:
    build: Callable[[], v.Built]
    answer: str  # a regular expression the answer of one doubt matches in full
    answered: dict  # the answer given back as read options
    rows: list[tuple]
    waits_for: str | None = None


HELD: dict[str, Hold] = {
    # 1. slash dates that never prove day-first or month-first
    "en-ambiguous-dates": Hold(
        v.en_ambiguous_dates_csv,
        re.escape("--date-order dmy") + "|" + re.escape("--date-order mdy"),
        {"date_order": "dmy"},
        [
            row("233", "0.1120", at("2026-04-05")),
            row("234", "0.0610", at("2026-04-01")),
            row("254", "0.0520", at("2026-04-05")),
            row("27", "0.0210", at("2026-04-03")),
            row("2782", "0.0390", at("2026-04-03")),
        ],
    ),
    # 1. peak and off-peak prices: which is the rate is the vendor's to say
    "en-peak-offpeak": Hold(
        v.en_peak_offpeak_csv,
        re.escape('--map "Peak=price"') + "|" + re.escape('--map "Off-Peak=price"'),
        {"columns": {"Peak": "price", "Off-Peak": "ignore"}},
        [
            row("33", "0.0091", M16),
            row("44", "0.0066", M16),
            row("447", "0.0110", M16),
            row("49", "0.0057", M16),
        ],
    ),
    # 2. no header, two price-like columns and nothing telling which is the rate
    "headerless-two-prices": Hold(
        v.headerless_two_prices_csv,
        # the price asked, with the other column of prices left out
        re.escape('--map "C=price" --map "D=ignore"')
        + "|"
        + re.escape('--map "D=price" --map "C=ignore"'),
        {"columns": {"C": "price_current", "D": "price"}},
        [
            row("33", "0.0095"),
            row("39", "0.0090"),
            row("44", "0.0135"),
            row("447", "0.0165"),
            row("49", "0.0058"),
        ],
    ),
    # 4. a sentence about increments that gives no pair
    "prose-unreadable": Hold(
        v.prose_unreadable_xlsx,
        re.escape('--increments "Mexico=60/') + r"\d+" + re.escape('"'),
        {"increment_rules": {"Mexico": (60, 60)}},
        [
            row("502", "0.0890", at("2026-03-12")),
            row("503", "0.0760", at("2026-03-12")),
            row("52", "0.0178", at("2026-03-12"), (60, 60)),
            row("521", "0.0231", at("2026-03-12"), (60, 60)),
        ],
    ),
    # 5. bare seconds under a header nobody knows: first interval, next, or both?
    "unknown-bare-seconds": Hold(
        v.unknown_bare_seconds_csv,
        "|".join(re.escape(f'--map "Rnd={f}"') for f in ("pulse", "interval1", "interval_n")),
        {"columns": {"Rnd": "pulse"}},
        [
            row("373", "0.0920", NOW, (60, 60)),
            row("375", "0.0860"),
            row("380", "0.0750"),
            row("7", "0.0115", NOW, (60, 60)),
            row("7495", "0.0062", NOW, (60, 60)),
        ],
    ),
    "unknown-bare-seconds-es": Hold(
        v.unknown_bare_seconds_es_xlsx,
        "|".join(
            re.escape(f'--map "Redondeo (seg)={f}"') for f in ("pulse", "interval1", "interval_n")
        ),
        {"columns": {"Redondeo (seg)": "pulse"}},
        [
            row("502", "0.0880", NOW, (60, 60)),
            row("504", "0.1120", NOW, (60, 60)),
            row("505", "0.1390", NOW, (6, 6)),
            row("506", "0.0305"),
        ],
    ),
}


def held_params():
    out = []
    for name, case in HELD.items():
        marks = [pytest.mark.xfail(strict=True, reason=case.waits_for)] if case.waits_for else []
        out.append(pytest.param(case, id=name, marks=marks))
    return out


@pytest.mark.parametrize("case", held_params())
def test_deck_held_with_its_question(case: Hold) -> None:
    built = case.build()
    try:
        deck = one(built)
    except SheetError as refused:
        pytest.fail(f"refused instead of held with a question: {refused}")
    answers = [d.answer for d in deck.doubts]
    assert any(re.fullmatch(case.answer, a) for a in answers), (answers, describe(deck))
    settled = one(built, **case.answered)
    assert settled.doubts == [], describe(settled)
    assert rows_of(settled) == sorted(case.rows, key=_order), describe(settled)


# --- 7. code-change sheets ------------------------------------------------------------------


CODE_CHANGES = {
    "code-changes-en": (
        v.code_changes_en_xlsx,
        [
            row("353", "0.0089", at("2026-03-10")),
            row("44", "0.0061", at("2026-03-10")),
            row("447", "0.0104", at("2026-03-10")),
            removed("4470", at("2026-03-17")),
            row("4478", "0.0250", at("2026-03-10")),
        ],
        [("added_without_rate", "Code Changes", 4)],
    ),
    "code-changes-es": (
        v.code_changes_es_xlsx,
        [
            row("52", "0.0179", M16),
            removed("5233", at("2026-03-23")),
            row("5255", "0.0087", M16),
            removed("5281", at("2026-03-23")),
            row("57", "0.0405", M16),
        ],
        [("added_without_rate", "Cambios de códigos", 5)],
    ),
    "code-changes-only-pt": (
        v.code_changes_only_pt_csv,
        [removed("55113", at("2026-04-20")), removed("55213", at("2026-04-20"))],
        [("added_without_rate", "alteracoes_codigos", 6)],
    ),
    "code-changes-de-lists": (
        v.code_changes_de_lists_xlsx,
        [
            row("49", "0.0046", M16),
            removed("49150", at("2026-03-30")),
            removed("49155", at("2026-03-30")),
            row("49176", "0.0098", M16),
            row("4930", "0.0041", M16),
        ],
        [],
    ),
    "code-changes-fr": (
        v.code_changes_fr_xlsx,
        [
            row("262", "0.0720", at("2026-03-17")),
            row("33", "0.0084", at("2026-03-17")),
            row("3361", "0.0158", at("2026-03-17")),
            removed("33800", at("2026-03-31")),
        ],
        [("added_without_rate", "Modifications", 4)],
    ),
}


CODE_CHANGES_WAIT = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=[pytest.mark.xfail(strict=True, reason=CODE_CHANGES_WAIT[n])])
        if n in CODE_CHANGES_WAIT
        else n
        for n in CODE_CHANGES
    ],
)
def test_code_change_sheet_applied(name: str) -> None:
    build, expected, errors = CODE_CHANGES[name]
    deck = one(build())
    assert rows_of(deck) == sorted(expected, key=_order), describe(deck)
    assert deck.doubts == [], describe(deck)
    got = [(e.reason, e.sheet, e.row) for e in deck.errors]
    assert got == errors, describe(deck)


# --- 8. DID lists ---------------------------------------------------------------------------


def did_row(number, voice_price, sms_price, mrc, nrc, voice, sms, fax=False) -> tuple:
    return (number, *(Decimal(p) for p in (voice_price, sms_price, mrc, nrc)), voice, sms, fax)


DIDS = {
    "did-list-xlsx": (
        v.did_list_xlsx,
        [
            did_row("31612345678", "0", "0.0080", "4.00", "2.00", False, True),
            did_row("441612345678", "0.0040", "0", "1.50", "0", True, False),
            did_row("442071234567", "0.0040", "0", "1.50", "0", True, False),
            did_row("447700900123", "0.0060", "0.0075", "3.00", "1.00", True, True),
            did_row("493012345678", "0.0050", "0", "2.00", "0", True, False),
        ],
    ),
    "did-list-csv": (
        v.did_list_csv,
        [
            did_row("12125550143", "0.0035", "0.0040", "0.80", "0", True, True),
            did_row("13055550187", "0.0035", "0", "0.80", "0", True, False),
            did_row("14165550122", "0.0045", "0.0050", "1.10", "0.50", True, True, True),
            did_row("525512345678", "0.0090", "0", "3.50", "5.00", True, False),
        ],
    ),
}


@pytest.mark.parametrize(
    "name",
    list(DIDS),
)
def test_did_list_prices_beside_capabilities(name: str) -> None:
    build, expected = DIDS[name]
    deck = one(build())
    assert str(deck.kind) == "did"
    cols = ["code", "inbound_voice_price", "inbound_sms_price", "mrc", "nrc", "voice", "sms"]
    got = sorted(deck.rows.select(*cols, "fax").rows())
    assert got == expected, describe(deck)
    assert deck.doubts == [], describe(deck)


# --- 9. SMS lists ---------------------------------------------------------------------------


SMS = {
    "sms-mcc-mnc": (
        v.sms_mcc_mnc_csv,
        [
            ("20801", Decimal("0.0550")),
            ("23410", Decimal("0.0310")),
            ("23415", Decimal("0.0320")),
            ("26201", Decimal("0.0720")),
            ("26202", Decimal("0.0735")),
            ("26203", Decimal("0.0690")),
            ("310004", Decimal("0.0085")),
            ("310260", Decimal("0.0085")),
        ],
        None,
    ),
    "sms-camelcase-price": (
        v.sms_camelcase_xlsx,
        [
            ("21401", Decimal("0.0575")),
            ("21407", Decimal("0.0580")),
            ("22201", Decimal("0.0610")),
            ("22288", Decimal("0.0605")),
            ("26003", Decimal("0.0240")),
        ],
        None,
    ),
    "sms-submit-delivered": (
        v.sms_submit_delivered_csv,
        [
            ("40410", Decimal("0.0024")),
            ("40420", Decimal("0.0025")),
            ("51010", Decimal("0.0310")),
            ("62130", Decimal("0.0390")),
        ],
        "Submit Price",  # the price not billed: named in a warning
    ),
}
SMS_WAITS: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=[pytest.mark.xfail(strict=True, reason=SMS_WAITS[n])])
        if n in SMS_WAITS
        else n
        for n in SMS
    ],
)
def test_sms_list(name: str) -> None:
    build, expected, warned = SMS[name]
    deck = one(build())
    assert str(deck.kind) == "sms"
    assert sorted(deck.rows.select("code", "price").rows()) == expected, describe(deck)
    assert deck.doubts == [], describe(deck)
    if warned:
        assert any(warned in w for w in deck.warnings), deck.warnings


# --- 10. US jurisdiction decks --------------------------------------------------------------


US = {
    "us-npanxx-abbreviated": (
        v.us_jurisdiction_csv,
        ["1201200", "1212555", "1305222", "1415310", "1512470"],
        {
            "interstate": ["0.0042", "0.0039", "0.0045", "0.0038", "0.0041"],
            "intrastate": ["0.0061", "0.0058", "0.0072", "0.0049", "0.0066"],
            "indeterminate": ["0.0055", "0.0050", "0.0060", "0.0044", "0.0052"],
        },
        at("2026-03-15"),
    ),
    "us-npa-nxx-rate-headers": (
        v.us_npa_nxx_xlsx,
        ["1312555", "1404221", "1617330", "1713814"],
        {
            "interstate": ["0.0036", "0.0040", "0.0037", "0.0043"],
            "intrastate": ["0.0051", "0.0069", "0.0047", "0.0071"],
            "indeterminate": ["0.0044", "0.0058", "0.0042", "0.0060"],
        },
        M20,
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            "us-npanxx-abbreviated",
        ),
        "us-npa-nxx-rate-headers",
    ],
)
def test_us_deck_one_table_per_jurisdiction(name: str) -> None:
    build, codes, prices, start = US[name]
    decks = {d.table_suffix: d for d in read(build())}
    assert sorted(decks) == sorted(prices)
    for suffix, deck in decks.items():
        expected = sorted(row(c, p, start) for c, p in zip(codes, prices[suffix], strict=True))
        assert rows_of(deck) == sorted(expected, key=_order), describe(deck)
        assert deck.doubts == [], describe(deck)


# --- every file: never a crash; an unread interval-looking column never read on defaults ----


CELL = st.one_of(
    st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), max_size=12),
    st.integers(min_value=-10, max_value=10**12).map(str),
    st.decimals(min_value=0, max_value=100, places=4).map(str),
    st.sampled_from(["60/60", "1/1", "ASAP", "2026-03-01", "01/02/2026", "yes", "", "-"]),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(min_value=2, max_value=8),
    data=st.data(),
    as_xlsx=st.booleans(),
)
def test_random_sheets_never_crash(width: int, data, as_xlsx: bool) -> None:
    rows = data.draw(st.lists(st.lists(CELL, min_size=width, max_size=width), max_size=10))
    if as_xlsx:
        built = v.workbook(("Sheet1", rows), filename="random.xlsx")
    else:
        built = v.text_file(rows, filename="random.csv", encoding="utf-8", delimiter=",")
    try:
        decks = read(built)
    except SheetError:
        return
    for deck in decks:
        assert deck.rows.columns[0] == "code"
        assert all(isinstance(d.answer, str) for d in deck.doubts)


REAL_CODES = [
    ("44", "United Kingdom"), ("33", "France"), ("49", "Germany"), ("52", "Mexico"),
    ("509", "Haiti"), ("91", "India"), ("86", "China"), ("55", "Brazil"), ("7", "Russia"),
]  # fmt: skip
INTERVAL_LOOKING = ["60", "60/60", "30", "30/30", "6/6", "6", "1", "1/1", "60/1", "30/6"]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # the examples are small already
)
@given(
    header=st.one_of(
        st.sampled_from(["Bill Blk", "Rnd", "Tasación Especial", "Zeitblock", "Misc", "Col5"]),
        st.text(alphabet="qxzjkvw", min_size=3, max_size=8).map(lambda s: "Zq" + s),
    ),
    picks=st.lists(
        st.tuples(st.sampled_from(REAL_CODES), st.sampled_from(INTERVAL_LOOKING)),
        min_size=3,
        max_size=8,
        unique_by=lambda p: p[0][0],
    ),
    as_xlsx=st.booleans(),
)
def test_interval_looking_column_never_read_on_defaults(header, picks, as_xlsx) -> None:
    assume(any(value not in ("1", "1/1") for _, value in picks))
    rows = [["Code", "Destination", "Rate", header]]
    rows += [[code, name, "0.0150", value] for (code, name), value in picks]
    if as_xlsx:
        built = v.workbook(("Rates", rows), filename="deck.xlsx")
    else:
        built = v.text_file(rows, filename="deck.csv", encoding="utf-8", delimiter=",")
    try:
        decks = read(built)
    except SheetError:
        return
    for deck in decks:
        intervals = set(deck.rows.select("interval1", "interval_n").rows())
        assert deck.doubts or intervals != {(1, 1)}, describe(deck)


def test_builders_write_what_they_say() -> None:
    """The decks themselves: every builder gives a file of its format and code page."""
    for name in dir(v):
        build = getattr(v, name)
        if not callable(build) or name.startswith("_") or name in ("workbook", "text_file"):
            continue
        if getattr(build, "__module__", None) != v.__name__ or name in ("day", "Built"):
            continue
        built = build()
        if built.filename.endswith(".xlsx"):
            openpyxl.load_workbook(io.BytesIO(built.data))
        else:
            utf16 = built.data.startswith(b"\xff\xfe")  # Excel's "Unicode text"
            assert built.data and (utf16 or b"\x00" not in built.data), name
