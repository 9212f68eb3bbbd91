"""A folder of lensing images, one sub-folder per class (docs/layouts.md): the negative class
(``no_sub``, ``no`` or the one named) is label 0, the others 1, 2, ... in name order."""

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
from equilens.datasets.formats import FITS_SUFFIXES, FORMATS, GREY, FileInfo, Reading, check_image
from equilens.datasets.pixel_grid import PlacementTally, grid_of, read_on_grid
from equilens.errors import InputError
from equilens.log import logger


@dataclass(frozen=True)
class LensFolder:
    """The labelled files of one dataset folder: ``classes`` negative first (a label indexes it),
    (N,) ``files`` sorted by class then name, and their (N,) int64 ``labels``."""

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
    "substructure")`` for a DeepLense negative class, else the negative and the positive class
    (``("nonlenses", "lenses")``), or ``not_<negative>`` for several positive classes."""
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
    """Image files inside ``folder`` (and its sub-folders if ``recursive``), hidden ones ignored,
    sorted; one object's band files (:func:`object_file`) count once."""
    entries = folder.rglob("*") if recursive else folder.iterdir()
    files = {p for p in entries if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FORMATS}
    return sorted({object_file(p, reading) for p in files})


def object_file(path: Path, reading: Reading) -> Path:
    """The first band's file for a later band's FITS file ``<object>_<band>.fits``; else ``path``."""
    if reading.bands and path.suffix.lower() in FITS_SUFFIXES:
        for band in reading.bands[1:]:
            if path.stem.endswith(f"_{band}"):
                return path.with_name(f"{path.stem[: -len(band) - 1]}_{reading.bands[0]}{path.suffix}")
    return path


def scan_lens_folder(root: str | Path, classes: tuple[str, ...] | None = None, negative: str | None = None,
                     reading: Reading = GREY) -> LensFolder:
    """The class folders and image files under ``root``: exactly ``classes`` in this label order
    if given (each must exist and hold images), else the ``negative`` folder (default: one of
    NEGATIVE_CLASS_NAMES) and every other folder holding images. InputError for a missing root
    or negative folder, no positive class, or an empty class folder."""
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
            raise InputError(f"{folder}: class folder holds no images ({', '.join(FORMATS)})")
        files += images
        labels += [label] * len(images)
    return LensFolder(root, tuple(classes), tuple(files), np.asarray(labels, dtype=np.int64))


def check_images(files: Sequence[Path], reading: Reading = GREY, channels: int | None = None) -> list[FileInfo]:
    """What :func:`~equilens.datasets.formats.check_image` finds in each file, every one holding
    ``channels`` bands (default: the first file's); InputError naming the first bad file and
    counting the others, before any file is decoded."""
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
    """Check, then read ``files`` into one float32 tensor (N, C, H, W), scaled by ``reading``;
    images not of ``size`` (default: a model's training image size, else the most common) resized
    to it (:func:`resized`), and those and any filled FITS pixels counted in a warning. A model's
    reading with a pixel scale places each file on its grid instead
    (:func:`~equilens.datasets.pixel_grid.read_on_grid`: resampled, cropped or padded)."""
    infos = check_images(files, reading, channels)
    grid = grid_of(reading)
    shapes = [info.size for info in infos]
    common = tuple(size) if size is not None else grid.image_size or Counter(shapes).most_common(1)[0][0]
    odd = [] if grid.on_sky else [(f, s) for f, s in zip(files, shapes) if s != common]
    if odd:
        examples = ", ".join(f"{f} is {h}x{w}" for f, (h, w) in odd[:3]) + (", ..." if len(odd) > 3 else "")
        logger.warning("%d of %d images are not %dx%d (%s); they were resized to %dx%d",
                       len(odd), len(files), *common, examples, *common)
    filled = [(f, info.filled) for f, info in zip(files, infos) if info.filled]
    if filled:
        logger.warning("%d of %d images had NaN or masked pixels (%d in all; e.g. %s: %d), filled with their band's median",
                       len(filled), len(files), sum(n for _, n in filled), *filled[0])
    out = torch.empty((len(files), infos[0].channels if infos else 1, *common), dtype=torch.float32)
    tally = PlacementTally()
    for i, f in enumerate(tqdm(files, desc="reading images", unit="img", leave=False, disable=len(files) < 500)):
        image, placement = read_on_grid(f, reading)
        out[i] = resized(torch.from_numpy(image), common)
        tally.add(placement)
    if grid.on_sky:
        tally.report(grid)
    return out


def resized(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) ``image`` resized to ``size`` (H', W') by antialiased bilinear interpolation; itself if already that size."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image[None], size=tuple(size), mode="bilinear", antialias=True, align_corners=False)[0]
