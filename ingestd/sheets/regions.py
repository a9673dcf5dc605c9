"""Countries of names and of codes (SPEC §3.5): which ISO regions a destination name written
in a deck names ("Mexico", "México", "Méjico", "Deutschland", "USA"), and which region a
dialling code belongs to (``52`` → MX, ``1876`` → JM).

The names are libphonenumber's country names in every language it carries
(``phonenumbers.geodata.locale``) plus the short forms carriers write (``ALIASES``); the codes
are read with libphonenumber's metadata: a country calling code shared by several regions is
told apart by each region's leading digits (NANP area codes, Kazakhstan's ``77``…).
"""

from __future__ import annotations

import re
from functools import cache

import phonenumbers
import polars as pl
from phonenumbers.geodata.locale import LOCALE_DATA

from ingestd.sheets.headers import fold

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


def name_key(text: str) -> str:
    """``text`` as names are compared: folded, without marks, articles and connectors
    (``The Bahamas`` → ``bahamas``, ``Trinidad & Tobago`` → ``trinidad tobago``)."""
    key = fold(text).replace("'", "").replace("’", "")
    words = re.sub(r"[^\w]+|_", " ", key).split()
    return " ".join(w for w in words if w not in _LINKING_WORDS)


@cache
def _regions_by_name() -> dict[str, frozenset[str]]:
    named: dict[str, set[str]] = {}
    for region, names in LOCALE_DATA.items():
        for name in names.values():
            if name.startswith("*"):
                continue  # the same name as another language's
            for spelling in (name, re.sub(r"\[.*?\]|\(.*?\)", "", name)):
                key = name_key(spelling)
                if key:
                    named.setdefault(key, set()).add(region)
    for alias, regions in ALIASES.items():
        named.setdefault(name_key(alias), set()).update(regions)
    return {key: frozenset(regions) for key, regions in named.items()}


def regions_named(name: str) -> frozenset[str]:
    """The regions a destination name names as a whole (``Mexico`` → MX), none for a name that
    is not a country's (``Mexico Mobile``, ``Telcel``)."""
    return _regions_by_name().get(name_key(name), frozenset())


@cache
def _names_pattern() -> re.Pattern[str]:
    names = sorted((k for k in _regions_by_name() if len(k) > 3), key=len, reverse=True)
    return re.compile(r"(?:^| )(?:" + "|".join(map(re.escape, names)) + r")(?: |$)")


def names_a_country(text: str) -> bool:
    """Some words of ``text`` are a country's name (``Fiji Mobile``, ``calls to Brasil``,
    ``UK Mobile``: a short name only in capitals)."""
    key = name_key(text)
    if key in _regions_by_name() or _names_pattern().search(key):
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
    """``region_of_code`` of each code, worked out once per distinct first six digits."""
    heads = codes.str.slice(0, 6)
    distinct = heads.drop_nulls().unique()
    lookup = {head: region_of_code(head) for head in distinct.to_list()}
    return heads.replace_strict(lookup, default=None, return_dtype=pl.String).rename("region")
