"""The E(2)-steerable classifier: the whole model in one file.

    image (N, 1, H, W) --centred crop, resize--> (N, 1, S, S)
      -> [R2Conv -> InnerBatchNorm -> ReLU -> symmetric stride-2 max-pool] x pooled_blocks
      -> [stride-2 R2Conv -> InnerBatchNorm -> ReLU] x (len(widths) - pooled_blocks)
         (regular fields of the group; the first conv lifts the grey image to the group)
      -> GroupPooling (max over each field's |G| channels: invariant features)
      -> spatial mean and max -> MLP -> class logits (N, num_classes)

Every layer before the group pooling is equivariant, the pooling makes the features invariant,
and the spatial mean and max are unchanged by any permutation of the grid, so the logits are
invariant under the group's exact actions (90-degree rotations, flips for D_N). Every
downsampling, pooled or strided, samples a grid that maps onto itself under those actions
(equilens.models.geometry).

Cost is set by channels x resolution, not by escnn. The default (3-8-16-32 regular D4 fields,
the lift at full 75 px resolution and max-pooled, the three later convs strided) spends its
compute where the pixels are: a stride-2 conv computes a quarter of the outputs of a conv
followed by a pool, with no pooling pass, so the later blocks are wide and cheap.
Measured with benchmarks/auc_vs_budget.py (10 minutes of training on 2,000 `test-iv` images
per class, 2 CPU cores; README): test AUC 0.9975, 0.9982, 0.9981 (seeds 0-2) against the
plain CNN's 0.9948, 0.9970, 0.9957 in the same runs, 0.9979-0.9993 on randomly oriented
lenses, at 0.85-0.88x the CNN's training images/s, with a median change of p(sub) under a
45-degree rotation of 0.0005-0.002. The same 10 minutes, one run each at seed 0:
  - a pool after every conv, 3-6-12-24 fields: AUC 0.9955-0.9975 over three runs, at 0.5x the
    CNN's speed before equilens.memory (0.6x after, in a profile);
  - stride-2 convs in the last two of those blocks: 0.9967;
  - max-pooling before batch norm instead (cheaper): 0.9956, 0.9924 on random orientations;
  - narrower, all pooled (2-4-8-16 or 2-6-12-24 fields): 0.9946-0.9948;
  - this default before equilens.memory, so 36 epochs instead of 56: 0.9968.
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
            because every downsampling keeps the grid symmetric.
        crop_fraction: the centred crop (fraction of the image side) taken before resizing.
        widths: regular fields per conv block (channels = width x |G|).
        pooled_blocks: how many of the first blocks convolve at full resolution and then
            max-pool; the later ones downsample by a stride-2 convolution instead (None: all
            pool). A block whose input side is even pools anyway: no odd kernel is centred
            symmetrically on an even grid at stride 2.
        lift_kernel: side of the first (lifting) convolution's kernel, in pixels.
        kernel: side of the later kernels.
        num_classes: outputs; class 0 is ``no_sub``.
        head_width: hidden units of the MLP head.
        dropout: dropout probability before the last layer.
        in_channels: bands of the input image, each a scalar field (unchanged by rotations),
            so the model stays exactly invariant for any number of bands.
    """

    task = "classify"

    def __init__(
        self,
        group: str = "D4",
        input_size: int = 75,
        crop_fraction: float = 1.0,
        widths: tuple[int, ...] = (3, 8, 16, 32),
        pooled_blocks: int | None = 1,
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
