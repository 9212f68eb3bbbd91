"""Image files decoded one at a time, in DataLoader worker processes, for scoring catalogues.

Unlike :func:`equilens.datasets.folder.load_images`, which checks every file and then decodes
them all into one tensor, an item here is one file read when the loader asks for it, and an
unreadable file is an item too (its error message), so that one bad cutout among a million is
reported instead of stopping the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import Dataset

from equilens.datasets.folder import resized
from equilens.datasets.images import FITS_SUFFIXES, GREY, Reading, check_image, read_bands
from equilens.errors import InputError


@dataclass
class FileBatch:
    """A batch of files as read.

    Attributes:
        indices: (B,) int64 positions (in the dataset's file list) of the files read.
        images: (B, C, H, W) float32 bands of those files, scaled as the reading says.
        failed: (position, error message naming the file) of each file that could not be read.
        resized: how many of the images were resized to the common size.
    """

    indices: torch.Tensor
    images: torch.Tensor
    failed: list[tuple[int, str]]
    resized: int


class ImageFiles(Dataset):
    """Item i: (i, float32 bands (C, H, W) or None, error message or ""), for :func:`collate_files`.

    Args:
        files: image paths (each object's first band file for named FITS bands).
        size: (H, W) every image is resized to when it differs (antialiased bilinear), so that
            a batch stacks; the model resizes to its own input size in any case.
        reading: how files are read (bands, FITS HDU, scaling).
        channels: bands every image must have; a file with others is an error item.
    """

    def __init__(self, files: Sequence[Path], size: tuple[int, int], reading: Reading = GREY, channels: int | None = None):
        self.files, self.size, self.reading, self.channels = list(files), tuple(size), reading, channels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str]:
        path = self.files[i]
        try:
            if path.suffix.lower() not in (".npy", ".npz", *FITS_SUFFIXES):
                check_image(path, self.reading)  # a cut-off JPEG/PNG, which the decoder may pad silently
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
