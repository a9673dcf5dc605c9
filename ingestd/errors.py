"""Errors as values the reports can show (STYLE: a row error has a reason code, the sheet, the
row and the raw cells)."""

from __future__ import annotations

from dataclasses import dataclass, field


class IngestdError(Exception):
    """Base of the errors ingestd reports to people (never a traceback)."""


class UsageError(IngestdError):
    """The command was called wrongly (exit code 2)."""


class RefusedError(IngestdError):
    """The work was refused: bad sheet, guard hold, unknown table (exit code 1)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class SheetError(RefusedError):
    """A whole sheet cannot be read: no table found, unreadable file, limits exceeded."""


@dataclass(frozen=True)
class RowError:
    """One rejected row: where it was, what it held, and why (a stable reason code)."""

    reason: str  # stable code: bad_code, bad_price, bad_date, short_notice, conflict, …
    message: str  # one line for people
    row: int | None = None  # 1-based row number as a spreadsheet shows it
    sheet: str | None = None
    cells: tuple[str, ...] = field(default_factory=tuple)
    code: str | None = None

    def as_dict(self) -> dict:
        return {
            "reason": self.reason,
            "message": self.message,
            "sheet": self.sheet,
            "row": self.row,
            "code": self.code,
            "cells": list(self.cells),
        }
