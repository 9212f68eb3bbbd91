"""Keep freed heap memory in the process, so CPU training does not page-fault every step: glibc
returns large freed blocks to the kernel, so each step faults its activations in anew. ``mallopt``
keeps them (as jemalloc would), at the cost of the peak heap; only processes equilens owns call it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


@functools.cache
def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and never trim it (process-wide, once); False where libc is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    # No mmap'd blocks, and up to 2 GiB of free memory above the heap's top stays mapped.
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
