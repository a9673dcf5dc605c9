"""The encoding of a CSV/TXT file (docs/reading.md#files): a byte-order mark, UTF-8, or the
legacy code page its lines with non-ASCII bytes read best in."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# The legacy code pages decks come in (README "Reading decks"): Western, Central European,
# Cyrillic, Greek, Turkish, Hebrew, Arabic, Baltic, Chinese.
LEGACY_ENCODINGS = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
    "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_9", "iso8859_15", "koi8_r", "cp866",
    "gb18030", "big5",
)  # fmt: skip
_MULTIBYTE = ("gb18030", "big5")
# the lines with non-ASCII bytes the detector is shown (they alone tell code pages apart)
_DETECT_BYTES = 64 * 1024


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV/TXT file and the encoding it was read with.

    A BOM names the encoding; else UTF-8; else the legacy code page ``charset_normalizer``
    finds in the lines with non-ASCII bytes (cp1251, GB18030, cp1256...): of the readings with
    the fewest odd characters, the one most like a language's letters.  Where Western cp1252
    reads them as well as the best guess, cp1252 is taken (it is the usual one, and short texts
    do not tell it from cp1250), unless cp1254 reads them as Turkish.  A text read with odd
    characters and no language is cp1252 if it decodes so, else latin-1.
    """
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = _legacy_encoding(data)
    if encoding:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _legacy_encoding(data: bytes) -> str | None:
    sample = b"\n".join(re.findall(rb"[^\r\n]*[\x80-\xff][^\r\n]*", data[: 64 * _DETECT_BYTES]))
    if len(sample) > _DETECT_BYTES:  # whole lines: a character is not cut in two
        sample = sample[:_DETECT_BYTES].rpartition(b"\n")[0] or sample[:_DETECT_BYTES]
    matches = charset_normalizer.from_bytes(sample, cp_isolation=list(LEGACY_ENCODINGS))
    best = matches.best()
    if best is None or not (best.percent_coherence or best.encoding in _MULTIBYTE):
        return None  # no language's letters (a multi-byte code page is its own evidence)
    clean = [m for m in matches if m.percent_chaos == best.percent_chaos]
    likeliest = max(m.percent_coherence for m in clean)
    tied = [m for m in clean if m.percent_coherence == likeliest]
    if any(m.encoding == "cp1254" and m.language == "Turkish" for m in tied):
        return "cp1254"
    if any("cp1252" in m.could_be_from_charset for m in tied):
        return "cp1252"
    return tied[0].encoding
