"""The training and quickstart configurations: plain, explicit; a run saves its TrainConfig as JSON.

Nothing here imports torch, escnn or lenstronomy: the command line builds its options from these."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from equilens.errors import InputError

# Channels per block of the plain CNN.
DEFAULT_CHANNELS = (16, 32, 64, 128)
# Channels per block of the steerable model, as regular fields of |G| channels each (D4: 3-8-16-32
# fields), and how many of its first blocks convolve at full resolution and max-pool (the later
# ones downsample by a stride-2 convolution). Chosen on a 10-minute CPU budget
# (benchmarks/auc_vs_budget.py; the measurements are in equilens.models.steerable and README).
DEFAULT_STEERABLE_CHANNELS = (24, 64, 128, 256)
DEFAULT_POOLED_BLOCKS = 1
ARCHITECTURE_NAMES = ("steerable", "cnn")
LR_SCHEDULES = ("step", "cosine")

# Marks a field whose default depends on the task (see TASK_DEFAULTS); resolved on construction.
UNSET: Any = type("TaskDefault", (), {"__repr__": lambda self: "<task default>"})()

#: Per-task defaults of the fields marked UNSET. The classifier follows the DeepLense recipe.
#: The autoencoder learns what normal lenses look like: shifts, rotations and brightness
#: changes would only widen that, and it trains fastest at a higher rate on smaller batches
#: (measured in benchmarks/anomaly.py; see equilens.models.autoencoder).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "classify": {"batch_size": 64, "lr": 1e-4, "crop_fraction": 0.9, "rotate": True, "brightness": [0.8, 1.2]},
    "anomaly": {"batch_size": 32, "lr": 3e-3, "crop_fraction": None, "rotate": False, "brightness": None},
}

# Group names are parsed here rather than in equilens.models.groups, so that the command line
# can check them without importing torch and escnn.
_GROUP = re.compile(r"^([CD])(\d+)$")


def parse_group(name: str) -> tuple[bool, int]:
    """``"D4"`` -> (has_flips=True, order N=4). Raises InputError for anything else."""
    match = _GROUP.match(name.strip().upper())
    if not match or int(match.group(2)) < 1:
        raise InputError(f"group {name!r} is not C<N> or D<N> with N >= 1 (e.g. C4, C8, D4, D8)")
    return match.group(1) == "D", int(match.group(2))


def default_widths(architecture: str, group: str) -> list[int]:
    """Fields (steerable: channels / |G|) or channels (cnn) per block."""
    if architecture == "cnn":
        return list(DEFAULT_CHANNELS)
    flips, order = parse_group(group)
    group_size = order * (2 if flips else 1)
    return [max(1, channels // group_size) for channels in DEFAULT_STEERABLE_CHANNELS]


@dataclass
class TrainConfig:
    """Everything a training run depends on; every field is a CLI flag of ``equilens train``.

    ``batch_size``, ``lr``, ``crop_fraction``, ``rotate`` and ``brightness`` default per task
    (:data:`TASK_DEFAULTS`); a value given explicitly always wins.

    Attributes:
        data: dataset folder (``no_sub/`` plus positive class folders).
        test_data: separate labelled test folder; if None a test split is held out of ``data``.
        task: ``classify`` (supervised), or ``anomaly`` (an autoencoder trained on ``no_sub``
            images only, scoring substructure by its reconstruction error).
        architecture: ``steerable`` (escnn, equivariant) or ``cnn`` (plain baseline).
        group: symmetry group of the steerable model, ``C<N>`` or ``D<N>``.
        input_size: side in pixels the images are resized to before the model.
        widths: fields (steerable) or channels (cnn) per block; None takes the architecture's
            default (:data:`DEFAULT_STEERABLE_CHANNELS` / |G| fields, :data:`DEFAULT_CHANNELS`).
        pooled_blocks: steerable model only: how many of the first blocks max-pool after a
            full-resolution convolution; the later ones downsample by a stride-2 convolution.
        epochs, batch_size, lr: Adam's epochs, images per batch and learning rate.
        lr_schedule, lr_step_epochs, lr_gamma: ``step`` (StepLR: lr x gamma every
            lr_step_epochs epochs) or ``cosine`` (to zero over --max-time, else over --epochs).
        val_fraction, test_fraction: per-class split fractions.
        seed: seeds the split, initialisation and augmentation.
        crop_fraction, rotate, brightness: augmentation (None/False switches a step off).
        max_time: wall-clock limit ``DD:HH:MM:SS``; the best checkpoint so far is kept.
        accelerator, devices, strategy, precision: passed to Lightning's Trainer.
        num_workers: data-loader processes.
    """

    data: str
    test_data: str | None = None
    task: str = "classify"
    architecture: str = "steerable"
    group: str = "D4"
    input_size: int = 75
    widths: list[int] | None = None
    pooled_blocks: int = DEFAULT_POOLED_BLOCKS
    epochs: int = 10
    batch_size: int = UNSET
    lr: float = UNSET
    lr_schedule: str = "step"
    lr_step_epochs: int = 5
    lr_gamma: float = 0.7
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    crop_fraction: float | None = UNSET
    rotate: bool = UNSET
    brightness: list[float] | None = UNSET
    max_time: str | None = None
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    num_workers: int = 0

    def __post_init__(self) -> None:
        # An unknown task keeps the classifier's defaults; training rejects it by name.
        for name, value in TASK_DEFAULTS.get(self.task, TASK_DEFAULTS["classify"]).items():
            if getattr(self, name) is UNSET:
                setattr(self, name, list(value) if isinstance(value, list) else value)

    def validate(self) -> "TrainConfig":
        if self.architecture not in ARCHITECTURE_NAMES:
            raise InputError(f"--model {self.architecture!r}: choose one of {list(ARCHITECTURE_NAMES)}")
        parse_group(self.group)
        checks = [
            (self.input_size >= 8, f"--input-size {self.input_size}: must be at least 8 pixels"),
            (self.pooled_blocks >= 0, f"--pooled-blocks {self.pooled_blocks}: must be at least 0"),
            (self.epochs >= 1, f"--epochs {self.epochs}: must be at least 1"),
            (self.batch_size >= 1, f"--batch-size {self.batch_size}: must be at least 1"),
            (self.lr > 0, f"--lr {self.lr}: must be positive"),
            (self.lr_schedule in LR_SCHEDULES, f"--lr-schedule {self.lr_schedule!r}: choose one of {list(LR_SCHEDULES)}"),
            (0 < self.val_fraction < 1, f"--val-fraction {self.val_fraction}: must be in (0, 1)"),
            (0 < self.test_fraction < 1, f"--test-fraction {self.test_fraction}: must be in (0, 1)"),
            (self.val_fraction + self.test_fraction < 1, "--val-fraction + --test-fraction must be below 1"),
            (self.crop_fraction is None or 0 < self.crop_fraction <= 1, f"--crop-fraction {self.crop_fraction}: must be in (0, 1]"),
            (self.brightness is None or (len(self.brightness) == 2 and 0 < self.brightness[0] <= self.brightness[1]),
             f"--brightness {self.brightness}: must be two factors 0 < low <= high"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        return self

    def model_config(self, num_classes: int) -> dict[str, Any]:
        """The :func:`equilens.models.build_model` config this run trains."""
        if self.task == "anomaly":
            # An autoencoder: no classes; its widths and latent size default to the model's own.
            config = {"architecture": f"{self.architecture}_autoencoder", "input_size": self.input_size,
                      "crop_fraction": self.crop_fraction or 1.0}
            if self.widths:
                config["widths"] = list(self.widths)
            if self.architecture == "steerable":
                config["group"] = self.group.upper()
            return config
        config: dict[str, Any] = {
            "architecture": self.architecture,
            "input_size": self.input_size,
            "crop_fraction": self.crop_fraction or 1.0,
            "widths": list(self.widths or default_widths(self.architecture, self.group)),
            "num_classes": num_classes,
        }
        if self.architecture == "steerable":
            config["group"] = self.group.upper()
            config["pooled_blocks"] = self.pooled_blocks
        return config

    def augment_config(self) -> dict[str, Any]:
        return {"crop_fraction": self.crop_fraction, "rotate": self.rotate,
                "brightness": tuple(self.brightness) if self.brightness else None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise InputError(f"unknown training options {sorted(unknown)}")
        return cls(**values)


@dataclass
class QuickstartConfig:
    """Budgets of ``equilens quickstart`` (:func:`equilens.quickstart.quickstart`).

    Attributes:
        out: parent folder; the quickstart makes a new ``quickstart-*`` folder inside.
        n_per_class: simulated training+validation images per class.
        n_test_per_class: simulated test images per class (a different seed: unseen lenses).
        preset: simulation preset.
        epochs, max_time, lr, batch_size: training budget (max_time ``DD:HH:MM:SS`` caps it);
            the learning rate decays to zero (cosine) over whichever limit ends training.
        workers: simulation processes.
        seed: seeds simulation and training.
    """

    out: str = "."
    n_per_class: int = 2000
    n_test_per_class: int = 500
    preset: str = "test-iv"
    epochs: int = 40
    max_time: str | None = "00:00:09:00"
    lr: float = 2e-3
    batch_size: int = 64
    workers: int = 1
    seed: int = 0
    device: str = "auto"
