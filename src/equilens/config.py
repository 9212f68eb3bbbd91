"""The training and quickstart configurations: plain, explicit; a run saves its TrainConfig as JSON.

Nothing here imports torch, escnn or lenstronomy: the command line builds its options from these."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from equilens.errors import InputError

# Channels per block of the plain CNN.
DEFAULT_CHANNELS = (16, 32, 64, 128)
# Channels of the four stages of ResNet-18 (He et al.), the DeepLense papers' plain baseline.
RESNET18_WIDTHS = (64, 128, 256, 512)
# Channels per block of the steerable model, as regular fields of |G| channels each (D4: 3-8-16-32
# fields): chosen on a 10-minute CPU budget (benchmarks/auc_vs_budget.py). How many of its first
# blocks convolve at full resolution and max-pool (the later ones downsample by a stride-2
# convolution): none, since the full-resolution first block cost most of a training step on a
# CPU (benchmarks/throughput.py) at the same validation AUC on the real Test IV images
# (benchmarks/real_test_iv.py compare --holdout val; documentation: "Recipes and defaults").
DEFAULT_STEERABLE_CHANNELS = (24, 64, 128, 256)
DEFAULT_POOLED_BLOCKS = 0
# Side in pixels the image is resized to, and the steerable model's group: the simulated-data
# benchmark's choices (benchmarks/auc_vs_budget.py; docs: "How the defaults were chosen").
DEFAULT_INPUT_SIZE = 75
DEFAULT_GROUP = "D4"
ARCHITECTURE_NAMES = ("steerable", "cnn", "resnet18")
# The architectures that have an autoencoder for the unsupervised anomaly task.
AUTOENCODER_ARCHITECTURES = ("steerable", "cnn")
TASK_NAMES = ("classify", "anomaly", "regress")
#: The recipe (:data:`RECIPES`) of the anomaly task trained with outlier exposure (``--outliers``).
OUTLIER_EXPOSURE = "outlier_exposure"

#: Class folders recognised, with no option, as the class without substructure (the negative,
#: label 0): DeepLense Test IV and Models I-III name it ``no_sub``, Common Test I ``no``. Any
#: other layout names its classes (``--classes NEGATIVE [POSITIVE ...]``).
NEGATIVE_CLASS_NAMES = ("no_sub", "no")

#: Per-band scaling of pixel values to about [0, 1] (equilens.datasets.images): ``minmax`` (integer data by
#: its type's full scale, float data kept if already in [0, 1], else min-max per band),
#: ``asinh`` (min-max, then asinh(x / a) / asinh(1 / a), a = :data:`ASINH_SOFTENING`: faint arcs
#: lifted beside a bright lens galaxy), ``percentile`` (clipped to the band's
#: :data:`PERCENTILE_CLIP` percentiles, then min-max: a hot pixel or a bright neighbour no longer
#: sets the scale).
SCALINGS = ("minmax", "asinh", "percentile")
DEFAULT_SCALING = "minmax"
ASINH_SOFTENING = 0.1
PERCENTILE_CLIP = (0.5, 99.5)
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

# Marks a field whose default depends on the recipe and task (see RECIPES); resolved on construction.
UNSET: Any = type("RecipeDefault", (), {"__repr__": lambda self: "<recipe default>"})()

#: Defaults of the fields marked UNSET, per recipe and task; a value given explicitly wins.
#:
#: ``equilens`` (the default) was chosen on the real DeepLense Test IV images, on validation
#: splits only (``benchmarks/real_test_iv.py``; documentation: "Recipes and defaults"): Adam 2e-3
#: decayed to zero by a cosine over the run. The run's length is work, not minutes:
#: ``epochs`` passes (each at least ``min_images_per_epoch`` images), so every machine trains
#: the same model and the schedule runs its whole course; ``max_time`` (30 minutes) is only a
#: safety cap. A run the cap ends says so (equilens.training.training_ending), and its
#: schedule is shortened to end there. ``deeplense`` is
#: the recipe of the DeepLense write-up that users compare against (Adam 1e-4, StepLR(5, 0.7),
#: 10 epochs, no time limit); its anomaly defaults are the autoencoder's earlier ones. The
#: ``equilens`` anomaly default (the autoencoder) is work too: 24 epochs of at least
#: ``min_images_per_epoch`` ``no_sub`` images, chosen on the validation AUC of a no-option run
#: on the real Test IV images (it rose to about 0.98 from epoch 13 of 24 and stayed there;
#: 8 epochs of the earlier 9-minute budget gave 0.944; documentation: "Recipes and defaults"),
#: with a 45-minute safety cap.
#: ``select`` is which weights a run keeps: ``last`` after a schedule that ends at a learning
#: rate of zero, since choosing by validation AUC overfits a small validation split (with 50
#: images per class it chose epoch 0's model); ``best`` (highest validation AUC) with the
#: DeepLense step schedule.
#: ``min_batches_per_epoch`` shrinks the batch of a small training set so that a pass over it still
#: holds that many optimiser steps; sets of 384 images or more keep batch 64. Chosen with
#: ``benchmarks/real_test_iv.py small-data --holdout val`` at 50 and 100 images per class.
#: ``min_images_per_epoch`` makes an epoch of a small set several passes over it, so that the
#: fixed cost of every epoch's end (batch-norm statistics, validation, checkpoints) does not eat
#: a small set's budget, and a small set trains on about as many images (4,096 x ``epochs``)
#: as the 9-minute budget it was chosen with gave it; sets of 4,096 images or more keep one pass. ``label_smoothing`` (of
#: the cross-entropy targets) keeps a model that has fitted its few training images still
#: learning from them. Both chosen with the same benchmark at 50 images per class.
#: ``init_weights`` ``auto``: a training set of fewer than :data:`AUTO_INIT_MAX_TRAIN_IMAGES`
#: images starts from the model trained on simulated Test IV-like images (fine-tuning), when
#: the run trains that model (the default steerable classifier, classes ``no_sub`` and
#: ``sub``); chosen with the same benchmark at 50 images per class.
#:
#: The autoencoder learns what normal lenses look like: shifts, rotations and brightness
#: changes would only widen that (see equilens.models.autoencoder).
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "equilens": {
        "classify": {"epochs": 32, "max_time": "00:00:30:00", "lr": 2e-3, "lr_schedule": "cosine", "weight_decay": 0.0, "select": "last",
                     "batch_size": 64, "min_batches_per_epoch": 6, "min_images_per_epoch": 4096, "label_smoothing": 0.1,
                     "init_weights": AUTO_INIT, "crop_fraction": 0.9, "rotate": True, "brightness": [0.8, 1.2]},
        "anomaly": {"epochs": 24, "max_time": "00:00:45:00", "lr": 3e-3, "lr_schedule": "cosine", "weight_decay": 0.0, "select": "last",
                    "batch_size": 32, "min_batches_per_epoch": 0, "min_images_per_epoch": 3072, "label_smoothing": 0.0, "init_weights": None,
                    "crop_fraction": None, "rotate": False, "brightness": None},
    },
    "deeplense": {
        "classify": {"epochs": 10, "max_time": None, "lr": 1e-4, "lr_schedule": "step", "weight_decay": 0.0, "select": "best",
                     "batch_size": 64, "min_batches_per_epoch": 0, "min_images_per_epoch": 0, "label_smoothing": 0.0, "init_weights": None,
                     "crop_fraction": 0.9, "rotate": True, "brightness": [0.8, 1.2]},
        "anomaly": {"epochs": 10, "max_time": None, "lr": 3e-3, "lr_schedule": "step", "weight_decay": 0.0, "select": "best",
                    "batch_size": 32, "min_batches_per_epoch": 0, "min_images_per_epoch": 0, "label_smoothing": 0.0, "init_weights": None,
                    "crop_fraction": None, "rotate": False, "brightness": None},
    },
}
# Regression (Gaussian mean and sigma of a number per image, e.g. the axion mass) trains as the
# classifier does, less what only a classifier has: smoothed labels, the shipped classifier's start.
# The anomaly task's outlier exposure (``--outliers``) trains a classifier of plain lenses against
# simulated substructure, so it takes the classifier's recipe, from random weights.
for _recipe in RECIPES.values():
    _recipe["regress"] = {**_recipe["classify"], "label_smoothing": 0.0, "init_weights": None}
    _recipe[OUTLIER_EXPOSURE] = {**_recipe["classify"], "init_weights": None}
# The mass goes on improving long after the class does: the equilens regression runs 128 epochs,
# chosen on the validation MAE of the axion mass at 4,500 images (Model I-, II- and III-like renderings;
# documentation: "Dark matter", "How long to train the mass?"); the 30-minute cap still ends it.
RECIPES["equilens"]["regress"]["epochs"] = 128
DEFAULT_RECIPE = "equilens"

#: The ``--target`` of ``--task regress`` that reads the number each file stores beside its image
#: (DeepLense Model I-III ``axion`` object arrays [image, axion mass in eV]); any other name is a
#: column of the data folder's ``metadata.csv`` (``equilens simulate``: ``axion_mass_ev``,
#: ``axion_mass_log10_ev``).
FILE_VALUE_TARGET = "value"
#: Nominal coverages of the central intervals of a regression model's Gaussian that ``evaluate``
#: reports (68% and 95%, as the issue asks) and draws in its calibration plot.
REGRESSION_COVERAGES = (0.68, 0.95)
REGRESSION_CALIBRATION_LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))
#: Equal-width bins of the true value over which ``evaluate`` also reports a regression's errors
#: and coverage: where over the prior a model resolves the target (e.g. a vortex too short to see).
REGRESSION_TRUTH_BINS = 5

#: What new autoencoders reconstruct and score (see equilens.models.autoencoder): the
#: log-stretched image log(1 + 50 x) / log(1 + 50), so that faint arcs weigh as much as the
#: bright lens light; trained on the squared error in a ring of 0.08-0.25 S about the centre
#: (the arcs, without the lens light); scored by the 3 x 3 box-filtered residual, squared, in
#: the ring 0.1-0.2 S that holds the Einstein ring. Chosen for Test IV lenses on validation
#: images of the real ones (benchmarks/real_test_iv.py anomaly --holdout val; documentation: "Recipes and defaults"): lenses
#: of another size on the image need other rings.
ANOMALY_SCORE_DEFAULTS = {"intensity_stretch": 50.0, "loss_ring": [0.08, 0.25], "score_ring": [0.1, 0.2],
                          "score_smoothing": 3}

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
    if architecture == "resnet18":
        return list(RESNET18_WIDTHS)
    flips, order = parse_group(group)
    group_size = order * (2 if flips else 1)
    return [max(1, channels // group_size) for channels in DEFAULT_STEERABLE_CHANNELS]


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
        bands, colour, hdu, scaling: how files are read (:class:`equilens.datasets.Reading`):
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
            None takes the architecture's default (:data:`DEFAULT_STEERABLE_CHANNELS` / |G|
            fields, :data:`DEFAULT_CHANNELS`, :data:`RESNET18_WIDTHS`).
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
        recipe = RECIPES.get(self.recipe, RECIPES[DEFAULT_RECIPE])
        for name, value in recipe.get(self.recipe_task, recipe["classify"]).items():
            if getattr(self, name) is UNSET:
                setattr(self, name, list(value) if isinstance(value, list) else value)

    @property
    def recipe_task(self) -> str:
        """Which of a recipe's task defaults this run takes (:data:`RECIPES`)."""
        return OUTLIER_EXPOSURE if self.task == "anomaly" and self.outliers else self.task

    def validate(self) -> "TrainConfig":
        if self.architecture not in ARCHITECTURE_NAMES:
            raise InputError(f"--model {self.architecture!r}: choose one of {list(ARCHITECTURE_NAMES)}")
        parse_group(self.group)
        checks = [
            (self.task in TASK_NAMES, f"--task {self.task!r}: choose one of {list(TASK_NAMES)}"),
            (self.task != "regress" or bool(self.target), "--task regress needs --target NAME (a metadata.csv column, "
             f"or '{FILE_VALUE_TARGET}': the number stored in each data file)"),
            (self.task == "regress" or (self.target is None and not self.log_target), "--target and --log-target are for --task regress"),
            (self.task == "anomaly" or not self.outliers, "--outliers is for --task anomaly (outlier exposure)"),
            (self.task != "anomaly" or bool(self.outliers) or self.architecture in AUTOENCODER_ARCHITECTURES,
             f"--task anomaly: --model {self.architecture} has no autoencoder; choose one of {list(AUTOENCODER_ARCHITECTURES)} "
             "(or --outliers SIM, which trains a classifier)"),
            (self.recipe in RECIPES, f"--recipe {self.recipe!r}: choose one of {list(RECIPES)}"),
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
        # Grey models keep the config they always had (shipped models compare equal to it).
        in_channels = {"in_channels": channels} if channels != 1 else {}
        if self.task == "anomaly" and self.outliers:
            return {"architecture": OUTLIER_EXPOSURE,
                    "classifier": replace(self, task="classify", outliers=None).model_config(2, channels)}
        if self.task == "anomaly":
            # An autoencoder: no classes; its widths and latent size default to the model's own.
            config = {"architecture": f"{self.architecture}_autoencoder", "input_size": self.input_size,
                      "crop_fraction": self.crop_fraction or 1.0, **ANOMALY_SCORE_DEFAULTS, **in_channels}
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
            # A regression model's two outputs are its Gaussian's mean and log sigma (equilens.regression).
            "num_classes": 2 if self.task == "regress" else num_classes,
            **in_channels,
        }
        if self.architecture == "steerable":
            config["group"] = self.group.upper()
            config["pooled_blocks"] = self.pooled_blocks
        return config

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
