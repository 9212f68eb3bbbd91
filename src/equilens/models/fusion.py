"""Inference-time folding of batch norm into the convolution before it."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fuse_conv_bn(layers: nn.Sequential) -> nn.Sequential:
    """An inference copy of eval-mode ``layers`` with each BatchNorm2d after a Conv2d folded into
    that conv (a fixed affine map in eval mode): the same outputs, one pass fewer."""
    fused: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d) and fused and isinstance(fused[-1], nn.Conv2d):
            fused[-1] = fuse_conv_bn_eval(fused[-1], layer)
        else:
            fused.append(layer)
    return nn.Sequential(*fused).eval()
