"""New output folders that never overwrite what a user already has."""

from __future__ import annotations

import time
from pathlib import Path


def new_folder(parent: str | Path, stem: str | None = None) -> Path:
    """Create and return ``parent/<stem>`` (default stem: a timestamp), adding ``-2``, ``-3`` ...
    when that name is taken, so an earlier run is never written into."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    stem = stem or time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 10_000):
        candidate = parent / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"{parent}: could not find a free folder name for {stem!r}")
