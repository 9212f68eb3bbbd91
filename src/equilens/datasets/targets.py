"""Regression targets: one number per image, from a data folder's ``metadata.csv`` or stored
beside the image in its file (DeepLense ``axion`` files: the axion mass in eV); a non-finite one
is refused naming its file, so a regression never trains on a NaN."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from equilens.datasets.formats import FileInfo
from equilens.errors import InputError
from equilens.simulation.writer import METADATA_NAME
from equilens.tasks.regress import FILE_VALUE_TARGET


def target_label(target: str, log10: bool) -> str:
    """The target's name as written in reports and CSV headers: ``log10_<target>`` or ``<target>``."""
    return f"log10_{target}" if log10 else target


def read_targets(root: Path, files: Sequence[Path], target: str, log10: bool = False,
                 infos: Sequence[FileInfo] | None = None) -> np.ndarray:
    """(N,) float64 targets of ``files`` (inside ``root``), log10'd if asked: FILE_VALUE_TARGET
    (the number in each file, from ``infos``, what ``check_images`` found), or a column of
    ``root/metadata.csv`` (its ``file`` column: paths relative to ``root``). InputError naming
    the file for a missing row or number, a non-finite one, or one <= 0 with ``log10``."""
    if target == FILE_VALUE_TARGET:
        if infos is None or len(infos) != len(files):
            raise ValueError("the file-value target needs what check_images found in every file")
        values = [(f, info.value, "holds no number beside its image (DeepLense axion files hold [image, mass]; "
                   "pick the classes that do, e.g. --classes axion)") for f, info in zip(files, infos)]
    else:
        rows = _metadata_column(root, target)
        values = []
        for f in files:
            key = Path(f).relative_to(root).as_posix()
            values.append((f, rows.get(key), f"has no row in {root / METADATA_NAME}"))
    targets = np.empty(len(values), dtype=np.float64)
    for i, (f, value, missing) in enumerate(values):
        if value is None:
            raise InputError(f"{f}: {missing} (target {target!r})")
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"{f}: target {target!r} is {value!r}, not a number") from None
        if not math.isfinite(number) or (log10 and number <= 0):
            why = "is not finite" if not math.isfinite(number) else "must be positive for --log-target"
            raise InputError(f"{f}: target {target!r} = {number!r} {why} (pick the classes that have it, e.g. --classes axion)")
        targets[i] = math.log10(number) if log10 else number
    return targets


def _metadata_column(root: Path, column: str) -> dict[str, str]:
    """``file`` -> the ``column`` entry of ``root/metadata.csv``."""
    path = root / METADATA_NAME
    if not path.is_file():
        raise InputError(f"{path}: no such file, so target {column!r} cannot be read (use --target {FILE_VALUE_TARGET} "
                         "for the number stored in each data file)")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if "file" not in header or column not in header:
            missing = column if "file" in header else "file"
            raise InputError(f"{path}: no column {missing!r} (columns: {', '.join(header)})")
        return {row["file"]: row[column] for row in reader}
