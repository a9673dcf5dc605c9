"""How a configuration mistake is told: :class:`ConfigError`, the one line a person reads, and
:class:`BadValue`, what a value converter raises before the reader adds where the value came
from (docs/operations.md#configuration)."""

from __future__ import annotations

from ingestd.errors import IngestdError


class ConfigError(IngestdError):
    """A configuration mistake; ``str(e)`` is one line: where, which key, what, what is allowed."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        variable: str | None = None,
    ):
        self.message = message
        self.file = file
        self.key = key
        self.variable = variable  # the INGESTD_* variable the bad value came from
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.file, f"${self.variable}" if self.variable else None, self.key]
        return ": ".join([part for part in where if part] + [self.message])


class BadValue(Exception):
    """A value is wrong; the reader adds where it came from. ``sub`` extends the key."""

    def __init__(self, message: str, sub: str = ""):
        super().__init__(message)
        self.message = message
        self.sub = sub


def show(value: object) -> str:
    """A value as an error message names it: TOML's spelling, not Python's."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)
