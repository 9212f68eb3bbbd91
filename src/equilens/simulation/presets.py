"""Physical settings of the lens simulator and the named presets.

Every physical quantity is one field of :class:`LensSimulationConfig` with its unit in the
name (``_arcsec``, ``_msun``, ``_s``); dimensionless quantities (ellipticities, shear, Sérsic
index, redshifts, mass-function slope) carry none. Fluxes are in lenstronomy's units: Sérsic
amplitudes are surface brightness at R_sersic in counts per second per arcsec², which
lenstronomy turns into counts per second per pixel; ``background_rms`` is counts per second per
pixel, and exposure times are in seconds.

Presets reproduce the ML4SCI DeepLense simulations (Models I-III, and the look of the
"Test IV" images of the DeepLense equivariant-network test); the physics they use is
:mod:`equilens.simulation.physics`:

* ``deeplense-model-i``: DeepLense Model I, 150×150 px at 0.05″/px, SIE + shear, point-mass
  CDM subhalos, no lens light, observed as whole photon counts (``integer_counts``), as
  DeepLenseSim's public code writes the Model I files.
* ``test-iv``: calibrated to the real DeepLense "Test IV" images users train on (below).
* ``deeplense-model-i-lens-light``: Model I plus a circular central lens light (the ``test-iv``
  preset of equilens 0.x, before the calibration).

Test IV calibration (``benchmarks/fit_test_iv.py`` fitted 27 real ``no_sub`` and 36 ``sub`` images, each
with SIE + shear + elliptical Sérsic source + elliptical Sérsic lens light by least squares;
residual rms ~1 grey level of 255). What each value of the ``test-iv`` preset rests on:

* Grid 150 px at 0.05″/px and PSF FWHM 0.087″ are kept from Model I (the pixel scale is a
  convention: only angles in pixels are measurable; the fits reach the JPEG floor with this PSF).
* Main lens: fitted θ_E of the ``no_sub`` images 1.000″ (10–90%: 0.99–1.005) → 1.0″ fixed;
  SIE ellipticity fitted ≈ 0 (median e1 0.01) → a round mass; external shear along x with
  γ1 spread over 0.01–0.30 and γ2 ≈ 0 → γ1 uniform in [0, 0.3].
* Source: R = 0.375″ (fits 0.35–0.40), n = 1.2 (1.1–1.3), e1 0–0.15 (fits scatter about
  0.06, e2 ≈ 0); centre at a distance uniform in [0, 1.0]″ (fitted distances: 10% 0.1–0.2″,
  median 0.45–0.55″, max 1.03″; a square of the same extent gave rings ~30% fainter on average
  than the real ones, a uniform-in-distance draw matches them).
* Lens light: R = 0.31″ (0.28–0.34), n = 1.36 (1.2–1.46), e1 uniform in [0, 0.3] (fits 0.01–0.26,
  e2 ≈ 0: the lens light is elongated along x); source-to-lens-light amplitude ratio uniform in
  [0.35, 0.7] (fits 0.31–0.71).
* Substructure (``sub``): the fitted θ_E of the ``sub`` images is 1.078″ (1.064–1.12), with
  no overlap with ``no_sub``: mass inside the ring. For an SIS plus enclosed point masses the
  ring radius θ solves θ² = θ_E θ + Σθ_i², so Σθ_i² ≈ 0.084 arcsec². The shift's small scatter
  means the added mass is nearly the same in every image: 25 equal point masses (as in the
  PyLensing generator of the earlier DeepLense data) at distances uniform in [0, 1.0]″, each
  2.4e9 M☉ (θ_E 0.063″), chosen so that the same fit of simulated ``sub`` images gives θ_E
  ≈ 1.07″. Individual perturbations are below what the fits resolve, in the real images too.
* Photometry: the real files' lens-light cores are saturated (the fitted model peaks at
  ~269/255), hence ``peak_saturation`` 1.08; 8-bit JPEG at quality 75 (the real files'
  quantisation table). No shot noise from lens or source (exposure 1e6 s): bright pixels carry
  no more small-scale power than the noiseless preset's do.
* Background: the real files' background level (mean of the four 16 x 16 px corners) is ~1 grey
  level in 70% of them and runs from 0.8 to 2.5 (5-95%), and its grain grows with it far faster
  than a Gaussian background's would (mean std in 8 x 8 JPEG blocks 0.05 at level 1.1-1.5, 0.2
  at 1.5-2.1, 0.6 above: blocks of 0 to 6 where a Gaussian at that level is flat). Min-max
  normalisation of a sky-limited image gives both: with few counts per pixel the darkest pixel
  (no counts) lies close to the mean, so the level is low for its noise. Sky counts per pixel 2
  and the sky level log-uniform in 0.18-0.76% of the peak (``sky_level_log10_range``) fit the
  real images' level distribution, grain per level and fraction of 0-valued pixels (a grid of
  counts 1.5-4 and ranges against 1,000 real ``no_sub`` images).
* Not reproduced: the real images' exact lens-light core and arc shapes
  (``benchmarks/sim_fidelity.py`` measures what still tells them apart). A CNN tells even the
  real images' own fits, rendered so (``benchmarks/fit_test_iv.py --render``), from the real
  images: what is left lies outside this smooth model, not in the distributions drawn here.
* ``euclid-like`` and ``hst-like``: the Model I lens, source shape and subhalos observed as
  DeepLense Models II and III were, 64×64 px with lenstronomy's Euclid VIS and HST WFC3 F160W
  observation settings (see :data:`EUCLID_VIS` and :data:`HST_WFC3_F160W` for every value and
  where it comes from).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from equilens.errors import InputError
from equilens.simulation.physics import background_rms_cps, duffy2008_concentration, sersic_amplitude

#: ``point_mass``; ``nfw``: an NFW halo of mass M200 extending to infinity (its r200 is several
#: arcsec: most of its mass lies far from where it sits); ``tnfw``: the same halo tidally
#: truncated by the main lens (:func:`~equilens.simulation.physics.tidal_radius_arcsec`), as a subhalo is.
#: DeepLenseSim's vortex: half-length (arcsec) = this / axion mass (eV), so the axion masses
#: 1e-24-1e-22 eV (drawn log-uniform) give half-lengths 3-0.03 arcsec.
VORTEX_LENGTH_AXION_MASS = 3e-24
SUBHALO_PROFILES = ("point_mass", "nfw", "tnfw")
SOURCE_CENTRE_SAMPLINGS = ("square", "radial")
#: Where subhalos sit: ``radius_uniform`` (DeepLense: radius uniform in
#: ``subhalo_radius_range_arcsec``, so denser towards the centre), ``annulus`` (uniform per unit
#: area in that annulus) or ``ring`` (on the circle of radius ``einstein_radius_arcsec``, no
#: jitter). The angle is uniform in every case.
SUBHALO_PLACEMENTS = ("radius_uniform", "annulus", "ring")
#: NFW concentration c200(M): ``fixed`` (``subhalo_nfw_concentration`` for every mass) or
#: ``duffy2008`` (:func:`~equilens.simulation.physics.duffy2008_concentration`).
CONCENTRATION_MODELS = ("fixed", "duffy2008")


@dataclasses.dataclass(frozen=True)
class LensSimulationConfig:
    """Everything that defines the simulated population (not the seed or image count).

    Angles are in arcsec on the sky, centred on the main lens; x and y follow lenstronomy
    (image row = y, column = x). Ranges are ``(low, high)`` of a uniform distribution;
    ``low == high`` fixes the value.
    """

    # Detector and optics.
    num_pix: int = 150
    pixel_scale_arcsec: float = 0.05
    psf_fwhm_arcsec: float = 0.087
    psf_truncation_sigmas: float = 3.0
    #: Rays per pixel side; 1 reproduces DeepLense, 2 costs ~3× the time.
    supersampling_factor: int = 1

    # Redshifts (used for subhalo Einstein radii and NFW scale radii).
    z_lens: float = 0.5
    z_source: float = 1.0

    # Main lens: SIE + external shear, centred at the origin. θ_E is given directly; 1.2815″
    # is einstein_radius_arcsec(1e12 M☉, z_lens=0.5, z_source=1.0), DeepLense's value.
    einstein_radius_arcsec: float = 1.2815
    lens_e1: float = 0.1
    lens_e2: float = 0.0
    shear_gamma1: float = 0.05
    shear_gamma2: float = 0.0
    #: Rotate lens ellipticity, shear and source (ellipticity and centre) by one angle drawn
    #: uniformly in [0, 2π) per image; physics is rotated, not pixels.
    random_orientation: bool = False

    # Source: elliptical Sérsic.
    source_amp: float = 20.0
    source_R_sersic_arcsec: float = 0.25
    source_n_sersic: float = 1.0
    source_e1: float = -0.1
    source_e2: float = 0.1
    #: "square": each of the source centre's x and y is drawn uniformly in
    #: ``source_centre_range_arcsec``; "radial": its distance from the lens centre is uniform in
    #: that range (low >= 0) and its direction uniform in [0, 2π).
    source_centre_sampling: str = "square"
    source_centre_range_arcsec: tuple[float, float] = (-0.35, 0.35)

    # Lens light: circular Sérsic at the centre.
    lens_light: bool = False
    lens_light_amp: float = 30.0
    lens_light_R_sersic_arcsec: float = 0.15
    lens_light_n_sersic: float = 2.0
    #: Lens-light ellipticity (0, 0: circular); rotated with the lens under random_orientation.
    lens_light_e1: float = 0.0
    lens_light_e2: float = 0.0

    # CDM subhalos of the "sub" class.
    n_subhalos: int = 25
    subhalo_mass_min_msun: float = 1e6
    subhalo_mass_max_msun: float = 1e10
    #: p(m) ∝ m**slope on [min, max].
    subhalo_mass_slope: float = -0.9
    #: Distance from the lens centre: the range of the ``radius_uniform`` and ``annulus``
    #: placements (:data:`SUBHALO_PLACEMENTS`); angle uniform in [0, 2π).
    subhalo_radius_range_arcsec: tuple[float, float] = (0.25, 2.0)
    subhalo_placement: str = "radius_uniform"
    subhalo_profile: str = "point_mass"
    #: NFW concentration c = r200 / r_s of the ``fixed`` concentration model ("nfw", "tnfw").
    subhalo_nfw_concentration: float = 15.0
    #: How the NFW concentration depends on mass (:data:`CONCENTRATION_MODELS`).
    subhalo_nfw_concentration_model: str = "fixed"

    # Vortex ("axion") class: a line of equal point masses through the centre, of half-length
    # :data:`VORTEX_LENGTH_AXION_MASS` / m_axion (DeepLenseSim), the axion mass m_axion drawn
    # log-uniform so that the half-length is log-uniform in this range (0.03-3": 1e-22-1e-24 eV).
    vortex_n_point_masses: int = 100
    vortex_mass_msun: float = 3e8
    vortex_half_length_range_arcsec: tuple[float, float] = (0.03, 3.0)

    #: The normalised image is multiplied by this and clipped to [0, 1]: > 1 saturates the
    #: brightest pixels, as the Test IV images' lens-light cores are.
    peak_saturation: float = 1.0

    # Noise: Gaussian background + (Gaussian-approximated) Poisson shot noise.
    noise: bool = True
    background_rms: float = 0.01
    exposure_time_log10_range_s: tuple[float, float] = (3.0, 3.5)
    #: Sky-limited background (0: none): Poisson counts of a sky of this mean per pixel, sky
    #: subtracted and scaled so that the sky level is a fraction f of the noiseless peak. With
    #: few counts the darkest pixel (no counts) lies only sqrt(counts) standard deviations
    #: below the mean, which sets the background's level after min-max normalisation.
    sky_counts_per_pixel: float = 0.0
    #: log10 f, drawn uniformly per image in this range (used when ``sky_counts_per_pixel`` > 0).
    sky_level_log10_range: tuple[float, float] = (-3.0, -3.0)
    #: Observe whole photon counts: Poisson counts of the noisy image above (times the exposure
    #: time, clipped at zero), divided by the exposure time again. DeepLenseSim's ``simple_sim``
    #: writes its Model I files so: a second Poisson draw on top of the Gaussian shot noise, and
    #: the background pixels below zero become exactly zero (``benchmarks/count_noise.py``). On
    #: in ``deeplense-model-i`` only: the other presets keep their own noise.
    integer_counts: bool = False

    # Per-image scatter: settings named here are drawn uniformly in [low, high] for each image
    # instead of taking the fixed value above (the fixed value is then unused).
    varied_settings: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        # JSON and argparse hand over lists; store tuples so the config stays hashable.
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

        # Types first, so the range checks below compare numbers.
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
        if self.source_centre_sampling not in SOURCE_CENTRE_SAMPLINGS:
            fail("source_centre_sampling", f"must be one of {', '.join(SOURCE_CENTRE_SAMPLINGS)}")
        if self.source_centre_sampling == "radial":
            check_range("source_centre_range_arcsec", 0.0)
        if not (math.isfinite(self.peak_saturation) and self.peak_saturation >= 1):
            fail("peak_saturation", "must be a finite number >= 1")
        for name, choices in (("subhalo_profile", SUBHALO_PROFILES), ("subhalo_placement", SUBHALO_PLACEMENTS),
                              ("subhalo_nfw_concentration_model", CONCENTRATION_MODELS)):
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
            # Both ends must be valid values of the setting (e.g. |e| < 1, radii > 0).
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


#: Settings that ``varied_settings`` may draw per image: the lens, source and lens-light shapes
#: and brightnesses, and the background noise (not the detector, redshifts or perturbers).
VARIABLE_SETTINGS = (
    "einstein_radius_arcsec", "lens_e1", "lens_e2", "shear_gamma1", "shear_gamma2",
    "source_amp", "source_R_sersic_arcsec", "source_n_sersic", "source_e1", "source_e2",
    "lens_light_amp", "lens_light_R_sersic_arcsec", "lens_light_n_sersic", "lens_light_e1", "lens_light_e2",
    "background_rms",
)

#: lenstronomy 1.14.2 ``SimulationAPI.ObservationConfig.HST.HST(band="WFC3_F160W",
#: psf_type="GAUSSIAN")``: pixel 0.08″ (drizzled), PSF FWHM 0.08″ (lenstronomy sets it to the
#: drizzled pixel; the undrizzled F160W PSF is ~0.15″), read noise 4 e⁻, one 5400 s exposure
#: (about two orbits), sky 22.3 mag/arcsec², zero point 25.96 mag (1 e⁻/s). DeepLense's Model III
#: README says "HST observation characteristics as done by default in lenstronomy"; the public
#: DeepLenseSim's ``set_instrument('hst')`` sets nothing (only Euclid is written), so its exact
#: settings cannot be read from its code: these are lenstronomy's.
HST_WFC3_F160W = {"pixel_scale_arcsec": 0.08, "seeing_arcsec": 0.08, "read_noise_e": 4.0, "exposure_time_s": 5400.0,
                  "num_exposures": 1, "sky_brightness_mag_arcsec2": 22.3, "magnitude_zero_point": 25.96}
#: lenstronomy 1.14.2 ``SimulationAPI.ObservationConfig.Euclid.Euclid(band="VIS",
#: psf_type="GAUSSIAN", coadd_years=6)`` (DeepLense Model II's call): pixel 0.101″, PSF FWHM
#: 0.16″, read noise 4.2 e⁻, 4 exposures of 566 s (the 6-year wide survey), sky 22.3 mag/arcsec²,
#: zero point 25.72 mag.
EUCLID_VIS = {"pixel_scale_arcsec": 0.101, "seeing_arcsec": 0.16, "read_noise_e": 4.2, "exposure_time_s": 566.0,
              "num_exposures": 4, "sky_brightness_mag_arcsec2": 22.3, "magnitude_zero_point": 25.72}
#: Apparent magnitude of the Sérsic source in the observation presets: DeepLenseSim's
#: ``make_source_light_mag`` (Models II and III) gives the Model I source shape magnitude 20. A
#: bright source: lensed arcs observed with HST are typically 21–25 mag.
SOURCE_MAGNITUDE = 20.0


def observed_with(band: dict[str, float], base: LensSimulationConfig | None = None) -> LensSimulationConfig:
    """``base`` (default: DeepLense Model I) on a 64×64 px detector with the observation settings
    ``band`` (:data:`HST_WFC3_F160W` or :data:`EUCLID_VIS`), as DeepLense Models II and III.

    The counts/s of this simulator are lenstronomy's e⁻/s: the source amplitude comes from
    :data:`SOURCE_MAGNITUDE` and the zero point, ``background_rms`` from read noise and sky
    (:func:`background_rms_cps`), shot noise from the total exposure time (fixed, not drawn),
    and the Gaussian PSF is truncated at lenstronomy's default 5 σ. The CCD gain does not enter:
    lenstronomy counts electrons.
    """
    base = base or LensSimulationConfig()
    total_s = band["num_exposures"] * band["exposure_time_s"]
    return base.replace(
        num_pix=64,
        pixel_scale_arcsec=band["pixel_scale_arcsec"],
        psf_fwhm_arcsec=band["seeing_arcsec"],
        psf_truncation_sigmas=5.0,
        source_amp=sersic_amplitude(SOURCE_MAGNITUDE, band["magnitude_zero_point"], base.source_R_sersic_arcsec,
                                    base.source_n_sersic),
        background_rms=background_rms_cps(band["read_noise_e"], band["sky_brightness_mag_arcsec2"],
                                          band["magnitude_zero_point"], band["pixel_scale_arcsec"],
                                          band["exposure_time_s"], band["num_exposures"]),
        exposure_time_log10_range_s=(math.log10(total_s), math.log10(total_s)),
    )


#: The defaults of :class:`LensSimulationConfig` are DeepLense Model I's lens, source and noise;
#: its preset also observes whole counts, as DeepLense's Model I files hold (the lens-light
#: preset of equilens 0.x stays as it was). The observation presets:
#: ``hst-like`` has source amp 323.8 counts/s/arcsec², background σ 0.00592 counts/s, 5400 s;
#: ``euclid-like`` amp 259.6, σ 0.01090, 2264 s (:func:`observed_with`).
PRESETS: dict[str, LensSimulationConfig] = {
    "deeplense-model-i": LensSimulationConfig(integer_counts=True),
    "test-iv": LensSimulationConfig(
        # Fitted to the real Test IV images: see this module's docstring.
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
}


@dataclasses.dataclass(frozen=True)
class Band:
    """One band of a multi-band simulation, as factors on the preset's (single-band) settings."""

    lens_light: float  # lens-light amplitude
    source: float  # source amplitude
    psf_fwhm: float  # PSF FWHM
    background_rms: float  # background noise sigma


#: The bands ``equilens simulate --bands`` renders. Rough colours of a red early-type lens galaxy
#: (z ~ 0.5, g - r ~ 1.3, r - i ~ 0.6) and a blue star-forming source (flat, slightly bluer),
#: relative to r; seeing a little worse in the blue and in the near infrared; more background in
#: u and z and in Euclid's NISP Y, J, H. Illustrative, not calibrated to a survey: enough for
#: colour to separate arcs from lens light, as it does in real multi-band cutouts.
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


def get_preset(name: str) -> LensSimulationConfig:
    """The preset called ``name``; InputError listing the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown simulation preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
