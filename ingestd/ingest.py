"""One file into its rate tables: read → plan (semantics) → guards → write a version per deck.

Used by the application layer (``service.decks``, ``ingestd import``) and by the mail pipeline
for every sheet of a message; it never prints and never exits, it returns an ``ImportOutcome``
that every report (CLI, mail, logs) renders.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from ingestd.config import Config, TableRule, Vendor, name_problem
from ingestd.db.columns import fit_row, text_lengths
from ingestd.errors import RefusedError, RowError
from ingestd.metrics import IMPORT_SECONDS, IMPORTS, ROWS_WRITTEN
from ingestd.rates.model import DeckMode, Kind, iso
from ingestd.rates.plan import EXAMPLES, Finding, Plan
from ingestd.rates.profiles import mark_used, profiles, save_profile
from ingestd.rates.records import Provenance, TableRef
from ingestd.rates.schema import RATE_TABLES, versions
from ingestd.rates.semantics import deck_mode_from_name, plan_import, plan_purge, plan_rollback
from ingestd.rates.store import Store
from ingestd.rates.writer import RowsAhead
from ingestd.sheetcache import SheetCache
from ingestd.sheets.answers import Answers
from ingestd.sheets.deck import ReadOptions, read_decks
from ingestd.sheets.doubt import GUARD
from ingestd.sheets.opentwps import DeckRead
from ingestd.sheets.table import FoundTable
from ingestd.states import ImportStatus


@dataclass
class ImportOutcome:
    status: ImportStatus
    vendor: str
    vendor_known: bool
    file_name: str | None
    file_hash: str
    received_at: datetime
    table: str | None = None
    kind: str | None = None
    mode: str | None = None
    version: int | None = None
    duplicate_of: int | None = None
    reason: str | None = None  # refused/held: a stable code
    message: str | None = None  # one line for people
    mode_source: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    deferred: list[dict] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    guards: list[dict] = field(default_factory=list)
    sheet: dict[str, Any] = field(default_factory=dict)
    # how the sender was proven (mail pipeline), and a person's release of a held message
    authentication: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return ImportStatus(self.status).exit_code

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "vendor": self.vendor,
            "vendor_known": self.vendor_known,
            "table": self.table,
            "kind": self.kind,
            "mode": self.mode,
            "mode_source": self.mode_source,
            "version": self.version,
            "duplicate_of": self.duplicate_of,
            "reason": self.reason,
            "message": self.message,
            "file_name": self.file_name,
            "file_hash": self.file_hash,
            "received_at": iso(self.received_at),
            "sheet": self.sheet,
            "rows": self.rows,
            "counts": self.counts,
            "deferred": self.deferred,
            "rejected": [r.as_dict() for r in self.rejected],
            "warnings": self.warnings,
            "guards": self.guards,
            "authentication": self.authentication,
        }


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sheet_cache(config: Config, vendor_id: str) -> SheetCache | None:
    """Where a vendor's workbook sheets are kept for reading them again (``[daemon]
    sheet_cache_size``)."""
    if config.daemon.sheet_cache_size <= 0:
        return None
    folder = config.daemon.state_dir / "cache" / "sheets"
    return SheetCache(folder, config.daemon.sheet_cache_size, namespace=vendor_id)


def pick_rule(
    vendor: Vendor, *, file_name: str | None, subject: str | None, sheet: str | None
) -> TableRule | None:
    """The vendor's first table rule whose patterns all match (docs/operations.md#configuration
    table rules)."""
    return next(
        (r for r in vendor.tables if r.matches(filename=file_name, subject=subject, sheet=sheet)),
        None,
    )


def table_name(table: str | None, rule: TableRule | None, suffix: str | None) -> str:
    """The rate table a deck goes to: the one the command names, its table rule's, its
    jurisdiction's suffix, else "default"; refused unless it follows the name rule (README
    "Command line": the same as vendor ids)."""
    name = table or (rule.name if rule is not None else None) or suffix or "default"
    problem = name_problem(name, "a table name")
    if problem is not None:
        raise RefusedError("bad_table_name", problem)
    return name


def decide_mode(
    explicit: str | None, rule: TableRule | None, vendor: Vendor, *names: str | None
) -> tuple[DeckMode, str]:
    """Full or partial, and why (docs/semantics.md#rate-semantics): the command, the table rule, the
    subject or file name, else the vendor default."""
    if explicit:
        return DeckMode(explicit), "command line"
    if rule is not None and rule.mode != "auto":
        return DeckMode(rule.mode), f"table rule {rule.name!r}"
    named = deck_mode_from_name(*names)
    if named is not None:
        return named, "subject or file name"
    return DeckMode(vendor.default_mode), "vendor default"


def counted(import_file: Callable[..., list[ImportOutcome]]) -> Callable[..., list[ImportOutcome]]:
    """Every file's import timed, and its decks counted by status and rows written by kind, for
    ``/metrics`` (docs/http.md#metrics)."""

    @functools.wraps(import_file)
    def timed(*args: Any, **kwargs: Any) -> list[ImportOutcome]:
        with IMPORT_SECONDS.time():
            outcomes = import_file(*args, **kwargs)
        for outcome in outcomes:
            IMPORTS.labels(str(outcome.status)).inc()
            written = (outcome.rows or {}).get("written") or 0
            if outcome.status == ImportStatus.IMPORTED and outcome.kind and written:
                ROWS_WRITTEN.labels(str(outcome.kind)).inc(written)
        return outcomes

    return timed


@counted
def import_file(
    store: Store,
    config: Config,
    vendor_id: str,
    data: bytes,
    *,
    file_name: str | None,
    received_at: datetime,
    table: str | None = None,
    kind: str | None = None,
    mode: str | None = None,
    dry_run: bool = False,
    accept_guards: bool = False,
    subject: str | None = None,
    message_id: str | None = None,
    sender: str | None = None,
    progress: Callable[[str], None] | None = None,
    authentication: dict[str, Any] | None = None,
    nesting: int = 0,
    answers: Answers | None = None,
) -> list[ImportOutcome]:
    """Import every deck of one file, each into its rate table; one outcome per deck (one
    refused outcome when the file cannot be read).  ``progress`` is told each stage;
    ``nesting`` is how deep in forwarded messages the file was found.  ``answers`` (a
    person's, docs/reading.md#decks-nobody-taught-us) win over the vendor's configuration and its
    stored profiles, and are kept as the profile of each deck's layout once the deck is imported."""
    answers = answers or Answers()
    vendor = config.vendor(vendor_id)
    progress = progress or (lambda stage: None)
    received_at = received_at.replace(microsecond=0, tzinfo=None)
    # as the version will keep them (a subject longer than its column is cut)
    provenance = Provenance(
        **fit_row(
            versions,
            {
                "received_at": received_at,
                "message_id": message_id,
                "sender": sender,
                "subject": subject,
                "file_name": file_name,
                "file_hash": file_hash(data),
            },
        )
    )

    def outcome() -> ImportOutcome:
        return ImportOutcome(
            status=ImportStatus.REFUSED,
            vendor=vendor.id,
            vendor_known=vendor.known,
            file_name=file_name,
            file_hash=provenance.file_hash,
            received_at=received_at,
            authentication=authentication,
        )

    try:
        # forwarded messages around the file count against the same nesting limit as archives
        limits = dataclasses.replace(
            config.limits, max_nesting=max(0, config.limits.max_nesting - nesting)
        )
        if len(data) > limits.max_file_size:
            raise RefusedError(
                "too_large", f"the file has {len(data)} bytes; the limit is {limits.max_file_size}"
            )
        file_rule = pick_rule(vendor, file_name=file_name, subject=subject, sheet=None)
        wanted_kind = kind or (file_rule.kind if file_rule and file_rule.kind != "auto" else None)
        progress("reading")
        options = ReadOptions.for_vendor(
            vendor,
            limits,
            kind=wanted_kind,
            kind_source="command line" if kind else "vendor",
            sheet_cache=sheet_cache(config, vendor.id),
        )
        # what the reading needs from the store is gathered before it starts: the vendor's
        # profiles and what its earlier decks proved (docs/architecture.md#one-pass-down)
        stored = profiles(store, vendor.id)
        proven = store.proven_readings(vendor.id)
        options = dataclasses.replace(
            answers.applied_to(options),
            # the answers given now win over what a profile kept for the same layout
            profiles={fingerprint: kept.merged(answers) for fingerprint, kept in stored.items()},
            answers=answers,
            proven_hyphen=proven.get("hyphen"),
            proven_date_order=proven.get("date_order"),
        )
        ahead: list[RowsAhead] = []

        def found_tables(tables: list[FoundTable]) -> None:
            # the table the first deck most likely goes to has its rows read meanwhile (a deck
            # whose sheet holds several rate tables goes elsewhere: then they are not used)
            if ahead or not tables:
                return
            first = tables[0]
            rule = pick_rule(vendor, file_name=file_name, subject=subject, sheet=first.sheet)
            ahead.append(RowsAhead(store, vendor.id, first.kind, table_name(table, rule, None)))

        decks = read_decks(data, filename=file_name, options=options, found_tables=found_tables)
    except RefusedError as e:
        refused = outcome()
        refused.reason, refused.message = e.reason, e.message
        return [refused]
    except (ValueError, ArithmeticError, LookupError, pl.exceptions.PolarsError) as e:
        # a file no rule foresaw must cost only itself: refused with what went wrong, never a
        # crash that loses the next message
        refused = outcome()
        refused.reason = "unreadable"
        refused.message = f"the file could not be read ({type(e).__name__}: {e})"[:500]
        return [refused]
    results = []
    for deck in decks:
        result = outcome()
        try:
            rule = pick_rule(vendor, file_name=file_name, subject=subject, sheet=deck.sheet)
            name = table_name(table, rule, deck.table_suffix)
            deck_mode, result.mode_source = decide_mode(mode, rule, vendor, subject, file_name)
            result.table, result.kind, result.mode = name, str(deck.kind), str(deck_mode)
            _import_deck(
                store,
                vendor,
                deck,
                result,
                mode=deck_mode,
                dry_run=dry_run,
                accept_guards=accept_guards,
                progress=progress,
                provenance=provenance,
                ahead=ahead[0] if ahead else None,
                profile=_profile_report(deck, stored, answers),
            )
        except RefusedError as e:
            result.status, result.reason, result.message = ImportStatus.REFUSED, e.reason, e.message
        if result.status == ImportStatus.IMPORTED and deck.fingerprint is not None:
            _learn(store, vendor.id, deck.fingerprint, deck, result, stored, answers)
        results.append(result)
    return results


def _profile_report(
    deck: DeckRead, stored: dict[str, Answers], answers: Answers
) -> dict[str, Any] | None:
    """What the report says of the vendor profile of the deck's layout: whether one was used
    and the answers that applied (the stored ones with those given now over them)."""
    used = deck.fingerprint in stored
    if deck.fingerprint is None or not (used or answers):
        return None
    applied = stored.get(deck.fingerprint, Answers()).merged(answers)
    return {"fingerprint": deck.fingerprint, "used": used, "answers": applied.as_options()}


def _learn(
    store: Store,
    vendor_id: str,
    fingerprint: str,
    deck: DeckRead,
    outcome: ImportOutcome,
    stored: dict[str, Answers],
    answers: Answers,
) -> None:
    """After an import: the answers given are kept as the profile of the deck's layout
    (``fingerprint``), and a stored profile that was used counts one more deck."""
    if fingerprint in stored:
        mark_used(store, vendor_id, fingerprint)
    if answers:
        save_profile(store, vendor_id, fingerprint, answers, sheet=deck.sheet, header=deck.header)
        outcome.sheet.setdefault("profile", {})["saved"] = True


def import_sheet(
    store: Store, config: Config, vendor_id: str, data: bytes, **kwargs
) -> ImportOutcome:
    """A file that holds one deck (most do): its one outcome."""
    (result,) = import_file(store, config, vendor_id, data, **kwargs)
    return result


def _import_deck(
    store: Store,
    vendor: Vendor,
    deck: DeckRead,
    outcome: ImportOutcome,
    *,
    mode: DeckMode,
    dry_run: bool,
    accept_guards: bool,
    progress: Callable[[str], None],
    provenance: Provenance,
    ahead: RowsAhead | None = None,
    profile: dict[str, Any] | None = None,
) -> None:
    outcome.sheet = deck.report()
    if profile is not None:
        outcome.sheet["profile"] = profile
    outcome.rejected = list(deck.errors)
    _refuse_if_too_many_rejected(outcome, deck, vendor)
    with store.writing(vendor.id, deck.kind, outcome.table) as writer:
        _refuse_on_currency(writer.table, deck)
        found = writer.duplicate_of(provenance.file_hash)
        if found is not None:
            dup, by_message = found
            if provenance.message_id and by_message == provenance.message_id:
                # this very message imported it in an attempt that died before the message was
                # finished (another message with the same Message-ID stops as a duplicate
                # before any import): imported, not a duplicate of itself
                outcome.status, outcome.version = ImportStatus.IMPORTED, dup
                outcome.message = f"imported as version {dup} (an earlier attempt)"
                return
            outcome.status = ImportStatus.DUPLICATE
            outcome.duplicate_of = dup
            outcome.version = writer.table.current_version
            outcome.message = f"this file was already imported as version {dup}"
            return
        progress("planning")
        rows, clipped = _clip_text_fields(deck.rows, deck.kind)
        existing = writer.current_rows(ahead)
        plan = plan_import(
            existing,
            rows,
            kind=deck.kind,
            mode=mode,
            received_at=outcome.received_at,
            policy=vendor.policy,
            # the warnings are worked out on another core while the version is written
            later_warnings=True,
        )
        del existing, rows
        plan.guards.append(doubtful_reading(deck))
        _fill_from_plan(outcome, plan, deck)
        if (
            (plan.held and not accept_guards)
            or dry_run
            or _too_many_rejected(outcome, deck, vendor)
        ):
            _fill_warnings(outcome, [*clipped, *plan.finish_warnings()])
        _refuse_if_too_many_rejected(outcome, deck, vendor)
        if plan.held and not accept_guards:
            tripped = [g for g in plan.guards if g.tripped]
            outcome.status = ImportStatus.HELD
            outcome.reason = tripped[0].name
            outcome.message = "; ".join(g.message for g in tripped)
            return
        if dry_run:
            outcome.status = ImportStatus.DRY_RUN
            outcome.version = writer.table.current_version
            outcome.message = f"dry run: would write version {writer.table.current_version + 1}"
            return
        # the stored summary is the outcome itself, so it names the version it creates
        outcome.status = ImportStatus.IMPORTED
        outcome.version = writer.table.current_version + 1
        outcome.message = f"imported as version {outcome.version}"
        progress("writing")
        # the warnings, if not yet known, are worked out on another core while the rows are
        # written
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warnings") as pool:
            warnings = pool.submit(plan.finish_warnings)

            def summary() -> dict:
                _fill_warnings(outcome, [*clipped, *warnings.result()])
                return outcome.as_dict()

            writer.write_version(
                plan.inserts,
                plan.closes,
                dataclasses.replace(provenance, mode=str(mode)),
                summary,
            )


def doubtful_reading(deck: DeckRead) -> Finding:
    """The guard of docs/reading.md#decks-nobody-taught-us: a deck the reader has doubts about is
    held, each doubt with the answer that settles it (``sheets.doubt``)."""
    doubts = deck.doubts
    message = (
        f"the reading of the deck is doubtful ({len(doubts)}): "
        + "; ".join(d.text() for d in doubts)
        if doubts
        else "every column, sheet and note of the deck was read"
    )
    return Finding(GUARD, message, count=len(doubts), tripped=bool(doubts))


def _fill_from_plan(outcome: ImportOutcome, plan: Plan, deck: DeckRead) -> None:
    outcome.counts = plan.counts
    outcome.rejected = list(deck.errors) + list(plan.rejected)
    outcome.deferred = [d.as_dict() for d in plan.deferred]
    outcome.guards = [{**g.as_dict(), "tripped": g.tripped} for g in plan.guards]
    outcome.rows = {
        "in_file": deck.total_rows,
        "accepted": plan.deck_rows - len(plan.rejected),
        "rejected": len(outcome.rejected),
        "deferred": len(plan.deferred),
        "written": plan.inserts.height,
        "closed": plan.closes.len(),
        "discontinued_missing": plan.missing_discontinued,
    }


def _clip_text_fields(rows: pl.DataFrame, kind: Kind) -> tuple[pl.DataFrame, list[Finding]]:
    """The deck's rows with every text longer than its column (``rates.schema``) cut to the
    column's length, before anything compares or stores them, and a ``text_clipped`` warning
    per field naming the rows and their lengths: the same rows on every database."""
    findings = []
    row = pl.col("source_row") if "source_row" in rows.columns else pl.lit(None, pl.Int64)
    lengths = {
        name: length
        for name, length in text_lengths(RATE_TABLES[kind]).items()
        if name in rows.columns and rows.schema[name] == pl.String
    }
    if not lengths:
        return rows, findings
    # one pass over the deck finds the fields holding a longer text (usually none)
    too_long = rows.select(
        [(pl.col(name).str.len_chars() > length).any() for name, length in lengths.items()]
    ).row(0, named=True)
    for name, length in lengths.items():
        if not too_long[name]:
            continue
        chars = pl.col(name).str.len_chars()
        long = rows.select("code", row.alias("source_row"), chars.alias("chars")).filter(
            pl.col("chars") > length
        )
        rows = rows.with_columns(pl.col(name).str.slice(0, length))
        shown = ", ".join(
            f"row {row} ({chars:,} characters)"
            for row, chars in long.head(EXAMPLES).select("source_row", "chars").iter_rows()
        )
        more = f" and {long.height - EXAMPLES} more" if long.height > EXAMPLES else ""
        findings.append(
            Finding(
                "text_clipped",
                f"{name}: {long.height} {'value' if long.height == 1 else 'values'} longer "
                f"than the column's {length:,} characters cut to that length: {shown}{more}",
                count=long.height,
                examples=tuple(long.head(EXAMPLES)["code"]),
            )
        )
    return rows, findings


def _fill_warnings(outcome: ImportOutcome, warnings: list) -> None:
    outcome.warnings = [w.as_dict() for w in warnings]


def _rejected_share(outcome: ImportOutcome, deck: DeckRead) -> float:
    return len(outcome.rejected) / max(deck.total_rows, 1)


def _too_many_rejected(outcome: ImportOutcome, deck: DeckRead, vendor: Vendor) -> bool:
    return _rejected_share(outcome, deck) > vendor.policy.max_rejected_share or (
        deck.rows.is_empty() and bool(outcome.rejected)
    )


def _refuse_if_too_many_rejected(outcome: ImportOutcome, deck: DeckRead, vendor: Vendor) -> None:
    if _too_many_rejected(outcome, deck, vendor):
        raise RefusedError(
            "too_many_rejected",
            f"{len(outcome.rejected)} of {deck.total_rows} rows were rejected "
            f"({_rejected_share(outcome, deck):.1%}; "
            f"the limit is {vendor.policy.max_rejected_share:.0%})",
        )
    if deck.rows.is_empty():
        raise RefusedError("empty", "the sheet holds no rate rows")


def _refuse_on_currency(table: TableRef, deck: DeckRead) -> None:
    if table.currency is None or "currency" not in deck.rows.columns:
        return
    other = sorted(set(deck.rows["currency"].drop_nulls().unique().to_list()) - {table.currency})
    if other:
        raise RefusedError(
            "currency_mismatch",
            f"the table {table.label} is in {table.currency} "
            f"but the deck is in {', '.join(other)}; "
            "send it to a table of that currency (vendor table rules)",
        )


def rollback(store: Store, table: TableRef, to: int) -> int:
    """A new version whose content equals version ``to`` (history is never rewritten)."""
    if to < 1 or to > table.current_version:
        raise RefusedError(
            "no_version",
            f"{table.label} has versions 1 to {table.current_version}; cannot roll back to {to}",
        )
    with store.writing(table.vendor, table.kind, table.name, create=False) as writer:
        inserts, closes = plan_rollback(writer.current_rows(), writer.rows_at(to), table.kind)
        summary = {
            "origin": "rollback",
            "rollback_to": to,
            "rows": {"written": inserts.height, "closed": closes.len()},
        }
        return writer.write_version(
            inserts, closes, Provenance(origin="rollback", mode="rollback", rollback_to=to), summary
        )


def purge_discontinued(
    store: Store, table: TableRef, *, now: datetime, retention_days: float
) -> int | None:
    """A new version without the codes discontinued more than ``retention_days`` ago; None when
    there is nothing to purge (no version is written)."""
    with store.writing(table.vendor, table.kind, table.name, create=False) as writer:
        closes = plan_purge(
            writer.current_rows(), now=now, retention=timedelta(days=retention_days)
        )
        if closes.is_empty():
            return None
        empty = writer.current_rows().clear().drop("id")
        summary = {
            "origin": "purge",
            "retention_days": retention_days,
            "rows": {"closed": closes.len()},
        }
        return writer.write_version(
            empty, closes, Provenance(origin="purge", mode="purge", received_at=now), summary
        )
