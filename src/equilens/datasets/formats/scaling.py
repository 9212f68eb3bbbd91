"""Per-band scalings of pixel values to about [0, 1]; numpy only, so that ``equilens.config`` can
offer them without importing torch."""

from __future__ import annotations

from typing import Callable

import numpy as np

DEFAULT_SCALING = "minmax"
ASINH_SOFTENING = 0.1
PERCENTILE_CLIP = (0.5, 99.5)


def integer_to_unit(array: np.ndarray) -> np.ndarray:
    """Integer and boolean pixels to [0, 1] by their dtype's full scale; float pixels as they are."""
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        return array / np.iinfo(array.dtype).max
    return array


def _min_max(band: np.ndarray) -> np.ndarray:
    low, high = band.min(), band.max()
    return (band - low) / (high - low) if high > low else np.zeros_like(band)


def _minmax(band: np.ndarray) -> np.ndarray:
    """Kept if already in [0, 1] (what equilens always did with grey images), else min-max scaled."""
    return band if 0.0 <= band.min() and band.max() <= 1.0 else _min_max(band)


def _asinh(band: np.ndarray) -> np.ndarray:
    """Min-max, then asinh(x / a) / asinh(1 / a), a = ASINH_SOFTENING: faint arcs lifted beside a bright lens galaxy."""
    return np.arcsinh(_min_max(band) / ASINH_SOFTENING) / np.arcsinh(1.0 / ASINH_SOFTENING)


def _percentile(band: np.ndarray) -> np.ndarray:
    """Clipped to the PERCENTILE_CLIP percentiles, then min-max: a hot pixel no longer sets the scale."""
    return _min_max(np.clip(band, *np.percentile(band, PERCENTILE_CLIP)))


_BAND_SCALINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "minmax": _minmax, "asinh": _asinh, "percentile": _percentile,
}
#: The per-band scalings a ``Reading`` may name, the default first.
SCALINGS = tuple(_BAND_SCALINGS)


def scale(bands: np.ndarray, scaling: str) -> np.ndarray:
    """(C, H, W) -> C-contiguous float32 (C, H, W), each band (as float64) scaled by ``scaling``."""
    out = np.empty(bands.shape, dtype=np.float32)
    for i, band in enumerate(bands.astype(np.float64)):
        out[i] = _BAND_SCALINGS[scaling](band)
    return out
