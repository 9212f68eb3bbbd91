"""The E(2)-steerable classifier, exactly invariant under its group's pixel-exact actions (layout: docs/api/models.md)."""

from __future__ import annotations

import copy

import torch
from escnn import nn as enn
from torch import nn

from equilens.config import DEFAULT_GROUP, DEFAULT_INPUT_SIZE, DEFAULT_POOLED_BLOCKS
from equilens.models.base import LensNetwork
from equilens.models.fusion import fuse_conv_bn
from equilens.models.geometry import global_pool, pool_geometry, strided_conv_geometry
from equilens.models.groups import gspace
from equilens.registry import default_widths
from equilens.transforms import model_input


class SteerableCNN(LensNetwork):
    """Group-invariant classifier: images (N, C, H, W) in [0, 1] -> (N, num_classes) logits, class 0 ``no_sub``.

    Args:
        group: ``C<N>`` or ``D<N>`` (``D4``: 90-degree rotations and flips).
        input_size: side S (px) that the centred crop of ``crop_fraction`` of the image side is resized to.
        widths: regular fields per conv block (channels = width x |G|); None: the registry's default.
        pooled_blocks: first blocks that convolve at full resolution, then max-pool (None: all); the
            rest convolve at stride 2 (or pool, on an even side). Kernel sides: ``lift_kernel``, ``kernel``.
        in_channels: image bands, each a scalar field, so any number keeps exact invariance.
    """

    task = "classify"

    def __init__(
        self,
        group: str = DEFAULT_GROUP,
        input_size: int = DEFAULT_INPUT_SIZE,
        crop_fraction: float = 1.0,
        widths: tuple[int, ...] | None = None,
        pooled_blocks: int | None = DEFAULT_POOLED_BLOCKS,
        lift_kernel: int = 5,
        kernel: int = 3,
        num_classes: int = 2,
        head_width: int = 64,
        dropout: float = 0.0,
        in_channels: int = 1,
    ):
        super().__init__()
        self.group = group
        self.input_size = input_size
        self.crop_fraction = crop_fraction
        widths = tuple(widths or default_widths("steerable", group))
        space = gspace(group)
        self.input_type = enn.FieldType(space, in_channels * [space.trivial_repr])
        layers: list[enn.EquivariantModule] = []
        field_type, side = self.input_type, input_size
        for i, width in enumerate(widths):
            out_type = enn.FieldType(space, width * [space.regular_repr])
            size = lift_kernel if i == 0 else kernel
            strided = strided_conv_geometry(side, size) if pooled_blocks is not None and i >= pooled_blocks and side > 2 else None
            if strided:
                padding, side = strided
                layers.append(enn.R2Conv(field_type, out_type, kernel_size=size, padding=padding, stride=2, bias=False))
            else:
                layers.append(enn.R2Conv(field_type, out_type, kernel_size=size, padding=size // 2, bias=False))
            layers += [enn.InnerBatchNorm(out_type), enn.ReLU(out_type, inplace=True)]
            if not strided and side > 2:
                pool, padding, side = pool_geometry(side)
                layers.append(enn.PointwiseMaxPool2D(out_type, kernel_size=pool, stride=2, padding=padding))
            field_type = out_type
        self.features = enn.SequentialModule(*layers)
        self.group_pool = enn.GroupPooling(field_type)
        self.head = nn.Sequential(
            nn.Linear(2 * widths[-1], head_width),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(head_width, num_classes),
        )

    def invariant_features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images in [0, 1] -> (N, 2 * widths[-1]) group-invariant features."""
        x = enn.GeometricTensor(model_input(images, self.crop_fraction, self.input_size), self.input_type)
        return global_pool(self.group_pool(self.features(x)).tensor)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images in [0, 1] -> (N, num_classes) logits."""
        return self.head(self.invariant_features(images))

    def export(self) -> "ExportedSteerableCNN":
        """escnn's ``export`` with batch norm folded into the convs: plain Conv2d/MaxPool2d layers."""
        was_training = self.training
        self.eval()
        features = fuse_conv_bn(self.features.export().eval())
        exported = ExportedSteerableCNN(self.group, self.input_size, self.crop_fraction, features, self.group_pool.export(),
                                        copy.deepcopy(self.head))
        self.train(was_training)
        return exported.eval()


class ExportedSteerableCNN(LensNetwork):
    """The inference-only form of :class:`SteerableCNN` (same inputs and outputs)."""

    task = "classify"

    def __init__(self, group: str, input_size: int, crop_fraction: float, features: nn.Module, group_pool: nn.Module, head: nn.Module):
        super().__init__()
        self.group, self.input_size, self.crop_fraction = group, input_size, crop_fraction
        self.features, self.group_pool, self.head = features, group_pool, head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(global_pool(self.group_pool(self.features(model_input(images, self.crop_fraction, self.input_size)))))
