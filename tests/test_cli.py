"""The command line end to end on real databases: the scenario of a vendor's decks over time."""

from __future__ import annotations

import csv
import getpass
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from rig.mail import config_path, make_config, rate_message

from ingestd.cli import main
from ingestd.service import App, users

HEADER = (
    "Prefix E164,Price1,Price N,Valid From,Timezone,Interval 1,Interval N,Forbidden,Discontinued"
)


def deck(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch, capsys):
    """Run `ingestd …` in-process against a fresh database; returns (exit code, stdout)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INGESTD_CONFIG", raising=False)
    monkeypatch.setenv("INGESTD_DATABASE_URL", db_url)
    monkeypatch.setenv("INGESTD_DAEMON_STATE_DIR", str(tmp_path / "state"))

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out + out.err

    assert run("db", "upgrade")[0] == 0
    return run


def js(run, *args: str):
    code, out = run(*args, "--json")
    try:
        return code, json.loads(out)
    except ValueError:
        raise AssertionError(f"not JSON (exit {code}): {out[:2000]!r}") from None


def test_a_vendor_through_its_decks(cli, tmp_path):
    run = cli
    v1 = deck(
        tmp_path / "acme-a-z-v1.csv",
        "44,0.0100,0.0100,ASAP,UTC,1,1,0,0",
        "447,0.0400,0.0400,ASAP,UTC,1,1,0,0",
        "4479,0.0450,0.0450,ASAP,UTC,1,1,0,0",
        "33,0.0200,0.0200,ASAP,UTC,60,60,0,0",
        "49,0.0150,0.0150,ASAP,UTC,1,1,0,0",
        "8816,1.2000,1.2000,ASAP,UTC,60,60,0,0",
    )
    code, s1 = js(
        run, "import", str(v1), "--vendor", "acme", "--received-at", "2024-05-01T10:00:00Z"
    )
    assert code == 0, s1
    assert (s1["status"], s1["version"], s1["mode"], s1["counts"]["new"]) == (
        "imported",
        1,
        "full",
        6,
    )
    assert s1["vendor_known"] is False

    # v2, full: 4479 increase dated too early, 447 decrease, 336 new, 49 missing, 8816 forbidden
    v2 = deck(
        tmp_path / "acme-a-z-v2.csv",
        "44,0.0100,0.0100,ASAP,UTC,1,1,0,0",
        "447,0.0350,0.0350,2024-05-02,UTC,1,1,0,0",
        "4479,0.0500,0.0500,2024-05-03,UTC,1,1,0,0",
        "33,0.0200,0.0200,ASAP,UTC,60,60,0,0",
        "336,0.0600,0.0600,ASAP,UTC,1,1,0,0",
        "8816,1.2000,1.2000,ASAP,UTC,60,60,1,0",
    )
    code, s2 = js(
        run, "import", str(v2), "--vendor", "acme", "--received-at", "2024-05-02T08:00:00Z"
    )
    assert code == 0, s2
    assert s2["version"] == 2
    counts = {k: v for k, v in s2["counts"].items() if v}
    assert counts == {
        "unchanged": 2,
        "decrease": 1,
        "increase": 1,
        "new": 1,
        "forbidden": 1,
        "discontinued": 1,
    }
    assert s2["deferred"] == [
        {
            "code": "4479",
            "change_class": "increase",
            "stated": "2024-05-03 00:00:00",
            "effective": "2024-05-09 08:00:00",
            "row": 4,
        }
    ]

    # v3, partial: only 33 changes (dated with enough notice)
    v3 = deck(tmp_path / "acme-amendment-v3.csv", "33,0.0250,0.0250,2024-06-01,UTC,60,60,0,0")
    code, s3 = js(
        run, "import", str(v3), "--vendor", "acme", "--received-at", "2024-05-03T08:00:00Z"
    )
    assert (code, s3["version"], s3["mode"], s3["rows"]["written"]) == (0, 3, "partial", 1)
    assert s3["rows"]["discontinued_missing"] == 0

    # the same file again: no new version, and the summary says which version holds it
    code, again = js(
        run, "import", str(v3), "--vendor", "acme", "--received-at", "2024-05-04T08:00:00Z"
    )
    assert (code, again["status"], again["duplicate_of"]) == (0, "duplicate", 3)

    code, versions = js(run, "versions", "--vendor", "acme")
    assert [v["version"] for v in versions["versions"]] == [1, 2, 3]
    assert versions["versions"][1]["file_name"] == "acme-a-z-v2.csv"
    assert versions["versions"][1]["received_at"] == "2024-05-02 08:00:00"

    def price(number: str, when: str) -> str | None:
        _code, out = js(run, "lookup", "--vendor", "acme", number, "--at", when)
        match = out["match"]
        if match is None:
            return None
        if match["forbidden"]:
            return f"{match['code']} forbidden"
        return f"{match['code']} {match['price1']}"

    assert price("+447912345678", "2024-05-01T09:00:00Z") is None  # before anything
    assert price("+447912345678", "2024-05-01T10:00:00Z") == "4479 0.045"
    assert (
        price("+447912345678", "2024-05-09T07:59:59Z") == "4479 0.045"
    )  # deferred increase not yet
    assert price("+447912345678", "2024-05-09T08:00:00Z") == "4479 0.05"
    assert price("+447812345678", "2024-05-02T07:59:59Z") == "447 0.04"
    assert price("+447812345678", "2024-05-02T08:00:00Z") == "447 0.035"  # decrease at once
    assert price("+442079460000", "2024-05-02T09:00:00Z") == "44 0.01"
    assert price("+4930123", "2024-05-02T07:59:59Z") == "49 0.015"
    assert price("+4930123", "2024-05-02T08:00:00Z") is None  # discontinued by the full deck
    assert price("+33612345678", "2024-05-02T07:00:00Z") == "33 0.02"
    assert price("+33612345678", "2024-05-02T08:00:00Z") == "336 0.06"  # new code
    assert price("+33112345678", "2024-06-01T00:00:00Z") == "33 0.025"
    assert price("+881612345", "2024-05-02T08:00:00Z") == "8816 forbidden"

    # diff counts match the import summaries
    code, d12 = js(run, "diff", "--vendor", "acme", "--table", "default", "1", "2")
    written = {k: v for k, v in counts.items() if k != "unchanged"}
    assert {k: v for k, v in d12["counts"].items() if v} == written
    code, d23 = js(run, "diff", "--vendor", "acme", "--table", "default", "2", "3")
    assert {k: v for k, v in d23["counts"].items() if v} == {"increase": 1}

    # rollback to v1: a new version 4 whose content equals version 1
    code, rb = js(run, "rollback", "--vendor", "acme", "--table", "default", "--to", "1")
    assert (code, rb["version"]["version"], rb["version"]["rollback_to"]) == (0, 4, 1)
    assert price("+4930123", "2024-05-10T00:00:00Z") == "49 0.015"
    assert price("+447912345678", "2024-05-10T00:00:00Z") == "4479 0.045"
    code, out1 = run("export", "--vendor", "acme", "--version", "1")
    code, out4 = run("export", "--vendor", "acme")
    assert out1 == out4
    code, d14 = js(run, "diff", "--vendor", "acme", "--table", "default", "1", "4")
    assert d14["added"] == d14["removed"] == d14["changed"] == []


def test_export_at_an_instant_keeps_rows_in_effect(cli, tmp_path):
    run = cli
    f = deck(
        tmp_path / "a.csv",
        "44,0.0100,0.0100,2024-01-01,UTC,1,1,0,0",
        "44,0.0200,0.0200,2024-07-01,UTC,1,1,0,0",
        "33,0.0300,0.0300,2024-08-01,UTC,1,1,0,0",
    )
    assert run("import", str(f), "--vendor", "v", "--received-at", "2023-12-01")[0] == 0
    code, text = run("export", "--vendor", "v", "--at", "2024-07-15")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["Prefix E164"], r["Price1"], r["Valid From"]) for r in rows] == [
        ("44", "0.02", "2024-07-01 00:00:00")
    ]
    _code, text = run("export", "--vendor", "v")
    assert len(list(csv.DictReader(io.StringIO(text)))) == 3


def _workbook_deck(path: Path, prices: dict[str, float]) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Rates")
    sheet.append(["Acme Telecom - voice rates"])
    sheet.append(["Destination", "Code", "Rate", "Effective Date"])
    for code, price in prices.items():
        sheet.append([f"Dest {code}", int(code), price, "ASAP"])
    book.save(path)
    return path


def test_a_workbook_sent_again_is_parsed_only_where_it_changed(cli, tmp_path, caplog):
    prices = {str(4400 + i): round(0.01 + i / 10000, 4) for i in range(500)}
    v1 = _workbook_deck(tmp_path / "acme-v1.xlsx", prices)
    code, s1 = js(
        cli, "import", str(v1), "--vendor", "acme", "--received-at", "2024-05-01T10:00:00Z"
    )
    assert (code, s1["status"], s1["counts"]["new"]) == (0, "imported", 500), s1
    (entry,) = (tmp_path / "state" / "cache" / "sheets").glob("*.arrow")

    prices["4450"] = 0.009  # a decrease: in effect at once
    v2 = _workbook_deck(tmp_path / "acme-v2.xlsx", prices)
    caplog.set_level(logging.INFO, logger="ingestd.sheets")
    code, s2 = js(
        cli, "import", str(v2), "--vendor", "acme", "--received-at", "2024-05-02T10:00:00Z"
    )
    assert (code, s2["version"]) == (0, 2), json.dumps(s2)[:1500]
    assert {k: v for k, v in s2["counts"].items() if v} == {"unchanged": 499, "decrease": 1}
    assert "'Rates': 1 of 502 row segments changed" in caplog.text
    _code, found = js(cli, "lookup", "--vendor", "acme", "4450123", "--at", "2024-05-03T00:00:00Z")
    assert (found["match"]["code"], found["match"]["price1"]) == ("4450", "0.009"), found
    assert list(entry.parent.glob("*.arrow")) == [entry]


def test_no_sheet_cache_with_a_size_of_0(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("INGESTD_DAEMON_SHEET_CACHE_SIZE", "0")
    deck = _workbook_deck(tmp_path / "acme.xlsx", {"44": 0.01, "33": 0.02})
    code, summary = js(cli, "import", str(deck), "--vendor", "acme")
    assert (code, summary["status"]) == (0, "imported"), summary
    assert not (tmp_path / "state" / "cache").exists()


def test_dry_run_writes_nothing_and_shows_the_plan(cli, tmp_path):
    run = cli
    f = deck(tmp_path / "a.csv", "44,0.0100,0.0100,ASAP,UTC,1,1,0,0")
    code, s = js(run, "import", str(f), "--vendor", "v", "--dry-run")
    assert (code, s["status"], s["counts"]["new"]) == (0, "dry_run", 1)
    code, out = run("versions", "--vendor", "v")
    assert code == 1 and "no rate table" in out


def test_guard_holds_a_mass_discontinue_until_accepted(cli, tmp_path):
    run = cli
    rows = [f"{c},0.0100,0.0100,ASAP,UTC,1,1,0,0" for c in range(30, 40)]
    assert (
        run(
            "import",
            str(deck(tmp_path / "a-z-1.csv", *rows)),
            "--vendor",
            "v",
            "--received-at",
            "2024-01-01",
        )[0]
        == 0
    )
    small = deck(tmp_path / "a-z-2.csv", rows[0])
    code, s = js(run, "import", str(small), "--vendor", "v", "--received-at", "2024-01-02")
    assert (code, s["status"], s["reason"]) == (1, "held", "mass_discontinue")
    code, s = js(
        run, "import", str(small), "--vendor", "v", "--received-at", "2024-01-02", "--accept-guards"
    )
    assert (code, s["status"], s["counts"]["discontinued"]) == (0, "imported", 9)


def test_bad_rows_are_reported_and_too_many_refuse_the_sheet(cli, tmp_path):
    run = cli
    good = [f"{c},0.0100,0.0100,ASAP,UTC,1,1,0,0" for c in range(300, 340)]
    f = deck(tmp_path / "a.csv", *good, "44,abc,0.01,ASAP,UTC,1,1,0,0")
    code, s = js(run, "import", str(f), "--vendor", "v", "--received-at", "2024-01-01")
    assert code == 0 and s["rows"]["rejected"] == 1
    (bad,) = s["rejected"]
    assert bad["row"] == 42 and bad["reason"] == "bad_price" and "abc" in bad["cells"]
    worse = deck(tmp_path / "b.csv", *good[:3], "44,abc,0.01,ASAP,UTC,1,1,0,0")
    code, s = js(run, "import", str(worse), "--vendor", "v", "--received-at", "2024-01-02")
    assert (code, s["status"], s["reason"]) == (1, "refused", "too_many_rejected")
    code, versions = js(run, "versions", "--vendor", "v")
    assert len(versions["versions"]) == 1  # the refused sheet wrote nothing


def test_a_file_without_a_table_is_refused(cli, tmp_path):
    f = tmp_path / "notes.csv"
    f.write_text("hello,world\nthis is,not a deck\n")
    code, s = js(cli, "import", str(f), "--vendor", "v")
    assert (code, s["status"], s["reason"]) == (1, "refused", "no_table")


def test_ambiguous_table_asks_which(cli, tmp_path):
    run = cli
    f = deck(tmp_path / "a.csv", "44,0.0100,0.0100,ASAP,UTC,1,1,0,0")
    run("import", str(f), "--vendor", "v", "--table", "premium")
    run("import", str(f), "--vendor", "v", "--table", "standard")
    code, out = run("versions", "--vendor", "v")
    assert code == 2 and "v/voice/premium" in out and "--table" in out


def _ingestd(
    *args: str, env: dict, cwd: Path, input: str | None = None
) -> subprocess.CompletedProcess:
    """The real process; ``input`` is its standard input (a pipe, not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "ingestd", *args],
        env=env,
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_exit_codes_and_config_errors_through_the_real_process(tmp_path):
    env = {**os.environ, "INGESTD_DAEMON_STATE_DIR": str(tmp_path / "state")}
    env.pop("INGESTD_CONFIG", None)
    env.pop("INGESTD_DATABASE_URL", None)
    assert _ingestd("status", env=env, cwd=tmp_path).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nshort_notice = "later"\n')
    p = _ingestd("-c", str(bad), "status", env=env, cwd=tmp_path)
    assert p.returncode == 2 and "policy.short_notice" in p.stderr and "defer" in p.stderr
    p = _ingestd("status", "-c", str(bad), env=env, cwd=tmp_path)  # after the command too
    assert p.returncode == 2
    p = _ingestd("import", env=env, cwd=tmp_path)
    assert p.returncode == 2 and "--vendor" in p.stderr
    p = _ingestd("import", str(tmp_path / "missing.csv"), "--vendor", "v", env=env, cwd=tmp_path)
    assert p.returncode == 2 and "missing.csv" in p.stderr
    p = _ingestd("check-config", "--json", env=env, cwd=tmp_path)
    assert p.returncode == 0 and json.loads(p.stdout)["database"]["reachable"] is True


def test_check_config_checks_templates_and_the_outgoing_dkim_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env["INGESTD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "import_report.txt").write_text("{% if %}broken\n")
    cfg = tmp_path / "ingestd.toml"
    cfg.write_text(
        f'[daemon]\ntemplates_dir = "{overrides}"\n\n[outbound]\ndkim_domain = "carrier.example"\n'
        f'dkim_selector = "out"\ndkim_key_file = "{tmp_path / "nokey.pem"}"\n'
    )
    p = _ingestd("-c", str(cfg), "check-config", env=env, cwd=tmp_path)
    assert p.returncode == 1
    assert "template problem" in p.stdout and "import_report.txt" in p.stdout
    assert "outgoing DKIM key NOT usable" in p.stdout and "nokey.pem" in p.stdout
    (overrides / "import_report.txt").unlink()
    key = tmp_path / "nokey.pem"
    key.write_bytes(
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
            check=True,
            capture_output=True,
        ).stdout
    )
    p = _ingestd("-c", str(cfg), "check-config", "--json", env=env, cwd=tmp_path)
    report = json.loads(p.stdout)
    assert (p.returncode, report["templates"]) == (0, [])
    assert report["dkim"] == {
        "signing": True,
        "domain": "carrier.example",
        "selector": "out",
        "algorithm": "rsa-sha256",
    }


# --- errors a user sees: one line, never a traceback (README "Command line") -----------------


def _env(tmp_path: Path, db_url: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env["INGESTD_DAEMON_STATE_DIR"] = str(tmp_path / "state")
    if db_url is not None:
        env["INGESTD_DATABASE_URL"] = db_url
    return env


def _one_line(p: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """The process ended with ``code`` and one line on stderr holding ``words``."""
    assert "Traceback" not in p.stderr, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.startswith("ingestd")]
    assert p.returncode == code, p.stderr
    assert lines and all(w in lines[-1] for w in words), p.stderr
    return lines[-1]


@pytest.fixture
def exported(tmp_path) -> dict:
    """A state folder with one imported table, for the export tests."""
    env = _env(tmp_path)
    f = deck(tmp_path / "a.csv", "44,0.0100,0.0100,ASAP,UTC,1,1,0,0")
    p = _ingestd("import", str(f), "--vendor", "v", env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    return env


def test_an_export_into_a_path_that_cannot_be_written_is_one_clear_line(tmp_path, exported):
    missing = tmp_path / "nope" / "x.csv"
    p = _ingestd("export", "--vendor", "v", "-o", str(missing), env=exported, cwd=tmp_path)
    _one_line(p, 2, f"cannot write {missing}", "No such file or directory")
    p = _ingestd("export", "--vendor", "v", "-o", str(tmp_path), env=exported, cwd=tmp_path)
    _one_line(p, 2, f"cannot write {tmp_path}", "Is a directory")
    p = _ingestd("export", "--vendor", "v", "--format", "xlsx", "-o", str(tmp_path),
                 env=exported, cwd=tmp_path)  # fmt: skip
    _one_line(p, 2, "Is a directory")


def test_an_unforeseen_failure_is_one_line_and_its_traceback_goes_to_the_log(tmp_path, exported):
    # a full disk while writing: nothing checks for it up front
    p = _ingestd("export", "--vendor", "v", "-o", "/dev/full", env=exported, cwd=tmp_path)
    log = tmp_path / "state" / "ingestd-cli.log"
    line = _one_line(p, 1, "ingestd: export failed:", "No space left on device", str(log))
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "--debug" in line
    text = log.read_text()
    assert "level=error" in text and "event=command.failed command=export" in text
    assert "Traceback (most recent call last)" in text and "write_export" in text
    for where in (["--debug", "export"], ["export", "--debug"]):  # before or after the command
        p = _ingestd(*where, "--vendor", "v", "-o", "/dev/full", env=exported, cwd=tmp_path)
        assert p.returncode == 1
        assert "Traceback (most recent call last)" in p.stderr
        assert p.stderr.strip().splitlines()[-1].startswith("ingestd: export failed:")


def test_the_log_of_failed_commands_is_rotated(tmp_path, exported):
    log = tmp_path / "state" / "ingestd-cli.log"
    log.parent.mkdir(exist_ok=True)
    old = "level=error event=command.failed command=old\n" * 30_000  # past the 1 MiB bound
    log.write_text(old)
    p = _ingestd("export", "--vendor", "v", "-o", "/dev/full", env=exported, cwd=tmp_path)
    assert p.returncode == 1
    assert (tmp_path / "state" / "ingestd-cli.log.1").read_text() == old
    assert "command=export" in log.read_text() and "command=old" not in log.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["import", "a.csv", "--vendor", "v", "--received-at", "9999-12-31T23:59:59-05:00"],
        ["import", "a.csv", "--vendor", "v", "--received-at", "0001-01-01T00:00+05:00"],
        ["import", "a.csv", "--vendor", "v", "--received-at", "2300-01-01"],
        ["export", "--vendor", "v", "--at", "9999-12-31T23:59:59-05:00"],
        ["lookup", "--vendor", "v", "44", "--at", "0001-01-01T00:00+05:00"],
    ],
)
def test_instants_out_of_range_are_usage_errors_naming_the_argument(tmp_path, args):
    p = _ingestd(*args, env=_env(tmp_path), cwd=tmp_path)
    option = next(a for a in args if a in ("--received-at", "--at"))
    _one_line(p, 2, f"argument {option}:", "outside 1900-01-01")


def test_numbers_the_database_cannot_hold_are_usage_errors(tmp_path):
    huge = "9" * 25
    for args in (
        ["diff", "--vendor", "v", "--table", "t", "1", huge],
        ["rollback", "--vendor", "v", "--table", "t", "--to", huge],
        ["export", "--vendor", "v", "--version", "-1"],
        ["quarantine", "show", huge],
        ["outbox", "retry", huge],
    ):
        p = _ingestd(*args, env=_env(tmp_path), cwd=tmp_path)
        _one_line(p, 2, "is not a number from 0 to")


BAD_NAMES = [" ", "\t", "../../etc", "a/b", "a" * 300, "a" * 65, "Acme", "-x", ""]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_table_names_follow_the_rule_of_vendor_ids_in_every_command(tmp_path, capsys, name):
    """Refused while the arguments are read (exit 2), before any database is opened."""
    f = deck(tmp_path / "a.csv", "44,0.0100,0.0100,ASAP,UTC,1,1,0,0")
    for args in (
        ["import", str(f)],
        ["versions"],
        ["diff", "1", "2"],
        ["export"],
        ["lookup", "44"],
        ["rollback", "--to", "1"],
    ):
        for option, given in (  # --x=VALUE: a name starting with "-" is still its value
            ("--table", [*args, "--vendor=v", f"--table={name}"]),
            ("--vendor", [*args, f"--vendor={name}", "--table=t"]),
        ):
            with pytest.raises(SystemExit) as stop:
                main(given)
            err = capsys.readouterr().err
            assert stop.value.code == 2, given
            assert f"argument {option}:" in err and ("a-z 0-9" in err or "too long" in err), err


def test_a_name_as_long_as_the_schema_holds_works_and_a_longer_one_is_refused(db_url, tmp_path):
    """100 characters on PostgreSQL failed the insert (varying(64)); 64 is what the columns
    hold on every database."""
    env = _env(tmp_path, db_url)
    assert _ingestd("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    f = deck(tmp_path / "a.csv", "44,0.0100,0.0100,ASAP,UTC,1,1,0,0")
    vendor, table = "v" * 64, "t" * 64
    p = _ingestd("import", str(f), "--vendor", vendor, "--table", table, "--json",
                 env=env, cwd=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert (json.loads(p.stdout)["vendor"], json.loads(p.stdout)["table"]) == (vendor, table)
    p = _ingestd("versions", "--vendor", vendor, "--table", table, "--json", env=env, cwd=tmp_path)
    assert json.loads(p.stdout)["table"]["table"] == table
    for option, value in (("--table", "t" * 100), ("--vendor", "v" * 100)):
        args = {"--vendor": vendor, "--table": table, option: value}
        p = _ingestd("import", str(f), *[x for kv in args.items() for x in kv],
                     env=env, cwd=tmp_path)  # fmt: skip
        _one_line(p, 2, f"argument {option}:", "100 characters, at most 64")
        p = _ingestd("versions", *[x for kv in args.items() for x in kv], env=env, cwd=tmp_path)
        _one_line(p, 2, f"argument {option}:", "at most 64")


def test_apikey_create_list_revoke(cli):
    code, made = js(cli, "apikey", "create", "billing", "--scope", "read")
    assert code == 0 and made["token"].startswith("ingestd_") and made["scope"] == "read"
    code, out = cli("apikey", "create", "acme-drop", "--scope", "upload", "--vendor", "acme")
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("ingestd_") and "shown only now" in out
    code, listed = js(cli, "apikey", "list")
    assert [(k["name"], k["scope"], k["vendor"]) for k in listed] == [
        ("acme-drop", "upload", "acme"), ("billing", "read", None),
    ]  # fmt: skip
    assert made["token"] not in json.dumps(listed) and token not in json.dumps(listed)
    assert cli("apikey", "revoke", "billing")[0] == 0
    assert [k["name"] for k in js(cli, "apikey", "list")[1]] == ["acme-drop"]
    code, out = cli("apikey", "list", "--all")
    assert "revoked" in out and "billing" in out
    for args, words in [
        (("apikey", "create", "x"), "--scope"),
        (("apikey", "create", "y", "--scope", "upload"), "--vendor"),
        (("apikey", "revoke"), "its name"),
        (("apikey", "list", "--scope", "read"), "for create"),
    ]:
        code, out = cli(*args)
        assert code == 2 and words in out and "Traceback" not in out, (args, out)
    code, out = cli("apikey", "revoke", "nobody")
    assert code == 1 and "no key named 'nobody'" in out


# --- the web console's users and the audit log (README "Users and the audit log") -------------


def test_users_are_added_with_a_password_from_standard_input(tmp_path):
    url = f"sqlite:///{tmp_path / 'ingestd.db'}"
    env = _env(tmp_path, url)
    (tmp_path / "check").mkdir()
    config = make_config(tmp_path / "check", db_url=url)

    def logs_in(name: str, password: str) -> bool:
        with App.open(config) as app:
            return users.authenticate(app, name, password) is not None

    def ingestd(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return _ingestd(*args, env=env, cwd=tmp_path, input=input)

    p = ingestd("user", "add", "alice", "--role", "operator", input="s3cret pass\nignored\n")
    assert (p.returncode, p.stdout.strip()) == (0, "user alice added (operator)"), p.stderr
    assert logs_in("alice", "s3cret pass") and not logs_in("alice", "s3cret pass\n")
    p = ingestd("user", "add", "alice", "--role", "viewer", input="another pass\n")
    _one_line(p, 2, "ingestd: there is already a user named 'alice'")
    p = ingestd("user", "add", "bob", "--role", "viewer", input="short\n")
    _one_line(p, 2, "a password has at least 8 characters")
    _one_line(ingestd("user", "add", "bob", "--role", "viewer", input=""), 2, "at least 8")
    _one_line(ingestd("user", "add", "bob", "--role", "root"), 2, "invalid choice: 'root'")
    _one_line(ingestd("user", "add", "Bob", "--role", "viewer"), 2, "not a user name")
    _one_line(ingestd("user", "add", "bob"), 2, "--role viewer, operator or admin")
    _one_line(ingestd("user", "remove"), 2, "say which user to remove: its name")
    _one_line(ingestd("user", "list", "--role", "admin"), 2, "--role is for add and role")
    _one_line(ingestd("user", "passwd", "bob", input="another pass\n"), 2, "no user named 'bob'")

    p = ingestd("user", "passwd", "alice", input="another pass\r\n")
    assert p.returncode == 0 and "sessions are closed" in p.stdout, p.stderr
    assert logs_in("alice", "another pass") and not logs_in("alice", "s3cret pass")
    assert ingestd("user", "role", "alice", "--role", "admin").stdout.strip() == (
        "alice is now admin"
    )
    p = ingestd("user", "list", "--json")
    (alice,) = json.loads(p.stdout)
    assert (alice["name"], alice["role"]) == ("alice", "admin") and alice["last_login_at"]
    assert "another pass" not in p.stdout
    assert "alice" in ingestd("user", "list").stdout
    assert ingestd("user", "remove", "alice").returncode == 0
    assert json.loads(ingestd("user", "list", "--json").stdout) == []
    assert "no users" in ingestd("user", "list").stdout


def test_quarantine_and_outbox_decisions_at_the_command_line_are_audited(tmp_path):
    url = f"sqlite:///{tmp_path / 'ingestd.db'}"
    config = config_path(tmp_path, db_url=url)
    env = _env(tmp_path)

    def ingestd(*args: str) -> subprocess.CompletedProcess:
        return _ingestd("-c", str(config), *args, env=env, cwd=tmp_path)

    deck_csv = b"Destination,Prefix,Rate\r\nUK,4400,0.0100\r\n"
    for n in (1, 2):  # unsigned: held, its sender not proven
        eml = tmp_path / f"m{n}.eml"
        eml.write_bytes(rate_message([("rates.csv", deck_csv)], message_id=f"<m{n}@acme.example>"))
        p = ingestd("import", str(eml), "--json")
        assert json.loads(p.stdout)["status"] == "quarantined", p.stderr
    spam, wanted = (h["id"] for h in json.loads(ingestd("quarantine", "list", "--json").stdout))
    assert ingestd("quarantine", "drop", str(spam), "--note", "a copy").returncode == 0
    p = ingestd("quarantine", "release", str(wanted), "--accept-unauthenticated",
                "--note", "checked by phone")  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    mail = json.loads(ingestd("outbox", "list", "--json").stdout)[0]["id"]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE outbox SET state = 'failed' WHERE id = {mail}")
    engine.dispose()
    assert ingestd("outbox", "retry", str(mail)).returncode == 0

    entries = json.loads(ingestd("audit", "--json").stdout)
    assert [(e["action"], e["target"], e["note"]) for e in entries] == [
        ("retry", f"outbox {mail}", None),
        ("release", f"quarantine {wanted}", "checked by phone"),
        ("drop", f"quarantine {spam}", "a copy"),
    ]
    assert {e["actor"] for e in entries} == {f"cli {getpass.getuser()}"}
    assert entries[1]["detail"]["status"] == "imported"
    text = ingestd("audit", "--limit", "2").stdout.splitlines()
    assert len(text) == 2 and "release" in text[1] and "imported" in text[1]
    (dropped,) = json.loads(ingestd("audit", "--action", "drop", "--json").stdout)
    assert dropped["target"] == f"quarantine {spam}"
