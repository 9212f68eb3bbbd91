"""Reading a cutout at the model's pixel scale: the resampler, the WCS variants, what predict
writes, one sky at two pixel scales scoring alike, and the bad inputs (docs/layouts.md, "Pixel scale")."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import equilens
from equilens.cli import main
from equilens.datasets.formats import Reading
from equilens.datasets.formats.wcs import pixel_scale_arcsec
from equilens.datasets.pixel_grid import GridReading, PixelGrid, read_on_grid, training_grid, training_pixel_scale
from equilens.datasets.resample import resample_onto
from equilens.errors import InputError
from equilens.weights import WeightsRecord
from toy import write_toy_dataset  # tests/ is on sys.path under pytest's default import mode

DEGREE = 3600.0  # arcsec


def lens_sky(pixel_scale: float, size: int, ring_amplitude: float, subpixel: float = 0.01) -> np.ndarray:
    """(size, size) pixel means of one analytic lens: a cored elliptical Sérsic lens light and an
    Einstein ring of radius 1.0 arcsec brighter on one side, on a sky of 0.1; integrated on
    ``subpixel`` arcsec sub-pixels, so two pixel scales show the same sky."""
    sub = int(round(pixel_scale / subpixel))
    centres = (np.arange(size * sub) - (size * sub - 1) / 2) * pixel_scale / sub
    y, x = np.meshgrid(centres, centres, indexing="ij")
    light = 60 * np.exp(-3.6 * ((np.sqrt(x**2 + (y / 0.8) ** 2 + 0.1**2) / 0.3) ** (1 / 1.3) - 1))
    ring = ring_amplitude * np.exp(-0.5 * ((np.hypot(x / 1.1, y) - 1.0) / 0.08) ** 2) * (1 + 0.8 * np.cos(np.arctan2(y, x) - 0.7))
    return (light + ring + 0.1).reshape(size, sub, size, sub).mean(axis=(1, 3))


def celestial_header(pixel_scale: float, form: str = "CD", rotation_deg: float = 0.0,
                     ctypes: tuple[str, str] = ("RA---TAN", "DEC--TAN")) -> fits.Header:
    """A TAN header of ``pixel_scale`` arcsec, written as CD, or CDELT with PC, or CDELT alone."""
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = ctypes
    header["CRVAL1"], header["CRVAL2"] = 150.1, 2.2
    cos, sin = np.cos(np.radians(rotation_deg)), np.sin(np.radians(rotation_deg))
    scale = pixel_scale / DEGREE
    if form == "CD":
        header.update({"CD1_1": -scale * cos, "CD1_2": scale * sin, "CD2_1": scale * sin, "CD2_2": scale * cos})
    else:
        header.update({"CDELT1": -scale, "CDELT2": scale})
        if form == "CDELT+PC":
            header.update({"PC1_1": cos, "PC1_2": -sin, "PC2_1": -sin, "PC2_2": cos})
    return header


def write_fits(path: Path, image: np.ndarray, header: fits.Header | None = None) -> Path:
    fits.PrimaryHDU(image.astype(">f8"), header=header).writeto(path)  # HST cutouts: big-endian float64
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_resampling_conserves_flux_and_is_exact_for_integer_factors():
    image = np.random.default_rng(0).gamma(2.0, size=(2, 24, 36))
    # Binning by 2 and 3 are block means; doubling repeats each pixel.
    np.testing.assert_allclose(resample_onto(image, (0.5, 0.5), (12, 18), np.zeros(2)),
                               image.reshape(2, 12, 2, 18, 2).mean(axis=(2, 4)), rtol=0, atol=1e-13)
    np.testing.assert_allclose(resample_onto(image, (1 / 3, 1 / 3), (8, 12), np.zeros(2)),
                               image.reshape(2, 8, 3, 12, 3).mean(axis=(2, 4)), rtol=0, atol=1e-13)
    np.testing.assert_array_equal(resample_onto(image, (2.0, 2.0), (48, 72), np.zeros(2)), image.repeat(2, 1).repeat(2, 2))
    assert np.array_equal(resample_onto(image, (1.0, 1.0), (24, 36), np.zeros(2)), image)
    # 0.03 -> 0.05 arcsec (zoom 0.6), the output covering the input: value x pixel area is conserved.
    zoom = 0.6
    out = resample_onto(image, (zoom, zoom), (int(np.ceil(24 * zoom)) + 2, int(np.ceil(36 * zoom)) + 2), np.zeros(2))
    np.testing.assert_allclose(out.sum(axis=(1, 2)) / zoom**2, image.sum(axis=(1, 2)), rtol=1e-12)
    # Past the input's edge, an output pixel takes the fill for the part it does not cover.
    padded = resample_onto(np.ones((1, 4, 4)), (1.0, 1.0), (6, 6), np.array([5.0]))
    assert padded[0, 0, 0] == 5.0 and padded[0, 1, 1] == 1.0 and padded.sum() == 16 + 20 * 5.0


@pytest.mark.parametrize("form", ["CD", "CDELT+PC", "CDELT"])
def test_wcs_forms_read_the_same_scale(tmp_path, form):
    rotation = 0.0 if form == "CDELT" else 30.0
    header = celestial_header(0.03, form, rotation)
    assert pixel_scale_arcsec(header, tmp_path / "x.fits") == pytest.approx((0.03, 0.03), rel=1e-9)
    path = write_fits(tmp_path / f"{form}.fits", np.ones((40, 40)), header)
    _, placement = read_on_grid(path, GridReading(grid=PixelGrid(0.05, (20, 20))))
    assert placement.pixel_scale == pytest.approx((0.03, 0.03)) and placement.zoom == pytest.approx((0.6, 0.6))


def test_a_cutout_at_003_scores_as_the_same_sky_at_005(tmp_path, caplog):
    """sim-test-iv (trained at 0.05 arcsec) scores one sky alike at 0.05 and at 0.03 arcsec per pixel,
    from a FITS WCS or from --pixel-scale; read as it is, the 0.03 arcsec cutout scores otherwise."""
    rows = {}
    for amplitude in (4.0, 13.0):  # two ring brightnesses: scores near 0.04 and 0.94
        folder = tmp_path / f"ring{amplitude:g}"
        folder.mkdir()
        write_fits(folder / "a_005.fits", lens_sky(0.05, 150, amplitude), celestial_header(0.05, "CD"))
        fine = lens_sky(0.03, 150, amplitude)  # 4.5 arcsec: the model's 7.5 arcsec field is padded with the sky
        write_fits(folder / "b_003.fits", fine, celestial_header(0.03, "CDELT+PC"))
        np.save(folder / "c_003.npy", fine)
        out = folder / "scores.csv"
        with caplog.at_level("WARNING", logger="equilens"):
            assert main(["predict", "--pretrained", "sim-test-iv", str(folder), "--out", str(out), "--device", "cpu",
                         "--precision", "float32", "--pixel-scale", "0.03"]) == 0
        rows[amplitude] = {Path(row["path"]).stem: row for row in _rows(out)}
        naive = folder / "naive.csv"  # the .npy without --pixel-scale: taken at the model's scale, with a warning
        caplog.clear()
        with caplog.at_level("WARNING", logger="equilens"):
            assert main(["predict", "--pretrained", "sim-test-iv", str(folder / "c_003.npy"), "--out", str(naive),
                         "--device", "cpu", "--precision", "float32"]) == 0
        assert caplog.text.count("have no pixel scale") == 1
        rows[amplitude]["naive"] = _rows(naive)[0]
    for amplitude, by_name in rows.items():
        score = {name: float(row["p_substructure"]) for name, row in by_name.items()}
        assert abs(score["b_003"] - score["a_005"]) < 0.02 and abs(score["c_003"] - score["a_005"]) < 0.02, score
        assert abs(score["naive"] - score["a_005"]) > 0.02, score
        assert [by_name["a_005"][c] for c in ("pixel_scale_arcsec", "resample_factor", "crop_y_px")] == ["0.05", "1", "0.00"]
        assert [by_name["b_003"][c] for c in ("pixel_scale_arcsec", "resample_factor", "crop_y_px", "crop_x_px")] \
            == ["0.03", "0.6", "-30.00", "-30.00"]
        assert by_name["naive"]["pixel_scale_arcsec"] == "nan" and by_name["naive"]["resample_factor"] == "1"


def test_models_record_their_pixel_grid(tmp_path):
    model = equilens.load("sim-test-iv", device="cpu")
    assert model.pixel_scale == 0.05 and model.image_size == (150, 150)
    assert model.reading.grid.field_of_view == pytest.approx((7.5, 7.5))
    # Weights saved before the grid was recorded load with it unknown.
    assert WeightsRecord.from_info({"model": {}}).grid == PixelGrid(None, None)
    # A run's scale: --pixel-scale, else an equilens simulate folder's; a disagreement is refused.
    (tmp_path / "simulation.json").write_text(json.dumps({"config": {"pixel_scale_arcsec": 0.05}}))
    assert training_pixel_scale(None, tmp_path) == 0.05 and training_pixel_scale(None, tmp_path / "sub") is None
    assert training_pixel_scale(0.1, tmp_path / "sub") == 0.1
    with pytest.raises(InputError, match=r"--pixel-scale 0.03: .*simulation\.json says its images are at 0.05"):
        training_pixel_scale(0.03, tmp_path)
    for i, side in enumerate((20, 20, 18)):
        np.save(tmp_path / f"{i}.npy", np.zeros((side, side)))
    assert training_grid(0.05, sorted(tmp_path.glob("*.npy")), Reading()).to_dict() == {
        "pixel_scale_arcsec": 0.05, "image_size": [20, 20], "field_of_view_arcsec": [1.0, 1.0]}


def test_bad_inputs_are_one_line_naming_the_file(tmp_path, capsys):
    reading = GridReading(grid=PixelGrid(0.05, (150, 150)))
    linear = celestial_header(0.03, ctypes=("LINEAR", "LINEAR"))
    cases = {
        "linear.fits": (write_fits(tmp_path / "linear.fits", np.ones((150, 150)), linear), r"its WCS is not celestial"),
        # 60 px at 0.03 arcsec: 1.8 arcsec, under half the model's 7.5.
        "small.fits": (write_fits(tmp_path / "small.fits", np.ones((60, 60)), celestial_header(0.03)),
                       r"spans 1\.80 x 1\.80 arcsec, under half the model's field of view \(7\.50 x 7\.50 arcsec\)"),
    }
    for name, (path, message) in cases.items():
        with pytest.raises(InputError, match=rf"^{tmp_path / name}: .*{message}") as error:
            read_on_grid(path, reading)
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match=r"--pixel-scale 0.03: this model records no pixel scale"):
        GridReading(grid=PixelGrid(None, (33, 33))).with_options(pixel_scale=0.03)
    with pytest.raises(InputError, match=r"--pixel-scale -1.0: must be a positive"):
        reading.with_options(pixel_scale=-1.0)
    # Euclid-style multi-extension FITS: a wrong --hdu names the file and lists its extensions.
    mef = tmp_path / "102018_euclid.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(lens_sky(0.1, 100, 9.0), celestial_header(0.1), name="VIS_BGSUB"),
                  fits.ImageHDU(np.ones((21, 21)), name="VIS_PSF")]).writeto(mef)
    assert main(["predict", "--pretrained", "sim-test-iv", str(mef), "--out", str(tmp_path / "s.csv"), "--device", "cpu",
                 "--hdu", "NIR_H_BGSUB"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("equilens: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"equilens: error: {mef}: no HDU 'NIR_H_BGSUB' (HDUs: ['PRIMARY', "
                                                     "'VIS_BGSUB', 'VIS_PSF'])")
    assert main(["predict", "--pretrained", "sim-test-iv", str(mef), "--out", str(tmp_path / "s.csv"), "--device", "cpu",
                 "--hdu", "VIS_BGSUB"]) == 0
    row = _rows(tmp_path / "s.csv")[0]
    assert (row["pixel_scale_arcsec"], row["resample_factor"], row["crop_y_px"]) == ("0.1", "2", "25.00")


def test_runs_record_their_grid_and_a_model_of_unknown_scale_refuses_one(toy_run, toy_data, tmp_path, capsys, caplog):
    model = equilens.load(toy_run, device="cpu")  # trained on a folder of no known scale
    assert model.pixel_scale is None and model.image_size == (33, 33)
    assert main(["predict", str(toy_run), str(toy_data / "sub"), "--out", str(tmp_path / "s.csv"), "--pixel-scale", "0.05"]) == 2
    assert "--pixel-scale 0.05: this model records no pixel scale" in capsys.readouterr().err
    # An equilens simulate folder's scale is the run's.
    simulated = write_toy_dataset(tmp_path / "sim", n_per_class=16, size=21)
    (simulated / "simulation.json").write_text(json.dumps({"config": {"pixel_scale_arcsec": 0.08}}))
    assert main(["train", "--data", str(simulated), "--model", "cnn", "--input-size", "9", "--widths", "2", "--epochs", "1",
                 "--accelerator", "cpu", "--runs-dir", str(tmp_path / "runs"), "--name", "sim"]) == 0
    grid = json.loads((tmp_path / "runs" / "sim" / "model.json").read_text())["pixel_grid"]
    assert grid == {"pixel_scale_arcsec": 0.08, "image_size": [21, 21], "field_of_view_arcsec": [pytest.approx(1.68)] * 2}
    # Its own test split, simulated too, is read at that scale: no file is taken "as it is".
    with caplog.at_level("WARNING", logger="equilens"):
        assert main(["evaluate", str(tmp_path / "runs" / "sim"), "--out", str(tmp_path / "report"), "--bootstrap", "10",
                     "--invariance-images", "0"]) == 0
    assert "no pixel scale" not in caplog.text


def test_evaluate_reads_another_hdu_at_the_models_scale(tmp_path, capsys):
    """Multi-extension cutouts at 0.03 arcsec, 4.5 arcsec wide: evaluate with --hdu reads them at sim-test-iv's scale."""
    for name, amplitude in (("no_sub", 4.0), ("sub", 13.0)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i, shift in enumerate((0.0, 0.2)):
            sky = lens_sky(0.03, 150, amplitude + shift)
            fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(sky, celestial_header(0.03), name="SCI")]).writeto(
                tmp_path / "data" / name / f"{i}.fits")
    args = ["evaluate", "--pretrained", "sim-test-iv", "--data", str(tmp_path / "data"), "--device", "cpu", "--bootstrap", "10",
            "--invariance-images", "0", "--precision", "float32"]
    assert main([*args, "--out", str(tmp_path / "wrong"), "--hdu", "ERR"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("equilens: error:")]
    assert len(errors) == 1 and "0.fits: no HDU 'ERR' (HDUs: ['PRIMARY', 'SCI'])" in errors[0]
    assert main([*args, "--out", str(tmp_path / "report"), "--hdu", "SCI"]) == 0
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["substructure_vs_none"]["auc"] == 1.0
