"""The training and quickstart configurations: plain, explicit; a run saves its TrainConfig as JSON.

Nothing here imports torch, escnn or lenstronomy: the command line builds its options from these."""

from __future__ import annotations

import math
from argparse import BooleanOptionalAction
from dataclasses import MISSING, InitVar, asdict, dataclass, field, fields
from typing import Any

from equilens.datasets.formats.reading import Reading
from equilens.datasets.formats.scaling import SCALINGS
from equilens.errors import InputError
from equilens.registry import model_names, parse_group

# The default model (registry.py holds each architecture's widths): no full-resolution pooled
# first block, 75-pixel input, D4 (docs/recipes.md: "How the defaults were chosen").
DEFAULT_POOLED_BLOCKS = 0
DEFAULT_INPUT_SIZE = 75
DEFAULT_GROUP = "D4"

#: Class folders recognised, with no option, as the class without substructure (the negative,
#: label 0): DeepLense Test IV and Models I-III name it ``no_sub``, Common Test I ``no``. Any
#: other layout names its classes (``--classes NEGATIVE [POSITIVE ...]``).
NEGATIVE_CLASS_NAMES = ("no_sub", "no")

#: How ``--unlabelled`` images are learnt from (equilens.tasks.lightning.adapt); the default is the one
#: ``benchmarks/adaptation.py`` measured best on real Test IV images held out from the unlabelled pool.
ADAPTATIONS = ("self-training", "dann")
DEFAULT_ADAPTATION = "self-training"

LR_SCHEDULES = ("step", "cosine")
SELECTIONS = ("last", "best")

#: ``init_weights`` value that starts a small training set from the shipped simulation model
#: (:data:`AUTO_INIT_MODEL`) when that model is the run's own, else from random weights.
AUTO_INIT = "auto"
#: The shipped model ``auto`` starts from: the default classifier trained on the calibrated
#: ``test-iv`` simulation only (equilens.pretrained).
AUTO_INIT_MODEL = "sim-test-iv"
#: Training sets of this many images or more start from random weights under ``auto``: the
#: start from simulation was measured on smaller sets only (50 and 250 images per class).
AUTO_INIT_MAX_TRAIN_IMAGES = 2048

# Marks a field whose default depends on the recipe and task (each task's ``recipes``,
# equilens.tasks); resolved on construction.
UNSET: Any = type("RecipeDefault", (), {"__repr__": lambda self: "<recipe default>"})()
#: ``equilens``: chosen on real Test IV validation splits; ``deeplense``: the DeepLense write-up's
#: recipe, to reproduce published numbers. Each task holds its values (docs/recipes.md says why).
RECIPE_NAMES = ("equilens", "deeplense")
DEFAULT_RECIPE = "equilens"

#: Nominal coverages of a regression's central intervals that ``evaluate`` reports and draws,
#: and the equal-width bins of the true value over which it also reports errors and coverage.
REGRESSION_COVERAGES = (0.68, 0.95)
REGRESSION_CALIBRATION_LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))
REGRESSION_TRUTH_BINS = 5

#: Nominal false-alarm rates at which ``evaluate`` reports what "flag p <= rate" does (the
#: empirical rate on ``no_sub`` images and the true-positive rate): the 1%, 5% and 10% that
#: issue #30 asks for. Set by hand, not by a benchmark.
FALSE_ALARM_RATES = (0.01, 0.05, 0.10)

#: Images per forward pass when scoring, by device type (speed and memory, not results): on a CPU,
#: few enough that a batch's activations stay in the processor's caches, the fastest batch size of
#: ``benchmarks/throughput.py``; on a GPU, enough to keep it busy.
SCORING_BATCH_SIZES = {"cpu": 64, "cuda": 256, "mps": 256}

#: Report defaults of ``evaluate``, ``sensitivity`` and the Python API: bootstrap replicates of an
#: AUC's 95% interval, images on which a report measures invariance, and sensitivity twin pairs per
#: mass bin. Set by hand, not by a benchmark: they trade run time against the width of intervals.
BOOTSTRAP_REPLICATES = 1000
INVARIANCE_IMAGES = 256
TWIN_PAIRS_PER_MASS_BIN = 200

#: The TrainConfig arguments that make its ``reading``, as the command line gives them.
READING_OPTIONS = {
    "bands": ("names of the image bands, in channel order (e.g. g r i); every image must have that many; FITS files "
              "<object>_<band>.fits are then one file per band (default: the bands the files hold, unnamed)",
              {"nargs": "+", "metavar": "BAND"}),
    "colour": ("read JPEG/PNG as three bands R, G, B (default: one band, luminance)", {"action": "store_true"}),
    "hdu": ("FITS HDU holding the image (default: the primary HDU, else the first with image data)", {"metavar": "NAME|INDEX"}),
    "scaling": ("per-band scaling of pixel values: minmax (integers by full scale, floats in [0, 1] kept, else min-max), "
                "asinh (min-max, then an asinh stretch), percentile (clip to the band's percentiles, then min-max); "
                "predict applies the run's (default minmax)", {"choices": SCALINGS}),
}


def option(default: Any = None, help: str = "", *, flag: str | None = None, off: dict[str, str] | None = None,
           **cli: Any) -> Any:
    """A TrainConfig field whose ``help`` is its one documentation (``equilens train --help``,
    docs/cli.md); ``flag`` renames its option, ``off`` adds switches that unset it, ``cli`` are
    argparse's arguments."""
    factory = {"default_factory": lambda: list(default)} if isinstance(default, list) else {"default": default}
    return field(**factory, metadata={"help": help, "flag": flag, "off": off or {}, "cli": cli})


@dataclass
class TrainConfig:
    """Everything a training run depends on; each field is an ``equilens train`` option, and its
    ``help`` metadata says what it is. Fields whose default is ``UNSET`` take their task's recipe
    value (:attr:`equilens.tasks.Task.recipes`); a value given explicitly wins. How files are read
    is a :class:`~equilens.datasets.formats.Reading` (``reading``), given whole or as ``bands``,
    ``colour``, ``hdu`` and ``scaling``, as the command line does."""

    data: str = option(MISSING, "dataset folder: one folder per class, e.g. no_sub/ and one or more class folders with "
                       "substructure (the layouts equilens reads: docs/layouts.md)")
    test_data: str | None = option(None, "separate labelled test folder (default: hold out --test-fraction of --data)")
    classes: list[str] | None = option(
        None, "class folders, the negative class (no substructure, not a lens) first: one name picks the negative beside "
        "every other folder; several are every class in label order (default: the negative is "
        f"{' or '.join(NEGATIVE_CLASS_NAMES)}; e.g. --classes nonlenses lenses)", nargs="+", metavar="CLASS")
    reading: Reading = field(default_factory=Reading)
    bands: InitVar[list[str] | None] = None
    colour: InitVar[bool | None] = None
    hdu: InitVar[str | None] = None
    scaling: InitVar[str | None] = None
    task: str = option("classify", "", choices=())  # help and choices: the registered tasks (equilens.tasks)
    target: str | None = option(
        None, "--task regress: the number to learn: a column of the data folder's metadata.csv (equilens simulate: "
        "axion_mass_ev ...), or 'value': the number each data file stores beside its image (DeepLense axion .npy "
        "files: the axion mass in eV); --classes then names every class read (e.g. --classes axion)", metavar="NAME")
    log_target: bool = option(False, "--task regress: learn and predict log10 of the target", action="store_true")
    outliers: str | None = option(
        None, "--task anomaly: outlier exposure, a separate mode: train a classifier of the data's real no_sub images "
        "(and SIM's plain lenses) against SIM's simulated substructure (SIM: an equilens simulate folder apart from the "
        "data); no real substructure image is trained on. Without it: the unsupervised autoencoder", metavar="SIM")
    unlabelled: str | None = option(
        None, "classify: images of the domain the model will score (real cutouts, when --data is simulated), unlabelled: "
        "a flat folder or a .txt list of files (class folders are refused: no label is read). Training adapts to them "
        "(--adaptation), and the kept model's probabilities are corrected to their estimated class mix", metavar="DIR")
    adaptation: str = option(DEFAULT_ADAPTATION, "with --unlabelled: self-training (confident predictions on the unlabelled "
                             "images as their labels) or dann (a domain-adversarial loss on the invariant features)",
                             choices=ADAPTATIONS)
    architecture: str = option("steerable", "steerable: E(2)-equivariant escnn network; cnn: plain CNN baseline; resnet18: "
                               "ResNet-18, the DeepLense papers' plain baseline (classify and regress)", flag="--model",
                               choices=model_names())
    group: str = option(DEFAULT_GROUP, "symmetry group of the steerable model: C<N> or D<N> (C4, C8, D4, D8 ...)")
    input_size: int = option(DEFAULT_INPUT_SIZE, "image side in pixels fed to the model (images are resized)", type=int)
    pixel_scale: float | None = option(
        None, "arcsec per pixel of the training images, saved with the model: predict and evaluate resample cutouts with a "
        "celestial WCS (or their --pixel-scale) to it (default: an equilens simulate folder's; else unknown)",
        type=float, metavar="ARCSEC")
    widths: list[int] | None = option(None, "fields (steerable) or channels (cnn) per block; channels per stage of two "
                                      "blocks (resnet18); default: the architecture's (equilens.registry)", type=int, nargs="+")
    pooled_blocks: int = option(DEFAULT_POOLED_BLOCKS, "steerable model: first blocks that max-pool after a full-resolution "
                                "conv; later ones downsample by a stride-2 conv", type=int)
    recipe: str = option(DEFAULT_RECIPE, "defaults of the options marked 'default: ...' below: equilens (chosen on the real "
                         "Test IV images: Adam 2e-3, cosine decay) or deeplense (the DeepLense write-up's: Adam 1e-4, "
                         "StepLR(5, 0.7), 10 epochs); an option given explicitly wins", choices=RECIPE_NAMES)
    epochs: int = option(UNSET, "training epochs: the run's length, over which the schedule runs its course", type=int)
    batch_size: int = option(UNSET, "images per batch", type=int)
    min_batches_per_epoch: int = option(UNSET, "a small training set gets batches of ceil(images / N), so a pass over it "
                                        "holds N steps (not with --unlabelled); 0: never smaller than --batch-size", type=int,
                                        metavar="N")
    min_images_per_epoch: int = option(UNSET, "a training set of fewer than N images is passed over ceil(N / images) times "
                                       "per epoch, so that validation and checkpoints come less often; 0: one pass",
                                       type=int, metavar="N")
    label_smoothing: float = option(UNSET, "classification: cross-entropy targets smoothed by EPS", type=float, metavar="EPS")
    lr: float = option(UNSET, "Adam learning rate", type=float)
    weight_decay: float = option(UNSET, "AdamW's decoupled weight decay", type=float)
    lr_schedule: str = option(UNSET, "step: StepLR (--lr-step-epochs, --lr-gamma); cosine: decay to zero over --epochs "
                              "or --max-time, whichever ends the run first", choices=LR_SCHEDULES)
    select: str = option(UNSET, "weights kept as model.safetensors: the last epoch's, or the best validation AUC's "
                         "(the lowest validation loss for a regression)", choices=SELECTIONS)
    lr_step_epochs: int = option(5, "StepLR: epochs between decays", type=int)
    lr_gamma: float = option(0.7, "StepLR: learning-rate factor per step", type=float)
    val_fraction: float = option(0.1, "per-class validation fraction", type=float)
    test_fraction: float = option(0.1, "per-class test fraction (without --test-data)", type=float)
    seed: int = option(0, "seeds split, initialisation, augmentation", type=int)
    crop_fraction: float | None = option(UNSET, "random square crop side / image side", off={"--no-crop": "no random crop"},
                                         type=float)
    rotate: bool = option(UNSET, "random rotation by any angle", off={"--no-rotate": "no random rotation"}, action="store_true")
    brightness: list[float] | None = option(UNSET, "multiply each image by a factor uniform in [LOW, HIGH]",
                                            off={"--no-brightness": "no brightness jitter"}, type=float, nargs=2,
                                            metavar=("LOW", "HIGH"))
    max_time: str | None = option(UNSET, "wall-clock cap DD:HH:MM:SS, or 'none': a run it ends early says so and keeps "
                                  "its model")
    accelerator: str = option("auto", "Lightning accelerator: auto, cpu, gpu ...")
    devices: str = option("auto", "Lightning devices: auto, or a count (several GPUs use DDP)")
    strategy: str = option("auto", "Lightning strategy (auto, ddp ...)")
    precision: str = option("32-true", "Lightning precision: 32-true, 16-mixed, bf16-mixed")
    num_workers: int = option(0, "data-loader processes", type=int)
    threads: int | None = option(None, "CPU threads of the fit (default: the CPUs other programs leave free at the start, "
                                 "then followed as they start and stop; equilens.threads)", type=int, metavar="N")
    init_weights: str | None = option(
        UNSET, "fine-tune: start from a trained run, a .safetensors file or a shipped model (e.g. test-iv) instead of a "
        "random initialisation; the model settings are the weights' (give their --scaling/--bands too: a run that "
        f"reads images otherwise is warned); 'none': random weights; 'auto': a training set of fewer than "
        f"{AUTO_INIT_MAX_TRAIN_IMAGES} images starts from {AUTO_INIT_MODEL} (trained on simulation) when that is the "
        "run's model and classes", metavar="RUN|FILE|NAME")
    twin_batches: bool = option(True, "a paired simulated folder (equilens simulate --paired): batch both twins of a lens "
                                "together, augmented alike, so they differ only by substructure (other folders ignore it)",
                                action=BooleanOptionalAction)

    def __post_init__(self, bands: list[str] | None, colour: bool | None, hdu: str | None, scaling: str | None) -> None:
        given = {k: v for k, v in {"bands": bands, "colour": colour, "hdu": hdu, "scaling": scaling}.items() if v is not None}
        if isinstance(self.reading, dict):  # as saved in config.json
            self.reading = Reading.from_dict(self.reading)
        if given:
            self.reading = Reading.from_dict({**self.reading.to_dict(), **given})
        # An unknown recipe or task takes the default's; validate() rejects it by name.
        from equilens.tasks import TASKS, get_task

        task = get_task(self.task) if self.task in TASKS else get_task("classify")
        recipes = task.for_config(self).recipes
        for name, value in recipes.get(self.recipe, recipes[DEFAULT_RECIPE]).items():
            if getattr(self, name) is UNSET:
                setattr(self, name, list(value) if isinstance(value, list) else value)

    @property
    def training_task(self):
        """The :class:`equilens.tasks.Task` that trains this config."""
        from equilens.tasks import get_task

        return get_task(self.task).for_config(self)

    def validate(self) -> "TrainConfig":
        from equilens.tasks import TASKS

        if self.architecture not in model_names():
            raise InputError(f"--model {self.architecture!r}: choose one of {list(model_names())}")
        parse_group(self.group)
        if self.task not in TASKS:
            raise InputError(f"--task {self.task!r}: choose one of {list(TASKS)}")
        task = self.training_task
        # Options that only another task takes must be left unset.
        misplaced = [other for other in TASKS.values() if other.name != task.name
                     and any(getattr(self, o) for o in other.own_options if o not in task.own_options)]
        checks = [
            *[(False, " and ".join(f"--{o.replace('_', '-')}" for o in other.own_options)
               + f" {'are' if len(other.own_options) > 1 else 'is'} for --task {other.name}") for other in misplaced],
            *task.checks(self),
            (self.recipe in RECIPE_NAMES, f"--recipe {self.recipe!r}: choose one of {list(RECIPE_NAMES)}"),
            (not self.classes or len(set(self.classes)) == len(self.classes), f"--classes {self.classes}: name each class once"),
            (self.input_size >= 8, f"--input-size {self.input_size}: must be at least 8 pixels"),
            (self.pixel_scale is None or self.pixel_scale > 0, f"--pixel-scale {self.pixel_scale}: must be positive"),
            (self.pooled_blocks >= 0, f"--pooled-blocks {self.pooled_blocks}: must be at least 0"),
            (self.epochs >= 1, f"--epochs {self.epochs}: must be at least 1"),
            (self.batch_size >= 1, f"--batch-size {self.batch_size}: must be at least 1"),
            (self.threads is None or self.threads >= 1, f"--threads {self.threads}: must be at least 1"),
            (self.min_batches_per_epoch >= 0, f"--min-batches-per-epoch {self.min_batches_per_epoch}: must be at least 0"),
            (self.min_images_per_epoch >= 0, f"--min-images-per-epoch {self.min_images_per_epoch}: must be at least 0"),
            (0 <= self.label_smoothing < 1, f"--label-smoothing {self.label_smoothing}: must be in [0, 1)"),
            (self.lr > 0, f"--lr {self.lr}: must be positive"),
            (self.weight_decay >= 0, f"--weight-decay {self.weight_decay}: must be at least 0"),
            (self.lr_schedule in LR_SCHEDULES, f"--lr-schedule {self.lr_schedule!r}: choose one of {list(LR_SCHEDULES)}"),
            (self.select in SELECTIONS, f"--select {self.select!r}: choose one of {list(SELECTIONS)}"),
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

    def model_config(self, num_classes: int, channels: int = 1) -> dict[str, Any]:
        """The :func:`equilens.models.build_model` config this run trains on images of ``channels`` bands."""
        return self.training_task.model_config(self, num_classes, channels)

    def optimizer_options(self) -> dict[str, Any]:
        """The optimiser's arguments of :class:`equilens.tasks.lightning.base.LensModule`."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, "lr_schedule": self.lr_schedule,
                "lr_step_epochs": self.lr_step_epochs, "lr_gamma": self.lr_gamma}

    def augment_config(self) -> dict[str, Any]:
        return {"crop_fraction": self.crop_fraction, "rotate": self.rotate,
                "brightness": tuple(self.brightness) if self.brightness else None}

    def batch_size_for(self, n_train: int) -> int:
        """Images per batch for a training set of ``n_train`` images (see ``min_batches_per_epoch``); a run
        with ``unlabelled`` images keeps ``batch_size``: its batches draw from those too."""
        if self.min_batches_per_epoch == 0 or self.unlabelled:
            return self.batch_size
        return max(1, min(self.batch_size, math.ceil(n_train / self.min_batches_per_epoch)))

    def passes_per_epoch(self, n_train: int) -> int:
        """Passes over a training set of ``n_train`` images per epoch (see ``min_images_per_epoch``)."""
        return max(1, math.ceil(self.min_images_per_epoch / max(1, n_train)))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reading": self.reading.to_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)} | set(READING_OPTIONS)
        unknown = set(values) - known
        if unknown:
            raise InputError(f"unknown training options {sorted(unknown)}")
        if "recipe" not in values:
            # Saved before recipes existed: those runs kept their best validation epoch.
            values = {"select": "best", **values}
        # Saved before epochs of several passes, label smoothing, the auto start and twin batches: resumed as trained.
        return cls(**{"min_images_per_epoch": 0, "label_smoothing": 0.0, "init_weights": None, "twin_batches": False, **values})


@dataclass
class QuickstartConfig:
    """Budgets of ``equilens quickstart`` (:func:`equilens.quickstart.quickstart`).

    Attributes:
        out: parent folder; the quickstart makes a new ``quickstart-*`` folder inside.
        n_per_class: simulated training+validation images per class.
        n_test_per_class: simulated test images per class (a different seed: unseen lenses).
        preset: simulation preset.
        epochs, max_time, lr, batch_size: training options; None takes ``equilens train``'s
            default (its task's recipe), as a user's own run would.
        workers: simulation processes.
        seed: seeds simulation and training.
    """

    out: str = "."
    n_per_class: int = 2000
    n_test_per_class: int = 500
    preset: str = "test-iv"
    epochs: int | None = None
    max_time: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    workers: int = 1
    seed: int = 0
    device: str = "auto"
