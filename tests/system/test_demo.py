"""scripts/demo end to end: the daemon on the example config gets the DKIM-signed
messages of sample_mail/ over SMTP, imports them, answers into the outbox and stops cleanly.
Runs the script itself as a newcomer would, in a copy of the checkout: the .venv it makes and
installs into and its var/demo are the copy's, never those the suite itself runs from
(docs/testing.md#running-the-tests-in-parallel)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rig.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# what a fresh clone does not have: the caller's venv, state and build leftovers
NOT_IN_A_CLONE = (
    ".git",
    ".venv",
    "var",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


@pytest.mark.skipif(shutil.which("bash") is None, reason="scripts/demo is a bash script")
def test_demo_runs_the_daemon_on_the_sample_mail(tmp_path):
    clone = tmp_path / "ingestd"
    shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE))
    # free ports instead of 2525 and 8025 (INGESTD_SMTP_LISTEN and INGESTD_HTTP_LISTEN override
    # the example config); nothing else from the suite's INGESTD_* environment (a PostgreSQL
    # URL, say) reaches the demo, nor the suite's own virtual environment
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("INGESTD_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env["INGESTD_SMTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    env["INGESTD_HTTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    try:
        p = subprocess.run(
            [str(clone / "scripts" / "demo")], cwd=clone, env=env, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
    finally:
        shutil.rmtree(clone / ".venv", ignore_errors=True)  # half a gigabyte
    out = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout)
    assert p.returncode == 0, out + p.stderr
    assert "messages: 2 done" in out
    assert "demo/voice/default — 2 versions, latest 2" in out
    assert re.search(r"^\s+1 .* demo-carrier-a-z-2026-11-02\.csv$", out, re.M)
    assert re.search(r"^\s+2 .* demo-carrier-amendment-2026-11-16\.csv$", out, re.M)
    # the increase is deferred by its notice: the old price first, the new one after
    prices = re.findall(r"^\+447911123456: 4479\s+price1 (\S+),", out, re.M)
    assert prices == ["0.0395", "0.0455"], out
    outbox = re.findall(r"^(?:confirm|report)\.\S+\.eml$", out, re.M)
    assert len(outbox) == 4, out
    assert "Subject: Accepted: Demo Carrier rates, default version 2" in out
    assert "event=pipeline.authenticated" in out and "result=pass" in out
    assert "ingestd run exited with status 0" in out
    assert "console: logged in as demo; the dashboard lists 1 latest import(s)" in out
    assert "/ui/  and log in as demo / demo-console" in out
