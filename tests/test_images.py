"""Reading every supported file format, and rejecting bad files with a clear message."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from equilens.datasets.folder import check_images
from equilens.datasets.formats import check_image, read_image
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


REAL_TEST_IV = Path(__file__).parents[2] / "shared/data/test-iv"  # real DeepLense Test IV images, beside the clone


def _jpeg_bytes() -> bytes:
    """A noisy 64 px JPEG: its compressed pixels, not its header, fill the last bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((GRADIENT * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_check_image_returns_the_size_of_every_format(tmp_path):
    Image.fromarray((GRADIENT * 255).astype(np.uint8)).save(tmp_path / "a.jpg")
    Image.fromarray((GRADIENT * 65535).astype(np.uint16)).save(tmp_path / "a.png")
    Image.fromarray((GRADIENT * 255).astype(np.uint8)).convert("LA").save(tmp_path / "la.png")
    np.save(tmp_path / "a.npy", GRADIENT[None])
    np.savez_compressed(tmp_path / "a.npz", image=GRADIENT[..., None], other=np.zeros(3))
    for name in ("a.jpg", "a.png", "la.png", "a.npy", "a.npz"):
        assert check_image(tmp_path / name).size == (12, 10), name
        assert read_image(tmp_path / name).shape == (12, 10), name


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.jpg", lambda: b"", r"empty file \(0 bytes\)"),
        ("empty.npy", lambda: b"", r"empty file \(0 bytes\)"),
        ("cut.jpg", lambda: _jpeg_bytes()[:-40], "truncated JPEG"),
        ("cut.png", lambda: _png_bytes()[:-30], "cannot read image"),
        ("flipped.png", lambda: _png_bytes()[:60] + bytes([_png_bytes()[60] ^ 0xFF]) + _png_bytes()[61:], "cannot read image"),
        ("cut.npy", lambda: _npy_bytes(GRADIENT)[:-8], "cannot read image"),
        ("cube.npy", lambda: _npy_bytes(np.zeros((3, 5, 5, 5))), r"array of shape \(3, 5, 5, 5\) is not an image"),
        ("nan.npy", lambda: _npy_bytes(np.full((4, 4), np.nan)), r"16 pixel\(s\) are NaN"),
        ("text.npy", lambda: _npy_bytes(np.full((4, 4), "a")), "is not a number type"),
        ("empty.npz", lambda: _npz_bytes(np.zeros((0, 4))), r"array of shape \(0, 4\) holds no pixels"),
        ("line.npz", lambda: _npz_bytes(np.zeros(9)), r"array of shape \(9,\) is not an image"),
        ("notes.txt", lambda: b"hello", "unsupported file type"),
    ],
)
def test_check_image_names_the_file_and_the_problem(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content())
    with pytest.raises(InputError, match=message) as error:
        check_image(tmp_path / name)
    assert str(error.value).startswith(str(tmp_path / name))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, array)
    return buffer.getvalue()


@pytest.mark.skipif(not REAL_TEST_IV.is_dir(), reason=f"real data not at {REAL_TEST_IV}")
def test_real_test_iv_files_pass_the_check_and_a_cut_copy_fails(tmp_path):
    files = sorted(REAL_TEST_IV.glob("*/*.jpg"))
    assert files and {info.size for info in check_images(files)} == {(150, 150)}
    (tmp_path / "cut.jpg").write_bytes(files[0].read_bytes()[:-100])
    with pytest.raises(InputError, match="cut.jpg: truncated JPEG"):
        check_image(tmp_path / "cut.jpg")
