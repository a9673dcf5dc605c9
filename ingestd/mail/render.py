"""Templates → the subject, text and HTML of one outgoing message (docs/mail.md#mail-out).

Each purpose is three files in ``ingestd/templates/`` (its README lists the context each one gets):

- ``<name>.subject.txt`` — one line; whitespace (newlines included) collapses to single spaces,
  so a template may spread it over several lines and a header can never be split by it;
- ``<name>.txt``         — the text/plain part;
- ``<name>.html``        — the text/html part, autoescaped.

Subjects are small separate templates rather than a ``{% block subject %}``: an operator who
overrides only the HTML part keeps the bundled subject, and the subject is never autoescaped.

Lookup order (a ``ChoiceLoader``): the configured ``[daemon] templates_dir`` first, then the
bundled ``templates/`` folder, then the bundled folder again under the prefix ``bundled/`` so an
override can extend the very template it replaces
(``{% extends "bundled/vendor_confirmation.txt" %}``).  Undefined names are errors
(``StrictUndefined``): a misspelt field makes rendering fail (and the tests), never silently
sends an empty field to a vendor; ``check_templates`` finds missing and unparsable parts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2

from ingestd.rates.schema import canonical_decimal

# inside the package, so that an installed wheel has them (README "Sending mail")
BUNDLED_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# every purpose compose.py renders; check_templates loads all three parts of each
TEMPLATE_NAMES = (
    "vendor_confirmation",
    "import_report",
    "price_change_notice",
    "quarantine_alert",
    "import_summary",
    "unauthenticated_digest",
    "cap_notice",
)
PARTS = ("subject.txt", "txt", "html")
MISSING = "—"  # what a missing price, date or number shows
MAX_SUBJECT = 200  # characters; RFC 5322 allows more, mail clients show less


@dataclass(frozen=True)
class Rendered:
    """One message's words: the subject line and both alternative bodies."""

    subject: str
    text: str
    html: str


# --- filters -------------------------------------------------------------------------------


def price(value: Any) -> str:
    """An exact price as the store and exports write it: ``0.0200000000`` → ``0.02``; never
    through a float, so a rate reads the same in the mail as in the billing table."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, float):  # not expected, but never show binary noise
        value = repr(value)
    try:
        return canonical_decimal(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


def instant(value: Any) -> str:
    """A naive-UTC datetime or the ISO text reports carry → ``2025-01-13 10:00 UTC`` (seconds
    only when they are not zero)."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    fmt = "%Y-%m-%d %H:%M" if value.second == 0 else "%Y-%m-%d %H:%M:%S"
    return value.strftime(fmt) + " UTC"


def number(value: Any) -> str:
    """A count with thousands separators: ``1234567`` → ``1,234,567``."""
    if value is None or value == "":
        return MISSING
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return MISSING
    return f"{float(value) * 100:.{digits}f}%"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``1,200 rows``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{number(count)} {word}"


@dataclass(frozen=True)
class Column:
    """One column of a table in a template: ``"Header:key:format"`` (format optional)."""

    header: str
    key: str
    fmt: str | None = None

    @property
    def right(self) -> bool:
        """Numbers are right-aligned, so digits line up and a bigger number looks bigger."""
        return self.fmt in RIGHT_ALIGNED


RIGHT_ALIGNED = ("number", "price", "percent")


def columns(spec: Sequence[str | Column]) -> list[Column]:
    """``["Row:row:number", "Code:code"]`` → columns; the one notation the HTML macro and the
    text filter share, so both parts of a message show the same table."""
    out = []
    for item in spec:
        if isinstance(item, Column):
            out.append(item)
            continue
        header, _, rest = item.partition(":")
        key, _, fmt = rest.partition(":")
        if fmt and fmt not in FORMATS:
            raise jinja2.TemplateError(f"unknown cell format {fmt!r} in column {item!r}")
        out.append(Column(header, key or header, fmt or None))
    return out


def cell(row: Mapping[str, Any] | Sequence[Any], column: Column) -> str:
    """The text of one table cell: the row's value under the column's key, formatted."""
    if isinstance(row, Mapping):
        value = row.get(column.key)
    else:
        value = row[int(column.key)]
    if column.fmt is not None:
        return FORMATS[column.fmt](value)
    return _cell_text(value)


def text_table(rows: Iterable[Mapping[str, Any] | Sequence[Any]], spec: Sequence[str]) -> str:
    """Rows as a plain-text table for the text/plain part: columns padded to their widest
    cell, numbers right-aligned.  Mail readers show text in a fixed-width font, so this lines
    up where the HTML table is not shown."""
    cols = columns(spec)
    body = [[_cell_text(cell(row, c)) for c in cols] for row in rows]
    widths = [len(c.header) for c in cols]
    for line_cells in body:
        for i, text in enumerate(line_cells):
            widths[i] = max(widths[i], len(text))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            text.rjust(widths[i]) if cols[i].right else text.ljust(widths[i])
            for i, text in enumerate(cells)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line([c.header for c in cols]), rule, *(line(r) for r in body)])


def _cell_text(value: Any) -> str:
    if value is None or value == "":
        return MISSING if value is None else ""
    # one line per cell, whatever a vendor's cell held
    return re.sub(r"\s+", " ", str(value)).strip()


# the formats a column may name; each is also a filter
FORMATS = {"price": price, "instant": instant, "number": number, "percent": percent}


FILTERS = {**FORMATS, "plural": plural, "text_table": text_table}
GLOBALS = {"columns": columns, "cell": cell}


# --- the environment -----------------------------------------------------------------------


def _loader(templates_dir: Path | None) -> jinja2.BaseLoader:
    bundled = jinja2.FileSystemLoader(str(BUNDLED_TEMPLATES))
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders += [bundled, jinja2.PrefixLoader({"bundled": bundled})]
    return jinja2.ChoiceLoader(loaders)


@functools.lru_cache(maxsize=8)
def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment for one override folder (cached: the daemon renders with the same
    one all day; Jinja reloads a template whose file changed)."""
    env = jinja2.Environment(
        loader=_loader(templates_dir),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm"), default_for_string=False, default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    return env


def render(name: str, context: Mapping[str, Any], *, templates_dir: Path | None = None) -> Rendered:
    """Render the three parts of template ``name``; the HTML and text parts also see the
    finished ``subject`` (the HTML ``<title>``, a heading)."""
    env = environment(templates_dir)
    subject = env.get_template(f"{name}.subject.txt").render(context)
    subject = " ".join(subject.split())
    if not subject:
        raise jinja2.TemplateError(f"the subject template of {name!r} rendered nothing")
    if len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 1].rstrip() + "…"
    full = {**context, "subject": subject}
    text = env.get_template(f"{name}.txt").render(full)
    html = env.get_template(f"{name}.html").render(full)
    return Rendered(subject=subject, text=text, html=html)


def check_templates(templates_dir: Path | None = None) -> list[str]:
    """Problems with the templates a configuration would use (``ingestd check-config``): each
    part of each purpose must exist and compile.  Rendering needs a context, so undefined
    names are caught by the tests, not here."""
    env = environment(templates_dir)
    problems = []
    for name in TEMPLATE_NAMES:
        for part in PARTS:
            try:
                env.get_template(f"{name}.{part}")
            except jinja2.TemplateNotFound:
                problems.append(f"template {name}.{part} is missing")
            except jinja2.TemplateSyntaxError as e:
                problems.append(f"template {e.filename or f'{name}.{part}'}:{e.lineno}: {e}")
    return problems
