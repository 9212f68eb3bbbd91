"""Read one lensing image from disk as a float32 (H, W) array in [0, 1].

Formats: JPEG/PNG of any bit depth (8/16-bit grey, RGB(A), palette; colour is converted to
luminance) and NumPy ``.npy`` / ``.npz`` arrays shaped (H, W), (1, H, W) or (H, W, 1)
(and (H, W, 3|4) colour). Integer data is divided by its dtype's maximum; float data already
in [0, 1] is kept as is; other float data is min-max scaled per image (the DeepLense ``.npy``
files are unnormalised fluxes in some releases). NaN or inf is an error, never silently zeroed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from equilens.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".npy", ".npz")
_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float64)  # ITU-R 601, as PIL's "L"


def read_image(path: str | Path) -> np.ndarray:
    """Return the image at ``path`` as a C-contiguous float32 array (H, W), values in [0, 1].

    Raises:
        InputError: naming the file, when it cannot be read, has an unsupported shape, or
            holds NaN/inf.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{path}: unsupported file type {suffix!r} (expected one of {', '.join(IMAGE_SUFFIXES)})")
    try:
        if suffix in (".npy", ".npz"):
            array = _load_array(path)
        else:
            array = _load_picture(path)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, UnidentifiedImageError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None
    return _to_unit_float(_to_grey(_integer_to_unit(array), path), path)


def image_shape(path: str | Path) -> tuple[int, int]:
    """(H, W) of the image at ``path`` read from its header only (cheap; used to check sizes)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        elif suffix == ".npz":
            shape = _load_array(path).shape
        else:
            with Image.open(path) as picture:
                return picture.height, picture.width
    except (OSError, ValueError, EOFError, UnidentifiedImageError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None
    return _spatial_shape(shape, path)


def _load_array(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.keys())
        if "image" in keys:
            return archive["image"]
        if len(keys) == 1:
            return archive[keys[0]]
        raise InputError(f"{path}: .npz holds arrays {keys}; expected one array or one named 'image'")


def _load_picture(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        picture.load()
        if picture.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
            picture = picture.convert("RGBA" if "A" in picture.mode else "RGB")
        array = np.asarray(picture)
        if picture.mode in ("I", "I;16", "I;16B", "I;16L"):
            # 16-bit PNGs arrive as mode I (int32) or I;16; their full scale is 65535.
            return array.astype(np.float64) / 65535.0
        return array


def _spatial_shape(shape: tuple[int, ...], path: Path) -> tuple[int, int]:
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2]
    if len(shape) == 3 and shape[2] in (1, 3, 4):
        return shape[0], shape[1]
    raise InputError(f"{path}: array of shape {tuple(shape)} is not an image (expected (H,W), (1,H,W) or (H,W,1))")


def _to_grey(array: np.ndarray, path: Path) -> np.ndarray:
    _spatial_shape(array.shape, path)
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


def _to_unit_float(array: np.ndarray, path: Path) -> np.ndarray:
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{path}: array dtype {array.dtype} is not a number type")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"{path}: {bad} pixel(s) are NaN or infinite")
    low, high = array.min(), array.max()
    if low < 0.0 or high > 1.0:
        span = high - low
        array = (array - low) / span if span > 0 else np.zeros_like(array)
    return np.ascontiguousarray(array, dtype=np.float32)
