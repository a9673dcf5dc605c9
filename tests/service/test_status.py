"""What ``status``, ``check-config`` and ``db`` gather, through the application layer."""

from __future__ import annotations

import dataclasses

from ingestd.config import Config
from ingestd.db.engine import SCHEMA_REVISION
from ingestd.service import App, decks, status

from .conftest import csv_deck


def test_status_counts_tables_mail_and_the_queue(app: App):
    decks.import_deck(app, "acme", csv_deck(("4400", "0.0100")), file_name="r.csv")
    found = status.status(app)
    assert (found["tables"], found["versions"]) == (1, 1)
    assert found["database"].startswith("sqlite:///")
    assert [t["vendor"] for t in found["tables_detail"]] == ["acme"]
    assert [(t["table"], t["version"], t["file_name"]) for t in found["last_imports"]] == [
        ("default", 1, "r.csv")
    ]
    assert found["queue"] == {"waiting": 0, "processing": 0}
    assert (found["quarantine_held"], found["outbox"], found["imap"]) == (0, {}, [])


def test_check_config_reaches_the_database_and_says_what_is_wrong(config: Config, tmp_path):
    report = status.check_config(config)
    assert list(report) == ["ok", "config", "database", "templates", "dkim", "http", "webhooks"]
    assert report["ok"] is True
    assert report["database"]["reachable"] is True
    assert report["dkim"] == {"signing": False}
    assert report["http"] == {"serving": False} and report["webhooks"] == []

    folder = tmp_path / "not-a-db"
    folder.mkdir()
    unreachable = _with_database(config, f"sqlite:///{folder}")  # a folder: no database
    report = status.check_config(unreachable)
    assert report["ok"] is False and report["database"]["reachable"] is False


def _with_database(config: Config, url: str) -> Config:
    return dataclasses.replace(config, database=dataclasses.replace(config.database, url=url))


def test_the_schema_revision_and_its_upgrade(config: Config):
    with App.open(config, schema=False) as app:
        assert status.schema_revision(app) is None
        assert status.upgrade_schema(app) == (None, SCHEMA_REVISION)
        assert status.upgrade_schema(app) == (SCHEMA_REVISION, SCHEMA_REVISION)
        assert status.schema_revision(app) == SCHEMA_REVISION
