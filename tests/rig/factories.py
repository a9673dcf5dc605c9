"""Builders of normalized rows for tests: a readable line per row, the model's dtypes out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from ingestd.rates.model import spec_for
from ingestd.rates.schema import versions
from ingestd.rates.store import Store


def voice(*rows: tuple, currency: str = "USD") -> pl.DataFrame:
    """rows: (code, effective_from or None for ASAP, price[, flags]) where flags is a string
    holding 'F' (forbidden) and/or 'D' (discontinued), or (…, price, flags, (i1, iN))."""
    out = []
    for n, row in enumerate(rows, start=1):
        code, when, price, *rest = row
        flags = rest[0] if rest else ""
        i1, i_n = rest[1] if len(rest) > 1 else (1, 1)
        out.append(
            {
                "code": code,
                "effective_from": when,
                "price1": Decimal(price),
                "price_n": Decimal(price),
                "interval1": i1,
                "interval_n": i_n,
                "effective_to": None,
                "forbidden": "F" in flags,
                "discontinued": "D" in flags,
                "description": f"dest {code[:2]}",
                "currency": currency,
                "source_row": n + 1,
            }
        )
    return frame("voice", out)


def frame(kind: str, rows: list[dict]) -> pl.DataFrame:
    schema = {**spec_for(kind).schema(), "source_row": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def versions_are_whole(store: Store) -> None:
    """Every version's recorded row count is the rows that really belong to it (no version
    half-written)."""
    with store.engine.connect() as conn:
        recorded = conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one()
    seen = 0
    for table in store.tables():
        for version in store.versions(table):
            assert store.rows(table, version.number).height == version.rows_total
            seen += 1
    assert seen == recorded


def as_json(done: subprocess.CompletedProcess) -> Any:
    """The JSON a command printed, or the command's whole output as the assertion's message."""
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"exit {done.returncode}: {done.stdout}{done.stderr}") from None


def run_ingestd(
    *args: str, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``python -m ingestd …`` in a process of its own (this checkout's code): the caller's
    ``INGESTD_`` settings are left out, ``env`` is added."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    return subprocess.run(
        [sys.executable, "-m", "ingestd", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
