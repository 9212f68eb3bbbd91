"""The ideal observer of twins: how well any detector could tell a lens with one subhalo from its
twin without, from the noiseless renderings and the renderer's noise model (counts/s, before
the images are min-max normalised). Two figures per mass bin:

- **known position** (``ideal_auc``): the likelihood-ratio test of an observer that knows the
  lens, the source and the subhalo (mass and position), i.e. the noiseless images ``mu0`` without
  and ``mu1`` with the subhalo. With Gaussian noise of per-pixel variance ``var`` (that of the
  image without the subhalo) its log-likelihood ratio is ``<mu1 - mu0, x - mu0>/var - d'^2/2``,
  normal with mean ``∓d'^2/2`` and variance ``d'^2`` under either hypothesis, where
  ``d' = sqrt(sum((mu1 - mu0)^2 / var))``: the AUC of one pair is ``Phi(d'/sqrt 2)``. By the
  Neyman-Pearson lemma no detector of that subhalo beats it (exact for Gaussian noise of that
  variance, leaving out the subhalo's own small change to the shot noise; for the
  renderer's Poisson terms, the sky's and whole photon counts, it is the Gaussian of the same
  variance, and as the Gaussian carries the least information of any noise of a given variance
  a detector could in principle exceed it there).
- **unknown position** (``scan_auc``): the lens known, the subhalo's mass known, its position
  not: the largest whitened matched-filter response over a grid of candidate positions (the
  twins' ring or annulus), its AUC estimated by drawing Gaussian noise of variance ``var``. A
  concrete detector, less optimistic than the first; not a bound.

Per bin both are pooled as the model's AUC is (every image without a subhalo against every
image with one), not averaged per pair: pooling lets a detector trade thresholds between lenses,
so the pooled likelihood ratio's AUC, ``mean_ij Phi(sqrt(d_i^2 + d_j^2) / 2)``, is at least the
mean of the pairs' ``Phi(d_i/sqrt 2)`` and is the bound for the model's figure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.render import LensRenderer
from equilens.simulation.twins import Twins

#: Candidate subhalo positions of the unknown-position scan, twin pairs it is measured on (the
#: first of the bin's) and Gaussian noise draws per pair and hypothesis.
SCAN_POSITIONS = 32
SCAN_PAIRS = 50
SCAN_DRAWS = 200
#: First spawn key of the scan's noise draws (a bin's: (key, bin)).
SCAN_SEED_KEY = 2000


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr  # heavy: here, so that the command line starts fast

    return ndtr(x)


def noise_variance(config: LensSimulationConfig, model: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Per-pixel variance ((counts/s)^2, the shape of ``model``) of the noise that
    :meth:`LensRenderer.observe` adds to the noiseless ``model`` (counts/s) of ``params``: Gaussian
    shot noise ``|model|/t`` and background ``background_rms^2``, the sky's Poisson term
    ``(f max(model))^2 / sky`` and, with whole photon counts, the Poisson counts of that noisy image
    clipped at zero: ``E[c]/t + Var(c)`` for ``c = max(image, 0)``, the image taken as Gaussian
    (clipping halves the noise where there is no light). Zeros without noise."""
    if not config.noise:
        return np.zeros_like(model)
    exposure_s = params["exposure_time_s"]
    variance = np.abs(model) / exposure_s + params.get("background_rms", config.background_rms) ** 2
    if config.sky_counts_per_pixel > 0:
        variance = variance + (params["sky_level_fraction"] * model.max()) ** 2 / config.sky_counts_per_pixel
    if config.integer_counts:
        sigma = np.sqrt(variance)
        z = np.divide(model, sigma, out=np.where(model > 0, math.inf, -math.inf), where=sigma > 0)
        positive, density = _normal_cdf(z), np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)
        clipped_mean = model * positive + sigma * density
        clipped_square = (model**2 + variance) * positive + model * sigma * density
        variance = clipped_mean / exposure_s + clipped_square - clipped_mean**2
    return variance


def d_prime(signal: np.ndarray, variance: np.ndarray) -> float:
    """``sqrt(sum(signal^2 / variance))`` of a known ``signal`` (the twins' noiseless difference) in
    noise of per-pixel ``variance``; a pixel without noise that the signal changes makes it inf."""
    signal = np.asarray(signal, dtype=np.float64)
    noiseless_change = np.where(signal != 0, math.inf, 0.0)
    return float(math.sqrt(np.divide(signal**2, variance, out=noiseless_change, where=variance > 0).sum()))


def pair_auc(d: np.ndarray) -> np.ndarray:
    """AUC ``Phi(d'/sqrt 2)`` of the likelihood-ratio test of each known signal of ``d`` (n,)."""
    return _normal_cdf(np.asarray(d, dtype=np.float64) / math.sqrt(2))


def pooled_auc(d: np.ndarray) -> float:
    """AUC of the likelihood ratio pooled over the pairs of ``d`` (n,): ``mean_ij Phi(sqrt(d_i^2 + d_j^2)/2)``,
    every image without a subhalo against every image with one (see the module docstring)."""
    d = np.asarray(d, dtype=np.float64)
    return float(_normal_cdf(np.sqrt(d[:, None] ** 2 + d[None, :] ** 2) / 2).mean())


def scan_grid(config: LensSimulationConfig, n_positions: int) -> np.ndarray:
    """(n_positions, 2) candidate subhalo positions (x, y) in arcsec where ``config`` places them:
    evenly spaced on the ring of radius theta_E, or a sunflower (Vogel) spiral filling the
    annulus evenly per unit area."""
    k = np.arange(n_positions)
    if config.subhalo_placement == "ring":
        radius, angle = np.full(n_positions, config.einstein_radius_arcsec), 2 * math.pi * k / n_positions
    else:
        low, high = config.subhalo_radius_range_arcsec
        radius = np.sqrt(low**2 + (k + 0.5) / n_positions * (high**2 - low**2))
        angle = k * math.pi * (3 - math.sqrt(5))  # the golden angle
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)]


def scan_statistics(
    templates: np.ndarray, signal: np.ndarray, variance: np.ndarray, n_draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Largest whitened matched-filter response ``max_k <t_k, x - mu0>/var / ||t_k||_var`` over the
    (K, H, W) ``templates`` (noiseless changes by a subhalo at each candidate position), in
    ``n_draws`` Gaussian noise draws of per-pixel ``variance`` without and with the true ``signal``
    (H, W). The responses are jointly normal (unit variance, correlations from the templates'
    overlaps), so they are drawn as K numbers, not as images. Pixels without noise are left out;
    so are templates that change no noisy pixel (a statistic of zeros if none is left).

    Returns:
        ((n_draws,) statistics without the subhalo, (n_draws,) with it)."""
    noisy = variance > 0
    sigma = np.sqrt(variance[noisy])
    whitened = templates[:, noisy] / sigma
    norms = np.linalg.norm(whitened, axis=1)
    whitened = whitened[norms > 0] / norms[norms > 0, None]
    if len(whitened) == 0:
        return np.zeros(n_draws), np.zeros(n_draws)
    mean_with = whitened @ (signal[noisy] / sigma)
    eigenvalues, vectors = np.linalg.eigh(whitened @ whitened.T)
    root = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    without, with_signal = (rng.standard_normal((n_draws, len(whitened))) @ root.T for _ in range(2))
    return without.max(axis=1), (with_signal + mean_with).max(axis=1)


class IdealObserver:
    """The ideal observer of twins of ``config`` (the twins' physics), knowing the lenses ``without``
    (:func:`~equilens.simulation.twins.render_twins` without a subhalo): their noiseless images
    and noise variances are rendered once, for every mass bin."""

    def __init__(self, config: LensSimulationConfig, without: Twins):
        renderer = LensRenderer(config)
        self.smooth = [renderer.noiseless(params) for params in without.params]
        self.variance = [noise_variance(config, model, params) for model, params in zip(self.smooth, without.params)]

    def measure(
        self, config: LensSimulationConfig, twins: Twins, n_positions: int = SCAN_POSITIONS, n_scan_pairs: int = SCAN_PAIRS,
        n_draws: int = SCAN_DRAWS, seed: int = 0, bin_index: int = 0,
    ) -> dict[str, Any]:
        """One mass bin's figures from its ``twins`` with a subhalo, rendered with ``config``
        (:func:`~equilens.simulation.twins.one_subhalo`), in the order of the lenses; ``n_positions``
        0 skips the scan; ``seed`` and ``bin_index`` seed its noise draws.

        Returns:
            ``d_prime`` (n,) per pair; ``ideal_auc`` (pooled, known position); ``scan_auc``
            (pooled over the first ``n_scan_pairs`` pairs, unknown position; None when skipped)."""
        from sklearn.metrics import roc_auc_score  # heavy: here, so that the command line starts fast

        if len(twins.params) != len(self.smooth):
            raise ValueError(f"{len(twins.params)} twins for {len(self.smooth)} lenses")
        renderer = LensRenderer(config)
        grid = scan_grid(config, n_positions)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SCAN_SEED_KEY, bin_index)))
        d, scan_without, scan_with = [], [], []
        for i, params in enumerate(twins.params):
            smooth, variance = self.smooth[i], self.variance[i]
            signal = renderer.noiseless(params) - smooth
            d.append(d_prime(signal, variance))
            if i < n_scan_pairs and n_positions:
                # The subhalo's mass known, its position one of the grid's.
                templates = np.stack([renderer.noiseless({**params, "perturber_x_arcsec": np.array([x]),
                                                          "perturber_y_arcsec": np.array([y])}) - smooth for x, y in grid])
                without, with_signal = scan_statistics(templates, signal, variance, n_draws, rng)
                scan_without.append(without)
                scan_with.append(with_signal)
        scan_auc = None
        if scan_without:
            labels = np.r_[np.zeros(len(scan_without) * n_draws), np.ones(len(scan_with) * n_draws)]
            scan_auc = float(roc_auc_score(labels, np.concatenate(scan_without + scan_with)))
        return {"d_prime": np.array(d), "ideal_auc": pooled_auc(np.array(d)), "scan_auc": scan_auc}
