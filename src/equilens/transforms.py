"""Batched image operations on tensors (N, 1, H, W): the model's input geometry and augmentation.

Everything runs on the batch's device, so augmentation costs no data-loader workers and runs
on the GPU when there is one.

Crop and scale are kept identical in training and evaluation: the model itself always takes a
centred crop (a fraction of the side) and resizes it to its input size; the training
augmentation shifts the image by up to the crop margin first, so what the model sees in
training is a random crop of the same size — the torchvision RandomCrop/CenterCrop recipe,
without the train/test scale mismatch of cropping in training only.
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


def crop_margin(side: int, fraction: float) -> int:
    """Pixels cut from each edge by a centred crop keeping ``fraction`` of ``side``.

    Equal margins keep the crop centred exactly, so rotations and flips stay exact.
    """
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
    """Training augmentation; a field set to None/False switches that step off. The values
    each recipe and task uses live in :data:`equilens.config.RECIPES`
    (:meth:`~equilens.config.TrainConfig.augment_config`).

    Attributes:
        crop_fraction: side of the random square crop as a fraction of the image side (the
            model takes the centred crop of this size at evaluation).
        rotate: rotate by an angle drawn uniformly over the full circle.
        brightness: multiply each image by a factor drawn uniformly from this range.
    """

    crop_fraction: float | None
    rotate: bool
    brightness: tuple[float, float] | None


class Augment(nn.Module):
    """Random shift (= random crop after the model's centred crop) -> random rotation -> brightness.

    Input and output (N, 1, H, W) at the stored resolution.
    """

    def __init__(self, config: AugmentConfig):
        super().__init__()
        self.config = config
        # Bicubic: bilinear resampling smooths the pixel noise and fine arc structure, so a
        # model trained on it meets sharper images at test time (measured: resampling alone,
        # 45 degrees and back, moves p(sub) by a median 0.039 bilinear vs 0.007 bicubic).
        self.rotation = K.RandomRotation(degrees=180.0, p=1.0, resample="bicubic") if config.rotate else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.config.crop_fraction is not None and self.config.crop_fraction < 1.0:
            images = random_shift(images, crop_margin(min(images.shape[-2:]), self.config.crop_fraction))
        if self.rotation is not None:
            images = self.rotation(images)
        if self.config.brightness is not None:
            low, high = self.config.brightness
            # Multiplicative like torchvision's brightness; not clamped so no flux is lost.
            factor = torch.empty(images.shape[0], 1, 1, 1, device=images.device).uniform_(low, high)
            images = images * factor
        return images


def random_shift(images: torch.Tensor, margin: int) -> torch.Tensor:
    """Shift each image of (N, C, H, W) by its own random integer offset in [-margin, margin]
    along each axis, filling with zeros; output (N, C, H, W)."""
    if margin == 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, (margin, margin, margin, margin))
    top = torch.randint(0, 2 * margin + 1, (n, 1, 1), device=images.device)
    left = torch.randint(0, 2 * margin + 1, (n, 1, 1), device=images.device)
    rows = top + torch.arange(height, device=images.device)[None, :, None]  # (N, H, 1)
    cols = left + torch.arange(width, device=images.device)[None, None, :]  # (N, 1, W)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
