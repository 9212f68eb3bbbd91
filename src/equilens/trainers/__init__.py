"""Lightning modules: one per task, built from a run's plain config."""

from equilens.trainers.anomaly import AnomalyModule
from equilens.trainers.base import LensModule
from equilens.trainers.classifier import ClassifierModule
from equilens.trainers.regression import RegressionModule

TASKS: dict[str, type[LensModule]] = {"classify": ClassifierModule, "anomaly": AnomalyModule, "regress": RegressionModule}

__all__ = ["TASKS", "ClassifierModule", "LensModule", "RegressionModule"]
