"""JPEG and PNG of any bit depth (8/16-bit grey, RGB(A), palette): one luminance band, or with
``Reading(colour=True)`` three bands R, G, B."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from equilens.datasets.formats.checks import as_bands, nonempty
from equilens.datasets.formats.reading import FileInfo, Reading
from equilens.datasets.formats.scaling import integer_to_unit
from equilens.errors import InputError

_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float64)  # ITU-R 601, as PIL's "L"
_JPEG_END = b"\xff\xd9"  # the end-of-image marker, the last two bytes of a whole JPEG file


class Picture:
    suffixes = (".jpg", ".jpeg", ".png")
    check_before_load = True

    def check(self, path: Path, reading: Reading) -> FileInfo:
        """Header, plus the JPEG's end marker or the PNG's chunk checksums; no pixel decoded."""
        nonempty(path)
        with open(path, "rb") as handle, Image.open(handle) as picture:
            shape = picture.height, picture.width
            if picture.format == "PNG":
                picture.verify()
            elif picture.format == "JPEG":
                handle.seek(-len(_JPEG_END), os.SEEK_END)
                if handle.read() != _JPEG_END:
                    raise InputError(f"{path}: truncated JPEG (the file does not end with the end-of-image marker FF D9)")
        return FileInfo(3 if reading.colour else 1, *shape)

    def load(self, path: Path, reading: Reading) -> np.ndarray:
        """(1, H, W) luminance in [0, 1], or (3, H, W) uint8 R, G, B with ``reading.colour``."""
        nonempty(path)
        with Image.open(path) as picture:
            picture.load()
            if reading.colour:
                return as_bands(np.asarray(picture.convert("RGB")), path)
            if picture.mode in ("P", "PA", "LA", "CMYK", "YCbCr", "LAB", "HSV"):
                picture = picture.convert("RGBA" if "A" in picture.mode else "RGB")
            array = np.asarray(picture)
            if picture.mode in ("I", "I;16", "I;16B", "I;16L"):
                # 16-bit PNGs arrive as mode I (int32) or I;16; their full scale is 65535.
                return as_bands(array.astype(np.float64) / 65535.0, path)
            return as_bands(_to_grey(integer_to_unit(array)), path)


def _to_grey(array: np.ndarray) -> np.ndarray:
    """(H, W) as it is; colour (H, W, 3|4) to luminance in its own units, alpha dropped."""
    return array if array.ndim == 2 else array[..., :3].astype(np.float64) @ _LUMINANCE
