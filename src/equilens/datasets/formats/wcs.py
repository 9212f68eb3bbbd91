"""A FITS image's pixel scale on the sky, from its celestial WCS (CD, or CDELT with PC; astropy)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from equilens.errors import InputError

ARCSEC_PER_DEGREE = 3600.0


def pixel_scale_arcsec(header, path: Path) -> tuple[float, float] | None:
    """(rows, columns) arcsec per pixel of the image ``header`` describes (astropy ``Header``), or
    None when it has no WCS (no CTYPE). InputError naming ``path`` for a WCS that is not celestial
    (e.g. CTYPE ``LINEAR``) or that astropy cannot read."""
    ctypes = [str(value).strip() for key, value in header.items() if key.startswith("CTYPE")]
    if not any(ctypes):
        return None
    from astropy.wcs import WCS, FITSFixedWarning
    from astropy.wcs.utils import proj_plane_pixel_scales

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)  # e.g. a date astropy re-formats: no bearing on the scale
            wcs = WCS(header)
    except Exception as error:  # noqa: BLE001 - wcslib's errors are many and undocumented
        raise InputError(f"{path}: cannot read its WCS ({type(error).__name__}: {error})") from None
    if not wcs.has_celestial:
        raise InputError(f"{path}: its WCS is not celestial (CTYPE {', '.join(map(repr, ctypes))}): no pixel scale on the "
                         "sky to read it at the model's")
    # The celestial axes' scales, in degrees, along pixel axes 1 (x: columns) and 2 (y: rows).
    columns, rows = proj_plane_pixel_scales(wcs.celestial)[:2] * ARCSEC_PER_DEGREE
    if not (np.isfinite([rows, columns]).all() and rows > 0 and columns > 0):
        raise InputError(f"{path}: its WCS gives a pixel scale of {rows:g}x{columns:g} arcsec")
    return float(rows), float(columns)
