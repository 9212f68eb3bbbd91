"""Class folders, splits, and the data problems users hit."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.datasets.split import stratified_split
from equilens.errors import InputError


def _write(root, counts, size=8):
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            np.save(root / name / f"image_{i}.npy", np.random.default_rng(i).random((size, size), dtype=np.float32))
    return root


def test_classes_no_sub_first_and_labels(tmp_path):
    folder = scan_lens_folder(_write(tmp_path, {"sub": 3, "no_sub": 2, "axion": 4}))
    assert folder.classes == ("no_sub", "axion", "sub")
    assert folder.labels.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize(
    "counts, message",
    [
        ({"sub": 3}, "no 'no_sub' folder"),
        ({"no_sub": 3}, "no folder of images beside the negative class 'no_sub'"),
    ],
)
def test_missing_classes_rejected(tmp_path, counts, message):
    with pytest.raises(InputError, match=message):
        scan_lens_folder(_write(tmp_path, counts))


def test_empty_class_folder_rejected_when_required(tmp_path):
    root = _write(tmp_path, {"no_sub": 3, "sub": 3})
    (root / "axion").mkdir()
    with pytest.raises(InputError, match=r"axion: class folder holds no images"):
        scan_lens_folder(root, classes=("no_sub", "sub", "axion"))


def test_missing_root_rejected(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        scan_lens_folder(tmp_path / "nowhere")


def test_split_is_deterministic_disjoint_stratified_and_complete():
    labels = np.repeat([0, 1, 2], [100, 60, 40])
    a = stratified_split(labels, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    b = stratified_split(labels, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    c = stratified_split(labels, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=4)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["test"], c["test"])
    together = np.concatenate(list(a.values()))
    assert len(together) == len(labels) == len(np.unique(together))
    assert np.bincount(labels[a["test"]]).tolist() == [10, 6, 4]


def test_grouped_split_keeps_twins_together_and_ungrouped_split_is_unchanged():
    labels = np.repeat([0, 1], 50)
    fractions = {"train": 0.8, "val": 0.1, "test": 0.1}
    twins = np.tile(np.arange(50), 2)  # image k of each class is twin k
    parts = stratified_split(labels, fractions, seed=3, groups=twins)
    for index in parts.values():
        assert sorted(twins[index][labels[index] == 0]) == sorted(twins[index][labels[index] == 1])
    assert sorted(np.concatenate(list(parts.values()))) == list(range(100))
    with pytest.raises(InputError, match="two images of one class"):
        stratified_split(labels, fractions, seed=3, groups=np.zeros(100))


def test_paired_simulated_folder_splits_by_twin(tmp_path):
    import json

    from equilens.config import TrainConfig
    from equilens.training import split_dataset

    root = _write(tmp_path, {"no_sub": 40, "sub": 40})
    config = TrainConfig(data=str(root), seed=1)
    unpaired = split_dataset(scan_lens_folder(root), None, config)
    (root / "simulation.json").write_text(json.dumps({"paired": True}))
    paired = split_dataset(scan_lens_folder(root), None, config)

    def stems(part, label):
        return {f.stem for f, y in zip(part.files, part.labels) if y == label}

    assert all(stems(part, 0) == stems(part, 1) for part in paired.values())
    assert any(stems(part, 0) != stems(part, 1) for part in unpaired.values())


def test_split_needs_enough_images_per_class():
    with pytest.raises(InputError, match="class 1 has 2 image"):
        stratified_split(np.array([0, 0, 0, 1, 1]), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=0)


def test_mixed_sizes_are_resized_with_a_warning(tmp_path, caplog):
    root = _write(tmp_path, {"no_sub": 3, "sub": 2}, size=8)
    np.save(root / "sub" / "odd.npy", np.ones((10, 12), np.float32))
    folder = scan_lens_folder(root)
    with caplog.at_level(logging.WARNING, logger="equilens"):
        images = load_images(folder.files)
    assert images.shape == (6, 1, 8, 8)
    assert "1 of 6 images are not 8x8" in caplog.text and "odd.npy is 10x12" in caplog.text


def test_check_names_the_first_bad_file_and_counts_the_others(tmp_path):
    root = _write(tmp_path, {"no_sub": 3, "sub": 3})
    (root / "sub" / "a_empty.png").write_bytes(b"")
    np.save(root / "sub" / "b_nan.npy", np.full((8, 8), np.nan, np.float32))
    folder = scan_lens_folder(root)
    with pytest.raises(InputError, match=r"a_empty.png: empty file \(0 bytes\) \(and 1 other bad file\(s\)\)$"):
        load_images(folder.files)
