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

Cost is set by channels x resolution, not by escnn: a stride-2 conv computes a quarter of the
outputs of a conv followed by a pool, with no pooling pass, so the later blocks can be wide and
cheap. The defaults (``equilens.config``) were chosen with ``benchmarks/auc_vs_budget.py``; its
figures and the alternatives it measured are in the documentation ("How the defaults were chosen").
"""

from __future__ import annotations

import copy

import torch
from escnn import nn as enn
from torch import nn

from equilens.config import DEFAULT_GROUP, DEFAULT_INPUT_SIZE, DEFAULT_POOLED_BLOCKS, default_widths
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
        widths: regular fields per conv block (channels = width x |G|); None: the default
            (:func:`equilens.config.default_widths`).
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
