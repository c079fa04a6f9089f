"""Give freed memory back to the operating system between the big steps of a read.

A large read frees hundreds of MB of temporaries (per-stretch pieces made by
worker threads, Arrow's pool after a bulk cast). Freed is not returned: glibc
keeps small and middle-sized blocks in its arenas, one per thread, and Arrow's
allocator keeps its pages, so the next step's arrays come on top and the peak
grows. ``release()`` asks both to hand back what is free; it changes no
allocator setting and costs milliseconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pyarrow as pa


def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release() -> None:
    """Return free heap pages (glibc ``malloc_trim``) and Arrow's unused pool memory."""
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)
