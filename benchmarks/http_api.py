"""What the HTTP API costs on a large table (docs/http.md, README "HTTP API").

Imports the benchmark's 1M-row voice deck (the one ``benchmarks/run.py`` generates, shared
cache) with ``ingestd import``, starts ``ingestd run`` serving HTTP on a free port, and measures
through real HTTP requests (httpx):

- the whole table as CSV (streamed): wall time, bytes, and the daemon's resident memory before,
  during and after (peak from /proc/PID/status VmHWM), to show it does not grow with the table;
- JSON pages of 10,000 rows: the first page (which reads the version), then the following ones.

    python benchmarks/http_api.py [--rows 1000000] [--cache /tmp/benchdecks]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from run import FIRST_RECEIVED, http_config, prepare, running_daemon

ROOT = Path(__file__).resolve().parents[1]


def memory(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "benchdecks")
    parser.add_argument("--pages", type=int, default=10, help="JSON pages to time")
    args = parser.parse_args(argv)
    ingestd = Path(sys.executable).with_name("ingestd")
    deck = prepare(args.cache, args.rows, ["csv"])["csv"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config, env, port, http_port = http_config(work)

        def cli(*words: str) -> str:
            done = subprocess.run(
                [str(ingestd), "-c", str(config), *words], env=env, cwd=work,
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            return done.stdout

        start = time.perf_counter()
        cli("import", str(deck.first), "--vendor", "bench", "--mode", "full",
            "--received-at", FIRST_RECEIVED, "--accept-guards", "--json")  # fmt: skip
        print(f"# imported {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
        token = json.loads(cli("apikey", "create", "bench", "--scope", "read", "--json"))["token"]
        url = f"http://127.0.0.1:{http_port}/api/v1/tables/bench/voice/default/rows"
        with (
            running_daemon(ingestd, config, port, work, env) as daemon,
            httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=300) as client,
        ):
            while client.get(f"http://127.0.0.1:{http_port}/healthz").status_code != 200:
                time.sleep(0.1)
            before, _ = memory(daemon.pid)
            peak_during = [0.0]
            done = threading.Event()

            def watch() -> None:
                while not done.is_set():
                    peak_during[0] = max(peak_during[0], memory(daemon.pid)[0])
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            watcher.start()
            start = time.perf_counter()
            size = lines = 0
            with client.stream("GET", url, params={"format": "csv"}) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            csv_wall = time.perf_counter() - start
            done.set()
            watcher.join()
            after, hwm = memory(daemon.pid)
            print(
                f"CSV of {lines - 1:,} rows ({size / 1e6:.0f} MB) streamed in {csv_wall:.1f} s "
                f"({(lines - 1) / csv_wall:,.0f} rows/s); daemon resident {before:.0f} MB before, "
                f"at most {peak_during[0]:.0f} MB during, {after:.0f} MB after "
                f"(peak since start {hwm:.0f} MB)"
            )
            times, cursor = [], None
            for _ in range(args.pages):
                params = {"limit": 10_000, **({"cursor": cursor} if cursor else {})}
                start = time.perf_counter()
                page = client.get(url, params=params)
                times.append(time.perf_counter() - start)
                page.raise_for_status()
                cursor = page.json()["next_cursor"]
            rest = times[1:] or times
            print(
                f"JSON pages of 10,000 rows: first {times[0] * 1000:.0f} ms (reads the version), "
                f"then median {statistics.median(rest) * 1000:.0f} ms, "
                f"max {max(rest) * 1000:.0f} ms over {len(rest)} pages; "
                f"daemon resident {memory(daemon.pid)[0]:.0f} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
