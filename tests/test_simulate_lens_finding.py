"""The lens-finding scene (preset hst-lens-finding): nonlenses/ and lenses/ (small images, seconds each)."""

from __future__ import annotations

import argparse
import csv
import json
import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from equilens.errors import InputError
from equilens.simulation import PRESETS, add_simulate_arguments, image_seed, run_simulate, simulate_dataset
from equilens.simulation.cli import config_from_args
from equilens.simulation.config import NONLENS_KINDS
from equilens.simulation.lens_finding import LensFindingRenderer

PRESET = PRESETS["hst-lens-finding"]
# 64 px at ACS's 0.05″: the lens and its arcs, fewer pixels to render.
SMALL = PRESET.replace(num_pix=64)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    return parser.parse_args(argv)


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_preset_is_hst_acs_f814w():
    assert PRESET.scene == "lens_finding"
    assert (PRESET.num_pix, PRESET.pixel_scale_arcsec, PRESET.psf_fwhm_arcsec) == (100, 0.05, 0.1)
    assert PRESET.magnitude_zero_point == 25.94
    assert 10**PRESET.exposure_time_log10_range_s[0] == pytest.approx(2028.0)
    # Read noise 4.2 e⁻ in each of 4 exposures and a 22.0 mag/″² sky over 2028 s.
    sky_e = 10 ** (-0.4 * (22.0 - 25.94)) * 0.05**2 * 2028
    assert PRESET.background_rms == pytest.approx(math.sqrt(4 * 4.2**2 + sky_e) / 2028)


def test_dataset_holds_both_classes_negative_first(tmp_path):
    out = simulate_dataset(tmp_path / "data", 3, SMALL, progress=False)
    manifest = json.loads((out / "simulation.json").read_text())
    assert manifest["classes"] == ["nonlenses", "lenses"] and manifest["config"]["scene"] == "lens_finding"
    for class_name in ("nonlenses", "lenses"):
        files = sorted((out / class_name).iterdir())
        assert [f.name for f in files] == ["image_000000.npy", "image_000001.npy", "image_000002.npy"]
        for file in files:
            image = np.load(file)
            assert image.shape == (64, 64) and image.dtype == np.float32
            assert np.isfinite(image).all() and image.min() == 0.0 and image.max() == 1.0
    rows = read_csv(out / "metadata.csv")
    assert [row["class"] for row in rows] == ["nonlenses"] * 3 + ["lenses"] * 3
    assert not (out / "subhalos.csv").exists()
    for row in rows:
        if row["class"] == "nonlenses":
            assert row["kind"] in NONLENS_KINDS
            assert float(row["einstein_radius_arcsec"]) == 0 and int(row["n_images"]) == 0
            assert math.isnan(float(row["magnification"])) and math.isnan(float(row["source_magnitude"]))
        else:
            assert row["kind"] in ("galaxy", "quasar_double", "quasar_quad")
            assert float(row["einstein_radius_arcsec"]) > 0 and int(row["n_images"]) >= 2
            assert float(row["magnification"]) > 1


@pytest.mark.parametrize("kind", NONLENS_KINDS)
def test_every_nonlens_kind_is_unlensed_and_finite(kind):
    renderer = LensFindingRenderer(SMALL.replace(nonlens_kinds=(kind,)))
    for index in range(2):
        image, params = renderer.simulate("nonlenses", image_seed(0, "nonlenses", index), normalize=False)
        assert params["kind"] == kind and params["scene"].lens == [] and params["scene"].source == []
        assert params["scene"].quasar is None
        assert np.isfinite(image).all() and image.sum() > 0


@pytest.mark.parametrize("quad_fraction, kind, n_images", [(0.0, "quasar_double", 2), (1.0, "quasar_quad", 4)])
def test_lensed_quasars_are_doubles_and_quads(quad_fraction, kind, n_images):
    renderer = LensFindingRenderer(SMALL.replace(lensed_quasar_fraction=1.0, quad_fraction=quad_fraction, noise=False))
    for index in range(3):
        params = renderer.draw_parameters("lenses", image_seed(0, "lenses", index))
        assert (params["kind"], params["n_images"]) == (kind, n_images)
        quasar = params["scene"].quasar
        assert len(quasar["ra_image"]) == n_images and params["magnification"] > 1
        # The images solve the lens equation: each maps back to the source.
        from lenstronomy.LensModel.lens_model import LensModel

        beta_x, beta_y = LensModel(["EPL", "SHEAR"]).ray_shooting(quasar["ra_image"], quasar["dec_image"], params["scene"].lens)
        np.testing.assert_allclose(beta_x, params["source_x_arcsec"], atol=1e-3)
        np.testing.assert_allclose(beta_y, params["source_y_arcsec"], atol=1e-3)
    # The images add flux: the same lens without its quasar is fainter.
    image = renderer.render(params, normalize=False)
    params["scene"].quasar = None
    assert image.sum() > renderer.render(params, normalize=False).sum()


def test_galaxy_lenses_show_multiple_images_of_their_source():
    renderer = LensFindingRenderer(SMALL.replace(lensed_quasar_fraction=0.0))
    rows = [renderer.draw_parameters("lenses", image_seed(1, "lenses", index)) for index in range(8)]
    assert all(row["kind"] == "galaxy" and row["n_images"] >= 2 for row in rows)
    low, high = SMALL.einstein_radius_range_arcsec
    assert all(low <= row["einstein_radius_arcsec"] <= high for row in rows)


def test_central_galaxy_is_drawn_alike_in_both_classes():
    renderer = LensFindingRenderer(SMALL)
    # One seed, one central galaxy, lens or not (the classes differ by what surrounds it).
    for seed in range(5):
        lens, nonlens = renderer.draw_parameters("lenses", seed), renderer.draw_parameters("nonlenses", seed)
        for name in ("galaxy_magnitude", "galaxy_R_sersic_arcsec", "galaxy_x_arcsec", "galaxy_e1", "exposure_time_s"):
            assert lens[name] == nonlens[name]
        assert set(lens) == set(nonlens)  # one metadata header for both
    # Over different seeds, the same distribution.
    magnitudes = {c: [renderer.draw_parameters(c, image_seed(2, c, i))["galaxy_magnitude"] for i in range(60)]
                  for c in ("nonlenses", "lenses")}
    assert ks_2samp(magnitudes["nonlenses"], magnitudes["lenses"]).pvalue > 0.01
    low, high = SMALL.galaxy_magnitude_range
    assert all(low <= m <= high for values in magnitudes.values() for m in values)


def test_templates_do_not_leak_between_images():
    """lenstronomy's INTERPOL keeps the first template it interpolates: each image must use its own."""
    config = SMALL.replace(nonlens_kinds=("spiral",), noise=False)
    shared = LensFindingRenderer(config)
    first, second = (shared.render(shared.draw_parameters("nonlenses", seed), normalize=False) for seed in (3, 4))
    fresh = LensFindingRenderer(config)
    np.testing.assert_array_equal(second, fresh.render(fresh.draw_parameters("nonlenses", 4), normalize=False))
    assert not np.array_equal(first, second)


def test_cli_lists_the_preset_and_runs_it(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    assert "hst-lens-finding" in parser.format_help()
    args = parse([str(tmp_path / "out"), "--preset", "hst-lens-finding", "--n-per-class", "2", "--num-pix", "48",
                  "--nonlens-kinds", "ring", "spiral", "--lensed-quasar-fraction", "0.5", "--no-progress"])
    config = config_from_args(args)
    assert config.nonlens_kinds == ("ring", "spiral") and config.lensed_quasar_fraction == 0.5
    assert run_simulate(args) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lenses", "metadata.csv", "nonlenses", "simulation.json"]
    assert {row["kind"] for row in read_csv(tmp_path / "out" / "metadata.csv") if row["class"] == "nonlenses"} <= {"ring", "spiral"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "hst-lens-finding", "--n-subhalos", "3"], "does not use --n-subhalos"),
        (["--preset", "hst-lens-finding", "--vary", "shear_gamma1", "0", "0.1"], "does not use --vary"),
        (["--preset", "hst-lens-finding", "--axion"], "no vortex class"),
        (["--preset", "hst-lens-finding", "--bands", "g", "r"], "one band"),
        (["--preset", "hst-lens-finding", "--nonlens-kinds", "quasar"], "nonlens_kinds"),
        (["--preset", "hst-lens-finding", "--quad-fraction", "1.5"], "quad_fraction"),
        (["--preset", "test-iv", "--galaxy-magnitude-range", "18", "20"], "does not use --galaxy-magnitude-range"),
    ],
)
def test_options_outside_the_scene_are_refused(tmp_path, argv, message):
    with pytest.raises(InputError, match=message):
        run_simulate(parse([str(tmp_path / "out"), "--n-per-class", "1", *argv]))
    assert not (tmp_path / "out").exists()


def test_classes_of_the_other_scene_are_refused(tmp_path):
    with pytest.raises(InputError, match="nonlenses, lenses"):
        simulate_dataset(tmp_path / "a", 1, SMALL, classes=("no_sub", "sub"), progress=False)
    with pytest.raises(InputError, match="no_sub, sub, axion"):
        simulate_dataset(tmp_path / "b", 1, PRESETS["test-iv"], classes=("lenses",), progress=False)


def test_substructure_renderer_refuses_a_lens_finding_config():
    """E.g. ``equilens sensitivity --preset hst-lens-finding``: subhalo twins have no lens-finding meaning."""
    from equilens.simulation import LensRenderer

    with pytest.raises(InputError, match="lens-finding simulation"):
        LensRenderer(SMALL).draw_parameters("no_sub", 1)
