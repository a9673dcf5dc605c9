"""Vendor profiles (docs/reading.md#decks-nobody-taught-us "vendor profiles that learn"): the
answers people gave about a vendor's decks, one profile per layout (the header fingerprint,
``sheets.answers``), kept in the ``vendor_profiles`` table and read before each of the vendor's
imports.  README "Vendor profiles".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ingestd.db.clock import utcnow
from ingestd.db.columns import fit_row
from ingestd.errors import UsageError
from ingestd.rates.model import iso
from ingestd.rates.schema import vendor_profiles
from ingestd.rates.store import Store
from ingestd.sheets.answers import Answers

SOURCES = ("answer", "proven")  # a person's answer | what the vendor's accepted decks proved


@dataclass(frozen=True)
class Profile:
    """One stored profile, as ``ingestd vendor profile show`` lists it."""

    vendor: str
    fingerprint: str
    answers: Answers
    sheet: str | None
    header: tuple[str, ...]
    source: str
    created_at: datetime
    updated_at: datetime
    used_count: int
    last_used_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "fingerprint": self.fingerprint,
            "sheet": self.sheet,
            "header": list(self.header),
            "answers": self.answers.as_dict(),
            "source": self.source,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "used_count": self.used_count,
            "last_used_at": iso(self.last_used_at),
        }


def profiles(store: Store, vendor: str) -> dict[str, Answers]:
    """The vendor's profiles: header fingerprint → answers (what ``ReadOptions.profiles``
    takes)."""
    return {p.fingerprint: p.answers for p in list_profiles(store, vendor)}


def list_profiles(store: Store, vendor: str) -> list[Profile]:
    q = (
        sa.select(vendor_profiles)
        .where(vendor_profiles.c.vendor == vendor)
        .order_by(vendor_profiles.c.created_at, vendor_profiles.c.id)
    )
    with store.engine.connect() as conn:
        return [_profile(row) for row in conn.execute(q).mappings()]


def save_profile(
    store: Store,
    vendor: str,
    fingerprint: str,
    answers: Answers,
    *,
    sheet: str | None,
    header: Sequence[str],
    source: str = "answer",
) -> Profile:
    """Keep ``answers`` as the vendor's profile for the layout ``fingerprint``: merged over what
    is stored for it (the newer answer wins per header, destination, date order, hyphen), the
    sheet and header as seen this time."""
    if source not in SOURCES:
        raise ValueError(f"a profile's source is one of {SOURCES}, not {source!r}")
    now = utcnow()
    where = (vendor_profiles.c.vendor == vendor) & (vendor_profiles.c.fingerprint == fingerprint)
    seen = {"sheet": sheet, "header": json.dumps(list(header), ensure_ascii=False)}
    try:
        return _save(store, where, vendor, fingerprint, answers, seen, source, now)
    except sa.exc.IntegrityError:
        # another import saved the first profile of this layout meanwhile: merge with it
        return _save(store, where, vendor, fingerprint, answers, seen, source, now)


def _save(
    store: Store,
    where: sa.ColumnElement[bool],
    vendor: str,
    fingerprint: str,
    answers: Answers,
    seen: dict[str, Any],
    source: str,
    now: datetime,
) -> Profile:
    with store.begin_write() as conn:
        row = conn.execute(sa.select(vendor_profiles).where(where).with_for_update()).first()
        if row is None:
            values = {
                "vendor": vendor,
                "fingerprint": fingerprint,
                "answers": json.dumps(answers.as_dict(), ensure_ascii=False),
                **seen,
                "source": source,
                "created_at": now,
                "updated_at": now,
                "used_count": 0,
            }
            conn.execute(vendor_profiles.insert().values(**fit_row(vendor_profiles, values)))
        else:
            stored = Answers.from_dict(json.loads(row.answers))
            values = {
                "answers": json.dumps(stored.merged(answers).as_dict(), ensure_ascii=False),
                **seen,
                # a person's answer stays one when a deck later proves the same thing
                "source": "answer" if "answer" in (source, row.source) else source,
                "updated_at": now,
            }
            conn.execute(
                vendor_profiles.update().where(where).values(**fit_row(vendor_profiles, values))
            )
        return _profile(conn.execute(sa.select(vendor_profiles).where(where)).mappings().one())


def mark_used(store: Store, vendor: str, fingerprint: str) -> None:
    """Count one more deck read with the profile ``fingerprint``."""
    with store.begin_write() as conn:
        conn.execute(
            vendor_profiles.update()
            .where(vendor_profiles.c.vendor == vendor, vendor_profiles.c.fingerprint == fingerprint)
            .values(used_count=vendor_profiles.c.used_count + 1, last_used_at=utcnow())
        )


def drop_profile(store: Store, vendor: str, fingerprint: str | None = None) -> int:
    """Remove the vendor's profile ``fingerprint`` (all of them when None); returns how many
    were removed.  A fingerprint the vendor has no profile for is a usage error."""
    q = vendor_profiles.delete().where(vendor_profiles.c.vendor == vendor)
    if fingerprint is not None:
        q = q.where(vendor_profiles.c.fingerprint == fingerprint)
    with store.begin_write() as conn:
        dropped = conn.execute(q).rowcount
    if fingerprint is not None and not dropped:
        raise UsageError(
            f"vendor {vendor!r} has no profile {fingerprint!r} "
            f"(see `ingestd vendor profile show {vendor}`)"
        )
    return dropped


def _profile(row: Any) -> Profile:
    return Profile(
        vendor=row["vendor"],
        fingerprint=row["fingerprint"],
        answers=Answers.from_dict(json.loads(row["answers"])),
        sheet=row["sheet"],
        header=tuple(json.loads(row["header"])),
        source=row["source"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        used_count=row["used_count"],
        last_used_at=row["last_used_at"],
    )
