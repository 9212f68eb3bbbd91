"""Physics and bookkeeping of equilens.simulation (small images, a few seconds each)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from equilens.errors import InputError
from equilens.simulation import (
    PRESETS,
    LensRenderer,
    LensSimulationConfig,
    add_simulate_arguments,
    einstein_radius_arcsec,
    image_seed,
    nfw_lensing_arcsec,
    run_simulate,
    simulate_dataset,
)
from equilens.simulation.cli import config_from_args
from equilens.simulation.writer import write_tables

MODEL_I = PRESETS["deeplense-model-i"]
# A small, fast configuration for bookkeeping tests: 32 px, 5 subhalos.
TINY = PRESETS["test-iv"].replace(num_pix=32, pixel_scale_arcsec=0.1, n_subhalos=5, vortex_n_point_masses=10)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    return parser.parse_args(argv)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------- physics


def test_einstein_radius_matches_deeplense():
    assert einstein_radius_arcsec(1e12, 0.5, 1.0) == pytest.approx(1.2815, abs=1e-4)
    assert einstein_radius_arcsec(1e10, 0.5, 1.0) == pytest.approx(0.12815, abs=1e-5)
    assert MODEL_I.einstein_radius_arcsec == pytest.approx(einstein_radius_arcsec(1e12, 0.5, 1.0), abs=1e-4)


def test_nfw_conversion_matches_lenstronomy():
    from astropy.cosmology import FlatLambdaCDM
    from lenstronomy.Cosmo.lens_cosmo import LensCosmo

    class TwoRedshiftDistances:
        """lenstronomy 1.14.2 calls angular_diameter_distance(z1, z2) (astropy >= 7 style)."""

        def __init__(self, cosmology):
            self._cosmology = cosmology

        def __getattr__(self, name):
            return getattr(self._cosmology, name)

        def angular_diameter_distance(self, z1, z2=None):
            if z2 is None:
                return self._cosmology.angular_diameter_distance(z1)
            return self._cosmology.angular_diameter_distance_z1z2(z1, z2)

    masses = np.array([1e6, 1e8, 1e10])
    cosmology = TwoRedshiftDistances(FlatLambdaCDM(H0=70, Om0=0.3))
    expected = LensCosmo(0.5, 1.0, cosmo=cosmology).nfw_physical2angle(masses, 15.0)
    actual = nfw_lensing_arcsec(masses, 15.0, 0.5, 1.0)
    np.testing.assert_allclose(actual, expected, rtol=1e-3)  # lenstronomy's G and M☉ differ slightly


def test_nfw_subhalos_perturb_less_than_point_masses():
    """Same masses and positions: an extended NFW halo deflects less than a point mass."""
    config = MODEL_I.replace(num_pix=64, noise=False, n_subhalos=3, subhalo_mass_min_msun=1e9)
    smooth, _ = LensRenderer(config).simulate("no_sub", 2, normalize=False)
    changes = {}
    for profile in ("point_mass", "nfw"):
        lumpy, _ = LensRenderer(config.replace(subhalo_profile=profile)).simulate("sub", 2, normalize=False)
        changes[profile] = np.abs(lumpy - smooth).sum()
    assert 0 < changes["nfw"] < changes["point_mass"]


def ring_radius_arcsec(config: LensSimulationConfig) -> float:
    """Radius of the peak of the azimuthally averaged brightness, in quarter-pixel bins."""
    renderer = LensRenderer(config)
    image, _ = renderer.simulate("no_sub", seed=0, normalize=False)
    rows, cols = np.indices(image.shape)
    row0, col0 = renderer.arcsec_to_pixel(0.0, 0.0)
    radius = np.hypot(rows - row0, cols - col0) * config.pixel_scale_arcsec
    bin_width = config.pixel_scale_arcsec / 4
    bins = (radius / bin_width).astype(int).ravel()
    profile = np.bincount(bins, image.ravel()) / np.maximum(np.bincount(bins), 1)
    return (profile.argmax() + 0.5) * bin_width


@pytest.mark.parametrize("theta_e", [1.2815, 0.9])
@pytest.mark.parametrize("round_lens", [True, False])
def test_ring_radius_is_einstein_radius(theta_e, round_lens):
    config = MODEL_I.replace(
        num_pix=80, noise=False, lens_light=False, source_centre_range_arcsec=(0.0, 0.0), einstein_radius_arcsec=theta_e
    )
    if round_lens:
        config = config.replace(lens_e1=0.0, lens_e2=0.0, shear_gamma1=0.0, shear_gamma2=0.0)
    assert abs(ring_radius_arcsec(config) - theta_e) <= config.pixel_scale_arcsec


def test_noise_has_the_stated_variance():
    """(noisy − noiseless) / sqrt(background_rms² + model / t) is standard normal."""
    config = MODEL_I.replace(num_pix=64, integer_counts=False)
    noisy_renderer, clean_renderer = LensRenderer(config), LensRenderer(config.replace(noise=False))
    pulls = []
    for seed in range(4):
        noisy, params = noisy_renderer.simulate("sub", seed, normalize=False)
        clean, _ = clean_renderer.simulate("sub", seed, normalize=False)
        sigma = np.sqrt(config.background_rms**2 + np.abs(clean) / params["exposure_time_s"])
        pulls.append((noisy - clean) / sigma)
        bright = clean > 0.5 * clean.max()  # shot noise dominates there
        assert np.std(pulls[-1][bright]) == pytest.approx(1.0, abs=0.15)
    pulls = np.concatenate([p.ravel() for p in pulls])
    assert abs(pulls.mean()) < 0.02 and np.std(pulls) == pytest.approx(1.0, abs=0.02)


def test_same_seed_same_image_different_seed_different():
    renderer = LensRenderer(TINY)
    a, params_a = renderer.simulate("sub", seed=7)
    b, params_b = LensRenderer(TINY).simulate("sub", seed=7)
    c, _ = renderer.simulate("sub", seed=8)
    assert a.dtype == np.float32 and a.shape == (32, 32)
    assert a.min() == 0.0 and a.max() == 1.0
    np.testing.assert_array_equal(a, b)
    assert params_a["source_x_arcsec"] == params_b["source_x_arcsec"]
    assert np.abs(a - c).max() > 0.1


def test_paired_twins_differ_only_near_the_subhalo():
    """One 1e10 M☉ subhalo on the ring: changes beyond 3σ of the pixel noise stay local.

    Were the noise not shared, ~3% of all pixels would differ by > 3σ anywhere; an unpaired
    image (other seed) indeed does, far from the subhalo, which shows the check has teeth.
    """
    config = MODEL_I.replace(
        num_pix=80, n_subhalos=1, subhalo_mass_min_msun=1e10, subhalo_mass_max_msun=1e10,
        subhalo_radius_range_arcsec=(1.28, 1.28),
    )
    renderer = LensRenderer(config)
    rows, cols = np.indices((config.num_pix, config.num_pix))
    detected = 0
    for seed in range(6):
        smooth, smooth_params = renderer.simulate("no_sub", seed, normalize=False)
        lumpy, lumpy_params = renderer.simulate("sub", seed, normalize=False)
        for key in ("source_x_arcsec", "source_y_arcsec", "exposure_time_s"):
            assert smooth_params[key] == lumpy_params[key]
        sigma = np.sqrt(config.background_rms**2 + np.abs(smooth) / smooth_params["exposure_time_s"])
        row, col = renderer.arcsec_to_pixel(lumpy_params["perturber_x_arcsec"][0], lumpy_params["perturber_y_arcsec"][0])
        distance = np.hypot(rows - row, cols - col) * config.pixel_scale_arcsec
        significant = np.abs(lumpy - smooth) > 3 * sigma
        if significant.any():
            detected += 1
            assert distance[significant].max() < 0.6
        other, _ = renderer.simulate("no_sub", seed + 100, normalize=False)
        assert (distance[np.abs(other - smooth) > 3 * sigma] > 2.0).any()
    assert detected >= 3


def fit_power_law_slope(masses: np.ndarray, low: float, high: float) -> float:
    """Maximum-likelihood slope of p(m) ∝ m^slope truncated to [low, high]."""
    log_m = np.log(masses)

    def negative_log_likelihood(slope: float) -> float:
        k = slope + 1.0
        log_norm = np.log(np.log(high / low)) if abs(k) < 1e-9 else np.log(abs((high**k - low**k) / k))
        return -(slope * log_m.sum() - len(masses) * log_norm)

    return minimize_scalar(negative_log_likelihood, bounds=(-3.0, 1.0), method="bounded").x


@pytest.mark.parametrize("slope", [-0.9, -1.7])
def test_subhalo_mass_function_slope(tmp_path, slope):
    config = MODEL_I.replace(subhalo_mass_slope=slope)
    # Tables only: parameters are drawn, nothing is rendered.
    write_tables(tmp_path, LensRenderer(config), 200, 0, ("sub",), "npy", False)
    masses = np.array([float(row["mass_msun"]) for row in read_csv(tmp_path / "subhalos.csv")])
    assert len(masses) == 200 * 25
    assert masses.min() >= 1e6 and masses.max() <= 1e10
    assert fit_power_law_slope(masses, 1e6, 1e10) == pytest.approx(slope, abs=0.05)
    rows = read_csv(tmp_path / "metadata.csv")
    assert {row["n_subhalos"] for row in rows} == {"25"}
    first = [float(r["mass_msun"]) for r in read_csv(tmp_path / "subhalos.csv") if r["file"] == rows[0]["file"]]
    assert float(rows[0]["subhalo_mass_total_msun"]) == pytest.approx(sum(first))


def test_random_orientation_rotates_physics_consistently():
    renderer = LensRenderer(MODEL_I.replace(random_orientation=True))
    angles = []
    for seed in range(20):
        p = renderer.draw_parameters("no_sub", seed)
        angles.append(p["orientation_angle_rad"])
        assert np.hypot(p["lens_e1"], p["lens_e2"]) == pytest.approx(0.1)
        # Lens ellipticity and shear keep their relative orientation (both along x unrotated).
        assert np.arctan2(p["lens_e2"], p["lens_e1"]) == pytest.approx(np.arctan2(p["shear_gamma2"], p["shear_gamma1"]))
        assert np.arctan2(p["lens_e2"], p["lens_e1"]) % (2 * np.pi) == pytest.approx((2 * angles[-1]) % (2 * np.pi))
    assert np.ptp(angles) > 3.0


def test_vortex_class_is_a_line_of_point_masses():
    params = LensRenderer(MODEL_I).draw_parameters("axion", seed=3)
    x, y = params["perturber_x_arcsec"], params["perturber_y_arcsec"]
    assert len(x) == 100 and np.all(params["perturber_mass_msun"] == 3e8)
    assert np.allclose(x * np.sin(params["vortex_angle_rad"]), y * np.cos(params["vortex_angle_rad"]))
    assert np.hypot(x, y).max() == pytest.approx(params["vortex_half_length_arcsec"])
    assert 0.03 <= params["vortex_half_length_arcsec"] <= 3.0
    # DeepLenseSim's relation: half-length (arcsec) = 3e-24 / axion mass (eV).
    assert params["axion_mass_ev"] * params["vortex_half_length_arcsec"] == pytest.approx(3e-24)
    assert params["axion_mass_log10_ev"] == pytest.approx(np.log10(params["axion_mass_ev"]))


def test_axion_mass_is_log_uniform_on_the_deeplense_prior():
    renderer = LensRenderer(MODEL_I)
    log_mass = np.array([renderer.draw_parameters("axion", seed)["axion_mass_log10_ev"] for seed in range(400)])
    assert log_mass.min() >= -24 - 1e-9 and log_mass.max() <= -22 + 1e-9
    # Log-uniform: each of the four 0.5-dex quarters of the prior holds about a quarter of the draws.
    counts = np.histogram(log_mass, bins=[-24, -23.5, -23, -22.5, -22])[0]
    assert counts.min() > 60, counts
    assert np.isnan(renderer.draw_parameters("sub", 1)["axion_mass_ev"])


# ---------------------------------------------------------------------------- dataset writer


def test_dataset_layout_and_formats(tmp_path):
    out = simulate_dataset(tmp_path / "npy", 3, TINY, classes=("no_sub", "sub", "axion"), progress=False)
    for class_name in ("no_sub", "sub", "axion"):
        names = sorted(p.name for p in (out / class_name).iterdir())
        assert names == ["image_000000.npy", "image_000001.npy", "image_000002.npy"]
    image = np.load(out / "sub" / "image_000001.npy")
    expected, _ = LensRenderer(TINY).simulate("sub", image_seed(0, "sub", 1))
    np.testing.assert_array_equal(image, expected)
    manifest = json.loads((out / "simulation.json").read_text())
    assert LensSimulationConfig.from_dict(manifest["config"]) == TINY and manifest["seed"] == 0
    assert [row["file"] for row in read_csv(out / "metadata.csv")][:2] == ["no_sub/image_000000.npy", "no_sub/image_000001.npy"]

    from PIL import Image

    for file_format in ("png", "jpg"):
        folder = simulate_dataset(tmp_path / file_format, 2, TINY, file_format=file_format, progress=False)
        with Image.open(folder / "no_sub" / f"image_000000.{file_format}") as picture:
            assert picture.mode == "L" and picture.size == (32, 32)


def test_paired_dataset_shares_seeds(tmp_path):
    simulate_dataset(tmp_path, 2, TINY, paired=True, progress=False)
    rows = read_csv(tmp_path / "metadata.csv")
    by_file = {row["file"]: row for row in rows}
    assert by_file["no_sub/image_000001.npy"]["seed"] == by_file["sub/image_000001.npy"]["seed"]
    assert by_file["no_sub/image_000000.npy"]["seed"] != by_file["no_sub/image_000001.npy"]["seed"]


def test_shards_and_workers_equal_one_run(tmp_path):
    simulate_dataset(tmp_path / "whole", 5, TINY, seed=3, progress=False)
    simulate_dataset(tmp_path / "sharded", 5, TINY, seed=3, shard=(1, 2), progress=False)
    simulate_dataset(tmp_path / "sharded", 5, TINY, seed=3, shard=(0, 2), workers=2, progress=False)
    assert folder_bytes(tmp_path / "sharded") == folder_bytes(tmp_path / "whole")
    simulate_dataset(tmp_path / "other-seed", 5, TINY, seed=4, progress=False)
    other = folder_bytes(tmp_path / "other-seed")
    assert other["sub/image_000000.npy"] != folder_bytes(tmp_path / "whole")["sub/image_000000.npy"]


def test_killed_run_resumes_to_identical_files(tmp_path):
    argv = ["--n-per-class", "200", "--num-pix", "64", "--seed", "5", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "equilens.simulation", str(killed), *argv], env=env)
    deadline = time.monotonic() + 60
    while len(list(killed.glob("*/image_*.npy"))) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    partial = len(list(killed.glob("*/image_*.npy")))
    assert 20 <= partial < 400 and not (killed / "metadata.csv").exists()
    # Whatever the kill left half-written must not survive the resume.
    (killed / "sub" / ".image_000149.x1y2.tmp.npy").write_bytes(b"half")

    assert run_simulate(parse([str(killed), *argv])) == 0
    assert run_simulate(parse([str(tmp_path / "whole"), *argv])) == 0
    assert folder_bytes(killed) == folder_bytes(tmp_path / "whole")


# ---------------------------------------------------------------------------- bad input


def test_cli_overrides_reach_the_config():
    args = parse(["out", "--n-per-class", "4", "--preset", "deeplense-model-i", "--subhalo-mass-range-msun", "1e7", "1e9",
                  "--random-orientation", "--lens-light", "--exposure-time-log10-s", "3", "3",
                  "--source-centre-range-arcsec", "0", "0", "--psf-fwhm-arcsec", "0.1", "--integer-counts"])
    config = config_from_args(args)
    assert (config.subhalo_mass_min_msun, config.subhalo_mass_max_msun) == (1e7, 1e9)
    assert config.random_orientation and config.lens_light and config.integer_counts
    assert config.exposure_time_log10_range_s == (3.0, 3.0) and config.source_centre_range_arcsec == (0.0, 0.0)
    assert config.psf_fwhm_arcsec == 0.1 and config.pixel_scale_arcsec == MODEL_I.pixel_scale_arcsec
    assert not config_from_args(parse(["out", "--n-per-class", "1", "--no-lens-light"])).lens_light
    varied = config_from_args(parse(["out", "--n-per-class", "1", "--vary", "shear_gamma1", "0", "0.2",
                                     "--vary", "lens_light_e1", "0", "0.1", "--source-centre-sampling", "radial",
                                     "--peak-saturation", "1.2", "--lens-light-e1", "0.05"]))
    assert varied.varied_settings == (("shear_gamma1", 0.0, 0.2), ("lens_light_e1", 0.0, 0.1))
    assert (varied.source_centre_sampling, varied.peak_saturation, varied.lens_light_e1) == ("radial", 1.2, 0.05)
    assert config_from_args(parse(["out", "--n-per-class", "1", "--vary", "none", "0", "0"])).varied_settings == ()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--shard", "3/2"], "shard 3/2"),
        (["--shard", "half"], "--shard must look like i/N"),
        (["--n-per-class", "0"], "n_per_class"),
        (["--workers", "0"], "workers"),
        (["--psf-fwhm-arcsec", "-1"], "psf_fwhm_arcsec"),
        (["--subhalo-mass-range-msun", "1e9", "1e8"], "subhalo_mass_max_msun"),
        (["--subhalo-profile", "sis"], "subhalo_profile"),
        (["--lens-e1", "0.8", "--lens-e2", "0.8"], "lens_e1"),
        (["--vary", "num_pix", "10", "20"], "cannot vary per image"),
        (["--vary", "shear_gamma1", "low", "0.2"], "LOW and HIGH must be numbers"),
        (["--source-centre-sampling", "disc"], "source_centre_sampling"),
    ],
)
def test_bad_options_raise_input_error(tmp_path, argv, message):
    args = parse([str(tmp_path / "out"), "--n-per-class", "2", *argv])
    with pytest.raises(InputError, match=message):
        run_simulate(args)
    assert not (tmp_path / "out").exists()


def test_refuses_folder_with_other_settings_or_foreign_content(tmp_path):
    simulate_dataset(tmp_path / "out", 1, TINY, seed=1, progress=False)
    with pytest.raises(InputError, match="different settings.*seed"):
        simulate_dataset(tmp_path / "out", 1, TINY, seed=2, progress=False)
    with pytest.raises(InputError, match="different settings.*num_pix"):
        simulate_dataset(tmp_path / "out", 1, TINY.replace(num_pix=40), seed=1, progress=False)
    # A folder begun before a setting existed resumes: the setting's default keeps its images.
    manifest = tmp_path / "out" / "simulation.json"
    older = json.loads(manifest.read_text())
    del older["config"]["integer_counts"]
    manifest.write_text(json.dumps(older))
    simulate_dataset(tmp_path / "out", 1, TINY, seed=1, progress=False)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        simulate_dataset(tmp_path / "foreign", 1, TINY, progress=False)
    with pytest.raises(InputError, match="unknown simulation preset"):
        from equilens.simulation import get_preset

        get_preset("model-ix")


# ---------------------------------------------------------------- Test IV calibration
TEST_IV = PRESETS["test-iv"]


def test_varied_settings_are_drawn_per_image_within_their_ranges():
    config = TINY.replace(varied_settings=[["shear_gamma1", 0.0, 0.3], ["source_amp", 10.0, 20.0]])
    assert config.varied_settings == (("shear_gamma1", 0.0, 0.3), ("source_amp", 10.0, 20.0))
    assert LensSimulationConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    renderer = LensRenderer(config)
    drawn = [renderer.draw_parameters("no_sub", seed) for seed in range(50)]
    gammas = np.array([p["shear_gamma1"] for p in drawn])
    amps = np.array([p["source_amp"] for p in drawn])
    assert 0.0 <= gammas.min() and gammas.max() <= 0.3 and gammas.std() > 0.05
    assert 10.0 <= amps.min() and amps.max() <= 20.0
    # A brighter source, everything else equal, gives a brighter physical image.
    params = dict(drawn[0])
    faint = renderer.render({**params, "source_amp": 10.0}, normalize=False)
    bright = renderer.render({**params, "source_amp": 20.0}, normalize=False)
    assert bright.sum() > faint.sum()


def test_settings_without_scatter_keep_their_images():
    """Adding the scatter machinery changed no image of a config that does not use it."""
    plain = LensRenderer(TINY.replace(varied_settings=()))
    a, params = plain.simulate("sub", 3)
    assert "source_amp" not in params
    pinned = [["lens_light_amp", TINY.lens_light_amp, TINY.lens_light_amp]]
    b, _ = LensRenderer(TINY.replace(varied_settings=pinned)).simulate("sub", 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "varied, message",
    [
        ([["num_pix", 10, 20]], "cannot vary per image"),
        ([["shear_gamma1", 0.3, 0.1]], "low <= high"),
        ([["lens_e1", 0.0, 1.5]], "e1² + e2² < 1"),
        ([["source_amp", 1.0, 2.0], ["source_amp", 1.0, 2.0]], "twice"),
        ([["source_amp", 1.0]], "[name, low, high]"),
    ],
)
def test_bad_varied_settings_are_rejected(varied, message):
    with pytest.raises(InputError, match=re.escape(message)):
        TINY.replace(varied_settings=varied)


def test_radial_source_centres_are_uniform_in_distance():
    config = TINY.replace(source_centre_sampling="radial", source_centre_range_arcsec=(0.2, 1.0))
    renderer = LensRenderer(config)
    drawn = [renderer.draw_parameters("no_sub", seed) for seed in range(400)]
    distance = np.hypot([p["source_x_arcsec"] for p in drawn], [p["source_y_arcsec"] for p in drawn])
    assert distance.min() >= 0.2 - 1e-12 and distance.max() <= 1.0 + 1e-12
    assert np.median(distance) == pytest.approx(0.6, abs=0.06)  # uniform in r, not in area
    with pytest.raises(InputError, match="source_centre_range_arcsec"):
        TINY.replace(source_centre_sampling="radial", source_centre_range_arcsec=(-1.0, 1.0))


def test_peak_saturation_clips_the_brightest_pixels():
    image, _ = LensRenderer(TINY.replace(peak_saturation=1.5)).simulate("no_sub", 0)
    plain, _ = LensRenderer(TINY.replace(peak_saturation=1.0)).simulate("no_sub", 0)
    assert image.max() == 1.0 and (image == 1.0).sum() > (plain == 1.0).sum()
    np.testing.assert_allclose(image, np.minimum(plain * 1.5, 1.0), atol=1e-6)


def fitted_ring_radius_px(image: np.ndarray) -> float:
    """Radius (px) of the brightest annulus outside the lens-light core (r > 8 px)."""
    size = image.shape[0]
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    radius = np.hypot(xx, yy).astype(int)
    profile = np.bincount(radius.ravel(), image.ravel()) / np.bincount(radius.ravel())
    return 8 + float(profile[8 : size // 2].argmax())


def test_test_iv_preset_holds_the_values_fitted_to_the_real_images():
    """The calibration's measured values (TEST_IV_CALIBRATION) are what the preset renders."""
    assert TEST_IV.num_pix == 150 and TEST_IV.pixel_scale_arcsec == 0.05
    assert TEST_IV.einstein_radius_arcsec == 1.0 and TEST_IV.lens_light and not TEST_IV.random_orientation
    # The fitted central values, not one image's draw of their scatter.
    renderer = LensRenderer(TEST_IV.replace(source_centre_range_arcsec=(0.0, 0.0), varied_settings=()))
    no_sub, _ = renderer.simulate("no_sub", 0)
    sub, _ = renderer.simulate("sub", 0)
    # Ring at θ_E = 1.0″ = 20 px; the sub class's subhalos inside it enlarge it (to ~1.07″ in
    # the real images' fits), so its ring is larger.
    assert abs(fitted_ring_radius_px(no_sub) - 20) <= 2  # the profile's 1-px bins and the lens light's slope
    assert fitted_ring_radius_px(sub) > fitted_ring_radius_px(no_sub)
    # The lens-light core is saturated (several pixels at full scale); the background sits
    # near 1/255 of the peak, as in the real 8-bit files.
    assert (no_sub == 1.0).sum() >= 2
    corner = no_sub[:20, :20] * 255
    assert 0.3 < np.median(corner) < 3.0


def test_test_iv_background_is_sky_limited():
    """The fitted background: a sky of 2 counts per pixel whose level, 0.18-0.76% of the peak,
    varies per image; its darkest pixel (no counts) lies sqrt(2) standard deviations below its mean."""
    renderer = LensRenderer(TEST_IV)
    levels = []
    for seed in range(12):
        image, params = renderer.simulate("no_sub", seed)
        corners = np.concatenate([image[:30, :30], image[:30, -30:], image[-30:, :30], image[-30:, -30:]]).astype(float)
        depth = (corners.mean() - corners.min()) / corners.std()
        assert depth == pytest.approx(np.sqrt(TEST_IV.sky_counts_per_pixel), rel=0.1)
        # The level above the darkest pixel is the sky level, in units of the (saturated) peak.
        assert corners.mean() - corners.min() == pytest.approx(params["sky_level_fraction"] * TEST_IV.peak_saturation, rel=0.1)
        levels.append(params["sky_level_fraction"])
    assert 10 ** TEST_IV.sky_level_log10_range[0] <= min(levels) and max(levels) <= 10 ** TEST_IV.sky_level_log10_range[1]
    assert max(levels) > 2 * min(levels)


def test_sky_noise_is_poisson_counts_of_the_sky():
    """(noisy - noiseless) / (f · peak / λ) + λ are whole counts with mean and variance λ."""
    sky = 3.0
    config = TINY.replace(num_pix=64, sky_counts_per_pixel=sky, sky_level_log10_range=(-2.0, -2.0),
                          exposure_time_log10_range_s=(12.0, 12.0), background_rms=0.0)
    noisy, params = LensRenderer(config).simulate("no_sub", 1, normalize=False)
    clean = LensRenderer(config.replace(noise=False)).render(params, normalize=False)
    counts = (noisy - clean) / (params["sky_level_fraction"] * clean.max() / sky) + sky
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    assert counts.mean() == pytest.approx(sky, rel=0.05) and counts.var() == pytest.approx(sky, rel=0.1)
    assert params["sky_level_fraction"] == pytest.approx(0.01)
    with pytest.raises(InputError, match="sky_counts_per_pixel"):
        config.replace(sky_counts_per_pixel=-1.0)
    with pytest.raises(InputError, match="sky_level_log10_range"):
        config.replace(sky_level_log10_range=(-1.0, -2.0))


def test_integer_counts_are_poisson_counts_of_the_clipped_noisy_image():
    """With ``integer_counts`` the image times the exposure time is whole counts: exactly zero
    where the noisy image is below zero, elsewhere Poisson counts of it (mean and variance
    equal), drawn from a uniform field twins share; without it the images stay as they were."""
    config = MODEL_I.replace(num_pix=64, integer_counts=False)
    plain_renderer, counts_renderer = LensRenderer(config), LensRenderer(config.replace(integer_counts=True))
    smooth_params = counts_renderer.draw_parameters("no_sub", 3)
    noisy = plain_renderer.render(smooth_params, normalize=False)
    counts = counts_renderer.render(smooth_params, normalize=False) * smooth_params["exposure_time_s"]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
    assert (counts[noisy <= 0] == 0).all() and (noisy <= 0).mean() > 0.05  # the background below zero
    mean = noisy * smooth_params["exposure_time_s"]
    bright = mean > 100  # Poisson: residual variance equals the mean
    assert np.mean((counts[bright] - mean[bright]) ** 2 / mean[bright]) == pytest.approx(1.0, abs=0.2)
    lumpy_params = counts_renderer.draw_parameters("sub", 3)
    lumpy = counts_renderer.render(lumpy_params, normalize=False) * smooth_params["exposure_time_s"]
    # Twins' counts differ by about as much as their Poisson means do: no fresh noise between them.
    mean_change = np.abs(np.clip(plain_renderer.render(lumpy_params, normalize=False), 0, None) - np.clip(noisy, 0, None))
    assert np.abs(lumpy - counts).mean() == pytest.approx(mean_change.mean() * smooth_params["exposure_time_s"], rel=0.1)
    np.testing.assert_array_equal(plain_renderer.render(smooth_params), LensRenderer(config).render(smooth_params))
    assert [name for name, preset in PRESETS.items() if preset.integer_counts] == ["deeplense-model-i"]


# ---------------------------------------------------------------------------- observation presets and subhalo physics


@pytest.mark.parametrize("name, band, options", [("hst-like", "HST", {"band": "WFC3_F160W", "psf_type": "GAUSSIAN"}),
                                                  ("euclid-like", "Euclid", {"band": "VIS", "psf_type": "GAUSSIAN", "coadd_years": 6})])
def test_observation_presets_follow_lenstronomy(name, band, options):
    """64x64 px, and pixel, PSF, noise and source brightness as lenstronomy's SimAPI computes
    them from its observation configuration (source: magnitude 20, as DeepLense Models II/III)."""
    import importlib

    from lenstronomy.SimulationAPI.observation_api import SingleBand
    from lenstronomy.SimulationAPI.sim_api import SimAPI

    kwargs_band = getattr(importlib.import_module(f"lenstronomy.SimulationAPI.ObservationConfig.{band}"), band)(**options).kwargs_single_band()
    preset, single_band = PRESETS[name], SingleBand(**kwargs_band)
    assert preset.num_pix == 64 and preset.field_of_view_arcsec == pytest.approx(64 * kwargs_band["pixel_scale"])
    assert preset.pixel_scale_arcsec == kwargs_band["pixel_scale"] and preset.psf_fwhm_arcsec == kwargs_band["seeing"]
    assert preset.background_rms == pytest.approx(single_band.background_noise, rel=1e-12)
    assert 10 ** preset.exposure_time_log10_range_s[0] == pytest.approx(single_band.exposure_time)
    assert preset.exposure_time_log10_range_s[0] == preset.exposure_time_log10_range_s[1]
    sim = SimAPI(num_pix=64, kwargs_single_band=kwargs_band, kwargs_model={"source_light_model_list": ["SERSIC_ELLIPSE"]})
    source = {"magnitude": 20.0, "R_sersic": preset.source_R_sersic_arcsec, "n_sersic": preset.source_n_sersic,
              "e1": preset.source_e1, "e2": preset.source_e2, "center_x": 0.0, "center_y": 0.0}
    assert preset.source_amp == pytest.approx(sim.magnitude2amplitude(None, [source])[1][0]["amp"], rel=1e-9)
    # The lens, source shape and subhalo population stay DeepLense Model I's.
    for field in ("einstein_radius_arcsec", "lens_e1", "shear_gamma1", "source_R_sersic_arcsec", "n_subhalos",
                  "subhalo_mass_slope", "subhalo_profile", "subhalo_placement"):
        assert getattr(preset, field) == getattr(MODEL_I, field)
    image, _ = LensRenderer(preset).simulate("sub", 0)
    assert image.shape == (64, 64)


def test_model_i_presets_keep_deeplense_values():
    assert (MODEL_I.num_pix, MODEL_I.pixel_scale_arcsec, MODEL_I.psf_fwhm_arcsec, MODEL_I.background_rms) == (150, 0.05, 0.087, 0.01)
    assert (MODEL_I.subhalo_placement, MODEL_I.subhalo_nfw_concentration_model) == ("radius_uniform", "fixed")
    assert MODEL_I.integer_counts  # as DeepLenseSim writes the Model I files
    assert PRESETS["deeplense-model-i-lens-light"] == MODEL_I.replace(lens_light=True, integer_counts=False)
    assert PRESETS["test-iv"].subhalo_placement == "radius_uniform"  # the calibration's uniform-in-radius draw


def test_subhalo_placements():
    def radii(placement: str) -> np.ndarray:
        renderer = LensRenderer(MODEL_I.replace(subhalo_placement=placement, subhalo_radius_range_arcsec=(0.5, 1.5)))
        params = [renderer.draw_parameters("sub", seed) for seed in range(80)]
        return np.concatenate([np.hypot(p["perturber_x_arcsec"], p["perturber_y_arcsec"]) for p in params])

    np.testing.assert_allclose(radii("ring"), MODEL_I.einstein_radius_arcsec)
    uniform, annulus = radii("radius_uniform"), radii("annulus")
    assert uniform.min() >= 0.5 and uniform.max() <= 1.5 and annulus.min() >= 0.5 and annulus.max() <= 1.5
    # Uniform in r: mean 1.0; uniform per unit area: r² uniform on [0.25, 2.25], mean r ≈ 1.08.
    assert np.mean(uniform) == pytest.approx(1.0, abs=0.02) and np.mean(annulus**2) == pytest.approx(1.25, abs=0.03)
    # The default placement draws what it always drew (datasets made before keep their seeds).
    default = LensRenderer(MODEL_I).draw_parameters("sub", 5)
    rng = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(1,)))
    rng.random(25)  # the masses come first
    np.testing.assert_allclose(np.hypot(default["perturber_x_arcsec"], default["perturber_y_arcsec"]),
                               rng.uniform(0.25, 2.0, size=25), rtol=1e-14)


def test_duffy2008_concentration_and_tidal_truncation(tmp_path):
    from equilens.simulation.physics import duffy2008_concentration, tidal_radius_arcsec

    # At the pivot mass 2e12 / h Msun and z = 0 the relation is its amplitude; it falls with mass and redshift.
    assert duffy2008_concentration(2e12 / 0.7, 0.0) == pytest.approx(5.71)
    c = duffy2008_concentration(np.array([1e8, 1e9, 1e10]), 0.5)
    assert np.all(np.diff(c) < 0) and c[1] == pytest.approx(9.2, abs=0.05)
    # Jacobi radius in an isothermal host: r_t ∝ m^(1/3) r^(2/3); 1e9 Msun on the ring: 0.14″.
    r_t = tidal_radius_arcsec(np.array([1e9, 8e9]), np.array([1.2815, 8 * 1.2815]), 1.2815, 0.5, 1.0)
    assert r_t[0] == pytest.approx(0.14, abs=0.005) and r_t[1] / r_t[0] == pytest.approx(2 * 4)

    config = MODEL_I.replace(subhalo_profile="tnfw", subhalo_nfw_concentration_model="duffy2008", n_subhalos=3)
    write_tables(tmp_path, LensRenderer(config), 2, 0, ("sub",), "npy", False)
    rows = read_csv(tmp_path / "subhalos.csv")
    masses = np.array([float(r["mass_msun"]) for r in rows])
    radius = np.hypot([float(r["x_arcsec"]) for r in rows], [float(r["y_arcsec"]) for r in rows])
    rs, _ = nfw_lensing_arcsec(masses, duffy2008_concentration(masses, 0.5), 0.5, 1.0)
    np.testing.assert_allclose([float(r["Rs_arcsec"]) for r in rows], rs)
    np.testing.assert_allclose([float(r["r_trunc_arcsec"]) for r in rows], tidal_radius_arcsec(masses, radius, 1.2815, 0.5, 1.0))


def test_truncated_nfw_perturbs_less_than_untruncated():
    """The same halo stripped beyond its tidal radius deflects less, and less far away."""
    config = PRESETS["hst-like"].replace(noise=False, n_subhalos=1, subhalo_mass_min_msun=1e10, subhalo_placement="ring")
    smooth, _ = LensRenderer(config).simulate("no_sub", 1, normalize=False)
    change = {profile: np.abs(LensRenderer(config.replace(subhalo_profile=profile)).simulate("sub", 1, normalize=False)[0] - smooth).sum()
              for profile in ("tnfw", "nfw")}
    assert 0 < change["tnfw"] < 0.5 * change["nfw"]
