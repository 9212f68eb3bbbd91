"""Detection sensitivity per subhalo mass (M☉), from continuous scores: per mass bin the ROC AUC
and true-positive rates at fixed false-positive rates, and the mass at which the AUC reaches 0.9."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from equilens.config import BOOTSTRAP_REPLICATES
from equilens.errors import InputError
from equilens.evaluation.metrics import auc_and_tpr_at_fpr, auc_with_ci, bootstrap

AUC_TARGET = 0.9
#: False-positive rates at which the true-positive rate is reported.
FPR_LEVELS = (0.1, 0.01)
MASS_RANGE_PERCENTILES = (16, 84)
EVALUATE_BIN_DEX = 0.5


def check_mass_edges(mass_edges_msun: Sequence[float]) -> np.ndarray:
    """Bin edges (M☉) as a float array; InputError unless >= 2 finite, positive, increasing values."""
    edges = np.asarray(mass_edges_msun, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.isfinite(edges)) or (edges <= 0).any() or (np.diff(edges) <= 0).any():
        raise InputError(f"subhalo mass bin edges must be at least two increasing positive numbers in M☉ "
                         f"(e.g. 1e8 1e9 1e10), got {list(mass_edges_msun)}")
    return edges


def bin_centres(mass_edges_msun: np.ndarray) -> np.ndarray:
    """(bins,) geometric-mean centres of bins with edges (bins + 1,)."""
    return np.sqrt(mass_edges_msun[:-1] * mass_edges_msun[1:])


def log_mass_at_auc(centres_msun: np.ndarray, aucs: np.ndarray, target: float = AUC_TARGET) -> float:
    """log10 of the mass where the AUC, interpolated log-linearly between bin centres, last rises
    through ``target``: every bin above has AUC >= target. -inf if all bins are, +inf if the highest is not."""
    below = np.flatnonzero(np.asarray(aucs) < target)
    if len(below) == 0:
        return -math.inf
    i = below[-1]
    if i == len(aucs) - 1:
        return math.inf
    log_low, log_high = np.log10(centres_msun[i]), np.log10(centres_msun[i + 1])
    return float(log_low + (target - aucs[i]) / (aucs[i + 1] - aucs[i]) * (log_high - log_low))


def _msun(log_mass: float) -> float | None:
    return float(10**log_mass) if math.isfinite(log_mass) else None


def mass_at_auc_msun(centres_msun: np.ndarray, aucs: np.ndarray, target: float = AUC_TARGET) -> float | None:
    """:func:`log_mass_at_auc` in M☉; None where it lies beyond the bins."""
    return _msun(log_mass_at_auc(centres_msun, aucs, target))


def sensitivity_curve(
    scores_without: np.ndarray, scores_with: np.ndarray, mass_edges_msun: Sequence[float], n_bootstrap: int = BOOTSTRAP_REPLICATES,
    seed: int = 0,
) -> dict[str, Any]:
    """Sensitivity of a detector from its scores of paired twins.

    Args:
        scores_without: (n,) scores of n images without a subhalo.
        scores_with: (bins, n) scores of their twins with one subhalo, a row per mass bin.
        mass_edges_msun: (bins + 1,) increasing bin edges in M☉.
        n_bootstrap: replicates, each resampling the n pairs alike in every bin.

    Returns:
        ``bins`` (per bin: masses, ``n_pairs``, ``auc``, ``tpr_at_fpr_<f>``, 95% intervals) and
        ``mass_at_auc_0.9_msun`` (None outside the bins) with its 16-84% range and a note.
    """
    edges = check_mass_edges(mass_edges_msun)
    scores_without = np.asarray(scores_without, dtype=np.float64)
    scores_with = np.asarray(scores_with, dtype=np.float64)
    n = len(scores_without)
    if scores_with.shape != (len(edges) - 1, n):
        raise ValueError(f"scores_with must have shape (bins, n) = ({len(edges) - 1}, {n}), got {scores_with.shape}")
    labels = np.r_[np.zeros(n, int), np.ones(n, int)]

    def summary(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return auc_and_tpr_at_fpr(labels, scores, FPR_LEVELS)

    centres = bin_centres(edges)
    bins, replicate_aucs = [], []
    for b, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        scores = np.r_[scores_without, scores_with[b]]
        point = summary(labels, scores)
        replicates = bootstrap(labels, scores, summary, n_bootstrap, seed, paired=True)
        intervals = np.percentile(replicates, [2.5, 97.5], axis=0).T if n_bootstrap else np.c_[point, point]
        row = {"mass_low_msun": float(low), "mass_high_msun": float(high), "mass_centre_msun": float(centres[b]),
               "n_pairs": n, "auc": float(point[0]), "auc_ci95": intervals[0].tolist()}
        for k, fpr in enumerate(FPR_LEVELS, start=1):
            row[f"tpr_at_fpr_{fpr:g}"] = float(point[k])
            row[f"tpr_at_fpr_{fpr:g}_ci95"] = intervals[k].tolist()
        bins.append(row)
        replicate_aucs.append(replicates[:, 0] if n_bootstrap else np.empty(0))

    log_mass = log_mass_at_auc(centres, np.array([row["auc"] for row in bins]))
    replicate_log_masses = np.array([log_mass_at_auc(centres, aucs) for aucs in np.array(replicate_aucs).T])
    if len(replicate_log_masses):
        # "nearest": replicates outside the bins (±inf) give no NaN.
        low, high = np.percentile(replicate_log_masses, MASS_RANGE_PERCENTILES, method="nearest")
        mass_range = [_msun(low), _msun(high)]
    else:
        mass_range = [_msun(log_mass), _msun(log_mass)]
    if math.isfinite(log_mass):
        note = (f"AUC {AUC_TARGET} crossed between bin centres (log-linear interpolation); every bin above "
                "has AUC >= it")
    elif log_mass > 0:
        note = f"AUC below {AUC_TARGET} in the highest bin: never reached"
    else:
        note = f"AUC >= {AUC_TARGET} in every bin: reached below the lowest bin centre"
    key = f"mass_at_auc_{AUC_TARGET:g}"
    return {
        "bins": bins,
        f"{key}_msun": _msun(log_mass),
        f"{key}_range68_msun": mass_range,
        f"{key}_note": note,
        "bootstrap": {
            "n": n_bootstrap,
            "method": "pairs resampled (each image with its twin), the same resamples in every bin; "
                      f"intervals: percentiles 2.5-97.5 per bin, {MASS_RANGE_PERCENTILES[0]}-{MASS_RANGE_PERCENTILES[1]} "
                      f"for the mass at AUC {AUC_TARGET:g} (null: beyond the bins)",
            "fraction_never_reached": float(np.mean(replicate_log_masses == math.inf)) if n_bootstrap else None,
        },
    }


def auc_by_mass(
    masses_msun: np.ndarray, labels: np.ndarray, scores: np.ndarray, n_bootstrap: int = BOOTSTRAP_REPLICATES, seed: int = 0
) -> list[dict[str, Any]]:
    """AUC with 95% CI per 0.5-dex bin of the largest subhalo's mass ``masses_msun`` (N,) in M☉ (0 or NaN:
    none); a bin's negatives are all images without substructure. Empty bins are left out."""
    masses = np.nan_to_num(np.asarray(masses_msun, dtype=float))
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    with_mass = (labels == 1) & (masses > 0)
    negative = labels == 0
    if not with_mass.any() or not negative.any():
        return []
    log_mass = np.log10(masses[with_mass])
    low = math.floor(log_mass.min() / EVALUATE_BIN_DEX) * EVALUATE_BIN_DEX
    high = max(math.ceil(log_mass.max() / EVALUATE_BIN_DEX) * EVALUATE_BIN_DEX, low + EVALUATE_BIN_DEX)
    edges = 10 ** np.arange(low, high + EVALUATE_BIN_DEX / 2, EVALUATE_BIN_DEX)
    which = np.clip(np.searchsorted(edges, masses, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b, centre in enumerate(bin_centres(edges)):
        positive = with_mass & (which == b)
        if not positive.any():
            continue
        chosen = positive | negative
        value, ci_low, ci_high = auc_with_ci(labels[chosen], scores[chosen], n_bootstrap, seed)
        rows.append({"mass_low_msun": float(edges[b]), "mass_high_msun": float(edges[b + 1]),
                     "mass_centre_msun": float(centre), "n_substructure": int(positive.sum()),
                     "n_none": int(negative.sum()), "auc": value, "auc_ci95": [ci_low, ci_high]})
    return rows
