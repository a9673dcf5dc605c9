"""Countries of names and of codes (docs/reading.md#decks-nobody-taught-us): which ISO regions a
destination name written in a deck names ("Mexico", "México", "Méjico", "Deutschland", "USA"), and
which region a dialling code belongs to (``52`` → MX, ``1876`` → JM).

The names are libphonenumber's country names in every language it carries
(``phonenumbers.geodata.locale``) plus the short forms carriers write (``ALIASES``); the codes
are read with libphonenumber's metadata: a country calling code shared by several regions is
told apart by each region's leading digits (NANP area codes, Kazakhstan's ``77``…).
``COUNTRY_CODES``, ``nanp_areas`` and ``country_of`` are the same knowledge as code cells use it
(``sheets.codes``: whether a hyphen joins a country code to what follows or spans a range).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import phonenumbers
import polars as pl
from phonenumbers.geodata.locale import LOCALE_DATA

# E.164 country calling codes, from libphonenumber's metadata (docs/semantics.md#rate-semantics: the
# field's own data)
COUNTRY_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)

# Names carriers write that libphonenumber does not carry, in folded form (see ``name_key``)
ALIASES: dict[str, tuple[str, ...]] = {
    "usa": ("US",),
    "us": ("US",),
    "u s a": ("US",),
    "united states of america": ("US",),
    "america": ("US",),
    "eeuu": ("US",),
    "estados unidos de america": ("US",),
    "uk": ("GB",),
    "u k": ("GB",),
    "great britain": ("GB",),
    "britain": ("GB",),
    "england": ("GB",),
    "gran bretana": ("GB",),
    "grossbritannien": ("GB",),
    "russian federation": ("RU",),
    "korea republic of": ("KR",),
    "korea rep": ("KR",),
    "republic of korea": ("KR",),
    "korea south": ("KR",),
    "korea": ("KR",),
    "korea dpr": ("KP",),
    "korea democratic people s republic of": ("KP",),
    "ivory coast": ("CI",),
    "cote divoire": ("CI",),
    "czechia": ("CZ",),
    "czech rep": ("CZ",),
    "viet nam": ("VN",),
    "lao": ("LA",),
    "lao pdr": ("LA",),
    "iran islamic republic of": ("IR",),
    "syrian arab republic": ("SY",),
    "tanzania united republic of": ("TZ",),
    "bolivia plurinational state of": ("BO",),
    "venezuela bolivarian republic of": ("VE",),
    "moldova republic of": ("MD",),
    "north macedonia": ("MK",),
    "burma": ("MM",),
    "cabo verde": ("CV",),
    "uae": ("AE",),
    "emirates": ("AE",),
    "turkiye": ("TR",),
    "east timor": ("TL",),
    "eswatini": ("SZ",),
    "vatican city": ("VA",),
    "holy see": ("VA",),
    "palestinian territories": ("PS",),
    "palestinian territory": ("PS",),
    "kosovo": ("XK",),
    "macau": ("MO",),
    "brunei darussalam": ("BN",),
    "st lucia": ("LC",),
    "st kitts and nevis": ("KN",),
    "st vincent and the grenadines": ("VC",),
    "st vincent": ("VC",),
    "st pierre and miquelon": ("PM",),
    "st helena": ("SH",),
    "st martin": ("MF",),
    "st maarten": ("SX",),
    "sint maarten": ("SX",),
    "st barthelemy": ("BL",),
    "trinidad": ("TT",),
    "bosnia": ("BA",),
    "dr congo": ("CD",),
    "drc": ("CD",),
    "congo dr": ("CD",),
    "congo drc": ("CD",),
    "congo democratic republic": ("CD",),
    "congo kinshasa": ("CD",),
    "congo brazzaville": ("CG",),
    "republic of the congo": ("CG",),
    "holland": ("NL",),
    "the netherlands": ("NL",),
    "mejico": ("MX",),
    "hong kong sar": ("HK",),
    "macao sar": ("MO",),
    "taiwan province of china": ("TW",),
    "micronesia federated states of": ("FM",),
    "us virgin islands": ("VI",),
    "virgin islands us": ("VI",),
    "virgin islands british": ("VG",),
    "reunion island": ("RE",),
    "turks and caicos": ("TC",),
    "antigua": ("AG",),
    "guinea bissau": ("GW",),
    "falklands": ("FK",),
}


# articles and connectors inside country names ("Isle of Man", "Trinidad y Tobago")
_LINKING_WORDS = frozenset(
    "the of and la le el les los las die der das de del do da dos das des du et und y e".split()
)


def name_keys(texts: pl.Expr) -> pl.Expr:
    """Texts as names are compared, on whole columns: without case, accents, marks, articles
    and connectors (``The Bahamas`` → ``bahamas``, ``Trinidad & Tobago`` → ``trinidad tobago``,
    ``Méjico`` → ``mejico``)."""
    folded = (
        texts.str.normalize("NFKD").str.replace_all(r"\p{Mn}", "").str.to_lowercase()
    ).str.replace_all("ı", "i")
    bare = folded.str.replace_all(r"['’]", "").str.replace_all(r"[^\w]+|_", " ")
    linking = "|".join(sorted(_LINKING_WORDS))
    kept = bare.str.replace_all(rf"\b(?:{linking})\b", " ")
    return kept.str.replace_all(r"\s+", " ").str.strip_chars()


@lru_cache(maxsize=4096)
def name_key(text: str) -> str:
    """One name as ``name_keys`` compares it."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()
    folded = folded.replace("ı", "i").replace("'", "").replace("’", "")
    # a letter, a digit or a mark of a word (Devanagari, Thai vowel signs) is kept, as \w keeps it
    bare = "".join(
        c if c.isalnum() or unicodedata.category(c).startswith("M") else " " for c in folded
    )
    return " ".join(w for w in bare.split() if w not in _LINKING_WORDS)


@cache
def _regions_by_name() -> dict[str, frozenset[str]]:
    """Every country name libphonenumber carries, in every language, and ``ALIASES`` → its
    regions (a name with a part in brackets also without it: "Mianmar [Birmânia]")."""
    spellings = [(a, r) for a, regions in ALIASES.items() for r in regions]
    for region, names in LOCALE_DATA.items():
        for name in names.values():
            if not name.startswith("*"):  # "*xx": the same name as language xx's
                spellings += [(name, region), (re.sub(r"\[.*?\]|\(.*?\)", "", name), region)]
    named: dict[str, set[str]] = {}
    for spelling, region in spellings:
        key = name_key(spelling)
        if key:
            named.setdefault(key, set()).add(region)
    return {key: frozenset(regions) for key, regions in named.items()}


def regions_named(name: str) -> frozenset[str]:
    """The regions a destination name names as a whole (``Mexico`` → MX), none for a name that
    is not a country's (``Mexico Mobile``, ``Telcel``)."""
    return _regions_by_name().get(name_key(name), frozenset())


def names_a_country(text: str) -> bool:
    """Some words of ``text`` are a country's name (``Fiji Mobile``, ``calls to Brasil``,
    ``UK Mobile``: a short name only in capitals)."""
    named, words = _regions_by_name(), name_key(text).split()
    if any(
        len(" ".join(words[i:j])) > 3 and " ".join(words[i:j]) in named
        for i in range(len(words))
        for j in range(i + 1, min(i + 6, len(words)) + 1)
    ):
        return True
    return any(w.isupper() and name_key(w) in _regions_by_name() for w in text.split())


@cache
def _leading_digits() -> dict[int, tuple[tuple[str, re.Pattern[str]], ...]]:
    """Per shared country calling code, its non-main regions and their leading digits."""
    shared = {}
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        patterns = []
        for region in regions[1:]:
            meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
            if meta is not None and meta.leading_digits:
                patterns.append((region, re.compile(f"(?:{meta.leading_digits})")))
        if patterns:
            shared[code] = tuple(patterns)
    return shared


def region_of_code(code: str) -> str | None:
    """The region a code of digits dials (``52155`` → MX, ``1876`` → JM, ``1`` → US), None when
    it starts with no country calling code.  A NANP code too short to name its area is the
    main region's (US)."""
    for length in (1, 2, 3):
        head = code[:length]
        if not head.isdigit() or int(head) not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            continue
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[int(head)]
        national = code[length:]
        for region, leading in _leading_digits().get(int(head), ()):
            if leading.match(national):
                return region
        if int(head) == 1 and len(national) >= 3:
            return _nanp_area_region(national[:3])
        return regions[0] if regions[0] != "001" else None
    return None


@cache
def _nanp_area_region(area: str) -> str:
    """The region of a NANP area code without leading digits of its own (US or Canada)."""
    try:
        number = phonenumbers.parse(f"+1{area}2345678", None)
    except phonenumbers.NumberParseException:
        return "US"
    return phonenumbers.region_code_for_number(number) or "US"


def regions_of_codes(codes: pl.Series) -> pl.Series:
    """``region_of_code`` of each code, worked out once per distinct head: the country calling
    code alone where one region has it, the NANP area code, else six digits."""
    head3 = codes.str.slice(0, 3)
    lengths = {head: _head_length(head) for head in head3.drop_nulls().unique().to_list()}
    length = head3.replace_strict(lengths, default=0, return_dtype=pl.UInt32)
    heads = pl.select(codes.str.slice(0, length)).to_series()
    lookup = {head: region_of_code(head) for head in heads.drop_nulls().unique().to_list()}
    return heads.replace_strict(lookup, default=None, return_dtype=pl.String).rename("region")


def _head_length(head: str) -> int:
    """How many first digits of a code starting with ``head`` decide its region."""
    for length in (1, 2, 3):
        if (
            head[:length].isdigit()
            and int(head[:length]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        ):
            code = int(head[:length])
            if code == 1:
                return 4
            return length + 3 if code in _leading_digits() else length
    return 0


@cache
def nanp_areas() -> dict[str, str]:
    """Each NANP area code written as a code (``1`` + NPA) → its region, from libphonenumber's
    metadata: the regions other than US and CA by their leading digits (``1264`` AI, ``1876``
    JM), US and CA by the numbers their patterns accept."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]
    npas = [str(npa) for npa in range(200, 1000)]
    areas: dict[str, str] = {}
    for region in regions:
        leading = _leading_digits_of(region)
        if leading:
            pattern = re.compile(f"(?:{leading})")
            areas.update(("1" + npa, region) for npa in npas if pattern.match(npa))
    for region in regions:
        if _leading_digits_of(region):
            continue
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        patterns = [
            re.compile(f"(?:{desc.national_number_pattern})")
            for desc in (
                metadata.fixed_line, metadata.mobile, metadata.toll_free, metadata.premium_rate,
                metadata.personal_number, metadata.voip, metadata.uan, metadata.shared_cost,
            )
            if desc is not None and desc.national_number_pattern
        ]  # fmt: skip
        for npa in npas:
            if "1" + npa not in areas and any(
                pattern.fullmatch(npa + digit * 7) for pattern in patterns for digit in "23456789"
            ):
                areas["1" + npa] = region
    return areas


@cache
def _nanp_countries() -> list[str]:
    """The NANP area codes that are countries of their own (all but US and CA)."""
    own = {r for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1] if _leading_digits_of(r)}
    return sorted(code for code, region in nanp_areas().items() if region in own)


def _leading_digits_of(region: str) -> str | None:
    return phonenumbers.PhoneMetadata.metadata_for_region(region).leading_digits


def country_of(code: pl.Expr) -> pl.Expr:
    """The country calling code a code starts with (E.164 country codes are prefix-free), a
    NANP area code of a region other than US and CA standing for its country (``1264``);
    null when the code starts with none (``21``)."""
    calling = pl.coalesce(
        pl.when(code.str.slice(0, n).is_in(list(COUNTRY_CODES))).then(code.str.slice(0, n))
        for n in (1, 2, 3)
    )
    area = code.str.slice(0, 4)
    return pl.when((calling == "1") & area.is_in(_nanp_countries())).then(area).otherwise(calling)
