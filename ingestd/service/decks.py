"""Rate decks imported as files (what ``ingestd import`` does for sheets; mail brings its decks
through ``messages``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestd import ingest
from ingestd.db.clock import utcnow
from ingestd.errors import UsageError
from ingestd.ingest import ImportOutcome
from ingestd.logs import kv
from ingestd.service.app import App
from ingestd.sheets.answers import Answers

log = logging.getLogger("ingestd.service")


def answers(
    *,
    map: Iterable[str] = (),
    increments: Iterable[str] = (),
    date_order: str | None = None,
    hyphen: str | None = None,
) -> Answers:
    """A person's answers about a deck as typed (``"Indicatif=code"``, ``"Mexico=60/60"``,
    ``"dmy"``, ``"range"``); a malformed one is a usage error."""
    try:
        return Answers.parse(map=map, increments=increments, date_order=date_order, hyphen=hyphen)
    except ValueError as e:
        raise UsageError(str(e)) from None


def read(path: Path) -> bytes:
    """The bytes of a file to import; one that cannot be read is a usage error."""
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


def import_deck(
    app: App,
    vendor: str,
    data: bytes,
    *,
    file_name: str | None,
    received_at: datetime | None = None,
    table: str | None = None,
    kind: str | None = None,
    mode: str | None = None,
    dry_run: bool = False,
    accept_guards: bool = False,
    answers: Answers | None = None,
    progress: Callable[[str], None] | None = None,
    sender: str | None = None,
    authentication: dict[str, Any] | None = None,
    source: str = "cli",
) -> list[ImportOutcome]:
    """Import every deck of one file (csv, txt, xlsx, xls, ods, zip), each into its rate
    table; one outcome per deck (one refused outcome when the file cannot be read).
    ``received_at`` (default: now) pins "now" for notice periods; ``answers`` win over the
    vendor's configuration and profiles and are kept as the profile of each deck imported;
    ``progress`` is told each stage; ``sender`` is who the versions' provenance names (an API
    key), ``authentication`` how they were proven; ``source`` ("cli", "api") is what the
    webhooks' events say."""
    outcomes = ingest.import_file(
        app.store,
        app.config,
        vendor,
        data,
        file_name=file_name,
        received_at=received_at or utcnow(),
        table=table,
        kind=kind,
        mode=mode,
        dry_run=dry_run,
        accept_guards=accept_guards,
        progress=progress,
        answers=answers,
        sender=sender,
        authentication=authentication,
    )
    try:
        app.webhooks.announce_imports([o.as_dict() for o in outcomes], source=source)
    except Exception:  # the import stands; the log says what was not announced
        log.exception(kv("webhook.announce_failed", vendor=vendor, file=file_name))
    return outcomes


def import_path(
    app: App,
    vendor: str,
    path: Path,
    *,
    received_at: datetime | None = None,
    table: str | None = None,
    kind: str | None = None,
    mode: str | None = None,
    dry_run: bool = False,
    accept_guards: bool = False,
    answers: Answers | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[ImportOutcome]:
    """:func:`import_deck` of a file on disk, under its own name."""
    return import_deck(
        app,
        vendor,
        read(path),
        file_name=path.name,
        received_at=received_at,
        table=table,
        kind=kind,
        mode=mode,
        dry_run=dry_run,
        accept_guards=accept_guards,
        answers=answers,
        progress=progress,
    )
