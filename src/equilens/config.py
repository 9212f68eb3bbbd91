"""The training and quickstart configurations: plain, explicit; a run saves its TrainConfig as JSON.

Nothing here imports torch, escnn or lenstronomy: the command line builds its options from these."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from equilens.datasets.formats.scaling import DEFAULT_SCALING
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

#: Scoring and report defaults of ``evaluate``, ``predict``, ``sensitivity`` and the Python
#: API: images per forward pass (memory, not results), bootstrap replicates of an AUC's 95%
#: interval, images on which a report measures invariance, and sensitivity twin pairs per mass
#: bin. Set by hand, not by a benchmark: they trade run time against the width of intervals.
SCORING_BATCH_SIZE = 256
BOOTSTRAP_REPLICATES = 1000
INVARIANCE_IMAGES = 256
TWIN_PAIRS_PER_MASS_BIN = 200

@dataclass
class TrainConfig:
    """Everything a training run depends on; every field is a CLI flag of ``equilens train``.

    ``epochs``, ``max_time``, ``lr``, ``lr_schedule``, ``batch_size``, ``min_batches_per_epoch``,
    ``min_images_per_epoch``, ``label_smoothing``, ``init_weights``, ``crop_fraction``,
    ``rotate`` and ``brightness`` default per recipe and task (:data:`RECIPES`); a value given explicitly
    always wins.

    Attributes:
        data: dataset folder: one folder per class (``no_sub/`` or ``no/`` plus positive class
            folders, unless ``classes`` names them).
        classes: the class folders: one name, the negative class (without substructure, or not
            a lens) beside every other folder; or every class, negative first, in label order.
            None: the negative is one of :data:`NEGATIVE_CLASS_NAMES`.
        bands, colour, hdu, scaling: how files are read (:class:`equilens.datasets.formats.Reading`):
            band names; JPEG/PNG as R, G, B; the FITS HDU; per-band scaling (:data:`SCALINGS`).
        test_data: separate labelled test folder; if None a test split is held out of ``data``.
        task: ``classify`` (supervised), ``anomaly`` (an autoencoder trained on ``no_sub``
            images only, scoring substructure by its reconstruction error), or ``regress`` (a
            number per image, ``target``, as a Gaussian mean and sigma; the invariant classifier
            with two outputs, trained by the Gaussian negative log-likelihood).
        target: regression only: :data:`FILE_VALUE_TARGET` (the number in each data file) or a
            column of the data folder's ``metadata.csv``.
        log_target: regression only: learn and predict log10 of the target.
        outliers: anomaly only: outlier exposure, a separate mode (never the default): a
            simulated folder (``equilens simulate``) whose substructure images train the
            detector as the anomalies and whose plain lenses join the data's real ones; the
            detector is then a classifier (:mod:`equilens.models.outlier_exposure`) with the
            classifier's recipe. No image of the data's positive classes is trained on.
        architecture: ``steerable`` (escnn, equivariant), ``cnn`` (plain baseline) or
            ``resnet18`` (ResNet-18, plain; no autoencoder for the anomaly task).
        group: symmetry group of the steerable model, ``C<N>`` or ``D<N>``.
        input_size: side in pixels the images are resized to before the model.
        widths: fields (steerable) or channels (cnn) per block, channels per stage (resnet18);
            None takes the architecture's default (:func:`equilens.registry.default_widths`).
        pooled_blocks: steerable model only: how many of the first blocks max-pool after a
            full-resolution convolution; the later ones downsample by a stride-2 convolution.
        recipe: which defaults fill the fields left unset: ``equilens`` (chosen on real Test IV
            images) or ``deeplense`` (the DeepLense write-up's, to reproduce published numbers).
        epochs, batch_size, lr: Adam's epochs, images per batch and learning rate.
        min_batches_per_epoch: a training set smaller than ``batch_size`` x this many images
            trains with batches of ceil(training images / this) instead (0: never smaller);
            the run's saved config holds the batch size it used.
        min_images_per_epoch: a training set smaller than this many images is passed over
            ceil(this / training images) times per epoch, each pass reshuffled (0: one pass);
            ``epochs`` counts these longer epochs.
        label_smoothing: classification: the cross-entropy's targets put this much probability
            evenly on all classes (0: one-hot targets).
        weight_decay: AdamW's decoupled weight decay (0: plain Adam).
        lr_schedule, lr_step_epochs, lr_gamma: ``step`` (StepLR: lr x gamma every
            lr_step_epochs epochs) or ``cosine`` (to zero over --max-time, else over --epochs).
        select: the weights the run keeps as ``model.safetensors``: ``last`` (the last
            validated epoch's) or ``best`` (the highest validation AUC's; ties: lower loss).
        val_fraction, test_fraction: per-class split fractions.
        seed: seeds the split, initialisation and augmentation.
        crop_fraction, rotate, brightness: augmentation (None/False switches a step off).
        max_time: wall-clock limit ``DD:HH:MM:SS`` (None: none); the best checkpoint so far is
            kept, and the cosine schedule decays over it when it ends the run first.
        accelerator, devices, strategy, precision: passed to Lightning's Trainer.
        num_workers: data-loader processes.
        init_weights: start from these weights instead of a random initialisation (fine-tuning):
            a run folder, a ``.safetensors`` file or a shipped model's name (e.g. ``test-iv``).
            The model (architecture, group, input size, widths) is then the weights' own.
            ``auto``: the shipped :data:`AUTO_INIT_MODEL` for a training set of fewer than
            :data:`AUTO_INIT_MAX_TRAIN_IMAGES` images when it is this run's model and classes,
            else random weights; None: random weights.
        twin_batches: when ``data`` is a paired simulated folder (``equilens simulate
            --paired``), every training batch holds both twins of each of its lenses, augmented
            alike, so that within a batch they differ only by substructure. Other folders
            ignore it. Without it a model trained from scratch on single truncated-NFW subhalos
            never left chance in benchmarks/sensitivity.py's budget (documentation: "Sensitivity").
    """

    data: str
    test_data: str | None = None
    classes: list[str] | None = None
    bands: list[str] | None = None
    colour: bool = False
    hdu: str | None = None
    scaling: str = DEFAULT_SCALING
    task: str = "classify"
    target: str | None = None
    log_target: bool = False
    outliers: str | None = None
    architecture: str = "steerable"
    group: str = DEFAULT_GROUP
    input_size: int = DEFAULT_INPUT_SIZE
    widths: list[int] | None = None
    pooled_blocks: int = DEFAULT_POOLED_BLOCKS
    recipe: str = DEFAULT_RECIPE
    epochs: int = UNSET
    batch_size: int = UNSET
    min_batches_per_epoch: int = UNSET
    min_images_per_epoch: int = UNSET
    label_smoothing: float = UNSET
    lr: float = UNSET
    weight_decay: float = UNSET
    lr_schedule: str = UNSET
    select: str = UNSET
    lr_step_epochs: int = 5
    lr_gamma: float = 0.7
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    crop_fraction: float | None = UNSET
    rotate: bool = UNSET
    brightness: list[float] | None = UNSET
    max_time: str | None = UNSET
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    num_workers: int = 0
    init_weights: str | None = UNSET
    twin_batches: bool = True

    def __post_init__(self) -> None:
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
        misplaced = [other for other in TASKS.values() if other.name != task.name and any(getattr(self, o) for o in other.own_options)]
        checks = [
            *[(False, " and ".join(f"--{o.replace('_', '-')}" for o in other.own_options)
               + f" {'are' if len(other.own_options) > 1 else 'is'} for --task {other.name}") for other in misplaced],
            *task.checks(self),
            (self.recipe in RECIPE_NAMES, f"--recipe {self.recipe!r}: choose one of {list(RECIPE_NAMES)}"),
            (not self.classes or len(set(self.classes)) == len(self.classes), f"--classes {self.classes}: name each class once"),
            (self.input_size >= 8, f"--input-size {self.input_size}: must be at least 8 pixels"),
            (self.pooled_blocks >= 0, f"--pooled-blocks {self.pooled_blocks}: must be at least 0"),
            (self.epochs >= 1, f"--epochs {self.epochs}: must be at least 1"),
            (self.batch_size >= 1, f"--batch-size {self.batch_size}: must be at least 1"),
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
        """The optimiser's arguments of :class:`equilens.trainers.LensModule`."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, "lr_schedule": self.lr_schedule,
                "lr_step_epochs": self.lr_step_epochs, "lr_gamma": self.lr_gamma}

    def augment_config(self) -> dict[str, Any]:
        return {"crop_fraction": self.crop_fraction, "rotate": self.rotate,
                "brightness": tuple(self.brightness) if self.brightness else None}

    def batch_size_for(self, n_train: int) -> int:
        """Images per batch for a training set of ``n_train`` images (see ``min_batches_per_epoch``)."""
        if self.min_batches_per_epoch == 0:
            return self.batch_size
        return max(1, min(self.batch_size, math.ceil(n_train / self.min_batches_per_epoch)))

    def passes_per_epoch(self, n_train: int) -> int:
        """Passes over a training set of ``n_train`` images per epoch (see ``min_images_per_epoch``)."""
        return max(1, math.ceil(self.min_images_per_epoch / max(1, n_train)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
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
            default (:data:`RECIPES`), as a user's own run would.
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
