"""Train/validation/test splits of lensing images, held in memory, as Lightning loaders."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as L
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from equilens.datasets.folder import LensFolder, load_images
from equilens.datasets.images import GREY, Reading
from equilens.errors import InputError


class LensDataModule(L.LightningDataModule):
    """Serves (images (B, C, H, W) float32 (C bands, each scaled to about [0, 1]), labels (B,) int64) batches.

    Images are decoded once into memory (150x150 float32: 90 kB each, 0.9 GB per 10,000), so
    epochs cost no decoding; augmentation happens on the batch's device in the trainer.

    Args:
        splits: ``train``, ``val`` and optionally ``test`` subsets of a labelled folder.
        batch_size: images per batch.
        num_workers: loader processes (0 is best for in-memory tensors).
        passes_per_epoch: training epoch length, in shuffled passes over the training images
            (each pass its own permutation), so that a small set validates and checkpoints less often.
        train_twins: optional (N,) twin ids of the training images (a paired simulated folder:
            the same lens in every class). Training batches then hold whole twin groups: images
            (B / K, K x C, H, W), one twin per class in class order, and labels (B / K, K), K the
            number of classes, so that the trainer gives a group one augmentation and the
            twins differ only by substructure.
        reading: how the files are read (bands, scaling; :class:`equilens.datasets.Reading`).
        channels: bands every image must have (None: the first image's).
        targets: regression: split name -> (N,) float targets of its files, served in place of
            the labels (float32).
    """

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
        self._datasets: dict[str, TensorDataset] = {}

    def dataset(self, name: str) -> TensorDataset:
        if name not in self._datasets:
            part = self.splits[name]
            images, labels = load_images(part.files, reading=self.reading, channels=self.channels), torch.from_numpy(part.labels)
            if self.targets is not None:
                labels = torch.as_tensor(self.targets[name], dtype=torch.float32)
            if name == "train" and self.train_twins is not None:
                images, labels = twin_groups(images, labels, self.train_twins, len(part.classes), part.root)
            self._datasets[name] = TensorDataset(images, labels)
        return self._datasets[name]

    def setup(self, stage: str | None = None) -> None:
        names = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage or "fit", ())
        for name in names:
            self.dataset(name)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        dataset = self.dataset(name)
        sampler = RandomSampler(dataset, num_samples=self.passes_per_epoch * len(dataset)) if shuffle else None
        group = dataset.tensors[1].shape[1] if dataset.tensors[1].ndim == 2 else 1
        return DataLoader(
            dataset,
            batch_size=max(1, self.batch_size // group),
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def twin_groups(images: torch.Tensor, labels: torch.Tensor, twins: np.ndarray, num_classes: int,
                root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) images, (N,) labels and (N,) twin ids -> (N / K, K x C, H, W) images and
    (N / K, K) labels, group g holding twin id g's image of each of the K classes in class order.
    Every id must have exactly one image of every class (a paired folder whose files were all kept)."""
    ids, group = np.unique(np.asarray(twins), return_inverse=True)
    counts = np.zeros((len(ids), num_classes), dtype=np.int64)
    np.add.at(counts, (group, labels.numpy()), 1)
    if not (counts == 1).all():
        bad = ids[np.flatnonzero((counts != 1).any(axis=1))[0]]
        raise InputError(f"{root}: paired twins {bad!r} do not have one image in each of the {num_classes} classes "
                         "(files removed from a paired simulated folder?); train with --no-twin-batches")
    order = torch.from_numpy(np.lexsort((labels.numpy(), group)))
    return images[order].reshape(len(ids), -1, *images.shape[-2:]), labels[order].reshape(len(ids), num_classes)
