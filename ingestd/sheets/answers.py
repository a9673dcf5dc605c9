"""The answers a person gives to a held deck (docs/reading.md#decks-nobody-taught-us "vendor
profiles that learn"): which field a column holds, the billing increments of destinations, the date
order, what a hyphen in a code means.  Given on the command line (``--map``, ``--increments``,
``--date-order``, ``--hyphen``) or at a quarantine release, they win over the vendor's
configuration, and once the deck is imported they are kept as the vendor's profile for that layout:
the sheet's header fingerprint (``header_fingerprint``).  README "Vendor profiles".

Pure: no database, no clock.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ingestd.intervals import IN_ANSWERS, pair_pattern
from ingestd.sheets.headers import header_key
from ingestd.sheets.vocabulary import FIELDS

# the reader's options (``sheets.deck.ReadOptions``), which hold answers themselves
Options = TypeVar("Options")

IGNORE = "ignore"  # the answer that leaves a column unread (as vendor ``columns``)
EVERY_OTHER = "*"  # the increments of every destination no other answer or rule names
DATE_ORDERS = ("dmy", "mdy", "ymd")
HYPHEN_MEANINGS = ("range", "pair")
FINGERPRINT_DIGITS = 16


@dataclass(frozen=True)
class Answers:
    """What a person settled about a vendor's deck; every field is optional."""

    # header as written (or a column letter "C" for a sheet without a header row) → field
    # (``vocabulary.FIELDS``) or "ignore"
    columns: Mapping[str, str] = field(default_factory=dict)
    # destination name or glob → (interval 1, interval N); "*" = every other destination
    increments: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    date_order: str | None = None  # dmy | mdy | ymd
    hyphen: str | None = None  # range | pair

    def __post_init__(self) -> None:
        for header, name in self.columns.items():
            _check_column(header, name, f"{header}={name}")
        for name, intervals in self.increments.items():
            _check_increment(name, intervals, f"{name}={intervals}")
        _check_choice("--date-order", self.date_order, DATE_ORDERS)
        _check_choice("--hyphen", self.hyphen, HYPHEN_MEANINGS)

    @classmethod
    def parse(
        cls,
        *,
        map: Iterable[str] = (),  # the option's name (--map)
        increments: Iterable[str] = (),
        date_order: str | None = None,
        hyphen: str | None = None,
    ) -> Answers:
        """Answers as a person types them: ``"Indicatif=code"``, ``"Mexico=60/60"`` (also
        ``60-60``, ``60+60``); a ValueError names the bad text and what is allowed."""
        columns: dict[str, str] = {}
        for text in map:
            header, name = _split(text, "--map", "HEADER=FIELD")
            name = name.lower()
            _check_column(header, name, text)
            columns = _put(columns, header, name, key=header_key)
        rules: dict[str, tuple[int, int]] = {}
        for text in increments:
            name, value = _split(text, "--increments", "DESTINATION=60/60")
            found = re.match(pair_pattern(IN_ANSWERS), value)
            if found is None:
                raise ValueError(
                    f'--increments "{text}": {value!r} is not increments; '
                    "allowed: two whole seconds like 60/60, 60-60 or 60+60"
                )
            intervals = (int(found[1]), int(found[2]))
            _check_increment(name, intervals, text)
            rules = _put(rules, name, intervals, key=str.casefold)
        return cls(
            columns=columns,
            increments=rules,
            date_order=date_order.strip().lower() if date_order else None,
            hyphen=hyphen.strip().lower() if hyphen else None,
        )

    def merged(self, newer: Answers) -> Answers:
        """These answers with ``newer``'s over them, key by key (a header compared as
        headers are, a destination without case)."""
        columns = dict(self.columns)
        for header, name in newer.columns.items():
            columns = _put(columns, header, name, key=header_key)
        increments = dict(self.increments)
        for name, intervals in newer.increments.items():
            increments = _put(increments, name, intervals, key=str.casefold)
        return Answers(
            columns=columns,
            increments=increments,
            date_order=newer.date_order or self.date_order,
            hyphen=newer.hyphen or self.hyphen,
        )

    def applied_to(self, options: Options) -> Options:
        """``options`` with these answers over the vendor's configuration: the columns merged
        into ``columns``, each destination's increments before the vendor's rules, "*" as the
        increments of every other destination (after the rules the notes state), the date
        order and the hyphen's meaning."""
        if not self:
            return options
        columns = dict(options.columns)
        for header, name in self.columns.items():
            columns = _put(columns, header, name, key=header_key)
        named = {k: v for k, v in self.increments.items() if k != EVERY_OTHER}
        answered = {k.casefold() for k in named}
        rules = {
            **named,
            **{k: v for k, v in options.increment_rules.items() if k.casefold() not in answered},
        }
        return dataclasses.replace(
            options,
            columns=columns,
            increment_rules=rules,
            default_intervals=self.increments.get(EVERY_OTHER, options.default_intervals),
            date_order=self.date_order or options.date_order,
            hyphen=self.hyphen or options.hyphen,
        )

    def as_options(self) -> list[str]:
        """The command-line options that give these answers (what a person would type)."""
        out = [f'--map "{h}={n}"' for h, n in self.columns.items()]
        out += [f'--increments "{n}={a}/{b}"' for n, (a, b) in self.increments.items()]
        if self.date_order:
            out.append(f"--date-order {self.date_order}")
        if self.hyphen:
            out.append(f"--hyphen {self.hyphen}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": dict(self.columns),
            "increments": {name: list(pair) for name, pair in self.increments.items()},
            "date_order": self.date_order,
            "hyphen": self.hyphen,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answers:
        return cls(
            columns=dict(data.get("columns") or {}),
            increments={
                name: (int(pair[0]), int(pair[1]))
                for name, pair in (data.get("increments") or {}).items()
            },
            date_order=data.get("date_order"),
            hyphen=data.get("hyphen"),
        )

    def __bool__(self) -> bool:
        return bool(self.columns or self.increments or self.date_order or self.hyphen)


def header_fingerprint(cells: Iterable[str | None], *, headerless: bool = False) -> str:
    """The layout key of vendor profiles: the header row's non-blank cells, compared as
    headers are (``headers.header_key``), in order, hashed; ``"headerless:<columns>"`` for a
    sheet without a header row (``cells`` then stand for its columns) or whose header cells
    are all blank."""
    cells = list(cells)
    keys = [] if headerless else [header_key(str(c)) for c in cells if c is not None]
    keys = [k for k in keys if k]
    if not keys:
        return f"headerless:{len(cells)}"
    digest = hashlib.sha256("\x1f".join(keys).encode("utf-8")).hexdigest()
    return digest[:FINGERPRINT_DIGITS]


def _split(text: str, option: str, form: str) -> tuple[str, str]:
    """``NAME=VALUE`` at the last "=" (a header may hold one), both sides trimmed."""
    name, equals, value = str(text).rpartition("=")
    name, value = name.strip(), value.strip()
    if not equals or not name or not value:
        raise ValueError(f'{option} "{text}": expected {form}')
    return name, value


def _put(mapping: dict, name: str, value: Any, *, key) -> dict:
    """``mapping`` with ``name`` set to ``value``, replacing an entry whose name is the same
    under ``key`` (the newer spelling is kept)."""
    same = key(name)
    out = {k: v for k, v in mapping.items() if key(k) != same}
    out[name] = value
    return out


def _check_column(header: str, name: str, text: str) -> None:
    if not str(header).strip():
        raise ValueError(f'--map "{text}": the header is empty')
    if name not in (*FIELDS, IGNORE):
        raise ValueError(
            f'--map "{text}": {name!r} is not a field; allowed: {", ".join(FIELDS)}, {IGNORE}'
        )


def _check_increment(name: str, intervals: Any, text: str) -> None:
    if not str(name).strip():
        raise ValueError(f'--increments "{text}": the destination is empty')
    if (
        not isinstance(intervals, tuple)
        or len(intervals) != 2
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in intervals)
    ):
        raise ValueError(
            f'--increments "{text}": increments are two whole seconds above 0, like 60/60'
        )


def _check_choice(option: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{option} {value!r}: allowed: {', '.join(allowed)}")
