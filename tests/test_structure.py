"""The shape of the code that docs/architecture.md describes: no import cycle among ingestd's
modules, every state defined once, and modules of one concept each.

Imports are read from the source (every ``import`` statement, including those inside functions
and under ``TYPE_CHECKING``), so a cycle hidden behind a late import counts as one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ingestd"

# Modules longer than LONG lines, each one concept too large to cut without splitting it; a
# module not listed here stays under LONG.  The list only shrinks.
LONG = 600
ONE_CONCEPT = {
    "ingestd.mail.compose": "the messages ingestd writes",
    "ingestd.mail.outbox": "the durable outbox",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The ingestd modules ``name`` imports (``from pkg import module`` counts as the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_module_of_ingestd_imports_itself_back():
    graph = import_graph()
    assert len(graph) > 40  # the walk found the package
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_late_and_type_checking_imports_count(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ingestd.message.outcome import MessageOutcome\n"
        "def f():\n    from ingestd import heap\n"
    )
    found = imports_of("ingestd.x", module, {"ingestd.message.outcome", "ingestd.heap"})
    assert found == {"ingestd.message.outcome", "ingestd.heap"}


def test_the_front_ends_and_the_stores_sit_where_the_architecture_says():
    """The database layer and the message's life never reach up to a front end."""
    graph = import_graph()
    front = {"ingestd.cli", "ingestd.cli_commands", "ingestd.cli_output", "ingestd.daemon"}
    web = {name for name in graph if name == "ingestd.web" or name.startswith("ingestd.web.")}
    assert {"ingestd.web.app", "ingestd.web.server"} <= web  # the finder sees the package
    for name, imported in graph.items():
        lower = ("ingestd.db", "ingestd.message", "ingestd.rates", "ingestd.sheets")
        if name.startswith((*lower, "ingestd.service")):
            assert not imported & (front | web), name
        if name in web:
            # the HTTP face reaches the work through the application layer, like the CLI
            assert not any(m.startswith(("ingestd.message", "ingestd.mail")) for m in imported), (
                name
            )
            assert not imported & front, name
        if name.startswith("ingestd.db"):
            assert all(
                m.startswith("ingestd.db")
                or m in {"ingestd.errors", "ingestd.logs", "ingestd.config"}
                for m in imported
            ), name
        if name.startswith("ingestd.sheets"):
            # reading is pure: no database, no mail, no message
            assert not any(
                m.startswith(("ingestd.db", "ingestd.message", "ingestd.mail")) for m in imported
            ), name


def test_long_modules_are_the_listed_ones():
    long = {
        name
        for name, path in modules().items()
        if len(path.read_text(encoding="utf-8").splitlines()) > LONG
    }
    assert long <= set(ONE_CONCEPT), sorted(long - set(ONE_CONCEPT))
    assert set(ONE_CONCEPT) <= long, (
        f"now short, take off the list: {sorted(set(ONE_CONCEPT) - long)}"
    )


def test_every_state_word_is_defined_once():
    """The words of a state machine are members of ``ingestd.states``, not literals elsewhere."""
    from ingestd import states

    words = {
        member.value
        for enum in (states.MessageState, states.NotifyState, states.HeldState, states.OutboxState)
        for member in enum
    }
    assert {"processing", "quarantined", "alerted", "superseded", "suppressed"} <= words
    pattern = re.compile(r"""\b(?:state|notify)\s*(?:==|!=|=)\s*["'](\w+)["']""")
    offenders = []
    for name, path in modules().items():
        if name == "ingestd.states":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for word in pattern.findall(line):
                if word in words:
                    offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_pointer_to_the_docs_names_a_page_and_heading_that_exist():
    """Code comments point to docs/ instead of a document users do not have; every such
    pointer must lead somewhere."""
    headings = {
        page.name: {
            anchor(line.lstrip("#"))
            for line in page.read_text().splitlines()
            if line.startswith("#")
        }
        for page in (ROOT / "docs").glob("*.md")
    }
    assert {"architecture.md", "reading.md", "semantics.md", "mail.md"} <= set(headings)
    pointer = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
    broken = []
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), ROOT / "README.md"]
    for path in sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for page, name in pointer.findall(line):
                if page not in headings or (name and name not in headings[page]):
                    broken.append(f"{path.relative_to(ROOT)}:{number}: docs/{page}#{name}")
    assert broken == []
    assert not [p for p in PACKAGE.rglob("*.py") if "SPEC §" in p.read_text(encoding="utf-8")]


def test_every_file_the_docs_name_exists():
    """README and docs/ name modules and tests by path; a move must take them along."""
    named = re.compile(r"\b((?:ingestd|tests|benchmarks|scripts)/[\w/.-]+\.(?:py|md|toml|sh))\b")
    missing = []
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for path in named.findall(line):
                if not (ROOT / path).exists():
                    missing.append(f"{page.relative_to(ROOT)}:{number}: {path}")
    assert missing == []
