"""Keep the best checkpoint by validation AUC, with a sensible tie-break."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint


class BestAUCCheckpoint(ModelCheckpoint):
    """Saves ``best-epoch=NNN.ckpt`` (highest ``val_auc``, or ``monitor`` and ``mode``) and ``last.ckpt`` for resuming;
    ties go to the lower ``val_loss``, since on easy data the AUC saturates at 1.0 within an epoch or two."""

    def __init__(self, dirpath: str | Path, monitor: str = "val_auc", mode: str = "max"):
        # Both at validation end: saving last.ckpt there marks the step saved, which would skip a best one due later.
        super().__init__(
            dirpath=dirpath, filename="best-{epoch:03d}", monitor=monitor, mode=mode, save_top_k=1, save_last=True,
            save_on_train_epoch_end=False,
        )
        self.best_val_loss = math.inf

    def check_monitor_top_k(self, trainer: L.Trainer, current: torch.Tensor | None = None) -> bool:
        loss = trainer.callback_metrics.get("val_loss")
        better = super().check_monitor_top_k(trainer, current)
        tie = bool(
            current is not None
            and loss is not None
            and self.best_k_models
            and torch.equal(current.cpu(), self.best_k_models[self.kth_best_model_path].cpu())
            and float(loss) < self.best_val_loss
        )
        tie = trainer.strategy.reduce_boolean_decision(tie)
        if (better or tie) and loss is not None:
            self.best_val_loss = float(loss)
        return better or tie

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        # Lightning >= 2.6 writes last.ckpt only with a new best (then skipped here); a resume needs the latest.
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_val_loss": self.best_val_loss}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_val_loss = state_dict.get("best_val_loss", math.inf)
        super().load_state_dict(state_dict)
