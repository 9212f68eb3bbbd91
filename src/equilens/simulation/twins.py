"""Paired twins for measuring sensitivity per subhalo mass: the same lenses, sources and noise
rendered without and with one subhalo.

Twin ``i`` of every mass bin is rendered from one seed (:func:`twin_seeds`), so by the
renderer's seed streams (:mod:`equilens.simulation.render`) it shares lens, source, exposure
and noise draws with the image without a subhalo, and, since a single subhalo's mass, radius and
angle are drawn from the same uniform numbers in every bin, also its position and its quantile
within the bin: from one bin to the next only the mass changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from equilens.errors import InputError
from equilens.simulation.presets import LensSimulationConfig
from equilens.simulation.render import LensRenderer

#: Subhalo profiles of the twins by their short names -> ``subhalo_profile``.
TWIN_PROFILES = {"tnfw": "tnfw", "nfw": "nfw", "point": "point_mass"}
#: Subhalo placements of the twins (``subhalo_placement``).
TWIN_PLACEMENTS = ("ring", "annulus")
#: ΛCDM-like and conservative: field halos' c(M) (subhalos are denser; see duffy2008_concentration).
DEFAULT_CONCENTRATION = "duffy2008"

#: First spawn key of twin seeds. Datasets of ``equilens simulate`` use keys ``(index,)``
#: (paired) and ``(class 0-2, index)``, so no twin is ever an image of a simulated set of any
#: seed: a model is never measured on its own training images.
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
    """``base`` with the twins' subhalo ``profile`` (:data:`TWIN_PROFILES`), ``placement``
    (:data:`TWIN_PLACEMENTS`) and ``concentration``: ``"duffy2008"`` or a fixed c200 > 0."""
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
    """Images of one mass bin, in twin order.

    Attributes:
        images: (n, H, W) float32 in [0, 1], min–max normalised per image as in a dataset.
        mass_msun: (n,) subhalo masses (0 for images without one).
        x_arcsec, y_arcsec: (n,) subhalo positions (NaN for images without one).
    """

    images: np.ndarray
    mass_msun: np.ndarray
    x_arcsec: np.ndarray
    y_arcsec: np.ndarray


def render_twins(config: LensSimulationConfig, seeds: Sequence[int], with_subhalo: bool) -> Twins:
    """Render the twins of ``seeds``: without a subhalo, or with ``config``'s one (see :func:`one_subhalo`)."""
    if with_subhalo and config.n_subhalos != 1:
        raise ValueError(f"twins carry one subhalo, the config has {config.n_subhalos}: use one_subhalo()")
    renderer = LensRenderer(config)
    images = np.empty((len(seeds), config.num_pix, config.num_pix), dtype=np.float32)
    mass, x, y = (np.full(len(seeds), np.nan) for _ in range(3))
    for i, seed in enumerate(seeds):
        images[i], params = renderer.simulate("sub" if with_subhalo else "no_sub", seed)
        mass[i] = params["subhalo_mass_total_msun"]
        if with_subhalo:
            x[i], y[i] = params["perturber_x_arcsec"][0], params["perturber_y_arcsec"][0]
    return Twins(images, mass, x, y)
