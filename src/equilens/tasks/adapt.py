"""Classification adapted to unlabelled images of the domain it will score (``--unlabelled``).

Chosen by ``equilens train --unlabelled DIR`` (any data; typically a simulated folder and a
survey's cutouts). The run trains as :class:`~equilens.tasks.lightning.adapt.AdaptingClassifierModule`
says, keeps the unlabelled domain's batch-norm statistics, then makes the kept model's
probabilities hold there: a temperature fitted on the labelled validation split (no label of the
unlabelled images is read, at any step, model selection included), and the class mix of the
unlabelled images estimated from those calibrated posteriors (:mod:`equilens.prior_shift`), both
folded into the output layer. The weights record what was folded (``adaptation``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from equilens.config import TrainConfig
from equilens.log import logger
from equilens.tasks.base import TrainingData
from equilens.tasks.classify import Classify


#: Fewest labelled validation images a temperature is fitted on; below it the logits are kept as they are
#: (T = 1). Set by hand: a temperature's error shrinks as 1/sqrt(images).
MIN_TEMPERATURE_IMAGES = 100


def _logits(model: torch.nn.Module, loader) -> torch.Tensor:
    """(N, K) logits of an eval-mode ``model`` over a loader's (images, labels) batches."""
    with torch.no_grad():
        return torch.cat([model(images.to(next(model.parameters()).device)).float().cpu() for images, _ in loader])


class Adapt(Classify):
    run_name = "classify-adapted"

    def for_config(self, config: TrainConfig) -> "Adapt":
        return self

    def prepare(self, config: TrainConfig, splits: dict, reading, infos: dict) -> None:
        from equilens.datasets.folder import check_images
        from equilens.datasets.unlabelled import scan_unlabelled

        unlabelled = scan_unlabelled(config.unlabelled, reading)
        check_images(list(unlabelled.files), reading, next(iter(infos.values())).channels)
        config.unlabelled = str(Path(config.unlabelled).resolve())

    def training_data(self, config: TrainConfig, splits: dict, reading, infos: dict | None = None) -> TrainingData:
        from equilens.datasets.unlabelled import scan_unlabelled

        unlabelled = scan_unlabelled(config.unlabelled, reading)
        logger.warning("adapting (%s) to %d unlabelled images of %s", config.adaptation, len(unlabelled.files), config.unlabelled)
        return TrainingData({**splits, "unlabelled": unlabelled})

    def module_class(self) -> type:
        from equilens.tasks.lightning.adapt import AdaptingClassifierModule

        return AdaptingClassifierModule

    def module_options(self, config: TrainConfig, data: TrainingData) -> dict[str, Any]:
        counts = np.bincount(data.splits["train"].labels, minlength=len(data.splits["train"].classes))
        return {**super().module_options(config, data), "adaptation": config.adaptation,
                "class_prior": (counts / counts.sum()).tolist()}

    def calibration(self, module, val, val_targets, select: str, reading, channels: int, data=None) -> dict[str, Any]:
        """Fold a temperature (fitted on the labelled validation split) and the unlabelled images'
        estimated class mix into the model's output layer; return what was folded."""
        from equilens.prior_shift import estimate_prior, fit_temperature, prior_interval
        from equilens.tasks.lightning.adapt import output_layer

        model = module.model
        was_training = model.training
        model.eval()
        # A temperature from a handful of images would be noise (a few right answers ask for T -> 0): then none.
        temperature = (fit_temperature(_logits(model, data.dataloader("val")).numpy(), val.labels)
                       if len(val.files) >= MIN_TEMPERATURE_IMAGES else 1.0)
        unlabelled = torch.softmax(_logits(model, data.dataloader("unlabelled")) / temperature, dim=1).numpy()
        model.train(was_training)
        counts = super().calibration(module, val, val_targets, select, reading, channels, data)
        training_prior = module.class_prior.double().cpu().numpy()  # the labelled split's mix (module_options)
        prior = estimate_prior(unlabelled, training_prior)
        low, high = prior_interval(unlabelled, training_prior)
        layer = output_layer(model)
        with torch.no_grad():
            layer.weight /= temperature
            layer.bias.copy_(layer.bias / temperature + torch.as_tensor(np.log(prior / training_prior), dtype=layer.bias.dtype))
        logger.warning("unlabelled images: estimated class mix %s (95%% interval %s); probabilities corrected to it "
                       "(temperature %.3g from the validation split; 1: fewer than %d images)", _mix(module.hparams.classes, prior),
                       ", ".join(f"{a:.3f}-{b:.3f}" for a, b in zip(low, high)), temperature, MIN_TEMPERATURE_IMAGES)
        return {**counts, "adaptation": {
            "method": module.adaptation, "unlabelled": str(data.splits["unlabelled"].root), "n_unlabelled": len(unlabelled),
            "temperature": temperature, "training_prior": training_prior.tolist(), "estimated_prior": prior.tolist(),
            "estimated_prior_95": [low.tolist(), high.tolist()],
            "folded": "the output layer's logits are divided by the temperature and shifted by log(estimated_prior / "
                      "training_prior): its probabilities are the unlabelled images' class mix's"}}


def _mix(classes: list[str], prior: np.ndarray) -> str:
    return ", ".join(f"{name} {p:.3f}" for name, p in zip(classes, prior))


ADAPT = Adapt()
