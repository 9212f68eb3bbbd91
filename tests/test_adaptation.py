"""Learning from unlabelled images (--unlabelled), class priors under label shift, calibration reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.special import softmax

from equilens.config import TrainConfig
from equilens.datasets.formats import GREY
from equilens.datasets.unlabelled import scan_unlabelled
from equilens.errors import InputError
from equilens.evaluation.reliability import reliability
from equilens.prior_shift import adjust_posteriors, estimate_prior, fit_temperature, prior_interval

from toy import write_toy_dataset  # tests/ is on sys.path under pytest's default import mode


def _posteriors(rng: np.random.Generator, n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact posteriors under equal priors of a known model: x ~ N(0, 1) (class 0) or N(2, 1) (class 1);
    ``fraction`` of the n images are class 1."""
    labels = (rng.random(n) < fraction).astype(int)
    x = rng.normal(2.0 * labels, 1.0)
    logit = 2.0 * x - 2.0  # log N(x; 2, 1) - log N(x; 0, 1)
    return softmax(np.stack([np.zeros(n), logit], axis=1), axis=1), labels


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_em_recovers_a_known_class_mix(fraction):
    probabilities, labels = _posteriors(np.random.default_rng(0), 20_000, fraction)
    estimated = estimate_prior(probabilities, np.array([0.5, 0.5]))
    assert abs(estimated[1] - labels.mean()) < 0.02
    low, high = prior_interval(probabilities[:2000], np.array([0.5, 0.5]), replicates=50)
    assert low[1] < estimate_prior(probabilities[:2000], np.array([0.5, 0.5]))[1] < high[1]


def test_correcting_to_the_true_mix_raises_accuracy_at_one_half():
    probabilities, labels = _posteriors(np.random.default_rng(1), 20_000, 0.1)
    corrected = adjust_posteriors(probabilities, np.array([0.5, 0.5]), estimate_prior(probabilities, np.array([0.5, 0.5])))
    assert np.allclose(corrected.sum(axis=1), 1.0)
    assert ((corrected[:, 1] > 0.5) == labels).mean() > ((probabilities[:, 1] > 0.5) == labels).mean() + 0.02


def test_temperature_undoes_overconfidence_and_reliability_sees_it():
    rng = np.random.default_rng(2)
    probabilities, labels = _posteriors(rng, 20_000, 0.5)
    logits = np.log(probabilities)
    assert abs(fit_temperature(3.0 * logits, labels) - 3.0) < 0.15
    calibrated, overconfident = reliability(probabilities, labels), reliability(softmax(3.0 * logits, axis=1), labels)
    assert calibrated["ece"] < 0.02 < 0.05 < overconfident["ece"]
    assert sum(calibrated["count"]) == len(labels) and len(calibrated["confidence"]) <= calibrated["bins"]


def test_unlabelled_folder_never_reads_classes(tmp_path):
    labelled = write_toy_dataset(tmp_path / "labelled", n_per_class=3, size=16)
    with pytest.raises(InputError, match="sub-folders hold images .*no_sub.*never reads"):
        scan_unlabelled(labelled, GREY)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, f in enumerate(sorted(labelled.rglob("*.npy"))):
        (flat / f"u{i}.npy").symlink_to(f)
    folder = scan_unlabelled(flat, GREY)
    assert len(folder.files) == 6 and (folder.labels == -1).all()
    listing = tmp_path / "catalogue.txt"
    listing.write_text("# two cutouts\nflat/u0.npy\n\nflat/u1.npy  # the second\n")
    assert [f.name for f in scan_unlabelled(listing, GREY).files] == ["u0.npy", "u1.npy"]
    listing.write_text("flat/missing.npy\n")
    with pytest.raises(InputError, match=r"catalogue.txt, line 1: flat/missing.npy: no such file"):
        scan_unlabelled(listing, GREY)
    with pytest.raises(InputError, match="no images"):
        scan_unlabelled((tmp_path / "empty").mkdir() or tmp_path / "empty", GREY)


def test_unlabelled_is_for_classification():
    with pytest.raises(InputError, match="--unlabelled is for --task classify"):
        TrainConfig(data="d", task="anomaly", unlabelled="pool").validate()
    assert TrainConfig(data="d", unlabelled="pool").training_task.run_name == "classify-adapted"
    assert TrainConfig(data="d").training_task.run_name == "classify"


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    """A labelled toy folder and a flat unlabelled folder of other toy images (another seed)."""
    root = tmp_path_factory.mktemp("adapt")
    source = write_toy_dataset(root / "source", n_per_class=48, size=33, seed=4)
    target = write_toy_dataset(root / "target", n_per_class=32, size=33, seed=5)
    flat = root / "pool"
    flat.mkdir()
    for i, f in enumerate(sorted(target.rglob("*.npy"))):
        (flat / f"u{i:03d}.npy").symlink_to(f)
    return source, flat


@pytest.mark.parametrize("adaptation", ["self-training", "dann"])
def test_adapted_run_folds_its_calibration_and_stays_invariant(domains, adaptation, tmp_path):
    import equilens
    from equilens.datasets.folder import load_images
    from equilens.training import lightning_modules, train

    source, pool = domains
    config = TrainConfig(data=str(source), unlabelled=str(pool), adaptation=adaptation, input_size=33, widths=[2, 4, 8],
                         epochs=2, batch_size=16, min_images_per_epoch=0, accelerator="cpu", seed=0)
    run = train(config, tmp_path / "runs")
    info = json.loads((run / "model.json").read_text())
    adapted = info["adaptation"]
    assert adapted["method"] == adaptation and adapted["n_unlabelled"] == 64
    assert info["training_class_counts"] == [40, 40] and np.isclose(sum(adapted["estimated_prior"]), 1.0)
    model = equilens.load(run, precision="float32")
    assert np.allclose(model.class_prior, adapted["estimated_prior"])
    images = load_images(list(scan_unlabelled(pool, GREY).files))[:16]
    model.network.eval()
    torch.manual_seed(0)
    from equilens.weights import load_model

    network, _ = load_model(model.weights)
    network.eval().check_invariance(images, atol=1e-4)
    # The kept probabilities are the last checkpoint's, divided by the temperature and moved to the estimated mix.
    module, _ = lightning_modules(config)
    module.train()
    module.load_state_dict(torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"], strict=True)
    with torch.no_grad():
        raw = module.model.eval()(images).double().numpy()
    expected = softmax(raw / adapted["temperature"] + np.log(np.asarray(adapted["estimated_prior"]) / 0.5), axis=1)
    assert np.allclose(model.predict_proba(images), expected, atol=1e-4)


def test_training_batches_pair_labelled_and_unlabelled_images(domains):
    from equilens.training import lightning_modules

    source, pool = domains
    _, data = lightning_modules(TrainConfig(data=str(source), unlabelled=str(pool), input_size=33, batch_size=16,
                                            min_batches_per_epoch=0, min_images_per_epoch=0, accelerator="cpu"))
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert len(batches) == 5  # the labelled split's 80 images in batches of 16 (the 64 unlabelled ones: 4)
    for batch, _, _ in batches:
        (images, labels), (unlabelled, none) = batch["labelled"], batch["unlabelled"]
        assert images.shape == unlabelled.shape == (16, 1, 33, 33) and (none == -1).all() and set(labels.tolist()) <= {0, 1}
    # Ten labelled images beside the unlabelled ones: an epoch is a pass over those, in full batches of both.
    few = write_toy_dataset(source.parent / "few", n_per_class=6, size=33, seed=6)
    for min_images, batches in ((0, 4), (320, 20)):  # one pass over the unlabelled images, or the labelled epoch's passes
        _, data = lightning_modules(TrainConfig(data=str(few), unlabelled=str(pool), input_size=33, batch_size=16,
                                                min_images_per_epoch=min_images, accelerator="cpu"))
        data.setup("fit")
        sizes = [(len(b["labelled"][1]), len(b["unlabelled"][1])) for b, _, _ in data.train_dataloader()]
        assert sizes == [(16, 16)] * batches


def test_evaluate_reports_reliability_and_class_mix(toy_run, toy_data, tmp_path):
    from equilens.evaluation import evaluate

    out, metrics = evaluate(toy_run, data=toy_data, out=tmp_path / "eval", n_bootstrap=50)
    assert (out / "reliability.png").is_file() and 0 <= metrics["reliability"]["ece"] <= 1
    mix = metrics["class_mix"]
    assert mix["true"] == [0.5, 0.5] and mix["model_prior"] == [0.5, 0.5] and len(mix["estimated_95"]) == 2


def test_predict_estimates_the_class_mix_and_corrects_to_it(toy_run, toy_data, tmp_path):
    import csv

    from equilens.cli import main

    files = sorted((toy_data / "no_sub").iterdir())[:54] + sorted((toy_data / "sub").iterdir())[:6]
    for correct in (False, True):
        out = tmp_path / f"scores-{correct}.csv"
        assert main(["predict", str(toy_run), *map(str, files), "--out", str(out), "--device", "cpu",
                     *(["--correct-class-mix"] if correct else [])]) == 0
        mix = json.loads((tmp_path / f"scores-{correct}.class_mix.json").read_text())
        assert mix["n_images"] == 60 and mix["model_prior"] == [0.5, 0.5] and mix["corrected"] == correct
        assert abs(mix["estimated"][1] - 0.1) < 0.05 and mix["estimated_95"][0][1] <= mix["estimated"][1]
        rows = list(csv.DictReader(out.open()))
        p = np.array([[float(r["p_no_sub"]), float(r["p_sub"]), float(r["p_substructure"])] for r in rows])
        assert np.allclose(p[:, 0] + p[:, 1], 1.0, atol=1e-5) and np.allclose(p[:, 2], p[:, 1], atol=1e-5)
        if correct:  # moved toward the estimated 10%: lower substructure probabilities
            assert (p[:, 2] <= uncorrected[:, 2] + 1e-6).all() and (p[:, 2] < uncorrected[:, 2] - 1e-3).any()
        uncorrected = p
