"""Every layout equilens reads: DeepLense Common Test I, Models I-III (pickled axion files, read
safely), the lens-finding test's multi-band arrays, FITS cubes and one FITS file per band."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.io import fits

from equilens.cli import main
from equilens.config import TrainConfig
from equilens.datasets.folder import check_images, load_images, scan_lens_folder
from equilens.datasets.formats import Reading, check_image, read_bands
from equilens.errors import InputError
from equilens.models import build_model
from equilens.models.groups import exact_actions
from toy import toy_image

SIZE = 21
TINY_RUN = ["--input-size", "17", "--widths", "2", "3", "--epochs", "1", "--min-images-per-epoch", "0", "--accelerator", "cpu"]


def _bands(rng: np.random.Generator, n_bands: int, clump: bool) -> np.ndarray:
    """(n_bands, SIZE, SIZE) float32: the same lens in every band, each band with its own noise."""
    image = toy_image(rng, SIZE, clump)
    return np.stack([image * (1 + 0.3 * b) + rng.normal(0, 0.01, image.shape) for b in range(n_bands)]).astype(np.float32)


def write_test_i(root: Path, n: int = 6) -> Path:
    """Common Test I: no/, sphere/, vort/, one (1, H, W) float array per image."""
    rng = np.random.default_rng(1)
    for name in ("no", "sphere", "vort"):
        (root / name).mkdir(parents=True)
        for i in range(n):
            np.save(root / name / f"{name}_{i}.npy", toy_image(rng, SIZE, clump=name != "no")[None])
    return root


def write_model_ii(root: Path, n: int = 6) -> Path:
    """Models I-III: no_sub/, cdm/ 2-D float arrays; axion/ object arrays [image, axion mass] written with pickle."""
    rng = np.random.default_rng(2)
    for name in ("no_sub", "cdm", "axion"):
        (root / name).mkdir(parents=True)
        for i in range(n):
            image = toy_image(rng, SIZE, clump=name != "no_sub")
            if name == "axion":
                np.save(root / name / f"axion_sim_{i}.npy", np.array([image, 10 ** (-23 + i / n)], dtype=object), allow_pickle=True)
            else:
                np.save(root / name / f"{name}_sim_{i}.npy", image)
    return root


def write_lens_finding(root: Path, n: int = 6, n_bands: int = 3) -> Path:
    """The lens-finding test: lenses/, nonlenses/, one (bands, H, W) array per object."""
    rng = np.random.default_rng(3)
    for name in ("lenses", "nonlenses"):
        (root / name).mkdir(parents=True)
        for i in range(n):
            np.save(root / name / f"{name}_{i}.npy", _bands(rng, n_bands, clump=name == "lenses"))
    return root


def test_test_i_layout_needs_no_option(tmp_path):
    folder = scan_lens_folder(write_test_i(tmp_path / "train"))
    assert folder.classes == ("no", "sphere", "vort") and folder.labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6


def test_axion_object_arrays_read_safely_with_their_mass(tmp_path):
    root = write_model_ii(tmp_path / "model_ii")
    folder = scan_lens_folder(root)
    assert folder.classes == ("no_sub", "axion", "cdm")
    axion = sorted((root / "axion").iterdir())
    infos = check_images(axion)
    assert [info.value for info in infos] == pytest.approx([10 ** (-23 + i / 6) for i in range(6)])
    image = np.load(axion[0], allow_pickle=True)[0]  # what DeepLense's loaders do, here on our own file
    np.testing.assert_allclose(read_bands(axion[0])[0], image, atol=1e-6)


@pytest.mark.parametrize("numpy_name", ["numpy", "numpy_2_names"])
def test_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, numpy_name):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    path = tmp_path / "axion_evil.npy"
    items = [np.zeros((4, 4), np.float32), Exploit()] if numpy_name == "numpy" else [Exploit()]
    np.save(path, np.array(items, dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"axion_evil\.npy: refused to unpickle .*mkdir") as error:
        check_image(path)
    assert str(error.value).startswith(str(path)) and not marker.exists()
    with pytest.raises(InputError):
        read_bands(path)
    assert not marker.exists()


def _object_npy(path: Path, items: list, module: bytes) -> None:
    """An .npy object array whose pickle names numpy's multiarray module ``module`` (numpy 1
    writes numpy.core.multiarray, numpy 2 numpy._core.multiarray), under either numpy: pickled
    at protocol 3 (numpy 1's), whose globals are plain text lines."""
    from numpy.lib import format as npy_format

    array = np.empty(len(items), dtype=object)
    array[:] = items
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    buffer.seek(0)
    npy_format.read_array_header_1_0(buffer) if npy_format.read_magic(buffer) == (1, 0) else npy_format.read_array_header_2_0(buffer)
    body = pickle.dumps(array, protocol=3)
    for name in (b"numpy.core.multiarray", b"numpy._core.multiarray"):
        body = body.replace(b"c" + name + b"\n", b"c" + module + b"\n")
    assert b"c" + module + b"\n" in body
    path.write_bytes(buffer.getvalue()[: buffer.tell()] + body)


@pytest.mark.parametrize("module", [b"numpy.core.multiarray", b"numpy._core.multiarray"])
def test_numpy_1_and_2_pickles_are_read_under_either_numpy(tmp_path, module):
    path = tmp_path / "axion.npy"
    _object_npy(path, [np.ones((5, 5), np.float32) * 0.5, np.float64(2e-23)], module)
    assert check_image(path).value == pytest.approx(2e-23)
    np.testing.assert_allclose(read_bands(path), 0.5)


@pytest.mark.parametrize(
    "items, message",
    [
        ([np.zeros((4, 4)), 1.0, 2.0], r"expected \[image\] or \[image, number\]"),
        (["text", 1.0], r"object array holds \[str, float\]"),
    ],
)
def test_other_object_arrays_are_one_clear_error(tmp_path, items, message):
    path = tmp_path / "odd.npy"
    array = np.empty(len(items), dtype=object)
    array[:] = items
    np.save(path, array, allow_pickle=True)
    with pytest.raises(InputError, match=message):
        check_image(path)


def test_lens_finding_layout_names_its_classes(tmp_path):
    root = write_lens_finding(tmp_path / "lf")
    with pytest.raises(InputError, match=r"no 'no_sub' folder .*found \['lenses', 'nonlenses'\].*--classes"):
        scan_lens_folder(root)
    folder = scan_lens_folder(root, negative="nonlenses")
    assert folder.classes == ("nonlenses", "lenses")
    images = load_images(folder.files)
    assert images.shape == (12, 3, SIZE, SIZE)


@pytest.mark.parametrize("layout", ["chw", "hwc"])
def test_band_axis_first_or_last(tmp_path, layout):
    bands = np.random.default_rng(0).uniform(0, 1, (4, 9, 11)).astype(np.float32)
    np.save(tmp_path / "x.npy", bands if layout == "chw" else np.moveaxis(bands, 0, -1))
    assert tuple(check_image(tmp_path / "x.npy"))[:3] == (4, 9, 11)
    np.testing.assert_allclose(read_bands(tmp_path / "x.npy"), bands)


def test_colour_pictures_as_three_bands_when_asked(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (9, 9, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    assert read_bands(tmp_path / "c.png").shape == (1, 9, 9)
    colour = read_bands(tmp_path / "c.png", Reading(colour=True))
    assert check_image(tmp_path / "c.png", Reading(colour=True)).channels == 3
    np.testing.assert_allclose(colour, np.moveaxis(rgb, -1, 0) / 255, atol=1e-6)


def _write_fits(path: Path, data, name: str | None = None) -> None:
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(data, name=name)] if name else [fits.PrimaryHDU(data)]
    fits.HDUList(hdus).writeto(path)


def test_fits_cube_named_hdu_and_nan_filled(tmp_path, caplog):
    cube = np.random.default_rng(0).normal(10, 1, (4, 9, 9))
    cube[1, 2, 3] = np.nan
    _write_fits(tmp_path / "a.fits", cube)
    _write_fits(tmp_path / "b.fits", cube[0], name="SCI")
    info = check_image(tmp_path / "a.fits")
    assert (info.channels, info.size, info.filled) == (4, (9, 9), 1)
    bands = read_bands(tmp_path / "a.fits")
    assert bands.shape == (4, 9, 9) and np.isfinite(bands).all()
    assert [band.min() for band in bands] == [0, 0, 0, 0] and [band.max() for band in bands] == pytest.approx([1] * 4)
    assert read_bands(tmp_path / "b.fits", Reading(hdu="sci")).shape == (1, 9, 9)
    assert read_bands(tmp_path / "b.fits").shape == (1, 9, 9)  # the first HDU with image data
    with caplog.at_level("WARNING", logger="equilens"):
        load_images([tmp_path / "a.fits"])
    assert "1 of 1 images had NaN or masked pixels" in caplog.text and "a.fits: 1" in caplog.text


def test_hdu_index_given_as_a_number_from_python(tmp_path):
    # equilens.train(..., hdu=1) and TrainConfig(hdu=1): the CLI's "1" as a Python int.
    _write_fits(tmp_path / "b.fits", np.arange(81.0).reshape(9, 9), name="SCI")
    reading = TrainConfig(data=str(tmp_path), hdu=1).reading
    assert reading == Reading(hdu="1") and reading.to_dict()["hdu"] == "1"
    assert np.array_equal(read_bands(tmp_path / "b.fits", Reading(hdu=1)), read_bands(tmp_path / "b.fits", Reading(hdu="SCI")))
    with pytest.raises(InputError, match="no HDU '2'"):
        check_image(tmp_path / "b.fits", Reading(hdu=2))


def test_one_fits_file_per_band(tmp_path):
    reading = Reading(bands=("g", "r", "i"))
    rng = np.random.default_rng(0)
    (tmp_path / "lenses").mkdir()
    for obj in ("obj1", "obj2"):
        for band in reading.bands:
            _write_fits(tmp_path / "lenses" / f"{obj}_{band}.fits", rng.normal(0, 1, (7, 7)))
    from equilens.datasets.folder import list_images

    files = list_images(tmp_path / "lenses", reading=reading)
    assert [f.name for f in files] == ["obj1_g.fits", "obj2_g.fits"]
    assert read_bands(files[0], reading).shape == (3, 7, 7)
    np.testing.assert_allclose(read_bands(tmp_path / "lenses" / "obj1_r.fits")[0], read_bands(files[0], reading)[1])


@pytest.mark.parametrize(
    "case, message",
    [
        ("not_fits", r"x_g\.fits: cannot read image .*SIMPLE"),
        ("truncated", r"x_g\.fits: truncated FITS file"),
        ("missing_hdu", r"x_g\.fits: no HDU 'SCI' \(HDUs: \['PRIMARY'\]\)"),
        ("missing_band", r"x_i\.fits: missing: band i of x_g\.fits"),
        ("band_size", r"x_r\.fits: band image of shape \(5, 5\); band g \(x_g\.fits\) is \(7, 7\)"),
        ("all_nan", r"x_g\.fits: a band holds no finite pixel"),
        ("table", r"x_g\.fits: no HDU holds image data"),
    ],
)
def test_bad_fits_named_in_one_line(tmp_path, case, message):
    reading = Reading(bands=("g", "r", "i"), hdu="SCI" if case == "missing_hdu" else None)
    plane = np.ones((7, 7))
    for band in reading.bands:
        if not (case == "missing_band" and band == "i"):
            _write_fits(tmp_path / f"x_{band}.fits", np.ones((5, 5)) if case == "band_size" and band == "r" else plane)
    first = tmp_path / "x_g.fits"
    if case == "not_fits":
        first.write_bytes(b"hello, not a FITS file" * 20)
    elif case == "truncated":
        first.write_bytes(first.read_bytes()[:3000])
    elif case == "all_nan":
        first.unlink()
        _write_fits(first, np.full((7, 7), np.nan))
    elif case == "table":
        first.unlink()
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]).writeto(first)
    with pytest.raises(InputError, match=message):
        check_images([first], reading)


def test_bands_that_differ_between_files_are_named(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 9, 9), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((9, 9), np.float32))
    with pytest.raises(InputError, match=r"b\.npy: 1 band\(s\); expected 3, as the other images"):
        check_images([tmp_path / "a.npy", tmp_path / "b.npy"])
    with pytest.raises(InputError, match=r"a\.npy: 3 band\(s\); expected 4 \(u, g, r, i\)"):
        check_images([tmp_path / "a.npy"], Reading(bands=("u", "g", "r", "i")))


def test_scalings_are_per_band(tmp_path):
    bands = np.stack([np.linspace(0, 100, 41 * 41).reshape(41, 41), np.linspace(-5, 5, 41 * 41).reshape(41, 41)])
    bands[0, 0, 0] = 1e4  # a hot pixel
    np.save(tmp_path / "x.npy", bands)
    minmax = read_bands(tmp_path / "x.npy")
    asinh = read_bands(tmp_path / "x.npy", Reading(scaling="asinh"))
    percentile = read_bands(tmp_path / "x.npy", Reading(scaling="percentile"))
    for scaled in (minmax, asinh, percentile):
        assert [(band.min(), band.max()) for band in scaled] == [pytest.approx((0, 1))] * 2
    assert np.median(percentile[0]) > 10 * np.median(minmax[0])  # the hot pixel no longer sets the scale
    assert np.median(asinh[0]) > np.median(minmax[0])  # faint pixels lifted
    with pytest.raises(InputError, match="--scaling 'log'"):
        Reading(scaling="log")


@pytest.mark.parametrize("bands", [3, 4])
@pytest.mark.parametrize("architecture", ["steerable", "steerable_autoencoder"])
def test_multiband_steerable_models_are_exactly_invariant(bands, architecture):
    torch.manual_seed(0)
    config = {"architecture": architecture, "group": "D4", "input_size": 17, "widths": [2, 3], "in_channels": bands}
    if architecture == "steerable":
        config["num_classes"] = 2
    model = build_model(config).eval()
    images = torch.rand(4, bands, 19, 19)
    with torch.no_grad():
        score = (lambda x: torch.softmax(model(x), 1)) if architecture == "steerable" else model.anomaly_score
        base = score(images)
        for name, act in exact_actions("D4").items():
            assert (score(act(images)) - base).abs().max() < 1e-4, name


@pytest.mark.parametrize("architecture", ["cnn", "cnn_autoencoder"])
def test_plain_models_take_bands(architecture):
    config = {"architecture": architecture, "input_size": 17, "widths": [4, 4], "in_channels": 4}
    if architecture == "cnn":
        config["num_classes"] = 3
    model = build_model(config).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 4, 19, 19))
    assert out.shape == ((2, 3) if architecture == "cnn" else (2, 4, 17, 17))


def test_model_ii_trains_and_keeps_axion_masses(tmp_path):
    root = write_model_ii(tmp_path / "model_ii")
    run = tmp_path / "runs" / "m2"
    assert main(["train", "--data", str(root), *TINY_RUN, "--runs-dir", str(tmp_path / "runs"), "--name", "m2"]) == 0
    record = json.loads((run / "config.json").read_text())
    assert record["classes"] == ["no_sub", "axion", "cdm"] and record["input"]["channels"] == 1
    rows = list(csv.DictReader((run / "values.csv").open()))
    assert len(rows) == 6 and {r["class"] for r in rows} == {"axion"} and {r["split"] for r in rows} == {"train", "val", "test"}
    masses = {r["file"]: float(r["value"]) for r in rows}
    assert masses["axion/axion_sim_0.npy"] == pytest.approx(1e-23)


def test_lens_finding_trains_evaluates_predicts_and_refuses_other_bands(tmp_path, capsys):
    root = write_lens_finding(tmp_path / "lf")
    runs, run = tmp_path / "runs", tmp_path / "runs" / "lf"
    assert main(["train", "--data", str(root), "--classes", "nonlenses", "lenses", "--bands", "g", "r", "i", "--scaling", "asinh",
                 *TINY_RUN, "--runs-dir", str(runs), "--name", "lf"]) == 0
    info = json.loads((run / "model.json").read_text())
    assert info["classes"] == ["nonlenses", "lenses"] and info["model"]["in_channels"] == 3
    assert info["input"] == {"colour": False, "bands": ["g", "r", "i"], "hdu": None, "scaling": "asinh", "channels": 3}
    assert main(["evaluate", str(run), "--bootstrap", "10", "--invariance-images", "4", "--out", str(tmp_path / "report")]) == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["score"] == "p(lenses) = 1 - p(nonlenses)" and metrics["invariance"]["rot90_max_abs_change"] < 1e-4
    scores = tmp_path / "scores.csv"
    assert main(["predict", str(run), str(root / "lenses"), "--out", str(scores), "--precision", "float32"]) == 0
    rows = list(csv.DictReader(scores.open()))
    assert list(rows[0]) == ["path", "p_lenses", "p_nonlenses"] and len(rows) == 6
    # Predict reads with the run's scaling: the same probabilities as the model on asinh-scaled bands (float32 both).
    from equilens.weights import load_model

    model, _ = load_model(run)
    with torch.no_grad():
        expected = torch.softmax(model(load_images([Path(rows[0]["path"])], reading=Reading(scaling="asinh"))), 1)[0, 1]
    assert float(rows[0]["p_lenses"]) == pytest.approx(expected.item(), abs=1e-5)
    # Grey images are not what this model reads.
    grey = tmp_path / "grey"
    grey.mkdir()
    np.save(grey / "one.npy", np.zeros((SIZE, SIZE), np.float32))
    result = subprocess.run([sys.executable, "-m", "equilens.cli", "predict", str(run), str(grey), "--out", str(tmp_path / "g.csv")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "one.npy: 1 band(s); expected 3 (g, r, i)" in result.stderr and not (tmp_path / "g.csv").exists()


def test_test_i_trains_from_data_alone(tmp_path):
    root = write_test_i(tmp_path / "test_i")
    assert main(["train", "--data", str(root), *TINY_RUN, "--runs-dir", str(tmp_path / "runs"), "--name", "t1"]) == 0
    assert json.loads((tmp_path / "runs" / "t1" / "model.json").read_text())["classes"] == ["no", "sphere", "vort"]


def test_lens_finding_without_classes_is_one_clear_line(tmp_path):
    root = write_lens_finding(tmp_path / "lf")
    result = subprocess.run([sys.executable, "-m", "equilens.cli", "train", "--data", str(root)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "found ['lenses', 'nonlenses']; name the classes with --classes" in result.stderr


@pytest.mark.parametrize("file_format", ["npy", "fits", "fits-per-band"])
def test_simulated_bands_are_read_back_as_bands(tmp_path, file_format):
    from equilens.simulation import get_preset, simulate_dataset

    out = tmp_path / file_format
    config = get_preset("deeplense-model-i").replace(num_pix=31, pixel_scale_arcsec=0.2, lens_light=True)
    simulate_dataset(out, 2, config, bands=("g", "r", "i"), file_format=file_format, progress=False)
    assert json.loads((out / "simulation.json").read_text())["bands"] == ["g", "r", "i"]
    reading = Reading(bands=("g", "r", "i"))
    folder = scan_lens_folder(out, reading=reading)
    assert len(folder.files) == 4 and all(check_image(f, reading).channels == 3 for f in folder.files)
    bands = read_bands(folder.files[0], reading)
    assert bands.shape == (3, 31, 31)


def test_simulated_colours_differ_between_lens_light_and_arcs():
    """The red lens galaxy dominates the centre in i, the blue source's arcs stand out in g."""
    from equilens.simulation import LensRenderer, get_preset

    renderer = LensRenderer(get_preset("deeplense-model-i").replace(num_pix=41, pixel_scale_arcsec=0.1, lens_light=True, noise=False))
    g, i = renderer.render_bands(renderer.draw_parameters("no_sub", 7), ("g", "i"))
    ring = np.hypot(*np.mgrid[:41, :41] - 20) * 0.1
    on_ring = np.abs(ring - 1.28) < 0.1
    centre_to_ring = [band[20, 20] / band[on_ring].max() for band in (g, i)]
    assert centre_to_ring[1] > 3 * centre_to_ring[0]


def test_grey_simulations_keep_their_manifest(tmp_path):
    from equilens.simulation import get_preset, simulate_dataset

    simulate_dataset(tmp_path / "grey", 1, get_preset("deeplense-model-i").replace(num_pix=21), progress=False)
    assert "bands" not in json.loads((tmp_path / "grey" / "simulation.json").read_text())


def test_four_band_fits_trains_an_invariant_model(tmp_path):
    """One FITS file per band, u g r i: trained, the D4 model's probabilities stay invariant."""
    rng = np.random.default_rng(4)
    root = tmp_path / "fits"
    for name in ("nonlenses", "lenses"):
        (root / name).mkdir(parents=True)
        for i in range(6):
            for band, plane in zip("ugri", _bands(rng, 4, clump=name == "lenses")):
                _write_fits(root / name / f"obj{i}_{band}.fits", plane)
    runs, run = tmp_path / "runs", tmp_path / "runs" / "four"
    assert main(["train", "--data", str(root), "--classes", "nonlenses", "--bands", "u", "g", "r", "i", *TINY_RUN,
                 "--runs-dir", str(runs), "--name", "four"]) == 0
    assert json.loads((run / "model.json").read_text())["model"]["in_channels"] == 4
    assert main(["evaluate", str(run), "--bootstrap", "10", "--invariance-images", "4", "--out", str(tmp_path / "report")]) == 0
    invariance = json.loads((tmp_path / "report" / "metrics.json").read_text())["invariance"]
    assert invariance["rot90_max_abs_change"] < 1e-4 and invariance["flip_max_abs_change"] < 1e-4


def test_training_on_a_pickle_that_would_run_code_is_one_line(tmp_path):
    root = write_model_ii(tmp_path / "model_ii", n=3)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    np.save(root / "axion" / "axion_sim_1.npy", np.array([np.zeros((4, 4)), Exploit()], dtype=object), allow_pickle=True)
    result = subprocess.run([sys.executable, "-m", "equilens.cli", "train", "--data", str(root), "--runs-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and not marker.exists()
    assert "axion_sim_1.npy: refused to unpickle this object array: it names posix.mkdir" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_evaluate_on_another_folder_keeps_the_models_class_order(tmp_path):
    # Labels in the folder's name order (axion, cdm) would no longer match the model's outputs
    # (cdm, axion), and the per-class metrics were silently left out.
    root = write_model_ii(tmp_path / "model_ii")
    runs = tmp_path / "runs"
    assert main(["train", "--data", str(root), "--classes", "no_sub", "cdm", "axion", *TINY_RUN, "--runs-dir", str(runs),
                 "--name", "m2"]) == 0
    assert main(["evaluate", str(runs / "m2"), "--data", str(root), "--bootstrap", "10", "--invariance-images", "0",
                 "--out", str(tmp_path / "report")]) == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["classes"] == ["no_sub", "cdm", "axion"] and list(metrics["multiclass"]["one_vs_rest"]) == ["no_sub", "cdm", "axion"]


def test_evaluate_a_no_sub_model_on_a_folder_whose_negative_is_no(toy_run, tmp_path):
    # Both are DeepLense's class without substructure (Test IV's no_sub, Common Test I's no).
    root = write_test_i(tmp_path / "test_i")
    assert main(["evaluate", str(toy_run), "--data", str(root), "--bootstrap", "10", "--invariance-images", "0",
                 "--out", str(tmp_path / "report")]) == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["classes"] == ["no", "sphere", "vort"] and metrics["n_images"] == 18
    assert metrics["score"] == "p(substructure) = 1 - p(no_sub)"
