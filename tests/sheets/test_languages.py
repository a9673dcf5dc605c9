"""docs/reading.md#decks-nobody-taught-us: decks written as vendors in ten languages write them —
their headers, notice blocks, ASAP and status words, and the legacy code pages their CSV files come
in — read through the real reader (bytes → sheets → table → rows)."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rig.factories import as_json

from ingestd.sheets import headers, vocabulary
from ingestd.sheets.find import find_tables
from ingestd.sheets.normalize import normalize
from ingestd.sheets.read import read_sheets
from ingestd.sheets.text_encoding import decode_text
from ingestd.sheets.vendor_words import parse_change_words

NOW = None  # an ASAP word: no date of its own


@dataclass
class Deck:
    """A deck as a vendor writes it: ``notice`` lines above the table, the header, the rows;
    CSV (``encoding``, ``delimiter``) or XLSX (``encoding`` None).  ``expect`` are the rows
    read: (code, price, effective from, pulse "first/next", the vendor's change class)."""

    name: str
    header: list[str]
    rows: list[list]
    expect: list[tuple]
    encoding: str | None = None
    delimiter: str = ";"
    notice: list[str] = field(default_factory=list)
    currency: str | None = None  # what the notice block or a column says
    fields: dict[str, str] = field(default_factory=dict)  # header → field, when not obvious

    def data(self) -> bytes:
        if self.encoding is None:
            book = openpyxl.Workbook()
            sheet = book.active
            sheet.title = "Tarifas"
            for line in self.notice:
                sheet.append([line])
            if self.notice:
                sheet.append([])
            sheet.append(self.header)
            for row in self.rows:
                sheet.append(row)
            buf = io.BytesIO()
            book.save(buf)
            return buf.getvalue()
        lines = [*self.notice, *([""] if self.notice else [])]
        lines += [self.delimiter.join(map(str, r)) for r in [self.header, *self.rows]]
        return ("\r\n".join(lines) + "\r\n").encode(self.encoding)

    @property
    def filename(self) -> str:
        return f"{self.name}.{'xlsx' if self.encoding is None else 'csv'}"


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day)


DECKS = [
    # --- Spanish -----------------------------------------------------------------------------
    Deck(
        "es_notice_cp1252",
        ["PREFIJO", "Destino", "Tarifa (USD/min)", "Fecha de vigencia", "Tasación", "Estado"],
        [
            ["34", "España Fijo", "0,0120", "Inmediato", "60/60", "Sin cambio"],
            ["3460", "España Móvil", "0,0450", "15/01/2027", "1/1", "Aumento"],
            ["3461", "España Móvil Otros", "0,0400", "15/01/2027", "30/6", "Bajada"],
            ["3462", "España Especial", "0,0900", "15/01/2027", "60/60", "ELIMINADO"],
            ["3463", "España Nuevo", "0,0500", "INMEDIATO", "60/60", "Nuevo"],
        ],
        [
            ("34", "0.012", NOW, "60/60", "unchanged"),
            ("3460", "0.045", at("2027-01-15"), "1/1", "increase"),
            ("3461", "0.04", at("2027-01-15"), "30/6", "decrease"),
            ("3462", "0.09", at("2027-01-15"), "60/60", "discontinued"),
            ("3463", "0.05", NOW, "60/60", "new"),
        ],
        encoding="cp1252",
        notice=["Operador Ejemplo S.A. - Lista de precios", "Moneda: USD",
                "Fecha de emisión: 05/01/2027"],
        currency="USD",
    ),
    Deck(
        "es_xlsx",
        ["CÓDIGO", "País", "Precio", "Fecha efectiva", "Incremento inicial", "Incremento",
         "Estado"],
        [
            ["52", "México", 0.0085, dt.datetime(2027, 2, 1), 60, 60, "Subida"],
            ["521", "México Móvil", 0.0210, "Inmediato", 60, 60, "Disminución"],
            ["5255", "México Ciudad", 0.0070, "de inmediato", 1, 1, "sin cambios"],
        ],
        [
            ("52", "0.0085", at("2027-02-01"), "60/60", "increase"),
            ("521", "0.021", NOW, "60/60", "decrease"),
            ("5255", "0.007", NOW, "1/1", "unchanged"),
        ],
    ),
    Deck(
        "es_no_accents_latin1",
        ["PREFIJO", "DESTINO", "PRECIO", "FECHA DE VIGENCIA", "TASACION", "ESTADO"],
        [
            ["54", "Argentina Fijo", "0,0150", "20/02/2027", "60/60", "REBAJA"],
            ["549", "Argentina Móvil", "0,0900", "20/02/2027", "60/60", "DISMINUCION"],
            ["5411", "Buenos Aires", "0,0080", "INMEDIATO", "60/60", "NUEVA"],
        ],
        [
            ("54", "0.015", at("2027-02-20"), "60/60", "decrease"),
            ("549", "0.09", at("2027-02-20"), "60/60", "decrease"),
            ("5411", "0.008", NOW, "60/60", "new"),
        ],
        encoding="latin-1",
    ),
    # --- Portuguese --------------------------------------------------------------------------
    Deck(
        "pt_latin1",
        ["Prefixo", "Destino", "Preço", "Início da Vigência", "Cadência", "Situação"],
        [
            ["55", "Brasil Fixo", "0,0110", "Imediato", "30/6", "Sem alteração"],
            ["5511", "São Paulo Móvel", "0,0350", "15/02/2027", "30/6", "Aumento"],
            ["5521", "Rio de Janeiro Móvel", "0,0330", "15/02/2027", "60/60", "Redução"],
            ["5561", "Brasília Móvel", "0,0340", "IMEDIATO", "30/6", "Novo"],
        ],
        [
            ("55", "0.011", NOW, "30/6", "unchanged"),
            ("5511", "0.035", at("2027-02-15"), "30/6", "increase"),
            ("5521", "0.033", at("2027-02-15"), "60/60", "decrease"),
            ("5561", "0.034", NOW, "30/6", "new"),
        ],
        encoding="latin-1",
    ),
    Deck(
        "pt_notice_xlsx",
        ["Código", "Descrição", "Tarifa", "Data de vigência", "Cadência", "Moeda"],
        [
            ["351", "Portugal Fixo", 0.0060, dt.datetime(2027, 3, 1), "60/60", "EUR"],
            ["35191", "Portugal Móvel Vodafone", 0.0190, "imediato", "60/60", "EUR"],
            ["35196", "Portugal Móvel MEO", 0.0195, dt.datetime(2027, 3, 1), "1/1", "EUR"],
        ],
        [
            ("351", "0.006", at("2027-03-01"), "60/60", None),
            ("35191", "0.019", NOW, "60/60", None),
            ("35196", "0.0195", at("2027-03-01"), "1/1", None),
        ],
        notice=["Tabela de preços — Operadora Exemplo", "Data de emissão: 20/02/2027"],
        currency="EUR",
    ),
    Deck(
        "pt_per_minute_cp1252",
        ["Prefixo", "País", "Preço por minuto", "Data de início", "Tarifação", "Alteração"],
        [
            ["244", "Angola", "0,1200", "01/03/2027", "60/60", "Aumento"],
            ["2449", "Angola Móvel", "0,1500", "13/03/2027", "60/60", "Excluído"],
        ],
        [
            ("244", "0.12", at("2027-03-01"), "60/60", "increase"),
            ("2449", "0.15", at("2027-03-13"), "60/60", "discontinued"),
        ],
        encoding="cp1252",
    ),
    # --- French ------------------------------------------------------------------------------
    Deck(
        "fr_notice_cp1252",
        ["PRÉFIXE", "Destination", "Tarif/min", "Date d'effet", "Facturation", "Statut"],
        [
            ["33", "France Métropole", "0,0080", "Immédiat", "60/60", "Inchangé"],
            ["336", "France Mobile", "0,0210", "20/02/2027", "60/1", "Hausse"],
            ["337", "France Mobile Outre-mer", "0,0250", "20/02/2027", "60/1", "Baisse"],
            ["33806", "France Spécial", "0,0900", "20/02/2027", "60/60", "Supprimé"],
            ["33970", "France VoIP", "0,0070", "immediat", "60/60", "Nouveau"],
        ],
        [
            ("33", "0.008", NOW, "60/60", "unchanged"),
            ("336", "0.021", at("2027-02-20"), "60/1", "increase"),
            ("337", "0.025", at("2027-02-20"), "60/1", "decrease"),
            ("33806", "0.09", at("2027-02-20"), "60/60", "discontinued"),
            ("33970", "0.007", NOW, "60/60", "new"),
        ],
        encoding="cp1252",
        notice=["Grille tarifaire — Opérateur Exemple", "Devise : EUR",
                "Date d'émission : 14/02/2027"],
        currency="EUR",
    ),
    Deck(
        "fr_xlsx_no_accents",
        ["Prefixe", "Pays", "Prix", "Date d'application", "Facturation", "Statut"],
        [
            ["212", "Maroc Fixe", 0.0950, "IMMEDIAT", "60/60", "Nouvelle"],
            ["2126", "Maroc Mobile", 0.1400, dt.datetime(2027, 4, 1), "60/60", "Fermé"],
        ],
        [
            ("212", "0.095", NOW, "60/60", "new"),
            ("2126", "0.14", at("2027-04-01"), "60/60", "discontinued"),
        ],
    ),
    Deck(
        "fr_indicatif_tab_cp1252",
        ["Indicatif", "Libellé", "Tarif", "Date de début", "Pas de facturation", "Évolution"],
        [
            ["32", "Belgique Fixe", "0,0090", "15/03/2027", "60/60", "Baisse"],
            ["324", "Belgique Mobile", "0,0300", "Immédiatement", "1/1", "Bloqué"],
        ],
        [
            ("32", "0.009", at("2027-03-15"), "60/60", "decrease"),
            ("324", "0.03", NOW, "1/1", "forbidden"),
        ],
        encoding="cp1252",
        delimiter="\t",
    ),
    # --- German ------------------------------------------------------------------------------
    Deck(
        "de_cp1252",
        ["Vorwahl", "Ziel", "Preis (EUR/Min)", "Gültig ab", "Taktung", "Änderung"],
        [
            ["49", "Deutschland Festnetz", "0,0070", "Sofort", "60/60", "Unverändert"],
            ["4915", "Deutschland Mobil", "0,0310", "15.02.2027", "60/1", "Erhöhung"],
            ["4916", "Deutschland Mobil O2", "0,0300", "15.02.2027", "60/1", "Senkung"],
            ["49900", "Deutschland Premium", "1,2000", "15.02.2027", "60/60", "GELÖSCHT"],
            ["4932", "Deutschland Nationale Teilnehmer", "0,0100", "ab sofort", "1/1", "Neu"],
        ],
        [
            ("49", "0.007", NOW, "60/60", "unchanged"),
            ("4915", "0.031", at("2027-02-15"), "60/1", "increase"),
            ("4916", "0.03", at("2027-02-15"), "60/1", "decrease"),
            ("49900", "1.2", at("2027-02-15"), "60/60", "discontinued"),
            ("4932", "0.01", NOW, "1/1", "new"),
        ],
        encoding="cp1252",
        currency="EUR",  # from the price header
    ),
    Deck(
        "de_notice_xlsx",
        ["VORWAHL", "Land", "Preis/Min", "Gültig ab", "Takt", "Status"],
        [
            ["43", "Österreich Festnetz", 0.0090, dt.datetime(2027, 3, 1), "60/60", "Erhöhung"],
            ["4366", "Österreich Mobil", 0.0280, "SOFORT", "60/60", "Keine Änderung"],
            ["41", "Schweiz Festnetz", 0.0110, dt.datetime(2027, 3, 1), "60/60", "gesperrt"],
        ],
        [
            ("43", "0.009", at("2027-03-01"), "60/60", "increase"),
            ("4366", "0.028", NOW, "60/60", "unchanged"),
            ("41", "0.011", at("2027-03-01"), "60/60", "forbidden"),
        ],
        notice=["Preisliste Großhandel", "Währung: EUR", "Ausgabedatum: 20.02.2027"],
        currency="EUR",
    ),
    # --- Italian -----------------------------------------------------------------------------
    Deck(
        "it_cp1252",
        ["Prefisso", "Destinazione", "Prezzo", "Data di decorrenza", "Tariffazione", "Stato"],
        [
            ["39", "Italia Fisso", "0,0090", "Immediato", "60/60", "Invariato"],
            ["39320", "Italia Mobile", "0,0250", "16/02/2027", "1/1", "Riduzione"],
            ["39333", "Italia Mobile TIM", "0,0260", "16/02/2027", "1/1", "Aumento"],
            ["39899", "Italia Numerazioni a tariffa", "0,5000", "16/02/2027", "60/60", "Eliminato"],
            ["379", "Città del Vaticano", "0,0900", "16/02/2027", "60/60", "Nuovo"],
        ],
        [
            ("39", "0.009", NOW, "60/60", "unchanged"),
            ("39320", "0.025", at("2027-02-16"), "1/1", "decrease"),
            ("39333", "0.026", at("2027-02-16"), "1/1", "increase"),
            ("39899", "0.5", at("2027-02-16"), "60/60", "discontinued"),
            ("379", "0.09", at("2027-02-16"), "60/60", "new"),
        ],
        encoding="cp1252",
    ),
    Deck(
        "it_notice_xlsx",
        ["Codice", "Paese", "Tariffa", "Decorrenza", "Scatti", "Variazione"],
        [
            ["378", "San Marino", 0.0500, "IMMEDIATO", "60/60", "Nuovo"],
            ["37866", "San Marino Mobile", 0.1100, dt.datetime(2027, 3, 20), "30/30", "Aumento"],
        ],
        [
            ("378", "0.05", NOW, "60/60", "new"),
            ("37866", "0.11", at("2027-03-20"), "30/30", "increase"),
        ],
        notice=["Listino prezzi", "Valuta: EUR"],
        currency="EUR",
    ),
    # --- Russian -----------------------------------------------------------------------------
    Deck(
        "ru_notice_cp1251",
        ["Код", "Направление", "Цена", "Дата начала", "Тарификация", "Статус"],
        [
            ["7", "Россия фиксированная", "0,0120", "Немедленно", "60/60", "Без изменений"],
            ["79", "Россия мобильная", "0,0450", "15.02.2027", "1/1", "Повышение"],
            ["7495", "Москва", "0,0080", "15.02.2027", "60/60", "Понижение"],
            ["7812", "Санкт-Петербург", "0,0090", "НЕМЕДЛЕННО", "60/60", "Новый"],
            ["7809", "Россия платные", "0,3000", "15.02.2027", "60/60", "Удалено"],
        ],
        [
            ("7", "0.012", NOW, "60/60", "unchanged"),
            ("79", "0.045", at("2027-02-15"), "1/1", "increase"),
            ("7495", "0.008", at("2027-02-15"), "60/60", "decrease"),
            ("7812", "0.009", NOW, "60/60", "new"),
            ("7809", "0.3", at("2027-02-15"), "60/60", "discontinued"),
        ],
        encoding="cp1251",
        notice=["Прайс-лист ООО «Пример Телеком»", "Валюта: USD", "Дата выпуска: 10.02.2027"],
        currency="USD",
    ),
    Deck(
        "ru_xlsx",
        ["Префикс", "Страна", "Тариф", "Действует с", "Тарификация", "Изменение"],
        [
            ["375", "Беларусь", 0.0900, dt.datetime(2027, 3, 1), "60/60", "Снижение"],
            ["37529", "Беларусь МТС", 0.1200, "немедленно", "60/60", "Заблокировано"],
        ],
        [
            ("375", "0.09", at("2027-03-01"), "60/60", "decrease"),
            ("37529", "0.12", NOW, "60/60", "forbidden"),
        ],
    ),
    Deck(
        "ru_cost_tab_cp1251",
        ["Код направления", "Описание", "Стоимость", "Дата вступления в силу", "Статус"],
        [
            ["380", "Украина", "0,0700", "Немедленно", "Новое"],
            ["38050", "Украина Водафон", "0,1100", "20.02.2027", "Повышение"],
        ],
        [
            ("380", "0.07", NOW, "1/1", "new"),
            ("38050", "0.11", at("2027-02-20"), "1/1", "increase"),
        ],
        encoding="cp1251",
        delimiter="\t",
    ),
    # --- Turkish -----------------------------------------------------------------------------
    Deck(
        "tr_cp1254",
        ["Kod", "Ülke", "Fiyat", "Geçerlilik Tarihi", "Ücretlendirme", "Durum"],
        [
            ["90", "Türkiye Sabit", "0,0150", "Hemen", "60/60", "Değişiklik yok"],
            ["90532", "Türkiye Mobil Turkcell", "0,0420", "15.02.2027", "1/1", "Artış"],
            ["90542", "Türkiye Mobil Vodafone", "0,0410", "15.02.2027", "1/1", "İndirim"],
            ["90212", "İstanbul", "0,0100", "HEMEN", "60/60", "Yeni"],
            ["90900", "Türkiye Özel Servis", "0,2000", "15.02.2027", "60/60", "Silindi"],
        ],
        [
            ("90", "0.015", NOW, "60/60", "unchanged"),
            ("90532", "0.042", at("2027-02-15"), "1/1", "increase"),
            ("90542", "0.041", at("2027-02-15"), "1/1", "decrease"),
            ("90212", "0.01", NOW, "60/60", "new"),
            ("90900", "0.2", at("2027-02-15"), "60/60", "discontinued"),
        ],
        encoding="cp1254",
    ),
    Deck(
        "tr_notice_xlsx",
        ["ÖNEK", "Yön", "Tarife", "Başlangıç Tarihi", "Ücretlendirme", "Durum"],
        [
            ["994", "Azerbaycan", 0.1300, dt.datetime(2027, 3, 1), "60/60", "Artış"],
            ["99450", "Azerbaycan Mobil", 0.1800, "Hemen", "60/60", "Değişmedi"],
        ],
        [
            ("994", "0.13", at("2027-03-01"), "60/60", "increase"),
            ("99450", "0.18", NOW, "60/60", "unchanged"),
        ],
        notice=["Toptan Fiyat Listesi", "Para Birimi: USD"],
        currency="USD",
    ),
    # --- Arabic ------------------------------------------------------------------------------
    Deck(
        "ar_notice_cp1256",
        ["الرمز", "الوجهة", "السعر", "تاريخ السريان", "الحالة"],
        [
            ["20", "مصر ثابت", "0.0300", "فوري", "بدون تغيير"],
            ["2010", "مصر موبايل فودافون", "0.0650", "2027-02-15", "زيادة"],
            ["2011", "مصر موبايل اتصالات", "0.0600", "2027-02-15", "تخفيض"],
            ["2012", "مصر موبايل أورنج", "0.0620", "فوري", "جديد"],
            ["20900", "مصر خدمات خاصة", "0.5000", "2027-02-15", "محذوف"],
        ],
        [
            ("20", "0.03", NOW, "1/1", "unchanged"),
            ("2010", "0.065", at("2027-02-15"), "1/1", "increase"),
            ("2011", "0.06", at("2027-02-15"), "1/1", "decrease"),
            ("2012", "0.062", NOW, "1/1", "new"),
            ("20900", "0.5", at("2027-02-15"), "1/1", "discontinued"),
        ],
        encoding="cp1256",
        delimiter=",",
        notice=["قائمة أسعار الجملة", "العملة: USD"],
        currency="USD",
    ),
    Deck(
        "ar_xlsx",
        ["البادئة", "البلد", "التعرفة", "تاريخ البدء", "وحدة الفوترة", "الحالة"],
        [
            ["966", "السعودية", 0.0800, dt.datetime(2027, 3, 1), "60/60", "زيادة"],
            ["9665", "السعودية موبايل", 0.1200, "فوري", "60/60", "محظور"],
        ],
        [
            ("966", "0.08", at("2027-03-01"), "60/60", "increase"),
            ("9665", "0.12", NOW, "60/60", "forbidden"),
        ],
    ),
    # --- Chinese -----------------------------------------------------------------------------
    Deck(
        "zh_notice_gb18030",
        ["前缀", "目的地", "费率（美元/分钟）", "生效日期", "计费方式", "状态"],
        [
            ["86", "中国 固定电话", "0.0100", "立即", "60/60", "不变"],
            ["8613", "中国 移动", "0.0150", "2027-02-15", "6/6", "上调"],
            ["8618", "中国 电信移动", "0.0140", "2027-02-15", "6/6", "下调"],
            ["8617", "中国 联通移动", "0.0160", "立即生效", "6/6", "新增"],
            ["86400", "中国 特服", "0.3000", "2027-02-15", "60/60", "删除"],
        ],
        [
            ("86", "0.01", NOW, "60/60", "unchanged"),
            ("8613", "0.015", at("2027-02-15"), "6/6", "increase"),
            ("8618", "0.014", at("2027-02-15"), "6/6", "decrease"),
            ("8617", "0.016", NOW, "6/6", "new"),
            ("86400", "0.3", at("2027-02-15"), "60/60", "discontinued"),
        ],
        encoding="gb18030",
        delimiter=",",
        notice=["批发费率表 示例通信有限公司", "币种,USD", "发布日期,2027-02-01"],
        currency="USD",
    ),
    Deck(
        "zh_xlsx",
        ["号码前缀", "国家", "单价", "生效时间", "计费周期", "状态"],
        [
            ["852", "香港", 0.0120, dt.datetime(2027, 3, 1), "6/6", "涨价"],
            ["8529", "香港 移动", 0.0130, "立即", "6/6", "降价"],
            ["853", "澳门", 0.0500, dt.datetime(2027, 3, 1), "60/60", "无变化"],
        ],
        [
            ("852", "0.012", at("2027-03-01"), "6/6", "increase"),
            ("8529", "0.013", NOW, "6/6", "decrease"),
            ("853", "0.05", at("2027-03-01"), "60/60", "unchanged"),
        ],
    ),
    Deck(
        "zh_gbk_tab",
        ["区号", "地区", "资费", "生效日期", "计费单位"],
        [
            ["886", "台湾 固定", "0.0300", "2027-03-01", "60/60"],
            ["8869", "台湾 移动", "0.0900", "立即", "60/60"],
        ],
        [
            ("886", "0.03", at("2027-03-01"), "60/60", None),
            ("8869", "0.09", NOW, "60/60", None),
        ],
        encoding="gbk",
        delimiter="\t",
    ),
]  # fmt: skip

# the code page a CSV deck is read in (a subset is read as its superset: GBK as GB18030)
READ_AS = {"latin-1": "cp1252", "gbk": "gb18030"}


@pytest.mark.parametrize("deck", DECKS, ids=lambda d: d.name)
def test_a_deck_in_the_vendors_language_reads_its_exact_rows(deck):
    data = deck.data()
    if deck.encoding:
        text, encoding = decode_text(data)
        assert encoding == READ_AS.get(deck.encoding, deck.encoding)
        assert text == data.decode(deck.encoding)
    (table,) = find_tables(read_sheets(data, filename=deck.filename))
    # every column of the header is understood, the currency of the notice block too
    assert sorted(table.headers[c] for cols in table.columns.values() for c in cols) == sorted(
        deck.header
    )
    (read,) = normalize(table)
    assert read.errors == [] and read.warnings == []
    rows = read.rows.to_dicts()
    got = [
        (
            r["code"], r["price1"], r["effective_from"], f"{r['interval1']}/{r['interval_n']}",
            r["vendor_class"],
        )
        for r in rows
    ]  # fmt: skip
    want = [(c, Decimal(p), when, pulse, change) for c, p, when, pulse, change in deck.expect]
    assert got == want
    assert {r["currency"] for r in rows} == {deck.currency}
    assert [r["discontinued"] for r in rows] == [e[4] == "discontinued" for e in deck.expect]
    assert [r["forbidden"] for r in rows] == [e[4] == "forbidden" for e in deck.expect]


def test_at_least_twenty_decks_in_the_nine_languages_besides_english():
    languages = {deck.name.split("_")[0] for deck in DECKS}
    assert len(DECKS) >= 20 and languages == {"es", "pt", "fr", "de", "it", "ru", "tr", "ar", "zh"}


def test_notice_labels_in_the_vendors_language():
    deck = next(d for d in DECKS if d.name == "ru_notice_cp1251")
    (table,) = find_tables(read_sheets(deck.data(), filename=deck.filename))
    assert table.notice.currency == "USD"
    assert table.notice.issue_date == at("2027-02-10")
    deck = next(d for d in DECKS if d.name == "zh_notice_gb18030")
    (table,) = find_tables(read_sheets(deck.data(), filename=deck.filename))
    assert (table.notice.currency, table.notice.issue_date) == ("USD", at("2027-02-01"))


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("PRÉFIXE", "code"), ("Prefixe", "code"), ("préfixe", "code"), ("Indicatif", "code"),
        ("Vorwahl", "code"), ("Prefisso", "code"), ("Код", "code"), ("Kod", "code"),
        ("前缀", "code"), ("Prefijo", "code"), ("CODIGO", "code"), ("Código", "code"),
        ("Tarifa", "price"), ("Preço", "price"), ("PRECO", "price"), ("Tarif/min", "price"),
        ("Tarif / Min.", "price"), ("Preis", "price"), ("Цена", "price"), ("费率", "price"),
        ("السعر", "price"), ("Fiyat", "price"), ("Prezzo", "price"),
        ("Fecha de vigencia", "effective_from"), ("Início da Vigência", "effective_from"),
        ("INICIO DA VIGENCIA", "effective_from"), ("Date d'effet", "effective_from"),
        ("Date d’effet", "effective_from"), ("Gültig ab", "effective_from"),
        ("GUELTIG AB", None), ("Дата начала", "effective_from"), ("生效日期", "effective_from"),
        ("Tasación", "pulse"), ("Cadência", "pulse"), ("Facturation", "pulse"),
        ("Taktung", "pulse"), ("Тарификация", "pulse"), ("计费方式", "pulse"),
        ("Destino", "destination"), ("País", "country"), ("Страна", "country"),
        ("Ülke", "country"), ("ULKE", "country"), ("国家", "country"),
        ("Moneda", "currency"), ("Währung", "currency"), ("Валюта", "currency"),
        ("币种", "currency"), ("Estado", "status"), ("Статус", "status"), ("状态", "status"),
        ("Fecha de fin", "effective_to"), ("Gültig bis", "effective_to"),
        ("Дата окончания", "effective_to"), ("失效日期", "effective_to"),
        ("费率（美元/分钟）", "price"), ("Precio (USD/min)", "price"),
    ],
)  # fmt: skip
def test_headers_in_ten_languages_without_case_accents_or_punctuation(header, field):
    assert headers.match_header(header) == field


@pytest.mark.parametrize(
    ("word", "change"),
    [
        ("Aumento", "increase"), ("SUBIDA", "increase"), ("Hausse", "increase"),
        ("erhohung", "increase"), ("Повышение", "increase"), ("上调", "increase"),
        ("Baja", "discontinued"), ("Disminucion", "decrease"), ("REDUÇÃO", "decrease"),
        ("baisse", "decrease"), ("Senkung", "decrease"), ("понижение", "decrease"),
        ("下调", "decrease"), ("Nuevo", "new"), ("Novo", "new"), ("NOUVEAU", "new"),
        ("Neu", "new"), ("Новый", "new"), ("新增", "new"), ("Eliminado", "discontinued"),
        ("Supprime", "discontinued"), ("Gelöscht", "discontinued"), ("Удалено", "discontinued"),
        ("删除", "discontinued"), ("Sin cambio", "unchanged"), ("sem_alteracao", "unchanged"),
        ("Inchangé.", "unchanged"), ("Без изменений", "unchanged"), ("Bloqueado", "forbidden"),
        ("Increase", "increase"), ("No Change", "unchanged"), ("N/A", None), ("", None),
    ],
)  # fmt: skip
def test_status_words_in_ten_languages(word, change):
    import polars as pl

    changes, unknown = parse_change_words(pl.Series("s", [word]))
    assert changes.to_list() == [change]
    assert unknown.to_list() == [None]


def test_an_unknown_status_word_is_reported_as_written():
    import polars as pl

    changes, unknown = parse_change_words(pl.Series("s", ["Rätselhaft", "Neu"]))
    assert changes.to_list() == [None, "new"] and unknown.to_list() == ["Rätselhaft", None]


def _without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


TEXTS = st.text(
    alphabet=st.characters(categories=("L", "M", "Nd", "P", "Zs", "S"), exclude_characters="\x00"),
    max_size=40,
)


@given(TEXTS)
def test_header_key_is_idempotent_and_blind_to_accents(text):
    key = headers.header_key(text)
    assert headers.header_key(key) == key
    assert headers.header_key(_without_accents(text)) == key
    upper, lower = headers.header_key(text.upper()), headers.header_key(text.lower())
    assert upper == lower or not text.isascii()


@given(
    st.sampled_from(
        [s for spellings in vocabulary.LANGUAGES.values() for f in spellings.values() for s in f]
    )
)
def test_every_spelling_of_another_language_matches_without_its_accents_and_in_capitals(spelling):
    field = headers.match_header(spelling)
    assert field is not None
    assert headers.match_header(_without_accents(spelling).upper()) == field


# the first CSV deck of each code page
ONE_PER_CODE_PAGE = list({d.encoding: d for d in reversed(DECKS) if d.encoding}.values())[::-1]


@pytest.mark.parametrize(
    "deck",
    ONE_PER_CODE_PAGE,
    ids=lambda d: d.name,
)
def test_a_legacy_code_page_deck_through_the_command_line(deck, tmp_path):
    """One deck per code page, as a user imports it: ``ingestd import --dry-run --json``."""
    path = tmp_path / deck.filename
    path.write_bytes(deck.data())
    env = {
        **os.environ,
        "INGESTD_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "INGESTD_DAEMON_STATE_DIR": str(tmp_path),
    }
    env.pop("INGESTD_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "ingestd", "import", str(path), "--vendor", "v",
         "--received-at", "2027-01-01T00:00:00Z", "--dry-run", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = as_json(done)
    assert (done.returncode, out["status"]) == (0, "dry_run"), out
    assert sorted(out["sheet"]["mapping"]) == sorted(deck.header)
    assert out["sheet"]["rows"] == {"seen": len(deck.expect), "accepted": len(deck.expect),
                                    "rejected": 0}  # fmt: skip
    assert out["sheet"]["currency"] == deck.currency
    assert out["counts"]["discontinued"] == sum(e[4] == "discontinued" for e in deck.expect)
