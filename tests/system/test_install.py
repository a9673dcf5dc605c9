"""A plain install runs everything a user runs (docs/operations.md#install): every import of the
package is a declared dependency, and the wheel installed into a bare venv (no extras, no test
packages) imports each format and a signed message (scripts/check-install)."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib

from conftest import ROOT


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_levels() -> dict[str, list[str]]:
    """Top-level module → the package files importing it (absolute imports only, every one:
    also those inside functions and under TYPE_CHECKING)."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "ingestd").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                files = found.setdefault(name.split(".")[0], [])
                if str(path.relative_to(ROOT)) not in files:
                    files.append(str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    """The distributions ``[project] dependencies`` names (what a plain ``pip install`` brings;
    read from pyproject.toml, which the wheel's metadata is built from, so that a checkout is
    judged by its own file and not by an older install's metadata)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normalized(re.match(r"[A-Za-z0-9._-]+", r)[0]) for r in project["dependencies"]}


def test_every_runtime_import_is_a_declared_dependency():
    providers = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = []
    for module, files in sorted(_imported_top_levels().items()):
        if module in sys.stdlib_module_names or module == "ingestd":
            continue
        dists = providers.get(module)
        if not dists:
            undeclared.append(f"{module} (no installed distribution provides it; {files[0]})")
        elif not any(_normalized(d) in declared for d in dists):
            # a dependency of a dependency does not count: it may go in any of their releases
            undeclared.append(f"{module} from {'/'.join(dists)} (imported by {', '.join(files)})")
    assert not undeclared, "imported but not in [project] dependencies: " + "; ".join(undeclared)


def test_the_rule_sees_the_imports_it_judges():
    """The check above is not vacuous: numpy is found, and mapped to its distribution."""
    imports = _imported_top_levels()
    assert "ingestd/sheetcache.py" in imports["numpy"]
    assert "numpy" in importlib.metadata.packages_distributions()["numpy"]
    assert {"numpy", "polars", "sqlalchemy", "dkimpy"} <= _declared()


def test_the_wheel_installed_without_extras_imports_every_format_and_a_message(tmp_path):
    """scripts/check-install: wheel → bare venv → pip check → CSV, XLSX, XLS, ODS, ZIP and an
    .eml imported by that venv's ingestd (about a minute; pip reads PyPI or its cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env["PYTHON"] = sys.executable  # writes the workbooks: has openpyxl and the test extra xlwt
    p = subprocess.run(
        [str(ROOT / "scripts" / "check-install"), str(tmp_path / "check")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = p.stdout + p.stderr
    assert p.returncode == 0, output[-5000:]
    for label in ("csv", "xlsx", "xls", "ods", "zip", "eml"):
        assert re.search(rf"^check-install: {label} +\S+ version \d+$", output, re.M), label
    assert "No broken requirements found" in output
    assert (
        "check-install: console  logged in; the import report and the style sheet are served"
        in output
    )
