"""The simulator's settings: one validated, hashable dataclass (JSON round trip included)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from equilens.errors import InputError
from equilens.simulation.physics import duffy2008_concentration

#: ``nfw``: an untruncated NFW halo of mass M200; ``tnfw``: tidally truncated by the main lens.
SUBHALO_PROFILES = ("point_mass", "nfw", "tnfw")
SOURCE_CENTRE_SAMPLINGS = ("square", "radial")
#: Subhalo radius uniform in the range (DeepLense), uniform per unit area in it, or on the ring.
SUBHALO_PLACEMENTS = ("radius_uniform", "annulus", "ring")
#: NFW c200: ``subhalo_nfw_concentration`` for every mass, or Duffy et al. 2008's c(M).
CONCENTRATION_MODELS = ("fixed", "duffy2008")
#: "substructure": DeepLense's classes no_sub, sub, axion; "lens_finding": nonlenses and lenses
#: (:mod:`equilens.simulation.lens_finding`).
SCENES = ("substructure", "lens_finding")
#: The non-lenses of the lens-finding scene: the galaxies a lens finder must reject.
NONLENS_KINDS = ("elliptical", "spiral", "merger", "stellar_neighbours", "ring")


@dataclasses.dataclass(frozen=True)
class LensSimulationConfig:
    """Everything that defines the simulated population (not the seed or image count).

    Units are in the field names (``_arcsec``, ``_msun``, ``_s``); amplitudes are lenstronomy's
    (counts/s/arcsec² at R_sersic), ``background_rms`` counts/s per pixel. A range is ``(low, high)``
    of a uniform draw; ``low == high`` fixes the value.
    """

    num_pix: int = 150
    pixel_scale_arcsec: float = 0.05
    psf_fwhm_arcsec: float = 0.087
    psf_truncation_sigmas: float = 3.0
    supersampling_factor: int = 1

    z_lens: float = 0.5
    z_source: float = 1.0

    # Main lens: SIE + external shear at the origin; 1.2815″ is DeepLense's 1e12 M☉.
    einstein_radius_arcsec: float = 1.2815
    lens_e1: float = 0.1
    lens_e2: float = 0.0
    shear_gamma1: float = 0.05
    shear_gamma2: float = 0.0
    #: Rotate lens, shear and source by one uniform angle per image (physics, not pixels).
    random_orientation: bool = False

    source_amp: float = 20.0
    source_R_sersic_arcsec: float = 0.25
    source_n_sersic: float = 1.0
    source_e1: float = -0.1
    source_e2: float = 0.1
    #: "square": centre x and y uniform in the range; "radial": its distance uniform in it.
    source_centre_sampling: str = "square"
    source_centre_range_arcsec: tuple[float, float] = (-0.35, 0.35)

    lens_light: bool = False
    lens_light_amp: float = 30.0
    lens_light_R_sersic_arcsec: float = 0.15
    lens_light_n_sersic: float = 2.0
    lens_light_e1: float = 0.0
    lens_light_e2: float = 0.0

    # CDM subhalos of the "sub" class: p(m) ∝ m**slope on [min, max].
    n_subhalos: int = 25
    subhalo_mass_min_msun: float = 1e6
    subhalo_mass_max_msun: float = 1e10
    subhalo_mass_slope: float = -0.9
    subhalo_radius_range_arcsec: tuple[float, float] = (0.25, 2.0)
    subhalo_placement: str = "radius_uniform"
    subhalo_profile: str = "point_mass"
    subhalo_nfw_concentration: float = 15.0
    subhalo_nfw_concentration_model: str = "fixed"

    # Axion vortex: equal point masses on a line through the centre, half-length log-uniform.
    vortex_n_point_masses: int = 100
    vortex_mass_msun: float = 3e8
    vortex_half_length_range_arcsec: tuple[float, float] = (0.03, 3.0)

    #: The normalised image times this, clipped to [0, 1]: > 1 saturates the brightest pixels.
    peak_saturation: float = 1.0

    noise: bool = True
    background_rms: float = 0.01
    exposure_time_log10_range_s: tuple[float, float] = (3.0, 3.5)
    #: Sky-limited background (0: none): Poisson sky of this mean per pixel, subtracted, scaled
    #: to a fraction 10**U(sky_level_log10_range) of the noiseless peak.
    sky_counts_per_pixel: float = 0.0
    sky_level_log10_range: tuple[float, float] = (-3.0, -3.0)
    #: Observe whole photon counts of the noisy image (clipped at zero), as DeepLense's Model I.
    integer_counts: bool = False

    #: (name, low, high): settings drawn uniformly per image instead of their fixed value.
    varied_settings: tuple[tuple[str, float, float], ...] = ()

    #: One of :data:`SCENES`; "lens_finding" reads only :func:`scene_settings` (the observation's
    #: and those below).
    scene: str = "substructure"
    # The lens-finding scene: AB magnitudes, 1 count/s at ``magnitude_zero_point`` (HST ACS F814W).
    magnitude_zero_point: float = 25.94
    #: The central galaxy of every image, lens or not (its magnitude sets its size and θ_E).
    galaxy_magnitude_range: tuple[float, float] = (18.5, 21.5)
    #: θ_E of the brightest and faintest lens galaxies of ``galaxy_magnitude_range`` (θ_E ∝ L^½).
    einstein_radius_range_arcsec: tuple[float, float] = (0.5, 1.8)
    #: Unlensed magnitude of the lensed galaxy (and of a lensed quasar's host).
    source_magnitude_range: tuple[float, float] = (22.5, 25.5)
    #: Unlensed magnitude of a lensed quasar.
    point_source_magnitude_range: tuple[float, float] = (20.5, 23.5)
    #: Fractions of lenses with a lensed quasar, and of those meant to be quads (else doubles).
    lensed_quasar_fraction: float = 0.25
    quad_fraction: float = 0.3
    #: Non-lens kinds (:data:`NONLENS_KINDS`) drawn with equal odds; repeat a name to weight it.
    nonlens_kinds: tuple[str, ...] = NONLENS_KINDS

    def __post_init__(self) -> None:
        # JSON and argparse hand over lists; tuples keep the config hashable.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, list):
                object.__setattr__(self, field.name, tuple(value))
        if not isinstance(self.varied_settings, tuple):
            raise InputError(f"simulation setting varied_settings must be a list of [name, low, high], got {self.varied_settings!r}")
        object.__setattr__(
            self, "varied_settings", tuple(tuple(v) if isinstance(v, (list, tuple)) else v for v in self.varied_settings)
        )
        self._validate()

    def _validate(self) -> None:
        def fail(name: str, problem: str) -> None:
            raise InputError(f"simulation setting {name} {problem}, got {getattr(self, name)!r}")

        def check_range(name: str, low_bound: float = -math.inf) -> None:
            value = getattr(self, name)
            if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
                fail(name, "must be a pair (low, high) of numbers")
            if not (low_bound <= value[0] <= value[1]) or not all(math.isfinite(v) for v in value):
                fail(name, f"must be finite with {low_bound} <= low <= high")

        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "bool" and not isinstance(value, bool):
                fail(field.name, "must be true or false")
            if field.type == "int" and (not isinstance(value, int) or isinstance(value, bool)):
                fail(field.name, "must be an integer")
            if field.type == "float" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                fail(field.name, "must be a number")
        if self.num_pix < 8:
            fail("num_pix", "must be >= 8")
        if self.supersampling_factor < 1:
            fail("supersampling_factor", "must be >= 1")
        for name in ("n_subhalos", "vortex_n_point_masses"):
            if getattr(self, name) < 0:
                fail(name, "must be >= 0")
        for name in (
            "pixel_scale_arcsec", "psf_fwhm_arcsec", "psf_truncation_sigmas", "einstein_radius_arcsec",
            "source_R_sersic_arcsec", "source_n_sersic", "lens_light_R_sersic_arcsec", "lens_light_n_sersic",
            "subhalo_mass_min_msun", "subhalo_nfw_concentration", "vortex_mass_msun", "z_source",
        ):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                fail(name, "must be a finite number > 0")
        for name in ("source_amp", "lens_light_amp", "background_rms", "z_lens", "sky_counts_per_pixel"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                fail(name, "must be a finite number >= 0")
        for e1, e2 in (("lens_e1", "lens_e2"), ("source_e1", "source_e2"), ("lens_light_e1", "lens_light_e2")):
            if not math.hypot(getattr(self, e1), getattr(self, e2)) < 1:
                fail(e1, f"and {e2} must satisfy e1² + e2² < 1")
        for name in ("shear_gamma1", "shear_gamma2", "subhalo_mass_slope", "lens_light_e1", "lens_light_e2"):
            if not math.isfinite(getattr(self, name)):
                fail(name, "must be finite")
        if self.z_lens >= self.z_source:
            fail("z_lens", f"must be below z_source={self.z_source}")
        if self.subhalo_mass_max_msun < self.subhalo_mass_min_msun or not math.isfinite(self.subhalo_mass_max_msun):
            fail("subhalo_mass_max_msun", f"must be finite and >= subhalo_mass_min_msun={self.subhalo_mass_min_msun}")
        check_range("source_centre_range_arcsec")
        check_range("subhalo_radius_range_arcsec", 0.0)
        check_range("vortex_half_length_range_arcsec", 0.0)
        if self.vortex_half_length_range_arcsec[0] <= 0:  # drawn log-uniform; sets the axion mass
            fail("vortex_half_length_range_arcsec", "must have low > 0")
        check_range("exposure_time_log10_range_s")
        check_range("sky_level_log10_range")
        for name in ("galaxy_magnitude_range", "source_magnitude_range", "point_source_magnitude_range"):
            check_range(name)
        check_range("einstein_radius_range_arcsec", 0.0)
        if self.einstein_radius_range_arcsec[0] <= 0:  # drawn log-linear in the galaxy magnitude
            fail("einstein_radius_range_arcsec", "must have low > 0")
        if not math.isfinite(self.magnitude_zero_point):
            fail("magnitude_zero_point", "must be finite")
        for name in ("lensed_quasar_fraction", "quad_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                fail(name, "must be a fraction in [0, 1]")
        if not (isinstance(self.nonlens_kinds, tuple) and self.nonlens_kinds and all(kind in NONLENS_KINDS for kind in self.nonlens_kinds)):
            fail("nonlens_kinds", f"must name one or more of {', '.join(NONLENS_KINDS)}")
        if self.source_centre_sampling not in SOURCE_CENTRE_SAMPLINGS:
            fail("source_centre_sampling", f"must be one of {', '.join(SOURCE_CENTRE_SAMPLINGS)}")
        if self.source_centre_sampling == "radial":
            check_range("source_centre_range_arcsec", 0.0)
        if not (math.isfinite(self.peak_saturation) and self.peak_saturation >= 1):
            fail("peak_saturation", "must be a finite number >= 1")
        for name, choices in (("subhalo_profile", SUBHALO_PROFILES), ("subhalo_placement", SUBHALO_PLACEMENTS),
                              ("subhalo_nfw_concentration_model", CONCENTRATION_MODELS), ("scene", SCENES)):
            if getattr(self, name) not in choices:
                fail(name, f"must be one of {', '.join(choices)}")
        self._validate_varied_settings()

    def _validate_varied_settings(self) -> None:
        names = []
        for entry in self.varied_settings:
            if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], str)
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in entry[1:])):
                raise InputError(f"simulation setting varied_settings: each entry must be [name, low, high], got {entry!r}")
            name, low, high = entry
            if name not in VARIABLE_SETTINGS:
                raise InputError(
                    f"simulation setting varied_settings: {name!r} cannot vary per image; choose from {', '.join(VARIABLE_SETTINGS)}"
                )
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise InputError(f"simulation setting varied_settings: {name} needs finite low <= high, got {low}, {high}")
            names.append(name)
            # Both ends must be valid values of the setting.
            dataclasses.replace(self, varied_settings=(), **{name: low})
            dataclasses.replace(self, varied_settings=(), **{name: high})
        if len(set(names)) != len(names):
            raise InputError(f"simulation setting varied_settings names a setting twice: {names}")

    def subhalo_concentration(self, mass_msun: Any) -> Any:
        """NFW concentration c200 of subhalos of M200 ``mass_msun`` (M☉; scalar or array)."""
        if self.subhalo_nfw_concentration_model == "duffy2008":
            return duffy2008_concentration(mass_msun, self.z_lens)
        return np.full(np.shape(mass_msun), self.subhalo_nfw_concentration)

    @property
    def field_of_view_arcsec(self) -> float:
        """Side of the square image in arcsec."""
        return self.num_pix * self.pixel_scale_arcsec

    def replace(self, **changes: Any) -> "LensSimulationConfig":
        """A copy with ``changes`` applied (validated); unknown names raise InputError."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise InputError(f"unknown simulation setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists, also nested ones)."""

        def as_list(value: Any) -> Any:
            return [as_list(v) for v in value] if isinstance(value, tuple) else value

        return {k: as_list(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LensSimulationConfig":
        """Inverse of :meth:`to_dict`: missing keys take the defaults, unknown ones raise InputError."""
        return cls().replace(**values)


#: Settings that ``varied_settings`` may draw per image.
VARIABLE_SETTINGS = (
    "einstein_radius_arcsec", "lens_e1", "lens_e2", "shear_gamma1", "shear_gamma2",
    "source_amp", "source_R_sersic_arcsec", "source_n_sersic", "source_e1", "source_e2",
    "lens_light_amp", "lens_light_R_sersic_arcsec", "lens_light_n_sersic", "lens_light_e1", "lens_light_e2",
    "background_rms",
)

#: The observation: read by both scenes.
OBSERVATION_SETTINGS = (
    "num_pix", "pixel_scale_arcsec", "psf_fwhm_arcsec", "psf_truncation_sigmas", "supersampling_factor",
    "peak_saturation", "noise", "background_rms", "exposure_time_log10_range_s", "sky_counts_per_pixel",
    "sky_level_log10_range", "integer_counts",
)
#: Read by the lens-finding scene only, besides the observation.
LENS_FINDING_SETTINGS = (
    "magnitude_zero_point", "galaxy_magnitude_range", "einstein_radius_range_arcsec", "source_magnitude_range",
    "point_source_magnitude_range", "lensed_quasar_fraction", "quad_fraction", "nonlens_kinds",
)


def scene_settings(scene: str) -> frozenset[str]:
    """Names of the settings that ``scene`` (:data:`SCENES`) reads, ``scene`` itself included."""
    if scene == "lens_finding":
        return frozenset(OBSERVATION_SETTINGS + LENS_FINDING_SETTINGS + ("scene",))
    return frozenset(f.name for f in dataclasses.fields(LensSimulationConfig)) - set(LENS_FINDING_SETTINGS)
