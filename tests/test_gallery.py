"""The evaluation gallery: which images each row shows, and a PNG for awkward sets."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from equilens.datasets.formats import Reading
from equilens.evaluation.gallery import display_bands, gallery_rows, plot_gallery, short_name


def test_rows_confident_per_class_then_wrong_then_nearest():
    scores = np.array([0.1, 0.45, 0.9, 0.02, 0.6, 0.99, 0.55, 0.3, 0.8])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    rows = dict(gallery_rows(scores, labels, ["no_sub", "cdm", "axion"], threshold=0.5, columns=3))
    assert list(rows) == ["most confident\nno_sub, correct", "most confident\ncdm, correct", "most confident\naxion, correct",
                          "misclassified,\nmost confident first", "nearest the\nthreshold"]
    assert rows["most confident\nno_sub, correct"].tolist() == [3, 0, 1]  # lowest scores first
    assert rows["most confident\ncdm, correct"].tolist() == [5, 4, 6]  # highest scores first
    assert rows["most confident\naxion, correct"].tolist() == [8]
    assert rows["misclassified,\nmost confident first"].tolist() == [2, 7]  # 0.4 and 0.2 from the threshold
    assert rows["nearest the\nthreshold"].tolist() == [1, 6, 4]


def test_misclassified_fill_up_to_two_rows_and_an_empty_category_keeps_its_row():
    labels = np.repeat([0, 1], 20)
    wrong_everywhere = gallery_rows(1.0 - labels + np.linspace(0, 0.01, 40), labels, ["no_sub", "sub"], 0.5, columns=8)
    assert [len(i) for _, i in wrong_everywhere] == [0, 0, 8, 8, 8]
    all_right = gallery_rows(labels.astype(float), labels, ["no_sub", "sub"], 0.5, columns=8)
    assert [len(i) for _, i in all_right] == [8, 8, 0, 8]


def test_short_name_keeps_both_ends():
    assert short_name("image_1.jpg") == "image_1.jpg"
    cut = short_name("image_100108096845777232664144315147734473464.jpg", 20)
    assert len(cut) == 20 and cut.startswith("image_100") and cut.endswith("473464.jpg") and "…" in cut


@pytest.mark.parametrize("n", [1, 5])
def test_gallery_png_for_few_images_none_misclassified(tmp_path, n):
    images = np.random.default_rng(0).random((n, 1, 9, 9), dtype=np.float32) * 0.05
    labels = np.arange(n) % 2
    scores = labels * 0.8 + 0.1
    path = plot_gallery(images, [tmp_path / f"image_{i}.jpg" for i in range(n)], labels, ["no_sub", "sub"], scores,
                        0.5, tmp_path / "gallery.png", "p(sub)", "given")
    with Image.open(path) as png:
        assert png.format == "PNG" and png.width > 500


@pytest.mark.parametrize(("channels", "reading", "shown", "says"), [
    (1, Reading(), [0], "grey scale"),
    (3, Reading(bands=("g", "r", "i")), [2, 1, 0], "R, G, B = i, r, g"),
    (3, Reading(), [2, 1, 0], "R, G, B = band 3, band 2, band 1"),
    (3, Reading(colour=True), [0, 1, 2], "the pictures' R, G, B"),
    (2, Reading(bands=("VIS", "Y")), [0], "VIS (of 2 bands)"),
])
def test_gallery_shows_three_bands_in_colour_reddest_as_red(tmp_path, channels, reading, shown, says):
    assert display_bands(channels, reading)[0] == shown and says in display_bands(channels, reading)[1]
    images = np.random.default_rng(0).random((4, channels, 9, 9), dtype=np.float32)
    path = plot_gallery(images, [tmp_path / f"image_{i}.npy" for i in range(4)], np.array([0, 1, 0, 1]), ["no_sub", "sub"],
                        np.array([0.1, 0.9, 0.7, 0.2]), 0.5, tmp_path / "gallery.png", "p(sub)", "given", reading=reading)
    with Image.open(path) as png:
        assert png.format == "PNG"
