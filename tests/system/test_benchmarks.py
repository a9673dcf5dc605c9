"""benchmarks/run.py runs end to end on a tiny deck (SQLite only) and writes its records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_benchmark_script_writes_records(tmp_path):
    out = tmp_path / "out.json"
    args = ["--rows", "2000", "--formats", "csv", "xlsx", "--no-postgresql", "--repeat", "2"]
    args += ["--cache", str(tmp_path / "decks"), "--json", str(out)]
    proc = run_benchmark(args, tmp_path)
    result = json.loads(out.read_text())

    assert result["machine"]["cores"] >= 1
    assert result["machine"]["cpu"]
    records = result["records"]
    steps = {(r["format"], r["database"], r["step"]) for r in records}
    assert steps == {
        (fmt, "sqlite", step)
        for fmt in ("csv", "xlsx")
        for step in ("baseline", "import", "re-import 1%")
    }
    for r in records:
        assert r["rows"] == 2000
        assert r["wall_s"] > 0 and r["rows_per_s"] > 0 and r["peak_mb"] > 0, r
        assert r["ratio_to_baseline"] > 0, r
        # --repeat 2: two runs of every step, the fastest reported
        assert len(r["runs_s"]) == 2 and r["wall_s"] == min(r["runs_s"]), r
    for r in records:
        if r["step"] == "import":
            assert r["written"] == 2000
        elif r["step"] == "re-import 1%":
            assert r["written"] == 20  # 1% of the prices changed, nothing else written
            assert r["of_first_import"] > 0
    # the table went to stdout as well
    assert "re-import 1%" in proc.stdout and "baseline" in proc.stdout


def test_smtp_latency_records(tmp_path):
    """--smtp-latency: the real daemon answers small messages, idle and during an import."""
    out = tmp_path / "out.json"
    args = ["--rows", "--smtp-latency", "2000", "--smtp-baseline", "5", "--no-postgresql"]
    args += ["--cache", str(tmp_path / "decks"), "--json", str(out)]
    proc = run_benchmark(args, tmp_path)
    records = {r["step"]: r for r in json.loads(out.read_text())["records"]}
    assert set(records) == {"smtp p50/p99 idle", "smtp p50/p99 during import"}
    assert records["smtp p50/p99 idle"]["messages"] == 5
    assert records["smtp p50/p99 during import"]["messages"] >= 1
    for r in records.values():
        assert r["rows"] == 2000 and r["database"] == "sqlite", r
        assert r["failed"] == 0, r
        assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"] < 60_000, r
        assert r["slowest"] and r["slowest"][0]["ms"] == r["max_ms"], r
        assert set(r["slowest"][0]["phases_ms"]) == {
            "connect",
            "ehlo",
            "mail",
            "rcpt",
            "data",
            "quit",
        }
    assert "during import" in records["smtp p50/p99 during import"]["step"]
    assert "smtp p50/p99 during import" in proc.stdout
