"""What every format's reader shares: a failed read as one InputError naming the file, and the
checks that an array is an image, (H, W), (C, H, W) or (H, W, C), of finite numbers."""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import UnidentifiedImageError

from equilens.datasets.formats.reading import Reading
from equilens.errors import InputError

# More "bands" than this along an axis means the array is not (C, H, W) or (H, W, C).
MAX_BANDS = 16
# SyntaxError: what PIL's PNG verify() raises for a bad chunk checksum.
_READ_ERRORS = (OSError, ValueError, EOFError, SyntaxError, UnidentifiedImageError, zipfile.BadZipFile)


@contextlib.contextmanager
def read_errors(path: Path) -> Iterator[None]:
    """Turn the errors of a failed read into one InputError naming ``path``."""
    try:
        yield
    except InputError:
        raise
    except _READ_ERRORS as error:
        raise InputError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None


def nonempty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")


def _layout(shape: tuple[int, ...]) -> str | None:
    """``hw``, ``chw`` or ``hwc``, else None: a band axis is the short one (at most MAX_BANDS,
    shorter than the image side) at either end."""
    if len(shape) == 2:
        return "hw"
    if len(shape) != 3:
        return None
    if shape[0] <= MAX_BANDS and shape[0] < min(shape[1:]):
        return "chw"
    if shape[2] <= MAX_BANDS and shape[2] < min(shape[:2]):
        return "hwc"
    return None


def check_layout(shape: tuple[int, ...], dtype: np.dtype, where: str | Path) -> tuple[int, int, int]:
    """(C, H, W) of an array of ``shape`` and ``dtype`` holding an image; InputError if it cannot."""
    layout = _layout(tuple(shape))
    if layout is None:
        raise InputError(f"{where}: array of shape {tuple(shape)} is not an image (expected (H, W), (C, H, W) or (H, W, C) "
                         f"with at most {MAX_BANDS} bands)")
    channels, height, width = (1, *shape) if layout == "hw" else shape if layout == "chw" else (shape[2], *shape[:2])
    if height == 0 or width == 0:
        raise InputError(f"{where}: array of shape {tuple(shape)} holds no pixels")
    if np.dtype(dtype).kind not in "biuf":
        raise InputError(f"{where}: array dtype {dtype} is not a number type")
    return channels, height, width


def as_bands(array: np.ndarray, where: str | Path) -> np.ndarray:
    """An image array of any layout (:func:`check_layout`) as a (C, H, W) view."""
    check_layout(array.shape, array.dtype, where)
    layout = _layout(array.shape)
    return array[None] if layout == "hw" else array if layout == "chw" else np.moveaxis(array, -1, 0)


def check_bands(bands: np.ndarray, where: str | Path, reading: Reading) -> tuple[int, int, int]:
    """(C, H, W) of ``bands``, refused when a pixel is NaN/inf or ``reading`` names another band count."""
    if bands.dtype.kind == "f" and not np.isfinite(bands).all():
        raise InputError(f"{where}: {int((~np.isfinite(bands)).sum())} pixel(s) are NaN or infinite")
    channels, height, width = bands.shape
    if reading.bands is not None and channels != len(reading.bands):
        raise InputError(f"{where}: {channels} band(s); expected {len(reading.bands)} ({', '.join(reading.bands)})")
    return channels, height, width
