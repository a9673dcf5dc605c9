"""The doubtful_reading guard end to end (docs/reading.md#decks-nobody-taught-us "never silently
wrong"): a deck the reader doubts is held with the exact question (exit 1 on the command line,
quarantined when it comes by mail), nothing is written, and the answer reads it, once, then the
vendor's profile of that layout reads the next deck without a question."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from rig.factories import as_json, run_ingestd
from rig.mail import VENDOR, config_path, rate_message, signed
from rig.signers import SigningKey, rsa_key

from ingestd.rates.store import Store

# a deck in a language the vocabulary does not know: codes and names are clear by content,
# the one column of prices is not (its header could be anything)
POLISH = ("Kierunek", "Numer kierunkowy", "Stawka")


def polish_deck(path: Path, rows: list[tuple[str, str, str]]) -> str:
    lines = [";".join(POLISH)] + [";".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def ingestd(sqlite_url, tmp_path):
    env = {"INGESTD_DATABASE_URL": sqlite_url, "INGESTD_DAEMON_STATE_DIR": str(tmp_path / "st")}

    def run(*args: str):
        return run_ingestd(*args, env=env, cwd=tmp_path)

    return run


def test_a_doubtful_deck_is_held_with_its_question_then_read_with_the_answer(ingestd, tmp_path):
    deck = polish_deck(
        tmp_path / "cennik.csv",
        [("Niemcy", "49", "0,0123"), ("Francja", "33", "0,0200"), ("Wlochy", "39", "0,0150")],
    )
    when = ("--vendor", VENDOR, "--received-at", "2026-03-01")
    shown = ingestd("import", deck, *when)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert "HELD      doubtful_reading" in shown.stdout
    assert "DOUBT     column C 'Stawka'" in shown.stdout
    assert 'answer with --map "Stawka=price"' in shown.stdout

    held = as_json(ingestd("import", deck, *when, "--json"))
    assert (held["status"], held["reason"]) == ("held", "doubtful_reading")
    (doubt,) = held["sheet"]["doubts"]
    assert (doubt["answer"], doubt["topic"]) == ('--map "Stawka=price"', "columns")
    columns = {c["header"]: c for c in held["sheet"]["columns"]}
    assert (columns["Stawka"]["source"], columns["Stawka"]["confidence"]) == ("content", "low")
    assert (columns["Numer kierunkowy"]["field"], columns["Numer kierunkowy"]["source"]) == (
        "code",
        "content",
    )
    assert as_json(ingestd("status", "--json"))["versions"] == 0  # nothing written

    done = ingestd("import", deck, *when, "--map", "Stawka=price", "--json")
    read = as_json(done)
    assert (done.returncode, read["status"], read["rows"]["written"]) == (0, "imported", 3), read
    assert read["sheet"]["doubts"] == [] and read["sheet"]["profile"]["saved"] is True

    # the vendor's next deck of this layout: read with the profile, no question
    again = polish_deck(
        tmp_path / "cennik-2.csv", [("Niemcy", "49", "0,0125"), ("Hiszpania", "34", "0,0110")]
    )
    done = ingestd("import", again, "--vendor", VENDOR, "--received-at", "2026-03-02", "--json")
    next_deck = as_json(done)
    assert (done.returncode, next_deck["status"]) == (0, "imported")
    assert next_deck["sheet"]["profile"]["used"] is True
    stawka = next(c for c in next_deck["sheet"]["columns"] if c["header"] == "Stawka")
    assert (stawka["field"], stawka["source"], stawka["confidence"]) == ("price", "profile", "high")


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key(1024)


def test_a_doubtful_deck_by_mail_is_quarantined_and_released_with_the_answer(tmp_path, key):
    config = str(config_path(tmp_path, pin=key))

    def run(*args: str):
        return run_ingestd("-c", config, *args, env={}, cwd=tmp_path)

    # an increment column under a header nobody knows: whole seconds, first or next interval?
    deck = (
        b"Destination,Prefix,Rate,Rnd\n"
        b"Mexico,52,0.0178,60\nMexico Mobile,521,0.0231,60\nGuatemala,502,0.0890,1\n"
    )
    message = tmp_path / "deck.eml"
    message.write_bytes(signed(rate_message([("rates.csv", deck)]), key))
    held = as_json(run("import", str(message), "--json"))
    assert (held["status"], held["reason"]) == ("quarantined", "guard_triggered")
    assert "the reading of the deck is doubtful" in held["message"]
    assert '--map "Rnd=interval1"' in held["message"]
    (entry,) = as_json(run("quarantine", "list", "--json"))
    assert entry["state"] == "held"

    done = run("quarantine", "release", str(held["quarantine_id"]), "--map", "Rnd=pulse",
               "--json")  # fmt: skip
    released = as_json(done)
    assert (done.returncode, released["status"]) == (0, "imported")
    store = Store(f"sqlite:///{tmp_path / 'var' / 'ingestd.db'}")
    try:
        rows = store.rows(store.find_table(VENDOR)).sort("code")
    finally:
        store.close()
    assert rows.select("code", "interval1", "interval_n").rows() == [
        ("502", 1, 1),
        ("52", 60, 60),
        ("521", 60, 60),
    ]
    assert rows.get_column("price1").cast(pl.Float64).to_list() == [0.089, 0.0178, 0.0231]
