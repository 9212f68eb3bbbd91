"""Downsampling that keeps the pixel grid symmetric, so 90-degree rotations stay exact.

A stride-2 pooling or convolution samples the input at positions that must map onto themselves
under the image flip i -> n-1-i. For even n, 2x2 windows (0,1), (2,3), ... do. For odd n, 3x3
windows centred on 0, 2, ..., n-1 (padding 1, output (n+1)/2) or on 1, 3, ..., n-2 (no padding,
output (n-1)/2) do; we pick whichever output is odd, so the next stage can do the same.
"""

from __future__ import annotations

import torch


def pool_geometry(size: int) -> tuple[int, int, int]:
    """For an input of side ``size``: (kernel, padding, output side) of a symmetric stride-2 pool."""
    if size < 2:
        raise ValueError(f"cannot downsample a feature map of side {size}")
    if size % 2 == 0:
        return 2, 0, size // 2
    if size == 3 or ((size - 1) // 2) % 2 == 1:
        return 3, 0, (size - 1) // 2
    return 3, 1, (size + 1) // 2


def strided_conv_geometry(size: int, kernel: int) -> tuple[int, int] | None:
    """(padding, output side) of a stride-2 convolution with an odd ``kernel`` on an input of
    side ``size`` whose output grid is symmetric, as :func:`pool_geometry`'s (the same centres);
    None for an even ``size``, where no odd kernel can be centred symmetrically at stride 2."""
    if size % 2 == 0 or kernel % 2 == 0:
        return None
    _, padding, out = pool_geometry(size)
    return padding + (kernel - 3) // 2, out


def global_pool(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 2C): spatial mean and max of each channel.

    Both are unchanged by any permutation of pixels, hence by every symmetry of the grid. The
    max keeps a small, local perturbation (a subhalo's kink in the arc) from being averaged
    away over the whole image.
    """
    return torch.cat([features.mean(dim=(-2, -1)), features.amax(dim=(-2, -1))], dim=1)
