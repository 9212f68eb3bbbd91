"""A memory-mapped ``.npy`` cache (N, C, H, W) of a split's decoded images, for training sets
larger than memory (docs/cli.md): every epoch, worker and DDP rank shares the OS page cache.
8-bit pictures are stored exactly as uint8, anything else as float32."""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from equilens.datasets.folder import check_images, resized
from equilens.datasets.formats import GREY, PICTURE_SUFFIXES, Reading, read_bands
from equilens.log import logger

CACHE_ENV = "EQUILENS_CACHE"
# float32 value of each 8-bit level, as the reader computes it (value / 255 in float64, then float32).
UINT8_LEVELS = (np.arange(256) / 255.0).astype(np.float32)


def cache_folder() -> Path:
    """Where image caches live: ``$EQUILENS_CACHE/images``, else ``~/.cache/equilens/images``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "equilens") / "images"


def cache_key(files: Sequence[Path], reading: Reading, channels: int | None) -> str:
    """A hash of the files (resolved path, size, modification time) and of how they are read."""
    digest = hashlib.sha256(json.dumps([reading.to_dict(), channels]).encode())
    for f in files:
        stat = os.stat(f)
        digest.update(f"{Path(f).resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def cached_images(files: Sequence[Path], reading: Reading = GREY, channels: int | None = None,
                  workers: int | None = None) -> tuple[Path, bool]:
    """(the cache file of ``files`` read as ``reading``, whether it was built now); built by
    ``workers`` processes (default: one per core), resizing as ``load_images`` does."""
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cache_key(files, reading, channels)}.npy"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent builder (run, DDP rank) finishes first
        if path.exists():
            return path, False
        _build(path, files, reading, channels, workers or len(os.sched_getaffinity(0)))
        return path, True


def _build(path: Path, files: Sequence[Path], reading: Reading, channels: int | None, workers: int) -> None:
    infos = check_images(files, reading, channels)
    size = Counter(info.size for info in infos).most_common(1)[0][0]
    odd = sum(info.size != size for info in infos)
    if odd:
        logger.warning("%d of %d images are not %dx%d; they were resized to %dx%d", odd, len(files), *size, *size)
    shape = (len(files), infos[0].channels, *size)
    # A resized image is no longer 8-bit: then float32 at once, rather than after a failed uint8 pass.
    exact_bytes = not odd and reading.scaling == "minmax" and all(Path(f).suffix.lower() in PICTURE_SUFFIXES for f in files)
    start = time.perf_counter()
    for dtype in ([np.uint8] if exact_bytes else []) + [np.float32]:
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
        try:
            np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape).flush()
            chunks = [(str(tmp), i, [str(f) for f in files[i : i + 256]], size, reading) for i in range(0, len(files), 256)]
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                if all(pool.imap_unordered(_fill, chunks)):
                    with open(tmp, "rb+") as handle:
                        os.fsync(handle.fileno())
                    os.replace(tmp, path)
                    logger.info("cached %d images (%s, %.2f GB) in %s in %.0f s", len(files), np.dtype(dtype).name,
                                _nbytes(shape, dtype) / 1e9, path, time.perf_counter() - start)
                    return
        finally:
            tmp.unlink(missing_ok=True)
        logger.info("%s: images not exactly 8-bit (colour read as grey, 16-bit ...): caching as float32", path.name)


def _nbytes(shape: tuple[int, ...], dtype) -> int:
    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def _fill(chunk: tuple[str, int, list[str], tuple[int, int], Reading]) -> bool:
    """Decode a chunk of files into rows ``start ...`` of the cache file; False when a uint8 cache
    cannot hold an image exactly."""
    tmp, start, files, size, reading = chunk
    out = np.load(tmp, mmap_mode="r+")
    for i, f in enumerate(files, start):
        image = resized(torch.from_numpy(read_bands(f, reading)), size).numpy()
        if out.dtype == np.uint8:
            levels = np.rint(image * 255).clip(0, 255).astype(np.uint8)
            if not np.array_equal(UINT8_LEVELS[levels], image):
                return False
            image = levels
        out[i] = image
    out.flush()
    return True


class CachedImages(Dataset):
    """Batches from a cache file (N, C, H, W): item ``indices`` (from a BatchSampler) -> (float32
    images (B, K x C, H, W), int64 labels (B,) or (B, K)), for (M,) ``rows`` or (M, K) rows
    of K images served together (twins). Mapped on first use in each process."""

    def __init__(self, path: Path, rows: np.ndarray, labels: torch.Tensor):
        self.path, self.rows, self.labels = Path(path), np.asarray(rows), labels
        self._images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_images": None}

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if self._images is None:
            self._images = np.load(self.path, mmap_mode="r")
        rows = self.rows[np.asarray(indices)]
        images = self._images[rows.reshape(-1)]
        if images.dtype == np.uint8:
            images = UINT8_LEVELS[images]
        images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        return images.reshape(len(rows), -1, *images.shape[-2:]), self.labels[np.asarray(indices)]
