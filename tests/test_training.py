"""Training runs: separation on an easy set, run folders, resume after a kill, evaluation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from equilens.config import TrainConfig
from equilens.datasets.folder import scan_lens_folder
from equilens.datasets.split import read_split
from equilens.errors import InputError
from equilens.evaluation import evaluate
from equilens.evaluation.metrics import macro_auc, macro_auc_difference
from equilens.evaluation.plots import read_epoch_metrics
from equilens.evaluation.report import read_class_probabilities
from equilens.runs import RunRecord
from equilens.training import resume, split_dataset, train, training_passes, twin_ids


def test_run_folder_contents(toy_run, toy_data):
    record = RunRecord.read(toy_run)
    assert record.classes == ["no_sub", "sub"] and record.model["group"] == "D4"
    parts = {name: set(read_split(toy_run / "splits" / f"{name}.txt", toy_data)) for name in ("train", "val", "test")}
    assert not (parts["train"] & parts["val"] or parts["train"] & parts["test"] or parts["val"] & parts["test"])
    assert sum(map(len, parts.values())) == 240
    assert (toy_run / "model.safetensors").is_file() and (toy_run / "checkpoints" / "last.ckpt").is_file()
    assert sorted(read_epoch_metrics(toy_run)) == [0, 1, 2, 3]
    # The default keeps the last epoch's weights; the best validation epoch's are kept beside.
    assert len(list((toy_run / "checkpoints").glob("best-epoch=*.ckpt"))) == 1
    assert json.loads((toy_run / "model.json").read_text())["checkpoint"] == "last.ckpt"


def test_runs_saved_before_recipes_keep_their_best_epoch():
    old = {k: v for k, v in TrainConfig(data="x").to_dict().items() if k not in ("recipe", "select")}
    assert TrainConfig.from_dict(old).select == "best"
    assert TrainConfig.from_dict(TrainConfig(data="x").to_dict()).select == "last"


def test_small_training_sets_get_smaller_batches(toy_data, tmp_path):
    config = TrainConfig(data="x")
    assert (config.batch_size, config.min_batches_per_epoch) == (64, 6)
    assert [config.batch_size_for(n) for n in (1, 90, 180, 383, 384, 8000)] == [1, 15, 30, 64, 64, 64]
    assert TrainConfig(data="x", min_batches_per_epoch=0).batch_size_for(90) == 64
    assert TrainConfig(data="x", recipe="deeplense").batch_size_for(90) == 64
    assert TrainConfig(data="x", task="anomaly").batch_size_for(90) == 32
    # The run's saved config holds the batch size it trained with: 192 training images / 6.
    run = train(TrainConfig(data=str(toy_data), input_size=17, epochs=1, widths=[2, 2], accelerator="cpu"), runs_dir=tmp_path)
    assert RunRecord.read(run).config.batch_size == 32


def test_small_training_sets_get_epochs_of_several_passes(toy_data, tmp_path):
    config = TrainConfig(data="x")
    assert config.min_images_per_epoch == 4096
    assert [config.passes_per_epoch(n) for n in (1, 90, 2048, 4095, 4096, 6400)] == [4096, 46, 2, 2, 1, 1]
    assert TrainConfig(data="x", min_images_per_epoch=0).passes_per_epoch(90) == 1
    assert TrainConfig(data="x", recipe="deeplense").passes_per_epoch(90) == 1
    assert TrainConfig(data="x", task="anomaly").min_images_per_epoch == 3072  # the autoencoder's, per no_sub image
    assert [TrainConfig(data="x", task="anomaly").passes_per_epoch(n) for n in (90, 3072, 3200)] == [35, 1, 1]
    # Runs saved before the option resume with the one pass per epoch they were trained with.
    saved = {k: v for k, v in config.to_dict().items() if k != "min_images_per_epoch"}
    assert TrainConfig.from_dict(saved).min_images_per_epoch == 0
    # 192 training images, batches of 32, 400 images per epoch: 3 passes of 6 steps each.
    run = train(TrainConfig(data=str(toy_data), input_size=17, epochs=1, widths=[2, 2], min_images_per_epoch=400,
                            accelerator="cpu"), runs_dir=tmp_path)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 18
    assert training_passes(run) == 3


def test_label_smoothing_is_a_classification_default_and_checked():
    assert TrainConfig(data="x").label_smoothing == 0.1
    assert TrainConfig(data="x", recipe="deeplense").label_smoothing == 0.0
    assert TrainConfig(data="x", task="anomaly").label_smoothing == 0.0
    with pytest.raises(InputError, match="--label-smoothing 1.0"):
        TrainConfig(data="x", label_smoothing=1.0).validate()
    saved = {k: v for k, v in TrainConfig(data="x").to_dict().items() if k != "label_smoothing"}
    assert TrainConfig.from_dict(saved).label_smoothing == 0.0


class _Confident(torch.nn.Module):
    """Logits +-9 for the true classes of the test batch below, whatever the images."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[9.0, -9.0], [-9.0, 9.0]]).repeat(len(images) // 2, 1)


def test_smoothed_targets_keep_a_confident_classifier_learning():
    from equilens.tasks.lightning.classify import ClassifierModule

    model = {"architecture": "cnn", "input_size": 17, "widths": [2, 2], "num_classes": 2}
    off = {"crop_fraction": None, "rotate": False, "brightness": None}
    batch = (torch.rand(4, 1, 17, 17), torch.tensor([0, 1, 0, 1]))
    losses = []
    for smoothing in (0.0, 0.2):
        module = ClassifierModule(model=model, classes=["no_sub", "sub"], **TrainConfig(data="").optimizer_options(),
                                  augment=off, label_smoothing=smoothing)
        module.model, module.log = _Confident(), lambda *args, **kwargs: None
        losses.append(float(module.training_step(batch, 0)))
    # Targets 0.9 / 0.1: cross-entropy 0.9 * softplus(-18) + 0.1 * softplus(18) = 1.8 nats.
    assert losses[0] < 1e-6 and losses[1] == pytest.approx(1.8, abs=1e-3)


@pytest.mark.parametrize("collapsed", [True, False])
def test_a_collapsed_classifier_is_reported(collapsed, caplog):
    """A model that gives every image the same output (its head's last layer zeroed: what a head
    whose hidden ReLUs all died computes) is reported once at a validation epoch's end; a
    working one is not."""
    import lightning.pytorch as L
    from torch.utils.data import DataLoader, TensorDataset

    from equilens.tasks.lightning.classify import ClassifierModule

    torch.manual_seed(0)
    module = ClassifierModule(model={"architecture": "cnn", "input_size": 17, "widths": [2, 2], "num_classes": 2},
                              classes=["no_sub", "sub"], **TrainConfig(data="").optimizer_options(),
                              augment={"crop_fraction": None, "rotate": False, "brightness": None})
    if collapsed:
        torch.nn.init.zeros_(module.model.head[-1].weight)
    data = DataLoader(TensorDataset(torch.rand(16, 1, 17, 17), torch.tensor([0, 1] * 8)), batch_size=8)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    with caplog.at_level("WARNING", logger="equilens"):
        trainer.validate(module, data, verbose=False)
        trainer.validate(module, data, verbose=False)
    reports = [r for r in caplog.records if "collapsed" in r.getMessage()]
    assert len(reports) == (1 if collapsed else 0)


def test_select_best_exports_the_best_checkpoint(toy_data, tmp_path):
    run = train(TrainConfig(data=str(toy_data), input_size=17, epochs=2, widths=[2, 2], select="best",
                            accelerator="cpu"), runs_dir=tmp_path)
    (best,) = (run / "checkpoints").glob("best-epoch=*.ckpt")
    assert json.loads((run / "model.json").read_text())["checkpoint"] == best.name


def test_short_training_separates_easy_set(toy_run):
    out, metrics = evaluate(toy_run, n_bootstrap=200)
    binary = metrics["substructure_vs_none"]
    assert binary["auc"] > 0.9
    low, high = binary["auc_ci95"]
    assert low <= binary["auc"] <= high
    assert metrics["invariance"]["rot90_max_abs_change"] < 1e-4
    assert metrics["invariance"]["flip_max_abs_change"] < 1e-4
    for name in ("roc.png", "confusion_matrix.png", "score_histogram.png", "gallery.png", "training_curves.png",
                 "scores.csv"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "metrics.json").read_text())["substructure_vs_none"]["auc"] == binary["auc"]
    second, _ = evaluate(toy_run, n_bootstrap=10, invariance_images=0)
    assert second != out  # a second report never overwrites the first


def test_new_run_never_reuses_a_folder(toy_data, tmp_path):
    config = dict(data=str(toy_data), input_size=17, epochs=1, widths=[2, 2], accelerator="cpu")
    first = train(TrainConfig(**config), runs_dir=tmp_path, name="same")
    second = train(TrainConfig(**config), runs_dir=tmp_path, name="same")
    assert first.name == "same" and second.name == "same-2"


def test_resume_continues_from_last_epoch(toy_data, tmp_path):
    config = TrainConfig(data=str(toy_data), input_size=17, epochs=1, widths=[2, 2], accelerator="cpu")
    run = train(config, runs_dir=tmp_path)
    resume(run, epochs=3)
    assert sorted(read_epoch_metrics(run)) == [0, 1, 2]
    assert len(list((run / "logs").glob("version_*"))) == 2  # the first session's log is kept


def test_resume_after_kill(toy_data, tmp_path):
    """A training process killed mid-run resumes to completion from its last checkpoint."""
    command = [
        sys.executable, "-m", "equilens.cli", "train", "--data", str(toy_data), "--input-size", "17",
        "--widths", "2", "2", "--epochs", "200", "--accelerator", "cpu", "--runs-dir", str(tmp_path), "--name", "killed",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert last.exists() and not (tmp_path / "killed" / "model.safetensors").exists()
    done = set(read_epoch_metrics(tmp_path / "killed"))
    resume(tmp_path / "killed", epochs=max(done) + 2)
    assert (tmp_path / "killed" / "model.safetensors").is_file()
    assert set(read_epoch_metrics(tmp_path / "killed")) >= set(range(max(done) + 2))


def test_multiclass_training_and_report(tmp_path):
    from toy import write_toy_dataset

    data = write_toy_dataset(tmp_path / "data", n_per_class=40, size=17, classes=("no_sub", "cdm", "axion"))
    config = TrainConfig(data=str(data), input_size=17, epochs=2, widths=[2, 3], lr=3e-3, accelerator="cpu")
    run = train(config, runs_dir=tmp_path / "runs")
    out, metrics = evaluate(run, data=data, n_bootstrap=10, invariance_images=0)
    assert set(metrics["multiclass"]["one_vs_rest"]) == {"no_sub", "axion", "cdm"}
    assert len(metrics["multiclass"]["confusion_matrix"]) == 3
    paths, labels, probabilities = read_class_probabilities(out)
    assert len(paths) == metrics["n_images"] and probabilities.shape == (len(paths), 3)
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert macro_auc(labels, probabilities) == pytest.approx(metrics["multiclass"]["macro_auc"], abs=1e-4)
    two_class = tmp_path / "two-class"
    two_class.mkdir()
    (two_class / "scores.csv").write_text("path,class,score\nno_sub/a.npy,no_sub,0.1\n")
    with pytest.raises(InputError, match="two-class.*scores.csv: no per-class probabilities"):
        read_class_probabilities(two_class)


def test_paired_macro_auc_difference():
    """Two models scored on the same images: a model against itself differs by exactly 0; one that
    separates the classes against one that guesses is ahead, with an interval away from 0."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 50)
    guess = rng.dirichlet(np.ones(3), len(labels))
    good = 0.6 * np.eye(3)[labels] + 0.4 * guess
    assert macro_auc_difference(labels, guess, guess, n_bootstrap=50) == (0.0, 0.0, 0.0)
    difference, low, high = macro_auc_difference(labels, good, guess, n_bootstrap=200)
    assert difference == pytest.approx(macro_auc(labels, good) - macro_auc(labels, guess))
    assert 0 < low <= difference <= high


def test_one_class_test_set_rejected(toy_run, tmp_path):
    (tmp_path / "no_sub").mkdir()

    np.save(tmp_path / "no_sub" / "a.npy", np.zeros((33, 33), np.float32))
    with pytest.raises(InputError, match="only class 'no_sub' holds images; the ROC AUC needs"):
        evaluate(toy_run, data=tmp_path)


@pytest.mark.parametrize("where", ["held-out test split", "--test-data folder"])
def test_bad_test_file_fails_before_training(tmp_path, where):
    """A bad file that training itself never reads is reported before anything is created or fit."""
    from toy import write_toy_dataset

    data = write_toy_dataset(tmp_path / "data", n_per_class=10, size=9)
    config = TrainConfig(data=str(data), input_size=9, epochs=1, widths=[2, 2], accelerator="cpu")
    if where == "--test-data folder":
        config.test_data = str(write_toy_dataset(tmp_path / "test", n_per_class=3, size=9))
        bad, message = tmp_path / "test" / "sub" / "image_0001.jpg", "empty file"
        bad.write_bytes(b"")
    else:
        bad, message = split_dataset(scan_lens_folder(data), None, config)["test"].files[0], "is not an image"
        np.save(bad, np.zeros((2, 3, 9, 9), np.float32))
    with pytest.raises(InputError, match=message) as error:
        train(config, runs_dir=tmp_path / "runs")
    assert str(error.value).startswith(str(bad))
    assert not (tmp_path / "runs").exists()  # no run folder, so no checkpoint either


def test_bad_config_rejected(toy_data, tmp_path):
    with pytest.raises(InputError, match="--val-fraction"):
        train(TrainConfig(data=str(toy_data), val_fraction=1.5), runs_dir=tmp_path)
    with pytest.raises(InputError, match="is not C<N> or D<N>"):
        train(TrainConfig(data=str(toy_data), group="Q4"), runs_dir=tmp_path)
    with pytest.raises(InputError, match="--model resnet18 has no autoencoder"):
        train(TrainConfig(data=str(toy_data), task="anomaly", architecture="resnet18"), runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing created for a rejected run


@pytest.mark.parametrize("max_time", [None, "00:00:00:02"])
def test_cosine_schedule_ends_at_zero_over_epochs_or_time(toy_data, tmp_path, max_time, caplog):
    # Over the epochs, the last step lands on zero; over a 2 s budget (shorter than 50 epochs
    # of this set), the rate has decayed with the clock by the time training stops.
    config = TrainConfig(data=str(toy_data), input_size=17, epochs=2 if max_time is None else 50, widths=[2, 2],
                         lr=1e-2, lr_schedule="cosine", max_time=max_time, accelerator="cpu")
    run = train(config, runs_dir=tmp_path)
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["lr_schedulers"][0]["_last_lr"][0] < 1e-2 * 0.05
    # last.ckpt is the latest epoch (what a resume needs), not the best one.
    assert last["epoch"] == max(read_epoch_metrics(run))
    # How training ended is stored with the weights and reported by evaluate; a cut by the
    # time cap is also logged, naming the epoch reached.
    ending = json.loads((run / "model.json").read_text())["training"]
    completed = len(read_epoch_metrics(run))
    assert ending == {"epochs_completed": completed, "epochs_planned": config.epochs, "max_time": max_time,
                      "stopped_by": "epochs" if max_time is None else "time_cap"}
    assert ("time cap" in caplog.text and f"after epoch {completed} of 50" in caplog.text) == (max_time is not None)
    _, metrics = evaluate(run, out=tmp_path / "report", n_bootstrap=10, invariance_images=0)
    assert metrics["training"] == ending


def test_init_weights_fine_tunes_from_a_run(toy_run, toy_data, tmp_path, monkeypatch):
    """--init-weights: the new run takes the weights' model and starts from their values."""
    import equilens.training as training
    from safetensors.torch import load_file

    loaded = {}
    original = training.load_initial_weights

    def spy(model, path):
        original(model, path)
        loaded.update({k: v.clone() for k, v in model.state_dict().items()})

    monkeypatch.setattr(training, "load_initial_weights", spy)
    # Options that would build another model are overridden by the weights' own model.
    config = TrainConfig(data=str(toy_data), init_weights=str(toy_run), input_size=17, epochs=1, accelerator="cpu")
    run = train(config, runs_dir=tmp_path)
    record = RunRecord.read(run)
    assert record.model == RunRecord.read(toy_run).model
    assert record.config.init_weights == str((toy_run / "model.safetensors").resolve())
    start = load_file(str(toy_run / "model.safetensors"))
    assert all(torch.equal(loaded[k], v) for k, v in start.items())


def test_init_weights_read_otherwise_is_said(toy_run, toy_data, tmp_path, caplog):
    """Fine-tuning on images read with another scaling than the weights learnt is allowed, and said."""
    options = {"data": str(toy_data), "init_weights": str(toy_run), "epochs": 1, "accelerator": "cpu"}
    with caplog.at_level("WARNING", logger="equilens"):
        train(TrainConfig(**options), runs_dir=tmp_path / "same")
        assert "learnt images read as" not in caplog.text
        train(TrainConfig(**options, scaling="asinh"), runs_dir=tmp_path / "other")
    assert "'scaling': 'minmax'" in caplog.text and "this run reads them as {'colour': False, 'bands': None, 'hdu': None, " \
        "'scaling': 'asinh'}" in caplog.text


def test_small_sets_of_the_default_model_start_from_the_simulation_model(tmp_path):
    """--init-weights auto (the default): the shipped sim-test-iv for small sets of its own model
    and classes, random weights for anything else; the run records what it started from."""
    from toy import write_toy_dataset

    from equilens.pretrained import pretrained_weights
    from equilens.initial_weights import auto_initial_weights
    from equilens.weights import read_info

    assert TrainConfig(data="x").init_weights == "auto"
    assert TrainConfig(data="x", recipe="deeplense").init_weights is None
    assert TrainConfig(data="x", task="anomaly").init_weights is None
    saved = {k: v for k, v in TrainConfig(data="x").to_dict().items() if k != "init_weights"}
    assert TrainConfig.from_dict(saved).init_weights is None
    model, classes = TrainConfig(data="x").model_config(2), ["no_sub", "sub"]
    assert auto_initial_weights("classify", model, classes, 90) == "sim-test-iv"
    assert auto_initial_weights("classify", model, classes, 2048) is None
    assert auto_initial_weights("classify", model, ["no_sub", "cdm"], 90) is None
    assert auto_initial_weights("classify", TrainConfig(data="x", architecture="cnn").model_config(2), classes, 90) is None
    assert auto_initial_weights("classify", TrainConfig(data="x", group="C8").model_config(2), classes, 90) is None
    assert auto_initial_weights("classify", TrainConfig(data="x", pooled_blocks=2).model_config(2), classes, 90) is None

    data = write_toy_dataset(tmp_path / "data", n_per_class=10, size=33)
    options = {"data": str(data), "epochs": 1, "min_images_per_epoch": 0, "accelerator": "cpu"}
    run = train(TrainConfig(**options), runs_dir=tmp_path / "runs")
    assert RunRecord.read(run).config.init_weights == str(pretrained_weights("sim-test-iv").resolve())
    # The shipped model's architecture, pooled first block included, is the run's.
    assert RunRecord.read(run).model == read_info(pretrained_weights("sim-test-iv"))["model"]
    scratch = train(TrainConfig(**options, init_weights=None), runs_dir=tmp_path / "runs")
    assert RunRecord.read(scratch).config.init_weights is None
    other = train(TrainConfig(**options, input_size=17), runs_dir=tmp_path / "runs")
    assert RunRecord.read(other).config.init_weights is None


def test_init_weights_rejects_other_tasks_and_classes(toy_run, tmp_path):
    from toy import write_toy_dataset

    three = write_toy_dataset(tmp_path / "three", n_per_class=8, size=17, classes=("no_sub", "cdm", "axion"))
    with pytest.raises(InputError, match="2 classes"):
        train(TrainConfig(data=str(three), init_weights=str(toy_run), epochs=1), runs_dir=tmp_path / "runs")
    with pytest.raises(InputError, match="task is anomaly"):
        train(TrainConfig(data=str(three), task="anomaly", init_weights=str(toy_run), epochs=1), runs_dir=tmp_path / "runs")
    with pytest.raises(InputError, match="no such run folder"):
        train(TrainConfig(data=str(three), init_weights=str(tmp_path / "missing"), epochs=1), runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_twin_batches_hold_both_twins_augmented_alike(tmp_path):
    """A paired folder's training batches hold whole twin groups in class order, and one
    augmentation moves both twins of a group: twins that are the same image stay the same
    image, while other groups of that same image get other shifts, rotations and brightness."""
    from equilens.datamodules import LensDataModule
    from equilens.tasks.lightning.classify import ClassifierModule

    root = tmp_path / "paired"
    lens = np.random.default_rng(0).random((33, 33), dtype=np.float32)
    for k in range(12):
        for name in ("no_sub", "sub"):  # every image the same, so any difference is the augmentation's
            (root / name).mkdir(parents=True, exist_ok=True)
            np.save(root / name / f"twin_{k:02d}.npy", lens)
    (root / "simulation.json").write_text(json.dumps({"paired": True}))
    config = TrainConfig(data=str(root))
    assert config.twin_batches and not TrainConfig.from_dict({"data": str(root)}).twin_batches  # old runs: off
    splits = split_dataset(scan_lens_folder(root), None, config)
    data = LensDataModule({k: v for k, v in splits.items() if k != "test"}, batch_size=8, train_twins=twin_ids(splits["train"]))
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (4, 2, 33, 33) and (labels == torch.tensor([0, 1])).all()
    assert torch.equal(images[:, 0], images[:, 1])
    module = ClassifierModule(model=config.model_config(2), classes=["no_sub", "sub"], **config.optimizer_options(),
                              augment=config.augment_config())
    augmented, flat_labels = module.augmented(images, labels)
    assert augmented.shape == (8, 1, 33, 33) and flat_labels.tolist() == [0, 1] * 4
    assert torch.equal(augmented[0::2], augmented[1::2])
    assert torch.equal(images[0], images[1]) and not torch.allclose(augmented[0], augmented[2])

    # A twin whose partner was deleted cannot be batched as a pair: the error says which.
    (root / "sub" / "twin_03.npy").unlink()
    (root / "sub" / "twin_04.npy").rename(root / "sub" / "other.npy")
    folder = scan_lens_folder(root)
    broken = LensDataModule({"train": folder}, train_twins=twin_ids(folder))
    with pytest.raises(InputError, match="paired twins .* do not have one image in each of the 2 classes"):
        broken.dataset("train")
