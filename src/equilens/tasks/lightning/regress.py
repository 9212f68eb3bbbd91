"""Regression of one number per image (e.g. the axion mass) by the Gaussian NLL (:mod:`equilens.regression`)."""

from __future__ import annotations

from typing import Any

from torchmetrics import MeanAbsoluteError, MeanMetric

from equilens.regression import gaussian_nll, to_user_units
from equilens.tasks.lightning.base import LensModule


class RegressionModule(LensModule):
    """Trains a two-output invariant model (mean, log sigma) on targets served in place of labels; logs
    ``train_loss``, ``val_loss`` (Gaussian NLL) and ``val_mae`` (in the target's units).

    Args:
        regression: :func:`equilens.regression.regression_record`, whose mean and std standardize the targets,
            so the learning rate means the same in any unit."""

    monitor = ("val_loss", "min")

    def __init__(self, *args, regression: dict[str, Any], **kwargs):
        super().__init__(*args, **kwargs)
        self.regression = dict(regression)
        self.val_loss = MeanMetric()
        self.val_mae = MeanAbsoluteError()

    def standardized(self, targets):
        return (targets.float() - self.regression["mean"]) / self.regression["std"]

    def training_step(self, batch, batch_idx):
        images, targets = self.augmented(*batch)
        loss = gaussian_nll(self.model(images), self.standardized(targets))
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(targets), sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        images, targets = batch
        outputs = self.model(images)
        self.watch_outputs(outputs)
        self.val_loss.update(gaussian_nll(outputs, self.standardized(targets)), weight=len(targets))
        self.val_mae.update(to_user_units(outputs, self.regression)[0], targets.float())
        self.log("val_loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val_mae", self.val_mae, on_epoch=True, prog_bar=True)
