"""Sensitivity per subhalo mass: paired twins, the curve from scores, the command end to end."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from equilens.cli import main
from equilens.config import TrainConfig
from equilens.datasets.formats import GREY
from equilens.errors import InputError
from equilens.evaluation import evaluate
from equilens.evaluation.mass_bins import auc_by_mass, log_mass_at_auc, sensitivity_curve
from equilens.models import build_model
from equilens.runs import RunRecord
from equilens.sensitivity import sensitivity
from equilens.simulation import PRESETS, LensRenderer, image_seed, simulate_dataset
from equilens.simulation.twins import one_subhalo, render_twins, subhalo_physics, twin_seeds
from equilens.weights import save_weights

HST_TNFW = subhalo_physics(PRESETS["hst-like"], "tnfw", "ring", "duffy2008")
# Small and fast: 32 px, for the command's bookkeeping.
TINY = PRESETS["hst-like"].replace(num_pix=32, pixel_scale_arcsec=0.16)
FEW_MASSES = [1e8, 1e9, 1e10]


def tiny_model(path, constant: bool = False):
    """Weights of an untrained small CNN; ``constant``: its last layer zeroed, so that it
    ignores its input (p(substructure) = 0.5 for every image)."""
    model = build_model({"architecture": "cnn", "input_size": 17, "widths": [2, 3], "num_classes": 2})
    if constant:
        with torch.no_grad():
            model.head[-1].weight.zero_()
            model.head[-1].bias.zero_()
    return save_weights(model, path, {"model": {"architecture": "cnn", "input_size": 17, "widths": [2, 3], "num_classes": 2},
                                      "classes": ["no_sub", "sub"], "task": "classify"})


# ---------------------------------------------------------------------------- twins


def test_twins_differ_only_near_the_subhalo():
    """HST-like, one truncated NFW subhalo of 1e9 Msun on the ring. Lensing by any mass reaches
    the whole arc (deflection ~ 1/r), so "only near" is a matter of degree at this noise: the
    change per pixel near the subhalo is many times that far from it, and where there is no
    light the twins are equal (shared noise)."""
    config = one_subhalo(HST_TNFW, 1e9, 1e9)
    renderer, noiseless = LensRenderer(config), LensRenderer(config.replace(noise=False))
    rows, cols = np.indices((config.num_pix, config.num_pix))
    for seed in twin_seeds(0, 4):
        smooth, smooth_params = renderer.simulate("no_sub", seed, normalize=False)
        lumpy, lumpy_params = renderer.simulate("sub", seed, normalize=False)
        for key in ("source_x_arcsec", "source_y_arcsec", "exposure_time_s", "lens_e1", "shear_gamma1"):
            assert smooth_params[key] == lumpy_params[key]
        model, _ = noiseless.simulate("no_sub", seed, normalize=False)
        sigma = np.sqrt(config.background_rms**2 + model / smooth_params["exposure_time_s"])
        row, col = renderer.arcsec_to_pixel(lumpy_params["perturber_x_arcsec"][0], lumpy_params["perturber_y_arcsec"][0])
        distance = np.hypot(rows - row, cols - col) * config.pixel_scale_arcsec
        pull = np.abs(lumpy - smooth) / sigma
        assert distance.flat[pull.argmax()] < 0.4
        assert pull[distance < 0.4].mean() > 5 * pull[distance > 1.2].mean()
        dark = (distance > 1.0) & (model < 0.01 * config.background_rms)
        assert dark.sum() > 100 and pull[dark].max() < 1e-3
    # A subhalo too light to deflect anything: the twins are the same image.
    negligible = LensRenderer(one_subhalo(HST_TNFW, 1e-3, 1e-3))
    seed = twin_seeds(0, 1)[0]
    np.testing.assert_allclose(negligible.simulate("sub", seed)[0], negligible.simulate("no_sub", seed)[0], atol=1e-6)


def test_twins_keep_lens_and_position_across_mass_bins():
    seeds = twin_seeds(3, 5)
    light = render_twins(one_subhalo(HST_TNFW, 1e8, 2e8), seeds, with_subhalo=True)
    heavy = render_twins(one_subhalo(HST_TNFW, 1e10, 2e10), seeds, with_subhalo=True)
    np.testing.assert_array_equal(light.x_arcsec, heavy.x_arcsec)
    np.testing.assert_allclose(np.hypot(light.x_arcsec, light.y_arcsec), HST_TNFW.einstein_radius_arcsec)
    np.testing.assert_allclose(heavy.mass_msun / light.mass_msun, 100.0)  # the same quantile of each bin
    assert np.all((light.mass_msun >= 1e8) & (light.mass_msun <= 2e8))
    without = render_twins(HST_TNFW, seeds, with_subhalo=False)
    expected, _ = LensRenderer(HST_TNFW).simulate("no_sub", seeds[2])
    np.testing.assert_array_equal(without.images[2], expected)
    assert np.all(without.mass_msun == 0) and np.isnan(without.x_arcsec).all()
    with pytest.raises(ValueError, match="one subhalo"):
        render_twins(HST_TNFW, seeds, with_subhalo=True)


def test_twin_seeds_are_never_dataset_seeds():
    twins = set(twin_seeds(0, 200))
    dataset = {image_seed(0, c, i, paired=p) for c in ("no_sub", "sub", "axion") for i in range(200) for p in (False, True)}
    assert len(twins) == 200 and not twins & dataset
    assert twin_seeds(0, 3) == twin_seeds(0, 5)[:3] and twin_seeds(1, 3) != twin_seeds(0, 3)


# ---------------------------------------------------------------------------- the curve from scores


def test_auc_per_bin_is_computed_from_the_scores():
    rng = np.random.default_rng(0)
    without = rng.normal(size=300)
    shifts = [0.0, 1.0, 3.0, 100.0]
    with_subhalo = np.array([without + shift + rng.normal(size=300) for shift in shifts])
    edges = [1e7, 1e8, 1e9, 1e10, 1e11]
    curve = sensitivity_curve(without, with_subhalo, edges, n_bootstrap=200)
    labels = np.r_[np.zeros(300), np.ones(300)]
    for row, scores in zip(curve["bins"], with_subhalo):
        assert row["auc"] == pytest.approx(roc_auc_score(labels, np.r_[without, scores]))
        assert row["auc_ci95"][0] <= row["auc"] <= row["auc_ci95"][1]
        assert row["tpr_at_fpr_0.1"] >= row["tpr_at_fpr_0.01"]
        assert row["n_pairs"] == 300
    last = curve["bins"][-1]
    assert last["auc"] == 1.0 and last["tpr_at_fpr_0.01"] == 1.0 and last["auc_ci95"] == pytest.approx([1.0, 1.0])
    assert [row["mass_low_msun"] for row in curve["bins"]] == edges[:-1]
    assert curve["bins"][1]["mass_centre_msun"] == pytest.approx(10**8.5)
    aucs = [row["auc"] for row in curve["bins"]]
    assert aucs[1] < 0.9 <= aucs[2]
    expected = 8.5 + (0.9 - aucs[1]) / (aucs[2] - aucs[1])
    assert math.log10(curve["mass_at_auc_0.9_msun"]) == pytest.approx(expected)
    low, high = curve["mass_at_auc_0.9_range68_msun"]
    assert low <= curve["mass_at_auc_0.9_msun"] <= high


def test_mass_at_auc_takes_the_last_rise_through_the_target():
    centres = np.array([1e8, 1e9, 1e10, 1e11])
    assert log_mass_at_auc(centres, np.array([0.5, 0.8, 1.0, 1.0])) == pytest.approx(9.5)
    # A dip below 0.9 after a first crossing: the mass above which every bin reaches it.
    assert log_mass_at_auc(centres, np.array([0.5, 0.95, 0.85, 0.95])) == pytest.approx(10.5)
    assert log_mass_at_auc(centres, np.array([0.95, 0.97, 0.99, 1.0])) == -math.inf
    assert log_mass_at_auc(centres, np.array([0.5, 0.6, 0.7, 0.8])) == math.inf


def test_constant_scores_give_chance_in_every_bin():
    curve = sensitivity_curve(np.full(50, 0.3), np.full((3, 50), 0.3), FEW_MASSES + [1e11], n_bootstrap=50)
    for row in curve["bins"]:
        assert row["auc"] == 0.5 and row["auc_ci95"] == [0.5, 0.5]
        assert row["tpr_at_fpr_0.1"] == pytest.approx(0.1) and row["tpr_at_fpr_0.01"] == pytest.approx(0.01)
    assert curve["mass_at_auc_0.9_msun"] is None and curve["mass_at_auc_0.9_range68_msun"] == [None, None]
    assert "never reached" in curve["mass_at_auc_0.9_note"]


def test_auc_by_largest_subhalo_mass():
    masses = np.r_[np.zeros(4), 2e8, 3e8, 5e9, 6e9, 0.0]  # the last: substructure without subhalos (a vortex)
    labels = np.r_[np.zeros(4), np.ones(5)].astype(int)
    scores = np.r_[0.1, 0.2, 0.3, 0.4, 0.15, 0.25, 0.9, 0.8, 0.5]
    rows = auc_by_mass(masses, labels, scores, n_bootstrap=20)
    assert [(r["mass_low_msun"], r["n_substructure"], r["n_none"]) for r in rows] == [
        (pytest.approx(1e8), 2, 4), (pytest.approx(10**9.5), 2, 4)]
    assert rows[0]["auc"] == pytest.approx(roc_auc_score([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.15, 0.25]))
    assert rows[1]["auc"] == 1.0


# ---------------------------------------------------------------------------- the command


def test_a_model_that_ignores_its_input_scores_chance(tmp_path):
    weights = tiny_model(tmp_path / "constant.safetensors", constant=True)
    out, report = sensitivity(weights, preset="hst-like", mass_edges_msun=FEW_MASSES, n_per_bin=12, n_bootstrap=20,
                              out=tmp_path / "report")
    assert [row["auc"] for row in report["bins"]] == [0.5, 0.5]
    assert report["mass_at_auc_0.9_msun"] is None
    written = json.loads((out / "sensitivity.json").read_text())
    for key in ("mass_low_msun", "mass_high_msun", "auc", "auc_ci95", "tpr_at_fpr_0.1", "tpr_at_fpr_0.01"):
        assert key in written["bins"][0]
    assert "mass_at_auc_0.9_msun" in written and written["observation"]["preset"] == "hst-like"
    assert "Duffy" in written["subhalo"]["concentration"] and written["subhalo"]["placement"].startswith("ring")
    assert written["observation"]["simulation"]["subhalo_profile"] == "tnfw"
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == 2 * 12 and {float(r["score_with"]) for r in rows} == {0.5}
    assert (out / "sensitivity.png").stat().st_size > 0


def test_preset_defaults_to_the_training_simulation(tmp_path):
    data = simulate_dataset(tmp_path / "data", 1, TINY.replace(lens_light=True), progress=False)
    run = tmp_path / "run"
    run.mkdir()
    RunRecord(TrainConfig(data=str(data)), ["no_sub", "sub"], {}, GREY, 1, {}).write(run)
    tiny_model(run / "model.safetensors")
    out, report = sensitivity(run, mass_edges_msun=FEW_MASSES, n_per_bin=4, n_bootstrap=5, profile="point")
    assert out.parent == run and out.name.startswith("sensitivity")
    simulation = report["observation"]["simulation"]
    assert simulation["num_pix"] == 32 and simulation["lens_light"] and simulation["subhalo_profile"] == "point_mass"
    assert report["observation"]["trained_on"] == str(data / "simulation.json")
    assert report["bins"][0]["nfw_concentration_at_centre"] is None
    _, report = sensitivity(run, preset="euclid-like", mass_edges_msun=FEW_MASSES, n_per_bin=4, n_bootstrap=5,
                            concentration="30", out=tmp_path / "euclid")
    assert report["observation"]["simulation"]["pixel_scale_arcsec"] == 0.101
    assert report["bins"][0]["nfw_concentration_at_centre"] == 30.0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"preset": "model-ix"}, "unknown simulation preset"),
        ({"mass_edges_msun": [1e10, 1e9]}, "increasing"),
        ({"mass_edges_msun": [1e9]}, "at least two"),
        ({"mass_edges_msun": [0, 1e9]}, "positive"),
        ({"n_per_bin": 1}, "at least 2"),
        ({"profile": "sis"}, "subhalo profile"),
        ({"placement": "disc"}, "subhalo placement"),
        ({"concentration": "-3"}, "concentration"),
        ({"preset": None}, "--preset"),
    ],
)
def test_bad_input_raises_input_error(tmp_path, options, message):
    weights = tiny_model(tmp_path / "model.safetensors")
    with pytest.raises(InputError, match=message):
        sensitivity(weights, **{"preset": "hst-like", **options})


def test_command_line(tmp_path, capsys):
    weights = tiny_model(tmp_path / "model.safetensors")
    assert main(["sensitivity", str(weights), "--preset", "hst-like", "--masses", "1e9", "1e10", "--per-mass", "5",
                 "--bootstrap", "10", "--profile", "nfw", "--placement", "annulus", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "mass at AUC 0.9" in printed and "report:" in printed
    report = json.loads((tmp_path / "r" / "sensitivity.json").read_text())
    assert report["subhalo"]["placement"].startswith("annulus") and "untruncated" in report["subhalo"]["profile"]
    assert main(["sensitivity", str(weights), "--preset", "hst-like", "--masses", "1e10", "1e9"]) == 2
    assert "increasing" in capsys.readouterr().err
    help_text = subprocess.run([sys.executable, "-m", "equilens.cli", "sensitivity", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--per-mass" in help_text.stdout


def test_evaluate_reports_auc_by_subhalo_mass(tmp_path):
    data = simulate_dataset(tmp_path / "data", 6, one_subhalo(TINY, 1e8, 1e10), progress=False)
    weights = tiny_model(tmp_path / "model.safetensors")
    _, metrics = evaluate(weights, data=data, out=tmp_path / "report", n_bootstrap=10, invariance_images=0)
    rows = metrics["auc_by_mass"]
    assert sum(r["n_substructure"] for r in rows) == 6 and all(r["n_none"] == 6 for r in rows)
    assert (tmp_path / "report" / "auc_by_mass.png").is_file()
    (data / "metadata.csv").write_text("file,subhalo_mass_max_msun\nsub/image_000000.npy,1e9\n")  # not every file
    _, metrics = evaluate(weights, data=data, out=tmp_path / "report2", n_bootstrap=10, invariance_images=0)
    assert "auc_by_mass" not in metrics
