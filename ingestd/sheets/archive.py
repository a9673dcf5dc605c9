"""ZIP archives of sheets (docs/reading.md#files): which members could be content, and each
member's bytes, counted against the archive's limits while it inflates."""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass

from ingestd.errors import SheetError

CHUNK = 1 << 20  # bytes inflated at a time
# Members that never hold a sheet: macOS resource forks and folder metadata.
_JUNK_MEMBER = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.I)


@dataclass
class Unpacking:
    """The limits of one archive and what has been taken from it so far (docs/reading.md#files).

    A workbook is a ZIP archive too, but its parts are not counted here: a large deck's sheet
    XML easily unpacks to more than the limit; ``max_rows``/``max_columns`` bound it instead.
    """

    max_members: int
    max_unpacked: int
    max_nesting: int
    members: int = 0
    unpacked: int = 0

    def add_members(self, count: int) -> None:
        self.members += count
        if self.members > self.max_members:
            raise SheetError(
                "too_many_members",
                f"the archive holds more than {self.max_members} files (limit)",
            )

    def add_bytes(self, count: int) -> None:
        self.unpacked += count
        if self.unpacked > self.max_unpacked:
            raise SheetError(
                "too_large",
                f"the archive unpacks to more than {self.max_unpacked} bytes (limit)",
            )


def archive_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files of an archive that could be content: no folders, no desktop junk."""
    return [
        info
        for info in archive.infolist()
        if not info.is_dir() and not _JUNK_MEMBER.search(info.filename)
    ]


def member_label(filename: str) -> str:
    """A member's name as people read it (a label, never a path)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in filename.replace("\\", "/"))
    return text.strip("/") or "?"


def unpack(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, unpacking: Unpacking
) -> bytes:
    """A member's bytes, counted against the limit while it inflates."""
    if info.flag_bits & 0x1:
        raise SheetError("unreadable", f"archive member {name!r} is encrypted")
    parts = []
    try:
        with archive.open(info) as member:
            while chunk := member.read(CHUNK):
                unpacking.add_bytes(len(chunk))
                parts.append(chunk)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error) as exc:
        raise SheetError(
            "unreadable", f"archive member {name!r} cannot be unpacked: {exc}"
        ) from exc
    return b"".join(parts)
