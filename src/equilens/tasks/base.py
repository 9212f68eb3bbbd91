"""What a task is: everything that differs between classifying, detecting anomalies and regressing.

A task owns its recipe defaults, checks, model config, split, extra training data, LightningModule,
post-training calibration, ``predict`` columns and rows, evaluation report and summary line;
``training``, ``predict``, ``evaluate``, ``sensitivity`` and the API look it up by name
(:func:`equilens.tasks.get_task`). Importing a task imports no torch: the command line reads
its recipes. ``docs/contributing.md`` walks through adding one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from equilens.api import TrainedModel
    from equilens.config import TrainConfig
    from equilens.datasets.folder import LensFolder
    from equilens.datasets.formats import FileInfo, Reading
    from equilens.weights import WeightsRecord


@dataclass
class TrainingData:
    """What a run trains on: the splits (a task may add images to ``train``) and, for a
    regression, each split's (N,) float targets served in place of the labels."""

    splits: dict[str, LensFolder]
    targets: dict[str, np.ndarray] | None = None


class Task:
    """The interface; subclasses override what differs. ``name`` is the ``--task`` value and the
    ``task`` stored with the weights."""

    name: ClassVar[str]
    #: One line for ``equilens train --help``.
    description: ClassVar[str]
    #: Recipe name -> defaults of the TrainConfig fields marked as recipe defaults.
    recipes: ClassVar[dict[str, dict[str, Any]]]
    #: ``--classes`` names every class read (no negative class), as a regression's do.
    reads_every_class: ClassVar[bool] = False
    #: Paired simulated folders batch both twins of a lens together (see LensDataModule).
    uses_twin_batches: ClassVar[bool] = False
    #: Its model's outputs are class probabilities, on which ``--precision auto`` judges bfloat16 (equilens.precision).
    probability_scores: ClassVar[bool] = False
    #: TrainConfig fields that only this task takes (others must leave them unset).
    own_options: ClassVar[tuple[str, ...]] = ()
    #: Stem of its run folders' names.
    run_name: ClassVar[str] = ""

    def for_config(self, config: TrainConfig) -> Task:
        """The task that trains ``config`` (the anomaly task trains with outlier exposure when given outliers)."""
        return self

    def checks(self, config: TrainConfig) -> list[tuple[bool, str]]:
        """(condition, error message) pairs that a valid config of this task meets."""
        return []

    def model_config(self, config: TrainConfig, num_classes: int, channels: int) -> dict[str, Any]:
        """The :func:`equilens.models.build_model` config this task trains."""
        raise NotImplementedError

    def split(self, labels: np.ndarray, fractions: dict[str, float], seed: int, groups: np.ndarray | None) -> dict[str, np.ndarray]:
        """Indices of each split; per-class (stratified), twins kept together."""
        from equilens.datasets.split import stratified_split

        return stratified_split(labels, fractions, seed, groups=groups)

    def prepare(self, config: TrainConfig, splits: dict[str, LensFolder], reading: Reading, infos: dict[Path, FileInfo]) -> None:
        """Check the task's extra data when a run is made, so that a bad one fails before training;
        may record resolved paths in ``config``."""

    def extra_training_images(self, config: TrainConfig, reading: Reading) -> int:
        """Training images beyond the training split's (outlier exposure's simulated folder)."""
        return 0

    def training_data(self, config: TrainConfig, splits: dict[str, LensFolder], reading: Reading, infos: dict | None = None) -> TrainingData:
        return TrainingData(splits)

    def module_class(self) -> type:
        """The task's LightningModule (imported here: torch is not needed to read a recipe)."""
        raise NotImplementedError

    def module_options(self, config: TrainConfig, data: TrainingData) -> dict[str, Any]:
        """Arguments of the LightningModule beyond the model, classes, optimiser and augmentation."""
        return {}

    def check_initial_weights(self, start: WeightsRecord, config: TrainConfig, classes: list[str]) -> None:
        """Raise InputError if the ``--init-weights`` (their ``start`` record) cannot start this run."""

    def calibration(self, module: Any, val: LensFolder, val_targets: np.ndarray | None, select: str, reading: Reading,
                    channels: int, data: Any = None) -> dict[str, Any]:
        """What the weights store beside the model after training (calibrated on validation images);
        ``data``: the run's :class:`~equilens.datamodules.LensDataModule`, its images decoded."""
        return {}

    # A trained model of this task (equilens.api.TrainedModel) ---------------------------------

    def columns(self, model: TrainedModel) -> list[str]:
        """``predict``'s CSV header after ``path``."""
        raise NotImplementedError

    def rows(self, model: TrainedModel, images: Any, batch_size: int, symmetrize: bool) -> list[list[str]]:
        """``predict``'s CSV cells (after ``path``) of the (N, C, H, W) ``images``."""
        raise NotImplementedError

    def evaluate(self, model: TrainedModel, folder: LensFolder, out: Path, options: dict[str, Any]) -> dict[str, Any]:
        """Score the labelled ``folder``, write the report into ``out``; return the metrics."""
        raise NotImplementedError

    def summary(self, out: Path, metrics: dict[str, Any]) -> None:
        """What ``equilens evaluate`` prints."""
        raise NotImplementedError


class ScoreTask(Task):
    """A task whose model gives each image a substructure score (classify, anomaly), judged by ROC."""

    def threshold(self, labels: np.ndarray, scores: np.ndarray) -> tuple[float, str]:
        """The default decision threshold on the score, and its rule in words."""
        raise NotImplementedError

    def score_description(self, model: TrainedModel) -> str:
        raise NotImplementedError

    def evaluate(self, model: TrainedModel, folder: LensFolder, out: Path, options: dict[str, Any]) -> dict[str, Any]:
        from equilens.evaluation.report import evaluate_scores

        return evaluate_scores(model, folder, out, **options)

    def summary(self, out: Path, metrics: dict[str, Any]) -> None:
        from equilens.evaluation.report import print_summary

        print_summary(out, metrics)
