"""Scoring images with a trained model, metrics (AUC with CI, invariance) and plots."""

from equilens.evaluation.metrics import auc_with_ci, binary_metrics, invariance_errors
from equilens.evaluation.report import evaluate
from equilens.evaluation.scoring import score_images

__all__ = ["auc_with_ci", "binary_metrics", "evaluate", "invariance_errors", "score_images"]
