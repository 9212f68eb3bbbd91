"""Run and report folders: new ones that never overwrite, and a run's record and splits (without Lightning)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from equilens import __version__
from equilens.atomic import write_text_atomic
from equilens.config import TrainConfig
from equilens.datasets.folder import LensFolder, scan_lens_folder
from equilens.datasets.formats import Reading, saved_reading
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


@dataclass
class RunRecord:
    """A training run's ``config.json``, read once: the resolved options, the classes in label
    order, the model config, how its files are read (and their bands) and its split sizes."""

    config: TrainConfig
    classes: list[str]
    model: dict[str, Any]
    reading: Reading
    channels: int
    split_sizes: dict[str, int]
    equilens_version: str = __version__

    @classmethod
    def read(cls, run_dir: str | Path) -> "RunRecord":
        path = Path(run_dir) / CONFIG_NAME
        if not path.is_file():
            raise InputError(f"{run_dir}: not a training run (no {CONFIG_NAME})")
        record = json.loads(path.read_text())
        reading, channels = saved_reading(record)
        return cls(TrainConfig.from_dict(record["train"]), record["classes"], record["model"], reading, channels,
                   record["split_sizes"], record.get("equilens_version", "unknown"))

    def write(self, run_dir: Path) -> None:
        record = {"equilens_version": self.equilens_version, "train": self.config.to_dict(), "classes": self.classes,
                  "model": self.model, "input": {**self.reading.to_dict(), "channels": self.channels},
                  "split_sizes": self.split_sizes}
        write_text_atomic(Path(run_dir) / CONFIG_NAME, json.dumps(record, indent=2) + "\n")

    def split_folders(self, run_dir: str | Path) -> dict[str, LensFolder]:
        """The run's train/val/test sets, from its split lists."""
        classes, data_root = tuple(self.classes), Path(self.config.data)
        data = scan_lens_folder(data_root, classes=classes, reading=self.reading)
        test_root = Path(self.config.test_data or data_root)
        test = scan_lens_folder(test_root, classes=classes, reading=self.reading) if self.config.test_data else data
        return {
            "train": data.with_files(read_split(Path(run_dir) / "splits" / "train.txt", data_root)),
            "val": data.with_files(read_split(Path(run_dir) / "splits" / "val.txt", data_root)),
            "test": test.with_files(read_split(Path(run_dir) / "splits" / "test.txt", test_root)),
        }
