"""Log lines (docs/operations.md#running-as-a-service): one event per line, ``event=… key=value …``,
so that an admin can grep one message from arrival to notification by its correlation id."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO


def kv(event: str, **fields: object) -> str:
    """One ``key=value`` log line; a value that is empty, holds spaces, quotes, ``=`` or
    anything unprintable is JSON-quoted; None values are left out."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if not text or any(c in text for c in ' "=\\') or not text.isprintable():
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_kv(line: str) -> dict[str, Any]:
    """The fields of a ``kv`` line (for the JSON format); {} when the line is not one."""
    if not line.startswith("event="):
        return {}
    fields: dict[str, Any] = {}
    for key, value in _PAIR.findall(line):
        fields[key] = json.loads(value) if value.startswith('"') else value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = parse_kv(message)
        entry.update(fields or {"message": message})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class KvFormatter(logging.Formatter):
    """``ts=… level=… logger=… event=… key=value …``; a traceback follows on its own lines."""

    def __init__(self) -> None:
        super().__init__("ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)


def configure_logging(log_format: str, level: str, stream: TextIO | None = None) -> None:
    """One line per event on stderr (journald): ``kv`` (default) or ``json``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KvFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # libraries that narrate every SMTP command or key lookup: their problems only
    for noisy in ("mail.log", "dkimpy", "imapclient", "asyncio", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
