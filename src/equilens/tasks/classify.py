"""Supervised classification: substructure or not, which dark matter, lens or not."""

from __future__ import annotations

from typing import Any

import numpy as np

from equilens.config import AUTO_INIT, TrainConfig
from equilens.registry import default_widths, model_spec
from equilens.errors import InputError
from equilens.tasks.base import ScoreTask, TrainingData

#: ``equilens``: chosen on real Test IV validation splits; ``deeplense``: the DeepLense write-up's
#: recipe. Why each value: docs/recipes.md.
CLASSIFY_RECIPES: dict[str, dict[str, Any]] = {
    "equilens": {"epochs": 32, "max_time": "00:00:30:00", "lr": 2e-3, "lr_schedule": "cosine", "weight_decay": 0.0, "select": "last",
                 "batch_size": 64, "min_batches_per_epoch": 6, "min_images_per_epoch": 4096, "label_smoothing": 0.1,
                 "init_weights": AUTO_INIT, "crop_fraction": 0.9, "rotate": True, "brightness": [0.8, 1.2]},
    "deeplense": {"epochs": 10, "max_time": None, "lr": 1e-4, "lr_schedule": "step", "weight_decay": 0.0, "select": "best",
                  "batch_size": 64, "min_batches_per_epoch": 0, "min_images_per_epoch": 0, "label_smoothing": 0.0,
                  "init_weights": None, "crop_fraction": 0.9, "rotate": True, "brightness": [0.8, 1.2]},
}


def classifier_config(config: TrainConfig, num_classes: int, channels: int) -> dict[str, Any]:
    """The :func:`equilens.models.build_model` config of a classifier network with ``num_classes`` outputs."""
    model: dict[str, Any] = {
        "architecture": config.architecture,
        "input_size": config.input_size,
        "crop_fraction": config.crop_fraction or 1.0,
        "widths": list(config.widths or default_widths(config.architecture, config.group)),
        "num_classes": num_classes,
        # Grey models keep the config they always had (shipped models compare equal to it).
        **({"in_channels": channels} if channels != 1 else {}),
    }
    if model_spec(config.architecture).equivariant:
        model["group"] = config.group.upper()
        model["pooled_blocks"] = config.pooled_blocks
    return model


class Classify(ScoreTask):
    name = "classify"
    run_name = "classify"
    description = "classify: supervised"
    recipes = CLASSIFY_RECIPES
    uses_twin_batches = True
    probability_scores = True
    own_options = ("unlabelled",)

    def for_config(self, config: TrainConfig) -> "Classify":
        from equilens.tasks.adapt import ADAPT

        return ADAPT if config.unlabelled else self

    def model_config(self, config: TrainConfig, num_classes: int, channels: int) -> dict[str, Any]:
        return classifier_config(config, num_classes, channels)

    def module_class(self) -> type:
        from equilens.tasks.lightning.classify import ClassifierModule

        return ClassifierModule

    def module_options(self, config: TrainConfig, data: TrainingData) -> dict[str, Any]:
        return {"label_smoothing": config.label_smoothing}

    def check_initial_weights(self, start, config: TrainConfig, classes: list[str]) -> None:
        if start.model.get("num_classes") != len(classes):
            raise InputError(
                f"--init-weights {config.init_weights}: a model of {start.model.get('num_classes')} classes "
                f"({', '.join(start.classes)}); this dataset has {len(classes)} ({', '.join(classes)})")

    def calibration(self, module, val, val_targets, select: str, reading, channels: int, data=None) -> dict[str, Any]:
        """The training split's images per class: the class mix the model's probabilities assume."""
        counts = np.bincount(data.splits["train"].labels, minlength=len(module.hparams.classes)) if data else None
        return {"training_class_counts": counts.tolist()} if counts is not None else {}

    def columns(self, model) -> list[str]:
        score = model.score_column
        # A two-class lens finder's score is p_<positive> already: not written twice.
        return [score, *(f"p_{name}" for name in model.classes if f"p_{name}" != score)]

    def rows(self, model, images, batch_size: int, symmetrize: bool) -> list[list[str]]:
        scores, probabilities = model.scores(images, batch_size, symmetrize)
        keep = [f"p_{name}" != model.score_column for name in model.classes]
        return [[f"{s:.6g}", *(f"{p:.6g}" for p, k in zip(row, keep) if k)]
                for s, row in zip(scores.tolist(), probabilities.tolist())]

    def threshold(self, labels, scores) -> tuple[float, str]:
        return 0.5, "default for probabilities"

    def score_description(self, model) -> str:
        from equilens.datasets.folder import score_description

        return score_description(model.classes)


CLASSIFY = Classify()
