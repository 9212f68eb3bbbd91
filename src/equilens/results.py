"""Benchmark tables (``--docs-table FILE``) that ``docs/hooks/results_tables.py`` renders: no figure is retyped."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from equilens.atomic import write_text_atomic


def write_docs_table(path: str | Path, columns: Sequence[str], rows: Sequence[Sequence[Any]], note: str | None = None) -> Path:
    """Write a table (``columns``, ``rows`` of cells) with the command line that made it."""
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"every row needs {len(columns)} cells")
    command = "python " + " ".join(map(shlex.quote, sys.argv))
    table = {"command": command, "columns": list(columns), "rows": [[str(cell) for cell in row] for row in rows]}
    if note:
        table["note"] = note
    path = Path(path)
    write_text_atomic(path, json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    return path
