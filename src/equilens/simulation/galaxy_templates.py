"""Surface-brightness templates for lenstronomy's ``INTERPOL`` light profile, for galaxy features its
analytic profiles lack: a disc with logarithmic spiral arms, and a ring or a ring segment (a ring
galaxy's ring, a tidal arc). Each is a square float64 array of odd side on a grid of ``scale_arcsec``
per pixel, centred on the galaxy, in surface brightness normalised to a total flux
(sum × scale²) of 1, so ``INTERPOL``'s ``amp`` is the flux in counts/s. The major axis of an
inclined disc or ring lies along the first coordinate; ``INTERPOL``'s ``phi_G`` rotates it."""

from __future__ import annotations

import math

import numpy as np

#: b_n of a Sérsic n = 1 profile: an exponential disc of half-light radius R has scale length R / b_1.
_SERSIC_B1 = 1.678


def _disc_plane(half_size_arcsec: float, scale_arcsec: float, axis_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(r, φ) in the plane of a disc seen with ``axis_ratio`` (minor / major), on the template grid."""
    k = max(1, math.ceil(half_size_arcsec / scale_arcsec))
    u = np.arange(-k, k + 1) * scale_arcsec
    x, y = np.meshgrid(u, u / axis_ratio)  # the minor axis is foreshortened by the inclination
    return np.hypot(x, y), np.arctan2(y, x)


def _normalised(brightness: np.ndarray, scale_arcsec: float) -> np.ndarray:
    return brightness / (brightness.sum() * scale_arcsec**2)


def spiral_disc(
    r_half_arcsec: float, axis_ratio: float, n_arms: int, pitch_angle_rad: float, arm_fraction: float,
    arm_phase_rad: float, scale_arcsec: float, half_size_arcsec: float,
) -> np.ndarray:
    """An exponential disc of half-light radius ``r_half_arcsec`` whose light is a fraction
    ``arm_fraction`` in ``n_arms`` logarithmic spiral arms of ``pitch_angle_rad`` (0: a plain disc).
    The arms fade inside one scale length, where a bulge would hide them."""
    r, phi = _disc_plane(half_size_arcsec, scale_arcsec, axis_ratio)
    length = r_half_arcsec / _SERSIC_B1
    disc = np.exp(-r / length)
    # Arms where φ − ln(r/h) / tan(pitch) is constant; cos⁸ of the half-angle narrows them (its mean is 35/128).
    winding = n_arms * (phi - np.log(np.maximum(r, scale_arcsec) / length) / math.tan(pitch_angle_rad) - arm_phase_rad)
    arms = np.cos(winding / 2) ** 8 / (35 / 128)
    strength = arm_fraction * (1 - np.exp(-((r / length) ** 2)))
    return _normalised(disc * (1 - strength + strength * arms), scale_arcsec)


def ring(
    radius_arcsec: float, width_arcsec: float, axis_ratio: float, n_knots: int, knot_fraction: float,
    knot_phase_rad: float, arc_extent_rad: float, scale_arcsec: float,
) -> np.ndarray:
    """A Gaussian ring of ``radius_arcsec`` and σ ``width_arcsec`` seen with ``axis_ratio``, a fraction
    ``knot_fraction`` of its light in ``n_knots`` star-forming knots, restricted to a segment of FWHM
    ``arc_extent_rad`` about φ = 0 when that is below 2π (a tidal arc)."""
    r, phi = _disc_plane(radius_arcsec + 4 * width_arcsec, scale_arcsec, axis_ratio)
    brightness = np.exp(-0.5 * ((r - radius_arcsec) / width_arcsec) ** 2)
    if n_knots > 0:
        knots = np.cos(n_knots * (phi - knot_phase_rad) / 2) ** 4 / (3 / 8)  # mean 1
        brightness *= 1 - knot_fraction + knot_fraction * knots
    if arc_extent_rad < 2 * math.pi:
        brightness *= np.exp(-0.5 * (phi / (arc_extent_rad / 2.3548)) ** 2)
    return _normalised(brightness, scale_arcsec)
