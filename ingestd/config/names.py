"""The one rule for vendor ids and rate table names (README "Command line"): the database's
columns for them (rates/schema.py) hold NAME_LENGTH characters, so nothing is ever truncated."""

from __future__ import annotations

import re

NAME_LENGTH = 64
VENDOR_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
NAME_RULE = f"a-z 0-9 . _ - (not first), at most {NAME_LENGTH} characters"


def name_problem(text: str, what: str = "a name") -> str | None:
    """Why ``text`` cannot be a vendor id or rate table name (``what`` it is meant to be: "a
    vendor id", "a table name"), or None when it can."""
    if len(text) > NAME_LENGTH:
        length = f"{len(text)} characters, at most {NAME_LENGTH}"
        return f"{text[:20]!r}… is too long for {what}: {length}"
    if not VENDOR_ID.fullmatch(text):
        return f"{text!r} is not {what}; allowed: {NAME_RULE}"
    return None
