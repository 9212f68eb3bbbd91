"""Regression (a Gaussian mean and sigma per image, e.g. the axion mass) and the three-class model:
exact invariance, learning by the Gaussian NLL, targets from metadata.csv and from DeepLense's
pickled axion files, and bad targets refused naming the file."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import equilens
from equilens.cli import main
from equilens.config import TrainConfig
from equilens.datasets.folder import check_images, scan_lens_folder
from equilens.datasets.targets import read_targets
from equilens.errors import InputError
from equilens.evaluation import evaluate
from equilens.evaluation.metrics import regression_metrics
from equilens.models import build_model
from equilens.regression import ONE_SIGMA_COVERAGE, sigma_scale, to_user_units
from equilens.simulation import PRESETS, simulate_dataset
from equilens.testing import assert_invariant
from equilens.training import train
from test_layouts import TINY_RUN, write_model_ii

SIZE = 21


def _images(n: int = 4, size: int = SIZE) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))


def test_regression_and_three_class_models_are_invariant():
    regression = TrainConfig(data="", task="regress", target="t", input_size=17, widths=[2, 4])
    three_class = TrainConfig(data="", input_size=17, widths=[2, 4])
    record = {"mean": -23.0, "std": 0.5}
    for config, classes in ((regression, 1), (three_class, 3)):
        model = build_model(config.model_config(classes)).eval()
        outputs = 2 if config.task == "regress" else 3
        assert model(_images()).shape == (4, outputs)
        changes = assert_invariant(model, _images(), "D4", atol=1e-4)
        assert len(changes) == 7
    # The mean and sigma in the target's units too (the sigma goes through an exponential).
    model = build_model(regression.model_config(1)).eval()
    assert_invariant(lambda x: torch.stack(to_user_units(model(x), record), 1), _images(), "D4", atol=1e-4)


def _write_rings(root: Path, n: int, seed: int = 0) -> Path:
    """``root/ring/*.npy``: a ring whose radius (pixels) is the target, in ``metadata.csv`` column ``radius``."""
    rng = np.random.default_rng(seed)
    (root / "ring").mkdir(parents=True)
    y, x = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    rows = [("file", "radius")]
    for i in range(n):
        radius = rng.uniform(2.5, 8.5)
        image = np.exp(-0.5 * ((np.hypot(x, y) - radius) / 0.8) ** 2) + rng.normal(0, 0.02, x.shape)
        np.save(root / "ring" / f"ring_{i:03d}.npy", ((image - image.min()) / np.ptp(image)).astype(np.float32))
        rows.append((f"ring/ring_{i:03d}.npy", f"{radius:.6f}"))
    with open(root / "metadata.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return root


def test_nll_training_learns_a_separable_target(tmp_path):
    data = _write_rings(tmp_path / "rings", 160)
    config = TrainConfig(data=str(data), task="regress", target="radius", classes=["ring"], input_size=17, widths=[4, 8],
                         epochs=25, min_images_per_epoch=0, max_time=None, accelerator="cpu", crop_fraction=None, brightness=None,
                         val_fraction=0.15,
                         test_fraction=0.2)
    run = train(config, runs_dir=tmp_path / "runs")
    info = json.loads((run / "model.json").read_text())
    assert info["task"] == "regress" and info["model"]["num_classes"] == 2
    assert info["regression"]["target"] == "radius" and 2.5 < info["regression"]["mean"] < 8.5
    # Its sigma was calibrated on the run's validation images, and says so.
    assert info["regression"]["sigma_scale"] > 0 and "validation" in info["regression"]["sigma_calibration"]
    _, metrics = evaluate(run, out=tmp_path / "report", n_bootstrap=50)
    assert metrics["mae"] < 0.4 * metrics["mae_of_predicting_the_mean"], metrics
    assert metrics["invariance"]["rot90_max_abs_change"] < 1e-4
    assert metrics["training"] == {"epochs_completed": 25, "epochs_planned": 25, "stopped_by": "epochs", "max_time": None}
    for name in ("metrics.json", "predictions.csv", "predicted_vs_true.png", "interval_calibration.png", "training_curves.png"):
        assert (tmp_path / "report" / name).is_file(), name
    assert set(metrics["interval_coverage"]) == {"0.68", "0.95"} and len(metrics["calibration"]["empirical"]) == 19
    assert metrics["sigma_calibration"] == info["regression"]["sigma_calibration"]


def test_sigma_scale_is_a_split_conformal_one_sigma_interval():
    rng = np.random.default_rng(0)
    # Sigmas twice too narrow: the factor is about 2, and scaled intervals cover 68.27% of new draws.
    spread = rng.uniform(0.5, 2.0, 4000)
    truth = rng.normal(0.0, spread)
    scale = sigma_scale(truth[:2000], np.zeros(2000), spread[:2000] / 2)
    assert scale == pytest.approx(2.0, rel=0.05)
    covered = np.abs(truth[2000:]) <= scale * spread[2000:] / 2
    assert covered.mean() == pytest.approx(ONE_SIGMA_COVERAGE, abs=0.025)
    # The k-th smallest normalized residual, k = ceil((n + 1) x 0.6827); too few images: none.
    assert sigma_scale(np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4), np.ones(4)) == 4.0
    assert sigma_scale(np.arange(1.0, 11.0), np.zeros(10), np.ones(10)) == 8.0
    assert sigma_scale(np.array([1.0, 2.0]), np.zeros(2), np.ones(2)) is None
    # Stored with the run, the factor multiplies every sigma it reports; older runs store none.
    outputs = torch.tensor([[0.5, np.log(0.2)]])
    record = {"mean": -23.0, "std": 0.5}
    _, sigma = to_user_units(outputs, record)
    _, scaled = to_user_units(outputs, record | {"sigma_scale": 1.5})
    assert sigma.item() == pytest.approx(0.1) and scaled.item() == pytest.approx(0.15)


def test_model_ii_axion_masses_train_evaluate_and_predict(tmp_path, capsys):
    root = write_model_ii(tmp_path / "model-ii", n=12)
    runs = tmp_path / "runs"
    assert main(["train", "--data", str(root), "--task", "regress", "--target", "value", "--log-target", "--classes", "axion",
                 *TINY_RUN, "--runs-dir", str(runs), "--name", "mass", "--max-time", "none"]) == 0
    run = runs / "mass"
    info = json.loads((run / "model.json").read_text())
    train_files = [root / line for line in (run / "splits" / "train.txt").read_text().split()]
    expected = np.log10([float(np.load(f, allow_pickle=True)[1]) for f in train_files])  # our own files: safe to unpickle here
    assert info["regression"]["mean"] == pytest.approx(expected.mean()) and info["regression"]["log10"] is True
    assert info["classes"] == ["axion"]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(root), "--bootstrap", "20"]) == 0
    assert "MAE" in capsys.readouterr().out
    out = tmp_path / "masses.csv"
    assert main(["predict", str(run), str(root / "axion"), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and list(rows[0]) == ["path", "log10_value_mean", "log10_value_sigma"]
    assert all(-30 < float(r["log10_value_mean"]) < -15 and float(r["log10_value_sigma"]) > 0 for r in rows)
    # The Python API gives the same numbers, and refuses a substructure score.
    model = equilens.load(run, device="cpu")
    mean, sigma = model.predict_gaussian([np.load(Path(r["path"]), allow_pickle=True)[0] for r in rows])
    np.testing.assert_allclose(mean, [float(r["log10_value_mean"]) for r in rows], rtol=1e-5)
    np.testing.assert_allclose(sigma, [float(r["log10_value_sigma"]) for r in rows], rtol=1e-4)
    with pytest.raises(InputError, match="use predict_gaussian"):
        model.score(np.zeros((1, SIZE, SIZE), np.float32))


def test_simulated_axion_masses_are_a_metadata_target(tmp_path):
    tiny = PRESETS["test-iv"].replace(num_pix=32, pixel_scale_arcsec=0.1, n_subhalos=5, vortex_n_point_masses=10)
    out = simulate_dataset(tmp_path / "sim", 4, tiny, classes=("no_sub", "sub", "axion"), progress=False)
    axion = scan_lens_folder(out, classes=("axion",))
    log_mass = read_targets(out, axion.files, "axion_mass_log10_ev")
    mass = read_targets(out, axion.files, "axion_mass_ev", log10=True)
    np.testing.assert_allclose(log_mass, mass)
    assert np.all((log_mass >= -24) & (log_mass <= -22))
    no_sub = scan_lens_folder(out, classes=("no_sub",))
    with pytest.raises(InputError, match=r"no_sub/image_0+\.npy: target 'axion_mass_ev' = nan is not finite .*--classes axion"):
        read_targets(out, no_sub.files, "axion_mass_ev")


def test_bad_targets_are_refused_naming_the_file(tmp_path):
    data = _write_rings(tmp_path / "rings", 6)
    files = scan_lens_folder(data, classes=("ring",)).files
    with pytest.raises(InputError, match=r"metadata\.csv: no column 'mass' \(columns: file, radius\)"):
        read_targets(data, files, "mass")
    rows = (data / "metadata.csv").read_text().splitlines()
    (data / "metadata.csv").write_text("\n".join(rows[:4] + ["ring/ring_003.npy,inf"] + rows[5:]) + "\n")
    with pytest.raises(InputError, match=r"ring_003\.npy: target 'radius' = inf is not finite"):
        read_targets(data, files, "radius")
    (data / "metadata.csv").write_text("\n".join(rows[:1] + ["ring/ring_000.npy,-1"] + rows[2:]) + "\n")
    with pytest.raises(InputError, match=r"ring_000\.npy: target 'radius' = -1.0 must be positive for --log-target"):
        read_targets(data, files, "radius", log10=True)
    (data / "metadata.csv").write_text("\n".join(rows[:6]) + "\n")
    with pytest.raises(InputError, match=r"ring_005\.npy: has no row in .*metadata\.csv"):
        read_targets(data, files, "radius")
    (data / "metadata.csv").unlink()
    with pytest.raises(InputError, match=r"metadata\.csv: no such file"):
        read_targets(data, files, "radius")
    model_ii = write_model_ii(tmp_path / "model-ii", n=3)
    no_sub = scan_lens_folder(model_ii, classes=("no_sub",)).files
    with pytest.raises(InputError, match=r"no_sub_sim_0\.npy: holds no number beside its image"):
        read_targets(model_ii, no_sub, "value", infos=check_images(no_sub))


def test_regression_options_are_checked(tmp_path, capsys):
    with pytest.raises(InputError, match="--task regress needs --target"):
        TrainConfig(data="", task="regress").validate()
    with pytest.raises(InputError, match="--target and --log-target are for --task regress"):
        TrainConfig(data="", target="value").validate()
    # A folder whose no_sub files hold no mass: refused before any run folder is made, naming the file.
    root = write_model_ii(tmp_path / "model-ii", n=3)
    assert main(["train", "--data", str(root), "--task", "regress", "--target", "value", *TINY_RUN,
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    assert re.search(r"no_sub_sim_\d\.npy: holds no number beside its image .*--classes axion", capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


def test_errors_and_coverage_by_true_value_partition_the_images():
    """Per-bin figures (where over the prior a model resolves the target) cover every image once
    and agree with the whole set's."""
    rng = np.random.default_rng(0)
    truth = rng.uniform(-24, -22, 500)
    # Resolved below -23, the prior's middle above: the upper bins' errors are larger.
    mean = np.where(truth < -23, truth + rng.normal(0, 0.05, 500), -22.5)
    metrics = regression_metrics(truth, mean, np.full(500, 0.3), n_bootstrap=10, truth_bins=4)
    bins = metrics["by_true_value"]
    assert [b["low"] for b in bins][0] == truth.min() and bins[-1]["high"] == truth.max()
    assert sum(b["n"] for b in bins) == 500
    assert np.isclose(sum(b["n"] * b["mae"] for b in bins) / 500, metrics["mae"])
    assert bins[0]["mae"] < 0.1 < bins[-1]["mae"] and set(bins[0]["coverage"]) == {"0.68", "0.95"}
