"""Batched image operations on tensors (N, 1, H, W): resizing to the model and augmentation.

Everything runs on the batch's device, so augmentation costs no data-loader workers and runs
on the GPU when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (N, C, H, W) to (N, C, size, size) with antialiased bilinear interpolation.

    The sampling grid is symmetric about the image centre, so resizing commutes with 90-degree
    rotations and flips: it keeps the model's exact invariance intact.
    """
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@dataclass
class AugmentConfig:
    """The DeepLense training recipe; set a field to None/False to switch that step off.

    Attributes:
        crop_fraction: side of the random square crop as a fraction of the image side.
        rotate: rotate by an angle drawn uniformly over the full circle.
        brightness: multiply each image by a factor drawn uniformly from this range.
    """

    crop_fraction: float | None = 0.9
    rotate: bool = True
    brightness: tuple[float, float] | None = (0.8, 1.2)


class Augment(nn.Module):
    """Random crop -> resize to the model's input -> random rotation -> brightness jitter.

    Input (N, 1, H, W) at the stored resolution; output (N, 1, size, size). Resizing before
    rotating keeps the rotation cheap at the model's (smaller) input size.
    """

    def __init__(self, size: int, config: AugmentConfig):
        super().__init__()
        self.size = size
        self.config = config
        self.rotation = K.RandomRotation(degrees=180.0, p=1.0) if config.rotate else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.config.crop_fraction is not None and self.config.crop_fraction < 1.0:
            images = random_crop(images, self.config.crop_fraction)
        images = resize(images, self.size)
        if self.rotation is not None:
            images = self.rotation(images)
        if self.config.brightness is not None:
            low, high = self.config.brightness
            # Multiplicative like torchvision's brightness; not clamped so no flux is lost.
            factor = torch.empty(images.shape[0], 1, 1, 1, device=images.device).uniform_(low, high)
            images = images * factor
        return images


def random_crop(images: torch.Tensor, fraction: float) -> torch.Tensor:
    """Crop one random square of side ``fraction * H`` per image (N, C, H, W) -> (N, C, h, h)."""
    n, _, height, width = images.shape
    side = max(1, round(fraction * min(height, width)))
    top = torch.randint(0, height - side + 1, (n, 1, 1), device=images.device)
    left = torch.randint(0, width - side + 1, (n, 1, 1), device=images.device)
    offsets = torch.arange(side, device=images.device)
    rows = top + offsets[None, :, None]  # (N, side, 1)
    cols = left + offsets[None, None, :]  # (N, 1, side)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return images.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
