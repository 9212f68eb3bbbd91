"""Calibrated false-alarm rates for anomaly scores: conformal p-values against normal lenses.

A model's *calibration set* is the anomaly scores of ``no_sub`` images that it never trained
on and that did not choose its weights. A new image's p-value is the fraction of those normal
lenses at least as anomalous as it is,

    p = (1 + #{calibration scores >= s}) / (n + 1),

so that, for a normal lens exchangeable with the calibration set, P(p <= alpha) <= alpha for
every alpha (split conformal prediction): "flag p <= 0.05" flags at most 5% of normal lenses
(and, with distinct scores, more than 5% - 1 / (n + 1) of them), whatever the score's scale.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.stats import binomtest

from equilens.config import FALSE_ALARM_RATES


def calibration_record(scores: np.ndarray, source: str) -> dict[str, Any]:
    """What a model stores to turn its scores into p-values: the sorted calibration scores
    (of normal lenses only) and a sentence saying which images they are and why they qualify."""
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    if len(scores) == 0:
        raise ValueError("a calibration set needs at least one normal image")
    return {"scores": scores.tolist(), "n": len(scores), "source": source}


def conformal_p_values(calibration_scores: Sequence[float], scores: np.ndarray) -> np.ndarray:
    """(N,) p-values of ``scores`` against ``calibration_scores`` (any order): (1 + #{calibration
    >= s}) / (n + 1); higher scores are more anomalous."""
    calibration = np.sort(np.asarray(calibration_scores, dtype=np.float64))
    at_least = len(calibration) - np.searchsorted(calibration, np.asarray(scores, dtype=np.float64), side="left")
    return (1.0 + at_least) / (len(calibration) + 1.0)


def false_alarm_table(
    p_values: np.ndarray, labels: np.ndarray, rates: Sequence[float] = FALSE_ALARM_RATES
) -> list[dict[str, Any]]:
    """Per nominal false-alarm rate alpha, what "flag p <= alpha" does on a labelled set:
    ``false_alarm_rate`` (flagged ``no_sub``, label 0, with its exact (Clopper-Pearson) binomial 95% interval)
    and ``true_positive_rate`` (flagged substructure, label > 0), with the counts behind them."""
    p_values = np.asarray(p_values, dtype=np.float64)
    normal = np.asarray(labels) == 0
    rows = []
    for alpha in rates:
        flagged = p_values <= alpha
        false_alarms, positives = int(flagged[normal].sum()), int(flagged[~normal].sum())
        n_normal, n_anomalous = int(normal.sum()), int((~normal).sum())
        row: dict[str, Any] = {"nominal": float(alpha), "n_none": n_normal, "n_substructure": n_anomalous}
        if n_normal:
            interval = binomtest(false_alarms, n_normal).proportion_ci(0.95, method="exact")
            row |= {"false_alarm_rate": false_alarms / n_normal, "false_alarm_rate_ci95": [interval.low, interval.high]}
        if n_anomalous:
            row["true_positive_rate"] = positives / n_anomalous
        rows.append(row)
    return rows
