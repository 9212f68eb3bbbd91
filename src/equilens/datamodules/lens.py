"""Train/validation/test splits of lensing images, held in memory, as Lightning loaders."""

from __future__ import annotations

import lightning.pytorch as L
import torch
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from equilens.datasets.folder import LensFolder, load_images


class LensDataModule(L.LightningDataModule):
    """Serves (images (B, 1, H, W) float32 in [0, 1], labels (B,) int64) batches.

    Images are decoded once into memory (150x150 float32: 90 kB each, 0.9 GB per 10,000), so
    epochs cost no decoding; augmentation happens on the batch's device in the trainer.

    Args:
        splits: ``train``, ``val`` and optionally ``test`` subsets of a labelled folder.
        batch_size: images per batch.
        num_workers: loader processes (0 is best for in-memory tensors).
        passes_per_epoch: training epoch length, in shuffled passes over the training images
            (each pass its own permutation), so that a small set validates and checkpoints less often.
    """

    def __init__(self, splits: dict[str, LensFolder], batch_size: int = 64, num_workers: int = 0, passes_per_epoch: int = 1):
        super().__init__()
        self.splits = splits
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.passes_per_epoch = passes_per_epoch
        self._datasets: dict[str, TensorDataset] = {}

    def dataset(self, name: str) -> TensorDataset:
        if name not in self._datasets:
            part = self.splits[name]
            self._datasets[name] = TensorDataset(load_images(part.files), torch.from_numpy(part.labels))
        return self._datasets[name]

    def setup(self, stage: str | None = None) -> None:
        names = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage or "fit", ())
        for name in names:
            self.dataset(name)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        dataset = self.dataset(name)
        sampler = RandomSampler(dataset, num_samples=self.passes_per_epoch * len(dataset)) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
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
