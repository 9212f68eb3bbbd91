"""Outlier exposure: the anomaly task trained as a classifier of plain lenses against simulated substructure."""

from __future__ import annotations

import torch.nn.functional as F
from torchmetrics.classification import AUROC

from equilens.errors import InputError
from equilens.tasks.lightning.classify import ClassifierModule


class OutlierExposureModule(ClassifierModule):
    """Trains an :class:`~equilens.models.outlier_exposure.OutlierExposureDetector` by cross-entropy on the real
    ``no_sub`` training images (label 0) and the simulated ``--outliers`` folder (0: plain, 1: substructure).
    ``val_auc`` and ``val_loss``: substructure (label > 0) against ``no_sub`` on every real validation class."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if getattr(self.model, "classifier", None) is None or self.model.task != "anomaly":
            raise InputError(f"outlier exposure needs an outlier-exposure detector, not a {type(self.model).__name__}")
        # Substructure against none, whatever the number of the data's classes (no_sub, cdm, axion ...).
        self.val_auc = AUROC(task="binary")

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        logits = self.model(images)
        substructure = (labels > 0).long()
        self.val_auc.update(self.model.score_of_logits(logits), substructure)
        self.log("val_loss", F.cross_entropy(logits, substructure), on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)
        self.log("val_auc", self.val_auc, on_epoch=True, prog_bar=True)
