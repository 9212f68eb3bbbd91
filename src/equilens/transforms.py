"""Batched image operations on (N, C, H, W) tensors, on their device: the model's input geometry and the augmentation."""

from __future__ import annotations

from dataclasses import dataclass

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size): antialiased bilinear on a centre-symmetric grid (exact rotations, flips)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def crop_margin(side: int, fraction: float) -> int:
    """Pixels cut from each edge by a centred crop keeping ``fraction`` of ``side`` (equal margins: exact symmetry)."""
    return int(round(side * (1.0 - fraction) / 2))


def center_crop(images: torch.Tensor, fraction: float) -> torch.Tensor:
    """Centred crop of (N, C, H, W) keeping ``fraction`` of each side."""
    top, left = crop_margin(images.shape[-2], fraction), crop_margin(images.shape[-1], fraction)
    return images[..., top : images.shape[-2] - top, left : images.shape[-1] - left]


def model_input(images: torch.Tensor, crop_fraction: float, size: int) -> torch.Tensor:
    """(N, 1, H, W) images -> (N, 1, size, size): centred crop, then resize."""
    return resize(center_crop(images, crop_fraction), size)


@dataclass
class AugmentConfig:
    """Training augmentation; None/False switches a step off (values per recipe: each task's ``recipes``, :mod:`equilens.tasks`).
    ``crop_fraction``: random crop side / image side; ``rotate``: by a uniform angle; ``brightness``: uniform factor range."""

    crop_fraction: float | None
    rotate: bool
    brightness: tuple[float, float] | None


class Augment(nn.Module):
    """Random shift (a random crop after the model's centred crop), rotation, brightness; (N, 1, H, W) in and out."""

    def __init__(self, config: AugmentConfig):
        super().__init__()
        self.config = config
        # Bicubic: bilinear smooths noise and arcs, so a model would meet sharper images at test time.
        self.rotation = K.RandomRotation(degrees=180.0, p=1.0, resample="bicubic") if config.rotate else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.config.crop_fraction is not None and self.config.crop_fraction < 1.0:
            images = random_shift(images, crop_margin(min(images.shape[-2:]), self.config.crop_fraction))
        if self.rotation is not None:
            images = self.rotation(images)
        if self.config.brightness is not None:
            low, high = self.config.brightness
            # Not clamped, so no flux is lost.
            factor = torch.empty(images.shape[0], 1, 1, 1, device=images.device).uniform_(low, high)
            images = images * factor
        return images


def random_shift(images: torch.Tensor, margin: int) -> torch.Tensor:
    """Shift each image of (N, C, H, W) by its own random integer offset in [-margin, margin] per axis, zero-filled."""
    if margin == 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, (margin, margin, margin, margin))
    top = torch.randint(0, 2 * margin + 1, (n, 1, 1), device=images.device)
    left = torch.randint(0, 2 * margin + 1, (n, 1, 1), device=images.device)
    rows = top + torch.arange(height, device=images.device)[None, :, None]
    cols = left + torch.arange(width, device=images.device)[None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
