"""Render one strong-lensing image from a config and a seed with lenstronomy (SIE + shear, perturbers,
Sérsic light, Gaussian PSF, noise). A seed's independent streams make the classes rendered from it
twins, differing only by their perturbers. Coordinates: arcsec, x = RA (increasing leftwards), y = Dec."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from equilens.errors import InputError
from equilens.simulation.bands import Band, get_band
from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.physics import (VORTEX_LENGTH_AXION_MASS, einstein_radius_arcsec, nfw_lensing_arcsec,
                                         tidal_radius_arcsec)

#: Class names, in the order used for seed derivation (never reorder: seeds would change).
CLASSES = ("no_sub", "sub", "axion")

# Streams spawned from each image's SeedSequence (never reorder: images would change).
_MACRO_STREAM, _SUBHALO_STREAM, _VORTEX_STREAM, _NOISE_STREAM, _BAND_STREAM = range(5)


#: Orientation-dependent settings, stored rotated.
_SPIN2_SETTINGS = ("lens_e1", "lens_e2", "shear_gamma1", "shear_gamma2", "source_e1", "source_e2",
                   "lens_light_e1", "lens_light_e2")


def _stream(seed: int, which: int) -> np.random.Generator:
    """Stream ``which`` of image ``seed``, as ``SeedSequence(seed).spawn(n)[which]`` builds it."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(which,)))


def _rotate_spin2(e1: float, e2: float, angle_rad: float) -> tuple[float, float]:
    """Rotate a spin-2 quantity (ellipticity, shear) by ``angle_rad`` on the sky."""
    c, s = math.cos(2 * angle_rad), math.sin(2 * angle_rad)
    return e1 * c - e2 * s, e1 * s + e2 * c


def sample_truncated_power_law(
    rng: np.random.Generator, size: int, slope: float, low: float, high: float
) -> np.ndarray:
    """``size`` draws from p(m) ∝ m^slope on [low, high] by inverting the CDF (float64)."""
    u = rng.random(size)
    if low == high:
        return np.full(size, float(low))
    if math.isclose(slope, -1.0):
        return low * (high / low) ** u
    k = slope + 1.0
    return (low**k + u * (high**k - low**k)) ** (1.0 / k)


def _poisson_counts(mean_counts: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Poisson counts of ``mean_counts`` (clipped at zero) by inverting the CDF at ``uniform``:
    a fixed uniform field gives twins the same counts wherever their means agree."""
    from scipy.stats import poisson

    mean_counts = np.clip(mean_counts, 0.0, None)
    counts = np.zeros_like(mean_counts)
    lit = mean_counts > 0  # half of a background-limited image: skip its costly inversion
    counts[lit] = poisson.ppf(uniform[lit], mean_counts[lit])
    return counts


class LensRenderer:
    """Draws lens parameters and renders images of one ``config``; build one per process and reuse
    it, as it caches lenstronomy's models per perturber count."""

    def __init__(self, config: LensSimulationConfig):
        # Heavy imports here: importing equilens.simulation stays cheap.
        from lenstronomy.Data.pixel_grid import PixelGrid
        from lenstronomy.Data.psf import PSF
        from lenstronomy.Util.util import make_grid_with_coordtransform

        self.config = config
        (_, _, ra_at_xy_0, dec_at_xy_0, _, _, pix2angle, _) = make_grid_with_coordtransform(
            config.num_pix, config.pixel_scale_arcsec, inverse=True
        )
        self._grid = PixelGrid(config.num_pix, config.num_pix, pix2angle, ra_at_xy_0, dec_at_xy_0)
        self._psf = PSF(
            psf_type="GAUSSIAN", fwhm=config.psf_fwhm_arcsec, truncation=config.psf_truncation_sigmas
        )
        self._kwargs_numerics = {"supersampling_factor": config.supersampling_factor}
        self._image_models: dict[tuple[str, int], Any] = {}

    def draw_parameters(self, class_name: str, seed: int) -> dict[str, Any]:
        """Every random quantity of image ``seed`` of ``class_name`` (:data:`CLASSES`), without rendering.

        Returns:
            The metadata row's scalars (NaN where one does not apply) and (k,) float64 arrays
            ``perturber_mass_msun``, ``perturber_x_arcsec``, ``perturber_y_arcsec``.
        """
        if class_name not in CLASSES:
            raise InputError(f"unknown simulation class {class_name!r}; choose from {', '.join(CLASSES)}")
        cfg = self.config
        if cfg.scene != "substructure":  # e.g. substructure twins asked of a lens-finding preset
            raise InputError(f"the substructure classes cannot be drawn from a {cfg.scene.replace('_', '-')} simulation")
        macro = _stream(seed, _MACRO_STREAM)

        angle = macro.uniform(0.0, 2 * math.pi) if cfg.random_orientation else 0.0
        if cfg.source_centre_sampling == "radial":
            # Two draws, as "square", so the later draws stay in step.
            distance = macro.uniform(*cfg.source_centre_range_arcsec)
            direction = macro.uniform(0.0, 2 * math.pi)
            source_x0, source_y0 = distance * math.cos(direction), distance * math.sin(direction)
        else:
            source_x0, source_y0 = macro.uniform(*cfg.source_centre_range_arcsec, size=2)
        exposure_time_s = 10.0 ** macro.uniform(*cfg.exposure_time_log10_range_s)
        sky_level_fraction = 10.0 ** macro.uniform(*cfg.sky_level_log10_range) if cfg.sky_counts_per_pixel > 0 else 0.0
        # Drawn last: configs without scatter keep their images.
        varied = {name: float(macro.uniform(low, high)) for name, low, high in cfg.varied_settings}

        def value(name: str) -> float:
            return varied.get(name, getattr(cfg, name))

        cos_a, sin_a = math.cos(angle), math.sin(angle)
        lens_e1, lens_e2 = _rotate_spin2(value("lens_e1"), value("lens_e2"), angle)
        shear_gamma1, shear_gamma2 = _rotate_spin2(value("shear_gamma1"), value("shear_gamma2"), angle)
        source_e1, source_e2 = _rotate_spin2(value("source_e1"), value("source_e2"), angle)
        lens_light_e1, lens_light_e2 = _rotate_spin2(value("lens_light_e1"), value("lens_light_e2"), angle)

        empty = np.zeros(0)
        masses, xs, ys = empty, empty, empty
        vortex_angle, vortex_half_length = math.nan, math.nan
        if class_name == "sub" and cfg.n_subhalos > 0:
            rng = _stream(seed, _SUBHALO_STREAM)
            masses = sample_truncated_power_law(
                rng, cfg.n_subhalos, cfg.subhalo_mass_slope, cfg.subhalo_mass_min_msun, cfg.subhalo_mass_max_msun
            )
            if cfg.subhalo_placement == "ring":
                radius = np.full(cfg.n_subhalos, cfg.einstein_radius_arcsec)
            elif cfg.subhalo_placement == "annulus":
                low, high = cfg.subhalo_radius_range_arcsec
                radius = np.sqrt(rng.uniform(low**2, high**2, size=cfg.n_subhalos))  # uniform per unit area
            else:
                radius = rng.uniform(*cfg.subhalo_radius_range_arcsec, size=cfg.n_subhalos)
            phi = rng.uniform(0.0, 2 * math.pi, size=cfg.n_subhalos)
            xs, ys = radius * np.cos(phi), radius * np.sin(phi)
        elif class_name == "axion" and cfg.vortex_n_point_masses > 0:
            rng = _stream(seed, _VORTEX_STREAM)
            vortex_angle = rng.uniform(0.0, 2 * math.pi)
            vortex_half_length = math.exp(rng.uniform(*np.log(cfg.vortex_half_length_range_arcsec)))
            along = np.linspace(-vortex_half_length, vortex_half_length, cfg.vortex_n_point_masses)
            xs, ys = along * math.cos(vortex_angle), along * math.sin(vortex_angle)
            masses = np.full(cfg.vortex_n_point_masses, cfg.vortex_mass_msun)

        return {
            "class": class_name,
            "seed": int(seed),
            "orientation_angle_rad": angle,
            "lens_e1": lens_e1,
            "lens_e2": lens_e2,
            "shear_gamma1": shear_gamma1,
            "shear_gamma2": shear_gamma2,
            "source_x_arcsec": float(source_x0 * cos_a - source_y0 * sin_a),
            "source_y_arcsec": float(source_x0 * sin_a + source_y0 * cos_a),
            "source_e1": source_e1,
            "source_e2": source_e2,
            "lens_light_e1": lens_light_e1,
            "lens_light_e2": lens_light_e2,
            **{name: v for name, v in varied.items() if name not in _SPIN2_SETTINGS},
            "exposure_time_s": float(exposure_time_s),
            "sky_level_fraction": float(sky_level_fraction),
            "n_subhalos": len(masses) if class_name == "sub" else 0,
            "subhalo_mass_total_msun": float(masses.sum()) if class_name == "sub" else 0.0,
            "subhalo_mass_max_msun": float(masses.max()) if class_name == "sub" and len(masses) else 0.0,
            "vortex_angle_rad": vortex_angle,
            "vortex_half_length_arcsec": vortex_half_length,
            "vortex_mass_total_msun": float(masses.sum()) if class_name == "axion" else 0.0,
            "axion_mass_ev": VORTEX_LENGTH_AXION_MASS / vortex_half_length,
            "axion_mass_log10_ev": math.log10(VORTEX_LENGTH_AXION_MASS / vortex_half_length),
            "perturber_mass_msun": masses,
            "perturber_x_arcsec": xs,
            "perturber_y_arcsec": ys,
        }

    def _image_model(self, profile: str, n_perturbers: int, psf_fwhm_factor: float = 1.0):
        key = (profile, n_perturbers, psf_fwhm_factor)
        if key not in self._image_models:
            from lenstronomy.Data.psf import PSF
            from lenstronomy.ImSim.image_model import ImageModel
            from lenstronomy.LensModel.lens_model import LensModel
            from lenstronomy.LightModel.light_model import LightModel

            lens_light = LightModel(["SERSIC_ELLIPSE"]) if self.config.lens_light else None
            psf = self._psf if psf_fwhm_factor == 1.0 else PSF(
                psf_type="GAUSSIAN", fwhm=self.config.psf_fwhm_arcsec * psf_fwhm_factor,
                truncation=self.config.psf_truncation_sigmas)
            self._image_models[key] = ImageModel(
                self._grid,
                psf,
                lens_model_class=LensModel(["SIE", "SHEAR"] + [profile] * n_perturbers),
                source_model_class=LightModel(["SERSIC_ELLIPSE"]),
                lens_light_model_class=lens_light,
                kwargs_numerics=self._kwargs_numerics,
            )
        return self._image_models[key]

    def perturber_lens_kwargs(self, params: dict[str, Any]) -> tuple[str, list[dict[str, float]]]:
        """Lenstronomy profile name (``POINT_MASS``, ``NFW``, ``TNFW``) and per-perturber kwargs (arcsec)."""
        cfg = self.config
        masses, xs, ys = params["perturber_mass_msun"], params["perturber_x_arcsec"], params["perturber_y_arcsec"]
        if params["class"] == "sub" and cfg.subhalo_profile in ("nfw", "tnfw"):
            rs_arcsec, alpha_rs_arcsec = nfw_lensing_arcsec(
                masses, cfg.subhalo_concentration(masses), cfg.z_lens, cfg.z_source
            )
            kwargs = [
                {"Rs": float(r), "alpha_Rs": float(a), "center_x": float(x), "center_y": float(y)}
                for r, a, x, y in zip(rs_arcsec, alpha_rs_arcsec, xs, ys)
            ]
            if cfg.subhalo_profile == "nfw":
                return "NFW", kwargs
            truncation = tidal_radius_arcsec(masses, np.hypot(xs, ys), cfg.einstein_radius_arcsec, cfg.z_lens, cfg.z_source)
            return "TNFW", [{**k, "r_trunc": float(t)} for k, t in zip(kwargs, truncation)]
        theta_e = einstein_radius_arcsec(masses, cfg.z_lens, cfg.z_source)
        kwargs = [
            {"theta_E": float(t), "center_x": float(x), "center_y": float(y)} for t, x, y in zip(theta_e, xs, ys)
        ]
        return "POINT_MASS", kwargs

    def render(self, params: dict[str, Any], *, normalize: bool = True) -> np.ndarray:
        """The image of ``params`` (:meth:`draw_parameters`): (num_pix, num_pix) float32 min–max scaled
        to [0, 1] (zeros if constant), or float64 counts/s with ``normalize=False``."""
        return self.observe(self.noiseless(params), params, normalize=normalize)

    def render_bands(self, params: dict[str, Any], bands: tuple[str, ...]) -> np.ndarray:
        """(C, num_pix, num_pix) float64 counts/s of ``params`` in each of ``bands``, each with its own
        colours, PSF and noise (:data:`~equilens.simulation.bands.BANDS`)."""
        images = []
        for index, name in enumerate(bands):
            band = get_band(name)
            noise_seed = int(np.random.SeedSequence(params["seed"], spawn_key=(_BAND_STREAM, index)).generate_state(1, np.uint64)[0])
            observed = {**params, "seed": noise_seed,
                        "background_rms": params.get("background_rms", self.config.background_rms) * band.background_rms}
            images.append(self.observe(self.noiseless(params, band), observed, normalize=False))
        return np.stack(images)

    def noiseless(self, params: dict[str, Any], band: Band | None = None) -> np.ndarray:
        """The noiseless image of ``params`` (counts/s), in ``band`` if given."""
        cfg = self.config

        def value(name: str) -> float:
            return params.get(name, getattr(cfg, name))

        profile, perturbers = self.perturber_lens_kwargs(params)
        kwargs_lens = [
            {"theta_E": value("einstein_radius_arcsec"), "e1": params["lens_e1"], "e2": params["lens_e2"],
             "center_x": 0.0, "center_y": 0.0},
            {"gamma1": params["shear_gamma1"], "gamma2": params["shear_gamma2"], "ra_0": 0.0, "dec_0": 0.0},
        ] + perturbers
        kwargs_source = [
            {"amp": value("source_amp") * (band.source if band else 1.0), "R_sersic": value("source_R_sersic_arcsec"),
             "n_sersic": value("source_n_sersic"), "e1": params["source_e1"], "e2": params["source_e2"],
             "center_x": params["source_x_arcsec"], "center_y": params["source_y_arcsec"]}
        ]
        kwargs_lens_light = None
        if cfg.lens_light:
            kwargs_lens_light = [
                {"amp": value("lens_light_amp") * (band.lens_light if band else 1.0), "R_sersic": value("lens_light_R_sersic_arcsec"),
                 "n_sersic": value("lens_light_n_sersic"), "e1": params["lens_light_e1"],
                 "e2": params["lens_light_e2"], "center_x": 0.0, "center_y": 0.0}
            ]
        image_model = self._image_model(profile, len(perturbers), band.psf_fwhm if band else 1.0)
        return image_model.image(kwargs_lens, kwargs_source, kwargs_lens_light)

    def observe(self, model: np.ndarray, params: dict[str, Any], *, normalize: bool = True) -> np.ndarray:
        """The noiseless ``model`` (counts/s) with the noise of ``params`` (``seed``, ``exposure_time_s``,
        ``sky_level_fraction``), as :meth:`render`; fixed noise fields per seed keep twins' noise equal
        where their models are."""
        cfg = self.config
        image = model
        if cfg.noise:
            noise_rng = _stream(params["seed"], _NOISE_STREAM)
            shot_z, background_z = noise_rng.standard_normal((2,) + model.shape)
            shot_sigma = np.sqrt(np.abs(model) / params["exposure_time_s"])
            image = model + shot_sigma * shot_z + params.get("background_rms", cfg.background_rms) * background_z
            if cfg.sky_counts_per_pixel > 0:  # drawn last: configs without it keep their images
                sky = cfg.sky_counts_per_pixel
                counts = noise_rng.poisson(sky, model.shape)
                image = image + params["sky_level_fraction"] * model.max() / sky * (counts - sky)
            if cfg.integer_counts:  # drawn last, as the sky above
                image = _poisson_counts(image * params["exposure_time_s"], noise_rng.random(model.shape)) / params["exposure_time_s"]
        if not normalize:
            return image
        low, high = image.min(), image.max()
        if high <= low:
            return np.zeros(image.shape, dtype=np.float32)
        normalized = (image - low) / (high - low)
        if cfg.peak_saturation != 1:
            normalized = np.minimum(normalized * cfg.peak_saturation, 1.0)
        return normalized.astype(np.float32)

    def simulate(self, class_name: str, seed: int, *, normalize: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw and render one image: ``(image (num_pix, num_pix), parameters)``."""
        params = self.draw_parameters(class_name, seed)
        return self.render(params, normalize=normalize), params

    def arcsec_to_pixel(self, x_arcsec: Any, y_arcsec: Any) -> tuple[Any, Any]:
        """Sky position (arcsec) → (row, column) array indices, as floats."""
        column, row = self._grid.map_coord2pix(x_arcsec, y_arcsec)
        return row, column
