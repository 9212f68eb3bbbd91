"""The E(2)-steerable classifier: the whole model in one file.

    image (N, 1, H, W) --centred crop, resize--> (N, 1, S, S)
      -> [R2Conv -> InnerBatchNorm -> ReLU -> symmetric stride-2 max-pool] x len(widths)
         (regular fields of the group; the first conv lifts the grey image to the group)
      -> GroupPooling (max over each field's |G| channels: invariant features)
      -> spatial mean and max -> MLP -> class logits (N, num_classes)

Every layer before the group pooling is equivariant, the pooling makes the features invariant,
and the spatial mean and max are unchanged by any permutation of the grid, so the logits are
invariant under the group's exact actions (90-degree rotations, flips for D_N).

Cost is set by channels x resolution, not by escnn: a cheap 5x5 lift at 75 px and a halving
after every conv. The default width, 3-6-12-24 regular D4 fields (24-48-96-192 channels, 1.5x
the plain CNN's 16-32-64-128), was chosen on a 10-minute CPU budget
(benchmarks/auc_vs_budget.py, README): it trains at about half the plain CNN's images/s and
reached test AUC 0.9955-0.9975 in three runs, level with the CNN, where 2-4-8-16 fields (the
CNN's channel count, as fast as the CNN) reached 0.9946; its median change of p(sub) under a
45-degree rotation is 0.003-0.004 against 0.021. 6-12-24-32 D4 fields (the width of escnn's
examples) trained 5x slower than 2-4-8-16 (16 vs 84 img/s at 75 px, one thread).
"""

from __future__ import annotations

import copy

import torch
from escnn import nn as enn
from torch import nn

from equilens.models.fusion import fuse_conv_bn
from equilens.models.geometry import global_pool, pool_geometry, strided_conv_geometry
from equilens.models.groups import gspace
from equilens.transforms import model_input


class SteerableCNN(nn.Module):
    """Group-invariant substructure classifier.

    Args:
        group: symmetry group, ``C<N>`` or ``D<N>`` (e.g. ``D4``: 90-degree rotations and flips).
        input_size: side S in pixels the image is resized to; exact invariance holds for any S
            because every pooling keeps the grid symmetric.
        crop_fraction: the centred crop (fraction of the image side) taken before resizing.
        widths: regular fields per conv block (channels = width x |G|).
        lift_kernel: side of the first (lifting) convolution's kernel, in pixels.
        kernel: side of the later kernels.
        num_classes: outputs; class 0 is ``no_sub``.
        head_width: hidden units of the MLP head.
        dropout: dropout probability before the last layer.
    """

    task = "classify"

    def __init__(
        self,
        group: str = "D4",
        input_size: int = 75,
        crop_fraction: float = 1.0,
        widths: tuple[int, ...] = (3, 8, 16, 32),
        lift_kernel: int = 5,
        kernel: int = 3,
        num_classes: int = 2,
        head_width: int = 64,
        dropout: float = 0.0,
        strided_blocks: int = 3,
    ):
        super().__init__()
        self.input_size = input_size
        self.crop_fraction = crop_fraction
        space = gspace(group)
        self.input_type = enn.FieldType(space, [space.trivial_repr])
        layers: list[enn.EquivariantModule] = []
        field_type, side = self.input_type, input_size
        for i, width in enumerate(widths):
            out_type = enn.FieldType(space, width * [space.regular_repr])
            size = lift_kernel if i == 0 else kernel
            strided = strided_conv_geometry(side, size) if i >= len(widths) - strided_blocks and side > 2 else None
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
        """A plain-torch copy for inference (escnn's ``export``): the same function, computed with
        ordinary Conv2d/MaxPool2d layers (batch norm folded into the convs) and no per-call
        basis bookkeeping."""
        was_training = self.training
        self.eval()
        features = fuse_conv_bn(self.features.export().eval())
        exported = ExportedSteerableCNN(self.input_size, self.crop_fraction, features, self.group_pool.export(), copy.deepcopy(self.head))
        self.train(was_training)
        return exported.eval()


class ExportedSteerableCNN(nn.Module):
    """The inference-only form of :class:`SteerableCNN` (same inputs and outputs)."""

    task = "classify"

    def __init__(self, input_size: int, crop_fraction: float, features: nn.Module, group_pool: nn.Module, head: nn.Module):
        super().__init__()
        self.input_size, self.crop_fraction = input_size, crop_fraction
        self.features, self.group_pool, self.head = features, group_pool, head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(global_pool(self.group_pool(self.features(model_input(images, self.crop_fraction, self.input_size)))))
