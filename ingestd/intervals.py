"""Billing increments written as text, one definition for the configuration, the answers a
person gives and the cells of a deck: ``60/60`` is a first interval of 60 seconds and every
next one of 60 (docs/reading.md "Cells")."""

from __future__ import annotations

import re

# what may stand between the two numbers: the configuration takes "/" only, a person's answer
# also "+" and "-", a deck's cell also ":"
IN_CONFIG = "/"
IN_ANSWERS = "/+-"
IN_CELLS = "/+:-"


def pair_pattern(separators: str) -> str:
    """The regular expression of two intervals (groups 1 and 2); also valid for polars."""
    return rf"^\s*([0-9]{{1,5}})\s*[{re.escape(separators)}]\s*([0-9]{{1,5}})\s*$"


def parse_intervals(text: str, separators: str) -> tuple[int, int] | None:
    """``"60/6"`` → ``(60, 6)``; None for anything else, a zero interval included."""
    found = re.match(pair_pattern(separators), text)
    if found is None:
        return None
    first, after = int(found[1]), int(found[2])
    return (first, after) if first > 0 and after > 0 else None
