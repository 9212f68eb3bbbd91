"""Outlier exposure: a classifier of plain lenses against simulated substructure as an anomaly detector
(design: docs/api/models.md)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from equilens.models import build_model
from equilens.models.base import LensNetwork


class OutlierExposureDetector(LensNetwork):
    """Anomaly detector around a classifier: ``classifier`` is its :func:`equilens.models.build_model`
    config, ``num_classes`` 2 (class 0 plain lens, 1 substructure)."""

    task = "anomaly"

    def __init__(self, classifier: dict[str, Any]):
        super().__init__()
        if classifier.get("num_classes") != 2:
            raise ValueError(f"the outlier-exposure classifier needs num_classes 2, not {classifier.get('num_classes')}")
        self.classifier = build_model(classifier)

    @property
    def group(self) -> str | None:
        return self.classifier.group

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
        return _ExportedDetector(self.classifier.export()).eval()


class _ExportedDetector(OutlierExposureDetector):
    """:class:`OutlierExposureDetector` around an exported classifier (inference only)."""

    def __init__(self, classifier: nn.Module):
        LensNetwork.__init__(self)
        self.classifier = classifier
