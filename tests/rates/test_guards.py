"""The guards and warnings of a plan (docs/semantics.md#guards, docs/semantics.md#warnings); the
guards and warnings a deck trips are tested through ``plan_import`` in test_semantics.py."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.rates.guards import country_code


def test_country_code_uses_libphonenumber_metadata():
    codes = pl.DataFrame({"code": ["44207", "1212", "9715", "999", "8862", "0", "044", "+44"]})
    got = codes.select(country_code(pl.col("code")))["code"].to_list()
    assert got == [44, 1, 971, None, 886, None, None, None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("0123456789", max_size=8), min_size=1, max_size=30))
def test_country_code_is_the_country_code_prefix_of_the_digits(codes):
    """The lookup by the first three digits agrees with reading the metadata code by code."""
    import phonenumbers

    def expected(code: str) -> int | None:
        found = [cc for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if code.startswith(str(cc))]
        return found[0] if found else None

    got = pl.DataFrame({"code": codes}).select(country_code(pl.col("code")))["code"].to_list()
    assert got == [expected(c) for c in codes]
