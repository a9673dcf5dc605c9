"""Whether bytes are a rate sheet file, judged by their bytes and never by the name or type
they were sent with (docs/mail.md#attachments, docs/reading.md#files): the format, text that only
looks like CSV (vCards, HTML, PGP blocks), OLE2 files that are no workbook, and how many sheet
files a ZIP holds, archives inside it included, within ``[limits]``."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from ingestd.config import Limits
from ingestd.errors import SheetError
from ingestd.mail.headers import printable
from ingestd.mail.skips import Skip
from ingestd.sheets.archive import archive_members
from ingestd.sheets.filetype import detect_format

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEAD = 4096  # bytes of an archive member read to judge it
# What opening a hostile ZIP can raise besides BadZipFile (a UTF-8-flagged name that is not
# UTF-8 raises UnicodeDecodeError, an unknown compression NotImplementedError, …).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)
# Text that detect_format calls "csv" but that is something else, judged on the first bytes.
_TEXT_KINDS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(r"\A\s*(?:" + pattern + ")", re.IGNORECASE), reason, what)
    for pattern, reason, what in (
        (r"begin:vcard", "not_a_sheet", "a vCard (contact card)"),
        (r"begin:vcalendar", "not_a_sheet", "a calendar entry"),
        (r"-----begin pgp (?:message|encrypted)", "encrypted", "a PGP-encrypted message"),
        (r"-----begin ", "not_a_sheet", "a PGP/PEM block (signature, key or certificate)"),
        (r"\{\\rtf", "not_a_sheet", "an RTF document"),
        (
            r"<\?xml[^>]*>\s*<\?mso-application progid=\"excel\.sheet\"",
            "not_a_sheet",
            "an Excel 2003 XML spreadsheet, which is not read (save it as .xlsx or CSV)",
        ),
        (
            r"(?:<!doctype html|<html|<head|<body|<table|<meta|<style)",
            "not_a_sheet",
            "an HTML page (web exports named .xls are HTML; save it as .xlsx or CSV)",
        ),
        (r"(?:<\?xml[^>]*>\s*)?<svg", "not_a_sheet", "an SVG image"),
        (r"<\?xml", "not_a_sheet", "an XML document"),
    )
)


def judge_file(data: bytes, limits: Limits, depth: int, room: int) -> tuple[str, int] | Skip:
    """The format of a sheet-like file and the sheet files it holds (counted up to one past
    ``room``), or why the bytes are not one."""
    try:
        fmt = detect_format(data)
    except SheetError as exc:
        if data.startswith(ZIP_MAGIC):
            return Skip("unreadable", exc.message)
        return Skip("not_a_sheet", exc.message)
    except _ZIP_ERRORS as exc:  # detect_format opens ZIPs and lets some of their errors out
        return Skip("unreadable", f"the file looks like a ZIP archive but: {exc}")
    if fmt == "xls":
        return _ole_verdict(data) or (fmt, 1)
    if fmt == "zip":
        if depth + 1 > limits.max_nesting:
            return Skip(
                "too_deep",
                f"an archive inside messages forwarded {depth} deep: more than "
                f"{limits.max_nesting} levels (limit)",
            )
        files = _zip_verdict(data, limits, _ZipCount(limits, depth + 1, room))
        return files if isinstance(files, Skip) else (fmt, files)
    if fmt == "csv":
        kind = _text_kind(data)
        if kind is not None:
            return kind
    return fmt, 1


def _text_kind(data: bytes) -> Skip | None:
    """Text that is not a table: a vCard, an HTML page, an armoured signature, …"""
    head = data[:1024]
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            text = head[len(bom) :].decode(codec, errors="replace")
            break
    else:
        text = head.decode("latin-1")
    for pattern, reason, what in _TEXT_KINDS:
        if pattern.match(text):
            return Skip(reason, f"the file is {what}, not a rate sheet")
    return None


def _ole_verdict(data: bytes) -> Skip | None:
    """An OLE2 file is an XLS only if it has a workbook stream; Word, PowerPoint, Outlook .msg
    and password-protected XLSX files share the container. Stream names are UTF-16LE in the
    directory; a workbook's name anywhere keeps the file (the reader decides)."""

    def has(stream: str) -> bool:
        return (stream + "\0").encode("utf-16-le") in data

    if has("Workbook") or has("Book"):
        return None
    if has("EncryptedPackage"):
        return Skip("encrypted", "a password-protected Office file; send it without a password")
    if has("WordDocument"):
        return Skip("not_a_sheet", "the file is a Word document, not a rate sheet")
    if has("PowerPoint Document"):
        return Skip("not_a_sheet", "the file is a PowerPoint document, not a rate sheet")
    if "__substg1.0_".encode("utf-16-le") in data:
        return Skip(
            "not_a_sheet",
            "the file is an Outlook message (.msg); forward the mail itself or attach the sheet",
        )
    return None


# "no limit": a count of sheet files nothing stops
UNCOUNTED = 1 << 62


@dataclass
class _ZipCount:
    """Counting the sheet files of one attachment's archives: how deep the archive lies, how
    many files may still be found before the count stops, and the bytes of archives inside
    it unpacked so far (within ``max_unpacked_size``, as the reader's)."""

    limits: Limits
    depth: int
    room: int
    unpacked: int = 0


def _zip_verdict(data: bytes, limits: Limits, count: _ZipCount) -> Skip | int:
    """The sheet files the archive holds (at least 1 when it holds something sheet-like: the
    reader unpacks it), else why it is no sheet.

    Cheap: the first bytes of at most ``max_zip_members`` members; only a member that is an
    archive or a workbook (a ZIP itself) is unpacked, to tell which and count what it holds.
    Counting stops one past ``count.room``.
    """
    files = 0
    sheet_like = False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive_members(archive)
            if len(members) > limits.max_zip_members:
                return Skip(
                    "too_many_members",
                    f"the archive holds {len(members)} files, more than "
                    f"{limits.max_zip_members} (limit)",
                )
            encrypted = 0
            for info in members:
                if info.flag_bits & 0x1:
                    encrypted += 1
                    continue
                found = _member_sheet_files(archive, info, count, files)
                if found is not None:
                    sheet_like = True
                    files += found
                    if files > count.room:
                        break
    except _ZIP_ERRORS as exc:
        return Skip("unreadable", f"the archive cannot be opened: {exc}")
    if sheet_like:
        return max(files, 1)
    if encrypted:
        return Skip("encrypted", "the archive is password-protected; send it without one")
    if not members:
        return Skip("not_a_sheet", "the archive is empty")
    names = ", ".join(printable(info.filename) for info in members[:5])
    more = f" and {len(members) - 5} more" if len(members) > 5 else ""
    return Skip("not_a_sheet", f"the archive holds no sheet ({names}{more})")


def _member_sheet_files(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, count: _ZipCount, found: int
) -> int | None:
    """The sheet files an archive member is, by its first bytes, as the reader will judge it
    (names lie inside archives too): None when it is no sheet; an archive inside the archive
    counts the files it holds (0 when none)."""
    try:
        with archive.open(info) as member:
            head = member.read(_HEAD)
            if head.startswith(ZIP_MAGIC):
                return _inner_zip_files(member, head, count, found)
    except _ZIP_ERRORS:
        return 1  # cannot tell here: the reader will say what is wrong with it
    if head.startswith(OLE2_MAGIC):
        return 1
    try:
        detect_format(head)
    except SheetError:
        return None
    return 1 if head.strip() != b"" and _text_kind(head) is None else None


def _inner_zip_files(member: IO[bytes], head: bytes, count: _ZipCount, found: int) -> int:
    """A ZIP inside an archive: one workbook, or an archive whose sheet files count. Unpacked
    within what is left of ``max_unpacked_size``; one that does not fit, or lies deeper than
    ``max_nesting``, counts as one file (the reader refuses it)."""
    limits = count.limits
    left = limits.max_unpacked_size - count.unpacked
    if count.depth + 1 > limits.max_nesting or left <= len(head):
        return 1
    data = head + member.read(left - len(head) + 1)
    count.unpacked += len(data)
    if count.unpacked > limits.max_unpacked_size:
        return 1
    try:
        if detect_format(data) != "zip":
            return 1
    except (SheetError, *_ZIP_ERRORS):
        return 1
    inner = _ZipCount(limits, count.depth + 1, count.room - found, count.unpacked)
    files = _zip_verdict(data, limits, inner)
    count.unpacked = inner.unpacked
    return files if isinstance(files, int) else 0
