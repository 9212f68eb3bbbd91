"""Outlier exposure: the anomaly task trained as a classifier of plain lenses against simulated substructure."""

from __future__ import annotations

import torch.nn.functional as F
from torchmetrics.classification import AUROC

from equilens.errors import InputError
from equilens.tasks.lightning.classify import ClassifierModule


class OutlierExposureModule(ClassifierModule):
    """Trains an :class:`~equilens.models.outlier_exposure.OutlierExposureDetector`.

    Training batches hold the real ``no_sub`` images of the training split (label 0) and the
    images of the simulated ``--outliers`` folder (label 0 for its plain lenses, 1 for its
    lenses with substructure): the cross-entropy of :class:`ClassifierModule`. Validation is on
    the real validation split, every class of it: ``val_auc`` is the ROC AUC of the anomaly
    score for substructure (label > 0) against ``no_sub``, ``val_loss`` the cross-entropy of
    the two-class logits on those labels. Real labels other than ``no_sub`` are used only for
    these validation figures, as by the autoencoder.
    """

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
