"""Physical settings of the lens simulator and the named presets.

Every physical quantity is one field of :class:`LensSimulationConfig` with its unit in the
name (``_arcsec``, ``_msun``, ``_s``); dimensionless quantities (ellipticities, shear, Sérsic
index, redshifts, mass-function slope) carry none. Fluxes are in lenstronomy's units
(counts per second per pixel), so ``background_rms`` and exposure times are in the same units
as the Sérsic amplitudes.

Presets reproduce the DeepLense simulations (see ``/work/shared/DOMAIN.md``):

* ``deeplense-model-i``: DeepLense Model I, 150×150 px at 0.05″/px, SIE + shear, point-mass
  CDM subhalos, no lens light.
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
  ~269/255), hence ``peak_saturation`` 1.08; background ~1/255 with 0-valued JPEG blocks: a
  Gaussian background of 0.1% of the peak and no shot noise (exposure 1e6 s); 8-bit JPEG at
  quality 75 (the real files' quantisation table).
* Not reproduced: the real images' exact lens-light core shape and JPEG background pattern
  (``benchmarks/sim_fidelity.py`` measures what still tells them apart).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from equilens.errors import InputError

#: Cosmology of the DeepLense simulations.
HUBBLE_CONSTANT_KM_S_MPC = 70.0
OMEGA_MATTER = 0.3

SUBHALO_PROFILES = ("point_mass", "nfw")
SOURCE_CENTRE_SAMPLINGS = ("square", "radial")


@functools.lru_cache(maxsize=64)
def _einstein_radius_of_one_msun_arcsec(z_lens: float, z_source: float) -> float:
    """θ_E in arcsec of a 1 M☉ point lens; θ_E scales as sqrt(M), so this fixes every mass."""
    # astropy is imported lazily: it costs ~1 s and most users of the config never need it.
    import astropy.constants as const
    import astropy.units as u
    from astropy.cosmology import FlatLambdaCDM

    cosmology = FlatLambdaCDM(H0=HUBBLE_CONSTANT_KM_S_MPC, Om0=OMEGA_MATTER)
    # DeepLense uses *luminosity* distances here (not angular-diameter ones, which would be
    # the textbook choice); we follow it so that 1e12 M☉ gives their 1.2815″ and 1e10 M☉
    # their 0.128″.
    d_lens = cosmology.luminosity_distance(z_lens)
    d_source = cosmology.luminosity_distance(z_source)
    theta_sq = 4 * const.G * (1 * u.Msun) / const.c**2 * (d_source - d_lens) / (d_lens * d_source)
    return float((math.sqrt(theta_sq.decompose().value) * u.rad).to_value(u.arcsec))


def einstein_radius_arcsec(mass_msun: Any, z_lens: float, z_source: float) -> Any:
    """Einstein radius (arcsec) of a point mass ``mass_msun`` (M☉; scalar or array).

    θ_E = sqrt(4 G M / c² · (D_S − D_L) / (D_L D_S)) with flat ΛCDM (H0 = 70, Ωm = 0.3)
    luminosity distances D, as DeepLense computes it.
    """
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


def nfw_lensing_arcsec(mass_msun: Any, concentration: float, z_lens: float, z_source: float) -> tuple[Any, Any]:
    """Lenstronomy ``NFW`` parameters ``(Rs, alpha_Rs)`` in arcsec of halos of M200 ``mass_msun``.

    M200 is the mass within r200, where the mean density is 200 ρ_crit(z_lens); r_s = r200 / c.
    Unlike the point-mass θ_E (DeepLense's luminosity-distance convention), this uses the
    textbook angular-diameter distances, as lenstronomy's ``LensCosmo.nfw_physical2angle``
    does (whose lenstronomy 1.14.2 version needs astropy >= 7, hence this re-implementation).
    """
    rho_crit, d_d_mpc, sigma_crit = _nfw_scales(float(z_lens), float(z_source))
    r200_mpc = (3 * np.asarray(mass_msun, dtype=float) / (4 * math.pi * 200 * rho_crit)) ** (1 / 3)
    rs_mpc = r200_mpc / concentration
    rho0 = 200 / 3 * rho_crit * concentration**3 / (math.log(1 + concentration) - concentration / (1 + concentration))
    arcsec_per_radian = 180 / math.pi * 3600
    alpha_rs_mpc = 4 * rho0 * rs_mpc**2 * (1 + math.log(0.5)) / sigma_crit
    return rs_mpc / d_d_mpc * arcsec_per_radian, alpha_rs_mpc / d_d_mpc * arcsec_per_radian


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
    #: Radius from the lens centre, drawn uniformly in this range; angle uniform in [0, 2π).
    subhalo_radius_range_arcsec: tuple[float, float] = (0.25, 2.0)
    subhalo_profile: str = "point_mass"
    #: NFW concentration c = r200 / r_s, one value for all masses (only for "nfw").
    subhalo_nfw_concentration: float = 15.0

    # Vortex ("axion") class: a line of equal point masses through the centre.
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
        for name in ("source_amp", "lens_light_amp", "background_rms", "z_lens"):
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
        check_range("exposure_time_log10_range_s")
        if self.source_centre_sampling not in SOURCE_CENTRE_SAMPLINGS:
            fail("source_centre_sampling", f"must be one of {', '.join(SOURCE_CENTRE_SAMPLINGS)}")
        if self.source_centre_sampling == "radial":
            check_range("source_centre_range_arcsec", 0.0)
        if not (math.isfinite(self.peak_saturation) and self.peak_saturation >= 1):
            fail("peak_saturation", "must be a finite number >= 1")
        if self.subhalo_profile not in SUBHALO_PROFILES:
            fail("subhalo_profile", f"must be one of {', '.join(SUBHALO_PROFILES)}")
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

#: The defaults of :class:`LensSimulationConfig` are DeepLense Model I.
PRESETS: dict[str, LensSimulationConfig] = {
    "deeplense-model-i": LensSimulationConfig(),
    "test-iv": LensSimulationConfig(
        # Fitted to the real Test IV images: see TEST_IV_CALIBRATION.
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
        background_rms=0.14,
        exposure_time_log10_range_s=(6.0, 6.0),
        varied_settings=(
            ("shear_gamma1", 0.0, 0.3),
            ("source_amp", 3500.0, 7000.0),
            ("source_e1", 0.0, 0.15),
            ("lens_light_e1", 0.0, 0.3),
        ),
    ),
    "deeplense-model-i-lens-light": LensSimulationConfig(lens_light=True),
}


def get_preset(name: str) -> LensSimulationConfig:
    """The preset called ``name``; InputError listing the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown simulation preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
