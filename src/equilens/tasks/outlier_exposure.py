"""Outlier exposure: the anomaly task trained as a classifier of plain lenses against simulated substructure.

Chosen with ``--task anomaly --outliers SIM``; its weights are an anomaly detector's
(:class:`~equilens.models.outlier_exposure.OutlierExposureDetector`), scored as the anomaly task's.
No image of the data's positive classes is trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from equilens.config import TrainConfig
from equilens.errors import InputError
from equilens.log import logger
from equilens.tasks.anomaly import Anomaly
from equilens.tasks.base import TrainingData
from equilens.tasks.classify import CLASSIFY_RECIPES, classifier_config

OUTLIER_EXPOSURE_RECIPES = {recipe: {**values, "init_weights": None} for recipe, values in CLASSIFY_RECIPES.items()}


def outlier_folder(path: str | Path, data_root: Path, reading):
    """The simulated ``--outliers`` folder: apart from the data folder (whose positive images must
    never be trained on), a negative class and at least one other."""
    from equilens.datasets.folder import scan_lens_folder

    root, data_root = Path(path).resolve(), Path(data_root).resolve()
    if root == data_root or data_root in root.parents or root in data_root.parents:
        raise InputError(f"--outliers {path}: must be a simulated folder apart from the data folder {data_root}, "
                         "not inside it or holding it (the data's own substructure images are never trained on)")
    return scan_lens_folder(path, reading=reading)


class OutlierExposure(Anomaly):
    run_name = "anomaly-outlier-exposure"
    recipes = OUTLIER_EXPOSURE_RECIPES

    def for_config(self, config: TrainConfig) -> Anomaly:
        return self

    def checks(self, config: TrainConfig) -> list[tuple[bool, str]]:
        return []

    def model_config(self, config: TrainConfig, num_classes: int, channels: int) -> dict[str, Any]:
        return {"architecture": "outlier_exposure", "classifier": classifier_config(config, 2, channels)}

    def prepare(self, config: TrainConfig, splits: dict, reading, infos: dict) -> None:
        from equilens.datasets.folder import check_images

        outliers = outlier_folder(config.outliers, Path(config.data), reading)
        check_images(list(outliers.files), reading)
        config.outliers = str(outliers.root.resolve())

    def extra_training_images(self, config: TrainConfig, reading) -> int:
        from equilens.datasets.folder import scan_lens_folder

        return len(scan_lens_folder(config.outliers, reading=reading).files)

    def training_data(self, config: TrainConfig, splits: dict, reading, infos: dict | None = None) -> TrainingData:
        """The real training split (its negatives only) and the simulated folder as one two-class
        set: label 0 plain lenses (real and simulated), 1 simulated substructure."""
        from equilens.datasets.folder import LensFolder

        super().training_data(config, splits, reading, infos)
        train, outliers = splits["train"], outlier_folder(config.outliers, splits["train"].root, reading)
        logger.warning("outlier exposure: training on %d real '%s' images of %s and %d simulated images of %s "
                       "(%d with substructure); no image of the data's other classes is trained on",
                       len(train.files), train.classes[0], train.root, len(outliers.files), outliers.root,
                       int((outliers.labels > 0).sum()))
        mixed = LensFolder(train.root, (train.classes[0], "simulated substructure"), train.files + outliers.files,
                           np.concatenate([train.labels, (outliers.labels > 0).astype(np.int64)]))
        return TrainingData({**splits, "train": mixed})

    def module_class(self) -> type:
        from equilens.tasks.lightning.outlier_exposure import OutlierExposureModule

        return OutlierExposureModule

    def module_options(self, config: TrainConfig, data: TrainingData) -> dict[str, Any]:
        return {"label_smoothing": config.label_smoothing}


OUTLIER_EXPOSURE = OutlierExposure()
