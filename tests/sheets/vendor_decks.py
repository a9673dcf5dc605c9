"""Vendor decks as vendors write them (docs/reading.md#decks-nobody-taught-us): each builder returns
the bytes of one file and its name, the way one vendor lays out its notice block, headers, dates and
footnotes — in its language and its code page.  ``test_vendor_decks`` says what each must read
as."""

from __future__ import annotations

import datetime as dt
import io
from typing import NamedTuple

import openpyxl


class Built(NamedTuple):
    data: bytes
    filename: str


def workbook(*sheets: tuple[str, list[list]], filename: str, merged: tuple[str, ...] = ()) -> Built:
    """An XLSX file of ``(sheet name, rows)``; a cell is written as given (str, number, date).
    ``merged`` ranges ("A1:E1") are merged on the first sheet, as title banners are."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    for cells in merged:
        book.worksheets[0].merge_cells(cells)
    buf = io.BytesIO()
    book.save(buf)
    return Built(buf.getvalue(), filename)


def _cell(value, delimiter: str) -> str:
    text = "" if value is None else str(value)
    if any(c in text for c in (delimiter, '"', "\n")):
        return '"' + text.replace('"', '""') + '"'
    return text


def text_file(
    rows: list[list], *, filename: str, encoding: str, delimiter: str = ";", eol: str = "\r\n"
) -> Built:
    """A CSV file in ``encoding`` (``utf-8-sig`` writes the BOM); ``[]`` is a blank line."""
    lines = [delimiter.join(_cell(v, delimiter) for v in row) for row in rows]
    return Built((eol.join(lines) + eol).encode(encoding), filename)


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- 1. headers in the languages vendors write ----------------------------------------------


def es_andina_xlsx() -> Built:
    """Spanish, notice block with label/value cells, numbers as numbers, `Inmediato`, d/m/y."""
    return workbook(
        (
            "Tarifas",
            [
                ["Lista de Precios - Voz Internacional"],
                ["Cliente:", "Telecom Andina S.A."],
                ["Fecha de emisión:", "02/03/2026"],
                ["Moneda:", "USD"],
                [],
                ["Prefijo", "Destino", "Tarifa USD/min", "Fecha de vigencia", "Tasación"],
                [52, "México", 0.0185, "Inmediato", "60/60"],
                [521, "México Móvil", 0.0240, "Inmediato", "60/60"],
                [54, "Argentina", 0.0320, "16/03/2026", "1/1"],
                [5411, "Argentina Buenos Aires", 0.0095, "16/03/2026", "1/1"],
                [57, "Colombia", 0.0410, "16/03/2026", "60/60"],
                [34, "España", 0.0120, "INMEDIATO ", "1/1"],
                [],
                ["* Tarifas sujetas a cambio con 7 días de aviso."],
            ],
        ),
        filename="Tarifas_Andina_2026-03.xlsx",
    )


def es_iberica_cp1252() -> Built:
    """Spanish CSV in cp1252, `;`, decimal comma, status words, `Inmediato`."""
    return text_file(
        [
            ["Proveedor: Conexiones Ibéricas SL"],
            ["Tarifario de terminación internacional"],
            ["Moneda", "EUR"],
            [],
            ["Código", "País", "Precio (€/min)", "Fecha Efectiva", "Estado"],
            ["34", "España", "0,0098", "01/04/2026", "Sin cambios"],
            ["346", "España Móviles", "0,0145", "01/04/2026", "Aumento"],
            ["351", "Portugal", "0,0110", "01/04/2026", "Sin cambios"],
            ["3519", "Portugal Móviles", "0,0190", "20/04/2026", "Aumento"],
            ["33", "Francia", "0,0105", "20/04/2026", "Disminución"],
            ["39", "Italia", "0,0112", "Inmediato", "Nuevo"],
        ],
        filename="iberica_tarifas.csv",
        encoding="cp1252",
    )


def es_pais_area_csv() -> Built:
    """Spanish country code and area code in two columns (joined), `;`, decimal comma."""
    return text_file(
        [
            ["Mayorista Pampa Telecom - tarifas en USD"],
            [],
            ["País", "Código País", "Código de Área", "Tarifa", "Vigencia"],
            ["Argentina", "54", "11", "0,0093", "Inmediato"],
            ["Argentina", "54", "351", "0,0131", "Inmediato"],
            ["Argentina", "54", "9", "0,0298", "24/03/2026"],
            ["Uruguay", "598", "2", "0,0840", "24/03/2026"],
            ["Paraguay", "595", "21", "0,0510", "24/03/2026"],
        ],
        filename="pampa.csv",
        encoding="cp1252",
    )


def pt_voxbrasil_xlsx() -> Built:
    return workbook(
        (
            "Tabela",
            [
                ["TABELA DE PREÇOS — TERMINAÇÃO INTERNACIONAL"],
                ["Cliente", "Vox Brasil Ltda"],
                ["Data", "05/03/2026"],
                ["Moeda", "USD"],
                ["Validade", "até 30/06/2026"],
                [],
                ["Prefixo", "Destino", "Preço (USD)", "Início da Vigência", "Cadência"],
                [55, "Brasil Fixo", 0.0075, "Imediato", "30/6"],
                [5511, "Brasil São Paulo", 0.0062, "Imediato", "30/6"],
                [55119, "Brasil São Paulo Móvel", 0.0310, "15/03/2026", "30/6"],
                [351, "Portugal", 0.0105, "15/03/2026", "60/60"],
                [3519, "Portugal Móvel", 0.0195, "15/03/2026", "60/60"],
                [244, "Angola", 0.0850, "Imediato", "60/60"],
                [258, "Moçambique", 0.0920, "15/03/2026", "60/60"],
            ],
        ),
        filename="VoxBrasil_precos.xlsx",
    )


def pt_lusotel_utf8bom() -> Built:
    return text_file(
        [
            ["Operadora: LusoTel Comunicações"],
            ["Tabela", "Voz Atacado"],
            ["Data de emissão", "10/03/2026"],
            [],
            ["Código", "Destino", "Tarifa/min", "Data Início"],
            ["351", "Portugal Fixo", "0,0102", "25/03/2026"],
            ["3519", "Portugal Móvel", "0,0188", "25/03/2026"],
            ["238", "Cabo Verde", "0,1850", "Imediato"],
            ["245", "Guiné-Bissau", "0,3200", "25/03/2026"],
            ["239", "São Tomé e Príncipe", "0,4100", "Imediato"],
        ],
        filename="lusotel.csv",
        encoding="utf-8-sig",
    )


def fr_atlantique_xlsx() -> Built:
    return workbook(
        (
            "Grille",
            [
                ["Grille tarifaire - Terminaison voix"],
                ["Client :", "Atlantique Télécom"],
                ["Date d'émission :", "03/03/2026"],
                ["Devise :", "EUR"],
                [],
                ["Indicatif", "Destination", "Tarif/min", "Date d'effet", "Facturation"],
                [33, "France Fixe", 0.0085, "Immédiat", "60/60"],
                [336, "France Mobile", 0.0160, "Immédiat", "60/60"],
                [32, "Belgique", 0.0110, "17/03/2026", "60/60"],
                [324, "Belgique Mobile", 0.0290, "17/03/2026", "60/60"],
                [212, "Maroc", 0.0650, "17/03/2026", "60/60"],
                [2126, "Maroc Mobile", 0.2100, "Immédiat", "60/60"],
                [225, "Côte d'Ivoire", 0.1300, "17/03/2026", "60/60"],
            ],
        ),
        filename="grille_atlantique.xlsx",
    )


def fr_hexavoix_cp1252() -> Built:
    return text_file(
        [
            ["Opérateur", "Hexa Voix"],
            ["Tarifs au", "01/04/2026"],
            [],
            ["Préfixe", "Libellé", "Prix", "Date d'application", "Statut"],
            ["221", "Sénégal", "0,1450", "14/04/2026", "Hausse"],
            ["2217", "Sénégal Mobile", "0,1890", "14/04/2026", "Hausse"],
            ["237", "Cameroun", "0,1620", "Immédiat", "Inchangé"],
            ["216", "Tunisie", "0,0980", "14/04/2026", "Baisse"],
            ["213", "Algérie", "0,0870", "Immédiat", "Nouveau"],
        ],
        filename="hexavoix_tarifs.csv",
        encoding="cp1252",
    )


def de_nordwind_xlsx() -> Built:
    return workbook(
        (
            "Preisliste",
            [
                ["Preisliste Sprachterminierung"],
                ["Kunde:", "Nordwind Telekom GmbH"],
                ["Datum:", "04.03.2026"],
                ["Währung:", "EUR"],
                [],
                ["Vorwahl", "Ziel", "Preis/Min (EUR)", "Gültig ab", "Taktung"],
                ["49", "Deutschland Festnetz", "0,0045", "Sofort", "60/60"],
                ["4915", "Deutschland Mobil", "0,0095", "Sofort", "60/60"],
                ["43", "Österreich", "0,0078", "18.03.2026", "60/60"],
                ["4366", "Österreich Mobil", "0,0210", "18.03.2026", "1/1"],
                ["41", "Schweiz", "0,0150", "18.03.2026", "60/60"],
                ["4179", "Schweiz Mobil", "0,0590", "sofort", "60/60"],
            ],
        ),
        filename="Preisliste_Nordwind.xlsx",
    )


def de_alpentel_cp1252() -> Built:
    """German CSV, section rows between the regions, a trailing space in a header."""
    return text_file(
        [
            ["AlpenTel Carrier Services"],
            ["Preise in EUR pro Minute"],
            [],
            ["Zielnetz", "Rufnummernbereich", "Minutenpreis ", "Gültig ab"],
            ["EUROPA", "", "", ""],
            ["Polen", "48", "0,0088", "15.04.2026"],
            ["Polen Mobil", "485", "0,0120", "15.04.2026"],
            ["Tschechien", "420", "0,0095", "15.04.2026"],
            ["ASIEN", "", "", ""],
            ["Japan", "81", "0,0310", "15.04.2026"],
            ["Südkorea", "82", "0,0270", "15.04.2026"],
        ],
        filename="alpentel.csv",
        encoding="cp1252",
    )


def it_tirreno_xlsx() -> Built:
    return workbook(
        (
            "Listino",
            [
                ["Listino prezzi terminazione internazionale"],
                ["Cliente", "Tirreno Telecomunicazioni S.r.l."],
                ["Data", "06/03/2026"],
                ["Valuta", "EUR"],
                [],
                ["Prefisso", "Destinazione", "Tariffa €/min", "Decorrenza", "Tariffazione"],
                [39, "Italia Fisso", 0.0052, "Immediato", "60/60"],
                [393, "Italia Mobile", 0.0115, "Immediato", "60/60"],
                [378, "San Marino", 0.0650, "20/03/2026", "60/60"],
                [356, "Malta", 0.0480, "20/03/2026", "60/60"],
                [30, "Grecia", 0.0095, "20/03/2026", "1/1"],
            ],
        ),
        filename="listino_tirreno.xlsx",
        merged=("A1:E1", "B2:E2"),
    )


def it_adriatica_utf8() -> Built:
    return text_file(
        [
            ["Adriatica Voce SpA - listino all'ingrosso"],
            [],
            ["Codice", "Descrizione", "Prezzo al minuto", "Data inizio"],
            ["385", "Croazia", "0,0330", "23/03/2026"],
            ["3859", "Croazia Mobile", "0,0610", "23/03/2026"],
            ["386", "Slovenia", "0,0290", "23/03/2026"],
            ["387", "Bosnia ed Erzegovina", "0,0870", "Immediato"],
            ["382", "Montenegro", "0,1100", "Immediato"],
        ],
        filename="adriatica.csv",
        encoding="utf-8",
    )


def ru_svyaz_cp1251() -> Built:
    return text_file(
        [
            ["Прайс-лист на услуги международной связи"],
            ["Клиент: ООО Связь-Транзит"],
            ["Дата: 05.03.2026"],
            ["Валюта: USD"],
            [],
            ["Код", "Направление", "Цена, USD", "Дата начала", "Тарификация"],
            ["7", "Россия", "0,0110", "Немедленно", "60/60"],
            ["7495", "Россия Москва", "0,0060", "Немедленно", "60/60"],
            ["79", "Россия Мобильные", "0,0190", "16.03.2026", "60/60"],
            ["375", "Беларусь", "0,0850", "16.03.2026", "60/60"],
            ["380", "Украина", "0,0740", "16.03.2026", "60/60"],
            ["998", "Узбекистан", "0,0930", "Немедленно", "60/60"],
        ],
        filename="price_svyaz.csv",
        encoding="cp1251",
    )


def ru_baltica_koi8r() -> Built:
    return text_file(
        [
            ["Тарифы на международную терминацию трафика, валюта рубли"],
            [],
            ["Префикс", "Направление", "Тариф", "Действует с"],
            ["7727", "Казахстан Алматы", "2,8500", "20.03.2026"],
            ["7701", "Казахстан мобильные", "4,1200", "20.03.2026"],
            ["996", "Киргизия", "6,3000", "20.03.2026"],
            ["992", "Таджикистан", "7,1500", "Немедленно"],
            ["374", "Армения", "5,4000", "20.03.2026"],
            ["995", "Грузия", "4,9800", "Немедленно"],
        ],
        filename="baltica.csv",
        encoding="koi8_r",
    )


def tr_anadolu_cp1254() -> Built:
    return text_file(
        [
            ["Fiyat Listesi - Uluslararası Ses"],
            ["Müşteri: Anadolu İletişim A.Ş."],
            ["Tarih: 06.03.2026"],
            ["Para Birimi: USD"],
            [],
            ["Kod", "Yön", "Fiyat (USD)", "Geçerlilik Tarihi"],
            ["90", "Türkiye Sabit", "0,0095", "18.03.2026"],
            ["905", "Türkiye Mobil", "0,0310", "18.03.2026"],
            ["994", "Azerbaycan", "0,1450", "18.03.2026"],
            ["993", "Türkmenistan", "0,1800", "18.03.2026"],
            ["49", "Almanya", "0,0048", "18.03.2026"],
        ],
        filename="anadolu_fiyat.csv",
        encoding="cp1254",
    )


def tr_bosphorus_xlsx() -> Built:
    return workbook(
        (
            "Fiyatlar",
            [
                ["BOSPHORUS TELEKOM"],
                ["Toptan ses fiyat listesi"],
                ["Para Birimi", "EUR"],
                [],
                ["Önek", "Destinasyon", "Dakika Ücreti", "Başlangıç Tarihi", "Ücretlendirme"],
                ["90212", "Türkiye İstanbul", 0.0070, day("2026-03-21"), "60/60"],
                ["90312", "Türkiye Ankara", 0.0072, day("2026-03-21"), "60/60"],
                ["9053", "Türkiye Mobil Turkcell", 0.0285, day("2026-03-21"), "60/60"],
                ["30", "Yunanistan", 0.0098, day("2026-03-21"), "1/1"],
                ["359", "Bulgaristan", 0.0150, day("2026-03-21"), "1/1"],
            ],
        ),
        filename="bosphorus.xlsx",
    )


def ar_khaleej_xlsx() -> Built:
    return workbook(
        (
            "الأسعار",
            [
                ["قائمة أسعار المكالمات الدولية"],
                ["العميل", "شركة الخليج للاتصالات"],
                ["العملة", "USD"],
                [],
                ["الرمز", "الوجهة", "السعر", "تاريخ السريان"],
                ["966", "السعودية", 0.0450, day("2026-03-22")],
                ["9665", "السعودية - جوال", 0.0720, day("2026-03-22")],
                ["971", "الإمارات", 0.0830, day("2026-03-22")],
                ["20", "مصر", 0.0610, day("2026-03-22")],
                ["201", "مصر - جوال", 0.0690, day("2026-03-22")],
                ["962", "الأردن", 0.0950, day("2026-03-22")],
            ],
        ),
        filename="khaleej.xlsx",
    )


def ar_nile_cp1256() -> Built:
    return text_file(
        [
            ["شركة النيل للاتصالات - قائمة الأسعار"],
            [],
            ["البادئة", "الدولة", "التعرفة", "تاريخ البدء"],
            ["212", "المغرب", "0,0640", "15/03/2026"],
            ["216", "تونس", "0,0970", "15/03/2026"],
            ["213", "الجزائر", "0,0880", "15/03/2026"],
            ["218", "ليبيا", "0,1150", "15/03/2026"],
            ["249", "السودان", "0,2100", "15/03/2026"],
        ],
        filename="nile_rates.csv",
        encoding="cp1256",
    )


def zh_huayu_xlsx() -> Built:
    return workbook(
        (
            "报价",
            [
                ["国际语音报价单"],
                ["客户：", "华宇通信有限公司"],
                ["日期：", "2026-03-05"],
                ["币种：", "USD"],
                [],
                ["前缀", "目的地", "费率(美元/分钟)", "生效日期", "计费方式"],
                ["86", "中国", 0.0085, "立即", "60/60"],
                ["8613", "中国移动", 0.0092, "立即", "60/60"],
                ["852", "香港", 0.0120, "2026-03-20", "6/6"],
                ["853", "澳门", 0.0450, "2026-03-20", "60/60"],
                ["886", "台湾", 0.0330, "2026-03-20", "60/60"],
                ["65", "新加坡", 0.0075, "立即", "1/1"],
            ],
        ),
        filename="华宇报价.xlsx",
    )


def zh_dongfang_gb18030() -> Built:
    return text_file(
        [
            ["东方电信国际批发报价"],
            [],
            ["号码前缀", "国家", "价格", "开始日期"],
            ["81", "日本", "0.0290", "2026/03/20"],
            ["82", "韩国", "0.0250", "2026/03/20"],
            ["84", "越南", "0.0680", "立即"],
            ["66", "泰国", "0.0370", "2026/03/20"],
            ["60", "马来西亚", "0.0210", "立即"],
        ],
        filename="dongfang.csv",
        encoding="gb18030",
        delimiter=",",
    )


def ar_sahara_utf8() -> Built:
    """Arabic CSV in UTF-8 (no BOM), comma-separated, a notice line, day-first dates."""
    return text_file(
        [
            ["شركة الصحراء للاتصالات الدولية"],
            ["العملة: USD"],
            [],
            ["رمز الوجهة", "الوجهة", "سعر الدقيقة", "تاريخ النفاذ"],
            ["974", "قطر", "0.1650", "19/03/2026"],
            ["965", "الكويت", "0.0890", "19/03/2026"],
            ["968", "عمان", "0.1720", "19/03/2026"],
            ["973", "البحرين", "0.1240", "19/03/2026"],
            ["964", "العراق", "0.0980", "19/03/2026"],
        ],
        filename="sahara.csv",
        encoding="utf-8",
        delimiter=",",
    )


def zh_haitong_utf16_tab() -> Built:
    """Chinese "Unicode text" as Excel saves it: UTF-16 LE with BOM, tab-separated."""
    return text_file(
        [
            ["海通国际通信 语音批发价格"],
            [],
            ["号段", "线路", "单价", "生效时间"],
            ["95", "缅甸", "0.0920", "立即"],
            ["855", "柬埔寨", "0.0610", "2026-03-25"],
            ["856", "老挝", "0.0750", "2026-03-25"],
            ["880", "孟加拉", "0.0400", "立即"],
            ["977", "尼泊尔", "0.1250", "2026-03-25"],
        ],
        filename="haitong.txt",
        encoding="utf-16",
        delimiter="\t",
    )


def de_rheinland_latin9() -> Built:
    """German CSV in ISO-8859-15 with the euro sign in the header."""
    return text_file(
        [
            ["Rheinland Carrier AG - Preisliste"],
            ["Stand: 09.03.2026"],
            [],
            ["Vorwahl", "Zielland", "Preis (€/Min.)", "Gültig ab", "Abrechnungstakt"],
            ["31", "Niederlande", "0,0072", "23.03.2026", "60/60"],
            ["316", "Niederlande Mobil", "0,0183", "23.03.2026", "60/60"],
            ["32", "Belgien", "0,0107", "23.03.2026", "60/60"],
            ["352", "Luxemburg", "0,0121", "Sofort", "60/60"],
            ["45", "Dänemark", "0,0084", "Sofort", "1/1"],
        ],
        filename="rheinland.csv",
        encoding="iso8859_15",
    )


def en_peak_offpeak_csv() -> Built:
    """Peak and off-peak prices, neither named as the rate: which one is billed?"""
    return text_file(
        [
            ["Code", "Destination", "Peak", "Off-Peak", "Effective Date"],
            ["44", "United Kingdom", "0.0066", "0.0052", "2026-03-16"],
            ["447", "United Kingdom Mobile", "0.0110", "0.0095", "2026-03-16"],
            ["33", "France", "0.0091", "0.0074", "2026-03-16"],
            ["49", "Germany", "0.0057", "0.0049", "2026-03-16"],
        ],
        filename="peak_offpeak.csv",
        encoding="utf-8",
        delimiter=",",
    )


def zh_jinqiao_utf8() -> Built:
    """Chinese CSV in UTF-8 with BOM, a notice block, 计费方式 pulses."""
    return text_file(
        [
            ["金桥通信 国际语音资费表"],
            ["客户：环球电讯"],
            ["币种：USD"],
            [],
            ["前缀", "目的地", "费率", "生效日期", "计费方式"],
            ["886", "台湾", "0.0325", "2026-03-26", "60/60"],
            ["8869", "台湾移动", "0.0560", "2026-03-26", "60/60"],
            ["852", "香港", "0.0118", "立即", "6/6"],
            ["8525", "香港移动", "0.0135", "立即", "6/6"],
            ["62", "印度尼西亚", "0.0405", "2026-03-26", "1/1"],
        ],
        filename="jinqiao.csv",
        encoding="utf-8-sig",
        delimiter=",",
    )


def en_globalvoice_xlsx() -> Built:
    """English notice block of eight lines, Excel dates, a footnote without increments."""
    return workbook(
        (
            "Rate Sheet",
            [
                ["GlobalVoice Carrier Ltd"],
                ["International Voice Termination - Premium Route"],
                ["Customer:", "Blue Harbour Telecom"],
                ["Date Issued:", day("2026-03-02")],
                ["Currency:", "USD"],
                ["Increase validity date:", day("2026-03-09")],
                ["Decrease validity date:", day("2026-03-02")],
                [],
                ["DIAL CODE", "DESTINATION", "Rate (USD/min)", "effective date", "Billing "],
                [44, "United Kingdom", 0.0065, day("2026-03-09"), "1/1"],
                [447, "United Kingdom Mobile", 0.0105, day("2026-03-09"), "1/1"],
                [353, "Ireland", 0.0090, day("2026-03-02"), "1/1"],
                [3538, "Ireland Mobile", 0.0240, day("2026-03-02"), "1/1"],
                [61, "Australia", 0.0120, day("2026-03-09"), "60/60"],
                [614, "Australia Mobile", 0.0310, day("2026-03-09"), "60/60"],
                [],
                ["Rates are subject to the terms of the carrier services agreement."],
            ],
        ),
        filename="GlobalVoice_Premium_20260302.xlsx",
        merged=("A1:E1", "A2:E2", "A17:E17"),
    )


def en_pacific_csv() -> Built:
    return text_file(
        [
            ["Country", "Prefix", "Rate", "Effective", "Billing Increment"],
            ["Canada", "1204", "0.0042", "ASAP", "6/6"],
            ["Canada", "1416", "0.0040", "Immediate", "6/6"],
            ["Philippines", "63", "0.1150", "2026-03-16", "60/60"],
            ["Philippines Mobile", "639", "0.1680", "2026-03-16", "60/60"],
            ["New Zealand", "64", "0.0210", "2026-03-16", "1/1"],
        ],
        filename="pacific_rates.csv",
        encoding="utf-8",
        delimiter=",",
    )


def en_ambiguous_dates_csv() -> Built:
    """Slash dates whose days are all 12 or less: day-first or month-first is not provable."""
    return text_file(
        [
            ["Meridian Telecom rate notification"],
            [],
            ["Code", "Destination", "Rate", "Valid From"],
            ["27", "South Africa", "0.0210", "03/04/2026"],
            ["2782", "South Africa Mobile Vodacom", "0.0390", "03/04/2026"],
            ["254", "Kenya", "0.0520", "05/04/2026"],
            ["234", "Nigeria", "0.0610", "01/04/2026"],
            ["233", "Ghana", "0.1120", "05/04/2026"],
        ],
        filename="meridian.csv",
        encoding="utf-8",
        delimiter=",",
    )


# --- 2. no header row ----------------------------------------------------------------------


def headerless_name_first_csv() -> Built:
    """Destination, code, price (decimal comma), day-first date: no header at all."""
    return text_file(
        [
            ["Afghanistan", "93", "0,2150", "15/03/2026"],
            ["Afghanistan Mobile", "9370", "0,2380", "15/03/2026"],
            ["Albania", "355", "0,0920", "15/03/2026"],
            ["Algeria", "213", "0,0880", "15/03/2026"],
            ["Andorra", "376", "0,0610", "15/03/2026"],
            ["Angola", "244", "0,0850", "15/03/2026"],
        ],
        filename="azlist.csv",
        encoding="utf-8",
    )


def headerless_pulse_xlsx() -> Built:
    """Code, destination, price, pulse, Excel date: no header row."""
    return workbook(
        (
            "Sheet1",
            [
                [52, "Mexico", 0.0175, "60/60", day("2026-03-18")],
                [521, "Mexico Mobile", 0.0230, "60/60", day("2026-03-18")],
                [56, "Chile", 0.0190, "1/1", day("2026-03-18")],
                [569, "Chile Mobile", 0.0340, "1/1", day("2026-03-18")],
                [51, "Peru", 0.0160, "1/1", day("2026-03-18")],
                [591, "Bolivia", 0.0980, "60/60", day("2026-03-18")],
            ],
        ),
        filename="export.xlsx",
    )


def headerless_two_prices_csv() -> Built:
    """Two price-like columns side by side and nothing telling which is the rate."""
    return text_file(
        [
            ["44", "United Kingdom", "0.0120", "0.0135"],
            ["447", "United Kingdom Mobile", "0.0180", "0.0165"],
            ["33", "France", "0.0095", "0.0095"],
            ["49", "Germany", "0.0060", "0.0058"],
            ["39", "Italy", "0.0081", "0.0090"],
        ],
        filename="rates.csv",
        encoding="utf-8",
        delimiter=",",
    )


def generic_headers_csv() -> Built:
    """A tool's export whose header row says nothing (Column1…): the values say it all."""
    return text_file(
        [
            ["Column1", "Column2", "Column3", "Column4"],
            ["Kenya", "254", "0.0515", "2026-03-19"],
            ["Kenya Mobile Safaricom", "2547", "0.0990", "2026-03-19"],
            ["Tanzania", "255", "0.1280", "2026-03-19"],
            ["Uganda", "256", "0.1410", "2026-03-19"],
            ["Rwanda", "250", "0.1650", "2026-03-19"],
        ],
        filename="Query1.csv",
        encoding="utf-8",
        delimiter=",",
    )


# --- 3. intervals in two columns -----------------------------------------------------------


def intervals_min_duration_xlsx() -> Built:
    return workbook(
        (
            "Rates",
            [
                ["Orbit Communications - Standard A-Z"],
                ["Currency", "USD"],
                [],
                ["Code", "Destination", "Rate", "Min Duration", "Increment", "Effective Date"],
                ["52", "Mexico", 0.0180, 60, 60, day("2026-03-10")],
                ["509", "Haiti", 0.1850, 60, 60, day("2026-03-10")],
                ["55", "Brazil", 0.0070, 30, 6, day("2026-03-10")],
                ["44", "United Kingdom", 0.0062, 1, 1, day("2026-03-10")],
                ["91", "India", 0.0095, 1, 1, day("2026-03-10")],
            ],
        ),
        filename="orbit_az.xlsx",
    )


def intervals_initial_additional_csv() -> Built:
    return text_file(
        [
            ["Prefix", "Country", "Price", "Initial", "Additional"],
            ["1809", "Dominican Republic", "0.0420", "60", "60"],
            ["1876", "Jamaica", "0.1350", "60", "60"],
            ["1242", "Bahamas", "0.0890", "6", "6"],
            ["506", "Costa Rica", "0.0310", "1", "1"],
            ["507", "Panama", "0.0290", "30", "6"],
        ],
        filename="caribe.csv",
        encoding="utf-8",
        delimiter=",",
    )


def intervals_mindestdauer_cp1252() -> Built:
    return text_file(
        [
            ["Preisliste Großhandel"],
            [],
            ["Vorwahl", "Ziel", "Preis", "Mindestdauer", "Folgetakt", "Gültig ab"],
            ["48", "Polen", "0,0086", "60", "60", "15.04.2026"],
            ["36", "Ungarn", "0,0094", "60", "1", "15.04.2026"],
            ["40", "Rumänien", "0,0105", "1", "1", "15.04.2026"],
            ["421", "Slowakei", "0,0099", "30", "30", "15.04.2026"],
            ["386", "Slowenien", "0,0280", "60", "60", "15.04.2026"],
        ],
        filename="grosshandel.csv",
        encoding="cp1252",
    )


def intervals_min_inc_pipe() -> Built:
    return text_file(
        [
            ["Code", "Name", "Rate", "Min", "Inc"],
            ["880", "Bangladesh", "0.0420", "1", "1"],
            ["8801", "Bangladesh Mobile", "0.0395", "1", "1"],
            ["92", "Pakistan", "0.0610", "60", "60"],
            ["923", "Pakistan Mobile", "0.0705", "60", "60"],
            ["94", "Sri Lanka", "0.0980", "30", "30"],
        ],
        filename="southasia.txt",
        encoding="utf-8",
        delimiter="|",
        eol="\n",
    )


# --- 4. increments only in prose ------------------------------------------------------------


def prose_footnote_xlsx() -> Built:
    return workbook(
        (
            "Price List",
            [
                ["Zenith Wholesale Voice"],
                ["Date:", day("2026-03-03")],
                [],
                ["Code", "Destination", "Rate", "Effective Date"],
                ["52", "Mexico", 0.0180, day("2026-03-12")],
                ["521", "Mexico Mobile", 0.0235, day("2026-03-12")],
                ["509", "Haiti", 0.1820, day("2026-03-12")],
                ["1809", "Dominican Republic", 0.0410, day("2026-03-12")],
                ["44", "United Kingdom", 0.0061, day("2026-03-12")],
                ["49", "Germany", 0.0052, day("2026-03-12")],
                [],
                [
                    "* The following countries will be billed 60/60: "
                    "Mexico, Haiti, Dominican Republic."
                ],
                ["** All other destinations are billed 1/1."],
            ],
        ),
        filename="zenith.xlsx",
    )


def prose_notice_sentence_csv() -> Built:
    return text_file(
        [
            ["Carrier: Southern Cross Voice"],
            [
                "Billing increments: 60/60 applies to Mexico and Haiti; Brazil is billed 30/6; "
                "all other destinations 1/1."
            ],
            [],
            ["Code", "Destination", "Rate", "Effective Date"],
            ["5255", "Mexico - Mexico City", "0.0085", "2026-03-15"],
            ["52155", "Mexico - Mobile Telcel", "0.0240", "2026-03-15"],
            ["50937", "Haiti Digicel", "0.1790", "2026-03-15"],
            ["5511", "Brazil Sao Paulo", "0.0060", "2026-03-15"],
            ["55219", "Brazil Rio Mobile", "0.0290", "2026-03-15"],
            ["56", "Chile", "0.0180", "2026-03-15"],
        ],
        filename="southerncross.csv",
        encoding="utf-8",
        delimiter=",",
    )


LEGAL_NOTES = "\n".join(
    [
        "TERMS AND CONDITIONS",
        "1. All rates are in USD per minute and exclude taxes.",
        "2. Rates may change with seven (7) days written notice.",
        "3. Regular billing increments of 1/1 apply for all destinations except as noted below.",
        "4. Calls to Indonesia and the Philippines are billed 30/30.",
        "5. Payment terms: net 15 days from invoice date.",
        "6. Disputes must be raised within 30 days.",
    ]
)


def prose_legal_cell_xlsx() -> Built:
    return workbook(
        (
            "Rates",
            [
                [LEGAL_NOTES],
                [],
                ["Prefix", "Destination", "Rate", "Effective Date"],
                ["62", "Indonesia", 0.0410, day("2026-03-14")],
                ["628", "Indonesia Mobile", 0.0520, day("2026-03-14")],
                ["63", "Philippines", 0.1120, day("2026-03-14")],
                ["639", "Philippines Mobile", 0.1650, day("2026-03-14")],
                ["84", "Vietnam", 0.0660, day("2026-03-14")],
                ["66", "Thailand", 0.0350, day("2026-03-14")],
            ],
        ),
        filename="asiapac_terms.xlsx",
    )


def prose_notes_sheet_es_xlsx() -> Built:
    return workbook(
        (
            "Tarifas",
            [
                ["Prefijo", "Destino", "Tarifa", "Fecha de vigencia"],
                ["5255", "México Fijo", 0.0088, "Inmediato"],
                ["521", "México Móvil", 0.0236, "Inmediato"],
                ["571", "Colombia Bogotá", 0.0105, "Inmediato"],
                ["573", "Colombia Móvil", 0.0150, "Inmediato"],
                ["51", "Perú", 0.0170, "Inmediato"],
                ["56", "Chile", 0.0182, "Inmediato"],
            ],
        ),
        (
            "Notas",
            [
                ["Condiciones generales"],
                ["Precios en USD por minuto."],
                ["Tasación: los siguientes destinos se facturan 60/60: México, Colombia."],
                ["Resto de destinos 1/1."],
            ],
        ),
        filename="tarifas_con_notas.xlsx",
    )


def prose_default_clause_csv() -> Built:
    return text_file(
        [
            ["Code", "Destination", "Rate", "Effective Date"],
            ["91", "India", "0.0098", "2026-03-20"],
            ["919", "India Mobile", "0.0102", "2026-03-20"],
            ["92", "Pakistan", "0.0590", "2026-03-20"],
            ["880", "Bangladesh", "0.0410", "2026-03-20"],
            ["94", "Sri Lanka", "0.0950", "2026-03-20"],
            ["977", "Nepal", "0.1280", "2026-03-20"],
            [],
            ["Note: billing is 60/60 for all destinations unless otherwise stated."],
            ["India and Pakistan are billed 1/1."],
        ],
        filename="subcontinent.csv",
        encoding="utf-8",
        delimiter=",",
    )


def prose_unreadable_xlsx() -> Built:
    """A footnote that gives Mexico's first interval and not the next one."""
    return workbook(
        (
            "Rates",
            [
                ["Code", "Destination", "Rate", "Effective Date"],
                ["52", "Mexico", 0.0178, day("2026-03-12")],
                ["521", "Mexico Mobile", 0.0231, day("2026-03-12")],
                ["502", "Guatemala", 0.0890, day("2026-03-12")],
                ["503", "El Salvador", 0.0760, day("2026-03-12")],
                [],
                ["Mexico (all networks): minimum charge 60 seconds."],
            ],
        ),
        filename="centroamerica.xlsx",
    )


# --- 5. an unused column that looks like intervals ------------------------------------------


def unknown_pulse_header_es_xlsx() -> Built:
    return workbook(
        (
            "Tarifas",
            [
                ["Prefijo", "Destino", "Tarifa", "Fecha de vigencia", "Tasación Especial"],
                ["593", "Ecuador", 0.0610, "16/03/2026", "60/60"],
                ["5939", "Ecuador Móvil", 0.1120, "16/03/2026", "60/60"],
                ["595", "Paraguay", 0.0520, "16/03/2026", "1/1"],
                ["598", "Uruguay", 0.0870, "16/03/2026", "30/30"],
                ["58", "Venezuela", 0.0430, "16/03/2026", "1/1"],
            ],
        ),
        filename="tarifas_sur.xlsx",
    )


def unknown_pulse_header_bill_blk_csv() -> Built:
    return text_file(
        [
            ["Code", "Destination", "Rate", "Eff Date", "Bill Blk"],
            ["972", "Israel", "0.0125", "2026-03-16", "60/60"],
            ["9725", "Israel Mobile", "0.0240", "2026-03-16", "60/60"],
            ["357", "Cyprus", "0.0160", "2026-03-16", "6/6"],
            ["30", "Greece", "0.0097", "2026-03-16", "1/1"],
            ["90", "Turkey", "0.0099", "2026-03-16", "1/1"],
        ],
        filename="levant.csv",
        encoding="utf-8",
        delimiter=",",
    )


def unknown_bare_seconds_csv() -> Built:
    return text_file(
        [
            ["Code", "Destination", "Rate", "Rnd"],
            ["7", "Russia", "0.0115", "60"],
            ["7495", "Russia Moscow", "0.0062", "60"],
            ["380", "Ukraine", "0.0750", "1"],
            ["375", "Belarus", "0.0860", "1"],
            ["373", "Moldova", "0.0920", "60"],
        ],
        filename="cis.csv",
        encoding="utf-8",
        delimiter=",",
    )


def unknown_bare_seconds_es_xlsx() -> Built:
    """Bare seconds as numbers under a Spanish header nobody knows."""
    return workbook(
        (
            "Tarifas",
            [
                ["Prefijo", "Destino", "Tarifa", "Redondeo (seg)"],
                ["502", "Guatemala", 0.0880, 60],
                ["504", "Honduras", 0.1120, 60],
                ["505", "Nicaragua", 0.1390, 6],
                ["506", "Costa Rica", 0.0305, 1],
            ],
        ),
        filename="centroamerica_redondeo.xlsx",
    )


# --- 6. NANP pairs and ranges ---------------------------------------------------------------


def nanp_pairs_ranges_xlsx() -> Built:
    return workbook(
        (
            "Rates",
            [
                ["Code", "Destination", "Rate", "Effective Date"],
                ["1264-581", "Anguilla Mobile", 0.1450, day("2026-03-10")],
                ["1264-497", "Anguilla", 0.1320, day("2026-03-10")],
                ["1876-3", "Jamaica Mobile Digicel", 0.1680, day("2026-03-10")],
                ["447400-447409", "United Kingdom Mobile", 0.0105, day("2026-03-10")],
                ["93-70", "Afghanistan Mobile", 0.2380, day("2026-03-10")],
                ["4420", "United Kingdom London", 0.0048, day("2026-03-10")],
            ],
        ),
        filename="mixed_codes.xlsx",
    )


def nanp_code_lists_csv() -> Built:
    return text_file(
        [
            ["Country", "Type", "Codes", "Rate"],
            ["Bahamas", "Mobile", "1242-357, 1242-359", "0.1150"],
            ["Bermuda", "Fixed", "1441-29", "0.0640"],
            ["France", "Mobile", "3366-3369", "0.0155"],
            ["Russia", "Moscow", "7-495", "0.0063"],
            ["Germany", "Mobile", "49151-49152", "0.0098"],
        ],
        filename="codes_lists.csv",
        encoding="utf-8",
        delimiter=";",
    )


# --- 7. code-change sheets ------------------------------------------------------------------


def code_changes_en_xlsx() -> Built:
    return workbook(
        (
            "Rates",
            [
                ["Code", "Destination", "Rate", "Effective Date"],
                ["44", "United Kingdom", 0.0061, day("2026-03-10")],
                ["447", "United Kingdom Mobile", 0.0104, day("2026-03-10")],
                ["4478", "United Kingdom Mobile Special", 0.0250, day("2026-03-10")],
                ["353", "Ireland", 0.0089, day("2026-03-10")],
            ],
        ),
        (
            "Code Changes",
            [
                ["Code", "Destination", "Date", "Action"],
                ["4470", "United Kingdom Personal", day("2026-03-17"), "Code Removal"],
                ["4478", "United Kingdom Mobile Special", day("2026-03-10"), "Code Added"],
                ["3538", "Ireland Mobile", day("2026-03-10"), "Code Added"],
                ["447", "United Kingdom Mobile", day("2026-03-10"), "No Change"],
            ],
        ),
        filename="rates_and_code_changes.xlsx",
    )


def code_changes_es_xlsx() -> Built:
    return workbook(
        (
            "Tarifas",
            [
                ["Prefijo", "Destino", "Tarifa", "Fecha de vigencia"],
                ["52", "México", 0.0179, "16/03/2026"],
                ["5255", "México Ciudad", 0.0087, "16/03/2026"],
                ["57", "Colombia", 0.0405, "16/03/2026"],
            ],
        ),
        (
            "Cambios de códigos",
            [
                ["Código", "Destino", "Fecha", "Cambio"],
                ["5233", "México Guadalajara", "23/03/2026", "Baja"],
                ["5281", "México Monterrey", "23/03/2026", "Baja"],
                ["5255", "México Ciudad", "16/03/2026", "Alta"],
                ["574", "Colombia Medellín", "16/03/2026", "Alta"],
            ],
        ),
        filename="cambios.xlsx",
    )


def code_changes_only_pt_csv() -> Built:
    return text_file(
        [
            ["Alterações de códigos - abril 2026"],
            [],
            ["Código", "Destino", "Data", "Alteração"],
            ["55113", "Brasil São Paulo", "20/04/2026", "Exclusão"],
            ["55213", "Brasil Rio de Janeiro", "20/04/2026", "Exclusão"],
            ["55619", "Brasil Brasília Móvel", "20/04/2026", "Inclusão"],
            ["5511", "Brasil São Paulo", "20/04/2026", "Sem alteração"],
        ],
        filename="alteracoes_codigos.csv",
        encoding="utf-8",
    )


def code_changes_de_lists_xlsx() -> Built:
    """German code changes, several codes in one cell, removals and additions."""
    return workbook(
        (
            "Preise",
            [
                ["Vorwahl", "Ziel", "Preis", "Gültig ab"],
                ["49", "Deutschland", 0.0046, "16.03.2026"],
                ["4930", "Deutschland Berlin", 0.0041, "16.03.2026"],
                ["49176", "Deutschland Mobil O2", 0.0098, "16.03.2026"],
            ],
        ),
        (
            "Codeänderungen",
            [
                ["Ziel", "Vorwahlen", "Datum", "Änderung"],
                ["Deutschland Mobil Sonder", "49150, 49155", "30.03.2026", "Gelöscht"],
                ["Deutschland Mobil O2", "49176", "16.03.2026", "Neu"],
                ["Deutschland Berlin", "4930", "16.03.2026", "Keine Änderung"],
            ],
        ),
        filename="preise_codeaenderungen.xlsx",
    )


def code_changes_fr_xlsx() -> Built:
    return workbook(
        (
            "Tarifs",
            [
                ["Indicatif", "Destination", "Tarif", "Date d'effet"],
                ["33", "France", 0.0084, day("2026-03-17")],
                ["3361", "France Mobile Orange", 0.0158, day("2026-03-17")],
                ["262", "Réunion", 0.0720, day("2026-03-17")],
            ],
        ),
        (
            "Modifications",
            [
                ["Indicatif", "Destination", "Date d'effet", "Type de modification"],
                ["33800", "France Numéros Verts", day("2026-03-31"), "Suppression"],
                ["3361", "France Mobile Orange", day("2026-03-17"), "Ajout"],
                ["262692", "Réunion Mobile", day("2026-03-17"), "Ajout"],
                ["33", "France", day("2026-03-17"), "Aucun changement"],
            ],
        ),
        filename="tarifs_modifications.xlsx",
    )


# --- 8. DID lists ---------------------------------------------------------------------------


def did_list_xlsx() -> Built:
    return workbook(
        (
            "DID Inventory",
            [
                [
                    "Country",
                    "City",
                    "Number",
                    "Voice",
                    "SMS",
                    "Per Minute",
                    "Per SMS",
                    "Monthly",
                    "Setup",
                ],
                [
                    "United Kingdom",
                    "London",
                    "442071234567",
                    "Yes",
                    "No",
                    0.0040,
                    0.0000,
                    1.50,
                    0.00,
                ],
                [
                    "United Kingdom",
                    "Manchester",
                    "441612345678",
                    "Yes",
                    "No",
                    0.0040,
                    0.0000,
                    1.50,
                    0.00,
                ],
                [
                    "United Kingdom",
                    "Mobile",
                    "447700900123",
                    "Yes",
                    "Yes",
                    0.0060,
                    0.0075,
                    3.00,
                    1.00,
                ],
                ["Germany", "Berlin", "493012345678", "Yes", "No", 0.0050, 0.0000, 2.00, 0.00],
                ["Netherlands", "Mobile", "31612345678", "No", "Yes", 0.0000, 0.0080, 4.00, 2.00],
            ],
        ),
        filename="did_inventory.xlsx",
    )


def did_list_csv() -> Built:
    return text_file(
        [
            [
                "DID",
                "Country",
                "Area",
                "Voice",
                "SMS",
                "Fax",
                "Per Minute",
                "Per SMS",
                "MRC",
                "NRC",
            ],
            ["12125550143", "USA", "New York", "Y", "Y", "N", "0.0035", "0.0040", "0.80", "0.00"],
            ["13055550187", "USA", "Miami", "Y", "N", "N", "0.0035", "0.0000", "0.80", "0.00"],
            ["14165550122", "Canada", "Toronto", "Y", "Y", "Y", "0.0045", "0.0050", "1.10", "0.50"],
            [
                "525512345678",
                "Mexico",
                "Mexico City",
                "Y",
                "N",
                "N",
                "0.0090",
                "0.0000",
                "3.50",
                "5.00",
            ],
        ],
        filename="numbers.csv",
        encoding="utf-8",
        delimiter=",",
    )


# --- 9. SMS lists ---------------------------------------------------------------------------


def sms_mcc_mnc_csv() -> Built:
    return text_file(
        [
            ["SMS A2P price list", "", "", "", ""],
            ["Currency", "EUR", "", "", ""],
            [],
            ["Country", "Operator", "MCC", "MNC", "Price (EUR)"],
            ["Germany", "Telekom", "262", "01", "0.0720"],
            ["Germany", "Vodafone", "262", "02", "0.0735"],
            ["Germany", "O2", "262", "03", "0.0690"],
            ["United Kingdom", "O2", "234", "10", "0.0310"],
            ["United Kingdom", "Vodafone", "234", "15", "0.0320"],
            ["France", "Orange", "208", "01", "0.0550"],
            ["United States", "T-Mobile", "310", "260", "0.0085"],
            ["United States", "Verizon", "310", "004", "0.0085"],
        ],
        filename="sms_prices.csv",
        encoding="utf-8",
    )


def sms_camelcase_xlsx() -> Built:
    return workbook(
        (
            "coverage",
            [
                ["country", "network", "mccmnc", "smsPriceEUR"],
                ["Spain", "Movistar", "21407", 0.0580],
                ["Spain", "Vodafone", "21401", 0.0575],
                ["Italy", "TIM", "22201", 0.0610],
                ["Italy", "WindTre", "22288", 0.0605],
                ["Poland", "Orange", "26003", 0.0240],
            ],
        ),
        filename="sms_cost_export.xlsx",
    )


def sms_submit_delivered_csv() -> Built:
    return text_file(
        [
            ["Charging is per delivered message (DLR)."],
            [],
            ["Country", "Network", "MCC", "MNC", "Submit Price", "Delivered Price"],
            ["India", "Airtel", "404", "10", "0.0021", "0.0024"],
            ["India", "Vodafone Idea", "404", "20", "0.0021", "0.0025"],
            ["Indonesia", "Telkomsel", "510", "10", "0.0280", "0.0310"],
            ["Nigeria", "MTN", "621", "30", "0.0350", "0.0390"],
        ],
        filename="sms_submit_dlr.csv",
        encoding="utf-8",
        delimiter=",",
    )


# --- 10. US jurisdiction decks --------------------------------------------------------------


def us_jurisdiction_csv() -> Built:
    return text_file(
        [
            ["US Domestic Termination - NPANXX deck"],
            ["Effective", "2026-03-15"],
            [],
            ["NPANXX", "Inter", "Intra", "Indet", "Effective Date"],
            ["201200", "0.0042", "0.0061", "0.0055", "2026-03-15"],
            ["212555", "0.0039", "0.0058", "0.0050", "2026-03-15"],
            ["305222", "0.0045", "0.0072", "0.0060", "2026-03-15"],
            ["415310", "0.0038", "0.0049", "0.0044", "2026-03-15"],
            ["512470", "0.0041", "0.0066", "0.0052", "2026-03-15"],
        ],
        filename="us_npanxx.csv",
        encoding="utf-8",
        delimiter=",",
    )


def us_npa_nxx_xlsx() -> Built:
    return workbook(
        (
            "US48",
            [
                [
                    "NPA",
                    "NXX",
                    "State",
                    "Interstate Rate",
                    "Intrastate Rate",
                    "Indeterminate Rate",
                    "Eff Date",
                ],
                ["312", "555", "IL", 0.0036, 0.0051, 0.0044, day("2026-03-20")],
                ["404", "221", "GA", 0.0040, 0.0069, 0.0058, day("2026-03-20")],
                ["617", "330", "MA", 0.0037, 0.0047, 0.0042, day("2026-03-20")],
                ["713", "814", "TX", 0.0043, 0.0071, 0.0060, day("2026-03-20")],
            ],
        ),
        filename="us48.xlsx",
    )


# --- 11. billing-system exports -------------------------------------------------------------


def billing_pfx_csv() -> Built:
    return text_file(
        [
            ["Pfx", "Dest", "Rate", "Eff Date"],
            ["4420", "UK London", "0.0049", "2026-03-11"],
            ["4412", "UK Geographic", "0.0058", "2026-03-11"],
            ["447", "UK Mobile", "0.0102", "2026-03-11"],
            ["3531", "Ireland Dublin", "0.0081", "2026-03-11"],
            ["3538", "Ireland Mobile", "0.0235", "2026-03-11"],
        ],
        filename="switch_export.csv",
        encoding="utf-8",
        delimiter=",",
    )


def billing_a2billing_csv() -> Built:
    """A2Billing's documented import order (dialprefix, destination, rateinitial, initblock,
    billingblock, …) with one header nobody reads (``tag``)."""
    return text_file(
        [
            [
                "dialprefix",
                "destination",
                "rateinitial",
                "initblock",
                "billingblock",
                "startdate",
                "tag",
            ],
            ["44", "United Kingdom", "0.0070", "60", "60", "2026-03-12 00:00:00", "ratecard-b"],
            [
                "447",
                "United Kingdom Mobile",
                "0.0115",
                "60",
                "60",
                "2026-03-12 00:00:00",
                "ratecard-b",
            ],
            ["33", "France", "0.0090", "30", "6", "2026-03-12 00:00:00", "ratecard-b"],
            ["336", "France Mobile", "0.0170", "30", "6", "2026-03-12 00:00:00", "ratecard-b"],
            ["34", "Spain", "0.0085", "1", "1", "2026-03-12 00:00:00", "ratecard-b"],
        ],
        filename="a2billing_ratecard.csv",
        encoding="utf-8",
        delimiter=";",
    )


def billing_dialprefix_ids_csv() -> Built:
    """A switch's rate table dump: a row id, the prefix under ``dialprefix``, a currency."""
    return text_file(
        [
            ["id", "dialprefix", "description", "cost_per_min", "currency"],
            ["1001", "61", "Australia", "0.0118", "USD"],
            ["1002", "614", "Australia Mobile", "0.0305", "USD"],
            ["1003", "64", "New Zealand", "0.0205", "USD"],
            ["1004", "642", "New Zealand Mobile", "0.0410", "USD"],
            ["1005", "679", "Fiji", "0.2350", "USD"],
        ],
        filename="rate_table_dump.csv",
        encoding="utf-8",
        delimiter=",",
    )


# --- 12. workbooks of several sheets --------------------------------------------------------


def _region(rows: list[list]) -> list[list]:
    return [["Code", "Destination", "Rate", "Effective Date"], *rows]


def workbook_regions_xlsx() -> Built:
    return workbook(
        (
            "Cover",
            [
                ["Meridian Global Carrier"],
                ["Wholesale voice rates, March 2026"],
                ["Contents: Europe, Americas, Asia, Notes"],
            ],
        ),
        (
            "Europe",
            _region(
                [
                    ["44", "United Kingdom", 0.0063, day("2026-03-16")],
                    ["33", "France", 0.0088, day("2026-03-16")],
                    ["49", "Germany", 0.0053, day("2026-03-16")],
                ]
            ),
        ),
        (
            "Americas",
            _region(
                [
                    ["North America"],
                    ["1", "USA", 0.0040, day("2026-03-16")],
                    ["South America"],
                    ["55", "Brazil", 0.0072, day("2026-03-16")],
                    ["54", "Argentina", 0.0315, day("2026-03-16")],
                ]
            ),
        ),
        (
            "Asia",
            _region(
                [
                    ["86", "China", 0.0086, day("2026-03-16")],
                    ["81", "Japan", 0.0295, day("2026-03-16")],
                ]
            ),
        ),
        (
            "Notes",
            [
                ["All rates are in USD per minute."],
                ["Rates are valid until further notice."],
                ["Payment terms are net 30 days."],
            ],
        ),
        ("Sheet6", []),
        filename="meridian_by_region.xlsx",
    )


def workbook_info_summary_xlsx() -> Built:
    return workbook(
        (
            "Info",
            [
                ["Provider", "Helios Telecom"],
                ["Currency", "EUR"],
                ["Valid from", day("2026-04-01")],
            ],
        ),
        (
            "A-Z",
            [
                ["Prefix", "Country", "Price", "Valid From"],
                ["31", "Netherlands", 0.0074, day("2026-04-01")],
                ["316", "Netherlands Mobile", 0.0185, day("2026-04-01")],
                ["32", "Belgium", 0.0108, day("2026-04-01")],
                ["352", "Luxembourg", 0.0122, day("2026-04-01")],
            ],
        ),
        (
            "Summary",
            [
                ["Change", "Count"],
                ["Increases", 2],
                ["Decreases", 1],
                ["New", 1],
            ],
        ),
        filename="helios_az.xlsx",
    )
