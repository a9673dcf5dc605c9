"""The notice block above a table and the footnotes below it (docs/reading.md#finding-the-table):
"Label: value" facts (currency, issue date, the dates increases and decreases apply from, the
product), the title, and every line of text, which ``sheets.prose`` reads for billing
increments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import polars as pl

from ingestd.rates.model import iso
from ingestd.sheets.currencies import currency_in
from ingestd.sheets.dates import parse_datetimes
from ingestd.sheets.headers import header_key


@dataclass(frozen=True)
class NoticeFacts:
    """What the notice block above a table (and the footnotes below it) say."""

    currency: str | None = None  # ISO code, e.g. "USD" (from "Currency: USD per minute")
    issue_date: datetime | None = None  # "Date Issued", "Issue date"
    increase_date: datetime | None = None  # "Increase Validity Date"
    decrease_date: datetime | None = None  # "Decrease Validity Date"
    product: str | None = None  # "Product Name: Wholesale Gold+"
    title: str | None = None  # first text line, e.g. "Wholesale Sell Rates Notification"
    lines: tuple[str, ...] = ()  # every text line of the notice block and the footnotes

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "issue_date": iso(self.issue_date),
            "increase_date": iso(self.increase_date),
            "decrease_date": iso(self.decrease_date),
            "product": self.product,
            "title": self.title,
        }


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


_DATE_FACTS = ("issue_date", "increase_date", "decrease_date")


def read_notice(
    above: list[tuple],
    footnotes: list[str],
    *,
    dates_alongside: pl.Series | None,
    date_order: str,
) -> tuple[NoticeFacts, list[str]]:
    """Facts from "Label: value" pairs above the table (label and value in neighbouring cells,
    or both in one cell), the title (first text line) and every line."""
    facts: dict[str, str] = {}
    lines: list[str] = []
    title = None
    for row in above:
        cells = [c.strip() for c in row if c is not None and c.strip()]
        if not cells:
            continue
        lines.append(text_line(row))
        found = _labelled(cells)
        for fact, value in found.items():
            facts.setdefault(fact, value)
        if title is None and not found:
            title = lines[-1]
    warnings = []
    dates = _notice_dates(
        {f: facts[f] for f in _DATE_FACTS if f in facts}, dates_alongside, date_order, warnings
    )
    currency = None
    if "currency" in facts:
        currency = currency_in(facts["currency"])
        if currency is None:
            warnings.append(f"notice currency {facts['currency']!r} is not a known currency")
    notice = NoticeFacts(
        currency=currency,
        product=facts.get("product"),
        title=title,
        lines=tuple(lines + footnotes),
        **dates,
    )
    return notice, warnings


def _labelled(cells: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, cell in enumerate(cells):
        label, rest = label_and_value(cell) or (cell, "")
        fact = notice_label(label)
        if fact is None:
            continue
        if rest:
            found.setdefault(fact, rest)
        elif i + 1 < len(cells) and notice_label(cells[i + 1].rstrip(":：")) is None:
            found.setdefault(fact, cells[i + 1])
    return found


def _notice_dates(
    texts: dict[str, str],
    alongside: pl.Series | None,
    date_order: str,
    warnings: list[str],
) -> dict[str, datetime | None]:
    """Notice dates read as ``dates.parse_datetimes`` reads a column: together with the
    table's own dates, so day-first vs month-first is decided once for the deck.  The values
    are wall times as written (no time zone applied)."""
    if not texts:
        return {}
    cells = pl.Series("cell", list(texts.values()), dtype=pl.String)
    if alongside is not None:
        cells = pl.concat([cells, alongside.unique().rename("cell")])
    values, errors, _ = parse_datetimes(cells, date_order=date_order)
    out = {}
    for i, (fact, text) in enumerate(texts.items()):
        out[fact] = values[i]
        if values[i] is None and errors[i] is not None:
            warnings.append(f"notice {fact.replace('_', ' ')} {text!r} is not read: {errors[i]}")
    return out


def text_line(row: tuple) -> str:
    """One row as a line of text; cells joined by ", " (an unquoted CSV note split at its
    commas reads as written), after a label's ":" by a space."""
    line = ""
    for cell in (c.strip() for c in row if c is not None and c.strip()):
        line += ("" if not line else " " if line.endswith(":") else ", ") + cell
    return line


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
