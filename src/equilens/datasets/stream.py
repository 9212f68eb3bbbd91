"""Image files decoded one at a time in DataLoader workers, for scoring catalogues: an unreadable
file is an item too (its error message), so one bad cutout among a million does not stop the job.
A model's reading with a pixel scale places each file on its grid as it is read
(:func:`equilens.datasets.pixel_grid.read_on_grid`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import Dataset

from equilens.datasets.folder import resized
from equilens.datasets.formats import GREY, Reading, check_image, format_of
from equilens.datasets.pixel_grid import Placement, read_on_grid
from equilens.errors import InputError


@dataclass
class FileBatch:
    """A batch as read: ``indices`` (B,) int64 positions in the file list, ``images`` (B, C, H, W)
    float32, ``failed`` (position, error naming the file) per unreadable file, ``resized`` a count,
    ``placements`` (B,) what placing each image on the model's grid did (None: not placed)."""

    indices: torch.Tensor
    images: torch.Tensor
    failed: list[tuple[int, str]]
    resized: int
    placements: list[Placement | None]


class ImageFiles(Dataset):
    """Item i: (i, float32 bands (C, H, W) or None, error message or "", its :class:`Placement` or
    None), for :func:`collate_files`; a file without ``channels`` bands is an error item. ``size``
    (H, W) is the one a batch stacks at."""

    def __init__(self, files: Sequence[Path], size: tuple[int, int], reading: Reading = GREY, channels: int | None = None):
        self.files, self.size, self.reading, self.channels = list(files), tuple(size), reading, channels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str, Placement | None]:
        path = self.files[i]
        try:
            if format_of(path).check_before_load:
                check_image(path, self.reading)
            image, placement = read_on_grid(path, self.reading)
            if self.channels is not None and image.shape[0] != self.channels:
                raise InputError(f"{path}: {image.shape[0]} band(s); expected {self.channels}, as the model's")
        except InputError as error:
            return i, None, str(error), None
        return i, torch.from_numpy(image), "", placement


def collate_files(items: list[tuple[int, torch.Tensor | None, str, Placement | None]], size: tuple[int, int]) -> FileBatch:
    """Stack the readable items of a batch (resized to ``size`` where they differ); list the others."""
    read = [(i, image, placement) for i, image, _, placement in items if image is not None]
    odd = sum(tuple(image.shape[-2:]) != tuple(size) for _, image, _ in read)
    images = torch.stack([resized(image, size) for _, image, _ in read]) if read else torch.empty(0)
    return FileBatch(torch.tensor([i for i, _, _ in read], dtype=torch.int64), images,
                     [(i, error) for i, image, error, _ in items if image is None], odd, [p for _, _, p in read])
