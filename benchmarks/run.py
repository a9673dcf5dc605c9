#!/usr/bin/env python3
"""Benchmark `ingestd import` on generated voice decks against a plain pandas baseline
(docs/performance.md#targets).

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

Every run starts with an empty state folder: the first import finds no workbook sheet read
before (state_dir/cache/sheets, written by it and included in its time), the re-import finds
the first import's.

The ingestd steps run on SQLite and, when reachable, on PostgreSQL (a database created and
dropped for every size and format; --postgresql URL, --no-postgresql to skip it).  Every ingestd
run must report status "imported" with the expected number of written rows, or the script stops
with an error.  The ingestd runs use the built-in defaults (no config file).  Timings include
starting Python and importing the libraries, as a user sees them.

With --repeat N every baseline and every import pair runs N times, each on a fresh database,
and the fastest run is reported (all runs' times are in the JSON, peak memory is the largest
seen): on a machine shared with other work one run can take twice as long as the next.

With --smtp-latency ROWS the script also measures the SMTP listener while a large import runs
(docs/performance.md#targets: p99 of a full SMTP transaction <= 100 ms for a small message).  It
starts the real daemon (`ingestd -c CFG run`: SQLite, a free port of 127.0.0.1, its state in a
temporary folder, no vendors, so the DKIM precheck of an unknown sender answers without any DNS
lookup), then a client sends a small unsigned message every ~50 ms (--smtp-interval), one full
transaction each (connect, EHLO, MAIL, RCPT, DATA, QUIT, timed from connect to the QUIT reply):
first with nothing else running (--smtp-baseline N messages), then while `ingestd import DECK
--vendor bench` of a ROWS-row deck (--smtp-format) runs as its own process into the daemon's
database.  The daemon's queue worker stores every message in that database too, so on SQLite its
writes wait for the import's write lock; the SMTP answer itself only waits for the queue file.  The
records give p50/p99/max and the number of transactions; the sender is sequential, so a stall delays
the messages behind it instead of being counted once per message that would have been sent.

    .venv/bin/python benchmarks/run.py                                # 50k 300k 1M, csv xlsx
    .venv/bin/python benchmarks/run.py --rows 2000 --formats csv --no-postgresql
    .venv/bin/python benchmarks/run.py --cache ~/.cache/ingestd-bench --json bench.json
    .venv/bin/python benchmarks/run.py --rows --smtp-latency 1000000 --no-postgresql \
        --cache /tmp/ingestd-bench-cache                              # the SMTP figures only
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import math
import os
import platform
import random
import re
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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
    # every run's wall seconds with --repeat N (wall_s is the fastest, peak_mb the largest)
    runs_s: list[float] | None = None
    # SMTP latency records: full transactions (connect to QUIT reply), milliseconds
    messages: int | None = None
    failed: int | None = None  # transactions that raised or got no 250 for the message
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    slowest: list[dict] | None = None  # the slowest transactions, per phase


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
        written = checked_import(
            m, f"{step} of {deck.rows:,} {deck.fmt} rows on {database}", expected
        )
        out.append((step, m, written))
    return out


def checked_import(m: Measured, where: str, expected: int) -> int:
    """The rows written by an `ingestd import --json` run; stops unless it imported them all."""
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
    return written


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


# --- SMTP latency during an import (docs/performance.md#targets)
# ---------------------------------------------------

SMTP_RECIPIENT = "rates@bench.example"
SMTP_SENDER = "someone@unknown.example"  # no vendor lists it: the DKIM precheck does no DNS
SMTP_START_TIMEOUT = 30.0
SMTP_TIMEOUT = 60.0  # per socket operation of one transaction
QUEUE_DRAIN_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_config(folder: Path, port: int) -> Path:
    """A daemon on 127.0.0.1:port with its state and SQLite database in `folder`; no vendors,
    no IMAP, outgoing mail as files."""
    q = json.dumps
    config = folder / "ingestd.toml"
    config.write_text(
        "\n".join(
            [
                "[daemon]",
                f"state_dir = {q(str(folder / 'state'))}",
                'log_level = "info"',
                "[database]",
                f"url = {q('sqlite:///' + str(folder / 'ingestd.db'))}",
                "[smtp]",
                f"listen = {q(f'127.0.0.1:{port}')}",
                f"recipients = [{q(SMTP_RECIPIENT)}]",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


def http_config(folder: Path) -> tuple[Path, dict[str, str], int, int]:
    """`smtp_config` on a free port that also serves HTTP on another, without a rate limit:
    (config, environment, SMTP port, HTTP port)."""
    port, http_port = free_port(), free_port()
    config = smtp_config(folder, port)
    with config.open("a", encoding="utf-8") as f:
        f.write(f'[http]\nlisten = "127.0.0.1:{http_port}"\nrate_limit = 0\n')
    env = clean_env("sqlite:///" + str(folder / "ingestd.db"), folder / "state")
    return config, env, port, http_port


def listening_port(log_path: Path) -> int | None:
    """The SMTP port the daemon logging to ``log_path`` bound (``event=smtp.listening``)."""
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        return None
    found = re.search(r"event=smtp\.listening .*?\bport=(\d+)", text)
    return int(found[1]) if found else None


@contextlib.contextmanager
def running_daemon(ingestd: Path, config: Path, port: int, folder: Path, env: dict[str, str]):
    """`ingestd -c CONFIG run`, its log in folder/daemon.log; SIGTERM (then SIGKILL) at the end.
    ``port`` 0: the configuration has the daemon bind a free port, which its log names
    (`listening_port`); nobody else can take that one between a choice and the bind."""
    log_path = folder / "daemon.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(ingestd), "-c", str(config), "run"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=folder, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + SMTP_START_TIMEOUT
        while True:
            bound = port or listening_port(log_path)
            with contextlib.suppress(OSError):
                if bound:
                    socket.create_connection(("127.0.0.1", bound), 1).close()
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                fail(
                    "the daemon did not start listening",
                    detail=log_path.read_text(errors="replace")[-3000:],
                )
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)


def queue_empty(state: Path) -> bool:
    queue = state / "queue"
    return not any(
        (queue / sub).is_dir() and any((queue / sub).iterdir()) for sub in ("new", "processing")
    )


def smtp_transaction(port: int, n: int) -> tuple[float, dict[str, float], str | None]:
    """One full SMTP transaction: (seconds, seconds per phase, error or None)."""
    message = (
        f"From: Someone <{SMTP_SENDER}>\r\nTo: {SMTP_RECIPIENT}\r\n"
        f"Subject: latency probe {n}\r\n"
        f"Message-ID: <probe-{n}-{uuid.uuid4().hex}@unknown.example>\r\n"
        f"\r\nA small unsigned message ({n}).\r\n"
    ).encode()
    phases: dict[str, float] = {}
    start = mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    error = None
    client = smtplib.SMTP(timeout=SMTP_TIMEOUT)
    try:
        code, _ = client.connect("127.0.0.1", port)
        phase("connect")
        if code != 220:
            raise smtplib.SMTPConnectError(code, "no 220 greeting")
        client.ehlo("bench.example")
        phase("ehlo")
        client.mail(SMTP_SENDER)
        phase("mail")
        client.rcpt(SMTP_RECIPIENT)
        phase("rcpt")
        code, reply = client.data(message)
        phase("data")
        if code != 250:
            error = f"DATA {code} {reply.decode(errors='replace')}"
        client.quit()
        phase("quit")
    except (OSError, smtplib.SMTPException) as e:
        error = f"{type(e).__name__}: {e}"
        client.close()
    return time.perf_counter() - start, phases, error


def smtp_loop(port: int, interval: float, keep_going, first: int) -> list[tuple]:
    """Transactions every `interval` seconds (start to start, never overlapping) while
    keep_going(count) is true: (start offset s, seconds, phases, error) each."""
    out: list[tuple] = []
    t0 = time.perf_counter()
    next_start = t0
    while keep_going(len(out)):
        delay = next_start - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        wall, phases, error = smtp_transaction(port, first + len(out))
        out.append((began - t0, wall, phases, error))
        next_start = began + interval
    return out


def smtp_record(deck: Deck, step: str, samples: list[tuple], note: str) -> Record:
    walls = sorted(s[1] for s in samples)
    if not walls:
        fail(f"{step}: no SMTP transaction was made")

    def quantile(q: float) -> float:  # nearest rank, as latency percentiles usually are
        return walls[max(0, math.ceil(len(walls) * q) - 1)]

    slowest = sorted(samples, key=lambda s: -s[1])[:5]
    return Record(
        deck.rows, deck.fmt, "sqlite", step,
        wall_s=round(samples[-1][0] + samples[-1][1], 3), rows_per_s=None, peak_mb=None,
        ratio_to_baseline=None, note=note,
        messages=len(walls), failed=sum(1 for s in samples if s[3] is not None),
        p50_ms=round(statistics.median(walls) * 1000, 1), p99_ms=round(quantile(0.99) * 1000, 1),
        max_ms=round(walls[-1] * 1000, 1),
        slowest=[
            {"at_s": round(at, 3), "ms": round(wall * 1000, 1), "error": error,
             "phases_ms": {k: round(v * 1000, 1) for k, v in phases.items()}}
            for at, wall, phases, error in slowest
        ],
    )  # fmt: skip


def smtp_latency(ingestd: Path, deck: Deck, args, emit) -> None:
    """SMTP transactions against the real daemon: idle, then during an import into its database."""
    with tempfile.TemporaryDirectory(prefix="ingestd-bench-smtp-") as tmp:
        folder = Path(tmp)
        config = smtp_config(folder, 0)  # the daemon binds a free port and logs it
        env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
        up = measure([str(ingestd), "-c", str(config), "db", "upgrade"], env, folder)
        if up.returncode != 0:
            fail("ingestd db upgrade for the daemon", up)
        with running_daemon(ingestd, config, 0, folder, env) as daemon:
            port = listening_port(folder / "daemon.log")
            if port is None:  # running_daemon connected to it: cannot happen
                fail("the daemon's log names no SMTP port")

            def drained(what: str) -> float:
                start = time.perf_counter()
                while not queue_empty(folder / "state"):
                    if daemon.poll() is not None:
                        fail(f"the daemon exited while {what}")
                    if time.perf_counter() - start > QUEUE_DRAIN_TIMEOUT:
                        fail(f"the daemon's queue was not empty {QUEUE_DRAIN_TIMEOUT:g} s {what}")
                    time.sleep(0.05)
                return time.perf_counter() - start

            baseline = smtp_loop(port, args.smtp_interval, lambda n: n < args.smtp_baseline, 0)
            drained("after the idle messages")
            emit(smtp_record(deck, "smtp p50/p99 idle", baseline, "no import running"))

            cmd = [
                str(ingestd), "-c", str(config), "import", str(deck.first), "--vendor", "bench",
                "--mode", "full", "--received-at", FIRST_RECEIVED, "--accept-guards", "--json",
            ]  # fmt: skip
            result: list[Measured] = []
            importer = threading.Thread(
                target=lambda: result.append(measure(cmd, env, folder)), daemon=True
            )
            importer.start()
            during = smtp_loop(
                port, args.smtp_interval, lambda n: importer.is_alive(), len(baseline)
            )
            importer.join()
            if not result:
                fail("the import during the SMTP measurement did not run")
            m = result[0]
            checked_import(
                m, f"import of {deck.rows:,} {deck.fmt} rows beside the daemon", deck.rows
            )
            lag = drained("after the import")
            if daemon.poll() is not None:
                fail("the daemon exited during the SMTP measurement")
        emit(
            smtp_record(
                deck, "smtp p50/p99 during import", during,
                f"import {m.wall:.2f} s; queue empty {lag:.1f} s after it",
            )
        )  # fmt: skip


# --- output ------------------------------------------------------------------------------------

COLUMNS = (
    ("rows", 9), ("format", 6), ("database", 10), ("step", 12), ("wall s", 8),
    ("rows/s", 9), ("peak MB", 8), ("vs baseline", 11),
)  # fmt: skip


def table_line(r: Record) -> str:
    if r.p99_ms is not None:
        cells = [f"{r.rows:,}", r.format, r.database, r.step]
        return (
            " ".join(c.rjust(w) for c, (_, w) in zip(cells, COLUMNS, strict=False))
            + f"  p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, max {r.max_ms:.1f} ms, "
            f"{r.messages} messages, {r.failed} failed" + (f"; {r.note}" if r.note else "")
        )
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
    if r.runs_s and len(r.runs_s) > 1:
        line += "  best of " + " ".join(f"{w:.2f}" for w in r.runs_s)
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
        "--rows", type=int, nargs="*", default=[50_000, 300_000, 1_000_000], metavar="N",
        help="deck sizes (default: 50000 300000 1000000; none: only --smtp-latency)",
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
    parser.add_argument(
        "--smtp-latency", type=int, metavar="ROWS",
        help="also time SMTP transactions against the running daemon, idle and during an "
        "import of a ROWS-row deck on SQLite (default: off)",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-format", choices=["csv", "xlsx"], default="csv",
        help="format of the deck imported during --smtp-latency (default: csv)",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-baseline", type=int, default=100, metavar="N",
        help="messages sent with no import running (default: 100)",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-interval", type=float, default=0.05, metavar="S",
        help="seconds from the start of one transaction to the start of the next (default: 0.05)",
    )  # fmt: skip
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="run the baseline and every import N times, each on a fresh database, and report "
        "the fastest (every run's time goes to the JSON; peak memory is the largest seen): "
        "the usual way to time on a machine shared with others (default: 1)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the records here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ingestd = Path(sys.executable).with_name("ingestd")
    if not ingestd.exists():
        raise SystemExit(f"no ingestd command beside {sys.executable}: pip install -e . first")
    host = machine()
    print(f"# machine: {machine_line(host)}", flush=True)
    compiled_package()
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
        if args.smtp_latency:
            deck = prepare(cache, args.smtp_latency, [args.smtp_format])[args.smtp_format]
            smtp_latency(ingestd, deck, args, emit)

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


def compiled_package() -> None:
    """Byte-compile ingestd as installing it from a wheel does: an editable install under
    PYTHONDONTWRITEBYTECODE (common in containers) would compile every module at every start,
    a tenth of a second that no deployed daemon or command pays."""
    import ingestd as package

    compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def run_one(ingestd: Path, deck: Deck, databases: list[str], args, emit) -> None:
    """Baseline, then first import and re-import on every database, for one deck."""
    base = Record(deck.rows, deck.fmt, "sqlite", "baseline", None, None, None, None)
    if deck.fmt == "xlsx" and deck.rows > args.skip_baseline_xlsx_above:
        base.note = SKIPPED
    else:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="ingestd-bench-") as tmp:
                skip = len(XLSX_PREAMBLE) if deck.fmt == "xlsx" else 0
                cmd = [sys.executable, "-c", BASELINE, str(deck.first), f"{tmp}/base.db", str(skip)]
                m = measure(cmd, clean_env("", Path(tmp)), Path(tmp))
                if m.returncode != 0 or m.stdout.strip() != str(deck.rows):
                    fail(f"baseline on {deck.rows:,} {deck.fmt} rows", m)
                runs.append(m)
        best = min(m.wall for m in runs)
        base.wall_s, base.peak_mb = round(best, 3), round(max(m.peak_mb for m in runs), 1)
        base.rows_per_s, base.ratio_to_baseline = int(deck.rows / best), 1.0
        base.runs_s = [round(m.wall, 3) for m in runs]
    emit(base)
    for database in databases:
        tries = []  # per run: [(step, Measured, written), ...]
        for _ in range(args.repeat):
            with contextlib.ExitStack() as stack:
                work = Path(
                    stack.enter_context(tempfile.TemporaryDirectory(prefix="ingestd-bench-"))
                )
                if database == "sqlite":
                    url = f"sqlite:///{work / 'bench.db'}"
                else:
                    url = stack.enter_context(postgresql_database(args.postgresql))
                tries.append(ingestd_steps(ingestd, deck, database, url, work))
        first_wall = min(run[0][1].wall for run in tries)
        for i, (step, _, written) in enumerate(tries[0]):
            walls = [run[i][1].wall for run in tries]
            best = min(walls)
            emit(
                Record(
                    deck.rows,
                    deck.fmt,
                    database,
                    step,
                    round(best, 3),
                    int(deck.rows / best),
                    round(max(run[i][1].peak_mb for run in tries), 1),
                    round(best / base.wall_s, 3) if base.wall_s else None,
                    written=written,
                    of_first_import=round(best / first_wall, 3) if step != "import" else None,
                    runs_s=[round(w, 3) for w in walls],
                )
            )


if __name__ == "__main__":
    sys.exit(main())
