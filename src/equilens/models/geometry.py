"""Downsampling that keeps the pixel grid symmetric, so 90-degree rotations stay exact.

A stride-2 pooling samples the input at positions that must map onto themselves under the
image flip i -> n-1-i. For even n, 2x2 windows (0,1), (2,3), ... do. For odd n, 3x3 windows
centred on 0, 2, ..., n-1 (padding 1, output (n+1)/2) or on 1, 3, ..., n-2 (no padding,
output (n-1)/2) do; we pick whichever output is odd, so the next stage can do the same.
"""

from __future__ import annotations


def pool_geometry(size: int) -> tuple[int, int, int]:
    """For an input of side ``size``: (kernel, padding, output side) of a symmetric stride-2 pool."""
    if size < 2:
        raise ValueError(f"cannot downsample a feature map of side {size}")
    if size % 2 == 0:
        return 2, 0, size // 2
    if size == 3 or ((size - 1) // 2) % 2 == 1:
        return 3, 0, (size - 1) // 2
    return 3, 1, (size + 1) // 2
