"""Keep freed heap memory in the process, so CPU training does not page-fault every step.

glibc's malloc serves blocks above a size threshold (at most 32 MB) with fresh ``mmap`` pages
and returns them to the kernel on ``free``; it also trims the heap's free top. A training step
allocates and frees the same large activations every time (a batch of 64 lifted to 24 channels
at 75 px is 35 MB), so every step faults in and zeroes those pages anew; equivariant models,
whose activations are the largest, lose most (``benchmarks/throughput.py`` measures it; the
figures are in the documentation, benchmarks). PyTorch's CPU tuning guide
recommends an allocator that keeps memory (jemalloc, tcmalloc); this gets the same effect from
glibc's own ``mallopt``, with nothing to install. The cost: the process keeps its peak heap.

Process-wide, so only processes equilens owns call it (the ``equilens`` command, the
simulation's worker pool); library functions leave the caller's process as it was, and a
notebook may call :func:`keep_freed_memory` itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


@functools.cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve large blocks from the heap and never trim it (process-wide,
    from now on; once). Returns whether it applied: False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    # No mmap'd blocks (glibc still falls back to mmap if the heap cannot grow), and free heap
    # memory up to 2 GiB above the top stays mapped.
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
