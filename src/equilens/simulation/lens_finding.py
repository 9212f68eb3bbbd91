"""The lens-finding scene (``scene="lens_finding"``; preset ``hst-lens-finding``): galaxy-scale strong
lenses and the galaxies a lens finder must reject, in one band, rendered by lenstronomy.

Every image holds a central galaxy drawn from one distribution in both classes (magnitude, size,
profile, position, orientation) and the same field stars and galaxies, so neither the central light
nor the clutter separates the classes. ``lenses`` add an EPL + shear mass at the galaxy and a lensed
Sérsic source with clumps, or a lensed quasar (``LENSED_POSITION`` images from lenstronomy's lens
equation solver) in its host. ``nonlenses`` make the galaxy one of :data:`~equilens.simulation.config.
NONLENS_KINDS`. Magnitudes are AB with the config's ``magnitude_zero_point``, fluxes counts/s,
coordinates arcsec as in :mod:`equilens.simulation.render`; the values are listed in the
documentation's "Simulator" page."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from equilens.errors import InputError
from equilens.simulation import galaxy_templates
from equilens.simulation.bands import Band
from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.physics import sersic_amplitude
from equilens.simulation.render import LensRenderer, _stream

#: Class folders, the negative first.
CLASSES = ("nonlenses", "lenses")
#: ``kind`` of a lens in metadata.csv (a non-lens's is its NONLENS_KINDS name).
LENS_KINDS = ("galaxy", "quasar_double", "quasar_quad")

# Streams of an image's SeedSequence, after render.py's (whose noise stream this scene shares).
_GALAXY_STREAM, _LENSING_STREAM, _NONLENS_STREAM, _FIELD_STREAM = 5, 6, 7, 8

#: The central galaxy's centre: uniform in a disc of this radius about the image centre.
GALAXY_OFFSET_ARCSEC = 0.1
#: Early-type size–luminosity relation: log10 R_e = log10(0.5″) − 0.15 (m − 20) ± 0.1 dex.
GALAXY_R_HALF_AT_MAG_20_ARCSEC = 0.5
GALAXY_R_HALF_SLOPE_PER_MAG = -0.15
#: Lensed galaxies at z ~ 1–2 are compact: half-light radius log-uniform on this range.
SOURCE_R_HALF_RANGE_ARCSEC = (0.05, 0.3)
#: Source centres at a distance uniform up to this × θ_E from the lens: inside the caustics, and nearer
#: the centre than uniform per area, as magnification favours in found lenses.
SOURCE_RADIUS_OVER_EINSTEIN_RADIUS = 0.6
#: A quad's source: uniform per area within this × θ_E, about the astroid caustic.
QUAD_SOURCE_RADIUS_OVER_EINSTEIN_RADIUS = 0.25
#: A lensed quasar's total magnification is kept below this (a source on a caustic is a measure-zero case).
MAX_QUASAR_MAGNIFICATION = 50.0
#: Images fainter than this |magnification| (the central image of a lens shallower than isothermal)
#: are neither counted nor drawn.
MIN_IMAGE_MAGNIFICATION = 0.1
#: Lens-equation solutions tried before a lens takes whatever its last draw gave.
SOURCE_POSITION_TRIES = 40
#: Field stars and galaxies per image (both classes): Poisson of this mean, at most 3.
FIELD_OBJECTS_MEAN = 0.8


def _ellipticity(axis_ratio: float, position_angle_rad: float) -> tuple[float, float]:
    """lenstronomy's (e1, e2) of an ellipse of ``axis_ratio`` with its major axis at ``position_angle_rad``."""
    e = (1 - axis_ratio) / (1 + axis_ratio)
    return e * math.cos(2 * position_angle_rad), e * math.sin(2 * position_angle_rad)


def _flux(magnitude: float, zero_point: float) -> float:
    return 10 ** (-0.4 * (magnitude - zero_point))


def _galaxy_r_half(rng: np.random.Generator, magnitude: float) -> float:
    log_r = (math.log10(GALAXY_R_HALF_AT_MAG_20_ARCSEC) + GALAXY_R_HALF_SLOPE_PER_MAG * (magnitude - 20)
             + 0.1 * rng.standard_normal())
    return float(np.clip(10**log_r, 0.15, 2.5))


class _Scene:
    """The light and mass of one image as lenstronomy kwargs, built up component by component."""

    def __init__(self, zero_point: float):
        self.zero_point = zero_point
        self.lens: list[dict[str, float]] = []
        self.source: list[dict[str, float]] = []
        self.light: list[tuple[str, dict[str, Any]]] = []  # unlensed light: (profile, kwargs)
        self.quasar: dict[str, Any] | None = None
        self.stars_x: list[float] = []
        self.stars_y: list[float] = []
        self.stars_flux: list[float] = []

    def sersic(self, magnitude: float, r_half: float, n: float, axis_ratio: float, angle: float,
               x: float, y: float) -> dict[str, float]:
        e1, e2 = _ellipticity(axis_ratio, angle)
        return {"amp": sersic_amplitude(magnitude, self.zero_point, r_half, n), "R_sersic": r_half, "n_sersic": n,
                "e1": e1, "e2": e2, "center_x": x, "center_y": y}

    def add_sersic(self, magnitude: float, r_half: float, n: float, axis_ratio: float, angle: float,
                   x: float, y: float) -> None:
        """Unlensed Sérsic light (a galaxy, bulge or companion)."""
        self.light.append(("SERSIC_ELLIPSE", self.sersic(magnitude, r_half, n, axis_ratio, angle, x, y)))

    def add_galaxy(self, galaxy: dict[str, float]) -> None:
        """The central galaxy of :meth:`LensFindingRenderer.draw_parameters` as one Sérsic."""
        self.add_sersic(galaxy["magnitude"], galaxy["r_half"], galaxy["n"], galaxy["axis_ratio"], galaxy["angle"],
                        galaxy["x"], galaxy["y"])

    def add_star(self, magnitude: float, x: float, y: float) -> None:
        self.stars_x.append(x)
        self.stars_y.append(y)
        self.stars_flux.append(_flux(magnitude, self.zero_point))

    def add_template(self, template: np.ndarray, magnitude: float, x: float, y: float, angle: float, scale: float) -> None:
        self.light.append(("INTERPOL", {"image": template, "amp": _flux(magnitude, self.zero_point), "center_x": x,
                                        "center_y": y, "phi_G": angle, "scale": scale}))

    def model_key(self) -> tuple[Any, ...]:
        """What fixes the lenstronomy models (cached per key): lensed or not, component counts and kinds."""
        return (bool(self.lens), len(self.source), tuple(name for name, _ in self.light),
                self.quasar is not None, bool(self.stars_flux))

    def point_source_kwargs(self) -> list[dict[str, Any]]:
        kwargs = [self.quasar] if self.quasar is not None else []
        if self.stars_flux:
            kwargs.append({"ra_image": np.array(self.stars_x), "dec_image": np.array(self.stars_y),
                           "point_amp": np.array(self.stars_flux)})
        return kwargs


class LensFindingRenderer(LensRenderer):
    """Draws and renders images of the lens-finding scene (:data:`CLASSES`) of one ``config``; build
    one per process and reuse it (it caches lenstronomy's models and equation solver)."""

    def __init__(self, config: LensSimulationConfig):
        super().__init__(config)
        from lenstronomy.LensModel.lens_model import LensModel
        from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

        self._lens_model = LensModel(["EPL", "SHEAR"])
        self._solver = LensEquationSolver(self._lens_model)

    def draw_parameters(self, class_name: str, seed: int) -> dict[str, Any]:
        """Every random quantity of image ``seed`` of ``class_name`` (:data:`CLASSES`), without rendering.

        Returns:
            The metadata row's scalars, the same names in both classes (NaN where one does not apply;
            a non-lens has ``einstein_radius_arcsec`` 0 and ``n_images`` 0), and ``scene``: the
            lenstronomy kwargs, which the metadata leaves out.
        """
        if class_name not in CLASSES:
            raise InputError(f"unknown lens-finding class {class_name!r}; choose from {', '.join(CLASSES)}")
        cfg = self.config
        scene = _Scene(cfg.magnitude_zero_point)
        galaxy_rng = _stream(seed, _GALAXY_STREAM)
        exposure_time_s = 10.0 ** galaxy_rng.uniform(*cfg.exposure_time_log10_range_s)
        sky_level_fraction = 10.0 ** galaxy_rng.uniform(*cfg.sky_level_log10_range) if cfg.sky_counts_per_pixel > 0 else 0.0
        magnitude = galaxy_rng.uniform(*cfg.galaxy_magnitude_range)
        offset, direction = GALAXY_OFFSET_ARCSEC * math.sqrt(galaxy_rng.random()), galaxy_rng.uniform(0, 2 * math.pi)
        galaxy = {
            "magnitude": magnitude, "x": offset * math.cos(direction), "y": offset * math.sin(direction),
            "angle": galaxy_rng.uniform(0, math.pi), "axis_ratio": galaxy_rng.uniform(0.5, 1.0),
            "n": galaxy_rng.uniform(3.0, 5.5), "r_half": _galaxy_r_half(galaxy_rng, magnitude),
        }
        if class_name == "lenses":
            scene.add_galaxy(galaxy)
            row = self._draw_lens(_stream(seed, _LENSING_STREAM), scene, galaxy)
        else:
            row = self._draw_nonlens(_stream(seed, _NONLENS_STREAM), scene, galaxy)
        n_field = self._draw_field(_stream(seed, _FIELD_STREAM), scene)
        e1, e2 = _ellipticity(galaxy["axis_ratio"], galaxy["angle"])
        return {
            "class": class_name,
            "seed": int(seed),
            "kind": row.pop("kind"),
            "galaxy_magnitude": magnitude,
            "galaxy_R_sersic_arcsec": galaxy["r_half"],
            "galaxy_n_sersic": galaxy["n"],
            "galaxy_x_arcsec": galaxy["x"],
            "galaxy_y_arcsec": galaxy["y"],
            "galaxy_e1": e1,
            "galaxy_e2": e2,
            **row,
            "n_field_objects": n_field,
            "exposure_time_s": float(exposure_time_s),
            "sky_level_fraction": float(sky_level_fraction),
            "scene": scene,
        }

    def _draw_lens(self, rng: np.random.Generator, scene: _Scene, galaxy: dict[str, float]) -> dict[str, Any]:
        cfg = self.config
        # θ_E ∝ σ² ∝ L^½ (Faber–Jackson): log-linear in magnitude across the configured ranges, 0.08 dex scatter.
        (m_bright, m_faint), (theta_low, theta_high) = cfg.galaxy_magnitude_range, cfg.einstein_radius_range_arcsec
        brightness = (m_faint - galaxy["magnitude"]) / (m_faint - m_bright) if m_faint > m_bright else 0.5
        theta_e = float(np.clip(theta_low * (theta_high / theta_low) ** brightness * 10 ** (0.08 * rng.standard_normal()),
                                theta_low, theta_high))
        # Mass roughly aligned with the light; the shear of the environment in any direction.
        mass_e1, mass_e2 = _ellipticity(float(np.clip(galaxy["axis_ratio"] + 0.1 * rng.standard_normal(), 0.4, 1.0)),
                                        galaxy["angle"] + math.radians(10) * rng.standard_normal())
        shear, shear_angle = rng.uniform(0.0, 0.08), rng.uniform(0, math.pi)
        lens_gamma = rng.uniform(1.9, 2.1)
        scene.lens = [
            {"theta_E": theta_e, "gamma": lens_gamma, "e1": mass_e1, "e2": mass_e2,
             "center_x": galaxy["x"], "center_y": galaxy["y"]},
            {"gamma1": shear * math.cos(2 * shear_angle), "gamma2": shear * math.sin(2 * shear_angle),
             "ra_0": galaxy["x"], "dec_0": galaxy["y"]},
        ]
        quasar = rng.random() < cfg.lensed_quasar_fraction
        quad = quasar and rng.random() < cfg.quad_fraction
        point_magnitude = rng.uniform(*cfg.point_source_magnitude_range) if quasar else math.nan
        source_magnitude = rng.uniform(*cfg.source_magnitude_range)
        source_r_half = math.exp(rng.uniform(*np.log(SOURCE_R_HALF_RANGE_ARCSEC)))
        source_n = rng.uniform(0.5, 2.5)
        source_axis_ratio, source_angle = rng.uniform(0.4, 1.0), rng.uniform(0, math.pi)
        n_clumps = int(rng.integers(0, 3))
        clumps = [(source_magnitude + rng.uniform(1.0, 2.5), rng.uniform(0.02, 0.06), rng.uniform(0.6, 1.0),
                   rng.uniform(0, math.pi), source_r_half * rng.uniform(0.0, 1.5), rng.uniform(0, 2 * math.pi))
                  for _ in range(n_clumps)]

        wanted = 4 if quad else 2
        fallback = None  # the first multiply imaged draw, if none is what was wanted
        for _ in range(SOURCE_POSITION_TRIES):
            if quad:
                radius = theta_e * QUAD_SOURCE_RADIUS_OVER_EINSTEIN_RADIUS * math.sqrt(rng.random())
            else:
                radius = theta_e * SOURCE_RADIUS_OVER_EINSTEIN_RADIUS * rng.random()
            direction = rng.uniform(0, 2 * math.pi)
            source_x, source_y = galaxy["x"] + radius * math.cos(direction), galaxy["y"] + radius * math.sin(direction)
            image_x, image_y, magnification = self._images(source_x, source_y, scene.lens)
            multiple = len(image_x) >= 2 and (not quasar or magnification <= MAX_QUASAR_MAGNIFICATION)
            if multiple and (not quasar or len(image_x) == wanted):
                break
            if multiple and fallback is None:
                fallback = source_x, source_y, image_x, image_y, magnification
        else:
            if fallback is not None:
                source_x, source_y, image_x, image_y, magnification = fallback

        scene.source.append(scene.sersic(source_magnitude, source_r_half, source_n, source_axis_ratio, source_angle,
                                          source_x, source_y))
        for clump_magnitude, r_half, axis_ratio, angle, distance, clump_direction in clumps:
            scene.source.append(scene.sersic(clump_magnitude, r_half, 1.0, axis_ratio, angle,
                                             source_x + distance * math.cos(clump_direction),
                                             source_y + distance * math.sin(clump_direction)))
        if quasar:
            scene.quasar = {"ra_image": image_x, "dec_image": image_y,
                            "source_amp": _flux(point_magnitude, cfg.magnitude_zero_point)}
            kind = "quasar_quad" if len(image_x) >= 4 else "quasar_double"
        else:
            kind = "galaxy"
        return {
            "kind": kind, "einstein_radius_arcsec": theta_e, "lens_gamma": lens_gamma, "lens_e1": mass_e1, "lens_e2": mass_e2,
            "shear_gamma1": scene.lens[1]["gamma1"], "shear_gamma2": scene.lens[1]["gamma2"],
            "source_magnitude": source_magnitude, "source_R_sersic_arcsec": source_r_half, "source_n_sersic": source_n,
            "source_x_arcsec": source_x, "source_y_arcsec": source_y, "n_source_clumps": n_clumps,
            "point_source_magnitude": point_magnitude, "n_images": len(image_x), "magnification": magnification,
            "n_companions": 0,
        }

    def _images(self, source_x: float, source_y: float, kwargs_lens: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray, float]:
        """Images of a point source (arcsec), those of |magnification| >= MIN_IMAGE_MAGNIFICATION, and their
        total |magnification|."""
        # lenstronomy's numerical solver: its analytical EPL one is numba code that fails to compile under
        # numba 0.68 on Python 3.10 and 3.13 ("'function' object has no attribute 'get_call_template'").
        with np.errstate(all="ignore"):
            x, y = self._solver.image_position_from_source(source_x, source_y, kwargs_lens, solver="lenstronomy")
            magnification = np.abs(self._lens_model.magnification(x, y, kwargs_lens)) if len(x) else np.zeros(0)
        seen = magnification >= MIN_IMAGE_MAGNIFICATION
        return x[seen], y[seen], float(magnification[seen].sum())

    def _draw_nonlens(self, rng: np.random.Generator, scene: _Scene, galaxy: dict[str, float]) -> dict[str, Any]:
        cfg = self.config
        kind = cfg.nonlens_kinds[int(rng.integers(len(cfg.nonlens_kinds)))]
        m, x, y = galaxy["magnitude"], galaxy["x"], galaxy["y"]
        scale = cfg.pixel_scale_arcsec / 2
        n_companions = 0
        if kind == "spiral":
            # Bulge and disc share the galaxy's flux; arm_fraction 0 is a plain exponential disc.
            bulge_fraction = rng.uniform(0.05, 0.4)
            disc_r_half, disc_axis_ratio = galaxy["r_half"] * rng.uniform(1.2, 2.0), rng.uniform(0.25, 1.0)
            disc = galaxy_templates.spiral_disc(
                disc_r_half, disc_axis_ratio, n_arms=int(rng.choice([2, 2, 3, 4])),
                pitch_angle_rad=math.radians(rng.uniform(10, 30)), arm_fraction=rng.uniform(0.0, 0.8),
                arm_phase_rad=rng.uniform(0, 2 * math.pi), scale_arcsec=scale,
                half_size_arcsec=min(5 * disc_r_half, 0.75 * cfg.field_of_view_arcsec))
            scene.add_sersic(m - 2.5 * math.log10(bulge_fraction), galaxy["r_half"] * rng.uniform(0.3, 0.6),
                             rng.uniform(1.5, 4.0), galaxy["axis_ratio"], galaxy["angle"], x, y)
            scene.add_template(disc, m - 2.5 * math.log10(1 - bulge_fraction), x, y, galaxy["angle"], scale)
            return {**_NOT_LENSED, "kind": kind, "n_companions": 0}

        scene.add_galaxy(galaxy)
        if kind == "merger":
            n_companions = int(rng.integers(1, 3))
            for _ in range(n_companions):
                separation, direction = rng.uniform(0.4, 2.0), rng.uniform(0, 2 * math.pi)
                companion_magnitude = m + rng.uniform(0.0, 2.0)
                scene.add_sersic(companion_magnitude, _galaxy_r_half(rng, companion_magnitude), rng.uniform(0.8, 4.0),
                                 rng.uniform(0.4, 1.0), rng.uniform(0, math.pi),
                                 x + separation * math.cos(direction), y + separation * math.sin(direction))
            if rng.random() < 0.5:  # a tidal arc or shell curving about the galaxy: the hardest confuser
                arc = galaxy_templates.ring(rng.uniform(0.6, 1.8), rng.uniform(0.04, 0.12), 1.0, 0, 0.0, 0.0,
                                            math.radians(rng.uniform(40, 150)), scale)
                scene.add_template(arc, m + rng.uniform(1.5, 3.5), x, y, rng.uniform(0, 2 * math.pi), scale)
        elif kind == "stellar_neighbours":
            # As bright as a lensed quasar's images: its magnitude brightened by a typical |μ| of 1–4.
            low, high = cfg.point_source_magnitude_range
            n_companions = int(rng.integers(1, 5))
            for _ in range(n_companions):
                separation, direction = rng.uniform(0.3, 2.0), rng.uniform(0, 2 * math.pi)
                scene.add_star(rng.uniform(low - 1.5, high), x + separation * math.cos(direction),
                               y + separation * math.sin(direction))
        elif kind == "ring":
            n_companions = 1
            template = galaxy_templates.ring(rng.uniform(0.5, 1.8), rng.uniform(0.04, 0.15), rng.uniform(0.5, 1.0),
                                             int(rng.integers(0, 9)), rng.uniform(0.0, 0.8), rng.uniform(0, 2 * math.pi),
                                             2 * math.pi, scale)
            scene.add_template(template, m + rng.uniform(0.5, 2.5), x, y, rng.uniform(0, 2 * math.pi), scale)
        return {**_NOT_LENSED, "kind": kind, "n_companions": n_companions}

    def _draw_field(self, rng: np.random.Generator, scene: _Scene) -> int:
        """Unrelated stars and galaxies anywhere in the cutout, the same in both classes."""
        half = self.config.field_of_view_arcsec / 2
        n = min(int(rng.poisson(FIELD_OBJECTS_MEAN)), 3)
        for _ in range(n):
            x, y = rng.uniform(-half, half, size=2)
            if rng.random() < 0.4:
                scene.add_star(rng.uniform(19.0, 25.0), x, y)
            else:
                scene.add_sersic(rng.uniform(21.0, 25.0), math.exp(rng.uniform(math.log(0.1), math.log(0.5))),
                                 rng.uniform(0.8, 4.0), rng.uniform(0.3, 1.0), rng.uniform(0, math.pi), x, y)
        return n

    def _scene_model(self, key: tuple[Any, ...]):
        if key not in self._image_models:
            from lenstronomy.ImSim.image_model import ImageModel
            from lenstronomy.LensModel.lens_model import LensModel
            from lenstronomy.LightModel.light_model import LightModel
            from lenstronomy.PointSource.point_source import PointSource

            lensed, n_source, light_profiles, quasar, stars = key
            lens_model = self._lens_model if lensed else LensModel([])
            point_types = ["LENSED_POSITION"] * quasar + ["UNLENSED"] * stars
            point_sources = PointSource(point_types, lens_model=lens_model,
                                        fixed_magnification_list=[True] * quasar + [False] * stars) if point_types else None
            self._image_models[key] = ImageModel(
                self._grid, self._psf, lens_model_class=lens_model,
                source_model_class=LightModel(["SERSIC_ELLIPSE"] * n_source),
                lens_light_model_class=LightModel(list(light_profiles)),
                point_source_class=point_sources, kwargs_numerics=self._kwargs_numerics,
            )
        return self._image_models[key]

    def noiseless(self, params: dict[str, Any], band: Band | None = None) -> np.ndarray:
        """The noiseless image of ``params`` (counts/s)."""
        if band is not None:
            raise InputError("the lens-finding scene renders one band; leave out --bands")
        scene: _Scene = params["scene"]
        model = self._scene_model(scene.model_key())
        model.LensLightModel.delete_interpol_caches()  # INTERPOL keeps the first template it sees
        with np.errstate(all="ignore"):  # EPL's deflection at its centre, finite after all
            image = model.image(scene.lens, scene.source, [kwargs for _, kwargs in scene.light],
                                scene.point_source_kwargs() or None)
        if not np.all(np.isfinite(image)):
            raise RuntimeError(f"lens-finding image of seed {params['seed']} is not finite")
        return image

    def render_bands(self, params: dict[str, Any], bands: tuple[str, ...]) -> np.ndarray:
        raise InputError("the lens-finding scene renders one band; leave out --bands")


#: A non-lens's lensing columns.
_NOT_LENSED = {
    "einstein_radius_arcsec": 0.0, "lens_gamma": math.nan, "lens_e1": math.nan, "lens_e2": math.nan,
    "shear_gamma1": math.nan, "shear_gamma2": math.nan, "source_magnitude": math.nan,
    "source_R_sersic_arcsec": math.nan, "source_n_sersic": math.nan, "source_x_arcsec": math.nan,
    "source_y_arcsec": math.nan, "n_source_clumps": 0, "point_source_magnitude": math.nan, "n_images": 0,
    "magnification": math.nan,
}
