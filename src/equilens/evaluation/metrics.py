"""Metrics from continuous scores: AUCs with bootstrap intervals, confusion matrices, invariance
under rotations and flips, and a regression's errors and interval coverage."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import kornia.geometry.transform as KT
import numpy as np
import torch
from scipy.stats import norm
from sklearn.metrics import auc as area_under_curve, confusion_matrix, mean_absolute_error, mean_squared_error, roc_auc_score, roc_curve
from torch import nn

from equilens.config import BOOTSTRAP_REPLICATES, REGRESSION_CALIBRATION_LEVELS, REGRESSION_COVERAGES, REGRESSION_TRUTH_BINS
from equilens.models import substructure_score
from equilens.testing import invariance_changes


def bootstrap(
    labels: np.ndarray, scores: np.ndarray, statistic: Callable[[np.ndarray, np.ndarray], Any], n_bootstrap: int = BOOTSTRAP_REPLICATES,
    seed: int = 0, paired: bool = False,
) -> np.ndarray:
    """``statistic(labels, scores)`` of (N,) arrays on ``n_bootstrap`` resamples, stratified by class
    or, when ``paired`` (N/2 negatives, then their twins in order), by pairs: (n_bootstrap, ...).
    One ``seed`` and N draw the same resamples in every call."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    replicates = []
    if paired:
        half = len(labels) // 2
        if len(labels) != 2 * half or (labels[:half] != 0).any() or (labels[half:] != 1).any():
            raise ValueError("paired bootstrap needs N/2 negatives followed by their N/2 positive twins")
        for _ in range(n_bootstrap):
            pairs = rng.integers(0, half, half)
            index = np.r_[pairs, half + pairs]
            replicates.append(statistic(labels[index], scores[index]))
        return np.asarray(replicates)
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    replicate_labels = np.r_[np.ones(len(positive), int), np.zeros(len(negative), int)]
    for _ in range(n_bootstrap):
        index = np.r_[positive[rng.integers(0, len(positive), len(positive))],
                      negative[rng.integers(0, len(negative), len(negative))]]
        replicates.append(statistic(replicate_labels, scores[index]))
    return np.asarray(replicates)


def auc_with_ci(
    labels: np.ndarray, scores: np.ndarray, n_bootstrap: int = BOOTSTRAP_REPLICATES, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """ROC AUC of ``scores`` (N,) for binary ``labels`` (N,), with a stratified percentile bootstrap interval.

    Returns:
        (auc, low, high).
    """
    auc = float(roc_auc_score(np.asarray(labels).astype(int), np.asarray(scores, dtype=np.float64)))
    replicates = bootstrap(labels, scores, roc_auc_score, n_bootstrap, seed)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail]) if len(replicates) else (auc, auc)
    return auc, float(low), float(high)


def auc_and_tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: Sequence[float]) -> np.ndarray:
    """``[AUC, TPR at fpr[0], ...]`` from one ROC curve, each TPR interpolated linearly between its points."""
    roc_fpr, roc_tpr, _ = roc_curve(np.asarray(labels).astype(int), scores)
    return np.r_[area_under_curve(roc_fpr, roc_tpr), np.interp(fpr, roc_fpr, roc_tpr)]


def tpr_above_negatives(labels: np.ndarray, scores: np.ndarray, rank: int) -> float:
    """The fraction of positives scored above the ``rank``-th highest-scored negative (1: above every
    negative): the lens-finding challenge's TPR0 (rank 1) and TPR10 (rank 10), Metcalf et al. 2019.
    Every positive counts where there are fewer negatives than ``rank``."""
    labels, scores = np.asarray(labels).astype(bool), np.asarray(scores, dtype=np.float64)
    negatives = np.sort(scores[~labels])[::-1]
    if len(negatives) < rank:
        return 1.0
    return float((scores[labels] > negatives[rank - 1]).mean())


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximises sensitivity + specificity - 1 on these labels."""
    fpr, tpr, thresholds = roc_curve(labels, scores)
    return float(thresholds[np.argmax(tpr - fpr)])


def binary_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float, n_bootstrap: int = BOOTSTRAP_REPLICATES, seed: int = 0
) -> dict[str, Any]:
    """AUC with CI, ROC curve, and the confusion matrix of ``scores >= threshold``.

    Args:
        labels: (N,) 1 = substructure, 0 = none.
        scores: (N,) higher means more substructure-like.
        threshold: decision threshold on the scores for the confusion matrix.
    """
    labels = np.asarray(labels).astype(int)
    auc, low, high = auc_with_ci(labels, scores, n_bootstrap, seed)
    fpr, tpr, thresholds = roc_curve(labels, scores)
    predicted = (np.asarray(scores) >= threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1])
    return {
        "auc": auc,
        "auc_ci95": [low, high],
        "n_bootstrap": n_bootstrap,
        "threshold": float(threshold),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
        "confusion_matrix_layout": "rows: true [none, substructure]; columns: predicted [none, substructure]",
        "accuracy": float((tp + tn) / len(labels)),
        "true_positive_rate": float(tp / max(tp + fn, 1)),
        "true_negative_rate": float(tn / max(tn + fp, 1)),
        "n_substructure": int(labels.sum()),
        "n_none": int((labels == 0).sum()),
        "roc_curve": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": np.nan_to_num(thresholds.astype(np.float64), posinf=1e300).tolist()},
    }


def _class_resamples(labels: np.ndarray, n_classes: int, n_bootstrap: int, seed: int):
    """``n_bootstrap`` index arrays resampled within each class; one ``seed``, the same resamples."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == index) for index in range(n_classes)]
    for _ in range(n_bootstrap):
        yield np.concatenate([m[rng.integers(0, len(m), len(m))] for m in members])


def macro_auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean over classes of the one-vs-rest ROC AUC of ``probabilities`` (N, K) for ``labels`` (N,) in 0..K-1."""
    return float(np.mean([roc_auc_score(labels == k, probabilities[:, k]) for k in range(probabilities.shape[1])]))


def multiclass_metrics(
    labels: np.ndarray, probabilities: np.ndarray, classes: list[str], n_bootstrap: int = BOOTSTRAP_REPLICATES, seed: int = 0
) -> dict[str, Any]:
    """One-vs-rest AUC per class and their macro mean, with 95% CIs, and the argmax confusion matrix."""
    labels = np.asarray(labels)
    macro_replicates = [macro_auc(labels[index], probabilities[index]) for index in _class_resamples(labels, len(classes), n_bootstrap, seed)]
    per_class = {}
    for index, name in enumerate(classes):
        auc, low, high = auc_with_ci(labels == index, probabilities[:, index], n_bootstrap, seed)
        fpr, tpr, _ = roc_curve(labels == index, probabilities[:, index])
        per_class[name] = {"auc": auc, "auc_ci95": [low, high], "roc_curve": {"fpr": fpr.tolist(), "tpr": tpr.tolist()}}
    matrix = confusion_matrix(labels, probabilities.argmax(1), labels=list(range(len(classes))))
    return {
        "one_vs_rest": per_class,
        "macro_auc": macro_auc(labels, probabilities),
        "macro_auc_ci95": [float(v) for v in np.percentile(macro_replicates, [2.5, 97.5])] if macro_replicates else None,
        "confusion_matrix": matrix.tolist(),
        "confusion_matrix_layout": f"rows: true {classes}; columns: predicted (argmax)",
        "accuracy": float(np.trace(matrix) / matrix.sum()),
    }


def macro_auc_difference(
    labels: np.ndarray, probabilities_a: np.ndarray, probabilities_b: np.ndarray, n_bootstrap: int = BOOTSTRAP_REPLICATES, seed: int = 0
) -> tuple[float, float, float]:
    """(difference, low, high): macro AUC of models A - B, probabilities (N, K), on one set, with a
    paired 95% bootstrap interval (both scored on each resample, so what they share cancels)."""
    labels = np.asarray(labels)
    replicates = [macro_auc(labels[i], probabilities_a[i]) - macro_auc(labels[i], probabilities_b[i])
                  for i in _class_resamples(labels, probabilities_a.shape[1], n_bootstrap, seed)]
    low, high = np.percentile(replicates, [2.5, 97.5])
    return macro_auc(labels, probabilities_a) - macro_auc(labels, probabilities_b), float(low), float(high)


@torch.inference_mode()
def invariance_errors(model: nn.Module, images: torch.Tensor, batch_size: int = 128) -> dict[str, float]:
    """How much the substructure score of ``images`` (N, 1, H, W) moves under rotations and flips.

    Returns:
        ``rot90_max_abs_change`` and ``flip_max_abs_change``: max |delta score| over images and the
        turns or flips of the square; ``rot45_median_abs_change``: the median at 45 degrees
        (bicubic: bilinear blurs enough to move the score itself).
    """
    device = next(model.parameters()).device
    rot90, flip, rot45 = [], [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        base = substructure_score(model, batch)
        for name, change in invariance_changes(lambda x: substructure_score(model, x), batch, "D4").items():
            (rot90 if name.startswith("rot") else flip).append(change)
        turned = KT.rotate(batch, torch.full((len(batch),), 45.0, device=device), mode="bicubic")
        rot45.append((substructure_score(model, turned) - base).abs().cpu())
    return {
        "rot90_max_abs_change": float(max(rot90)),
        "flip_max_abs_change": float(max(flip)),
        "rot45_median_abs_change": float(torch.cat(rot45).median()),
    }


def regression_metrics(
    truth: np.ndarray, mean: np.ndarray, sigma: np.ndarray, coverages: Sequence[float] = REGRESSION_COVERAGES,
    levels: Sequence[float] = REGRESSION_CALIBRATION_LEVELS, n_bootstrap: int = BOOTSTRAP_REPLICATES, seed: int = 0,
    truth_bins: int = REGRESSION_TRUTH_BINS,
) -> dict[str, Any]:
    """Errors and interval coverage of Gaussian predictions (mean, sigma) of (N,) ``truth``, in its units:
    MAE (95% bootstrap CI), RMSE, bias, median error, the MAE of predicting the mean, coverage of
    mean ± z sigma at ``coverages`` and ``levels``, and all these per ``truth_bins`` bins of the truth."""
    truth, mean, sigma = (np.asarray(a, dtype=np.float64) for a in (truth, mean, sigma))
    error = mean - truth
    z = np.abs(error) / np.maximum(sigma, 1e-300)
    rng = np.random.default_rng(seed)
    replicates = [np.abs(error[rng.integers(0, len(error), len(error))]).mean() for _ in range(n_bootstrap)]

    def covered(level: float, where: np.ndarray | slice = slice(None)) -> float:
        return float((z[where] <= norm.ppf(0.5 + level / 2)).mean())

    edges = np.linspace(truth.min(), truth.max(), truth_bins + 1) if len(truth) else np.zeros(0)
    # Inner edges only: the last bin holds the largest true value.
    index = np.digitize(truth, edges[1:-1])
    bins = [(low, high, index == i) for i, (low, high) in enumerate(zip(edges[:-1], edges[1:]))]

    return {
        "n_images": int(len(truth)),
        "mae": float(mean_absolute_error(truth, mean)),
        "mae_ci95": [float(v) for v in np.percentile(replicates, [2.5, 97.5])] if replicates else None,
        "rmse": float(np.sqrt(mean_squared_error(truth, mean))),
        "bias": float(error.mean()),
        "median_absolute_error": float(np.median(np.abs(error))),
        "mae_of_predicting_the_mean": float(np.abs(truth - truth.mean()).mean()),
        "median_sigma": float(np.median(sigma)),
        "interval_coverage": {f"{level:g}": {"nominal": level, "empirical": covered(level),
                                             "mean_width": float(2 * norm.ppf(0.5 + level / 2) * sigma.mean())}
                              for level in coverages},
        "calibration": {"nominal": list(levels), "empirical": [covered(level) for level in levels]},
        "by_true_value": [{"low": float(low), "high": float(high), "n": int(where.sum()),
                           "mae": float(np.abs(error[where]).mean()), "bias": float(error[where].mean()),
                           "median_sigma": float(np.median(sigma[where])),
                           "coverage": {f"{level:g}": covered(level, where) for level in coverages}}
                          for low, high, where in bins if where.any()],
    }
