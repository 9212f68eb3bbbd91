"""Report figures computed from scores."""

from __future__ import annotations

import numpy as np


def test_tpr0_and_tpr10_count_positives_above_the_top_negatives():
    from equilens.evaluation.metrics import tpr_above_negatives

    labels = np.r_[np.zeros(20, int), np.ones(4, int)]
    scores = np.r_[np.linspace(0.0, 0.9, 20), [0.95, 0.85, 0.5, 0.1]]
    assert tpr_above_negatives(labels, scores, 1) == 0.25  # only 0.95 beats the highest negative, 0.9
    assert tpr_above_negatives(labels, scores, 10) == 0.75  # the 10th highest negative is 0.47
    assert tpr_above_negatives(labels[-6:], scores[-6:], 10) == 1.0  # fewer negatives than 10
