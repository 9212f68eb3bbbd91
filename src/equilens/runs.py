"""Run and report folders: new ones that never overwrite, and a run's record and splits (without Lightning)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from equilens.datasets.folder import LensFolder, scan_lens_folder
from equilens.datasets.formats import saved_reading
from equilens.datasets.split import read_split
from equilens.errors import InputError

CONFIG_NAME = "config.json"


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


def read_run_config(run_dir: str | Path) -> dict:
    """A training run's ``config.json``: options, classes, model config, split sizes."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise InputError(f"{run_dir}: not a training run (no {CONFIG_NAME})")
    return json.loads(path.read_text())


def read_split_folders(run_dir: str | Path) -> dict[str, LensFolder]:
    """The train/val/test sets of a run, from its split lists."""
    record = read_run_config(run_dir)
    reading = saved_reading(record)[0]
    data = scan_lens_folder(record["train"]["data"], classes=tuple(record["classes"]), reading=reading)
    test_root = Path(record["train"]["test_data"] or record["train"]["data"])
    test = scan_lens_folder(test_root, classes=tuple(record["classes"]), reading=reading) if record["train"]["test_data"] else data
    return {
        "train": data.with_files(read_split(Path(run_dir) / "splits" / "train.txt", data.root)),
        "val": data.with_files(read_split(Path(run_dir) / "splits" / "val.txt", data.root)),
        "test": test.with_files(read_split(Path(run_dir) / "splits" / "test.txt", test_root)),
    }
