"""The billing increments of a found table's rows, Interval 1 / Interval N
(docs/reading.md#cells): a row's own cells (interval columns, else a pulse), else the vendor's
rules by destination, the rules the notes state in sentences (``sheets.prose``, by destination
text and by the country the row's code dials), the notes' default, the vendor's default, 1/1.
What the notes leave doubtful becomes a ``Doubt``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from ingestd.sheets.doubt import Doubt
from ingestd.sheets.headers import fold
from ingestd.sheets.increments import parse_ints, parse_pulse
from ingestd.sheets.prose import (
    NOTES,
    NOTES_DEFAULT,
    IncrementRule,
    NotesReading,
    answer_for,
    read_increment_notes,
)
from ingestd.sheets.prose_words import QUALIFIERS
from ingestd.sheets.regions import name_key, name_keys, regions_named, regions_of_codes
from ingestd.sheets.table_rows import ROW, TableReading, nulls

# where a row's billing increments came from, in the order they are tried (docs/reading.md#cells)
INCREMENT_SOURCES = (
    "column",
    "pulse",
    "vendor rule",
    NOTES,
    NOTES_DEFAULT,
    "vendor default",
    "default 1/1",
)


def vendor_rules(increment_rules: Mapping[str, tuple[int, int]]) -> tuple[IncrementRule, ...]:
    """A vendor's increments by destination (``config.Vendor.increment_rules``) as rules."""
    return tuple(
        IncrementRule(_glob_pattern(glob), first, after, "vendor rule")
        for glob, (first, after) in increment_rules.items()
    )


@dataclass
class Increments:
    """A voice table's increments: the notes' rules and, until the rules are applied, the rows'
    own increment cells; then per row where its increments came from and the number of the
    notes rule that set them (``len(notes.rules)``: the notes' default)."""

    notes: NotesReading = field(default_factory=NotesReading)
    own: pl.DataFrame | None = None
    source: pl.Series | None = None
    rule: pl.Series | None = None

    @classmethod
    def of_cells(cls, reading: TableReading) -> Increments:
        """Interval 1 / Interval N: the row's own cells (interval columns, else pulse) and the
        notes' sentences; the rules apply once the codes are read (``settle``)."""
        sheet = reading.sheet
        none = nulls(sheet.height, pl.Int32)
        first = after = none
        if sheet.has("interval1"):
            first, errors = parse_ints(sheet.text("interval1"))
            reading.problem("interval1", errors)
        if sheet.has("interval_n"):
            after, errors = parse_ints(sheet.text("interval_n"))
            reading.problem("interval_n", errors)
        pulse_first = pulse_next = none
        if sheet.has("pulse"):
            pulse_first, pulse_next, errors = parse_pulse(sheet.text("pulse"))
            reading.problem("pulse", errors)
        own = pl.DataFrame(
            {"first": first, "after": after, "pulse_first": pulse_first, "pulse_next": pulse_next}
        )
        return cls(read_increment_notes(sheet.found.notice.lines), own)

    def settle(
        self,
        reading: TableReading,
        codes: pl.DataFrame | None,
        vendor: tuple[IncrementRule, ...],
        default_intervals: tuple[int, int] | None,
    ) -> None:
        """Rows without increments of their own take the vendor's rules, the notes' rules (by
        destination text and by the country of the code), the notes' default, the vendor
        default, 1/1; what the notes leave doubtful becomes a ``Doubt``."""
        sheet, notes = reading.sheet, self.notes
        rules = vendor + notes.rules
        # the country of each row's code, looked up only when the notes name destinations
        height = sheet.height
        regions = _row_regions(codes, height) if notes.rules else nulls(height, pl.String)
        names = pl.DataFrame(
            {"description": reading.values["description"], "country": sheet.text("country"),
             "region": regions}
        )  # fmt: skip
        # rules are looked for only where a row has no increments of its own
        own = self.own
        bare = own.select(pl.col("first").is_null() & pl.col("pulse_first").is_null()).to_series()
        if notes.rules:
            destinations = _destinations(names.filter(bare))
        else:  # vendor rules match by pattern alone; no rules: nothing to look for
            destinations = names.filter(bare).unique() if rules else names.clear()
        frame = own.with_columns(_matching_rule(rules, names, destinations).alias("rule"))
        first_cell, pulse_cell = pl.col("first"), pl.col("pulse_first")
        cases: list[tuple[pl.Expr, pl.Expr, pl.Expr, str, pl.Expr]] = [
            (first_cell.is_not_null(), first_cell, pl.coalesce("after", "first"), "column", None),
            (pulse_cell.is_not_null(), pulse_cell, pl.col("pulse_next"), "pulse", None),
        ]
        for number, rule in enumerate(rules):
            at = pl.lit(number - len(vendor), dtype=pl.Int32) if number >= len(vendor) else None
            matches = pl.col("rule") == number
            cases.append((matches, pl.lit(rule.first), pl.lit(rule.next), rule.source, at))
        if notes.default:
            at = pl.lit(len(notes.rules), dtype=pl.Int32)
            default = (pl.lit(notes.default.first), pl.lit(notes.default.next))
            cases.append((pl.lit(True), *default, NOTES_DEFAULT, at))
        fallback = default_intervals
        if fallback:
            cases.append(
                (pl.lit(True), pl.lit(fallback[0]), pl.lit(fallback[1]), "vendor default", None)
            )
        cases.append((pl.lit(True), pl.lit(1), pl.lit(1), "default 1/1", None))
        nothing = pl.lit(None, dtype=pl.Int32)
        picked = frame.select(
            _first_case([(c, v) for c, v, _, _, _ in cases]).cast(pl.Int32).alias("interval1"),
            _first_case([(c, v) for c, _, v, _, _ in cases]).cast(pl.Int32).alias("interval_n"),
            _first_case([(c, pl.lit(s)) for c, _, _, s, _ in cases]).alias("source"),
            _first_case([(c, nothing if r is None else r) for c, _, _, _, r in cases]).alias(
                "notes_rule"
            ),
        )
        reading.values["interval1"] = picked.get_column("interval1")
        reading.values["interval_n"] = picked.get_column("interval_n")
        self.source = picked.get_column("source")
        self.rule = picked.get_column("notes_rule")
        self.own = None
        # the notes decide nothing when every row brings its own increments
        if self.source.is_in(["column", "pulse"]).all():
            return
        reading.doubts.extend(_notes_doubts(sheet.found.sheet, notes, destinations, names, vendor))

    def counted(self, source: pl.Series) -> dict[str, int]:
        """How many of the rows (their ``source`` of increments) each source set."""
        if self.source is None:
            return {}
        by_source = dict(source.value_counts().iter_rows())
        return {s: by_source[s] for s in INCREMENT_SOURCES if by_source.get(s)}

    def report(self, rule: pl.Series) -> list[dict]:
        """Every rule of the notes with its sentence and the rows it set (``rule``: per row
        the number of the rule that set it; the default last)."""
        notes = self.notes
        counted = dict(rule.drop_nulls().value_counts().iter_rows())
        rules = [*notes.rules, *([notes.default] if notes.default else [])]
        return [
            {
                "sentence": r.sentence,
                "names": list(r.names),
                "first": r.first,
                "next": r.next,
                "rows": int(counted.get(number, 0)),
                "default": r.source == NOTES_DEFAULT,
            }
            for number, r in enumerate(rules)
        ]


def _glob_pattern(glob: str) -> str:
    """A vendor's destination pattern (``config.Vendor.increment_rules``): a glob with ``*``
    or ``?`` matches the whole name; a plain name matches as a word of it (case-insensitive)."""
    if any(mark in glob for mark in "*?"):
        body = "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob.strip()
        )
        return f"(?i)^{body}$"
    return _word_pattern(glob)


def _word_pattern(name: str) -> str:
    return rf"(?i)\b{re.escape(name.strip())}\b"


def _matching_rule(
    rules: tuple[IncrementRule, ...], names: pl.DataFrame, destinations: pl.DataFrame
) -> pl.Series:
    """Per row of ``names`` (description, country, region), the number of the rule that sets
    its increments (null: none), decided once per distinct row (``destinations``): the first
    vendor rule whose pattern the description or the country matches, else the notes rule
    naming it most precisely — by its text ("Mexico Mobile" before "Mexico") or, for a
    country's name, by the region of the row's code (a +52 row is Mexico's whatever its
    description says)."""
    if not rules:
        return nulls(names.height, pl.Int32)
    vendor = [r for r in rules if r.source not in (NOTES, NOTES_DEFAULT)]
    notes = rules[len(vendor) :]
    number = pl.lit(None, dtype=pl.Int32)
    for index, rule in reversed(list(enumerate(vendor))):
        matches = pl.col("description").str.contains(rule.pattern) | pl.col("country").str.contains(
            rule.pattern
        )
        number = (
            pl.when(matches.fill_null(False)).then(pl.lit(index, dtype=pl.Int32)).otherwise(number)
        )
    if notes:
        # how precisely each notes rule names the row: the length of its longest name that does
        scores = pl.concat_list(
            pl.max_horizontal(
                pl.lit(0),
                *(pl.when(_names_row(n)).then(len(name_key(n))).otherwise(0) for n in rule.names),
            )
            for rule in notes
        )
        best = scores.list.arg_max().cast(pl.Int32) + len(vendor)
        number = pl.coalesce(number, pl.when(scores.list.max() > 0).then(best))
    decided = destinations.select("description", "country", "region", number.alias("rule"))
    spread = names.join(
        decided,
        on=["description", "country", "region"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    return spread.get_column("rule")


def _destinations(names: pl.DataFrame) -> pl.DataFrame:
    """The distinct (description, country, region) of ``names`` with ``key``: the description
    and the country in ``regions.name_keys`` form, padded with spaces so that a name is found
    as whole words."""
    distinct = names.unique()
    keys = [name_keys(pl.col(c)).fill_null("") for c in ("description", "country")]
    return distinct.with_columns(
        pl.concat_str(pl.lit(" "), keys[0], pl.lit(" "), keys[1], pl.lit(" ")).alias("key")
    )


def _names_row(name: str) -> pl.Expr:
    """A notes name names the row: its words are in the row's text, or it is a country's name
    and the row's code dials that country (the text decides only for rows without a code's
    country), or a country's name with qualifiers ("Mexico Mobile") and the row's code dials
    that country and its text has the qualifiers."""
    key = name_key(name)
    in_text = pl.col("key").str.contains(f" {re.escape(key)} ") if key else pl.lit(False)
    regions = regions_named(name)
    if regions:
        by_code = pl.col("region").is_in(sorted(regions))
        return (by_code | (pl.col("region").is_null() & in_text)).fill_null(False)
    words = name.split()
    country = " ".join(w for w in words if fold(w) not in QUALIFIERS)
    qualifiers = [w for w in words if fold(w) in QUALIFIERS]
    regions = regions_named(country) if country and qualifiers else frozenset()
    if not regions:
        return in_text.fill_null(False)
    by_code = pl.col("region").is_in(sorted(regions))
    for word in qualifiers:
        by_code = by_code & pl.col("key").str.contains(f" {re.escape(name_key(word))} ")
    return (in_text | by_code).fill_null(False)


def _row_regions(codes: pl.DataFrame | None, height: int) -> pl.Series:
    """Per row, the region its first readable code dials (null: none)."""
    if codes is None or codes.is_empty():
        return nulls(height, pl.String).rename("region")
    first = (
        codes.filter(pl.col("error").is_null())
        .group_by(ROW, maintain_order=True)
        .agg(pl.col("code").first())
    )
    rows = pl.DataFrame({ROW: pl.int_range(height, dtype=pl.UInt32, eager=True)})
    code = rows.join(first, on=ROW, how="left", maintain_order="left").get_column("code")
    return regions_of_codes(code.cast(pl.String))


def _notes_doubts(
    where: str,
    notes: NotesReading,
    destinations: pl.DataFrame,
    names: pl.DataFrame,
    answered: tuple[IncrementRule, ...] = (),
) -> list[Doubt]:
    """A doubt per sentence about increments that became no rule (unless a vendor rule or an
    answer names a destination of it), and per notes name that is no country's and names no
    row (misspelled, or a destination the deck lacks).  The names are looked for in the rows
    the rules were for (``destinations``), then in all rows."""
    doubts = [
        Doubt(
            where,
            f"the sentence {sentence!r}",
            "it speaks of billing increments but names no increments ingestd could read: "
            "which destinations does it set, and to what?",
            answer_for(sentence),
            topic="increments",
        )
        for sentence in notes.unread
        if not any(re.search(rule.pattern, sentence) for rule in answered)
    ]
    missing = {n for rule in notes.rules for n in rule.names if not regions_named(n)}
    for rows in (destinations, None):
        if not missing:
            return doubts
        rows = _destinations(names) if rows is None else rows
        looked = sorted(missing)
        found = rows.select(_names_row(n).any().alias(str(i)) for i, n in enumerate(looked))
        missing = {n for n, hit in zip(looked, found.row(0), strict=True) if not hit}
    for rule in notes.rules:
        for name in rule.names:
            if name in missing:
                doubts.append(
                    Doubt(
                        where,
                        f"the sentence {rule.sentence!r}",
                        f"its name {name!r} matched no destination of the sheet and no "
                        "country: which destinations does it mean?",
                        f'--increments "<destination>={rule.first}/{rule.next}"',
                        topic="increments",
                    )
                )
                missing.discard(name)
    return doubts


def _first_case(cases: list[tuple[pl.Expr, pl.Expr]]) -> pl.Expr:
    """The value of the first case whose condition holds."""
    (condition, value), rest = cases[0], cases[1:]
    chain = pl.when(condition).then(value)
    for condition, value in rest:
        chain = chain.when(condition).then(value)
    return chain
