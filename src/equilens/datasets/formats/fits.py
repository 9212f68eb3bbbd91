"""FITS images (astropy, imported only when a FITS file is read): a 2-D image or a (C, H, W) cube
in the HDU ``Reading.hdu`` names, or else the first holding image data; or, with named bands,
one file per band ``<object>_<band>.fits`` side by side (the object's file is its first band's).
NaN marks masked or missing pixels in FITS: they are filled with their band's median and counted.
The chosen HDU's celestial WCS, if any, gives the pixel scale (:mod:`equilens.datasets.formats.wcs`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from equilens.datasets.formats.checks import as_bands, check_bands, nonempty, read_errors
from equilens.datasets.formats.reading import FileInfo, Reading
from equilens.datasets.formats.wcs import pixel_scale_arcsec
from equilens.errors import InputError


class Fits:
    suffixes = (".fits", ".fit")
    check_before_load = False

    def check(self, path: Path, reading: Reading) -> FileInfo:
        """Every band file read whole and checked; ``filled`` counts the NaN pixels filled."""
        bands, filled, _ = _load(path, reading)
        return FileInfo(*check_bands(bands, path, reading), filled=filled)

    def load(self, path: Path, reading: Reading) -> np.ndarray:
        """(C, H, W) float64 bands, NaN filled."""
        return _load(path, reading)[0]

    def load_with_pixel_scale(self, path: Path, reading: Reading) -> tuple[np.ndarray, tuple[float, float] | None]:
        """(C, H, W) float64 bands, NaN filled, and the (rows, columns) arcsec per pixel of the
        first band's WCS (None without one)."""
        bands, _, header = _load(path, reading)
        return bands, pixel_scale_arcsec(header, _band_files(path, reading)[0])


def _band_files(path: Path, reading: Reading) -> list[Path]:
    """``<object>_<band>.fits`` for each named band when ``path`` is the first band's file, else ``[path]``."""
    first = f"_{reading.bands[0]}" if reading.bands else None
    if first is None or not path.stem.endswith(first):
        return [path]
    stem = path.stem[: -len(first)]
    return [path.with_name(f"{stem}_{band}{path.suffix}") for band in reading.bands]


def _load(path: Path, reading: Reading) -> tuple[np.ndarray, int, fits.Header]:
    """(C, H, W) bands, NaN filled, the count filled, and the first band's HDU header."""
    files = _band_files(path, reading)
    missing = [f for f in files if not f.is_file()]
    if missing:
        band = reading.bands[files.index(missing[0])]
        raise InputError(f"{missing[0]}: missing: band {band} of {path.name} ({len(missing)} of {len(files)} band files missing)")
    if len(files) == 1:
        data, header = _hdu_data(path, reading.hdu)
        array = data[None] if data.ndim == 2 else data
    else:
        planes, headers = zip(*(_hdu_data(f, reading.hdu) for f in files))
        header = headers[0]
        for f, plane in zip(files, planes):
            if plane.shape != planes[0].shape:
                raise InputError(f"{f}: band image of shape {plane.shape}; band {reading.bands[0]} ({files[0].name}) is {planes[0].shape}")
        array = np.stack(planes)
    if array.ndim != 3:
        raise InputError(f"{path}: FITS data of shape {array.shape} is not an image (expected 2-D, or a 3-D cube of bands)")
    bad = ~np.isfinite(array)
    for band, mask in zip(array, bad):
        if mask.all():
            raise InputError(f"{path}: a band holds no finite pixel (every pixel is NaN, inf or masked)")
        if mask.any():
            band[mask] = np.median(band[~mask])  # masked / missing pixels take the band's typical (sky) level
    return as_bands(array, path), int(bad.sum()), header


def _hdu_data(path: Path, hdu: str | None) -> tuple[np.ndarray, fits.Header]:
    """Float64 data and header of ``path``'s chosen HDU; errors name this band file."""
    from astropy.io import fits  # seconds to import

    with read_errors(path):
        nonempty(path)
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
            return np.asarray(data, dtype=np.float64), hdus[index].header


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
