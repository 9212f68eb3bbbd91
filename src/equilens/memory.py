"""Keep freed heap memory in the process (glibc ``mallopt``, costing the peak heap): CPU training stops page-faulting."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


@functools.cache
def keep_freed_memory() -> bool:
    """Keep large freed blocks in a never-trimmed heap (process-wide, once; equilens processes only); False unless glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    # No mmap'd blocks, and up to 2 GiB of free memory above the heap's top stays mapped.
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
