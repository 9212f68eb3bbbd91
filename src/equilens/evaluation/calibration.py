"""Calibrated false-alarm rates for anomaly scores: conformal p-values against normal lenses.
A model's calibration set is the scores of ``no_sub`` images it neither trained on nor chose
its weights by; a score s gets p = (1 + #{calibration scores >= s}) / (n + 1), so a normal lens
exchangeable with that set has P(p <= alpha) <= alpha (split conformal prediction)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.stats import binomtest

from equilens.config import FALSE_ALARM_RATES


def calibration_record(scores: np.ndarray, source: str) -> dict[str, Any]:
    """What a model stores to turn scores into p-values: its sorted calibration scores (normal
    lenses only) and ``source``, a sentence saying which images they are."""
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    if len(scores) == 0:
        raise ValueError("a calibration set needs at least one normal image")
    return {"scores": scores.tolist(), "n": len(scores), "source": source}


def conformal_p_values(calibration_scores: Sequence[float], scores: np.ndarray) -> np.ndarray:
    """(N,) p-values of ``scores`` against ``calibration_scores`` (any order); higher scores are more anomalous."""
    calibration = np.sort(np.asarray(calibration_scores, dtype=np.float64))
    at_least = len(calibration) - np.searchsorted(calibration, np.asarray(scores, dtype=np.float64), side="left")
    return (1.0 + at_least) / (len(calibration) + 1.0)


def false_alarm_table(
    p_values: np.ndarray, labels: np.ndarray, rates: Sequence[float] = FALSE_ALARM_RATES
) -> list[dict[str, Any]]:
    """What "flag p <= alpha" does on a labelled set (``labels`` 0: ``no_sub``), per nominal rate alpha.

    Returns:
        Per rate: ``false_alarm_rate`` with its exact binomial 95% interval, ``true_positive_rate``, counts.
    """
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
