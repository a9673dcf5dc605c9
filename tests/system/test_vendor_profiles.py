"""Vendor profiles end to end through ``python -m ingestd``
(docs/reading.md#decks-nobody-taught-us): answers given to ``ingestd import`` and to ``ingestd
quarantine release`` are kept per vendor and layout, ``ingestd vendor profile show|drop`` lists and
removes them, a bad answer is a usage error."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from rig.factories import as_json, run_ingestd
from rig.mail import VENDOR, codes, config_path, csv_deck, rate_message, signed
from rig.signers import SigningKey, rsa_key

from ingestd.rates.store import Store
from ingestd.sheets.answers import header_fingerprint

# a deck whose code column no vocabulary names, its dates ambiguous (day or month first)
ZORG_HEADER = ("Zorg", "Pays", "Tarif", "Date")
ZORG_LAYOUT = header_fingerprint(ZORG_HEADER)
ANSWERS = (
    "--map", "Zorg=code", "--map", "Pays=destination", "--map", "Tarif=price",
    "--map", "Date=effective_from", "--increments", "Mexico=60/60", "--date-order", "dmy",
)  # fmt: skip


def zorg_deck(path: Path, rows: list[tuple[str, str, str]]) -> str:
    lines = [",".join(ZORG_HEADER)] + [f"{c},{name},{p},03/04/2025" for c, name, p in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def ingestd(sqlite_url, tmp_path):
    """``python -m ingestd …`` on a fresh SQLite database, without a configuration file."""
    env = {
        "INGESTD_DATABASE_URL": sqlite_url,
        "INGESTD_DAEMON_STATE_DIR": str(tmp_path / "state"),
    }

    def run(*args: str):
        return run_ingestd(*args, env=env, cwd=tmp_path)

    return run


def one_line_usage_error(done) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("ingestd: ")
    return done.stderr


def test_answers_given_to_an_import_become_the_vendor_profile(ingestd, tmp_path):
    first = zorg_deck(
        tmp_path / "acme-1.csv",
        [("52", "Mexico", "0.0300"), ("33", "France", "0.0200"), ("49", "Germany", "0.0150")],
    )
    # no answer: the deck is not read (no column holds codes by its name)
    assert ingestd("import", first, "--vendor", VENDOR, "--received-at", "2025-03-01").returncode
    assert as_json(ingestd("vendor", "profile", "show", VENDOR, "--json")) == []

    done = ingestd("import", first, "--vendor", VENDOR, "--received-at", "2025-03-01", *ANSWERS,
                   "--json")  # fmt: skip
    imported = as_json(done)
    assert (done.returncode, imported["status"]) == (0, "imported")
    assert imported["sheet"]["mapping"]["Zorg"] == "code"
    assert imported["sheet"]["profile"] == {
        "fingerprint": ZORG_LAYOUT,
        "used": False,
        "saved": True,
        "answers": [
            '--map "Zorg=code"', '--map "Pays=destination"', '--map "Tarif=price"',
            '--map "Date=effective_from"', '--increments "Mexico=60/60"', "--date-order dmy",
        ],
    }  # fmt: skip

    (profile,) = as_json(ingestd("vendor", "profile", "show", VENDOR, "--json"))
    assert (profile["vendor"], profile["fingerprint"], profile["source"]) == (
        VENDOR,
        ZORG_LAYOUT,
        "answer",
    )
    assert (profile["sheet"], profile["header"]) == ("acme-1", list(ZORG_HEADER))
    assert profile["answers"]["columns"]["Zorg"] == "code"
    assert profile["answers"]["increments"] == {"Mexico": [60, 60]}
    assert (profile["answers"]["date_order"], profile["used_count"]) == ("dmy", 0)

    shown = ingestd("vendor", "profile", "show", VENDOR)
    assert shown.returncode == 0
    assert f"profile {ZORG_LAYOUT}  (answer; used 0 times)" in shown.stdout
    assert "Zorg | Pays | Tarif | Date" in shown.stdout
    assert '--map "Zorg=code"' in shown.stdout and "--date-order dmy" in shown.stdout
    assert "no profiles" in ingestd("vendor", "profile", "show", "globex").stdout
    one = as_json(ingestd("vendor", "profile", "show", VENDOR, ZORG_LAYOUT, "--json"))
    assert [p["fingerprint"] for p in one] == [ZORG_LAYOUT]
    error = one_line_usage_error(ingestd("vendor", "profile", "show", VENDOR, "headerless:4"))
    assert "no profile 'headerless:4'" in error

    # the next deck of the layout reads with the profile, and a new answer is merged into it
    second = zorg_deck(tmp_path / "acme-2.csv", [("52", "Mexico", "0.0310")])
    done = ingestd("import", second, "--vendor", VENDOR, "--received-at", "2025-03-02",
                   "--map", "Zorg=code", "--increments", "Haiti=30/6", "--json")  # fmt: skip
    again = as_json(done)
    assert (done.returncode, again["status"]) == (0, "imported")
    assert again["sheet"]["profile"]["used"] is True
    assert '--increments "Haiti=30/6"' in again["sheet"]["profile"]["answers"]
    (profile,) = as_json(ingestd("vendor", "profile", "show", VENDOR, "--json"))
    assert profile["answers"]["increments"] == {"Mexico": [60, 60], "Haiti": [30, 6]}
    assert profile["answers"]["columns"]["Date"] == "effective_from"  # kept from the first
    assert profile["used_count"] == 1 and profile["last_used_at"] is not None
    assert "used 1 time," in ingestd("vendor", "profile", "show", VENDOR).stdout

    # drop: an unknown profile is a usage error; one, then all
    error = one_line_usage_error(ingestd("vendor", "profile", "drop", VENDOR, "feedbeef00000000"))
    assert "no profile 'feedbeef00000000'" in error
    done = ingestd("vendor", "profile", "drop", VENDOR, ZORG_LAYOUT)
    assert (done.returncode, done.stdout) == (0, f"dropped 1 profile of {VENDOR}\n")
    assert as_json(ingestd("vendor", "profile", "show", VENDOR, "--json")) == []
    assert as_json(ingestd("vendor", "profile", "drop", VENDOR, "--json")) == {
        "vendor": VENDOR,
        "dropped": 0,
    }


def test_a_held_or_dry_run_deck_keeps_no_profile(ingestd, tmp_path):
    deck = zorg_deck(tmp_path / "acme.csv", [("52", "Mexico", "0.0300"), ("33", "France", "0.02")])
    # dated long before it is received: held by the stale-deck guard
    done = ingestd("import", deck, "--vendor", VENDOR, "--received-at", "2026-01-01", *ANSWERS,
                   "--json")  # fmt: skip
    held = as_json(done)
    assert (done.returncode, held["status"], held["reason"]) == (1, "held", "stale_deck")
    assert held["sheet"]["profile"]["fingerprint"] == ZORG_LAYOUT
    assert "saved" not in held["sheet"]["profile"]
    done = ingestd("import", deck, "--vendor", VENDOR, "--received-at", "2025-03-01", "--dry-run",
                   *ANSWERS, "--json")  # fmt: skip
    assert as_json(done)["status"] == "dry_run"
    assert as_json(ingestd("vendor", "profile", "show", VENDOR, "--json")) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--map", "Zorg=prefix"), "'prefix' is not a field; allowed: code,"),
        (("--map", "Zorg"), "expected HEADER=FIELD"),
        (("--map", "=code"), "expected HEADER=FIELD"),
        (("--increments", "Mexico=60"), "'60' is not increments"),
        (("--increments", "Mexico=0/60"), "above 0"),
    ],
)
def test_a_bad_answer_is_a_one_line_usage_error_and_nothing_is_written(
    ingestd, tmp_path, args, named
):
    deck = zorg_deck(tmp_path / "acme.csv", [("52", "Mexico", "0.0300")])
    error = one_line_usage_error(ingestd("import", deck, "--vendor", VENDOR, *args))
    assert named in error
    assert as_json(ingestd("status", "--json"))["versions"] == 0


def test_bad_choices_and_misplaced_answers_are_usage_errors(ingestd, tmp_path):
    deck = zorg_deck(tmp_path / "acme.csv", [("52", "Mexico", "0.0300")])
    done = ingestd("import", deck, "--vendor", VENDOR, "--date-order", "dd/mm")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "dmy" in done.stderr
    message = tmp_path / "m.eml"
    message.write_bytes(rate_message([("rates.csv", csv_deck(codes(2)))]))
    error = one_line_usage_error(ingestd("import", str(message), "--map", "Rate=price"))
    assert "quarantine release" in error
    error = one_line_usage_error(ingestd("quarantine", "show", "1", "--map", "Rate=price"))
    assert "for release" in error
    assert "invalid choice" in ingestd("vendor", "profiles", "show", VENDOR).stderr
    assert ingestd("vendor", "profile", "show", "Not A Vendor!").returncode == 2


# --- answers at release -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key(1024)


def test_answers_given_at_release_are_used_and_kept(tmp_path, key):
    config = str(config_path(tmp_path, pin=key))

    def run(*args: str):
        return run_ingestd("-c", config, *args, env={}, cwd=tmp_path)

    first = tmp_path / "first.eml"
    first.write_bytes(signed(rate_message([("rates.csv", csv_deck(codes(20)))]), key))
    assert as_json(run("import", str(first), "--json"))["status"] == "imported"
    # a full deck dropping 18 of 20 codes: held by a guard
    full = tmp_path / "full.eml"
    raw = rate_message(
        [("rates.csv", csv_deck(codes(2)))],
        subject="Acme A-Z deck",
        message_id="<deck-2@acme.example>",
    )
    full.write_bytes(signed(raw, key))
    held = as_json(run("import", str(full), "--json"))
    assert (held["status"], held["reason"]) == ("quarantined", "guard_triggered")
    qid = str(held["quarantine_id"])

    error = one_line_usage_error(run("quarantine", "release", qid, "--map", "Rate=prize"))
    assert "'prize' is not a field" in error
    assert [e["state"] for e in as_json(run("quarantine", "list", "--json"))] == ["held"]

    done = run("quarantine", "release", qid, "--map", "Rate=price", "--increments",
               "Dest 4400=60/60", "--json")  # fmt: skip
    released = as_json(done)
    assert (done.returncode, released["status"]) == (0, "imported")
    (result,) = released["sheets"][0]["outcomes"]
    layout = header_fingerprint(["Destination", "Prefix", "Rate"])
    assert result["sheet"]["profile"]["fingerprint"] == layout
    assert result["sheet"]["profile"]["saved"] is True

    # the answer decided the rows: 4400 is billed 60/60, 4401 as before
    store = Store(f"sqlite:///{tmp_path / 'var' / 'ingestd.db'}")
    try:
        table = store.find_table(VENDOR)
        rows = store.rows(table).filter(pl.col("code").is_in(["4400", "4401"]))
        intervals = {r["code"]: (r["interval1"], r["interval_n"]) for r in rows.to_dicts()}
        version = store.versions(table)[-1]
    finally:
        store.close()
    assert intervals == {"4400": (60, 60), "4401": (1, 1)}
    release = version.summary["authentication"]["release"]
    assert release["answers"]["increments"] == {"Dest 4400": [60, 60]}

    (profile,) = as_json(run("vendor", "profile", "show", VENDOR, "--json"))
    assert (profile["fingerprint"], profile["header"]) == (
        layout,
        ["Destination", "Prefix", "Rate"],
    )
    assert profile["answers"]["columns"] == {"Rate": "price"}
    assert profile["answers"]["increments"] == {"Dest 4400": [60, 60]}


def test_a_stored_profile_reads_the_next_deck_of_its_layout_without_answers(ingestd, tmp_path):
    first = zorg_deck(tmp_path / "acme-1.csv", [("52", "Mexico", "0.03"), ("33", "France", "0.02")])
    done = ingestd("import", first, "--vendor", VENDOR, "--received-at", "2025-03-01", *ANSWERS)
    assert done.returncode == 0, done.stdout + done.stderr
    second = zorg_deck(
        tmp_path / "acme-2.csv", [("52", "Mexico", "0.04"), ("49", "Germany", "0.1")]
    )
    done = ingestd("import", second, "--vendor", VENDOR, "--received-at", "2025-03-02", "--json")
    read = as_json(done)
    assert (done.returncode, read["status"]) == (0, "imported")
    assert read["sheet"]["mapping"]["Zorg"] == "code"
    assert read["sheet"]["profile"]["used"] is True
    assert read["sheet"]["date_order"] == "dmy"
