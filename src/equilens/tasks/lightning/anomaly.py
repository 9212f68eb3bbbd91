"""Unsupervised substructure detection: an autoencoder trained to reconstruct ``no_sub`` lenses."""

from __future__ import annotations

from torchmetrics import MeanMetric
from torchmetrics.classification import AUROC

from equilens.errors import InputError
from equilens.tasks.lightning.base import LensModule


class AnomalyModule(LensModule):
    """Trains an autoencoder (``model.task == "anomaly"``) on ``no_sub`` images only, by its ``reconstruction_loss``
    inside its ring (outside, noise and lens light slow learning the arcs). Logs ``train_loss`` and ``val_loss`` on
    ``no_sub`` images and ``val_auc`` of ``model.anomaly_score``, substructure against ``no_sub`` on every validation
    class; labels serve only these figures and refusing a training batch that is not all ``no_sub``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.model.task != "anomaly":
            raise InputError(f"the anomaly task needs an autoencoder, not a {self.model.task!r} model")
        self.val_auc = AUROC(task="binary")
        self.val_loss = MeanMetric()

    def training_step(self, batch, batch_idx):
        images, labels = batch
        if (labels != 0).any():
            raise InputError(
                f"anomaly training batch {batch_idx} holds {int((labels != 0).sum())} image(s) that "
                f"are not '{self.hparams.classes[0]}': the autoencoder must only see normal lenses"
            )
        images, labels = self.augmented(images, labels)
        loss = self.model.reconstruction_loss(images).mean()
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        # One reconstruction serves both the score and the loss.
        residual = self.model.residual(images)
        scores = self.model.score_of_residual(residual)
        normal = labels == 0
        if normal.any():
            self.val_loss.update(self.model.loss_of_residual(residual[normal]))
        self.val_auc.update(scores, (labels > 0).long())
        self.log("val_loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val_auc", self.val_auc, on_epoch=True, prog_bar=True)
