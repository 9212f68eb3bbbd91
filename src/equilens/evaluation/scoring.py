"""Batched scoring of images with a trained model, optionally averaged over exact symmetries."""

from __future__ import annotations

import torch
from torch import nn

from equilens.config import SCORING_BATCH_SIZE
from equilens.devices import torch_device
from equilens.models import score_and_probabilities
from equilens.models.groups import exact_actions


def pick_device(device: str = "auto") -> torch.device:
    """A ``--device`` spelling (``auto``, ``cpu``, ``gpu``, ``cuda:1`` ...) as a torch device."""
    return torch_device(device)


@torch.inference_mode()
def score_images(
    model: nn.Module, images: torch.Tensor, batch_size: int = SCORING_BATCH_SIZE, symmetrize: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Substructure scores of ``images`` (N, 1, H, W) in [0, 1].

    Args:
        model: an eval-mode classifier (score: 1 - p(no_sub)) or anomaly detector (its score).
        batch_size: images per forward pass.
        symmetrize: average over the 8 exact symmetries of the square.

    Returns:
        (N,) float32 CPU scores, and (N, C) class probabilities (None for anomaly models).
    """
    device = next(model.parameters()).device
    actions = [lambda x: x, *exact_actions("D4").values()] if symmetrize else [lambda x: x]
    scores, probabilities = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        outputs = [score_and_probabilities(model, act(batch)) for act in actions]
        scores.append(torch.stack([s for s, _ in outputs]).mean(0).cpu())
        if outputs[0][1] is not None:
            probabilities.append(torch.stack([p for _, p in outputs]).mean(0).cpu())
    return torch.cat(scores) if scores else torch.empty(0), torch.cat(probabilities) if probabilities else None
