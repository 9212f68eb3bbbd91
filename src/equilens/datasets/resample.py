"""Exact area-weighted resampling of an image onto a centred grid of another pixel scale (numpy only).

A pure change of scale, with no rotation, is separable: an output pixel is the mean of the input
pixels it overlaps, each weighted by the area of the overlap (the pixel-overlap, or "exact",
method of the ``reproject`` package, for this one case). The value kept is the surface
brightness, so the flux, value x pixel area, is conserved; integer factors are exact block means
(binning) or repeats. The output grid is centred on the input's centre: where it reaches past the
input, the uncovered part of a pixel takes a fill value (the band's sky).
"""

from __future__ import annotations

import numpy as np


def overlap_weights(n_in: int, n_out: int, zoom: float) -> np.ndarray:
    """(n_out, n_in) fraction of each output pixel's length covered by each input pixel, on one axis.

    ``zoom``: output pixels per input pixel (input pixel scale / output pixel scale); the two
    grids share their centre. A row sums to 1 where the output pixel lies inside the input, less
    where it reaches past an edge."""
    length = 1.0 / zoom  # an output pixel's length, in input pixels
    starts = n_in / 2 + (np.arange(n_out) - n_out / 2) * length
    edges = np.arange(n_in + 1, dtype=np.float64)
    overlap = np.minimum(starts[:, None] + length, edges[None, 1:]) - np.maximum(starts[:, None], edges[None, :-1])
    return np.clip(overlap, 0.0, None) * zoom


def resample_onto(bands: np.ndarray, zoom: tuple[float, float], size: tuple[int, int], fill: np.ndarray) -> np.ndarray:
    """(C, H, W) float ``bands`` -> (C, size[0], size[1]) float64 at ``zoom`` (rows, columns) output
    pixels per input pixel, centred; the part of an output pixel past the input takes ``fill`` (C,)."""
    rows, columns = (overlap_weights(n, m, z) for n, m, z in zip(bands.shape[1:], size, zoom))
    # Only the input rows and columns that the output overlaps: a large cutout costs little more.
    used_rows, used_columns = np.flatnonzero(rows.any(0)), np.flatnonzero(columns.any(0))
    rows, columns = rows[:, used_rows], columns[:, used_columns]
    if not len(used_rows) or not len(used_columns):
        return np.broadcast_to(np.asarray(fill, dtype=np.float64)[:, None, None], (len(bands), *size)).copy()
    window = bands[:, used_rows[0] : used_rows[-1] + 1, used_columns[0] : used_columns[-1] + 1].astype(np.float64)
    covered = np.outer(rows.sum(1), columns.sum(1))
    return rows @ window @ columns.T + np.asarray(fill, dtype=np.float64)[:, None, None] * (1.0 - covered)


def crop_per_side(n_in: int, n_out: int, zoom: float) -> float:
    """Output pixels cut from each side of the resampled input (negative: padded), on one axis."""
    return (n_in * zoom - n_out) / 2
