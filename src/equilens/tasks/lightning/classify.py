"""Supervised substructure classification: cross-entropy, validation AUC from probabilities."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.classification import AUROC

from equilens.tasks.lightning.base import LensModule


class ClassifierModule(LensModule):
    """Trains a classifier; logs ``train_loss``, ``val_loss`` and ``val_auc`` per epoch. ``val_auc`` is of
    p(substructure) = 1 - p(no_sub) for two classes, macro one-vs-rest for more; ``label_smoothing`` smooths
    the training targets only."""

    def __init__(self, *args, label_smoothing: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_smoothing = label_smoothing
        num_classes = len(self.hparams.classes)
        self.binary = num_classes == 2
        self.val_auc = AUROC(task="binary") if self.binary else AUROC(task="multiclass", num_classes=num_classes)

    def training_step(self, batch, batch_idx):
        images, labels = self.augmented(*batch)
        loss = F.cross_entropy(self.model(images), labels, label_smoothing=self.label_smoothing)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        logits = self.model(images)
        loss = F.cross_entropy(logits, labels)
        self.watch_outputs(logits)
        probabilities = torch.softmax(logits, dim=1)
        if self.binary:
            self.val_auc.update(1.0 - probabilities[:, 0], labels)
        else:
            self.val_auc.update(probabilities, labels)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)
        self.log("val_auc", self.val_auc, on_epoch=True, prog_bar=True)
