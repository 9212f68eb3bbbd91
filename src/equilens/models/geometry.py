"""Stride-2 downsampling on grids that the flip i -> n-1-i maps onto themselves, so 90-degree turns stay
exact (the window choice: docs/api/models.md)."""

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
    """(padding, output side) of a symmetric stride-2 conv with an odd ``kernel`` (:func:`pool_geometry`'s
    centres); None for an even ``size``, where no odd kernel is centred symmetrically."""
    if size % 2 == 0 or kernel % 2 == 0:
        return None
    _, padding, out = pool_geometry(size)
    return padding + (kernel - 3) // 2, out


def global_pool(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 2C): spatial mean and max per channel, unchanged by any permutation of pixels;
    the max keeps a subhalo's small, local kink from being averaged away."""
    return torch.cat([features.mean(dim=(-2, -1)), features.amax(dim=(-2, -1))], dim=1)
