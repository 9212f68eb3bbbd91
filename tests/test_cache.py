"""The on-disk image cache: exact to the in-memory images, 8-bit pictures as uint8, reused,
rebuilt when a file changes, and served by the data module when a split is above the limit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from equilens.datamodules import LensDataModule
from equilens.datamodules.lens import IN_MEMORY_ENV
from equilens.datasets.cache import CACHE_ENV, CachedImages, cached_images
from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.datasets.formats import Reading


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "images"


def _jpegs(root, n=24, size=20, mode="L", odd=None):
    """``n`` noisy 8-bit JPEGs per class (number ``odd`` a different size, to be resized)."""
    rng = np.random.default_rng(1)
    for name in ("no_sub", "sub"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            side = size + 4 if i == odd else size
            pixels = rng.integers(0, 256, (side, side, 3) if mode == "RGB" else (side, side), dtype=np.uint8)
            Image.fromarray(pixels, mode).save(root / name / f"i{i:03d}.jpg")
    return root


def _batch(path, files):
    dataset = CachedImages(path, np.arange(len(files)), torch.zeros(len(files), dtype=torch.int64))
    return dataset[list(range(len(files)))][0]


def test_8bit_pictures_cache_as_uint8_exactly(tmp_path, cache):
    files = list(scan_lens_folder(_jpegs(tmp_path / "data")).files)
    path, built = cached_images(files, workers=2)
    assert built and path.parent == cache and np.load(path, mmap_mode="r").dtype == np.uint8
    assert torch.equal(_batch(path, files), load_images(files))  # the same float32 values
    assert cached_images(files) == (path, False)  # reused
    os.utime(files[3], ns=(0, 0))  # a changed file: a new cache, the old one left alone
    again, built = cached_images(files)
    assert built and again != path and path.exists()
    assert not [p for p in cache.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("kind", ["colour", "odd size", "float"])
def test_other_images_cache_as_float32_exactly(tmp_path, cache, kind):
    """Colour pictures read as grey (luminance), a set with a resized picture, and float arrays
    are not 8-bit: float32."""
    if kind != "float":
        files = list(scan_lens_folder(_jpegs(tmp_path / "data", n=6, mode="RGB" if kind == "colour" else "L",
                                             odd=2 if kind == "odd size" else None)).files)
    else:
        (tmp_path / "npy").mkdir()
        files = [tmp_path / "npy" / f"{i}.npy" for i in range(6)]
        for i, f in enumerate(files):
            np.save(f, np.random.default_rng(i).random((12, 12), dtype=np.float32) * 3)
    path, _ = cached_images(files, Reading(), workers=1)
    assert np.load(path, mmap_mode="r").dtype == np.float32
    assert torch.equal(_batch(path, files), load_images(files))


def test_data_module_over_the_limit_serves_the_same_batches_from_the_cache(tmp_path, cache, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="equilens")
    folder = scan_lens_folder(_jpegs(tmp_path / "data"))
    splits = {"train": folder, "val": folder.subset(np.arange(0, 48, 3))}
    batches = {}
    for limit in ("100", "0"):
        monkeypatch.setenv(IN_MEMORY_ENV, limit)
        torch.manual_seed(0)
        module = LensDataModule(splits, batch_size=8, passes_per_epoch=2)
        module.setup("fit")
        batches[limit] = [list(module.train_dataloader()), list(module.val_dataloader())]
    assert isinstance(module.dataset("train"), CachedImages) and "memory-mapped from disk" in caplog.text
    for memory, mapped in zip(*batches.values()):
        assert len(memory) == len(mapped) == (12 if len(memory) > 2 else 2)
        assert all(torch.equal(a, b) and torch.equal(y, z) for (a, y), (b, z) in zip(memory, mapped))


def test_twin_groups_from_the_cache(tmp_path, cache, monkeypatch):
    folder = scan_lens_folder(_jpegs(tmp_path / "data", n=6))
    twins = np.array([int(f.stem[1:]) for f in folder.files])
    monkeypatch.setenv(IN_MEMORY_ENV, "0")
    images, labels = next(iter(LensDataModule({"train": folder}, batch_size=4, train_twins=twins).train_dataloader()))
    assert images.shape == (2, 2, 20, 20) and (labels == torch.tensor([0, 1])).all()


def test_ddp_on_two_cpu_processes_trains_from_one_cache(tmp_path):
    """Two gloo ranks over a split above the in-memory limit: one cache, built once, one run."""
    data = _jpegs(tmp_path / "data", n=16)
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache"), IN_MEMORY_ENV: "0"}
    result = subprocess.run(
        [sys.executable, "-m", "equilens.cli", "train", "--data", str(data), "--input-size", "17", "--widths", "2", "2",
         "--epochs", "1", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--runs-dir", str(tmp_path / "runs"),
         "--name", "ddp", "--num-workers", "0"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "runs" / "ddp" / "model.safetensors").is_file()
    assert "memory-mapped from disk" in result.stderr
    # The fit's train and val splits: each built by one rank and reused by the other.
    assert len(list((tmp_path / "cache" / "images").glob("*.npy"))) == 2
    assert result.stderr.count("built the disk cache") == 2 and result.stderr.count("reusing the disk cache") == 2
