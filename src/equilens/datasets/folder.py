"""A folder of lensing images laid out by class, as the DeepLense datasets are.

``<root>/no_sub/*`` is the negative class (label 0); every other sub-folder holding images
(``sub``, ``cdm``, ``axion``, ``vort`` ...) is a positive class, labelled 1, 2, ... in name
order. Two folders make a binary task; more make a multi-class one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from equilens.datasets.images import IMAGE_SUFFIXES, check_image, read_image
from equilens.errors import InputError
from equilens.log import logger

NEGATIVE_CLASS = "no_sub"


@dataclass(frozen=True)
class LensFolder:
    """The labelled files of one dataset folder.

    Attributes:
        root: the dataset folder.
        classes: class names, ``no_sub`` first; a label is an index into it.
        files: (N,) image paths, sorted by class then name.
        labels: (N,) int64 labels.
    """

    root: Path
    classes: tuple[str, ...]
    files: tuple[Path, ...]
    labels: np.ndarray

    def subset(self, indices: np.ndarray) -> "LensFolder":
        return LensFolder(self.root, self.classes, tuple(self.files[i] for i in indices), self.labels[indices])

    def with_files(self, files: list[Path]) -> "LensFolder":
        """The same folder restricted to ``files`` (e.g. read back from a split list)."""
        index = {name: i for i, name in enumerate(self.classes)}
        labels = []
        for f in files:
            name = Path(f).parent.name
            if name not in index:
                raise InputError(f"{f}: class folder {name!r} is not one of {list(self.classes)}")
            labels.append(index[name])
        return LensFolder(self.root, self.classes, tuple(files), np.asarray(labels, dtype=np.int64))


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files inside ``folder`` (and its sub-folders if ``recursive``), hidden and other
    files ignored, sorted by path."""
    entries = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p for p in entries if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def scan_lens_folder(root: str | Path, classes: tuple[str, ...] | None = None) -> LensFolder:
    """Find the class folders and image files under ``root``.

    Args:
        root: dataset folder holding ``no_sub/`` and one or more positive class folders.
        classes: if given (e.g. the classes a model was trained on), exactly these folders are
            read and each must exist and hold images.

    Raises:
        InputError: missing root, no ``no_sub`` folder, no positive class, an empty class folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder does not exist")
    if classes is None:
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if NEGATIVE_CLASS not in found:
            raise InputError(f"{root}: no '{NEGATIVE_CLASS}' folder (the class without substructure); found {found}")
        classes = (NEGATIVE_CLASS, *[name for name in found if name != NEGATIVE_CLASS and list_images(root / name)])
        if len(classes) < 2:
            raise InputError(f"{root}: no folder of images with substructure beside '{NEGATIVE_CLASS}' (e.g. 'sub/')")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise InputError(f"{folder}: class folder is missing (expected classes {list(classes)})")
        images = list_images(folder)
        if not images:
            raise InputError(f"{folder}: class folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        files += images
        labels += [label] * len(images)
    return LensFolder(root, tuple(classes), tuple(files), np.asarray(labels, dtype=np.int64))


def check_images(files: Sequence[Path]) -> list[tuple[int, int]]:
    """Check every file cheaply (:func:`~equilens.datasets.images.check_image`: headers, no
    pixel decoding) so that a bad file fails at once, before any work on the others.

    Returns:
        the (H, W) of each file.

    Raises:
        InputError: naming the first bad file and what is wrong with it, and how many others are bad.
    """
    shapes, problems = [], []
    for f in tqdm(files, desc="checking images", unit="img", leave=False, disable=len(files) < 20_000):
        try:
            shapes.append(check_image(f))
        except InputError as error:
            problems.append(str(error))
    if problems:
        others = f" (and {len(problems) - 1} other bad file(s))" if len(problems) > 1 else ""
        raise InputError(problems[0] + others)
    return shapes


def load_images(files: Sequence[Path], size: tuple[int, int] | None = None) -> torch.Tensor:
    """Check, then read ``files`` into one float32 tensor (N, 1, H, W), values in [0, 1].

    Images whose size differs from ``size`` (default: the most common size among ``files``)
    are resized to it with antialiased bilinear interpolation, and a warning says how many
    and which.
    """
    shapes = check_images(files)
    common = Counter(shapes).most_common(1)[0][0] if size is None else tuple(size)
    odd = [(f, s) for f, s in zip(files, shapes) if s != common]
    if odd:
        examples = ", ".join(f"{f} is {h}x{w}" for f, (h, w) in odd[:3]) + (", ..." if len(odd) > 3 else "")
        logger.warning("%d of %d images are not %dx%d (%s); they were resized to %dx%d",
                       len(odd), len(files), *common, examples, *common)
    out = torch.empty((len(files), 1, *common), dtype=torch.float32)
    for i, f in enumerate(tqdm(files, desc="reading images", unit="img", leave=False, disable=len(files) < 500)):
        image = torch.from_numpy(read_image(f))
        if tuple(image.shape) != common:
            image = F.interpolate(image[None, None], size=common, mode="bilinear", antialias=True, align_corners=False)[0, 0]
        out[i, 0] = image
    return out
