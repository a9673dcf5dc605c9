"""A CSV/TXT file → one sheet's string cells (docs/reading.md#files): its encoding
(``sheets.text_encoding``), its delimiter, its fields, its lines checked for what no
spreadsheet writes."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from operator import methodcaller

import polars as pl

from ingestd.errors import SheetError
from ingestd.sheets.sheet import finish_frame
from ingestd.sheets.text_encoding import BOMS, decode_text

# A CSV/TXT delimiter is one of these; on a tie the earlier wins (a comma is the likeliest to
# appear by accident: decimal commas, "Korea, Republic of").
DELIMITERS = (";", "\t", "|", ",")
SNIFF_LINES = 50
_SNIFF_CHARS = 64 * 1024


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most rows of one width (quotes kept)."""
    sample = text[:_SNIFF_CHARS]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        widths = Counter()
        try:
            for _, record in zip(range(SNIFF_LINES), reader, strict=False):
                if len(record) > 1:
                    widths[len(record)] += 1
        except csv.Error:
            continue
        if not widths:
            continue
        width, rows = widths.most_common(1)[0]
        if (rows, width) > best_score:
            best, best_score = delimiter, (rows, width)
    return best


class _NotUtf8(Exception):
    """The bytes taken for UTF-8 are not: they are decoded by the rules of decode_text."""


def read_csv(data: bytes, *, max_rows: int, max_columns: int) -> pl.DataFrame:
    """The cells of a CSV/TXT file, whatever its encoding, delimiter and line ends."""
    if b"\n" in data and not any(data.startswith(bom) for bom, _ in BOMS):
        # UTF-8 (most decks; ASCII is UTF-8) is read by polars as it is, which checks every
        # line, and the text is decoded only where Python needs it (a tenth of a second and
        # twice the file's size in memory saved on a million rows)
        try:
            return _read_csv_text(data, _Text(data), max_rows=max_rows, max_columns=max_columns)
        except (_NotUtf8, UnicodeDecodeError):
            pass
    decoded, encoding = decode_text(data)
    utf8 = data if encoding == "utf-8" else None
    if "\n" not in decoded and "\r" in decoded:  # classic Mac line ends
        decoded, utf8 = decoded.replace("\r", "\n"), None
    utf8 = utf8 or decoded.encode("utf-8")
    return _read_csv_text(utf8, _Text(decoded), max_rows=max_rows, max_columns=max_columns)


def _read_csv_text(utf8: bytes, text: _Text, *, max_rows: int, max_columns: int) -> pl.DataFrame:
    """A CSV file from its UTF-8 bytes (for polars) and its text (for Python)."""
    delimiter = sniff_delimiter(text.head(_SNIFF_CHARS))
    longest, most = _line_stats(utf8, delimiter)
    if longest is None:  # no byte is free to split on: the lines one by one
        lines = text.whole().split("\n")
        longest = max(map(len, lines), default=0)
        most = max(map(methodcaller("count", delimiter), lines), default=0)
        del lines
    check_text(text, longest)
    # Upper bound of the width: a record on one line has at most (delimiters + 1) fields; a
    # record spanning lines is caught by the sentinel column below.
    width = min(most + 1, max_columns + 1)
    frame = _polars_csv(utf8, delimiter, width, max_rows)
    if frame is None:  # quotes inside unquoted fields: polars refuses, the csv module copes
        frame = _python_csv(text.whole(), delimiter, max_rows)
    elif frame.get_column(f"c{width}").is_not_null().any() and width <= max_columns:
        reader = csv.reader(io.StringIO(text.whole()), delimiter=delimiter)
        try:
            width = min(max(map(len, reader), default=1), max_columns + 1)
        except csv.Error as exc:
            raise _csv_refusal(exc) from exc
        frame = _polars_csv(utf8, delimiter, width, max_rows)
        if frame is None:
            frame = _python_csv(text.whole(), delimiter, max_rows)
    return finish_frame(frame, max_rows=max_rows, max_columns=max_columns)


class _Text:
    """A CSV file's text, from decoded text or from UTF-8 bytes decoded when first asked
    (strictly: UnicodeDecodeError when they are not UTF-8)."""

    def __init__(self, source: str | bytes):
        self._source = source

    def whole(self) -> str:
        if isinstance(self._source, bytes):
            self._source = self._source.decode("utf-8")
        return self._source

    def head(self, chars: int) -> str:
        """At most the first ``chars`` characters (of bytes: a character cut at the end is
        left out)."""
        if isinstance(self._source, bytes):
            return codecs.getincrementaldecoder("utf-8")().decode(self._source[:chars])
        return self._source[:chars]

    def find(self, part: str) -> int:
        """Where ``part`` starts (of bytes: the byte offset)."""
        if isinstance(self._source, bytes):
            return self._source.find(part.encode("utf-8"))
        return self._source.find(part)

    def line_at(self, offset: int) -> int:
        """The number of the line ``offset`` (from ``find``) is on."""
        newline = b"\n" if isinstance(self._source, bytes) else "\n"
        return self._source.count(newline, 0, offset) + 1


# No sheet has a line this long (Excel holds at most 32,767 characters in a cell): such a line
# is a binary file or a hostile one, and would cost seconds in every later stage.
MAX_LINE_CHARS = 1 << 20


def _line_stats(data: bytes, delimiter: str) -> tuple[int | None, int]:
    """The longest line (in bytes) and the most delimiters on one line of UTF-8 ``data``,
    counted by polars over the lines (read as one column split on a byte the data does not
    hold): a tenth of the time of splitting a million lines in Python.  (None, 0) when every
    candidate byte occurs."""
    free = next((b for b in ("\x1f", "\x1e", "\x1d", "\x1c") if b.encode() not in data), None)
    if free is None or not data:
        return (None if data else 0), 0
    try:
        lines = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator=free,
            quote_char=None,
            schema={"line": pl.String},
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc):
            raise _NotUtf8 from exc
        raise
    if lines.is_empty():
        return 0, 0
    line = pl.col("line").fill_null("")
    longest, most = lines.select(
        line.str.len_bytes().max().alias("longest"),
        line.str.count_matches(delimiter, literal=True).max().alias("most"),
    ).row(0)
    return int(longest or 0), int(most or 0)


def check_text(text: _Text, longest: int) -> None:
    """Refuse text that no spreadsheet wrote: NUL characters, a line of a megabyte
    (``longest``: the longest line's length)."""
    nul = text.find("\0")
    if nul >= 0:
        raise SheetError(
            "nul_bytes",
            f"the text holds NUL bytes (first on line {text.line_at(nul)}): a "
            "binary file, or UTF-16 without a byte-order mark; send it as UTF-8 text",
        )
    if longest > MAX_LINE_CHARS:
        lines = text.whole().split("\n")
        longest = max(map(len, lines))
        if longest > MAX_LINE_CHARS:
            number = next(i for i, line in enumerate(lines, 1) if len(line) == longest)
            raise SheetError(
                "line_too_long",
                f"line {number} has {longest} characters, more than {MAX_LINE_CHARS} (limit)",
            )


def _polars_csv(data: bytes, delimiter: str, width: int, max_rows: int) -> pl.DataFrame | None:
    # one sentinel column more than the expected width tells that the estimate was too small
    schema = {f"c{i}": pl.String for i in range(width + 1)}
    try:
        return pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator=delimiter,
            quote_char='"',
            schema=schema,
            truncate_ragged_lines=True,
            missing_columns="insert",
            extra_columns="ignore",  # a first line wider than the limit: the sentinel tells
            raise_if_empty=False,
            n_rows=max_rows + 1,
        )
    except pl.exceptions.ComputeError:
        return None


def _python_csv(text: str, delimiter: str, max_rows: int) -> pl.DataFrame:
    records = []
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
            if number > max_rows:
                break
            records.append(record)
    except csv.Error as exc:
        raise _csv_refusal(exc) from exc
    width = max(map(len, records), default=1)
    columns = {f"c{i}": [r[i] if i < len(r) else None for r in records] for i in range(width)}
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


def _csv_refusal(exc: csv.Error) -> SheetError:
    """The csv module's error as the sender should read it: its one limit is a field's size
    (often a quote that opens a field and never closes it), above ``max_cell_size``'s."""
    if "field larger than field limit" in str(exc):
        return SheetError(
            "cell_too_large",
            f"a quoted field runs over more than {csv.field_size_limit()} characters (limit); "
            "is a quote left open?",
        )
    return SheetError("unreadable", f"the text cannot be split into fields: {exc}")
