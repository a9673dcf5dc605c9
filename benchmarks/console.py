"""What the web console costs on a large table (docs/console.md, README "Web console").

Imports the benchmark's 1M-row voice deck and its 1% re-import (the decks ``benchmarks/run.py``
generates, shared cache) with ``ingestd import``, starts ``ingestd run`` serving HTTP on a free
port, logs in as a person does (the form, its CSRF token, the session cookie) and times the
pages a rates analyst opens, through real HTTP requests (httpx):

- the import report of version 2, a page of rows at the start and in the middle of the table;
- the diff of versions 1 → 2 (the 1%: ~10,000 changes): first page (works the list out), the
  next page, a change class, a search; the same for 0 → 1 (every one of the 1M rows is new);
- the CSV download of the 1 → 2 changes.

    python benchmarks/console.py [--rows 1000000] [--cache /tmp/benchdecks]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from run import AGAIN_RECEIVED, FIRST_RECEIVED, http_config, prepare, running_daemon

PASSWORD = "benchmark-password"


def timed(client: httpx.Client, what: str, path: str, **params: object) -> httpx.Response:
    start = time.perf_counter()
    answer = client.get(path, params=params)
    wall = time.perf_counter() - start
    answer.raise_for_status()
    print(f"{what:<58} {wall * 1000:>8.0f} ms  {len(answer.content) / 1024:>7.0f} KB")
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "benchdecks")
    args = parser.parse_args(argv)
    ingestd = Path(sys.executable).with_name("ingestd")
    deck = prepare(args.cache, args.rows, ["csv"])["csv"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config, env, port, http_port = http_config(work)

        def cli(*words: str, given: str | None = None) -> str:
            done = subprocess.run(
                [str(ingestd), "-c", str(config), *words],
                env=env,
                cwd=work,
                capture_output=True,
                text=True,
                check=True,
                input=given,
            )
            return done.stdout

        for path, received in ((deck.first, FIRST_RECEIVED), (deck.again, AGAIN_RECEIVED)):
            start = time.perf_counter()
            cli(
                "import",
                str(path),
                "--vendor",
                "bench",
                "--mode",
                "full",
                "--received-at",
                received,
                "--accept-guards",
                "--json",
            )
            print(f"# imported {path.name} in {time.perf_counter() - start:.1f} s")
        cli("user", "add", "bench", "--role", "viewer", given=PASSWORD + "\n")
        base = f"http://127.0.0.1:{http_port}"
        table = "/ui/tables/bench/voice/default"
        with (
            running_daemon(ingestd, config, port, work, env),
            httpx.Client(base_url=base, timeout=600) as client,
        ):
            while client.get("/healthz").status_code != 200:
                time.sleep(0.1)
            form = client.get("/ui/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form)[1]  # type: ignore[index]
            client.post("/ui/login", data={"name": "bench", "password": PASSWORD, "csrf": token})
            timed(client, "dashboard", "/ui/")
            timed(client, "versions of the table", table)
            timed(client, "import report of version 2", f"{table}/versions/2")
            timed(client, "rows of version 2, first page", f"{table}/versions/2/rows")
            timed(client, "rows of version 2, from code 5", f"{table}/versions/2/rows", after="5")
            for a, b, what in ((1, 2, "1 → 2 (the 1% re-import)"), (0, 1, "0 → 1 (every row)")):
                diff = f"{table}/diff"
                timed(client, f"diff {what}: first page", diff, **{"from": a, "to": b})
                timed(client, f"diff {what}: next page", diff, **{"from": a, "to": b}, offset=100)
                timed(
                    client,
                    f"diff {what}: increases only",
                    diff,
                    **{"from": a, "to": b},
                    change="increase" if a else "new",
                )
                timed(client, f"diff {what}: search '44'", diff, **{"from": a, "to": b}, q="44")
            timed(
                client, "diff 1 → 2 as CSV", f"{table}/diff", **{"from": 1, "to": 2}, format="csv"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
