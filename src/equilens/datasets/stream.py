"""Image files decoded one at a time in DataLoader workers, for scoring catalogues: an unreadable
file is an item too (its error message), so one bad cutout among a million does not stop the job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import Dataset

from equilens.datasets.folder import resized
from equilens.datasets.formats import GREY, Reading, check_image, format_of, read_bands
from equilens.errors import InputError


@dataclass
class FileBatch:
    """A batch as read: ``indices`` (B,) int64 positions in the file list, ``images`` (B, C, H, W)
    float32, ``failed`` (position, error naming the file) per unreadable file, ``resized`` a count."""

    indices: torch.Tensor
    images: torch.Tensor
    failed: list[tuple[int, str]]
    resized: int


class ImageFiles(Dataset):
    """Item i: (i, float32 bands (C, H, W) or None, error message or ""), for :func:`collate_files`;
    a file without ``channels`` bands is an error item. ``size`` (H, W) is the one a batch stacks at."""

    def __init__(self, files: Sequence[Path], size: tuple[int, int], reading: Reading = GREY, channels: int | None = None):
        self.files, self.size, self.reading, self.channels = list(files), tuple(size), reading, channels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str]:
        path = self.files[i]
        try:
            if format_of(path).check_before_load:
                check_image(path, self.reading)
            image = torch.from_numpy(read_bands(path, self.reading))
            if self.channels is not None and image.shape[0] != self.channels:
                raise InputError(f"{path}: {image.shape[0]} band(s); expected {self.channels}, as the model's")
        except InputError as error:
            return i, None, str(error)
        return i, image, ""


def collate_files(items: list[tuple[int, torch.Tensor | None, str]], size: tuple[int, int]) -> FileBatch:
    """Stack the readable items of a batch (resized to ``size`` where they differ); list the others."""
    read = [(i, image) for i, image, _ in items if image is not None]
    odd = sum(tuple(image.shape[-2:]) != tuple(size) for _, image in read)
    images = torch.stack([resized(image, size) for _, image in read]) if read else torch.empty(0)
    return FileBatch(torch.tensor([i for i, _ in read], dtype=torch.int64), images,
                     [(i, error) for i, image, error in items if image is None], odd)
