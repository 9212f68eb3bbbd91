"""The plain CNN baseline: no symmetry built in, rotations learned from augmentation only (layout: docs/api/models.md)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from equilens.config import DEFAULT_INPUT_SIZE
from equilens.models.base import LensNetwork
from equilens.models.fusion import fuse_conv_bn
from equilens.models.geometry import global_pool, pool_geometry
from equilens.registry import DEFAULT_CHANNELS
from equilens.transforms import model_input


class PlainCNN(LensNetwork):
    """Ordinary CNN classifier; arguments as for :class:`SteerableCNN` (widths are channels)."""

    task = "classify"

    def __init__(
        self,
        input_size: int = DEFAULT_INPUT_SIZE,
        crop_fraction: float = 1.0,
        widths: tuple[int, ...] = DEFAULT_CHANNELS,
        lift_kernel: int = 5,
        kernel: int = 3,
        num_classes: int = 2,
        head_width: int = 64,
        dropout: float = 0.0,
        in_channels: int = 1,
    ):
        super().__init__()
        self.input_size = input_size
        self.crop_fraction = crop_fraction
        layers: list[nn.Module] = []
        channels, side = in_channels, input_size
        for i, width in enumerate(widths):
            size = lift_kernel if i == 0 else kernel
            layers += [
                nn.Conv2d(channels, width, size, padding=size // 2, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if side > 2:
                pool, padding, side = pool_geometry(side)
                layers.append(nn.MaxPool2d(pool, stride=2, padding=padding))
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(2 * channels, head_width),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(head_width, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images in [0, 1] -> (N, num_classes) logits."""
        return self.head(global_pool(self.features(model_input(images, self.crop_fraction, self.input_size))))

    def export(self) -> "PlainCNN":
        """An eval-mode copy with batch norm folded into the convs, as :class:`SteerableCNN`'s, so speeds compare."""
        exported = copy.deepcopy(self).eval()
        exported.features = fuse_conv_bn(exported.features)
        return exported
