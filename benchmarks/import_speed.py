#!/usr/bin/env python3
"""Time `ingestd import` end to end on generated OpenTWPS voice decks (SPEC §8).

For each size: a first import into an empty SQLite table, then the same deck with 1% of the
prices changed.  Each import runs as its own `ingestd` process; wall time and the process's peak
memory are reported.

    .venv/bin/python benchmarks/import_speed.py [--rows 50000 300000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = (
    "Prefix E164,Price1,Price N,Valid From,Timezone,Interval 1,Interval N,Forbidden,Discontinued"
)


def make_deck(path: Path, rows: int, *, changed: float = 0.0, seed: int = 7) -> None:
    rng = random.Random(seed)
    change = random.Random(seed + 1)
    with path.open("w") as out:
        out.write(HEADER + "\n")
        for i in range(rows):
            code = f"{rng.choice(('1', '44', '49', '33', '234', '971'))}{1_000_000 + i}"
            price = round(rng.uniform(0.001, 0.5), 4)
            if changed and change.random() < changed:
                price = round(price * 0.9, 4) or 0.0001
            i1, i_n = rng.choice(((1, 1), (60, 60), (60, 1), (30, 6)))
            out.write(f"{code},{price},{price},ASAP,UTC,{i1},{i_n},0,0\n")


def run_import(ingestd: Path, deck: Path, env: dict, received: str) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one `ingestd import` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(
        [
            str(ingestd),
            "import",
            str(deck),
            "--vendor",
            "bench",
            "--mode",
            "full",
            "--received-at",
            received,
            "--accept-guards",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"import failed: {proc.stderr or proc.stdout[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 300_000])
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    ingestd = Path(sys.executable).with_name("ingestd")
    results = []
    print(
        f"{'rows':>9} {'import s':>9} {'rows/s':>10} {'1% again s':>11} {'ratio':>6} {'peak MB':>8}"
    )
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="ingestd-bench-") as tmp:
            tmp_path = Path(tmp)
            env = dict(
                os.environ,
                INGESTD_DATABASE_URL=f"sqlite:///{tmp_path / 'bench.db'}",
                INGESTD_DAEMON_STATE_DIR=str(tmp_path),
            )
            env.pop("INGESTD_CONFIG", None)
            first, again = tmp_path / "deck.csv", tmp_path / "deck-1pct.csv"
            make_deck(first, rows)
            make_deck(again, rows, changed=0.01)
            subprocess.run(
                [str(ingestd), "db", "upgrade"], env=env, check=True, capture_output=True
            )
            t1, m1 = run_import(ingestd, first, env, "2026-01-01T00:00:00Z")
            t2, m2 = run_import(ingestd, again, env, "2026-01-02T00:00:00Z")
        row = {
            "rows": rows,
            "import_s": round(t1, 2),
            "rows_per_s": int(rows / t1),
            "reimport_1pct_s": round(t2, 2),
            "ratio": round(t2 / t1, 2),
            "peak_mb": round(max(m1, m2)),
        }
        results.append(row)
        print(
            f"{rows:>9} {t1:>9.2f} {rows / t1:>10.0f} {t2:>11.2f} {t2 / t1:>6.2f} "
            f"{max(m1, m2):>8.0f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
