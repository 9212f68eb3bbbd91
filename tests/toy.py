"""An easy, generated lensing-like dataset for tests: rings, and rings with a bright clump."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def toy_image(rng: np.random.Generator, size: int, clump: bool) -> np.ndarray:
    """(size, size) float32 in [0, 1]: a Gaussian ring of random radius, plus a clump if asked."""
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(x, y)
    ring_radius = rng.uniform(0.25, 0.35) * size
    image = np.exp(-0.5 * ((r - ring_radius) / (0.04 * size)) ** 2)
    if clump:
        angle = rng.uniform(0, 2 * np.pi)
        cx, cy = ring_radius * np.cos(angle), ring_radius * np.sin(angle)
        image += 1.5 * np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / (0.05 * size) ** 2)
    image += rng.normal(0, 0.02, image.shape)
    image -= image.min()
    return (image / image.max()).astype(np.float32)


def write_toy_dataset(root: Path, n_per_class: int, size: int = 48, seed: int = 0, classes=("no_sub", "sub")) -> Path:
    """Write ``root/<class>/image_<i>.npy``; every class but ``no_sub`` gets a clump."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            np.save(root / name / f"image_{i:04d}.npy", toy_image(rng, size, clump=name != "no_sub"))
    return root
