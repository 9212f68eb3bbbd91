"""Train/validation/test splits of lensing images, in memory or memory-mapped, as Lightning loaders."""

from __future__ import annotations

import math
import os
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from equilens.datasets.cache import CachedImages, cached_images
from equilens.datasets.folder import LensFolder, load_images
from equilens.datasets.formats import GREY, Reading, check_image
from equilens.errors import InputError
from equilens.log import logger

IN_MEMORY_ENV = "EQUILENS_IN_MEMORY_GB"
IN_MEMORY_GB = 2.0


class LensDataModule(L.LightningDataModule):
    """Serves images (B, C, H, W) float32 (bands about [0, 1]) and labels (B,) int64, decoded once: into memory
    if a split fits ``IN_MEMORY_GB`` GB ($EQUILENS_IN_MEMORY_GB), else into a memory-mapped disk cache.

    With an ``unlabelled`` split (``equilens train --unlabelled``), a training batch is a dict:
    ``labelled`` (images, labels) as above and ``unlabelled`` (images (B, C, H, W), labels (B,) all -1),
    each drawn in shuffled passes over its split; an epoch is the longer of the labelled split's
    ``passes_per_epoch`` and one pass over the unlabelled images.

    Args:
        splits: ``train``, ``val`` and optionally ``test`` subsets of a labelled folder, and optionally ``unlabelled``.
        batch_size: images per batch.
        num_workers: loader processes (0 is best for in-memory tensors).
        passes_per_epoch: training epoch length in shuffled passes, so a small set validates less often.
        train_twins: (N,) twin ids of a paired folder's training images: batches then hold whole twin groups,
            images (B / K, K x C, H, W) and labels (B / K, K), augmented as one.
        reading: how the files are read (:class:`equilens.datasets.formats.Reading`).
        channels: bands every image must have (None: the first image's).
        targets: regression: split name -> (N,) float targets, served as float32 labels."""

    def __init__(self, splits: dict[str, LensFolder], batch_size: int = 64, num_workers: int = 0, passes_per_epoch: int = 1,
                 train_twins: np.ndarray | None = None, reading: Reading = GREY, channels: int | None = None,
                 targets: dict[str, np.ndarray] | None = None):
        super().__init__()
        self.splits = splits
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.passes_per_epoch = passes_per_epoch
        self.train_twins = train_twins
        self.reading, self.channels = reading, channels
        self.targets = targets
        self._datasets: dict[str, TensorDataset | CachedImages] = {}

    def dataset(self, name: str) -> TensorDataset | CachedImages:
        if name not in self._datasets:
            part = self.splits[name]
            rows, labels = np.arange(len(part.files)), torch.from_numpy(part.labels)
            if self.targets is not None:
                labels = torch.as_tensor(self.targets[name], dtype=torch.float32)
            if name == "train" and self.train_twins is not None:
                rows, labels = twin_rows(part.labels, self.train_twins, len(part.classes), part.root)
            if self._in_memory(name, part):
                images = load_images(part.files, reading=self.reading, channels=self.channels)
                images = images[rows.reshape(-1)].reshape(len(rows), -1, *images.shape[-2:]) if rows.ndim == 2 else images
                self._datasets[name] = TensorDataset(images, labels)
            else:
                path, built = cached_images(part.files, self.reading, self.channels)
                logger.info("%s split: %s the disk cache %s", name, "built" if built else "reusing", path)
                self._datasets[name] = CachedImages(path, rows, labels)
        return self._datasets[name]

    def _in_memory(self, name: str, part: LensFolder) -> bool:
        info = check_image(part.files[0], self.reading)
        gigabytes = len(part.files) * (self.channels or info.channels) * info.size[0] * info.size[1] * 4 / 1e9
        limit = float(os.environ.get(IN_MEMORY_ENV, IN_MEMORY_GB))
        fits = gigabytes <= limit
        logger.info("%s split: %d images, %.2f GB as float32: %s", name, len(part.files), gigabytes,
                    "held in memory" if fits else f"above the {limit:g} GB in-memory limit (${IN_MEMORY_ENV}), memory-mapped from disk")
        return fits

    def setup(self, stage: str | None = None) -> None:
        names = {"fit": ("train", "val", "unlabelled"), "validate": ("val",), "test": ("test",)}.get(stage or "fit", ())
        for name in (name for name in names if name in self.splits):
            self.dataset(name)

    def _items_per_batch(self, name: str) -> int:
        """Items of split ``name`` per batch: images, or twin groups of K images each."""
        dataset = self.dataset(name)
        labels = dataset.labels if isinstance(dataset, CachedImages) else dataset.tensors[1]
        return max(1, self.batch_size // (labels.shape[1] if labels.ndim == 2 else 1))

    def _loader(self, name: str, shuffle: bool, batches: int | None = None) -> DataLoader:
        """``batches``: batches drawn per epoch when shuffled (default: ``passes_per_epoch`` passes)."""
        dataset = self.dataset(name)
        batch_size = self._items_per_batch(name)
        samples = batches * batch_size if batches else self.passes_per_epoch * len(dataset)
        sampler = RandomSampler(dataset, num_samples=samples) if shuffle else None
        if isinstance(dataset, CachedImages):  # a whole batch is one read of the mapped file
            sampler = BatchSampler(sampler or SequentialSampler(dataset), batch_size, drop_last=False)
            batch_size = None
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def dataloader(self, name: str) -> DataLoader:
        """The split ``name`` in order, once (e.g. ``unlabelled``, which training serves shuffled beside ``train``)."""
        return self._loader(name, shuffle=False)

    def train_dataloader(self) -> DataLoader | CombinedLoader:
        if "unlabelled" not in self.splits:
            return self._loader("train", shuffle=True)
        # An epoch: the labelled split's passes, or one pass over the unlabelled images if that is longer
        # (ten labelled images beside thousands unlabelled), each batch drawing from both.
        batches = max(math.ceil(self.passes_per_epoch * len(self.dataset("train")) / self._items_per_batch("train")),
                      math.ceil(len(self.dataset("unlabelled")) / self._items_per_batch("unlabelled")))
        return CombinedLoader({"labelled": self._loader("train", shuffle=True, batches=batches),
                               "unlabelled": self._loader("unlabelled", shuffle=True, batches=batches)}, mode="min_size")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def twin_rows(labels: np.ndarray, twins: np.ndarray, num_classes: int, root: Path) -> tuple[np.ndarray, torch.Tensor]:
    """(N / K, K) rows and labels from (N,) labels and twin ids: group g holds twin g's image of each
    of the K classes in class order; every id needs exactly one image per class."""
    ids, group = np.unique(np.asarray(twins), return_inverse=True)
    counts = np.zeros((len(ids), num_classes), dtype=np.int64)
    np.add.at(counts, (group, labels), 1)
    if not (counts == 1).all():
        bad = ids[np.flatnonzero((counts != 1).any(axis=1))[0]]
        raise InputError(f"{root}: paired twins {bad!r} do not have one image in each of the {num_classes} classes "
                         "(files removed from a paired simulated folder?); train with --no-twin-batches")
    order = np.lexsort((labels, group)).reshape(len(ids), num_classes)
    return order, torch.from_numpy(labels[order])
