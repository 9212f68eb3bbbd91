"""Batch-norm statistics recomputed for the current weights before every validation.

BatchNorm's running statistics are an exponential average over the last ~10 batches (momentum
0.1), taken while the weights were still changing; at a high learning rate they lag the
weights, and the model's outputs drift by a constant offset from epoch to epoch (seen as
validation-loss spikes at a steady AUC, and a poor threshold). "Precise BN" replaces them, just
before validation (and so in every checkpoint), with plain averages over un-augmented training
batches under the current weights, which mends the threshold at the same AUC (measured on a
quickstart run; the figures are in the documentation's history page).
"""

from __future__ import annotations

from itertools import islice

import lightning.pytorch as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch.optim.swa_utils import update_bn


class PreciseBatchNorm(L.Callback):
    """Recompute BN statistics from ``batches`` training batches before each validation."""

    def __init__(self, batches: int = 16):
        self.batches = batches

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        loader = trainer.train_dataloader  # yields un-augmented images; augmentation is in the module
        # Twin groups (G, K x C, H, W) (see LensDataModule) as K single images of C bands each.
        images = (batch[0].to(pl_module.device).reshape(-1, pl_module.channels, *batch[0].shape[-2:])
                  for batch in islice(loader, self.batches))
        with torch.no_grad():
            update_bn(images, pl_module.model)
