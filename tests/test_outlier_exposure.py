"""Outlier exposure (--task anomaly --outliers SIM): trained on real no_sub and simulated images only."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from equilens.config import TrainConfig
from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.datasets.split import read_split
from equilens.errors import InputError
from equilens.models import build_model
from equilens.testing import assert_invariant
from equilens.training import lightning_modules, train
from equilens.weights import load_model

from toy import write_toy_dataset  # tests/ is on sys.path under pytest's default import mode


def _config(data, outliers, **options) -> TrainConfig:
    return TrainConfig(data=str(data), task="anomaly", outliers=str(outliers), input_size=33, widths=[2, 4, 8],
                       epochs=4, batch_size=32, min_images_per_epoch=0, accelerator="cpu", seed=0, **options)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A 'real' toy folder and a 'simulated' one (other seed): rings, and rings with a clump."""
    root = tmp_path_factory.mktemp("oe")
    return (write_toy_dataset(root / "real", n_per_class=100, size=33, seed=3),
            write_toy_dataset(root / "sim", n_per_class=100, size=33, seed=4))


@pytest.fixture(scope="module")
def trained_run(folders, tmp_path_factory):
    real, sim = folders
    return train(_config(real, sim), tmp_path_factory.mktemp("runs"))


def test_outlier_exposure_takes_the_classifier_recipe_and_model():
    config = TrainConfig(data="d", task="anomaly", outliers="sim").validate()
    default = TrainConfig(data="d", task="anomaly")
    assert (config.epochs, config.lr, config.rotate) == (TrainConfig(data="d").epochs, TrainConfig(data="d").lr, True)
    assert config.init_weights is None and default.outliers is None  # never the default
    model = config.model_config(2)
    assert model["architecture"] == "outlier_exposure" and model["classifier"]["num_classes"] == 2
    assert default.model_config(2)["architecture"] == "steerable_autoencoder"
    with pytest.raises(InputError, match="--outliers is for --task anomaly"):
        TrainConfig(data="d", outliers="sim").validate()


@pytest.mark.parametrize("group", ["D4", "C8"])
def test_score_invariant_under_exact_actions(group):
    torch.manual_seed(0)
    classifier = TrainConfig(data="d", group=group, input_size=33).model_config(2)
    model = build_model({"architecture": "outlier_exposure", "classifier": classifier}).eval()
    images = torch.rand(3, 1, 40, 40)
    assert_invariant(model.anomaly_score, images, group)
    assert_invariant(model.export().anomaly_score, images, group)


def test_no_real_substructure_image_is_trained_on(trained_run, folders):
    real, sim = folders
    config = TrainConfig.from_dict(json.loads((trained_run / "config.json").read_text())["train"])
    _, datamodule = lightning_modules(config)
    training = datamodule.splits["train"]
    real_sub = {str(p.resolve()) for p in (real / "sub").iterdir()}
    assert not real_sub & {str(p.resolve()) for p in training.files}
    real_files = [p for p in training.files if real in p.parents]
    sim_files = [p for p in training.files if sim in p.parents]
    assert real_files and all(p.parent.name == "no_sub" for p in real_files)
    assert len(sim_files) == 200  # every simulated image, labelled by its class
    labels = dict(zip(training.files, training.labels))
    assert all(labels[p] == (p.parent.name == "sub") for p in sim_files) and all(labels[p] == 0 for p in real_files)
    # The run's written training split is the real no_sub images only, as for the autoencoder.
    written = read_split(trained_run / "splits" / "train.txt", real)
    assert written and all(p.parent.name == "no_sub" for p in written)


def test_detector_scores_real_substructure_above_chance_with_p_values(trained_run, folders, tmp_path):
    from equilens.predict import predict

    real, _ = folders
    model, info = load_model(trained_run)
    assert info["task"] == "anomaly" and info["model"]["architecture"] == "outlier_exposure" and "calibration" in info
    folder = scan_lens_folder(real)
    test = folder.with_files(read_split(trained_run / "splits" / "test.txt", real))
    with torch.no_grad():
        scores = model.eval().anomaly_score(load_images(list(test.files)))
    assert binary_auroc(scores, torch.as_tensor(test.labels > 0).long()) > 0.8
    out, _ = predict(trained_run, list(test.files), tmp_path / "flags.csv")
    with open(out, newline="") as handle:
        assert set(next(csv.DictReader(handle))) == {"path", "anomaly_score", "p_value"}


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_outliers_overlapping_the_data_folder_are_refused(tmp_path, where):
    real = write_toy_dataset(tmp_path / "survey" / "data", n_per_class=5, size=33)
    outliers = {"same": real, "inside": real / "no_sub", "around": tmp_path / "survey"}[where]
    if where == "inside":  # a simulated folder kept inside the data folder
        outliers = write_toy_dataset(real / "no_sub" / "sim", n_per_class=5, size=33, seed=9)
    with pytest.raises(InputError, match="apart from the data folder"):
        train(_config(real, outliers), tmp_path / "runs")


def test_outliers_without_substructure_are_refused(folders, tmp_path):
    real, _ = folders
    plain = write_toy_dataset(tmp_path / "plain", n_per_class=5, size=33, classes=("no_sub",))
    with pytest.raises(InputError, match="no folder of images beside the negative class"):
        train(_config(real, plain), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_data_with_several_substructure_classes_trains(folders, tmp_path):
    """Real data of three classes (no_sub, cdm, axion): validation scores substructure against none."""
    _, sim = folders
    three = write_toy_dataset(tmp_path / "three", n_per_class=40, size=33, classes=("no_sub", "cdm", "axion"))
    run = train(_config(three, sim), tmp_path / "runs")
    model, info = load_model(run)
    assert info["classes"][0] == "no_sub" and set(info["classes"]) == {"no_sub", "cdm", "axion"} and model.task == "anomaly"
