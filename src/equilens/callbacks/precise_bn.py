"""Precise BN: batch-norm statistics recomputed for the current weights before every validation. Running averages lag
fast-changing weights, shifting outputs and threshold between epochs; plain averages over un-augmented batches mend it."""

from __future__ import annotations

from itertools import islice

import lightning.pytorch as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch.optim.swa_utils import update_bn


class PreciseBatchNorm(L.Callback):
    """Recompute BN statistics from ``batches`` training batches before each validation (the unlabelled
    batches, when a run adapts to unlabelled images: the model is kept for their domain)."""

    def __init__(self, batches: int = 16):
        self.batches = batches

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        loader = trainer.train_dataloader
        if isinstance(loader, dict):  # adapting to unlabelled images: the statistics of their domain (AdaBN, Li et al. 2016)
            loader = loader["unlabelled"]
        # Twin groups (G, K x C, H, W) (see LensDataModule) as K single images of C bands each.
        images = (batch[0].to(pl_module.device).reshape(-1, pl_module.channels, *batch[0].shape[-2:])
                  for batch in islice(loader, self.batches))
        with torch.no_grad():
            update_bn(images, pl_module.model)
