"""Importing deck files through the application layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.errors import UsageError
from ingestd.service import App, decks, tables

from .conftest import RECEIVED, csv_deck


def test_a_deck_is_imported_into_its_table(app: App):
    (outcome,) = decks.import_deck(
        app, "acme", csv_deck(("4400", "0.0100")), file_name="rates.csv", received_at=RECEIVED
    )
    assert (outcome.status, outcome.vendor, outcome.table, outcome.version) == (
        "imported",
        "acme",
        "default",
        1,
    )
    assert (outcome.vendor_known, outcome.received_at) == (True, RECEIVED)
    again = decks.import_deck(
        app, "acme", csv_deck(("4400", "0.0100")), file_name="rates.csv", received_at=RECEIVED
    )
    assert [(o.status, o.duplicate_of) for o in again] == [("duplicate", 1)]


def test_a_dry_run_writes_nothing(app: App):
    (outcome,) = decks.import_deck(
        app, "newco", csv_deck(("4400", "0.0100")), file_name="r.csv", dry_run=True
    )
    assert (outcome.status, outcome.vendor_known) == ("dry_run", False)
    assert tables.tables(app) == []


def test_a_file_on_disk_is_imported_under_its_name(app: App, tmp_path: Path):
    path = tmp_path / "acme-rates.csv"
    path.write_bytes(csv_deck(("33", "0.0200")))
    stages: list[str] = []
    (outcome,) = decks.import_path(
        app, "acme", path, table="fr", kind="voice", progress=stages.append
    )
    assert (outcome.status, outcome.file_name, outcome.table) == ("imported", path.name, "fr")
    assert stages
    with pytest.raises(UsageError, match="cannot read"):
        decks.import_path(app, "acme", tmp_path / "missing.csv")


def test_answers_as_a_person_types_them(app: App):
    answers = decks.answers(map=["Prefix=code", "Rate=price"], increments=["*=60/60"])
    assert answers and "--map" in " ".join(answers.as_options())
    with pytest.raises(UsageError, match="not a field"):
        decks.answers(map=["Prefix=prefix"])
    (outcome,) = decks.import_deck(
        app, "acme", csv_deck(("4400", "0.0100")), file_name="r.csv", answers=answers
    )
    assert outcome.status == "imported"
    assert outcome.sheet["profile"]["saved"]
