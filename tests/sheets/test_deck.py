"""docs/reading.md#decks-nobody-taught-us: a file's sheets combined into its decks; a code-changes
sheet's additions must find their rate in the price sheet of the same file."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from ingestd.sheets.deck import ReadOptions, read_decks

CHANGES_HEADER = ["Code", "Destination", "Code Change", "Effective Date"]
DATE = dt.datetime(2026, 10, 1)


def workbook(**sheets: list[list]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name.replace("_", " "))
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def decks(data: bytes):
    return read_decks(data, filename="deck.xlsx", options=ReadOptions())


RATES = [
    ["Code", "Destination", "Rate"],
    ["44", "United Kingdom", 0.1],
    ["4916", "Germany Mobile", 0.2],
    ["4918", "Germany Mobile", 0.2],
    ["33", "France", 0.3],
    ["4479", "UK Mobile", 0.4],
]


def test_additions_with_a_rate_in_the_price_sheet_are_counted_the_others_rejected():
    data = workbook(
        Rates=RATES,
        Code_changes=[
            CHANGES_HEADER,
            ["4916", "Germany Mobile", "Code Added", DATE],
            ["4917", "Germany Mobile", "Code Added", DATE],
            ["4479", "UK Mobile", "Code Removal", DATE],
            ["33", "France", "No Change", None],
            ["4918, 4919", "Germany Mobile", "New Code", DATE],
            ["4918", "Germany Mobile", "Destination Added", DATE],
        ],
    )
    (deck,) = decks(data)
    assert deck.sheet == "Rates" and deck.layout == "header"
    assert deck.code_changes == {
        "removed": 1, "blocked": 0, "added": 4, "added_with_rate": 2, "unchanged": 1,
    }  # fmt: skip
    assert deck.report()["code_changes"] == deck.code_changes
    removed = deck.rows.filter(deck.rows.get_column("discontinued"))
    assert removed.select("code", "effective_from").rows() == [("4479", DATE)]
    assert [(e.sheet, e.row, e.reason, e.code) for e in deck.errors] == [
        ("Code changes", 3, "added_without_rate", "4917"),
        ("Code changes", 6, "added_without_rate", "4919"),
    ]
    first, listed = deck.errors
    assert first.cells == ("4917", "Germany Mobile", "Code Added", "2026-10-01")
    assert first.message.startswith("code 4917 is added by the code-changes sheet")
    assert "'Code changes' (row 3: 4917 | Germany Mobile | Code Added" in first.message
    assert first.message.endswith("but the deck gives it no rate")
    assert "code 4919 is added" in listed.message and "4918 |" not in listed.message


def test_a_code_changes_sheet_alone_rejects_every_addition_and_applies_its_removals():
    data = workbook(
        Code_changes=[
            CHANGES_HEADER,
            ["4916", "Germany Mobile", "Added", DATE],
            ["4479", "UK Mobile", "Removed", DATE],
            ["4917-4918", "Germany Mobile", "New", DATE],
            ["33", "France", "Unchanged", None],
        ]
    )
    (deck,) = decks(data)
    assert deck.layout == "code_changes"
    assert deck.rows.select("code", "discontinued", "effective_from").rows() == [
        ("4479", True, DATE)
    ]
    assert deck.code_changes == {
        "removed": 1, "blocked": 0, "added": 2, "added_with_rate": 0, "unchanged": 1,
    }  # fmt: skip
    assert [(e.row, e.reason, e.code) for e in deck.errors] == [
        (2, "added_without_rate", "4916"),
        (4, "added_without_rate", "4917"),
    ]
    assert "codes 4917, 4918 are added" in deck.errors[1].message
    assert deck.errors[1].message.endswith("gives them no rate")
    assert deck.additions is None  # settled


@pytest.mark.parametrize(
    ("added", "removed", "unchanged"),
    [
        ("Alta", "Baja", "Sin cambios"),
        ("Nuevo", "Eliminado", "Sin cambio"),
        ("Novo", "Removido", "Sem alteração"),
        ("Ajouté", "Supprimé", "Inchangé"),
        ("NEU", "GELÖSCHT", "unverändert"),
        ("Aggiunto", "Eliminato", "Invariato"),
        ("Новый", "Удален", "Без изменений"),
        ("Yeni", "Kaldırıldı", "Değişiklik yok"),
        ("جديد", "محذوف", "بدون تغيير"),
        ("新增", "删除", "不变"),
        ("code-added", "code_removed", "NO CHANGE."),
    ],
)
def test_code_change_words_in_the_languages_vendors_write(added, removed, unchanged):
    data = workbook(
        Rates=RATES,
        Code_changes=[
            CHANGES_HEADER,
            ["4916", "Germany Mobile", added, DATE],
            ["4917", "Germany Mobile", added, DATE],
            ["4479", "UK Mobile", removed, DATE],
            ["33", "France", unchanged, None],
        ],
    )
    (deck,) = decks(data)
    assert deck.code_changes == {
        "removed": 1, "blocked": 0, "added": 2, "added_with_rate": 1, "unchanged": 1,
    }  # fmt: skip
    assert [(e.row, e.reason) for e in deck.errors] == [(3, "added_without_rate")]
    assert deck.rows.filter(deck.rows.get_column("discontinued")).get_column("code").to_list() == [
        "4479"
    ]
    assert not any("not change words" in w for w in deck.warnings)


def test_an_addition_whose_code_is_not_a_code_is_rejected_for_that():
    data = workbook(
        Rates=RATES,
        Code_changes=[CHANGES_HEADER, ["49x6", "Germany Mobile", "Added", DATE]],
    )
    (deck,) = decks(data)
    assert [(e.row, e.reason) for e in deck.errors] == [(2, "bad_code")]
    assert deck.errors[0].message == "Code '49x6' is not a code (digits only, at most 15)"
    assert deck.code_changes["added"] == 1 and deck.code_changes["added_with_rate"] == 0


def test_a_price_sheet_alone_has_no_code_changes():
    (deck,) = decks(workbook(Rates=RATES))
    assert deck.code_changes == {} and deck.report()["code_changes"] == {}
