"""The Python API: equilens.load scores arrays as `equilens predict` scores their files; train,
lightning_modules, normalisation, and a top level that imports nothing heavy."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from PIL import Image

import equilens
from equilens.cli import main
from equilens.config import TrainConfig
from equilens.errors import InputError
from equilens.testing import assert_invariant

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test-iv"


def predicted(model: list[str], files: list[Path], out: Path) -> dict[str, dict[str, float]]:
    """`equilens predict`'s CSV rows by path."""
    assert main(["predict", *model, *map(str, files), "--out", str(out), "--device", "cpu"]) == 0
    return {row.pop("path"): {k: float(v) for k, v in row.items()} for row in csv.DictReader(out.open())}


def test_loaded_run_scores_arrays_as_predict_scores_their_files(toy_run, toy_data, tmp_path):
    files = sorted((toy_data / "no_sub").glob("*.npy"))[:5] + sorted((toy_data / "sub").glob("*.npy"))[:5]
    rows = predicted([str(toy_run)], files, tmp_path / "scores.csv")
    model = equilens.load(toy_run, device="cpu")
    images = np.stack([np.load(f) for f in files])
    scores, probabilities = model.score(images), model.predict_proba(images)
    expected = np.array([rows[str(f)]["p_substructure"] for f in files])
    # The CSV holds 6 significant digits.
    assert scores == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert probabilities[:, 1] == pytest.approx([rows[str(f)]["p_sub"] for f in files], rel=1e-5, abs=1e-6)
    assert model.classes == ["no_sub", "sub"] and model.task == "classify"
    # The toy classes differ: the scores are not a constant that any check would pass.
    assert scores[5:].mean() > scores[:5].mean()


def jpeg_files(folder: Path, n: int) -> list[Path]:
    """``n`` 8-bit JPEG lens-like images (a bright core and a ring), as the Test IV files are."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    y, x = np.mgrid[:150, :150] - 74.5
    files = []
    for i in range(n):
        ring = np.exp(-0.5 * ((np.hypot(x, y) - rng.uniform(15, 25)) / 2) ** 2) + 3 * np.exp(-0.5 * (x**2 + y**2) / 9)
        pixels = np.clip(255 * ring / ring.max() + rng.normal(0, 2, ring.shape), 0, 255).astype(np.uint8)
        files.append(folder / f"lens_{i}.jpg")
        Image.fromarray(pixels).save(files[-1], quality=75)
    return files


def test_shipped_model_scores_decoded_jpeg_pixels_as_predict_scores_the_files(tmp_path):
    files = jpeg_files(tmp_path / "images", 6)
    rows = predicted(["--pretrained", "test-iv"], files, tmp_path / "scores.csv")
    pixels = np.stack([np.asarray(Image.open(f)) for f in files])  # uint8, (N, 150, 150)
    scores = equilens.load("test-iv", device="cpu").score(pixels)
    assert scores == pytest.approx([rows[str(f)]["p_substructure"] for f in files], rel=1e-5, abs=1e-6)


def test_shipped_model_on_real_test_iv_images_matches_predict(tmp_path):
    if not REAL_DATA.is_dir():
        pytest.skip(f"real Test IV images not present at {REAL_DATA}")
    files = [f for name in ("no_sub", "sub") for f in sorted((REAL_DATA / name).glob("*.jpg"))[:10]]
    rows = predicted(["--pretrained", "test-iv"], files, tmp_path / "scores.csv")
    scores = equilens.load("test-iv", device="cpu").score(np.stack([np.asarray(Image.open(f)) for f in files]))
    assert scores == pytest.approx([rows[str(f)]["p_substructure"] for f in files], rel=1e-5, abs=1e-6)
    assert scores[10:].min() > scores[:10].max()  # the shipped model separates these 20 real images


def test_normalize_images_follows_the_file_reader():
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    batch = equilens.normalize_images(grey)  # one 2-D image
    assert batch.shape == (1, 1, 4, 4) and batch.dtype == torch.float32
    assert torch.allclose(batch[0, 0], torch.from_numpy(grey / 255.0).float())
    unit = np.random.default_rng(0).uniform(0.2, 0.6, (3, 5, 5))
    assert torch.allclose(equilens.normalize_images(unit)[:, 0], torch.from_numpy(unit).float())  # kept as is
    flux = np.stack([np.full((4, 4), 3.0), np.arange(16.0).reshape(4, 4) - 5])
    scaled = equilens.normalize_images(torch.from_numpy(flux))  # outside [0, 1]: min-max per image
    assert scaled[1].min() == 0 and scaled[1].max() == 1 and (scaled[0] == 0).all()
    colour = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    colour[..., 1] = 255
    bands = equilens.normalize_images(colour)  # (H, W, 3) pixels: three bands, as in an .npy file
    assert bands.shape == (2, 3, 4, 4) and (bands[:, 1] == 1).all() and (bands[:, [0, 2]] == 0).all()
    with pytest.raises(InputError, match=r"3 band.*convert\(.L.\)"):
        equilens.load("test-iv", device="cpu").score(colour)  # a one-band model
    with pytest.raises(InputError, match="image 1: .* NaN"):
        equilens.normalize_images(np.stack([np.zeros((4, 4)), np.full((4, 4), np.nan)]))
    with pytest.raises(InputError, match="several sizes"):
        equilens.normalize_images([np.zeros((4, 4)), np.zeros((5, 5))])


def test_train_from_python_leaves_the_config_alone(toy_data, tmp_path):
    config = TrainConfig(data=str(toy_data), input_size=17, widths=[2, 2], epochs=1, accelerator="cpu")
    before = dataclasses.asdict(config)
    run = equilens.train(config, runs_dir=tmp_path)
    assert dataclasses.asdict(config) == before  # batch size, data path, init weights: resolved in the run only
    assert equilens.load(run, device="cpu").score(np.load(toy_data / "sub" / "image_0000.npy")).shape == (1,)
    with pytest.raises(InputError, match="not beside it"):
        equilens.train(config, runs_dir=tmp_path, epochs=2)


def test_lightning_modules_fit_in_a_users_own_trainer(toy_data):
    module, data = equilens.lightning_modules(TrainConfig(data=str(toy_data), input_size=17, widths=[2, 2], accelerator="cpu"))
    assert isinstance(module, L.LightningModule) and isinstance(data, L.LightningDataModule)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(module, datamodule=data)
    assert trainer.current_epoch == 1 and "val_auc" in trainer.callback_metrics
    data.setup("test")
    images, labels = next(iter(data.test_dataloader()))
    assert module.model.eval()(images).shape == (len(labels), 2)


def test_top_level_and_scorer_import_nothing_heavy():
    code = ("import sys, equilens; assert 'torch' not in sys.modules; assert 'load' in dir(equilens);"
            "import equilens.evaluation.scoring as s, equilens.memory as m;"
            "heavy = {'lightning', 'matplotlib', 'lenstronomy'} & set(sys.modules); assert not heavy, heavy;"
            "assert m.keep_freed_memory.cache_info().currsize == 0")  # scoring leaves malloc alone
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        equilens.nope  # noqa: B018


def test_assert_invariant_names_the_action_that_moves_the_output():
    images = torch.rand(2, 1, 9, 9)
    changes = assert_invariant(lambda x: x.sum(dim=(1, 2, 3)), images, "D4")
    assert set(changes) == {"rot90", "rot180", "rot270", "flip_x", "flip_y", "transpose", "antitranspose"}
    # The top row's sum: a left-right flip keeps it, every other action moves it.
    with pytest.raises(AssertionError, match="rot90 .*flip_y") as failure:
        assert_invariant(lambda x: x[..., 0, :].sum(dim=-1), images, "D4")
    assert "flip_x" not in str(failure.value)


def test_an_empty_batch_scores_to_nothing_for_a_multiband_model_too():
    from equilens.api import TrainedModel
    from equilens.models import build_model

    network = build_model({"architecture": "cnn", "input_size": 17, "widths": [2, 2], "num_classes": 2, "in_channels": 3}).eval()
    model = TrainedModel(network, {"task": "classify", "classes": ["nonlenses", "lenses"], "input": {"bands": ["g", "r", "i"], "channels": 3}})
    assert model.score(np.zeros((0, 3, 17, 17))).shape == (0,)  # as a one-band model's empty batch
    assert model.score(np.random.default_rng(0).uniform(size=(2, 3, 17, 17))).shape == (2,)
