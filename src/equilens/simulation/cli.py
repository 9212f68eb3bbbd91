"""``equilens simulate``: its options (a physical one left out keeps the preset's value) and runner."""

from __future__ import annotations

import argparse
from typing import Any

from equilens.errors import InputError
from equilens.simulation.jit import skip_numba_jit
from equilens.simulation.bands import BANDS
from equilens.simulation.config import NONLENS_KINDS, LensSimulationConfig, scene_settings
from equilens.simulation.presets import PRESETS, get_preset

# (option, config field(s), type, nargs, help); a (LOW, HIGH) range over two names sets two fields.
_PHYSICAL_OPTIONS: list[tuple[str, str | tuple[str, str], type, int | None, str]] = [
    ("--num-pix", "num_pix", int, None, "image side in pixels"),
    ("--pixel-scale-arcsec", "pixel_scale_arcsec", float, None, "pixel side in arcsec"),
    ("--psf-fwhm-arcsec", "psf_fwhm_arcsec", float, None, "Gaussian PSF FWHM in arcsec"),
    ("--psf-truncation-sigmas", "psf_truncation_sigmas", float, None, "PSF kernel truncation in PSF sigmas"),
    ("--supersampling-factor", "supersampling_factor", int, None, "rays per pixel side (1 = DeepLense; 2 is ~3x slower)"),
    ("--z-lens", "z_lens", float, None, "lens redshift"),
    ("--z-source", "z_source", float, None, "source redshift"),
    ("--einstein-radius-arcsec", "einstein_radius_arcsec", float, None, "SIE Einstein radius in arcsec"),
    ("--lens-e1", "lens_e1", float, None, "SIE ellipticity e1"),
    ("--lens-e2", "lens_e2", float, None, "SIE ellipticity e2"),
    ("--shear-gamma1", "shear_gamma1", float, None, "external shear gamma1"),
    ("--shear-gamma2", "shear_gamma2", float, None, "external shear gamma2"),
    ("--source-amp", "source_amp", float, None, "source Sersic amplitude (counts/s at R_sersic)"),
    ("--source-r-sersic-arcsec", "source_R_sersic_arcsec", float, None, "source Sersic half-light radius in arcsec"),
    ("--source-n-sersic", "source_n_sersic", float, None, "source Sersic index"),
    ("--source-e1", "source_e1", float, None, "source ellipticity e1"),
    ("--source-e2", "source_e2", float, None, "source ellipticity e2"),
    ("--source-centre-range-arcsec", "source_centre_range_arcsec", float, 2,
     "square: source centre x and y each uniform in [LOW, HIGH] arcsec (0 0 = centred); radial: its distance"),
    ("--source-centre-sampling", "source_centre_sampling", str, None,
     "square (x and y uniform) or radial (distance uniform in the range, direction uniform)"),
    ("--lens-light-amp", "lens_light_amp", float, None, "lens-light Sersic amplitude (counts/s at R_sersic)"),
    ("--lens-light-r-sersic-arcsec", "lens_light_R_sersic_arcsec", float, None, "lens-light Sersic radius in arcsec"),
    ("--lens-light-n-sersic", "lens_light_n_sersic", float, None, "lens-light Sersic index"),
    ("--lens-light-e1", "lens_light_e1", float, None, "lens-light ellipticity e1"),
    ("--lens-light-e2", "lens_light_e2", float, None, "lens-light ellipticity e2"),
    ("--peak-saturation", "peak_saturation", float, None,
     "multiply the normalised image by X >= 1 and clip at 1 (saturated cores, as in the Test IV files)"),
    ("--n-subhalos", "n_subhalos", int, None, "number of CDM subhalos per 'sub' image"),
    ("--subhalo-mass-range-msun", ("subhalo_mass_min_msun", "subhalo_mass_max_msun"), float, 2,
     "subhalo masses in solar masses, on [LOW, HIGH]"),
    ("--subhalo-mass-slope", "subhalo_mass_slope", float, None, "subhalo mass function slope X: p(m) ~ m^X"),
    ("--subhalo-radius-range-arcsec", "subhalo_radius_range_arcsec", float, 2,
     "subhalo distance from the lens centre, uniform in [LOW, HIGH] arcsec"),
    ("--subhalo-placement", "subhalo_placement", str, None,
     "radius_uniform: radius uniform in --subhalo-radius-range-arcsec (DeepLense); annulus: uniform per unit "
     "area in it; ring: on the Einstein ring (radius = --einstein-radius-arcsec)"),
    ("--subhalo-profile", "subhalo_profile", str, None, "subhalo mass profile: point_mass, nfw (M200) or tnfw (M200, tidally truncated by the main lens)"),
    ("--subhalo-nfw-concentration", "subhalo_nfw_concentration", float, None,
     "NFW concentration r200/r_s of the fixed concentration model"),
    ("--subhalo-nfw-concentration-model", "subhalo_nfw_concentration_model", str, None,
     "fixed: --subhalo-nfw-concentration for every mass; duffy2008: Duffy et al. 2008 c200(M, z_lens)"),
    ("--vortex-n-point-masses", "vortex_n_point_masses", int, None, "point masses on the axion vortex line"),
    ("--vortex-mass-msun", "vortex_mass_msun", float, None, "mass of each vortex point mass in solar masses"),
    ("--vortex-half-length-range-arcsec", "vortex_half_length_range_arcsec", float, 2,
     "vortex half-length uniform in [LOW, HIGH] arcsec"),
    ("--background-rms", "background_rms", float, None, "Gaussian background noise sigma (counts/s)"),
    ("--exposure-time-log10-s", "exposure_time_log10_range_s", float, 2,
     "log10 of the exposure time in seconds, uniform in [LOW, HIGH] (sets the shot noise)"),
    ("--sky-counts-per-pixel", "sky_counts_per_pixel", float, None,
     "sky-limited background: Poisson sky of X counts per pixel, sky subtracted (0: none; test-iv: 2)"),
    ("--sky-level-log10", "sky_level_log10_range", float, 2,
     "log10 of the sky level as a fraction of the image peak, uniform in [LOW, HIGH]"),
    ("--magnitude-zero-point", "magnitude_zero_point", float, None,
     "lens finding: AB magnitude of 1 count/s (hst-lens-finding: ACS F814W, 25.94)"),
    ("--galaxy-magnitude-range", "galaxy_magnitude_range", float, 2,
     "lens finding: central galaxy AB magnitude, uniform in [LOW, HIGH], the same in both classes"),
    ("--einstein-radius-range-arcsec", "einstein_radius_range_arcsec", float, 2,
     "lens finding: Einstein radius of the faintest and the brightest lens galaxies (theta_E ~ L^1/2)"),
    ("--source-magnitude-range", "source_magnitude_range", float, 2,
     "lens finding: unlensed AB magnitude of the lensed galaxy, uniform in [LOW, HIGH]"),
    ("--point-source-magnitude-range", "point_source_magnitude_range", float, 2,
     "lens finding: unlensed AB magnitude of a lensed quasar, uniform in [LOW, HIGH]"),
    ("--lensed-quasar-fraction", "lensed_quasar_fraction", float, None,
     "lens finding: fraction of lenses whose source is a quasar (doubles and quads) in its host"),
    ("--quad-fraction", "quad_fraction", float, None, "lens finding: fraction of lensed quasars drawn as quads"),
    ("--nonlens-kinds", "nonlens_kinds", str, "+",
     f"lens finding: non-lenses drawn with equal odds among these ({', '.join(NONLENS_KINDS)}; repeat one to weight it)"),
]
_SWITCHES: list[tuple[str, str, str]] = [
    ("--random-orientation", "random_orientation",
     "rotate lens ellipticity, shear and source by a random angle per image (physics, not pixels)"),
    ("--lens-light", "lens_light", "add an elliptical Sersic lens light at the centre"),
    ("--noise", "noise", "add background and shot noise"),
    ("--integer-counts", "integer_counts",
     "observe whole photon counts (Poisson counts of the noisy image, clipped at zero), as DeepLense's Model I files"),
]


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options to ``parser`` (a subcommand parser or a standalone one)."""
    from equilens.simulation.writer import FILE_FORMATS

    parser.add_argument("out", help="output folder (created; an interrupted run in it is resumed)")
    parser.add_argument("--n-per-class", type=int, required=True, help="images per class")
    parser.add_argument("--preset", default="test-iv", choices=sorted(PRESETS),
                        help="physical settings to start from (default: test-iv); options below override it. "
                        "hst-lens-finding renders nonlenses/ and lenses/ (galaxy and quasar lenses, and ellipticals, "
                        "spirals, mergers, galaxies with stars, ring galaxies) as HST ACS F814W sees them")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    parser.add_argument("--format", dest="file_format", default="npy", choices=FILE_FORMATS,
                        help="npy: float32 in [0, 1] (per band); png/jpg: 8-bit grey; fits: float32 counts/s "
                        "(a (C, H, W) cube with --bands); fits-per-band: one file <image>_<band>.fits per band (default: npy)")
    parser.add_argument("--bands", nargs="+", metavar="BAND", choices=list(BANDS),
                        help="render each image in these bands, each with its own lens-light and source colour, PSF "
                        f"and noise ({', '.join(BANDS)}; default: one grey band); needs --lens-light for colour to matter")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes (default: 1)")
    parser.add_argument("--shard", default=None, metavar="i/N",
                        help="render only images whose index %% N == i (run N shards to fill one folder)")
    parser.add_argument("--paired", action="store_true",
                        help="image k of every class shares source, lens and noise (twins differing only by substructure)")
    parser.add_argument("--axion", action="store_true", help="also simulate the vortex class into OUT/axion")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    physics = parser.add_argument_group("physical settings (default: the preset's value)")
    for option, field, kind, nargs, help_text in _PHYSICAL_OPTIONS:
        unit = next((u for u in ("arcsec", "msun", "s") if option.endswith("-" + u)), None)
        value_name = unit.upper() if unit else ("N" if kind is int else "X")
        metavar = ("LOW", "HIGH") if nargs == 2 else "KIND" if nargs == "+" else value_name
        dest = option.removeprefix("--").replace("-", "_")
        physics.add_argument(option, dest=dest, type=kind, nargs=nargs, metavar=metavar, default=None, help=help_text)
    for option, field, help_text in _SWITCHES:
        physics.add_argument(option, dest=field, action=argparse.BooleanOptionalAction, default=None, help=help_text)
    physics.add_argument("--vary", nargs=3, action="append", metavar=("NAME", "LOW", "HIGH"), default=None,
                         help="draw setting NAME (e.g. shear_gamma1) per image uniformly in [LOW, HIGH]; repeatable; "
                         "replaces the preset's per-image scatter (--vary none: no scatter)")


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard must look like i/N (e.g. 0/4), got {text!r}") from None
    return i, n


def config_from_args(args: argparse.Namespace) -> LensSimulationConfig:
    """The preset named by ``args.preset`` with every given physical option applied; InputError for
    an option that the preset's scene does not read."""
    overrides: dict[str, Any] = {}
    given: dict[str, str] = {}  # config field -> the option that set it
    for option, field, _, nargs, _ in _PHYSICAL_OPTIONS:
        value = getattr(args, option.removeprefix("--").replace("-", "_"))
        if value is None:
            continue
        if isinstance(field, tuple):
            overrides.update(zip(field, value))
            given.update(dict.fromkeys(field, option))
        else:
            overrides[field] = tuple(value) if nargs == 2 else value
            given[field] = option
    for option, field, _ in _SWITCHES:
        if getattr(args, field) is not None:
            overrides[field] = getattr(args, field)
            given[field] = option
    if args.vary is not None:
        overrides["varied_settings"] = tuple(_varied_setting(entry) for entry in args.vary if entry[0] != "none")
        given["varied_settings"] = "--vary"
    preset = get_preset(args.preset)
    unused = sorted({given[field] for field in set(overrides) - scene_settings(preset.scene)})
    if unused:
        raise InputError(f"preset {args.preset} ({preset.scene.replace('_', '-')} scene) does not use {', '.join(unused)}")
    return preset.replace(**overrides)


def _varied_setting(entry: list[str]) -> tuple[str, float, float]:
    name, low, high = entry
    try:
        return name, float(low), float(high)
    except ValueError:
        raise InputError(f"--vary {name} {low} {high}: LOW and HIGH must be numbers") from None


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``equilens simulate`` from parsed ``args``; returns 0, or raises InputError."""
    skip_numba_jit()  # numba's start-up costs more than its jit saves in rendering; the images are the same
    from equilens.simulation.writer import default_classes, simulate_dataset

    config = config_from_args(args)
    classes = default_classes(config)
    if args.axion:
        if config.scene != "substructure":
            raise InputError(f"--axion: preset {args.preset} renders {' and '.join(classes)}, no vortex class")
        classes += ("axion",)
    out = simulate_dataset(
        args.out,
        args.n_per_class,
        config,
        seed=args.seed,
        classes=classes,
        file_format=args.file_format,
        workers=args.workers,
        shard=_parse_shard(args.shard),
        paired=args.paired,
        progress=not args.no_progress,
        bands=args.bands,
    )
    shard_note = f" (shard {args.shard})" if args.shard else ""
    print(f"{out}: {args.n_per_class} images per class of {', '.join(classes)}{shard_note} done")
    return 0
