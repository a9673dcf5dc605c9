"""Log lines (SPEC §7): one event per line, ``event=… key=value …``, so that an admin can grep
one message from arrival to notification by its correlation id."""

from __future__ import annotations

import json


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
