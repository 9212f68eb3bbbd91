"""A folder of lensing images laid out by class, as the DeepLense datasets are.

``<root>/no_sub/*`` (Test IV, Models I-III) or ``<root>/no/*`` (Common Test I) is the negative
class (label 0); every other sub-folder holding images (``sub``, ``cdm``, ``axion``, ``sphere``,
``vort`` ...) is a positive class, labelled 1, 2, ... in name order. Two folders make a binary
task; more make a multi-class one. Other layouts (a lens finder's ``nonlenses/`` and
``lenses/``) name their negative class, or all their classes in label order.
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

from equilens.config import NEGATIVE_CLASS_NAMES
from equilens.datasets.images import FITS_SUFFIXES, GREY, IMAGE_SUFFIXES, FileInfo, Reading, check_image, read_bands
from equilens.errors import InputError
from equilens.log import logger


@dataclass(frozen=True)
class LensFolder:
    """The labelled files of one dataset folder.

    Attributes:
        root: the dataset folder.
        classes: class names, the negative class (without substructure, or not a lens) first;
            a label is an index into it.
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


def binary_labels(classes: Sequence[str]) -> tuple[str, str]:
    """Names of the two sides of a classifier's score, 1 - p(negative class): ``("none",
    "substructure")`` when the negative is a DeepLense no-substructure class; else the negative
    and the positive class (a lens finder's ``("nonlenses", "lenses")``), or ``not_<negative>``
    for several positive classes."""
    if classes[0] in NEGATIVE_CLASS_NAMES:
        return "none", "substructure"
    return classes[0], classes[1] if len(classes) == 2 else f"not_{classes[0]}"


def score_column(classes: Sequence[str]) -> str:
    """The score's column in ``predict``'s CSV: ``p_substructure``, ``p_lenses`` ... (:func:`binary_labels`)."""
    return f"p_{binary_labels(classes)[1]}"


def score_description(classes: Sequence[str]) -> str:
    """The score in words, for reports and plots: ``p(substructure) = 1 - p(no_sub)``."""
    return f"p({binary_labels(classes)[1]}) = 1 - p({classes[0]})"


def list_images(folder: Path, recursive: bool = False, reading: Reading = GREY) -> list[Path]:
    """Image files inside ``folder`` (and its sub-folders if ``recursive``), hidden and other
    files ignored, sorted by path. With named bands, FITS files ``<object>_<band>.fits`` count
    once, as their first band's file (which the check reports if it is missing)."""
    entries = folder.rglob("*") if recursive else folder.iterdir()
    files = {p for p in entries if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES}
    return sorted({object_file(p, reading) for p in files})


def object_file(path: Path, reading: Reading) -> Path:
    """The file that stands for ``path``'s object: with named bands, the first band's file for a
    later band's FITS file ``<object>_<band>.fits``; else ``path``."""
    if reading.bands and path.suffix.lower() in FITS_SUFFIXES:
        for band in reading.bands[1:]:
            if path.stem.endswith(f"_{band}"):
                return path.with_name(f"{path.stem[: -len(band) - 1]}_{reading.bands[0]}{path.suffix}")
    return path


def scan_lens_folder(root: str | Path, classes: tuple[str, ...] | None = None, negative: str | None = None,
                     reading: Reading = GREY) -> LensFolder:
    """Find the class folders and image files under ``root``.

    Args:
        root: dataset folder holding one folder per class.
        classes: if given (e.g. the classes a model was trained on), exactly these folders are
            read, in this label order, and each must exist and hold images.
        negative: the negative class's folder, when it is not one of
            :data:`~equilens.config.NEGATIVE_CLASS_NAMES`; every other folder holding images
            is a positive class.
        reading: how files are read (named FITS bands group one object's files).

    Raises:
        InputError: missing root, no negative class folder, no positive class, an empty class folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder does not exist")
    if classes is None:
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if negative is None:
            known = [name for name in NEGATIVE_CLASS_NAMES if name in found]
            if not known:
                raise InputError(
                    f"{root}: no '{NEGATIVE_CLASS_NAMES[0]}' folder (nor {', '.join(map(repr, NEGATIVE_CLASS_NAMES[1:]))}), "
                    f"the class without substructure; found {found}; name the classes with --classes NEGATIVE [POSITIVE ...]"
                )
            negative = known[0]
        elif negative not in found:
            raise InputError(f"{root}: no class folder {negative!r}; found {found}")
        classes = (negative, *[name for name in found if name != negative and list_images(root / name, reading=reading)])
        if len(classes) < 2:
            raise InputError(f"{root}: no folder of images beside the negative class '{negative}' (e.g. 'sub/'); found {found}")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            raise InputError(f"{folder}: class folder is missing (expected classes {list(classes)}; found {found})")
        images = list_images(folder, reading=reading)
        if not images:
            raise InputError(f"{folder}: class folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        files += images
        labels += [label] * len(images)
    return LensFolder(root, tuple(classes), tuple(files), np.asarray(labels, dtype=np.int64))


def check_images(files: Sequence[Path], reading: Reading = GREY, channels: int | None = None) -> list[FileInfo]:
    """Check every file cheaply (:func:`~equilens.datasets.images.check_image`: headers, no
    pixel decoding for pictures) so that a bad file fails at once, before any work on the others.
    Every file must hold the same number of bands: ``channels``, or else the first file's.

    Returns:
        what the check found in each file (bands, size, value, NaN filled).

    Raises:
        InputError: naming the first bad file and what is wrong with it, and how many others are bad.
    """
    infos, problems = [], []
    for f in tqdm(files, desc="checking images", unit="img", leave=False, disable=len(files) < 20_000):
        try:
            info = check_image(f, reading)
        except InputError as error:
            problems.append(str(error))
            continue
        channels = info.channels if channels is None else channels
        if info.channels != channels:
            named = f" ({', '.join(reading.bands)})" if reading.bands else ""
            problems.append(f"{f}: {info.channels} band(s); expected {channels}{named}, as the other images")
        infos.append(info)
    if problems:
        others = f" (and {len(problems) - 1} other bad file(s))" if len(problems) > 1 else ""
        raise InputError(problems[0] + others)
    return infos


def load_images(files: Sequence[Path], size: tuple[int, int] | None = None, reading: Reading = GREY,
                channels: int | None = None) -> torch.Tensor:
    """Check, then read ``files`` into one float32 tensor (N, C, H, W), each band scaled by
    ``reading`` (grey images: values in [0, 1]).

    Images whose size differs from ``size`` (default: the most common size among ``files``)
    are resized to it with antialiased bilinear interpolation, and a warning says how many
    and which; FITS pixels that were NaN or masked (filled) are counted in a warning too.
    """
    infos = check_images(files, reading, channels)
    shapes = [info.size for info in infos]
    common = Counter(shapes).most_common(1)[0][0] if size is None else tuple(size)
    odd = [(f, s) for f, s in zip(files, shapes) if s != common]
    if odd:
        examples = ", ".join(f"{f} is {h}x{w}" for f, (h, w) in odd[:3]) + (", ..." if len(odd) > 3 else "")
        logger.warning("%d of %d images are not %dx%d (%s); they were resized to %dx%d",
                       len(odd), len(files), *common, examples, *common)
    filled = [(f, info.filled) for f, info in zip(files, infos) if info.filled]
    if filled:
        logger.warning("%d of %d images had NaN or masked pixels (%d in all; e.g. %s: %d), filled with their band's median",
                       len(filled), len(files), sum(n for _, n in filled), *filled[0])
    out = torch.empty((len(files), infos[0].channels if infos else 1, *common), dtype=torch.float32)
    for i, f in enumerate(tqdm(files, desc="reading images", unit="img", leave=False, disable=len(files) < 500)):
        out[i] = resized(torch.from_numpy(read_bands(f, reading)), common)
    return out


def resized(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) ``image`` resized to ``size`` (H', W') by antialiased bilinear interpolation; itself if already that size."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image[None], size=tuple(size), mode="bilinear", antialias=True, align_corners=False)[0]
