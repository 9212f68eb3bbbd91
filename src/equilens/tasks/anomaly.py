"""Unsupervised substructure detection: an autoencoder trained on lenses without substructure only."""

from __future__ import annotations

from typing import Any

import numpy as np

from equilens.config import TrainConfig
from equilens.errors import InputError
from equilens.log import logger
from equilens.tasks.base import ScoreTask, Task, TrainingData

#: What new autoencoders reconstruct and score (equilens.models.autoencoder): a log stretch
#: log(1 + 50 x) / log(1 + 50), a loss ring and a score ring (fractions of the side), a box
#: filter on the residual; chosen on real Test IV validation images (docs/recipes.md).
ANOMALY_SCORE_DEFAULTS = {"intensity_stretch": 50.0, "loss_ring": [0.08, 0.25], "score_ring": [0.1, 0.2],
                          "score_smoothing": 3}

ANOMALY_RECIPES: dict[str, dict[str, Any]] = {
    "equilens": {"epochs": 24, "max_time": "00:00:45:00", "lr": 3e-3, "lr_schedule": "cosine", "weight_decay": 0.0, "select": "last",
                 "batch_size": 32, "min_batches_per_epoch": 0, "min_images_per_epoch": 3072, "label_smoothing": 0.0,
                 "init_weights": None, "crop_fraction": None, "rotate": False, "brightness": None},
    "deeplense": {"epochs": 10, "max_time": None, "lr": 3e-3, "lr_schedule": "step", "weight_decay": 0.0, "select": "best",
                  "batch_size": 32, "min_batches_per_epoch": 0, "min_images_per_epoch": 0, "label_smoothing": 0.0,
                  "init_weights": None, "crop_fraction": None, "rotate": False, "brightness": None},
}


class Anomaly(ScoreTask):
    name = "anomaly"
    description = "anomaly: learn no_sub images only and score how unusual an image is"
    recipes = ANOMALY_RECIPES
    run_name = "anomaly"
    own_options = ("outliers",)

    def for_config(self, config: TrainConfig) -> Task:
        from equilens.tasks.outlier_exposure import OUTLIER_EXPOSURE

        return OUTLIER_EXPOSURE if config.outliers else self

    def checks(self, config: TrainConfig) -> list[tuple[bool, str]]:
        from equilens.registry import model_names, model_spec

        return [(model_spec(config.architecture).autoencoder is not None,
                 f"--task anomaly: --model {config.architecture} has no autoencoder; choose one of {list(model_names('anomaly'))} "
                 "(or --outliers SIM, which trains a classifier)")]

    def model_config(self, config: TrainConfig, num_classes: int, channels: int) -> dict[str, Any]:
        from equilens.registry import model_spec

        # An autoencoder: no classes; its widths and latent size default to the model's own.
        model = {"architecture": model_spec(config.architecture).autoencoder, "input_size": config.input_size,
                 "crop_fraction": config.crop_fraction or 1.0, **ANOMALY_SCORE_DEFAULTS,
                 **({"in_channels": channels} if channels != 1 else {})}
        if config.widths:
            model["widths"] = list(config.widths)
        if model_spec(config.architecture).equivariant:
            model["group"] = config.group.upper()
        return model

    def split(self, labels: np.ndarray, fractions: dict[str, float], seed: int, groups: np.ndarray | None) -> dict[str, np.ndarray]:
        """Only negative images train; the other classes are shared by validation and test in proportion."""
        from equilens.datasets.split import stratified_split

        negative, positive = np.flatnonzero(labels == 0), np.flatnonzero(labels > 0)
        held_out = {k: v for k, v in fractions.items() if k != "train"}
        negative_parts = stratified_split(labels[negative], fractions, seed)
        if len(held_out) == 1:
            positive_parts = {"val": np.arange(len(positive))}
        else:
            scale = sum(held_out.values())
            positive_parts = stratified_split(labels[positive], {k: v / scale for k, v in held_out.items()}, seed)
        return {name: np.sort(np.concatenate([negative[negative_parts[name]], positive[positive_parts.get(name, np.array([], int))]]))
                for name in fractions}

    def training_data(self, config: TrainConfig, splits: dict, reading, infos: dict | None = None) -> TrainingData:
        train = splits["train"]
        if (train.labels != 0).any():
            raise InputError(f"{config.data}: the anomaly training split holds images that are not '{train.classes[0]}'")
        return TrainingData(splits)

    def module_class(self) -> type:
        from equilens.tasks.lightning.anomaly import AnomalyModule

        return AnomalyModule

    def calibration(self, module, val, val_targets, select: str, reading, channels: int, data=None) -> dict[str, Any]:
        """The scores of the run's validation negatives, which the model never trained on, for
        conformal p-values (:mod:`equilens.evaluation.calibration`); only when the run keeps its
        last weights, since with ``--select best`` these images chose the weights."""
        from equilens.datasets.folder import load_images
        from equilens.evaluation.calibration import calibration_record
        from equilens.evaluation.scoring import score_images

        normal = val.subset(np.flatnonzero(val.labels == 0)).files
        if select != "last" or not normal:
            logger.warning("no false-alarm calibration stored (%s): predict will write anomaly scores without p-values",
                           "the validation images chose the weights (--select best)" if normal else f"no validation '{val.classes[0]}' images")
            return {}
        model = module.model
        was_training = model.training
        scores, _ = score_images(model.eval(), load_images(list(normal), reading=reading, channels=channels))
        model.train(was_training)
        return {"calibration": calibration_record(
            scores.numpy(), f"anomaly scores of the run's {len(normal)} validation '{val.classes[0]}' images: "
            "never trained on, and the run kept its last weights, so they did not choose them")}

    def columns(self, model) -> list[str]:
        if model.calibration is None:
            logger.warning("%s: no false-alarm calibration stored with this anomaly model (trained before equilens stored "
                           "one, or with --select best); writing anomaly scores without p-values", model.weights)
            return ["anomaly_score"]
        return ["anomaly_score", "p_value"]

    def rows(self, model, images, batch_size: int, symmetrize: bool) -> list[list[str]]:
        from equilens.evaluation.calibration import conformal_p_values

        scores = model.scores(images, batch_size, symmetrize)[0]
        if model.calibration is None:
            return [[f"{s:.6g}"] for s in scores.tolist()]
        p_values = conformal_p_values(model.calibration, scores)
        return [[f"{s:.6g}", f"{p:.6g}"] for s, p in zip(scores.tolist(), p_values.tolist())]

    def threshold(self, labels, scores) -> tuple[float, str]:
        from equilens.evaluation.metrics import youden_threshold

        return youden_threshold(labels, scores), "Youden's J maximum on this set"

    def score_description(self, model) -> str:
        if model.record.model.get("architecture") == "outlier_exposure":
            return ("anomaly score (outlier exposure: log-odds of simulated substructure against plain lenses; "
                    "trained on real no_sub and simulated images only)")
        return "anomaly score (reconstruction error)"


ANOMALY = Anomaly()
