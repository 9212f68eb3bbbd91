"""Reading every supported file format, and rejecting bad files with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from equilens.datasets import read_image
from equilens.errors import InputError

GRADIENT = np.linspace(0, 1, 12 * 10, dtype=np.float32).reshape(12, 10)


def test_npy_shapes_read_alike(tmp_path):
    for name, array in {"hw": GRADIENT, "chw": GRADIENT[None], "hwc": GRADIENT[..., None]}.items():
        np.save(tmp_path / f"{name}.npy", array)
        image = read_image(tmp_path / f"{name}.npy")
        assert image.shape == (12, 10) and image.dtype == np.float32
        np.testing.assert_allclose(image, GRADIENT)


def test_npz_single_array(tmp_path):
    np.savez(tmp_path / "a.npz", GRADIENT)
    np.testing.assert_allclose(read_image(tmp_path / "a.npz"), GRADIENT)


def test_unnormalised_float_is_min_max_scaled(tmp_path):
    np.save(tmp_path / "flux.npy", (GRADIENT * 500 - 3).astype(np.float64))
    image = read_image(tmp_path / "flux.npy")
    assert image.min() == 0 and image.max() == pytest.approx(1)
    np.testing.assert_allclose(image, GRADIENT, atol=1e-6)


def test_8bit_jpg_png_and_rgb(tmp_path):
    grey = (GRADIENT * 255).round().astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(grey).save(tmp_path / "g.jpg", quality=100)
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_image(tmp_path / "g.png"), grey / 255, atol=1e-6)
    np.testing.assert_allclose(read_image(tmp_path / "g.jpg"), grey / 255, atol=3 / 255)
    np.testing.assert_allclose(read_image(tmp_path / "rgb.png"), grey / 255, atol=1 / 255)


def test_16bit_png_uses_full_scale(tmp_path):
    deep = (GRADIENT * 65535).round().astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    np.testing.assert_allclose(read_image(tmp_path / "d.png"), deep / 65535, atol=1e-6)


def test_integer_npy_uses_dtype_scale(tmp_path):
    np.save(tmp_path / "u8.npy", np.full((4, 4), 51, np.uint8))
    np.testing.assert_allclose(read_image(tmp_path / "u8.npy"), 0.2)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.jpg", b"not a jpeg at all", "cannot read image"),
        ("broken.npy", b"\x93NUMPY garbage", "cannot read image"),
        ("notes.txt", b"hello", "unsupported file type"),
    ],
)
def test_corrupt_files_named_in_error(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        read_image(tmp_path / name)
    assert name in str(error.value)


def test_nan_and_inf_rejected(tmp_path):
    bad = GRADIENT.copy()
    bad[3, 3], bad[4, 4] = np.nan, np.inf
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InputError, match=r"nan\.npy: 2 pixel\(s\) are NaN or infinite"):
        read_image(tmp_path / "nan.npy")


def test_non_image_shape_rejected(tmp_path):
    np.save(tmp_path / "cube.npy", np.zeros((3, 5, 5, 5)))
    with pytest.raises(InputError, match="cube.npy: array of shape"):
        read_image(tmp_path / "cube.npy")
