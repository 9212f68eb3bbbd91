"""Paired twins for sensitivity per subhalo mass: the same lenses rendered without and with one
subhalo. Twin ``i`` of every mass bin comes from one seed, so it shares lens, source and noise
with the image without a subhalo, and the subhalo's position and quantile in its bin."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from equilens.errors import InputError
from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.render import LensRenderer

#: Short name -> ``subhalo_profile``.
TWIN_PROFILES = {"tnfw": "tnfw", "nfw": "nfw", "point": "point_mass"}
TWIN_PLACEMENTS = ("ring", "annulus")
#: Field halos' c(M): conservative, as subhalos are denser.
DEFAULT_CONCENTRATION = "duffy2008"

#: First spawn key of twin seeds: never a simulated dataset's, so no twin is a training image.
TWIN_SEED_KEY = 1000


def twin_seeds(seed: int, n_twins: int) -> list[int]:
    """The integer image seeds of twins ``0 .. n_twins - 1`` of sensitivity seed ``seed``."""
    return [int(np.random.SeedSequence(seed, spawn_key=(TWIN_SEED_KEY, i)).generate_state(1, np.uint64)[0])
            for i in range(n_twins)]


def one_subhalo(config: LensSimulationConfig, mass_low_msun: float, mass_high_msun: float) -> LensSimulationConfig:
    """``config`` with one subhalo per ``sub`` image, its mass log-uniform on [low, high] M☉."""
    return config.replace(n_subhalos=1, subhalo_mass_slope=-1.0, subhalo_mass_min_msun=float(mass_low_msun),
                          subhalo_mass_max_msun=float(mass_high_msun))


def subhalo_physics(base: LensSimulationConfig, profile: str, placement: str, concentration: str | float) -> LensSimulationConfig:
    """``base`` with the twins' subhalo ``profile``, ``placement`` and ``concentration`` (duffy2008 or c200 > 0)."""
    if profile not in TWIN_PROFILES:
        raise InputError(f"subhalo profile {profile!r}: choose one of {', '.join(TWIN_PROFILES)}")
    if placement not in TWIN_PLACEMENTS:
        raise InputError(f"subhalo placement {placement!r}: choose one of {', '.join(TWIN_PLACEMENTS)}")
    if concentration == "duffy2008":
        return base.replace(subhalo_profile=TWIN_PROFILES[profile], subhalo_placement=placement,
                            subhalo_nfw_concentration_model="duffy2008")
    try:
        fixed = float(concentration)
    except (TypeError, ValueError):
        fixed = math.nan
    if not fixed > 0:
        raise InputError(f"concentration {concentration!r}: give duffy2008 or a fixed concentration c200 > 0 (e.g. 15)")
    return base.replace(subhalo_profile=TWIN_PROFILES[profile], subhalo_placement=placement,
                        subhalo_nfw_concentration_model="fixed", subhalo_nfw_concentration=fixed)


@dataclass(frozen=True)
class Twins:
    """Images (n, H, W) float32 in [0, 1] of one mass bin, in twin order, with their subhalos'
    (n,) masses (0: none) and positions (NaN: none), and each image's parameters
    (:meth:`~equilens.simulation.render.LensRenderer.draw_parameters`), to render it again without noise."""

    images: np.ndarray
    mass_msun: np.ndarray
    x_arcsec: np.ndarray
    y_arcsec: np.ndarray
    params: tuple[dict[str, Any], ...]


def render_twins(config: LensSimulationConfig, seeds: Sequence[int], with_subhalo: bool) -> Twins:
    """Render the twins of ``seeds``: without a subhalo, or with ``config``'s one (see :func:`one_subhalo`)."""
    if with_subhalo and config.n_subhalos != 1:
        raise ValueError(f"twins carry one subhalo, the config has {config.n_subhalos}: use one_subhalo()")
    renderer = LensRenderer(config)
    images = np.empty((len(seeds), config.num_pix, config.num_pix), dtype=np.float32)
    mass, x, y = (np.full(len(seeds), np.nan) for _ in range(3))
    drawn = []
    for i, seed in enumerate(seeds):
        images[i], params = renderer.simulate("sub" if with_subhalo else "no_sub", seed)
        drawn.append(params)
        mass[i] = params["subhalo_mass_total_msun"]
        if with_subhalo:
            x[i], y[i] = params["perturber_x_arcsec"][0], params["perturber_y_arcsec"][0]
    return Twins(images, mass, x, y, tuple(drawn))
