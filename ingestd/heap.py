"""Giving the C heap's free memory back to the system.

The workbook reader (calamine, under fastexcel) allocates from the C library's heap, and it reads
a sheet on two threads at once: the memory a thread's arena frees stays with the process until
it is trimmed.  After a million-row workbook that is a few hundred megabytes the rest of the
import would otherwise carry (peak memory, docs/performance.md#targets).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, other systems)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def trim() -> bool:
    """Return the free pages of every heap arena to the system; whether anything could be
    done."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
