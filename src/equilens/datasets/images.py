"""Read one lensing image from disk as a float32 (H, W) array in [0, 1], or check cheaply that it can be.

Formats: JPEG/PNG of any bit depth (8/16-bit grey, RGB(A), palette; colour is converted to
luminance) and NumPy ``.npy`` / ``.npz`` arrays shaped (H, W), (1, H, W) or (H, W, 1)
(and (H, W, 3|4) colour). Integer data is divided by its dtype's maximum; float data already
in [0, 1] is kept as is; other float data is min-max scaled per image (the DeepLense ``.npy``
files are unnormalised fluxes in some releases). NaN or inf is an error, never silently zeroed.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
from numpy.lib import format as npy_format
from PIL import Image, UnidentifiedImageError

from equilens.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".npy", ".npz")
_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float64)  # ITU-R 601, as PIL's "L"
_JPEG_END = b"\xff\xd9"  # the end-of-image marker, the last two bytes of a whole JPEG file
# SyntaxError: what PIL's PNG verify() raises for a bad chunk checksum.
_READ_ERRORS = (OSError, ValueError, EOFError, SyntaxError, UnidentifiedImageError, zipfile.BadZipFile)


def read_image(path: str | Path) -> np.ndarray:
    """Return the image at ``path`` as a C-contiguous float32 array (H, W), values in [0, 1].

    Raises:
        InputError: naming the file, when it cannot be read, has an unsupported shape, or
            holds NaN/inf.
    """
    path = Path(path)
    with _reading(path):
        array = _load_array(path) if path.suffix.lower() in (".npy", ".npz") else _load_picture(path)
    return normalize_image(array, name=str(path))


def normalize_image(array: np.ndarray, name: str = "image") -> np.ndarray:
    """One image array as :func:`read_image` returns a file's: a C-contiguous float32 (H, W) in [0, 1].

    The rules are the file reader's, so that an array scores as its file would: shapes (H, W),
    (1, H, W), (H, W, 1), or colour (H, W, 3|4) (weighted to luminance, ITU-R 601, alpha
    dropped); integer and boolean data divided by the dtype's maximum; float data already in
    [0, 1] kept; other float data min-max scaled over this image.

    Raises:
        InputError: naming ``name``, for a shape that is not an image or NaN/inf values.
    """
    array = np.asarray(array)
    _check_values(array, name)
    return _to_unit_float(_to_grey(_integer_to_unit(array)))


def check_image(path: str | Path) -> tuple[int, int]:
    """Check cheaply that ``path`` is a whole image :func:`read_image` can read; return its (H, W).

    JPEG/PNG: the header is read, plus the JPEG's last two bytes (the end-of-image marker,
    missing when the file was cut off) or the PNG's chunk checksums; no pixels are decoded.
    ``.npy``: the array is read whole (for an image-sized array, little more work than its
    header alone, and less than memory-mapping it) and its layout, type and values (NaN/inf)
    are checked. ``.npz``: the zip directory and the
    array's header give its layout and type; its values are checked when it is read.

    Raises:
        InputError: naming the file and what is wrong: an empty or unreadable file, a
            truncated JPEG/PNG, an array that is not an image or holds NaN/inf.
    """
    path = Path(path)
    with _reading(path):
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file (0 bytes)")
        suffix = path.suffix.lower()
        if suffix == ".npy":
            return _check_values(np.load(path, allow_pickle=False), path)
        if suffix == ".npz":
            return _check_layout(*_npz_header(path), path)
        return _check_picture(path)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Reject an unsupported file type; turn the errors of a failed read into one InputError naming ``path``."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{path}: unsupported file type {suffix!r} (expected one of {', '.join(IMAGE_SUFFIXES)})")
    try:
        yield
    except InputError:
        raise
    except _READ_ERRORS as error:
        raise InputError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None


def _check_picture(path: Path) -> tuple[int, int]:
    with open(path, "rb") as handle, Image.open(handle) as picture:
        shape = picture.height, picture.width
        if picture.format == "PNG":
            picture.verify()  # walks the chunks and their checksums; decodes no pixels
        elif picture.format == "JPEG":
            handle.seek(-len(_JPEG_END), os.SEEK_END)
            if handle.read() != _JPEG_END:
                raise InputError(f"{path}: truncated JPEG (the file does not end with the end-of-image marker FF D9)")
    return shape


def _npz_key(keys: list[str], path: Path) -> str:
    """The array of an ``.npz`` that holds the image: the one named ``image``, or its only one."""
    if "image" in keys:
        return "image"
    if len(keys) == 1:
        return keys[0]
    raise InputError(f"{path}: .npz holds arrays {keys}; expected one array or one named 'image'")


def _npz_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of an ``.npz``'s image array from the zip directory and the array's header."""
    with zipfile.ZipFile(path) as archive:
        keys = [name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")]
        with archive.open(f"{_npz_key(keys, path)}.npy") as member:
            version = npy_format.read_magic(member)
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read_header(member)
    return shape, dtype


def _load_array(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as archive:
        return archive[_npz_key(list(archive.keys()), path)]


def _load_picture(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        picture.load()
        if picture.mode in ("P", "PA", "LA", "CMYK", "YCbCr", "LAB", "HSV"):
            picture = picture.convert("RGBA" if "A" in picture.mode else "RGB")
        array = np.asarray(picture)
        if picture.mode in ("I", "I;16", "I;16B", "I;16L"):
            # 16-bit PNGs arrive as mode I (int32) or I;16; their full scale is 65535.
            return array.astype(np.float64) / 65535.0
        return array


def _check_layout(shape: tuple[int, ...], dtype: np.dtype, path: Path) -> tuple[int, int]:
    """(H, W) of an array of ``shape`` and ``dtype`` holding an image; InputError if it cannot."""
    if len(shape) == 3 and shape[0] == 1:
        height, width = shape[1:]
    elif len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4)):
        height, width = shape[:2]
    else:
        raise InputError(f"{path}: array of shape {tuple(shape)} is not an image (expected (H,W), (1,H,W) or (H,W,1))")
    if height == 0 or width == 0:
        raise InputError(f"{path}: array of shape {tuple(shape)} holds no pixels")
    if np.dtype(dtype).kind not in "biuf":
        raise InputError(f"{path}: array dtype {dtype} is not a number type")
    return height, width


def _check_values(array: np.ndarray, path: Path) -> tuple[int, int]:
    """:func:`_check_layout`, and no NaN/inf pixel; returns (H, W)."""
    shape = _check_layout(array.shape, array.dtype, path)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"{path}: {bad} pixel(s) are NaN or infinite")
    return shape


def _to_grey(array: np.ndarray) -> np.ndarray:
    """A checked image array (see :func:`_check_layout`) as (H, W)."""
    if array.ndim == 2:
        return array
    if array.shape[0] == 1:
        return array[0]
    if array.shape[2] == 1:
        return array[..., 0]
    # Colour: drop alpha, weight channels to luminance in the array's own units.
    return array[..., :3].astype(np.float64) @ _LUMINANCE


def _integer_to_unit(array: np.ndarray) -> np.ndarray:
    """Integer pixels to [0, 1] by their dtype's full scale (before any colour conversion)."""
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        return array / np.iinfo(array.dtype).max
    return array


def _to_unit_float(array: np.ndarray) -> np.ndarray:
    array = array.astype(np.float64)
    low, high = array.min(), array.max()
    if low < 0.0 or high > 1.0:
        span = high - low
        array = (array - low) / span if span > 0 else np.zeros_like(array)
    return np.ascontiguousarray(array, dtype=np.float32)
