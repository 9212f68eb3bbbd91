"""Batched scoring of images with a trained model, optionally averaged over exact symmetries."""

from __future__ import annotations

import torch
from torch import nn

from equilens.config import SCORING_BATCH_SIZES
from equilens.devices import torch_device
from equilens.models import score_and_probabilities
from equilens.models.groups import exact_actions
from equilens.precision import autocast


def pick_device(device: str = "auto") -> torch.device:
    """A ``--device`` spelling (``auto``, ``cpu``, ``gpu``, ``cuda:1`` ...) as a torch device."""
    return torch_device(device)


def scoring_batch_size(device: torch.device, batch_size: int | None = None) -> int:
    """``batch_size``, or the default for ``device``'s type (:data:`~equilens.config.SCORING_BATCH_SIZES`)."""
    return batch_size or SCORING_BATCH_SIZES.get(device.type, SCORING_BATCH_SIZES["cuda"])


@torch.inference_mode()
def score_images(
    model: nn.Module, images: torch.Tensor, batch_size: int | None = None, symmetrize: bool = False,
    precision: str = "float32",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Substructure scores of ``images`` (N, 1, H, W) in [0, 1].

    Args:
        model: an eval-mode classifier (score: 1 - p(no_sub)) or anomaly detector (its score).
        batch_size: images per forward pass (default: :func:`scoring_batch_size`).
        symmetrize: average over the 8 exact symmetries of the square.
        precision: ``float32`` or ``bfloat16`` (:func:`equilens.precision.autocast`).

    Returns:
        (N,) float32 CPU scores, and (N, C) class probabilities (None for anomaly models).
    """
    device = next(model.parameters()).device
    batch_size = scoring_batch_size(device, batch_size)
    actions = [lambda x: x, *exact_actions("D4").values()] if symmetrize else [lambda x: x]
    scores, probabilities = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        with autocast(device, precision):
            outputs = [score_and_probabilities(model, act(batch)) for act in actions]
        scores.append(torch.stack([s for s, _ in outputs]).mean(0).cpu())
        if outputs[0][1] is not None:
            probabilities.append(torch.stack([p for _, p in outputs]).mean(0).cpu())
    return torch.cat(scores) if scores else torch.empty(0), torch.cat(probabilities) if probabilities else None
