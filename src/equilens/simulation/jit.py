"""Whether lenstronomy's numba code is compiled: rendering is faster without numba's start-up."""

from __future__ import annotations

import os
import sys


def skip_numba_jit() -> None:
    """Run lenstronomy's numba functions as plain Python (``NUMBA_DISABLE_JIT``) for a process's
    renders, unless the variable is set or lenstronomy is already imported: numba reads it as each
    module is imported, and compiled functions of earlier modules cannot call plain ones of later
    modules (numba's "'function' object has no attribute 'get_call_template'")."""
    if "lenstronomy" not in sys.modules:
        os.environ.setdefault("NUMBA_DISABLE_JIT", "1")
