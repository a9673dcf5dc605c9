"""Reading one TOML table of the configuration: each option through its converter
(``values.py``), an ``INGESTD_*`` variable over the file's value, and every key or variable
nobody asked for refused as a typo, with the closest allowed name
(docs/operations.md#configuration)."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from ingestd.config.error import BadValue, ConfigError, show
from ingestd.config.values import Conv

T = TypeVar("T")

REQUIRED: Any = object()  # the default of a key that must be given
PASSWORD_HINT = (
    "a password is never written in the configuration; use password_file (a file holding it) "
    "or password_env (the name of a variable holding it)"
)


class TomlTable:
    """One TOML table being read: remembers the keys asked for, so leftovers are typos.

    ``env`` maps lower-case key names to (variable, text) overrides for this table."""

    def __init__(
        self,
        data: dict[str, Any],
        *,
        file: str | None,
        prefix: str,
        env: dict[str, tuple[str, str]] | None = None,
        env_prefix: str = "",
    ):
        self.data = data
        self.file = file
        self.prefix = prefix
        self.env = env or {}
        self.env_prefix = env_prefix
        self.allowed: list[str] = []
        self.subtables: list[str] = []
        self.env_used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=self.key(name))

    def get(self, name: str, conv: Conv[T], default: Any = None) -> T:
        self.allowed.append(name)
        if name in self.env:
            variable, text = self.env[name]
            self.env_used.add(name)
            try:
                return conv(text, True)
            except BadValue as e:
                raise ConfigError(
                    e.message, key=self.key(name) + e.sub, variable=variable
                ) from None
        if name not in self.data:
            if default is REQUIRED:
                raise self.error(name, "missing; this key is required")
            return default
        try:
            return conv(self.data[name], False)
        except BadValue as e:
            raise ConfigError(e.message, file=self.file, key=self.key(name) + e.sub) from None

    def table(self, name: str) -> TomlTable:
        self.allowed.append(name)
        self.subtables.append(name)
        data = self.data.get(name, {})
        if not isinstance(data, dict):
            raise self.error(name, f"expected a table, got {show(data)}")
        start = f"{name}_"  # INGESTD_POLICY_NOTICE_HOURS_INCREASE -> notice_hours.increase
        env = {k[len(start) :]: v for k, v in self.env.items() if k.startswith(start)}
        self.env_used.update(start + k for k in env)
        env_prefix = f"{self.env_prefix}{start.upper()}"
        return TomlTable(
            data, file=self.file, prefix=self.key(name), env=env, env_prefix=env_prefix
        )

    def tables(self, name: str) -> list[TomlTable]:
        """An array of tables ([[name]])."""
        self.allowed.append(name)
        data = self.data.get(name, [])
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise self.error(name, f"expected an array of tables ([[{name}]]), got {show(data)}")
        return [
            TomlTable(d, file=self.file, prefix=f"{self.key(name)}[{i}]")
            for i, d in enumerate(data)
        ]

    def finish(self) -> None:
        """Refuse keys and variables nobody asked for (typos such as notice_hour)."""
        for name in self.data:
            if name not in self.allowed:
                raise self.error(name, _unknown_message(name, self.allowed, "key"))
        for name, (variable, _text) in self.env.items():
            if name not in self.env_used:
                names = [
                    f"{self.env_prefix}{a.upper()}" + ("_*" if a in self.subtables else "")
                    for a in self.allowed
                ]
                raise ConfigError(_unknown_message(variable, names, "variable"), variable=variable)


def _unknown_message(name: str, allowed: list[str], what: str) -> str:
    if name == "password" and "password_file" in allowed:
        return PASSWORD_HINT
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what}{hint}; allowed: {', '.join(allowed)}"
