"""Regression of a number per image (e.g. the axion mass) as a Gaussian mean and sigma."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from equilens.config import TrainConfig
from equilens.log import logger
from equilens.tasks.base import Task, TrainingData
from equilens.tasks.classify import CLASSIFY_RECIPES, classifier_config

#: The ``--target`` that reads the number each file stores beside its image (DeepLense Model
#: I-III ``axion`` arrays: the axion mass in eV); any other name is a ``metadata.csv`` column.
FILE_VALUE_TARGET = "value"

# The classifier's recipe less what only a classifier has (smoothed labels, the shipped
# classifier's start); the mass keeps improving long after the class does: 128 epochs
# (docs/benchmarks/dark-matter.md, "How long to train the mass?").
REGRESS_RECIPES = {recipe: {**values, "label_smoothing": 0.0, "init_weights": None} for recipe, values in CLASSIFY_RECIPES.items()}
REGRESS_RECIPES["equilens"]["epochs"] = 128


def split_targets(target: str, log10: bool, splits: dict, reading, infos: dict | None = None) -> dict[str, np.ndarray]:
    """Split name -> (N,) float64 targets of its files (log10'd if asked); ``infos`` (what the
    check of every file found) saves reading files again for :data:`FILE_VALUE_TARGET`."""
    from equilens.datasets.folder import check_images
    from equilens.datasets.targets import read_targets

    targets = {}
    for name, part in splits.items():
        found = None
        if target == FILE_VALUE_TARGET:
            found = [infos[f] for f in part.files] if infos is not None else check_images(part.files, reading)
        targets[name] = read_targets(part.root, part.files, target, log10, found)
    return targets


class Regress(Task):
    name = "regress"
    run_name = "regress"
    description = "regress: a number per image (--target) as a mean and sigma"
    recipes = REGRESS_RECIPES
    reads_every_class = True
    own_options = ("target", "log_target")

    def target(self, config: TrainConfig) -> tuple[str | None, bool]:
        """What this task learns: a ``metadata.csv`` column or :data:`FILE_VALUE_TARGET`, and whether as log10."""
        return config.target, config.log_target

    def checks(self, config: TrainConfig) -> list[tuple[bool, str]]:
        return [(bool(self.target(config)[0]), "--task regress needs --target NAME (a metadata.csv column, "
                 f"or '{FILE_VALUE_TARGET}': the number stored in each data file)")]

    def model_config(self, config: TrainConfig, num_classes: int, channels: int) -> dict[str, Any]:
        # Two outputs: the Gaussian's mean and log sigma (equilens.regression).
        return classifier_config(config, 2, channels)

    def prepare(self, config: TrainConfig, splits: dict, reading, infos: dict) -> None:
        split_targets(*self.target(config), splits, reading, infos)  # a bad target fails now, naming its file

    def training_data(self, config: TrainConfig, splits: dict, reading, infos: dict | None = None) -> TrainingData:
        return TrainingData(splits, split_targets(*self.target(config), splits, reading, infos))

    def module_class(self) -> type:
        from equilens.tasks.lightning.regress import RegressionModule

        return RegressionModule

    def module_options(self, config: TrainConfig, data: TrainingData) -> dict[str, Any]:
        from equilens.regression import regression_record

        return {"regression": regression_record(*self.target(config), data.targets["train"])}

    def calibration(self, module, val, val_targets, select: str, reading, channels: int, data=None) -> dict[str, Any]:
        """The regression record, with ``sigma_scale`` fitted on the validation images (split
        conformal, :func:`equilens.regression.sigma_scale`) when the run keeps its last weights."""
        from equilens.datasets.folder import load_images
        from equilens.regression import ONE_SIGMA_COVERAGE, predict_gaussian, sigma_scale

        scale = None
        if select == "last" and val.files:
            model = module.model
            was_training = model.training
            mean, sigma = predict_gaussian(model.eval(), load_images(list(val.files), reading=reading, channels=channels),
                                           module.regression)
            model.train(was_training)
            scale = sigma_scale(val_targets, mean.numpy(), sigma.numpy())
        if scale is None:
            logger.warning("sigma not calibrated (%s): the predicted sigmas are the network's own",
                           "the validation images chose the weights (--select best)" if select != "last"
                           else f"{len(val.files)} validation images, fewer than 3")
            return {"regression": dict(module.regression)}
        logger.warning("sigma calibrated on %d validation images: the network's sigma x %.3f", len(val.files), scale)
        return {"regression": {
            **module.regression, "sigma_scale": scale,
            "sigma_calibration": f"network sigma x {scale:.4g}, so that mean +- sigma holds at least {ONE_SIGMA_COVERAGE:.2%} of "
                                 f"the run's {len(val.files)} validation targets (split conformal): never trained on, and the "
                                 "run kept its last weights, so they did not choose them"}}

    def columns(self, model) -> list[str]:
        """``<target>_mean``, ``<target>_sigma`` (``log10_<target>_...`` for a log-target model)."""
        from equilens.datasets.targets import target_label

        record = model.record.regression
        label = target_label(record["target"], record["log10"])
        return [f"{label}_mean", f"{label}_sigma"]

    def rows(self, model, images, batch_size: int, symmetrize: bool) -> list[list[str]]:
        mean, sigma = model.predict_gaussian(images, batch_size, symmetrize)
        return [[f"{m:.6g}", f"{s:.6g}"] for m, s in zip(mean.tolist(), sigma.tolist())]

    def evaluate(self, model, folder, out: Path, options: dict[str, Any]) -> dict[str, Any]:
        from equilens.evaluation.regression_report import evaluate_regression

        # A regression has no decision threshold.
        return evaluate_regression(model, folder, out, **{k: v for k, v in options.items() if k != "threshold"})

    def summary(self, out: Path, metrics: dict[str, Any]) -> None:
        from equilens.evaluation.regression_report import print_summary

        print_summary(out, metrics)


REGRESS = Regress()
