"""Read one lensing image from disk as float32 bands (C, H, W) scaled to about [0, 1], or check
cheaply that it can be.

Formats:

* JPEG/PNG of any bit depth (8/16-bit grey, RGB(A), palette): one band, colour converted to
  luminance, or with ``Reading(colour=True)`` three bands R, G, B.
* NumPy ``.npy`` / ``.npz`` arrays (H, W), (C, H, W) or (H, W, C), C bands (at most
  :data:`MAX_BANDS`, fewer than the image side). An ``.npy`` object array ``[image, number]``
  (DeepLense's ``axion`` files) is unpickled safely (:mod:`equilens.datasets.pickled`) and its
  number kept as the image's value.
* FITS (astropy): a 2-D image or a (C, H, W) cube in the primary HDU, the first HDU with data,
  or the one named (``Reading(hdu=...)``); or, with named bands, one file per band,
  ``<object>_<band>.fits`` side by side (the object's file is its first band's).

Each band is scaled on its own (``Reading.scaling``, :data:`equilens.config.SCALINGS`); the
default, ``minmax``, is what equilens always did with grey images. NaN or inf in a NumPy array
is an error, never silently zeroed; in FITS, where NaN marks masked or missing pixels, they are
filled with the band's median and counted (:class:`FileInfo`), and the data loader reports them.
"""

from __future__ import annotations

import contextlib
import os
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np
from numpy.lib import format as npy_format
from PIL import Image, UnidentifiedImageError

from equilens.config import ASINH_SOFTENING, DEFAULT_SCALING, PERCENTILE_CLIP, SCALINGS
from equilens.datasets.pickled import is_object_npy, load_object_array
from equilens.errors import InputError

FITS_SUFFIXES = (".fits", ".fit")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".npy", ".npz", *FITS_SUFFIXES)
# More "bands" than this along an axis means the array is not (C, H, W) or (H, W, C).
MAX_BANDS = 16
_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float64)  # ITU-R 601, as PIL's "L"
_JPEG_END = b"\xff\xd9"  # the end-of-image marker, the last two bytes of a whole JPEG file
# SyntaxError: what PIL's PNG verify() raises for a bad chunk checksum.
_READ_ERRORS = (OSError, ValueError, EOFError, SyntaxError, UnidentifiedImageError, zipfile.BadZipFile)


@dataclass(frozen=True)
class Reading:
    """How files become model input; a run saves it and ``predict`` reads new files the same way.

    Attributes:
        colour: JPEG/PNG as three bands R, G, B instead of one luminance band.
        bands: names of the bands, in channel order (e.g. ``("g", "r", "i")``); every file must
            hold that many. FITS files named ``<object>_<band>.fits`` are then one file per band.
            None: one band for pictures, whatever the arrays hold otherwise.
        hdu: FITS HDU by name or index; None: the primary HDU, else the first holding data.
        scaling: per-band scaling, one of :data:`equilens.config.SCALINGS`.
    """

    colour: bool = False
    bands: tuple[str, ...] | None = None
    hdu: str | None = None
    scaling: str = DEFAULT_SCALING

    def __post_init__(self) -> None:
        if isinstance(self.hdu, int) and not isinstance(self.hdu, bool):
            # An index from Python (equilens.train(..., hdu=1)) as the CLI's "1".
            object.__setattr__(self, "hdu", str(self.hdu))
        if self.scaling not in SCALINGS:
            raise InputError(f"--scaling {self.scaling!r}: choose one of {list(SCALINGS)}")
        if self.bands is not None and (len(set(self.bands)) != len(self.bands) or not self.bands):
            raise InputError(f"--bands {list(self.bands)}: name each band once")

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["bands"] = list(self.bands) if self.bands else None
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "Reading":
        """The reading saved with a run or model; None (saved before bands existed): grey."""
        values = dict(values or {})
        if values.get("bands"):
            values["bands"] = tuple(values["bands"])
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


GREY = Reading()


def saved_reading(record: dict) -> tuple[Reading, int]:
    """How a run or model (its config.json, or its weights' info) reads files, and how many
    bands they have; saved before bands existed: grey, one band."""
    saved = record.get("input") or {}
    return Reading.from_dict(saved), saved.get("channels", 1)


class FileInfo(NamedTuple):
    """What the check of one file found."""

    channels: int
    height: int
    width: int
    value: float | None = None  # the number beside the image in a DeepLense object array
    filled: int = 0  # NaN / masked pixels that reading fills (FITS)

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width


def read_image(path: str | Path) -> np.ndarray:
    """Return the one-band image at ``path`` as a C-contiguous float32 array (H, W), values in [0, 1].

    Raises:
        InputError: naming the file, when it cannot be read, has an unsupported shape, holds
            several bands, or holds NaN/inf.
    """
    bands = read_bands(path)
    if len(bands) != 1:
        raise InputError(f"{path}: {len(bands)} bands; expected a one-band image")
    return bands[0]


def normalize_image(array: np.ndarray, name: str = "image", reading: Reading = GREY) -> np.ndarray:
    """One image array in memory as :func:`read_bands` returns a file's: C-contiguous float32
    bands (C, H, W), each scaled by ``reading.scaling``.

    The rules are the file reader's, so that an array scores as its file would: layouts (H, W),
    (C, H, W) or (H, W, C) (a band axis is the short one, at most 16 bands); integer and boolean
    data divided by the dtype's maximum; then ``minmax`` scaling (the default) keeps float data
    already in [0, 1] and min-max scales other data per band. A colour picture's (H, W, 3)
    pixels are three bands here, as in an ``.npy`` file: convert a picture to grey first (PIL's
    ``convert("L")``, the luminance the reader takes) for a one-band model.

    Raises:
        InputError: naming ``name``, for a shape that is not an image, NaN/inf values, or a band
            count other than ``reading.bands``'.
    """
    array = np.asarray(array)
    _check_bands(array, name, reading)
    return _scaled_bands(array, reading)


def read_bands(path: str | Path, reading: Reading = GREY) -> np.ndarray:
    """Return the image at ``path`` as C-contiguous float32 bands (C, H, W), each scaled by
    ``reading.scaling``.

    Raises:
        InputError: naming the file, when it cannot be read, has an unsupported shape, holds
            NaN/inf (NumPy) or no finite pixel in a band (FITS).
    """
    return _read(Path(path), reading)[0]


def check_image(path: str | Path, reading: Reading = GREY) -> FileInfo:
    """Check cheaply that ``path`` is a whole image :func:`read_bands` can read.

    JPEG/PNG: the header is read, plus the JPEG's last two bytes (the end-of-image marker,
    missing when the file was cut off) or the PNG's chunk checksums; no pixels are decoded.
    ``.npy`` and FITS: the array is read whole (for an image-sized array, little more work than
    its header alone) and its layout, type and values checked. ``.npz``: the zip directory and
    the array's header give its layout and type; its values are checked when it is read.

    Raises:
        InputError: naming the file and what is wrong: an empty or unreadable file, a
            truncated JPEG/PNG/FITS, a missing HDU or band file, an array that is not an image
            or holds NaN/inf.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", *FITS_SUFFIXES):
        return _read(path, reading, scale=False)[1]
    with _reading(path):
        _nonempty(path)
        if suffix == ".npz":
            shape, dtype = _npz_header(path)
            return FileInfo(*_check_layout(shape, dtype, path))
        return _check_picture(path, reading)


def _nonempty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")


def _read(path: Path, reading: Reading, scale: bool = True) -> tuple[np.ndarray, FileInfo]:
    """(C, H, W) bands (scaled unless ``scale`` is False) and what was found reading them."""
    value, filled = None, 0
    suffix = path.suffix.lower()
    with _reading(path):
        if suffix in FITS_SUFFIXES:
            array, filled = _load_fits(path, reading)  # checks each band file
        else:
            _nonempty(path)
            array, value = _load_array(path) if suffix in (".npy", ".npz") else (_load_picture(path, reading), None)
    info = FileInfo(*_check_bands(array, path, reading), value, filled)
    return (_scaled_bands(array, reading) if scale else array), info


def _check_bands(array: np.ndarray, where: str | Path, reading: Reading) -> tuple[int, int, int]:
    """:func:`_check_values`, and as many bands as ``reading`` names; returns (C, H, W)."""
    channels, height, width = _check_values(array, where)
    if reading.bands is not None and channels != len(reading.bands):
        raise InputError(f"{where}: {channels} band(s); expected {len(reading.bands)} ({', '.join(reading.bands)})")
    return channels, height, width


def _scaled_bands(array: np.ndarray, reading: Reading) -> np.ndarray:
    """A checked image array as float32 bands (C, H, W), scaled as ``reading`` says."""
    return _scale(_to_bands(_integer_to_unit(array)), reading.scaling)


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


def _check_picture(path: Path, reading: Reading) -> FileInfo:
    with open(path, "rb") as handle, Image.open(handle) as picture:
        shape = picture.height, picture.width
        if picture.format == "PNG":
            picture.verify()  # walks the chunks and their checksums; decodes no pixels
        elif picture.format == "JPEG":
            handle.seek(-len(_JPEG_END), os.SEEK_END)
            if handle.read() != _JPEG_END:
                raise InputError(f"{path}: truncated JPEG (the file does not end with the end-of-image marker FF D9)")
    return FileInfo(3 if reading.colour else 1, *shape)


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


def _load_array(path: Path) -> tuple[np.ndarray, float | None]:
    """The image array and, for a DeepLense object array, the number beside it."""
    if path.suffix.lower() == ".npy":
        if is_object_npy(path):
            return load_object_array(path)
        return np.load(path, allow_pickle=False), None
    with np.load(path, allow_pickle=False) as archive:
        return archive[_npz_key(list(archive.keys()), path)], None


def _load_picture(path: Path, reading: Reading) -> np.ndarray:
    with Image.open(path) as picture:
        picture.load()
        if reading.colour:
            return np.asarray(picture.convert("RGB"))
        if picture.mode in ("P", "PA", "LA", "CMYK", "YCbCr", "LAB", "HSV"):
            picture = picture.convert("RGBA" if "A" in picture.mode else "RGB")
        array = np.asarray(picture)
        if picture.mode in ("I", "I;16", "I;16B", "I;16L"):
            # 16-bit PNGs arrive as mode I (int32) or I;16; their full scale is 65535.
            return array.astype(np.float64) / 65535.0
        # Colour to luminance, in [0, 1] units (integer pixels by their full scale first).
        return _to_grey(_integer_to_unit(array))


def _band_files(path: Path, reading: Reading) -> list[Path]:
    """The files holding the bands of the object ``path`` names: ``<object>_<band>.fits`` for each
    named band when ``path`` is the first band's FITS file, else ``[path]``."""
    first = f"_{reading.bands[0]}" if reading.bands else None
    if first is None or path.suffix.lower() not in FITS_SUFFIXES or not path.stem.endswith(first):
        return [path]
    stem = path.stem[: -len(first)]
    return [path.with_name(f"{stem}_{band}{path.suffix}") for band in reading.bands]


def _load_fits(path: Path, reading: Reading) -> tuple[np.ndarray, int]:
    """(C, H, W) float64 bands of a FITS cube or of one file per band, NaN filled; and how many were."""
    files = _band_files(path, reading)
    missing = [f for f in files if not f.is_file()]
    if missing:
        band = reading.bands[files.index(missing[0])]
        raise InputError(f"{missing[0]}: missing: band {band} of {path.name} ({len(missing)} of {len(files)} band files missing)")
    if len(files) == 1:
        data = _fits_data(path, reading.hdu)
        array = data[None] if data.ndim == 2 else data
    else:
        planes = [_fits_data(f, reading.hdu) for f in files]
        for f, plane in zip(files, planes):
            if plane.shape != planes[0].shape:
                raise InputError(f"{f}: band image of shape {plane.shape}; band {reading.bands[0]} ({files[0].name}) is {planes[0].shape}")
        array = np.stack(planes)
    if array.ndim != 3:
        raise InputError(f"{path}: FITS data of shape {array.shape} is not an image (expected 2-D, or a 3-D cube of bands)")
    bad = ~np.isfinite(array)
    filled = int(bad.sum())
    for band, mask in zip(array, bad):
        if mask.all():
            raise InputError(f"{path}: a band holds no finite pixel (every pixel is NaN, inf or masked)")
        if mask.any():
            band[mask] = np.median(band[~mask])  # masked / missing pixels take the band's typical (sky) level
    return array, filled


def _fits_data(path: Path, hdu: str | None) -> np.ndarray:
    """Float64 data of ``path``'s chosen HDU (see :class:`Reading`), read with astropy."""
    from astropy.io import fits  # astropy takes seconds to import: only when a FITS file is read

    with _reading(path):
        _nonempty(path)
        with warnings.catch_warnings(record=True) as caught, fits.open(path, memmap=False) as hdus:
            warnings.simplefilter("always")
            index = _hdu_index(hdus, hdu, path)
            try:
                data = hdus[index].data
            except ValueError:  # too few bytes for the header's shape: astropy warned why
                data = None
            truncated = [w for w in caught if "truncated" in str(w.message)]
            if truncated or data is None:
                raise InputError(f"{path}: truncated FITS file ({truncated[0].message if truncated else 'no data'})")
            if data.dtype.kind not in "biuf":
                raise InputError(f"{path}: FITS HDU {index} holds {data.dtype} data, not an image")
            return np.asarray(data, dtype=np.float64)


def _hdu_index(hdus, hdu: str | None, path: Path) -> int:
    names = [h.name or str(i) for i, h in enumerate(hdus)]
    if hdu is None:
        with_data = [i for i, h in enumerate(hdus) if h.is_image and h.header.get("NAXIS", 0) >= 2]
        if not with_data:
            raise InputError(f"{path}: no HDU holds image data (HDUs: {names})")
        return with_data[0]
    if hdu.isdigit():
        if int(hdu) < len(hdus):
            return int(hdu)
    elif hdu.upper() in [h.name.upper() for h in hdus]:
        return [h.name.upper() for h in hdus].index(hdu.upper())
    raise InputError(f"{path}: no HDU {hdu!r} (HDUs: {names})")


def _layout(shape: tuple[int, ...]) -> str | None:
    """``hw``, ``chw`` or ``hwc`` for an image array's shape, else None. A band axis is the
    short one (at most MAX_BANDS, shorter than the image side) at either end."""
    if len(shape) == 2:
        return "hw"
    if len(shape) != 3:
        return None
    if shape[0] <= MAX_BANDS and shape[0] < min(shape[1:]):
        return "chw"
    if shape[2] <= MAX_BANDS and shape[2] < min(shape[:2]):
        return "hwc"
    return None


def _check_layout(shape: tuple[int, ...], dtype: np.dtype, path: Path) -> tuple[int, int, int]:
    """(C, H, W) of an array of ``shape`` and ``dtype`` holding an image; InputError if it cannot."""
    layout = _layout(tuple(shape))
    if layout is None:
        raise InputError(f"{path}: array of shape {tuple(shape)} is not an image (expected (H, W), (C, H, W) or (H, W, C) "
                         f"with at most {MAX_BANDS} bands)")
    channels, height, width = (1, *shape) if layout == "hw" else shape if layout == "chw" else (shape[2], *shape[:2])
    if height == 0 or width == 0:
        raise InputError(f"{path}: array of shape {tuple(shape)} holds no pixels")
    if np.dtype(dtype).kind not in "biuf":
        raise InputError(f"{path}: array dtype {dtype} is not a number type")
    return channels, height, width


def _check_values(array: np.ndarray, path: Path) -> tuple[int, int, int]:
    """:func:`_check_layout`, and no NaN/inf pixel; returns (C, H, W)."""
    shape = _check_layout(array.shape, array.dtype, path)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"{path}: {bad} pixel(s) are NaN or infinite")
    return shape


def _to_grey(array: np.ndarray) -> np.ndarray:
    """A picture's array, (H, W) or colour (H, W, 3|4), as (H, W) luminance."""
    if array.ndim == 2:
        return array
    # Colour: drop alpha, weight channels to luminance in the array's own units.
    return array[..., :3].astype(np.float64) @ _LUMINANCE


def _to_bands(array: np.ndarray) -> np.ndarray:
    """A checked image array as (C, H, W)."""
    layout = _layout(array.shape)
    return array[None] if layout == "hw" else array if layout == "chw" else np.moveaxis(array, -1, 0)


def _integer_to_unit(array: np.ndarray) -> np.ndarray:
    """Integer pixels to [0, 1] by their dtype's full scale (before any colour conversion)."""
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        return array / np.iinfo(array.dtype).max
    return array


def _scale(bands: np.ndarray, scaling: str) -> np.ndarray:
    """(C, H, W) -> float32 (C, H, W), each band scaled by ``scaling`` (see :class:`Reading`)."""
    out = np.empty(bands.shape, dtype=np.float32)
    for i, band in enumerate(bands.astype(np.float64)):
        if scaling == "minmax":
            out[i] = _to_unit_float(band)
        elif scaling == "asinh":
            out[i] = np.arcsinh(_min_max(band) / ASINH_SOFTENING) / np.arcsinh(1.0 / ASINH_SOFTENING)
        else:
            out[i] = _min_max(np.clip(band, *np.percentile(band, PERCENTILE_CLIP)))
    return out


def _min_max(array: np.ndarray) -> np.ndarray:
    low, high = array.min(), array.max()
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def _to_unit_float(array: np.ndarray) -> np.ndarray:
    """Kept if already in [0, 1], else min-max scaled."""
    array = array.astype(np.float64)
    low, high = array.min(), array.max()
    if low < 0.0 or high > 1.0:
        span = high - low
        array = (array - low) / span if span > 0 else np.zeros_like(array)
    return np.ascontiguousarray(array, dtype=np.float32)
