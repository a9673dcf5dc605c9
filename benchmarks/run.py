#!/usr/bin/env python3
"""Benchmark `ingestd import` on generated voice decks against a plain pandas baseline (SPEC §8).

For every size (--rows) and format (--formats) the script generates a realistic voice deck
(E.164 codes built from the libphonenumber country codes plus 2-9 digits, unique; destinations
such as "Germany Mobile", "Germany Fixed" or "Germany Mobile - Vodafone"; ASAP, past and future
dates; pulses 60/60, 1/1, 60/1, 30/6, 30/30; a few forbidden and discontinued rows) and a second
deck with the same codes and 1% of the prices changed.  XLSX is written with openpyxl's
write_only mode, with a title row above the table as vendors do.  Generated files are kept in
--cache DIR (default: a temporary folder), so a second run with the same DIR skips generation;
generation is never timed.

Then, one process at a time, each as its own subprocess (wall time from start to exit, peak
memory from that process's own rusage via os.wait4):

  baseline      what a user would write: pandas.read_csv(path) or
                pandas.read_excel(path, engine="openpyxl"), then
                DataFrame.to_sql("rates", sqlite3 connection, index=False) into a fresh file;
  import        `ingestd import FILE --vendor bench --mode full --received-at ...
                --accept-guards --json` into a fresh database (after `ingestd db upgrade`);
  re-import 1%  the same command with the 1%-changed deck into the same table.

The ingestd steps run on SQLite and, when reachable, on PostgreSQL (a database created and
dropped for every size and format; --postgresql URL, --no-postgresql to skip it).  Every ingestd
run must report status "imported" with the expected number of written rows, or the script stops
with an error.  The ingestd runs use the built-in defaults (no config file).  Timings include
starting Python and importing the libraries, as a user sees them.

The table goes to stdout; --json FILE also writes the records and the machine.

    .venv/bin/python benchmarks/run.py                                # 50k 300k 1M, csv xlsx
    .venv/bin/python benchmarks/run.py --rows 2000 --formats csv --no-postgresql
    .venv/bin/python benchmarks/run.py --cache ~/.cache/ingestd-bench --json bench.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

GENERATOR_VERSION = 1  # bump when the generated decks change (cache file names carry it)
SEED = 20260101
CHANGED_SHARE = 0.01
FIRST_RECEIVED = "2026-01-05T09:00:00Z"
AGAIN_RECEIVED = "2026-01-12T09:00:00Z"
HEADER = (
    "Destination",
    "Code",
    "Rate",
    "Effective Date",
    "Billing Increment",
    "Forbidden",
    "Discontinued",
)
XLSX_PREAMBLE = (("Bench Telecom Ltd - wholesale voice rates, USD per minute",), ())
PULSES = (("60/60", 40), ("1/1", 30), ("60/1", 15), ("30/6", 10), ("30/30", 5))
PAST_DATES = [datetime(2025, m, d) for m in range(6, 13) for d in (1, 15)]
FUTURE_DATES = [datetime(2026, m, d) for m in (1, 2, 3) for d in (20, 28)]
DEFAULT_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SKIPPED = "skipped (would take minutes)"

BASELINE = """\
import sqlite3, sys
import pandas
path, db, skip = sys.argv[1], sys.argv[2], int(sys.argv[3])
if path.endswith(".xlsx"):
    df = pandas.read_excel(path, engine="openpyxl", skiprows=skip)
else:
    df = pandas.read_csv(path)
con = sqlite3.connect(db)
df.to_sql("rates", con, index=False)
con.commit()
con.close()
print(len(df))
"""


# --- generating decks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakout:
    stem: str  # the code every code of this destination starts with
    cc: str  # its country code
    name: str
    price: float
    pulse: str


def _breakouts(rng: random.Random) -> list[Breakout]:
    """Destinations of every country in the libphonenumber metadata: the country itself, fixed
    and mobile ranges, and mobile operators with their real prefixes (carrier metadata)."""
    import phonenumbers
    from phonenumbers import carrierdata, geocoder

    countries: dict[str, str] = {}
    for cc, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        example = phonenumbers.example_number(regions[0]) if regions[0] != "001" else None
        name = geocoder.country_name_for_number(example, "en") if example else ""
        if name:
            countries[str(cc)] = name
    operators: dict[str, dict[str, str]] = {}  # cc -> operator name -> shortest prefix
    for prefix, names in carrierdata.CARRIER_DATA.items():
        cc = next((prefix[:n] for n in (1, 2, 3) if prefix[:n] in countries), None)
        name = names.get("en")
        if cc is None or not name or len(prefix) - len(cc) > 7:
            continue
        known = operators.setdefault(cc, {})
        if name not in known or len(prefix) < len(known[name]):
            known[name] = prefix

    weights = [p for p, _ in PULSES]
    pulses = [w for _, w in PULSES]

    def pulse() -> str:
        return rng.choices(weights, pulses)[0]

    out: list[Breakout] = []
    for cc, country in countries.items():
        fixed = round(rng.uniform(0.002, 0.06), 5)
        mobile = round(fixed * rng.uniform(1.5, 4), 5)
        out.append(Breakout(cc, cc, country, fixed, pulse()))
        for d in rng.sample("123456789", 2):
            out.append(Breakout(cc + d, cc, f"{country} Fixed", fixed, pulse()))
        for d in rng.sample("123456789", 2):
            out.append(Breakout(cc + d, cc, f"{country} Mobile", mobile, pulse()))
        ops = sorted(operators.get(cc, {}).items())
        for name, prefix in rng.sample(ops, min(len(ops), 8)):
            price = round(mobile * rng.uniform(0.8, 1.4), 5)
            out.append(Breakout(prefix, cc, f"{country} Mobile - {name}", price, pulse()))
    return out


def _deck_rows(rows: int, seed: int) -> tuple[list[tuple], set[int]]:
    """Rows of (destination, code, price, date or None for ASAP, pulse, forbidden,
    discontinued), sorted by code, and the indexes of the rows whose price changes."""
    rng = random.Random(seed)
    breakouts = _breakouts(rng)
    seen: set[str] = set()
    out: list[tuple] = []
    while len(out) < rows:
        b = rng.choice(breakouts)
        extra = rng.randint(max(2, len(b.stem) - len(b.cc)), 9)
        code = b.stem + "".join(rng.choices("0123456789", k=extra - (len(b.stem) - len(b.cc))))
        if code in seen:
            continue
        seen.add(code)
        r = rng.random()
        when = None if r < 0.75 else rng.choice(PAST_DATES if r < 0.9 else FUTURE_DATES)
        flag = rng.random()
        forbidden, discontinued = flag < 0.002, 0.002 <= flag < 0.005
        out.append((b.name, code, b.price, when, b.pulse, forbidden, discontinued))
    out.sort(key=lambda r: r[1])
    plain = [i for i, r in enumerate(out) if not (r[5] or r[6])]
    changed = set(rng.sample(plain, round(rows * CHANGED_SHARE)))
    return out, changed


def _changed_price(price: float, i: int) -> float:
    factor = 1.07 if i % 3 == 0 else 0.93  # a third go up (deferred by notice), the rest down
    new = round(price * factor, 5)
    return new if new != price else round(price + 0.00001, 5)


def _write_csv(path: Path, rows: list[tuple], changed: set[int]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        for i, (name, code, price, when, pulse, forbidden, disc) in enumerate(rows):
            if i in changed:
                price = _changed_price(price, i)
            date = when.strftime("%Y-%m-%d") if when else "ASAP"
            out.write(
                f'"{name}",{code},{price:.5f},{date},{pulse},'
                f"{'Y' if forbidden else ''},{'Y' if disc else ''}\n"
            )


def _write_xlsx(path: Path, rows: list[tuple], changed: set[int]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Voice Rates")
    for line in XLSX_PREAMBLE:
        ws.append(list(line))
    bold = []
    for h in HEADER:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = Font(bold=True)
        bold.append(cell)
    ws.append(bold)
    for i, (name, code, price, when, pulse, forbidden, disc) in enumerate(rows):
        if i in changed:
            price = _changed_price(price, i)
        # codes as numbers and dates as date cells, as most vendors' spreadsheets have them
        ws.append(
            [name, int(code), price, when or "ASAP", pulse, "Y" if forbidden else None,
             "Y" if disc else None]
        )  # fmt: skip
    wb.save(path)


@dataclass(frozen=True)
class Deck:
    rows: int
    fmt: str
    first: Path
    again: Path
    changed: int  # rows whose price differs in `again`
    flagged: int  # forbidden or discontinued rows


def prepare(cache: Path, rows: int, formats: list[str]) -> dict[str, Deck]:
    """The decks of one size, generated into `cache` unless they are there already."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"voice-{rows}-s{SEED}-g{GENERATOR_VERSION}"
    meta_path = cache / f"{stem}.json"
    paths = {f: (cache / f"{stem}.{f}", cache / f"{stem}-1pct.{f}") for f in formats}
    missing = [f for f, (a, b) in paths.items() if not (a.exists() and b.exists())]
    if missing or not meta_path.exists():
        start = time.perf_counter()
        data, changed = _deck_rows(rows, SEED)
        meta = {"changed": len(changed), "flagged": sum(1 for r in data if r[5] or r[6])}
        for f in missing:
            write = _write_csv if f == "csv" else _write_xlsx
            for path, which in zip(paths[f], (set(), changed), strict=True):
                tmp = path.with_suffix(f".tmp.{f}")
                write(tmp, data, which)
                tmp.replace(path)
        meta_path.write_text(json.dumps(meta))
        print(
            f"# generated {rows:,} rows ({', '.join(missing) or 'metadata'}) in "
            f"{time.perf_counter() - start:.0f} s, cached in {cache}",
            file=sys.stderr,
        )
    meta = json.loads(meta_path.read_text())
    return {f: Deck(rows, f, a, b, meta["changed"], meta["flagged"]) for f, (a, b) in paths.items()}


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Measured:
    wall: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


# Runs one command and reports its wall time and its own rusage.  A process's peak RSS counts
# the memory of the process it was forked from (Linux carries the old hiwater mark across exec),
# so the command is started from this small, fresh interpreter and never from the benchmark
# itself, which holds generated decks and imported libraries.
LAUNCHER = """\
import os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawn(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(report, "w") as f:
    f.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> Measured:
    """Run one process: wall seconds from its start to its exit and its own peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as report,
    ):
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, report.name, *cmd]
        code = subprocess.run(launcher, env=env, cwd=cwd, stdout=out, stderr=err).returncode
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        fields = report.read().split()
        if code != 0 or len(fields) != 3:
            fail(f"could not run {cmd[:2]}", Measured(0, 0, code, stdout, stderr))
        wall, maxrss_kib, returncode = float(fields[0]), int(fields[1]), int(fields[2])
        return Measured(wall, maxrss_kib / 1024, returncode, stdout, stderr)


@dataclass
class Record:
    rows: int
    format: str
    database: str
    step: str
    wall_s: float | None
    rows_per_s: int | None
    peak_mb: float | None
    ratio_to_baseline: float | None
    note: str = ""
    written: int | None = None
    of_first_import: float | None = None  # re-import wall / first import wall


def fail(what: str, m: Measured | None = None, detail: str = "") -> None:
    text = f"benchmark failed: {what}"
    if detail:
        text += f"\n{detail}"
    if m is not None:
        text += (
            f"\nexit code {m.returncode}\nstdout:\n{m.stdout[-3000:]}\nstderr:\n{m.stderr[-3000:]}"
        )
    raise SystemExit(text)


def clean_env(database_url: str, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env["INGESTD_DATABASE_URL"] = database_url
    env["INGESTD_DAEMON_STATE_DIR"] = str(state)
    # a 1M-row CSV with destination names is ~54 MB, over the default 50 MB file limit
    return env


def ingestd_steps(
    ingestd: Path, deck: Deck, database: str, url: str, work: Path
) -> list[tuple[str, Measured, int]]:
    """`db upgrade`, the first import and the 1% re-import; checked, not yet turned into
    records.  Runs in `work` so that no ./config/ingestd.toml is picked up."""
    env = clean_env(url, work / "state")
    up = measure([str(ingestd), "db", "upgrade"], env, work)
    if up.returncode != 0:
        fail(f"ingestd db upgrade on {database}", up)
    out = []
    for step, path, received, expected in (
        ("import", deck.first, FIRST_RECEIVED, deck.rows),
        ("re-import 1%", deck.again, AGAIN_RECEIVED, deck.changed),
    ):
        cmd = [
            str(ingestd), "import", str(path), "--vendor", "bench", "--mode", "full",
            "--received-at", received, "--accept-guards", "--json",
        ]  # fmt: skip
        m = measure(cmd, env, work)
        where = f"{step} of {deck.rows:,} {deck.fmt} rows on {database}"
        if m.returncode != 0:
            fail(where, m)
        try:
            result = json.loads(m.stdout)
        except ValueError:
            fail(f"{where}: the output is not JSON", m)
        written = (result.get("rows") or {}).get("written")
        if result.get("status") != "imported" or written != expected:
            fail(
                f"{where}: status {result.get('status')!r}, {written} rows written, "
                f"{expected} expected",
                detail=json.dumps({k: result.get(k) for k in ("message", "rows", "counts")}),
            )
        out.append((step, m, written))
    return out


@contextlib.contextmanager
def postgresql_database(admin_url: str):
    """A fresh PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    import psycopg
    from sqlalchemy import make_url

    admin = make_url(admin_url)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"ingestd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgresql_reachable(admin_url: str) -> str | None:
    """None when a database can be created there, else why not."""
    try:
        with postgresql_database(admin_url):
            return None
    except Exception as e:  # driver missing, refused, auth, permissions
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


# --- output ------------------------------------------------------------------------------------

COLUMNS = (
    ("rows", 9), ("format", 6), ("database", 10), ("step", 12), ("wall s", 8),
    ("rows/s", 9), ("peak MB", 8), ("vs baseline", 11),
)  # fmt: skip


def table_line(r: Record) -> str:
    if r.wall_s is None:
        cells = [f"{r.rows:,}", r.format, r.database, r.step]
        return (
            " ".join(c.rjust(w) for c, (_, w) in zip(cells, COLUMNS, strict=False)) + "  " + r.note
        )
    ratio = f"{r.ratio_to_baseline:.2f}x" if r.ratio_to_baseline is not None else "-"
    cells = [
        f"{r.rows:,}", r.format, r.database, r.step, f"{r.wall_s:.2f}", f"{r.rows_per_s:,}",
        f"{r.peak_mb:.0f}", ratio,
    ]  # fmt: skip
    line = " ".join(c.rjust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True))
    if r.of_first_import is not None:
        line += f"  ({r.of_first_import:.0%} of the first import)"
    return line


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("ingestd", "polars", "pandas", "openpyxl", "fastexcel", "SQLAlchemy", "psycopg"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    import sqlite3

    mem = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        **versions,
    }


def machine_line(m: dict) -> str:
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, "
        f"SQLite {m['sqlite']}, polars {m.get('polars', '?')}, pandas {m.get('pandas', '?')}"
    )


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        epilog=doc.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[50_000, 300_000, 1_000_000], metavar="N",
        help="deck sizes (default: 50000 300000 1000000)",
    )  # fmt: skip
    parser.add_argument(
        "--formats", nargs="+", choices=["csv", "xlsx"], default=["csv", "xlsx"],
        help="deck formats (default: csv xlsx)",
    )  # fmt: skip
    parser.add_argument(
        "--cache", type=Path, metavar="DIR",
        help="keep generated decks here and reuse them (default: a temporary folder)",
    )  # fmt: skip
    parser.add_argument(
        "--postgresql", default=DEFAULT_POSTGRESQL, metavar="URL",
        help=f"server to create a database on for every size and format (default: "
        f"{DEFAULT_POSTGRESQL}); skipped with a note when unreachable",
    )  # fmt: skip
    parser.add_argument("--no-postgresql", action="store_true", help="SQLite only")
    parser.add_argument(
        "--skip-baseline-xlsx-above", type=int, default=300_000, metavar="N",
        help="do not run the pandas + openpyxl baseline on XLSX decks of more rows "
        "(it takes minutes at 1M; default: 300000)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the records here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ingestd = Path(sys.executable).with_name("ingestd")
    if not ingestd.exists():
        raise SystemExit(f"no ingestd command beside {sys.executable}: pip install -e . first")
    host = machine()
    print(f"# machine: {machine_line(host)}", flush=True)
    databases = ["sqlite"]
    if not args.no_postgresql:
        why = postgresql_reachable(args.postgresql)
        if why is None:
            databases.append("postgresql")
        else:
            print(f"# PostgreSQL skipped: not reachable at {args.postgresql} ({why})", flush=True)

    records: list[Record] = []

    def emit(r: Record) -> None:
        records.append(r)
        print(table_line(r), flush=True)

    with contextlib.ExitStack() as stack:
        if args.cache is None:
            cache = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ingestd-bench-")))
        else:
            cache = args.cache
            cache.mkdir(parents=True, exist_ok=True)
        print(" ".join(h.rjust(w) for h, w in COLUMNS), flush=True)
        for rows in args.rows:
            decks = prepare(cache, rows, args.formats)
            for fmt in args.formats:
                deck = decks[fmt]
                run_one(ingestd, deck, databases, args, emit)

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": host,
                    "command": [Path(sys.argv[0]).name, *(argv or sys.argv[1:])],
                    "received_at": [FIRST_RECEIVED, AGAIN_RECEIVED],
                    "records": [asdict(r) for r in records],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


def run_one(ingestd: Path, deck: Deck, databases: list[str], args, emit) -> None:
    """Baseline, then first import and re-import on every database, for one deck."""
    base = Record(deck.rows, deck.fmt, "sqlite", "baseline", None, None, None, None)
    if deck.fmt == "xlsx" and deck.rows > args.skip_baseline_xlsx_above:
        base.note = SKIPPED
    else:
        with tempfile.TemporaryDirectory(prefix="ingestd-bench-") as tmp:
            skip = len(XLSX_PREAMBLE) if deck.fmt == "xlsx" else 0
            cmd = [sys.executable, "-c", BASELINE, str(deck.first), f"{tmp}/base.db", str(skip)]
            m = measure(cmd, clean_env("", Path(tmp)), Path(tmp))
            if m.returncode != 0 or m.stdout.strip() != str(deck.rows):
                fail(f"baseline on {deck.rows:,} {deck.fmt} rows", m)
        base.wall_s, base.peak_mb = round(m.wall, 3), round(m.peak_mb, 1)
        base.rows_per_s, base.ratio_to_baseline = int(deck.rows / m.wall), 1.0
    emit(base)
    for database in databases:
        with contextlib.ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ingestd-bench-")))
            if database == "sqlite":
                url = f"sqlite:///{work / 'bench.db'}"
            else:
                url = stack.enter_context(postgresql_database(args.postgresql))
            steps = ingestd_steps(ingestd, deck, database, url, work)
        first_wall = steps[0][1].wall
        for step, m, written in steps:
            emit(
                Record(
                    deck.rows,
                    deck.fmt,
                    database,
                    step,
                    round(m.wall, 3),
                    int(deck.rows / m.wall),
                    round(m.peak_mb, 1),
                    round(m.wall / base.wall_s, 3) if base.wall_s else None,
                    written=written,
                    of_first_import=round(m.wall / first_wall, 3) if step != "import" else None,
                )
            )


if __name__ == "__main__":
    sys.exit(main())
