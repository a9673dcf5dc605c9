"""Vendor profiles through the application layer."""

from __future__ import annotations

import pytest

from ingestd.errors import UsageError
from ingestd.service import App, decks, vendors

from .conftest import csv_deck


def test_profiles_are_shown_and_dropped(app: App):
    assert vendors.profiles(app, "acme") == []
    answers = decks.answers(map=["Prefix=code", "Rate=price"])
    decks.import_deck(app, "acme", csv_deck(("4400", "0.0100")), file_name="r.csv", answers=answers)
    (profile,) = vendors.profiles(app, "acme")
    assert profile.vendor == "acme" and profile.answers == answers
    assert vendors.profiles(app, "acme", profile.fingerprint) == [profile]
    with pytest.raises(UsageError, match="no profile"):
        vendors.profiles(app, "acme", "0" * 16)
    with pytest.raises(UsageError, match="no profile"):
        vendors.drop_profiles(app, "acme", "0" * 16)
    assert vendors.drop_profiles(app, "acme") == 1
    assert vendors.profiles(app, "acme") == []
