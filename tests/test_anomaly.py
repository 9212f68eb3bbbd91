"""The anomaly task: invariant autoencoder scores, no_sub-only training, a working detector."""

from __future__ import annotations

import json

import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from equilens.config import TrainConfig
from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.datasets.split import read_split
from equilens.errors import InputError
from equilens.models import build_model, substructure_score
from equilens.testing import assert_equivariant, assert_invariant
from equilens.trainers import TASKS
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
        widths=[4, 8, 8], epochs=12, batch_size=16, lr=3e-3, crop_fraction=None, seed=0,
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
    module = TASKS["anomaly"](model={"architecture": "cnn_autoencoder", "input_size": 33, **SMALL}, classes=["no_sub", "sub"],
                              **TrainConfig(data="", task="anomaly").optimizer_options())
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
