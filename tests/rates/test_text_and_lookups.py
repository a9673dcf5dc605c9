"""What the store keeps and finds, through the real command on every database: text longer
than its column is cut the same on SQLite, PostgreSQL and MariaDB, with a warning naming the
field, the row and the length (README "The import summary"); a lookup reads a number as people
write it — a trunk prefix in parentheses, digits of any script — and so does a deck's code
cell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import sqlalchemy as sa
from rig.factories import as_json, run_ingestd

from ingestd.rates.schema import TEXT_FIELD_LENGTH

VOICE = (
    "Prefix E164,Price1,Price N,Valid From,Timezone,Interval 1,Interval N,Forbidden,Discontinued"
)
DID = (
    "Number e164,Inbound Voice Price,Inbound SMS Price,Interval,MRC,NRC,"
    "Documents Verification Required,Status,Type,Voice,SMS,Fax,Video,Capacity,Notes,"
    "Local Requirements"
)


def ingestd(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m ingestd …`` in its own process on ``db_url`` (no configuration file)."""
    env = {"INGESTD_DATABASE_URL": db_url, "INGESTD_DAEMON_STATE_DIR": str(tmp_path / "state")}
    return run_ingestd(*args, env=env, cwd=tmp_path, timeout=300)


def sheet(path: Path, header: str, *rows: str) -> str:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def stored(db_url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def test_text_longer_than_its_column_is_cut_with_a_warning_on_every_database(db_url, tmp_path):
    assert ingestd(tmp_path, db_url, "db", "upgrade").returncode == 0
    london = "London " * 1000  # 6,999 characters once the cell is trimmed
    voice = sheet(
        tmp_path / "voice.csv",
        f"{VOICE},Description",
        "44,0.0100,0.0100,ASAP,UTC,1,1,0,0,United Kingdom",
        f"4420,0.0200,0.0200,ASAP,UTC,1,1,0,0,{london}",
    )
    done = ingestd(tmp_path, db_url, "import", voice, "--vendor", "acme", "--json")
    summary = as_json(done)
    assert (done.returncode, summary["status"]) == (0, "imported"), done.stderr
    (warning,) = [w for w in summary["warnings"] if w["name"] == "text_clipped"]
    assert warning["message"] == (
        "description: 1 value longer than the column's 4,000 characters cut to that length: "
        "row 3 (6,999 characters)"
    )
    assert (warning["count"], warning["examples"]) == (1, ["4420"])
    assert stored(db_url, "SELECT code, description FROM voice_rates ORDER BY code") == [
        ("44", "United Kingdom"),
        ("4420", london.strip()[:TEXT_FIELD_LENGTH]),
    ]
    # cut before it is compared: the same deck again (another file) changes nothing
    again = sheet(
        tmp_path / "voice-again.csv",
        f"{VOICE},Description",
        f"4420,0.0200,0.0200,ASAP,UTC,1,1,0,0,{london}",
        "44,0.0100,0.0100,ASAP,UTC,1,1,0,0,United Kingdom",
    )
    summary = as_json(ingestd(tmp_path, db_url, "import", again, "--vendor", "acme", "--json"))
    assert {k: v for k, v in summary["counts"].items() if v} == {"unchanged": 2}

    did = sheet(
        tmp_path / "numbers.csv",
        DID,
        f"442079460018,0.001,0.002,60,1.5,2,0,active,geographic,1,0,0,0,2,{'N' * 5000},proof",
        f"442079460019,0.001,0.002,60,1.5,2,0,active,geographic,1,0,0,0,2,short,{'é' * 4500}",
    )
    summary = as_json(ingestd(tmp_path, db_url, "import", did, "--vendor", "acme", "--json"))
    assert summary["status"] == "imported"
    messages = sorted(w["message"] for w in summary["warnings"] if w["name"] == "text_clipped")
    assert messages == [
        "local_requirements: 1 value longer than the column's 4,000 characters cut to that "
        "length: row 3 (4,500 characters)",
        "notes: 1 value longer than the column's 4,000 characters cut to that length: "
        "row 2 (5,000 characters)",
    ]
    rows = stored(db_url, "SELECT notes, local_requirements FROM did_numbers ORDER BY code")
    assert rows == [("N" * 4000, "proof"), ("short", "é" * 4000)]


def lookup(tmp_path: Path, db_url: str, number: str) -> str | None:
    done = ingestd(tmp_path, db_url, "lookup", "--vendor", "acme", number, "--json")
    match = as_json(done)["match"]
    assert done.returncode == (0 if match else 1)
    return None if match is None else match["code"]


def test_lookup_reads_a_trunk_prefix_and_digits_of_any_script_as_do_code_cells(db_url, tmp_path):
    assert ingestd(tmp_path, db_url, "db", "upgrade").returncode == 0
    deck = sheet(
        tmp_path / "deck.csv",
        VOICE,
        "44,0.0100,0.0100,ASAP,UTC,1,1,0,0",
        "444,0.0300,0.0300,ASAP,UTC,1,1,0,0",
        "4404,0.0400,0.0400,ASAP,UTC,1,1,0,0",
        "4420,0.0500,0.0500,ASAP,UTC,1,1,0,0",
        "３９０６,0.0600,0.0600,ASAP,UTC,1,1,0,0",  # full-width digits, as typed in Japan
        "＋４４７９１,0.0700,0.0700,ASAP,UTC,1,1,0,0",
        "٣٣,0.0800,0.0800,ASAP,UTC,1,1,0,0",  # Arabic-Indic digits
    )
    done = ingestd(tmp_path, db_url, "import", deck, "--vendor", "acme", "--json")
    summary = as_json(done)
    assert (summary["status"], summary["rows"]["written"], summary["rejected"]) == (
        "imported",
        7,
        [],
    )
    codes = [code for (code,) in stored(db_url, "SELECT code FROM voice_rates ORDER BY code")]
    assert codes == ["33", "3906", "44", "4404", "4420", "444", "44791"]

    # "+44 (0)": the trunk prefix is no digit of the number
    assert lookup(tmp_path, db_url, "+44 (0) 4401") == "444"
    assert lookup(tmp_path, db_url, "+44 (0) 20 7946 0018") == "4420"
    assert lookup(tmp_path, db_url, "+44(0)20-7946.0018") == "4420"
    assert lookup(tmp_path, db_url, "0044 (0)20 7946 0018") == "4420"
    assert lookup(tmp_path, db_url, "+44 020 7946 0018") == "4420"  # libphonenumber's reading
    # Italy has no trunk prefix: its 0 is part of the number
    assert lookup(tmp_path, db_url, "+39 (0)6 1234 5678") == "3906"
    # digits of any script, full-width signs
    assert lookup(tmp_path, db_url, "４４２０ ７９４６ ００１８") == "4420"
    assert lookup(tmp_path, db_url, "＋４４ （０） ７９１２ ３４５６７８") == "44791"
    assert lookup(tmp_path, db_url, "+٣٣ ١ ٢٣") == "33"
    assert lookup(tmp_path, db_url, "+1 212") is None
    done = ingestd(tmp_path, db_url, "lookup", "--vendor", "acme", "(+) - .")
    assert (done.returncode, done.stderr.strip()) == (2, "ingestd: '(+) - .' holds no digits")


def test_a_summary_longer_than_mariadbs_text_is_stored_on_every_database(db_url, tmp_path):
    # 900 rejected rows, each listed with its raw cells: a summary of ~200 KB, past the 64 KiB
    # that MariaDB's TEXT holds (the documents are LONGTEXT there)
    assert ingestd(tmp_path, db_url, "db", "upgrade").returncode == 0
    good = [f"{440000 + i},0.0100,0.0100,ASAP,UTC,1,1,0,0" for i in range(20_000)]
    bad = [f"4{i:05d}x,0.0100,0.0100,ASAP,UTC,1,1,0,0" for i in range(900)]
    deck = sheet(tmp_path / "voice.csv", VOICE, *good, *bad)
    done = ingestd(tmp_path, db_url, "import", deck, "--vendor", "acme", "--json")
    summary = as_json(done)
    assert (done.returncode, summary["status"]) == (0, "imported"), done.stderr
    assert summary["rows"]["rejected"] == 900
    ((stored_summary,),) = stored(db_url, "SELECT summary FROM versions")
    assert len(stored_summary.encode()) > 65_535
    assert len(json.loads(stored_summary)["rejected"]) == 900
