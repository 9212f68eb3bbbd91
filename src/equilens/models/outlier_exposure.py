"""Outlier exposure: a classifier of plain lenses against simulated substructure, used as an anomaly detector.

    image (N, C, H, W) -> classifier (equilens.models.SteerableCNN or PlainCNN, 2 outputs)
      -> logits (N, 2): plain lens, substructure
    anomaly score = logit(substructure) - logit(plain lens)

The classifier is trained (``equilens train --task anomaly --outliers SIM``) on the real images
of the data's negative class (``no_sub``) and on the images of a simulated folder (``equilens
simulate``): its plain lenses beside the real ones, its lenses with substructure as the
outliers. No image of the data's own positive classes is trained on; what the model knows of
substructure comes from the simulator. The score is the classifier's log-odds, so it is
invariant exactly when the classifier is (the steerable one is, under its group's exact
actions); ``equilens predict`` turns it into a p-value against the run's validation ``no_sub``
images as it does an autoencoder's score.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class OutlierExposureDetector(nn.Module):
    """Anomaly detector around a two-class classifier (plain lens, substructure).

    Args:
        classifier: :func:`equilens.models.build_model` config of the classifier
            (``num_classes`` 2: class 0 plain lenses, class 1 substructure).
    """

    task = "anomaly"

    def __init__(self, classifier: dict[str, Any]):
        super().__init__()
        from equilens.models import build_model  # this module is imported by equilens.models

        if classifier.get("num_classes") != 2:
            raise ValueError(f"the outlier-exposure classifier needs num_classes 2, not {classifier.get('num_classes')}")
        self.classifier = build_model(classifier)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N, 2) logits: plain lens, substructure."""
        return self.classifier(images)

    def anomaly_score(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N,) log-odds of substructure against a plain lens."""
        return self.score_of_logits(self(images))

    @staticmethod
    def score_of_logits(logits: torch.Tensor) -> torch.Tensor:
        """:meth:`anomaly_score` of (N, 2) logits already computed."""
        return logits[:, 1] - logits[:, 0]

    def export(self) -> "OutlierExposureDetector":
        """A copy around the classifier's plain-torch export (see equilens.models.for_inference)."""
        exported = _ExportedDetector(self.classifier.export())
        return exported.eval()


class _ExportedDetector(OutlierExposureDetector):
    """:class:`OutlierExposureDetector` around an exported classifier (inference only)."""

    def __init__(self, classifier: nn.Module):
        nn.Module.__init__(self)
        self.classifier = classifier
