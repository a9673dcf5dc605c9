"""The type of a file, from its bytes, never its name (docs/reading.md#files)."""

from __future__ import annotations

import io
import zipfile

from ingestd.errors import SheetError
from ingestd.sheets.text_encoding import BOMS

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"%!PS": "a PostScript document",
}
# Text has almost no C0 control bytes besides tab, LF, FF, CR (and a DOS end-of-file 0x1a).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 26))
_SAMPLE_BYTES = 64 * 1024  # the head of a file whose control bytes are counted


def detect_format(data: bytes) -> str:
    """``xlsx`` (also xlsm), ``xlsb``, ``ods``, ``xls``, ``zip`` or ``csv``, from magic bytes."""
    if data.startswith(ZIP_MAGIC):
        return _zip_format(data)
    if data.startswith(OLE2_MAGIC):
        return "xls"
    if any(data.startswith(bom) for bom, _ in BOMS):
        return "csv"
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise SheetError("unknown_format", f"the file is {what}, not a rate sheet")
    sample = data[:_SAMPLE_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if controls > len(sample) // 100:
        raise SheetError(
            "unknown_format", "the file is binary data, neither text nor a known workbook"
        )
    return "csv"


def _zip_format(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "xl/workbook.bin" in names:
                return "xlsb"
            if "mimetype" in names and archive.read("mimetype").startswith(
                b"application/vnd.oasis.opendocument.spreadsheet"
            ):
                return "ods"
    except (zipfile.BadZipFile, OSError, KeyError, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: member names flagged UTF-8 that are not
        raise SheetError("unknown_format", f"the file looks like a ZIP archive but: {exc}") from exc
    return "zip"
