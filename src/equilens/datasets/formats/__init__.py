"""Read one lensing image as float32 bands (C, H, W) scaled to about [0, 1], or check cheaply
that it can be. A file format is a module with an :class:`ImageFormat` class, registered below."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from equilens.datasets.formats.array import NumpyArray
from equilens.datasets.formats.checks import MAX_BANDS, as_bands, check_bands, read_errors
from equilens.datasets.formats.fits import Fits
from equilens.datasets.formats.picture import Picture
from equilens.datasets.formats.reading import GREY, FileInfo, Reading, saved_reading
from equilens.datasets.formats.scaling import integer_to_unit, scale
from equilens.errors import InputError

__all__ = [
    "FITS_SUFFIXES", "FORMATS", "GREY", "MAX_BANDS", "PICTURE_SUFFIXES", "FileInfo", "ImageFormat",
    "Reading", "check_image", "format_of", "normalize_image", "read_bands", "read_image", "register_format", "saved_reading",
]


class ImageFormat(Protocol):
    suffixes: tuple[str, ...]
    check_before_load: bool  # load can succeed on a cut-off file, so a reader that must not score one checks first

    def check(self, path: Path, reading: Reading) -> FileInfo: ...

    def load(self, path: Path, reading: Reading) -> np.ndarray:
        """The image as (C, H, W) numbers, unscaled; errors name the file."""


FORMATS: dict[str, ImageFormat] = {}


def register_format(image_format: ImageFormat) -> ImageFormat:
    taken = [suffix for suffix in image_format.suffixes if suffix in FORMATS]
    if taken:
        raise ValueError(f"file suffixes {taken} are already registered")
    FORMATS.update(dict.fromkeys(image_format.suffixes, image_format))
    return image_format


register_format(Picture())
register_format(NumpyArray())
register_format(Fits())
PICTURE_SUFFIXES = Picture.suffixes
FITS_SUFFIXES = Fits.suffixes


def format_of(path: Path) -> ImageFormat:
    """The format that reads ``path``, by its suffix; InputError naming the file for any other."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: unsupported file type {suffix!r} (expected one of {', '.join(FORMATS)})")
    return FORMATS[suffix]


def read_image(path: str | Path) -> np.ndarray:
    """The one-band image at ``path`` as a C-contiguous float32 array (H, W), values in [0, 1]."""
    bands = read_bands(path)
    if len(bands) != 1:
        raise InputError(f"{path}: {len(bands)} bands; expected a one-band image")
    return bands[0]


def read_bands(path: str | Path, reading: Reading = GREY) -> np.ndarray:
    """The image at ``path`` as C-contiguous float32 bands (C, H, W), each scaled by ``reading.scaling``;
    InputError naming the file when it cannot be read, is not an image, or holds NaN/inf."""
    path = Path(path)
    image_format = format_of(path)
    with read_errors(path):
        bands = image_format.load(path, reading)
    check_bands(bands, path, reading)
    return scale(integer_to_unit(bands), reading.scaling)


def normalize_image(array: np.ndarray, name: str = "image", reading: Reading = GREY) -> np.ndarray:
    """An image array (H, W), (C, H, W) or (H, W, C) as :func:`read_bands` returns a file's, so
    that it scores as its ``.npy`` file would: integers divided by their dtype's maximum, then
    each band scaled by ``reading.scaling`` (docs/python.md). InputError naming ``name``."""
    bands = as_bands(np.asarray(array), name)
    check_bands(bands, name, reading)
    return scale(integer_to_unit(bands), reading.scaling)


def check_image(path: str | Path, reading: Reading = GREY) -> FileInfo:
    """Check cheaply (headers only where the format allows) that ``path`` is a whole image
    :func:`read_bands` can read; InputError naming the file and what is wrong."""
    path = Path(path)
    image_format = format_of(path)
    with read_errors(path):
        return image_format.check(path, reading)
