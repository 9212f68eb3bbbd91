"""Seeded, stratified, deterministic train/validation/test splits, stored as file lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from equilens.atomic import write_text_atomic
from equilens.errors import InputError

SPLIT_NAMES = ("train", "val", "test")


def stratified_split(
    labels: np.ndarray, fractions: dict[str, float], seed: int, groups: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Split indices of (N,) ``labels`` into disjoint sorted parts ``{name: (M,) indices}``, each
    class by ``fractions`` (summing to 1, at least one image per part), depending only on
    ``seed`` and ``labels``. (N,) ``groups``: ids of images that share a part (twins: one per
    class per id), every class ordered by one shuffle of the ids."""
    if abs(sum(fractions.values()) - 1.0) > 1e-9 or min(fractions.values()) <= 0:
        raise InputError(f"split fractions {fractions} must be positive and sum to 1")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    names = list(fractions)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(labels):
            raise InputError(f"split groups: {len(groups)} ids for {len(labels)} images")
        ids, group_index = np.unique(groups, return_inverse=True)
        if len(np.unique(labels.astype(np.int64) * len(ids) + group_index)) != len(labels):
            raise InputError("split groups: an id holds two images of one class")
        rank = np.empty(len(ids), dtype=np.int64)
        rank[rng.permutation(len(ids))] = np.arange(len(ids))
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[np.argsort(rank[group_index[members]])] if groups is not None else rng.permutation(members)
        if len(members) < len(names):
            raise InputError(
                f"class {int(label)} has {len(members)} image(s); a {'/'.join(names)} split needs at least {len(names)}"
            )
        # Largest-remainder rounding, then make sure no part of this class is empty.
        counts = np.floor(np.array([fractions[n] for n in names]) * len(members)).astype(int)
        counts = np.maximum(counts, 1)
        counts[0] = len(members) - counts[1:].sum()
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for name, start, stop in zip(names, bounds[:-1], bounds[1:]):
            parts[name].append(members[start:stop])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def write_split(path: Path, files: list[Path], root: Path) -> None:
    """Write ``files`` (inside ``root``) one per line, relative to ``root``, atomically."""
    write_text_atomic(path, "".join(f"{Path(f).relative_to(root).as_posix()}\n" for f in files))


def read_split(path: Path, root: Path) -> list[Path]:
    """Read a file list written by :func:`write_split`; every file must still exist."""
    if not path.is_file():
        raise InputError(f"{path}: split file is missing")
    files = [root / line for line in path.read_text().splitlines() if line.strip()]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise InputError(f"{path}: {len(missing)} listed file(s) no longer exist, e.g. {missing[0]}")
    return files
