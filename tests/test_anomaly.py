"""The anomaly task: invariant autoencoder scores, no_sub-only training, a working detector."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from equilens.config import TrainConfig
from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.datasets.split import read_split
from equilens.errors import InputError
from equilens.models import build_model, substructure_score
from equilens.testing import assert_equivariant, assert_invariant
from equilens.tasks.lightning.anomaly import AnomalyModule
from equilens.training import train
from equilens.weights import load_model, save_weights

from toy import write_toy_dataset  # tests/ is on sys.path under pytest's default import mode

SMALL = {"widths": [2, 4, 4], "latent": 2}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A steerable autoencoder trained briefly on 33 px toy rings (run folder, data folder)."""
    root = tmp_path_factory.mktemp("anomaly")
    data = write_toy_dataset(root / "toy", n_per_class=200, size=33, seed=1)
    config = TrainConfig(
        data=str(data), task="anomaly", architecture="steerable", group="D4", input_size=33,
        widths=[4, 8, 8], epochs=12, batch_size=16, min_images_per_epoch=0, lr=3e-3, crop_fraction=None, seed=0,
    )
    return train(config, root / "runs"), data


def _split(run_dir, data, part):
    folder = scan_lens_folder(data)
    return folder.with_files(read_split(run_dir / "splits" / f"{part}.txt", folder.root))


@pytest.mark.parametrize("group", ["D4", "C4"])
@pytest.mark.parametrize("size", [33, 75, 64])
def test_score_invariant_under_exact_actions(group, size):
    torch.manual_seed(0)
    config = {"architecture": "steerable_autoencoder", "group": group, "input_size": size, "crop_fraction": 0.9}
    model = build_model({**config, **SMALL}).eval()
    images = torch.rand(3, 1, 40, 40)
    assert_invariant(model.anomaly_score, images, group)
    # The reconstruction itself is equivariant: the score's invariance is not luck.
    assert_equivariant(model, images, group)


@pytest.mark.parametrize("architecture", ["steerable_autoencoder", "cnn_autoencoder"])
def test_reconstruction_shapes(architecture):
    model = build_model({"architecture": architecture, "input_size": 33, **SMALL}).eval()
    images = torch.rand(2, 1, 50, 50)
    with torch.no_grad():
        assert model(images).shape == (2, 1, 33, 33)
        assert substructure_score(model, images).shape == (2,)


def test_anomaly_config_builds_autoencoders():
    for architecture, expected in [("steerable", "steerable_autoencoder"), ("cnn", "cnn_autoencoder")]:
        config = TrainConfig(data="x", task="anomaly", architecture=architecture).model_config(2)
        assert config["architecture"] == expected
        assert build_model(config).task == "anomaly"


def test_training_split_is_no_sub_only(trained_run):
    run_dir, data = trained_run
    train_files = (run_dir / "splits" / "train.txt").read_text().split()
    assert train_files and all(name.startswith("no_sub/") for name in train_files)
    record = json.loads((run_dir / "config.json").read_text())
    assert record["model"]["architecture"] == "steerable_autoencoder"
    # Validation holds both classes, so its AUC means something.
    assert set(_split(run_dir, data, "val").labels.tolist()) == {0, 1}


def test_module_refuses_a_substructure_training_batch():
    config = TrainConfig(data="", task="anomaly")
    module = AnomalyModule(model={"architecture": "cnn_autoencoder", "input_size": 33, **SMALL}, classes=["no_sub", "sub"],
                              **config.optimizer_options(), augment=config.augment_config())
    images = torch.rand(4, 1, 33, 33)
    module.training_step((images, torch.zeros(4, dtype=torch.long)), 0)
    with pytest.raises(InputError, match="not 'no_sub'"):
        module.training_step((images, torch.tensor([0, 0, 1, 0])), 0)


def test_trained_detector_beats_chance_on_test_split(trained_run):
    run_dir, data = trained_run
    model, info = load_model(run_dir)
    assert info["task"] == "anomaly"
    test = _split(run_dir, data, "test")
    with torch.no_grad():
        scores = substructure_score(model, load_images(test.files))
    auc = binary_auroc(scores, torch.as_tensor(test.labels > 0).long()).item()
    assert auc > 0.7, auc


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_weights_round_trip_gives_identical_scores(tmp_path, mode):
    torch.manual_seed(0)
    config = {"architecture": "steerable_autoencoder", "group": "D4", "input_size": 33, **SMALL}
    model = build_model(config)
    # Give the batch norms non-default running statistics, so that they are checked too.
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 1, 33, 33))
    model.train(mode == "train")
    path = save_weights(model, tmp_path / "model.safetensors", {"model": config, "task": "anomaly"})
    loaded, _ = load_model(path)  # strict
    images = torch.rand(5, 1, 40, 40)
    with torch.no_grad():
        assert torch.equal(loaded.anomaly_score(images), model.eval().anomaly_score(images))


def test_evaluation_gallery_of_anomaly_scores(trained_run):
    from equilens.evaluation import evaluate

    run_dir, _ = trained_run
    out, metrics = evaluate(run_dir, n_bootstrap=10, invariance_images=0)
    assert metrics["threshold_rule"].startswith("Youden") and (out / "gallery.png").stat().st_size > 0


def test_conformal_p_values_count_calibration_scores_at_least_as_high():
    from equilens.evaluation.calibration import conformal_p_values

    calibration = [3.0, 1.0, 2.0, 2.0]  # any order
    p = conformal_p_values(calibration, np.array([0.5, 1.0, 2.0, 2.5, 9.0]))
    np.testing.assert_allclose(p, np.array([5, 5, 4, 2, 1]) / 5)


@pytest.mark.parametrize("shape", ["normal", "heavy tailed"])
def test_false_alarm_rate_is_nominal_by_construction(shape):
    """Normal lenses held out from calibration are flagged at about the nominal rate, whatever
    the scores' distribution: the p-values are ranks among exchangeable normal scores."""
    from equilens.evaluation.calibration import calibration_record, conformal_p_values, false_alarm_table

    rng = np.random.default_rng(0)
    draw = (lambda n: rng.normal(size=n)) if shape == "normal" else (lambda n: rng.standard_cauchy(n) ** 2)
    record = calibration_record(draw(400), "toy")
    assert record["scores"] == sorted(record["scores"]) and record["n"] == 400
    normal, anomalous = draw(20_000), draw(2_000) + 1e4
    p_values = conformal_p_values(record["scores"], np.r_[normal, anomalous])
    labels = np.r_[np.zeros(len(normal), int), np.ones(len(anomalous), int)]
    for row in false_alarm_table(p_values, labels, rates=(0.01, 0.05, 0.10)):
        # Over calibration sets, the rate has mean floor(alpha (n + 1)) / (n + 1) <= alpha and a
        # spread of about sqrt(alpha / n) around it: a 1-in-many-thousands miss is 4 of those.
        assert abs(row["false_alarm_rate"] - row["nominal"]) < 4 * np.sqrt(row["nominal"] / 400) + 1 / 401
        assert row["false_alarm_rate_ci95"][0] <= row["false_alarm_rate"] <= row["false_alarm_rate_ci95"][1]
        assert row["true_positive_rate"] > row["false_alarm_rate"]


def test_run_stores_calibration_of_validation_no_sub_images(trained_run):
    from equilens.evaluation.calibration import conformal_p_values
    from equilens.predict import predict

    run_dir, data = trained_run
    model, info = load_model(run_dir)
    val = _split(run_dir, data, "val")
    normal = [f for f, label in zip(val.files, val.labels) if label == 0]
    calibration = info["calibration"]
    # Only normal lenses calibrate: no substructure image enters the p-values.
    assert calibration["n"] == len(normal) == len(calibration["scores"]) and "validation 'no_sub'" in calibration["source"]
    with torch.no_grad():
        expected = np.sort(model.anomaly_score(load_images(normal)).numpy())
    np.testing.assert_allclose(calibration["scores"], expected, rtol=1e-4, atol=1e-7)
    assert json.loads((run_dir / "model.json").read_text())["calibration"] == calibration

    test = _split(run_dir, data, "test")
    out, _ = predict(run_dir, list(test.files), run_dir.parent / "predictions.csv")
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(test.files) and set(rows[0]) == {"path", "anomaly_score", "p_value"}
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    p_values = np.array([float(r["p_value"]) for r in rows])
    # The CSV's scores are rounded to 6 digits: one that lands on a calibration score may move one rank.
    recomputed = conformal_p_values(calibration["scores"], scores)
    assert np.abs(p_values - recomputed).max() <= 1 / (len(normal) + 1) + 1e-6
    assert np.mean(np.abs(p_values - recomputed) < 1e-5) > 0.95
    assert p_values.min() >= 1 / (len(normal) + 1) - 1e-6 and p_values.max() <= 1
    # The Python API gives the same p-values.
    import equilens

    api_p_values = equilens.load(run_dir, device="cpu").p_values(load_images(list(test.files)))
    assert np.abs(api_p_values - p_values).max() <= 1 / (len(normal) + 1) + 1e-6


def test_model_without_calibration_predicts_without_p_values(trained_run, tmp_path, caplog):
    """A model exported before calibrations were stored still loads and predicts, saying why once."""
    from equilens.predict import predict

    run_dir, data = trained_run
    model, info = load_model(run_dir)
    old = save_weights(model, tmp_path / "old.safetensors", {k: v for k, v in info.items() if k != "calibration"})
    with caplog.at_level(logging.WARNING, logger="equilens"):
        out, _ = predict(old, [data / "no_sub"], tmp_path / "old.csv")
    assert out.read_text().splitlines()[0] == "path,anomaly_score"
    assert caplog.text.count("no false-alarm calibration stored") == 1


def test_best_selected_weights_get_no_calibration(trained_run):
    from types import SimpleNamespace

    from equilens.datasets.formats import GREY
    from equilens.tasks import get_task

    run_dir, data = trained_run
    module = SimpleNamespace(model=load_model(run_dir)[0])
    anomaly = get_task("anomaly")
    assert anomaly.calibration(module, _split(run_dir, data, "val"), None, "best", GREY, 1) == {}
    assert anomaly.calibration(module, _split(run_dir, data, "val"), None, "last", GREY, 1)["calibration"]["n"] > 0


def test_evaluation_reports_false_alarm_calibration(trained_run):
    from equilens.evaluation import evaluate

    run_dir, _ = trained_run
    out, metrics = evaluate(run_dir, n_bootstrap=10, invariance_images=0)
    assert (out / "false_alarm_calibration.png").stat().st_size > 0
    written = json.loads((out / "metrics.json").read_text())
    rates = written["false_alarm_calibration"]["rates"]
    assert [row["nominal"] for row in rates] == [0.01, 0.05, 0.1]
    assert all(0 <= row["false_alarm_rate"] <= 1 and 0 <= row["true_positive_rate"] <= 1 for row in rates)
    assert written["false_alarm_calibration"]["calibration"]["n"] > 0
    assert set(written["substructure_vs_none"]["tpr_at_fpr"]) == {"0.01", "0.05", "0.1"}
