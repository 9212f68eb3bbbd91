"""The ideal observer of twins: its noise model, d' and AUCs, the unknown-position scan, and its
figures in ``equilens sensitivity``'s report."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score
from test_sensitivity import HST_TNFW, TINY, tiny_model

from equilens.cli import main
from equilens.sensitivity import sensitivity
from equilens.simulation import PRESETS, LensRenderer
from equilens.simulation.ideal_observer import (IdealObserver, d_prime, noise_variance, pair_auc, pooled_auc,
                                                scan_grid, scan_statistics)
from equilens.simulation.twins import one_subhalo, render_twins, subhalo_physics, twin_seeds

TINY_TNFW = subhalo_physics(TINY, "tnfw", "ring", "duffy2008")


def observer_of(config, n_pairs: int, seed: int = 0):
    seeds = twin_seeds(seed, n_pairs)
    return IdealObserver(config, render_twins(config, seeds, with_subhalo=False)), seeds


@pytest.mark.parametrize("preset", ["hst-like", "test-iv", "deeplense-model-i"])
def test_noise_variance_is_the_renderers(preset):
    """Shot and background (hst-like), the sky's Poisson term (test-iv), whole photon counts
    clipped at zero (Model I): the variance of LensRenderer.observe's noise, pixel by pixel."""
    config = PRESETS[preset].replace(num_pix=40)
    renderer = LensRenderer(config)
    params = renderer.draw_parameters("no_sub", twin_seeds(0, 1)[0])
    model = renderer.noiseless(params)
    draws = np.array([renderer.observe(model, {**params, "seed": seed}, normalize=False) for seed in range(400)])
    ratio = draws.var(axis=0) / noise_variance(config, model, params)
    # 400 draws: each pixel's sample variance within ~7% (1 sigma) of the truth.
    assert np.median(ratio) == pytest.approx(1.0, abs=0.03)
    assert np.mean(np.abs(ratio - 1) < 0.25) > 0.95
    assert not noise_variance(config.replace(noise=False), model, params).any()


def test_no_signal_is_chance():
    variance = np.ones((4, 4))
    assert d_prime(np.zeros((4, 4)), variance) == 0 and pair_auc(np.zeros(3)).tolist() == [0.5] * 3
    assert pooled_auc(np.zeros(5)) == 0.5
    assert d_prime(np.r_[1.0, 1.0], np.r_[0.0, 1.0]) == math.inf  # a noiseless pixel that changes
    assert d_prime(np.r_[0.0, 1.0], np.r_[0.0, 1.0]) == 1.0  # one that does not
    assert d_prime(np.r_[0.0, 1.0], np.r_[1.0, 4.0]) == pytest.approx(0.5)
    # A subhalo too light to deflect anything.
    observer, seeds = observer_of(TINY_TNFW, 3)
    config = one_subhalo(TINY_TNFW, 1e-3, 1e-3)
    measured = observer.measure(config, render_twins(config, seeds, with_subhalo=True), n_positions=8)
    assert measured["d_prime"].max() < 1e-3 and measured["ideal_auc"] == pytest.approx(0.5, abs=1e-3)
    assert measured["scan_auc"] == pytest.approx(0.5, abs=0.05)


def test_auc_rises_with_subhalo_mass():
    observer, seeds = observer_of(TINY_TNFW, 4)
    edges = [1e7, 1e8, 1e9, 1e10, 1e11]
    d, aucs = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        config = one_subhalo(TINY_TNFW, low, high)
        measured = observer.measure(config, render_twins(config, seeds, with_subhalo=True), n_positions=0)
        assert measured["scan_auc"] is None
        d.append(measured["d_prime"])
        aucs.append(measured["ideal_auc"])
    assert np.all(np.diff(np.array(d), axis=0) > 0)  # each lens: the same subhalo quantile and position, heavier
    assert np.all(np.diff(aucs) > 0) and aucs[0] < 0.6 and aucs[-1] > 0.999


def test_known_position_beats_the_scan():
    """hst-like at 1e8-10^8.5 Msun: d' ~ 1, where neither figure is at chance or at 1."""
    observer, seeds = observer_of(HST_TNFW, 10)
    config = one_subhalo(HST_TNFW, 1e8, 10**8.5)
    measured = observer.measure(config, render_twins(config, seeds, with_subhalo=True), n_positions=16, n_draws=300)
    assert 0.6 < measured["ideal_auc"] < 0.95
    assert 0.5 < measured["scan_auc"] < measured["ideal_auc"]
    # Pooling lets thresholds differ between lenses: at least the pairs' mean.
    assert measured["ideal_auc"] >= pair_auc(measured["d_prime"]).mean()


def test_likelihood_ratio_auc_matches_phi_of_d_prime():
    """The renderer's own (Gaussian) noise on one hst-like twin pair: the likelihood-ratio
    statistic's empirical AUC is Phi(d'/sqrt 2)."""
    config = one_subhalo(HST_TNFW, 2e8, 2e8)
    renderer = LensRenderer(config)
    seed = twin_seeds(0, 1)[0]
    smooth_params, lumpy_params = renderer.draw_parameters("no_sub", seed), renderer.draw_parameters("sub", seed)
    smooth, lumpy = renderer.noiseless(smooth_params), renderer.noiseless(lumpy_params)
    variance = noise_variance(config, smooth, smooth_params)
    d = d_prime(lumpy - smooth, variance)
    assert 0.5 < d < 3

    def statistic(model, params, seeds):
        return np.array([((lumpy - smooth) * (renderer.observe(model, {**params, "seed": s}, normalize=False) - smooth)
                          / variance).sum() for s in seeds])

    without, with_subhalo = statistic(smooth, smooth_params, range(1500)), statistic(lumpy, lumpy_params, range(1500, 3000))
    empirical = roc_auc_score(np.r_[np.zeros(1500), np.ones(1500)], np.r_[without, with_subhalo])
    assert empirical == pytest.approx(norm.cdf(d / math.sqrt(2)), abs=0.03)  # 3 standard errors


def test_pooled_auc_is_the_pooled_likelihood_ratios():
    """Two lenses of d' 0.5 and 3: each image's log-likelihood ratio is N(-/+ d^2/2, d^2)."""
    rng = np.random.default_rng(0)
    d = np.array([0.5, 3.0])
    draws = 20000
    without = np.concatenate([rng.normal(-x**2 / 2, x, draws) for x in d])
    with_subhalo = np.concatenate([rng.normal(x**2 / 2, x, draws) for x in d])
    empirical = roc_auc_score(np.r_[np.zeros(2 * draws), np.ones(2 * draws)], np.r_[without, with_subhalo])
    assert empirical == pytest.approx(pooled_auc(d), abs=0.01)
    assert pooled_auc(d) > pair_auc(d).mean() + 0.02


def test_a_scan_of_the_true_position_alone_is_the_known_signal_test():
    rng = np.random.default_rng(1)
    variance = rng.uniform(0.5, 2.0, (8, 8))
    signal = rng.normal(size=(8, 8)) * 0.3
    d = d_prime(signal, variance)
    without, with_subhalo = scan_statistics(signal[None] * 5, signal, variance, 20000, rng)  # any template scale
    auc = roc_auc_score(np.r_[np.zeros(20000), np.ones(20000)], np.r_[without, with_subhalo])
    assert without.std() == pytest.approx(1, abs=0.02) and with_subhalo.mean() == pytest.approx(d, abs=0.02)
    assert auc == pytest.approx(pair_auc(np.array([d]))[0], abs=0.01)
    # Decoys at other positions: the largest response is a poorer test.
    decoys = np.concatenate([signal[None], rng.normal(size=(15, 8, 8))])
    without, with_subhalo = scan_statistics(decoys, signal, variance, 20000, rng)
    assert roc_auc_score(np.r_[np.zeros(20000), np.ones(20000)], np.r_[without, with_subhalo]) < auc - 0.05


def test_scan_grid_follows_the_placement():
    ring = scan_grid(HST_TNFW, 16)
    np.testing.assert_allclose(np.hypot(*ring.T), HST_TNFW.einstein_radius_arcsec)
    assert len(np.unique(np.round(np.arctan2(ring[:, 1], ring[:, 0]), 6))) == 16
    annulus = subhalo_physics(PRESETS["hst-like"], "tnfw", "annulus", "duffy2008")
    low, high = annulus.subhalo_radius_range_arcsec
    radius = np.hypot(*scan_grid(annulus, 40).T)
    assert np.all((radius >= low) & (radius <= high))
    # Evenly per unit area: half the points inside the radius halving the annulus's area.
    assert np.mean(radius**2 < (low**2 + high**2) / 2) == pytest.approx(0.5)


def test_report_carries_the_ideal_observer(tmp_path, capsys):
    weights = tiny_model(tmp_path / "model.safetensors")
    out, report = sensitivity(weights, preset="hst-like", mass_edges_msun=[1e8, 1e9, 1e10, 1e11], n_per_bin=6,
                              n_bootstrap=20, out=tmp_path / "report", scan_positions=8, scan_pairs=3)
    written = json.loads((out / "sensitivity.json").read_text())
    for row in written["bins"]:
        assert 0.5 <= row["scan_auc"] <= row["ideal_auc"] + 0.02 and row["ideal_d_prime_median"] > 0
        # No detector beats the known-signal bound (beyond the model's interval).
        assert row["auc_ci95"][0] <= row["ideal_auc"]
    assert written["bins"][-1]["ideal_auc"] > 0.999
    assert written["ideal_mass_at_auc_0.9_msun"] < 1e10 and "scan_mass_at_auc_0.9_msun" in written
    assert written["ideal_observer"]["scan_pairs"] == 3 and "Phi" in written["ideal_observer"]["ideal_auc"]
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert all(float(r["ideal_d_prime"]) >= 0 for r in rows)
    assert main(["sensitivity", str(weights), "--preset", "hst-like", "--masses", "1e9", "1e10", "--per-mass", "3",
                 "--bootstrap", "5", "--scan-positions", "0", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "ideal observer, known position: AUC 0.9" in printed and "scan, position unknown" not in printed
    no_scan = json.loads((tmp_path / "r" / "sensitivity.json").read_text())
    assert no_scan["bins"][0]["scan_auc"] is None and no_scan["scan_mass_at_auc_0.9_msun"] is None
    assert main(["sensitivity", str(weights), "--preset", "hst-like", "--scan-positions", "-1"]) == 2
    assert "--scan-positions" in capsys.readouterr().err
