"""Whether a classifier's probabilities mean what they say: the reliability diagram and the
expected calibration error (ECE) of its top-label confidence (Guo et al. 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Equal-width confidence bins of the reliability diagram and the ECE. Set by hand (the usual 15).
RELIABILITY_BINS = 15


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = RELIABILITY_BINS) -> dict[str, Any]:
    """Top-label reliability of (N, K) ``probabilities`` against (N,) ``labels``.

    Returns ``ece`` (sum over bins of |accuracy - confidence| weighted by the bin's share of the
    images) and per bin (equal-width in confidence, from 1/K to 1; empty bins left out):
    ``confidence`` (mean top probability), ``accuracy`` (fraction whose top class is the label)
    and ``count``.
    """
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels)
    confidence, predicted = probabilities.max(axis=1), probabilities.argmax(axis=1)
    correct = (predicted == labels).astype(np.float64)
    edges = np.linspace(1.0 / probabilities.shape[1], 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    rows = [(confidence[which == b].mean(), correct[which == b].mean(), int((which == b).sum()))
            for b in range(bins) if (which == b).any()]
    ece = sum(count * abs(acc - conf) for conf, acc, count in rows) / max(1, len(labels))
    return {"ece": float(ece), "bins": bins, "confidence": [float(r[0]) for r in rows],
            "accuracy": [float(r[1]) for r in rows], "count": [r[2] for r in rows]}
