"""The rows of a found table that are rejected, each a ``RowError`` naming its leftmost
problem first (docs/reading.md#row-errors-and-refusal): a cell of the row was rejected, or one of
its codes."""

from __future__ import annotations

import polars as pl

from ingestd.errors import RowError
from ingestd.sheets.cells import raw_cells
from ingestd.sheets.table_rows import ROW, CellProblem, TableRows, cell_columns, nulls, rejection


def rejected_rows(
    sheet: TableRows, problems: list[CellProblem], codes: pl.DataFrame
) -> tuple[pl.Series, list[RowError]]:
    """Per row whether it is rejected, and a ``RowError`` for each that is (``codes``: the
    rows' codes as ``sheets.row_codes`` reads them)."""
    height = sheet.height
    problems = [p for p in problems if p.reasons.null_count() < height]
    reasons = _frame_of({f"p{i}": p.reasons for i, p in enumerate(problems)}, height)
    failed = reasons.select(
        pl.any_horizontal(pl.lit(False), *(pl.col(c).is_not_null() for c in reasons.columns[1:]))
    ).to_series()
    bad_codes = codes.filter(pl.col("error").is_not_null())
    positions = pl.int_range(height, dtype=pl.UInt32, eager=True)
    failed = failed | positions.is_in(bad_codes.get_column(ROW).implode())
    return failed, _row_errors(sheet, problems, reasons, failed, bad_codes)


def _row_errors(
    sheet: TableRows,
    problems: list[CellProblem],
    reasons: pl.DataFrame,
    failed: pl.Series,
    bad_codes: pl.DataFrame,
) -> list[RowError]:
    """One RowError per rejected row, its leftmost problem first
    (docs/reading.md#row-errors-and-refusal)."""
    if not failed.any():
        return []
    code_fields = bad_codes.get_column("field").unique().to_list() if bad_codes.height else []
    texts = _frame_of(
        {f"t{i}": p.texts for i, p in enumerate(problems)}
        | {f"code:{name}": sheet.text(name) for name in code_fields},
        sheet.height,
    ).filter(failed)
    first_bad = {
        row: (item, error, name)
        for row, item, error, name in bad_codes.group_by(ROW, maintain_order=True)
        .first()
        .select(ROW, "item", "error", "field")
        .iter_rows()
    }
    rows = pl.arange(0, sheet.height, eager=True).filter(failed)
    data = sheet.data.filter(failed)
    key = next((f"code:{n}" for n in ("code", "number", "mccmnc") if sheet.has(n)), None)
    errors = []
    for index, reason_row, text_row, source_row, cells in zip(
        rows,
        (row[1:] for row in reasons.filter(failed).iter_rows()),
        texts.iter_rows(named=True),
        data.get_column("source_row"),
        data.select(cell_columns(data)).iter_rows(),
        strict=True,
    ):
        found = [
            (p.position, p.header, text_row[f"t{i}"], reason, None)
            for i, (p, reason) in enumerate(zip(problems, reason_row, strict=True))
            if reason is not None
        ]
        if index in first_bad:
            item, reason, name = first_bad[index]
            found.append(
                (sheet.position(name), sheet.header(name), text_row[f"code:{name}"], reason, item)
            )
        found.sort(key=lambda f: f[0])
        messages = [
            rejection(header, text, reason, item) for _, header, text, reason, item in found
        ]
        errors.append(
            RowError(
                reason=found[0][3],
                message="; ".join(messages),
                row=source_row,
                sheet=sheet.found.sheet,
                cells=raw_cells(cells),
                code=text_row.get(key) if key else None,
            )
        )
    return errors


def _frame_of(columns: dict[str, pl.Series], height: int) -> pl.DataFrame:
    """A frame of ``height`` rows: a first column ``_`` of nulls, then ``columns``."""
    return pl.DataFrame({"_": nulls(height, pl.String), **columns})
