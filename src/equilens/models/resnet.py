"""ResNet-18 (He et al.), the DeepLense papers' plain baseline, without torchvision (layout: docs/api/models.md)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from equilens.config import DEFAULT_INPUT_SIZE
from equilens.models.base import LensNetwork
from equilens.models.fusion import fuse_conv_bn
from equilens.registry import RESNET18_WIDTHS
from equilens.transforms import model_input


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual shortcut; ``stride`` 2 halves the side."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    def fold_batch_norm(self) -> None:
        """Fold each eval-mode BatchNorm into the conv before it (inference only)."""
        self.conv1, self.bn1 = fuse_conv_bn_eval(self.conv1, self.bn1), nn.Identity()
        self.conv2, self.bn2 = fuse_conv_bn_eval(self.conv2, self.bn2), nn.Identity()
        if isinstance(self.shortcut, nn.Sequential):
            self.shortcut = fuse_conv_bn(self.shortcut)


class ResNet18(LensNetwork):
    """ResNet-18 classifier; arguments as for :class:`PlainCNN`, but ``widths`` are the channels of
    the stages of two basic blocks each (four stages: ResNet-18)."""

    task = "classify"

    def __init__(
        self,
        input_size: int = DEFAULT_INPUT_SIZE,
        crop_fraction: float = 1.0,
        widths: tuple[int, ...] = RESNET18_WIDTHS,
        num_classes: int = 2,
        in_channels: int = 1,
    ):
        super().__init__()
        self.input_size = input_size
        self.crop_fraction = crop_fraction
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
        blocks, channels = [], widths[0]
        for stage, width in enumerate(widths):
            blocks += [BasicBlock(channels, width, stride=1 if stage == 0 else 2), BasicBlock(width, width, stride=1)]
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images in [0, 1] -> (N, num_classes) logits."""
        features = self.blocks(self.stem(model_input(images, self.crop_fraction, self.input_size)))
        return self.head(features.mean(dim=(-2, -1)))

    def export(self) -> "ResNet18":
        """An eval-mode copy with batch norm folded into the convolutions (same outputs)."""
        exported = copy.deepcopy(self).eval()
        exported.stem = fuse_conv_bn(exported.stem)
        for block in exported.blocks:
            block.fold_batch_norm()
        return exported
