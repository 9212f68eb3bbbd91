"""Bands of a multi-band simulation: per-band factors on a preset's single-band settings."""

from __future__ import annotations

import dataclasses

from equilens.errors import InputError


@dataclasses.dataclass(frozen=True)
class Band:
    """One band: factors on the preset's lens-light and source amplitudes, PSF FWHM and background σ."""

    lens_light: float
    source: float
    psf_fwhm: float
    background_rms: float


#: ``equilens simulate --bands``: a red lens galaxy and a blue source relative to r, roughly
#: (illustrative, not a survey's calibration): enough for colour to separate arcs from lens light.
BANDS: dict[str, Band] = {
    "u": Band(lens_light=0.08, source=1.3, psf_fwhm=1.25, background_rms=1.6),
    "g": Band(lens_light=0.3, source=1.2, psf_fwhm=1.15, background_rms=1.2),
    "r": Band(lens_light=1.0, source=1.0, psf_fwhm=1.0, background_rms=1.0),
    "i": Band(lens_light=1.7, source=0.85, psf_fwhm=0.9, background_rms=1.1),
    "z": Band(lens_light=2.2, source=0.75, psf_fwhm=0.9, background_rms=1.5),
    "VIS": Band(lens_light=1.3, source=0.9, psf_fwhm=0.8, background_rms=0.8),
    "Y": Band(lens_light=2.6, source=0.7, psf_fwhm=1.6, background_rms=1.5),
    "J": Band(lens_light=3.0, source=0.65, psf_fwhm=1.7, background_rms=1.6),
    "H": Band(lens_light=3.3, source=0.6, psf_fwhm=1.8, background_rms=1.7),
}


def get_band(name: str) -> Band:
    """The band called ``name``; InputError listing the choices otherwise."""
    try:
        return BANDS[name]
    except KeyError:
        raise InputError(f"unknown simulation band {name!r}; choose from: {', '.join(BANDS)}") from None
