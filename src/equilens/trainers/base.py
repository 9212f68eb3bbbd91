"""What every equilens task shares: the model from a config, augmentation, the optimiser."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as L
import torch

from equilens.models import build_model
from equilens.weights import canonical_state_dict
from equilens.transforms import Augment, AugmentConfig


class LensModule(L.LightningModule):
    """Base Lightning module.

    Args:
        model: :func:`equilens.models.build_model` config (with ``input_size``).
        classes: class names of the dataset, ``no_sub`` first.
        lr: Adam learning rate.
        lr_step_epochs, lr_gamma: StepLR schedule (multiply lr by gamma every that many epochs).
        augment: :class:`AugmentConfig` fields.
    """

    def __init__(
        self,
        model: dict[str, Any],
        classes: list[str],
        lr: float = 1e-4,
        lr_step_epochs: int = 5,
        lr_gamma: float = 0.7,
        augment: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(model)
        self.augment = Augment(AugmentConfig(**(augment or {})))

    def augmented(self, images: torch.Tensor) -> torch.Tensor:
        """Training-time augmentation (no gradient flows through it)."""
        with torch.no_grad():
            return self.augment(images)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Checkpoints are written during validation (eval mode), when escnn adds cached-filter
        # buffers; store the train-mode keys so the checkpoint loads strictly on resume.
        checkpoint["state_dict"] = canonical_state_dict(self)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.hparams.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=self.hparams.lr_step_epochs, gamma=self.hparams.lr_gamma
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
