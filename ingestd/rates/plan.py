"""What planning a deck gives (docs/semantics.md#rate-semantics): the ``Plan`` the store writes as
one version, its deferrals and findings (guards and warnings), and the policy a deck is
planned under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import polars as pl

from ingestd.errors import RowError
from ingestd.rates.model import DeckMode, Kind, iso

EXAMPLES = 20  # codes listed per warning or guard; the count is always complete


class PolicyLike(Protocol):
    short_notice: str
    max_discontinue_share: float
    stale_deck_days: float
    max_price_factor: float
    low_price_share: float

    def notice_for(self, change: str) -> timedelta: ...


@dataclass(frozen=True)
class Deferral:
    code: str
    change_class: str
    stated: datetime
    effective: datetime
    row: int | None

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "change_class": self.change_class,
            "stated": iso(self.stated),
            "effective": iso(self.effective),
            "row": self.row,
        }


@dataclass(frozen=True)
class Finding:
    """A warning or a guard result: a stable name, a sentence, and the codes it is about."""

    name: str
    message: str
    count: int = 0
    examples: tuple[str, ...] = ()
    tripped: bool = False  # guards only: the deck is held for a person

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "message": self.message, "count": self.count}
        if self.examples:
            out["examples"] = list(self.examples)
        return out


@dataclass
class Plan:
    kind: Kind
    mode: DeckMode
    received_at: datetime
    inserts: pl.DataFrame  # spec.row_columns + change_class
    closes: pl.Series  # ids of existing rows the new version no longer holds
    counts: dict[
        str, int
    ]  # deck rows per change class (+ discontinued codes missing from a full deck)
    deferred: list[Deferral]
    rejected: list[RowError]
    warnings: list[Finding]
    guards: list[Finding]
    deck_rows: int
    missing_discontinued: int = 0
    accepted_short: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # the warnings still to work out (plan_import with later_warnings)
    pending_warnings: Callable[[], list[Finding]] | None = field(default=None, repr=False)

    def finish_warnings(self) -> list[Finding]:
        """Work out the warnings if that was left for later; they only inform, so this may
        run beside the write of the version (another core)."""
        if self.pending_warnings is not None:
            self.warnings, self.pending_warnings = self.pending_warnings(), None
        return self.warnings

    @property
    def held(self) -> bool:
        return any(g.tripped for g in self.guards)

    @property
    def changes(self) -> int:
        return self.inserts.height + self.closes.len()
