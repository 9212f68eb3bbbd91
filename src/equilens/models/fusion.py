"""Inference-time folding of batch norm into the convolution before it."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fuse_conv_bn(layers: nn.Sequential) -> nn.Sequential:
    """A copy of ``layers`` with every BatchNorm2d that follows a Conv2d folded into that conv.

    In eval mode batch norm is a fixed per-channel affine map, so the conv's weights and bias
    can absorb it: the same outputs (to float rounding) with one pass over the feature maps
    fewer. ``layers`` must be in eval mode and is left unchanged; the result is for inference.
    """
    fused: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d) and fused and isinstance(fused[-1], nn.Conv2d):
            fused[-1] = fuse_conv_bn_eval(fused[-1], layer)
        else:
            fused.append(layer)
    return nn.Sequential(*fused).eval()
