"""The named simulation presets: DeepLense Models I-III, the calibrated Test IV look and HST lens
finding (how each value was found: the documentation's "Simulator and calibration" page)."""

from __future__ import annotations

import math

from equilens.errors import InputError
from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.physics import background_rms_cps, sersic_amplitude

#: lenstronomy 1.14.2's ``HST(band="WFC3_F160W", psf_type="GAUSSIAN")`` (DeepLense Model III).
HST_WFC3_F160W = {"pixel_scale_arcsec": 0.08, "seeing_arcsec": 0.08, "read_noise_e": 4.0, "exposure_time_s": 5400.0,
                  "num_exposures": 1, "sky_brightness_mag_arcsec2": 22.3, "magnitude_zero_point": 25.96}
#: lenstronomy 1.14.2's ``Euclid(band="VIS", psf_type="GAUSSIAN", coadd_years=6)`` (Model II).
EUCLID_VIS = {"pixel_scale_arcsec": 0.101, "seeing_arcsec": 0.16, "read_noise_e": 4.2, "exposure_time_s": 566.0,
              "num_exposures": 4, "sky_brightness_mag_arcsec2": 22.3, "magnitude_zero_point": 25.72}
#: HST ACS/WFC F814W as the COSMOS survey observed it (Koekemoer et al. 2007): one orbit of 4 × 507 s,
#: AB zero point 25.94, read noise ~4.2 e⁻, sky ~22.0 AB mag/″² (0.094 e⁻/s per 0.05″ pixel), PSF FWHM ~0.1″.
HST_ACS_F814W = {"pixel_scale_arcsec": 0.05, "seeing_arcsec": 0.1, "read_noise_e": 4.2, "exposure_time_s": 507.0,
                 "num_exposures": 4, "sky_brightness_mag_arcsec2": 22.0, "magnitude_zero_point": 25.94}
#: Apparent magnitude of the Sérsic source in the observation presets (DeepLenseSim's).
SOURCE_MAGNITUDE = 20.0


def _observation(band: dict[str, float]) -> dict[str, float | tuple[float, float]]:
    """The config's noise settings of ``band``: background σ from read noise, sky and the total exposure."""
    total_s = band["num_exposures"] * band["exposure_time_s"]
    return {
        "background_rms": background_rms_cps(band["read_noise_e"], band["sky_brightness_mag_arcsec2"],
                                             band["magnitude_zero_point"], band["pixel_scale_arcsec"],
                                             band["exposure_time_s"], band["num_exposures"]),
        "exposure_time_log10_range_s": (math.log10(total_s), math.log10(total_s)),
    }


def observed_with(band: dict[str, float], base: LensSimulationConfig | None = None) -> LensSimulationConfig:
    """``base`` (default: Model I) at 64×64 px observed with ``band``, as DeepLense Models II and III:
    counts/s are lenstronomy's e⁻/s, source from :data:`SOURCE_MAGNITUDE`, noise from read noise, sky
    and the total exposure time; PSF truncated at 5 σ."""
    base = base or LensSimulationConfig()
    return base.replace(
        num_pix=64,
        pixel_scale_arcsec=band["pixel_scale_arcsec"],
        psf_fwhm_arcsec=band["seeing_arcsec"],
        psf_truncation_sigmas=5.0,
        source_amp=sersic_amplitude(SOURCE_MAGNITUDE, band["magnitude_zero_point"], base.source_R_sersic_arcsec,
                                    base.source_n_sersic),
        **_observation(band),
    )


#: Name -> settings. The config's defaults are DeepLense Model I; ``test-iv`` is fitted to the
#: real Test IV images; ``deeplense-model-i-lens-light`` is the uncalibrated preset of equilens 0.x.
PRESETS: dict[str, LensSimulationConfig] = {
    "deeplense-model-i": LensSimulationConfig(integer_counts=True),
    "test-iv": LensSimulationConfig(
        einstein_radius_arcsec=1.0,
        lens_e1=0.0,
        shear_gamma1=0.15,
        source_amp=5000.0,
        source_R_sersic_arcsec=0.375,
        source_n_sersic=1.2,
        source_e1=0.06,
        source_e2=0.0,
        source_centre_sampling="radial",
        source_centre_range_arcsec=(0.0, 1.0),
        lens_light=True,
        lens_light_amp=10000.0,
        lens_light_R_sersic_arcsec=0.31,
        lens_light_n_sersic=1.36,
        lens_light_e1=0.15,
        n_subhalos=25,
        subhalo_mass_min_msun=2.4e9,
        subhalo_mass_max_msun=2.4e9,
        subhalo_radius_range_arcsec=(0.0, 1.0),
        peak_saturation=1.08,
        background_rms=0.0,
        exposure_time_log10_range_s=(6.0, 6.0),
        sky_counts_per_pixel=2.0,
        sky_level_log10_range=(-2.75, -2.12),
        varied_settings=(
            ("shear_gamma1", 0.0, 0.3),
            ("source_amp", 3500.0, 7000.0),
            ("source_e1", 0.0, 0.15),
            ("lens_light_e1", 0.0, 0.3),
        ),
    ),
    "deeplense-model-i-lens-light": LensSimulationConfig(lens_light=True),
    "euclid-like": observed_with(EUCLID_VIS),
    "hst-like": observed_with(HST_WFC3_F160W),
    # Lens finding: nonlenses/ and lenses/ in a 5″ ACS cutout (the lens_finding module's population).
    "hst-lens-finding": LensSimulationConfig(
        scene="lens_finding",
        num_pix=100,
        pixel_scale_arcsec=HST_ACS_F814W["pixel_scale_arcsec"],
        psf_fwhm_arcsec=HST_ACS_F814W["seeing_arcsec"],
        psf_truncation_sigmas=5.0,
        supersampling_factor=2,  # compact sources and 0.04″ rings are a pixel or less wide
        magnitude_zero_point=HST_ACS_F814W["magnitude_zero_point"],
        **_observation(HST_ACS_F814W),
    ),
}


def get_preset(name: str) -> LensSimulationConfig:
    """The preset called ``name``; InputError listing the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown simulation preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
