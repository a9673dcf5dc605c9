"""What ingestd keeps about vendors: the profiles of their decks' layouts (a person's answers,
kept per layout fingerprint)."""

from __future__ import annotations

from ingestd.errors import UsageError
from ingestd.rates.profiles import Profile, drop_profile, list_profiles
from ingestd.service.app import App


def profiles(app: App, vendor: str, fingerprint: str | None = None) -> list[Profile]:
    """The vendor's profiles, or the one of ``fingerprint`` (one the vendor does not have is
    a usage error)."""
    found = list_profiles(app.store, vendor)
    if fingerprint is not None:
        found = [p for p in found if p.fingerprint == fingerprint]
        if not found:
            raise UsageError(
                f"vendor {vendor!r} has no profile {fingerprint!r} "
                f"(see `ingestd vendor profile show {vendor}`)"
            )
    return found


def drop_profiles(app: App, vendor: str, fingerprint: str | None = None) -> int:
    """Remove the vendor's profile ``fingerprint`` (all of them when None); returns how many
    were removed."""
    return drop_profile(app.store, vendor, fingerprint)
