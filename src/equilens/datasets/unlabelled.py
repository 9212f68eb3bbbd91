"""Unlabelled images of the target domain (``equilens train --unlabelled``): a flat folder or a
list of files, read so that no label can be: a folder with class sub-folders is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from equilens.datasets.folder import LensFolder, list_images, object_file
from equilens.datasets.formats import FORMATS, Reading
from equilens.errors import InputError

#: The one "class" of an unlabelled set; its (N,) labels are all -1 (no class).
UNLABELLED = "unlabelled"
#: A catalogue list: one image path per line (relative ones to the list's folder), ``#`` comments.
LIST_SUFFIXES = (".txt", ".list")


def scan_unlabelled(path: str | Path, reading: Reading) -> LensFolder:
    """The images of ``path``: a folder holding image files directly (no sub-folder may hold
    images: class folders would carry labels), or a ``.txt`` list of image files. InputError
    names the file or folder for a missing path, class folders, or no images."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        files = _listed(path, reading)
    elif path.is_dir():
        nested = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and list_images(p, True, reading))
        if nested:
            raise InputError(f"--unlabelled {path}: sub-folders hold images ({', '.join(nested[:4])}"
                             f"{' ...' if len(nested) > 4 else ''}): a folder of class folders carries labels, which "
                             "--unlabelled never reads; give one flat folder of images (or a .txt list of files)")
        files = list_images(path, reading=reading)
    else:
        raise InputError(f"--unlabelled {path}: not a folder of images or a {'/'.join(LIST_SUFFIXES)} list of image files")
    if not files:
        raise InputError(f"--unlabelled {path}: no images ({', '.join(FORMATS)})")
    return LensFolder(path.parent if path.is_file() else path, (UNLABELLED,), tuple(files), np.full(len(files), -1, dtype=np.int64))


def _listed(path: Path, reading: Reading) -> list[Path]:
    files = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        file = Path(entry) if Path(entry).is_absolute() else path.parent / entry
        if not file.is_file():
            raise InputError(f"{path}, line {number}: {entry}: no such file")
        if file.suffix.lower() not in FORMATS:
            raise InputError(f"{path}, line {number}: {entry}: not an image file ({', '.join(FORMATS)})")
        files.append(object_file(file, reading))
    return list(dict.fromkeys(files))
