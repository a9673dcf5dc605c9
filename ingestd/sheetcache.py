"""The sheet cache: a workbook sheet read again is parsed only where its rows changed
(docs/performance.md).

A vendor sends the same deck again and again with some prices changed, and parsing the sheet
XML is most of the cost of reading a large workbook.  So the rows whose XML is unchanged since
the last read of that sheet are taken from that read, and only the others are parsed.

A sheet's XML is cut after every ``</row>`` into *segments* (segment 0 also holds what comes
before the first row; what follows the last ``</row>`` is the sheet's *tail*).  A whole parse
leaves in the cache folder the sheet's cells (canonical, as the reader renders them) and a
64-bit hash of every segment, keyed by a secret seed of the folder, under a key made of the
vendor and everything else the cells depend on: the workbook's other parts (shared strings,
styles, workbook.xml with its date system), the sheet's part name, the reader's limits and the
versions of ingestd and the libraries; the tail must match too.  A key has ``SLOTS`` entries,
for the decks of one vendor system that share all of that.

The next read with that key compares segment hashes in order with each entry, and reads again
from the closest.  A run of changed segments (segments past the end of either read count as
changed) is parsed alone, in a copy of the workbook whose sheet holds only the changed
segments, and every spreadsheet row between the run's unchanged neighbours comes from that
parse: in valid sheet XML rows ascend, so those rows belong to the run in both reads.  Every
other row comes from the entry.  Where this could differ from parsing the whole sheet, the whole
sheet is parsed: a changed row or a neighbour without a row number, more than
``MAX_CHANGED_SHARE`` of the segments changed, cells left or right of the cached columns, or
the cached first column left with no cell in the kept rows.

The cache only ever saves time: a missing, unreadable or foreign entry means a whole parse.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import fastexcel
import polars as pl

from ingestd import __version__

if TYPE_CHECKING:  # they load when a workbook is read: a CSV import does not pay for them
    import numpy as np
    import pyarrow as pa

log = logging.getLogger("ingestd.sheets")

FORMAT = 1  # bump when an entry's layout or the reader's rendering of cells changes
SLOTS = 4  # entries per key
_SHARE_FROM = 10_000  # segments compared before the changed share can end a comparison
MAX_CHANGED_SHARE = 0.25  # more changed segments than this: the whole sheet is parsed
# An entry is written again when the rows read afresh exceed this share: below it, the next
# read compares with the older entry and parses a few more rows
REWRITE_SHARE = 0.05
MAX_SEGMENT = 16 * 2**20  # bytes of XML without a </row>: past this, the sheet is not kept
_BATCH = 8 * 2**20  # inflated bytes hashed at a time
_HASH = "#hash"
# parts no cell depends on: document properties (author, times saved), the formula calculation
# order, the colour theme
_NO_CELLS = re.compile(r"^(docProps/|xl/calcChain\.xml$|xl/theme/)", re.I)
_ROW = re.compile(rb"<row[\s>/]")
_ROW_NUMBER = re.compile(rb'<row\s[^>]*?\br="([0-9]{1,9})"')
_EMPTY_SHEET = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b"<sheetData/></worksheet>"
)


def _versions() -> str:
    return (
        f"{FORMAT} ingestd {__version__} fastexcel {fastexcel.__version__} polars {pl.__version__}"
    )


class SheetCache:
    """The folder of entries (``<key>.<slot>.arrow``), at most ``budget`` bytes in all: writing
    one removes the least recently used beyond that.  A key has ``SLOTS`` entries: a vendor's
    system may send several decks whose other parts are the same (a deck per product), and
    each is compared with the entry closest to it.  Keys are made in ``namespace`` (the
    vendor): decks of other vendors never meet."""

    def __init__(self, folder: Path, budget: int, namespace: str = ""):
        self.folder = folder
        self.budget = budget
        self.namespace = namespace

    @functools.cached_property
    def seed(self) -> int:
        """The segment hash's key, secret to this folder: a vendor cannot craft a row whose
        hash is that of the row it replaces."""
        path = self.folder / "seed"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                with path.open("xb") as out:
                    out.write(os.urandom(8))
            except FileExistsError:
                pass
            key = path.read_bytes()
        except OSError:
            key = b""
        if len(key) != 8:
            key = os.urandom(8)  # entries cannot be written or compared: any key will do
        return int.from_bytes(key, "little")

    def path(self, key: str, slot: int) -> Path:
        return self.folder / f"{key}.{slot}.arrow"

    def entries(self, key: str) -> list[Entry]:
        return [e for e in (self.get(key, slot) for slot in range(SLOTS)) if e is not None]

    def get(self, key: str, slot: int) -> Entry | None:
        import pyarrow as pa

        path = self.path(key, slot)
        try:
            source = pa.memory_map(str(path))
            reader = pa.ipc.open_file(source)
            meta = json.loads(reader.schema.metadata[b"ingestd"])
            if meta.get("versions") != _versions():
                return None
            return Entry(reader, meta, slot, path.stat().st_mtime, path)
        except (FileNotFoundError, NotADirectoryError):
            return None  # never written (or no folder at all: put says why)
        except (OSError, pa.ArrowException, KeyError, TypeError, ValueError) as exc:
            log.warning("sheet cache entry %s is unreadable, the sheet is parsed: %s", path, exc)
            return None

    def put(
        self, scan: SheetScan, slot: int, frame: pl.DataFrame, first_column: int | None
    ) -> None:
        """Keep ``frame``, the cells of the sheet ``scan`` hashed, as the key's entry ``slot``
        (``first_column``: the frame's, see ``assemble``).  Written atomically: readers see
        the old entry or the new one; a failure to write is logged, never raised."""
        import pyarrow as pa

        if not scan.hashed or scan.count == 0:
            return  # nothing to compare a later read with
        path = self.path(scan.key, slot)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            hashes = scan.hashes()
            height = max(frame.height, len(hashes))
            column = pl.DataFrame({_HASH: pl.Series(hashes, dtype=pl.UInt64)})
            table = pl.concat([_pad(frame, height), _pad(column, height)], how="horizontal")
            meta = {
                "segments": scan.count,
                "tail": _digest(scan.tail),
                "first_column": first_column,
                "versions": _versions(),
                "height": frame.height,
            }
            table = table.to_arrow().replace_schema_metadata({"ingestd": json.dumps(meta)})
            self.folder.mkdir(parents=True, exist_ok=True)
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
                out.write_table(table)
            os.replace(tmp, path)
            self._evict(keep=path)
        except Exception as exc:  # an entry is never worth failing the import for
            log.warning("sheet cache entry %s not written: %s", path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _evict(self, keep: Path) -> None:
        stale = time.time() - 3600
        for path in self.folder.glob(".*.tmp"):  # left by an import that was killed
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < stale:
                    path.unlink()
        entries = []
        for path in self.folder.glob("*.arrow"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # removed by another import meanwhile
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.budget:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size


def _pad(frame: pl.DataFrame, height: int) -> pl.DataFrame:
    if frame.height >= height:
        return frame
    return pl.concat([frame, frame.clear(height - frame.height)])


@dataclass
class Entry:
    reader: pa.ipc.RecordBatchFileReader
    meta: dict
    slot: int
    used: float  # when it was last used (mtime)
    path: Path

    def touch(self) -> None:
        """Used now (entries least recently used go first)."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    @functools.cached_property
    def _table(self) -> pa.Table:
        return self.reader.read_all()

    def hashes(self) -> np.ndarray:
        return self._table.column(_HASH).slice(0, self.meta["segments"]).to_numpy()

    def frame(self) -> pl.DataFrame:
        table = self._table.drop_columns([_HASH]).slice(0, self.meta["height"])
        return pl.from_arrow(table)


class WorkbookScan:
    """What a workbook check learns for re-reading: fed every part the check inflates, the
    other parts first (they make the key), then the sheet parts."""

    def __init__(self, cache: SheetCache, *, max_rows: int, max_columns: int):
        self.cache = cache
        self._context = hashlib.blake2b(
            f"{_versions()} {max_rows} {max_columns}\0{cache.namespace}".encode()
        )
        self.sheets: dict[str, SheetScan] = {}

    def other_part(self, name: str) -> Callable[[bytes], None] | None:
        if _NO_CELLS.match(name):
            return None
        self._context.update(b"\0part\0" + name.encode())
        return self._context.update

    def sheet_part(self, name: str) -> SheetScan:
        context = self._context.copy()
        context.update(b"\0sheet\0" + name.encode())
        key = context.hexdigest()[:40]
        entries = self.cache.entries(key)
        scan = self.sheets[name] = SheetScan(
            name, key, [_Candidate(e) for e in entries], self.cache.seed
        )
        return scan


@dataclass
class _Candidate:
    """One entry compared with the sheet, chunk by chunk: its changed segments (kept, with the
    unchanged neighbours that bound them) until there are too many."""

    entry: Entry
    old: np.ndarray | None = None
    changed: dict[int, bytes] = field(default_factory=dict)
    bounds: dict[int, bytes] = field(default_factory=dict)
    compared: bool = True  # False: too many changed segments to read the sheet again
    _want: int = -1  # the segment after a change, not yet seen

    def __post_init__(self) -> None:
        import pyarrow as pa

        try:
            self.old = self.entry.hashes()
        except (pa.ArrowException, KeyError, ValueError) as exc:
            log.warning("sheet cache entry (slot %d) is unreadable: %s", self.entry.slot, exc)
            self.compared = False

    def close_to(self, count: int) -> bool:
        """Compared to the end with no more than ``MAX_CHANGED_SHARE`` of the segments changed
        (``count``: the sheet's)."""
        if not self.compared:
            return False
        return len(self.changed) <= MAX_CHANGED_SHARE * max(len(self.old), count)

    def compare(
        self, buf: bytes, offsets: np.ndarray, hashes: np.ndarray, first: int, last: bytes
    ) -> None:
        import numpy as np

        old = self.old[first : first + len(hashes)]
        differ = np.ones(len(hashes), bool)
        differ[: len(old)] = hashes[: len(old)] != old
        segment = lambda i: buf[offsets[i] : offsets[i + 1]]  # noqa: E731
        if self._want >= first and not differ[self._want - first]:
            self.bounds[self._want] = segment(self._want - first)
        for i in np.flatnonzero(differ).tolist():
            index = first + i
            self.changed[index] = segment(i)
            if index - 1 not in self.changed and index - 1 not in self.bounds and index > 0:
                self.bounds[index - 1] = segment(i - 1) if i > 0 else last
            self._want = index + 1
            if i + 1 < len(hashes) and not differ[i + 1]:
                self.bounds[index + 1] = segment(i + 1)
        seen = first + len(hashes)
        if len(self.changed) > MAX_CHANGED_SHARE * max(seen, _SHARE_FROM):
            # too many so far: not this entry (what its changes hold goes at once)
            self.old, self.compared, self.changed, self.bounds = None, False, {}, {}


@dataclass
class SheetScan:
    """One sheet part's segments, hashed chunk by chunk as the part is inflated, and compared
    with the key's entries."""

    part: str  # xl/worksheets/sheet1.xml
    key: str
    candidates: list[_Candidate]
    seed: int
    count: int = 0  # segments seen
    head: bytes = b""  # segment 0 (what precedes the first row, and the first row)
    tail: bytes = b""  # after the last </row>
    last: bytes = b""  # the last segment so far
    parts: list[np.ndarray] = field(default_factory=list)  # hashes, chunk by chunk
    hashed: bool = True  # False: a segment too long to hold (no entry for this sheet)
    _pending: list[bytes] = field(default_factory=list)
    _pending_size: int = 0

    def feed(self, chunk: bytes) -> None:
        """The next inflated bytes of the part; ``close`` after the last."""
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= _BATCH:
            self.close()

    def close(self) -> None:
        """Hash what was fed so far (in batches: a hash call has a fixed cost)."""
        chunk, self._pending, self._pending_size = b"".join(self._pending), [], 0
        if self.hashed and chunk:
            self._segments(chunk)

    def _segments(self, chunk: bytes) -> None:
        import numpy as np
        import pyarrow as pa

        buf = self.tail + chunk
        view = np.frombuffer(buf, np.uint8)
        # "</row>" ends where "w>" follows "</ro": look at the rare "w" bytes only
        w = np.flatnonzero(view[4:-1] == ord("w")) + 4
        hit = (view[w + 1] == ord(">")) & (view[w - 1] == ord("o")) & (view[w - 2] == ord("r"))
        hit &= (view[w - 3] == ord("/")) & (view[w - 4] == ord("<"))
        ends = w[hit] + 2
        if len(ends) == 0:
            self.tail = buf
            if len(buf) > MAX_SEGMENT:  # no real row is this long: white space, a bomb
                self.hashed, self.tail, self.parts, self.candidates = False, b"", [], []
            return
        offsets = np.empty(len(ends) + 1, np.int64)
        offsets[0], offsets[1:] = 0, ends
        segments = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
        )
        hashes = pl.Series(segments).hash(self.seed).to_numpy()
        if self.count == 0:
            self.head = buf[: ends[0]]
        for candidate in self.candidates:
            if candidate.compared:
                candidate.compare(buf, offsets, hashes, self.count, self.last)
        self.parts.append(hashes)
        self.count += len(ends)
        self.last = buf[offsets[-2] : offsets[-1]]
        self.tail = buf[ends[-1] :]

    def hashes(self) -> np.ndarray:
        import numpy as np

        return np.concatenate(self.parts) if self.parts else np.empty(0, np.uint64)

    def distance(self, candidate: _Candidate) -> int:
        """Segments that differ from a candidate compared to the end."""
        return len(candidate.changed) + abs(len(candidate.old) - self.count)

    def slot(self) -> int:
        """Where a whole parse of this sheet goes: the entry it was closest to, else a free
        slot, else the least recently used."""
        close = [c for c in self.candidates if c.close_to(self.count)]
        if close:
            return min(close, key=self.distance).entry.slot
        taken = {c.entry.slot for c in self.candidates}
        free = [slot for slot in range(SLOTS) if slot not in taken]
        if free:
            return free[0]
        return min(self.candidates, key=lambda c: c.entry.used).entry.slot


@dataclass
class Plan:
    """Which rows a re-read takes from the parse of the changed segments: half-open spans of
    0-based frame rows (``None`` as an end: to the last row)."""

    entry: Entry  # the entry the other rows come from
    xml: bytes  # the sheet holding only the changed segments
    spans: list[tuple[int, int | None]]
    changed: int  # segments


def plan(scan: SheetScan) -> Plan | None:
    """How to read the sheet again from the closest entry, or None (parse it whole)."""
    tail = _digest(scan.tail)
    close = [
        c for c in scan.candidates if c.close_to(scan.count) and c.entry.meta.get("tail") == tail
    ]
    if not close or not scan.hashed or scan.count == 0:
        return None
    candidate = min(close, key=scan.distance)
    meta = candidate.entry.meta
    changed = sorted(candidate.changed)
    old_count = meta["segments"]
    if scan.count < old_count:
        changed.append(scan.count)  # rows removed at the end: a run past the last segment
    if len(changed) > MAX_CHANGED_SHARE * max(old_count, scan.count):
        return None
    first_row = _ROW.search(scan.head)
    if first_row is None:
        return None
    body, spans = [], []
    runs = _runs(changed)
    for start, end in runs:  # inclusive segment indexes
        for index in range(start, min(end, scan.count - 1) + 1):
            segment = candidate.changed[index]
            if index == 0:
                segment = segment[first_row.start() :]
            if len(_ROW.findall(segment)) != len(_ROW_NUMBER.findall(segment)):
                return None  # a row without its number is placed by the rows before it
            body.append(segment)
        if start == 0:
            low = 0
        else:
            numbers = _ROW_NUMBER.findall(_bound(scan, candidate, start - 1))
            if not numbers:
                return None
            low = int(numbers[-1])  # the last row before the run, 1-based = first 0-based after
        if end + 1 >= scan.count:
            high = None
        else:
            numbers = _ROW_NUMBER.findall(_bound(scan, candidate, end + 1))
            if not numbers:
                return None
            high = int(numbers[0]) - 1
        spans.append((low, high))
    xml = scan.head[: first_row.start()] + b"".join(body) + scan.tail
    return Plan(candidate.entry, xml, spans, sum(1 for i in changed if i < scan.count))


def _bound(scan: SheetScan, candidate: _Candidate, index: int) -> bytes:
    """An unchanged segment next to a change (the last one is always known)."""
    return scan.last if index == scan.count - 1 else candidate.bounds.get(index, b"")


def _runs(indexes: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in indexes:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def workbook_with_sheet(data: bytes, part: str, xml: bytes) -> bytes:
    """A copy of the workbook whose sheet ``part`` is ``xml`` and whose other sheets are empty
    (stored, not deflated: it is read once, at once)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(out, "w") as copy:
        for info in archive.infolist():
            if info.filename == part:
                copy.writestr(info.filename, xml)
            elif _SHEET_PART.match(info.filename):
                copy.writestr(info.filename, _EMPTY_SHEET)
            else:
                copy.writestr(info.filename, archive.read(info))
    return out.getvalue()


_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.I)


def sheet_parts(data: bytes) -> dict[str, str]:
    """Sheet name → the part holding its XML (``xl/worksheets/sheet1.xml``), from
    ``xl/workbook.xml`` and its relationships; empty where they cannot be read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, OSError, zipfile.BadZipFile, ElementTree.ParseError, ValueError):
        return {}
    targets = {
        rel.get("Id"): rel.get("Target", "") for rel in rels if rel.tag.endswith("Relationship")
    }
    parts = {}
    for sheet in book.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
        target = targets.get(rid)
        if target and sheet.get("name") is not None:
            path = target[1:] if target.startswith("/") else f"xl/{target}"
            parts[sheet.get("name")] = posixpath.normpath(path)
    return parts


def is_sheet_xml(name: str) -> bool:
    return _SHEET_PART.match(name) is not None


def assemble(
    cached: pl.DataFrame,
    cached_first: int | None,
    fresh: pl.DataFrame,
    fresh_first: int | None,
    spans: list[tuple[int, int | None]],
) -> pl.DataFrame | None:
    """The cached cells with the rows of ``spans`` taken from ``fresh`` (the parse of the
    changed segments, rows in place); None where the result could differ from a whole parse."""
    import numpy as np

    if cached.width == 0 or cached_first is None:
        return None  # rows only from the parse of changes would need their own first column
    height = max(cached.height, fresh.height)
    take = np.zeros(height, bool)
    for low, high in spans:
        take[low : height if high is None else min(high, height)] = True
    if fresh.width:
        shift = fresh_first - cached_first
        if shift < 0 or shift + fresh.width > cached.width:
            return None  # cells left or right of the cached columns
        fresh = fresh.rename({f"c{i}": f"c{i + shift}" for i in range(fresh.width)})
    kept = ~take[: cached.height]
    if not cached.get_column("c0").filter(pl.Series(kept)).is_not_null().any():
        return None  # the first column may have lost its last cell
    fresh = _pad(fresh, height).rename(lambda c: f"new {c}")
    both = pl.concat([_pad(cached, height), fresh], how="horizontal").with_columns(
        pl.Series("#take", take)
    )
    return both.select(
        pl.when(pl.col("#take"))
        .then(pl.col(f"new {c}") if f"new {c}" in fresh.columns else pl.lit(None, pl.String))
        .otherwise(pl.col(c))
        .alias(c)
        for c in cached.columns
    )
