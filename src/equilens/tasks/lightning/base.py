"""What every equilens task shares: the model from a config, augmentation, the optimiser."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import Timer

from equilens.log import logger
from equilens.models import build_model
from equilens.weights import canonical_state_dict
from equilens.transforms import Augment, AugmentConfig


def max_time_timer(trainer: L.Trainer) -> Timer | None:
    """The trainer's ``max_time`` clock (it keeps the time across a resume), if it has one."""
    return next((c for c in trainer.callbacks if isinstance(c, Timer)), None)


class LensModule(L.LightningModule):
    """Base Lightning module: the model from its config, augmentation, AdamW and its schedule.

    Args:
        model: :func:`equilens.models.build_model` config (with ``input_size``).
        classes: class names of the dataset, ``no_sub`` first.
        lr: Adam learning rate (no optimiser defaults here: :meth:`equilens.config.TrainConfig.optimizer_options`).
        weight_decay: AdamW's decoupled weight decay (0: the same steps as Adam).
        lr_schedule: ``step``: StepLR (the DeepLense recipe); ``cosine``: decay to zero over the run's epochs,
            or over its ``max_time`` if that cap ends the run first, so a run always ends at a small rate.
        lr_step_epochs: the step schedule's epochs between decays.
        lr_gamma: the step schedule's factor per decay.
        augment: :class:`AugmentConfig` fields."""

    #: The logged validation metric by which ``--select best`` chooses, and whether higher is better.
    monitor = ("val_auc", "max")

    def __init__(
        self,
        model: dict[str, Any],
        classes: list[str],
        *,
        lr: float,
        weight_decay: float,
        lr_schedule: str,
        lr_step_epochs: int,
        lr_gamma: float,
        augment: dict[str, Any],
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(model)
        self.augment = Augment(AugmentConfig(**augment))
        self._output_spread: torch.Tensor | None = None
        self._collapse_reported = False

    def augmented(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment without gradient: images (N, C, H, W) and labels (N,), or twin groups (G, K x C, H, W) and
        (G, K) shifted, rotated and scaled as one image (see LensDataModule); returns (N, C, H, W) and (N,)."""
        with torch.no_grad():
            return self.augment(images).reshape(-1, self.channels, *images.shape[-2:]), labels.reshape(-1)

    @property
    def channels(self) -> int:
        """Bands of the images the model takes."""
        return self.hparams.model.get("in_channels", 1)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Saved during validation, when escnn adds eval-mode buffers: keep train-mode keys so a resume loads strictly.
        checkpoint["state_dict"] = canonical_state_dict(self)

    def on_train_epoch_end(self) -> None:
        # Training seconds so far at each epoch's end, validation included: time-to-AUC figures.
        timer = max_time_timer(self.trainer)
        if timer is not None:
            self.log("elapsed_s", float(timer.time_elapsed("train")), on_epoch=True, sync_dist=False)

    def run_progress(self) -> float:
        """Fraction of the run done, in [0, 1]: the larger of the steps and the wall-clock time used."""
        trainer = self.trainer
        progress = trainer.global_step / max(1, trainer.estimated_stepping_batches)
        timer = max_time_timer(self.trainer)
        if timer is not None and timer.time_remaining() is not None:
            elapsed = timer.time_elapsed()
            progress = max(progress, elapsed / max(1e-9, elapsed + timer.time_remaining()))
        return min(1.0, progress)

    def watch_outputs(self, outputs: torch.Tensor) -> None:
        """Track how much a validation batch's (N, K) outputs differ: a model whose outputs no longer depend on
        the image ("dying ReLU") gets no gradient to its features, so the epoch's end reports it."""
        if len(outputs) > 1:  # kept on the device: no host sync per validation batch
            spread = (outputs.amax(0) - outputs.amin(0)).max().detach()
            self._output_spread = spread if self._output_spread is None else torch.maximum(self._output_spread, spread)

    def on_validation_epoch_end(self) -> None:
        spread, self._output_spread = self._output_spread, None
        # Exactly equal outputs (float rounding at most): a constant function, not a confident model.
        collapsed = spread is not None and float(spread) < 1e-6
        if collapsed and not self.trainer.sanity_checking and not self._collapse_reported and self.global_rank == 0:
            self._collapse_reported = True
            logger.warning(
                "epoch %d: the model gives every validation image the same output: it has collapsed (e.g. every "
                "hidden unit of its head inactive after too large a step) and is unlikely to learn again; stop it and train "
                "again with a smaller --lr or another --seed.", self.current_epoch)

    def trained_parameters(self) -> list[torch.nn.Parameter]:
        """What the optimiser trains: the model's parameters (and a task's own heads)."""
        return list(self.model.parameters())

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.trained_parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if self.hparams.lr_schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 0.5 * (1 + math.cos(math.pi * self.run_progress())))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=self.hparams.lr_step_epochs, gamma=self.hparams.lr_gamma
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
