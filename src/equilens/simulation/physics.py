"""The simulator's physics in flat ΛCDM: lensing scales, halo profiles, photometry. Units are in
the names: ``_arcsec``, ``_msun``, ``_cps`` (counts per second)."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from equilens.errors import InputError

#: Cosmology of the DeepLense simulations.
HUBBLE_CONSTANT_KM_S_MPC = 70.0
OMEGA_MATTER = 0.3
#: DeepLenseSim's vortex: half-length (arcsec) = this / axion mass (eV).
VORTEX_LENGTH_AXION_MASS = 3e-24


@functools.lru_cache(maxsize=64)
def _einstein_radius_of_one_msun_arcsec(z_lens: float, z_source: float) -> float:
    """θ_E in arcsec of a 1 M☉ point lens; θ_E scales as sqrt(M), so this fixes every mass."""
    # Lazy: astropy is slow to import and most users of the config never need it.
    import astropy.constants as const
    import astropy.units as u
    from astropy.cosmology import FlatLambdaCDM

    cosmology = FlatLambdaCDM(H0=HUBBLE_CONSTANT_KM_S_MPC, Om0=OMEGA_MATTER)
    # Luminosity, not angular-diameter, distances: DeepLense's choice, which we reproduce.
    d_lens = cosmology.luminosity_distance(z_lens)
    d_source = cosmology.luminosity_distance(z_source)
    theta_sq = 4 * const.G * (1 * u.Msun) / const.c**2 * (d_source - d_lens) / (d_lens * d_source)
    return float((math.sqrt(theta_sq.decompose().value) * u.rad).to_value(u.arcsec))


def einstein_radius_arcsec(mass_msun: Any, z_lens: float, z_source: float) -> Any:
    """Einstein radius (arcsec) of point masses ``mass_msun`` (M☉; scalar or array), as DeepLense:
    θ_E = sqrt(4 G M / c² · (D_S − D_L) / (D_L D_S)) with luminosity distances D."""
    if not 0 <= z_lens < z_source:
        raise InputError(f"redshifts must satisfy 0 <= z_lens < z_source, got z_lens={z_lens}, z_source={z_source}")
    return _einstein_radius_of_one_msun_arcsec(float(z_lens), float(z_source)) * np.sqrt(mass_msun)


@functools.lru_cache(maxsize=64)
def _nfw_scales(z_lens: float, z_source: float) -> tuple[float, float, float]:
    """(ρ_crit(z_lens) in M☉/Mpc³, D_d in Mpc, Σ_crit in M☉/Mpc²), angular-diameter distances."""
    import astropy.constants as const
    import astropy.units as u
    from astropy.cosmology import FlatLambdaCDM

    cosmology = FlatLambdaCDM(H0=HUBBLE_CONSTANT_KM_S_MPC, Om0=OMEGA_MATTER)
    d_d = cosmology.angular_diameter_distance(z_lens)
    d_s = cosmology.angular_diameter_distance(z_source)
    d_ds = cosmology.angular_diameter_distance_z1z2(z_lens, z_source)
    sigma_crit = const.c**2 / (4 * math.pi * const.G) * d_s / (d_d * d_ds)
    return (
        cosmology.critical_density(z_lens).to_value(u.Msun / u.Mpc**3),
        d_d.to_value(u.Mpc),
        sigma_crit.to_value(u.Msun / u.Mpc**2),
    )


def duffy2008_concentration(mass_msun: Any, z: float) -> Any:
    """NFW c200 of halos of M200 ``mass_msun`` (M☉) at ``z``: Duffy et al. 2008, Table 1 (full sample),
    5.71 (M / 2e12 h⁻¹ M☉)^−0.084 (1 + z)^−0.47. For subhalos, denser than field halos, conservative."""
    pivot_msun = 2e12 / (HUBBLE_CONSTANT_KM_S_MPC / 100)
    return 5.71 * (np.asarray(mass_msun, dtype=float) / pivot_msun) ** -0.084 * (1 + z) ** -0.47


def nfw_lensing_arcsec(mass_msun: Any, concentration: Any, z_lens: float, z_source: float) -> tuple[Any, Any]:
    """Lenstronomy ``NFW`` ``(Rs, alpha_Rs)`` (arcsec) of halos of M200 ``mass_msun`` (M☉) and c200
    ``concentration`` (number or array), as ``LensCosmo.nfw_physical2angle`` (which needs astropy >= 7)."""
    rho_crit, d_d_mpc, sigma_crit = _nfw_scales(float(z_lens), float(z_source))
    r200_mpc = (3 * np.asarray(mass_msun, dtype=float) / (4 * math.pi * 200 * rho_crit)) ** (1 / 3)
    concentration = np.asarray(concentration, dtype=float)
    rs_mpc = r200_mpc / concentration
    rho0 = 200 / 3 * rho_crit * concentration**3 / (np.log(1 + concentration) - concentration / (1 + concentration))
    arcsec_per_radian = 180 / math.pi * 3600
    alpha_rs_mpc = 4 * rho0 * rs_mpc**2 * (1 + math.log(0.5)) / sigma_crit
    return rs_mpc / d_d_mpc * arcsec_per_radian, alpha_rs_mpc / d_d_mpc * arcsec_per_radian


def tidal_radius_arcsec(
    mass_msun: Any, radius_arcsec: Any, einstein_radius_arcsec: float, z_lens: float, z_source: float
) -> Any:
    """Tidal radius (arcsec) of subhalos of ``mass_msun`` at projected ``radius_arcsec``: r (m / 2 M(<r))^(1/3)
    for an isothermal main lens, M(<r) = 2 Σ_crit D_d² θ_E r; the projected r is a lower bound, so r_t errs large."""
    _, d_d_mpc, sigma_crit = _nfw_scales(float(z_lens), float(z_source))
    arcsec = math.pi / 180 / 3600
    radius = np.asarray(radius_arcsec, dtype=float)
    host_mass_msun = 2 * sigma_crit * d_d_mpc**2 * (einstein_radius_arcsec * arcsec) * (radius * arcsec)
    return radius * (np.asarray(mass_msun, dtype=float) / (2 * host_mass_msun)) ** (1 / 3)


def sersic_amplitude(magnitude: float, magnitude_zero_point: float, r_sersic_arcsec: float, n_sersic: float) -> float:
    """Lenstronomy Sérsic ``amp`` (counts/s/arcsec² at R_sersic) of total apparent ``magnitude``, as
    ``SimAPI.magnitude2amplitude``: the total is 2π n R² e^b b^(−2n) Γ(2n) amp."""
    total_cps = 10 ** (-0.4 * (magnitude - magnitude_zero_point))
    b = 1.9992 * n_sersic - 0.3271
    per_amplitude = 2 * math.pi * n_sersic * r_sersic_arcsec**2 * math.exp(b) / b ** (2 * n_sersic) * math.gamma(2 * n_sersic)
    return total_cps / per_amplitude


def background_rms_cps(
    read_noise_e: float, sky_brightness_mag_arcsec2: float, magnitude_zero_point: float, pixel_scale_arcsec: float,
    exposure_time_s: float, num_exposures: int,
) -> float:
    """Background σ (counts/s per pixel) of a sky-subtracted co-add, as lenstronomy's
    ``SingleBand.background_noise``: sqrt(N r² + T s p²) / T (read noise r e⁻, total time T)."""
    total_s = num_exposures * exposure_time_s
    sky_cps_per_pixel = 10 ** (-0.4 * (sky_brightness_mag_arcsec2 - magnitude_zero_point)) * pixel_scale_arcsec**2
    return math.sqrt(num_exposures * read_noise_e**2 + total_s * sky_cps_per_pixel) / total_s
