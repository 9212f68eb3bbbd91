"""equilens.fidelity: its statistics on images with known answers, its two-sample tests, and the benchmark script on them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from equilens.fidelity import statistics, two_sample
from toy import write_toy_dataset

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "sim_fidelity.py"

SIZE = 64


def grid(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) offsets from the image centre, (size, size) each, in px."""
    rows, cols = np.indices((size, size)) - (size - 1) / 2
    return rows, cols


def lens_with_arc(lens_sigma: float = 1.5, arc_radius: float = 18.0, arc_sigma: float = 1.5) -> np.ndarray:
    """(1, SIZE, SIZE): a round Gaussian lens light of peak 1 and, to its right, an arc (a quarter
    of a Gaussian ring of radius ``arc_radius`` and radial sigma ``arc_sigma``) of peak 0.5."""
    rows, cols = grid()
    radius, angle = np.hypot(rows, cols), np.arctan2(rows, cols)
    lens = np.exp(-0.5 * (radius / lens_sigma) ** 2)
    arc = 0.5 * np.exp(-0.5 * ((radius - arc_radius) / arc_sigma) ** 2) * np.exp(-0.5 * (angle / 0.4) ** 2)
    return (lens + arc)[None].astype(np.float32)


def test_radial_profile_of_a_ring_peaks_at_its_radius():
    rows, cols = grid()
    ring = np.exp(-0.5 * ((np.hypot(rows, cols) - 20) / 1.5) ** 2)[None]
    profile = statistics.radial_profiles(ring, statistics.centre_of(ring)[None])[0]
    assert profile.shape == (SIZE // 2,)
    # Annulus k holds radii in [k, k + 1): the ring at 20 px peaks in annulus 19 or 20.
    assert int(np.argmax(profile)) in (19, 20)


def test_half_max_width_of_a_gaussian_is_its_fwhm():
    x = np.arange(60)
    profile = np.exp(-0.5 * ((x - 30) / 3.0) ** 2)
    assert statistics.half_max_width(profile, 30) == pytest.approx(2.3548 * 3.0, abs=0.1)
    # About index 0 (a profile from its centre) the width is the half width.
    assert statistics.half_max_width(profile[30:], 0) == pytest.approx(1.1774 * 3.0, abs=0.1)


def test_ring_statistics_find_the_arc_and_the_lens():
    image = lens_with_arc(lens_sigma=1.5, arc_radius=18.0, arc_sigma=1.5)
    stats = statistics.ring_statistics(statistics.polar_images(image), noise=np.zeros(1))
    assert stats["ring_radius"][0] == pytest.approx(18.0, abs=0.7)
    assert stats["arc_radius"][0] == pytest.approx(18.0, abs=1.0)
    assert stats["arc_width"][0] == pytest.approx(2.3548 * 1.5, abs=0.6)
    assert stats["arc_contrast"][0] == pytest.approx(0.5, abs=0.1)
    assert stats["lens_hwhm"][0] == pytest.approx(1.1774 * 1.5, abs=0.3)
    # The centre of an even-sized image lies between four pixels: the lens there is interpolated.
    assert stats["lens_peak"][0] == pytest.approx(np.exp(-0.5 * 0.5 / 1.5**2), abs=0.01)


def test_power_spectrum_of_a_wave_peaks_at_its_frequency():
    _, cols = grid()
    wave = (0.5 + 0.5 * np.cos(2 * np.pi * cols * 8 / SIZE))[None]  # 8 cycles across the image
    frequencies, spectra = statistics.power_spectra(wave)
    assert frequencies[np.argmax(spectra[0])] == pytest.approx(8 / SIZE)


def test_measure_reports_every_statistic_per_image():
    images = np.clip(np.concatenate([lens_with_arc(), lens_with_arc(arc_radius=12.0)]), 0, 1)
    scalars, curves = statistics.measure(images)
    assert set(scalars) == set(statistics.SCALARS)
    assert all(v.shape == (2,) and np.isfinite(v).all() for v in scalars.values())
    for name in statistics.CURVES:
        assert curves[name].shape == (2, len(curves[f"{name}_x"]))
    assert scalars["ring_radius"][0] > scalars["ring_radius"][1]
    assert scalars["background_level"][0] == pytest.approx(0.0, abs=1e-3)


def noisy_rings(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    """(n, 32, 32) rings of random radius with Gaussian noise of sigma ``noise``, clipped to [0, 1]."""
    rows, cols = grid(32)
    radius = rng.uniform(7, 10, (n, 1, 1))
    images = 0.8 * np.exp(-0.5 * ((np.hypot(rows, cols) - radius) / 1.5) ** 2) + rng.normal(0.1, noise, (n, 32, 32))
    return np.clip(images, 0, 1).astype(np.float32)


def test_discriminator_cannot_tell_one_distribution_from_itself():
    rng = np.random.default_rng(0)
    result = two_sample.discriminator_auc(noisy_rings(rng, 300, 0.03), noisy_rings(rng, 300, 0.03), epochs=5)
    low, high = result["auc_ci95"]
    assert low < 0.5 < high or abs(result["auc"] - 0.5) < 0.1
    assert result["n_test"] == [90, 90] and result["epochs"] == 5


def test_discriminator_tells_different_noise_apart():
    rng = np.random.default_rng(1)
    result = two_sample.discriminator_auc(noisy_rings(rng, 300, 0.01), noisy_rings(rng, 300, 0.08), epochs=5)
    assert result["auc"] > 0.95


def test_feature_separation_names_what_differs():
    rng = np.random.default_rng(2)
    real = {name: rng.normal(size=200) for name in statistics.SCALARS}
    sim = {name: rng.normal(size=200) for name in statistics.SCALARS}
    sim["arc_width"] = sim["arc_width"] - 3  # real arcs wider
    separation = two_sample.feature_separation(real, sim)
    per_statistic = separation["per_statistic"]
    assert per_statistic["arc_width"] > 0.95
    assert all(abs(v - 0.5) < 0.15 for name, v in per_statistic.items() if name != "arc_width")
    assert separation["gradient_boosting"]["auc"] > 0.9


def test_compare_writes_figures_and_json(tmp_path):
    real = write_toy_dataset(tmp_path / "real", n_per_class=30, size=48, seed=0)
    sim = write_toy_dataset(tmp_path / "sim", n_per_class=30, size=48, seed=1)
    out = tmp_path / "out"
    command = [sys.executable, str(BENCHMARK), "compare", "--real", str(real), "--sim", str(sim), "--out", str(out),
               "--discriminator-epochs", "1"]
    subprocess.run(command, check=True, capture_output=True)
    report = json.loads((out / "fidelity.json").read_text())
    assert set(report["classes"]) == {"no_sub", "sub"}
    record = report["classes"]["sub"]
    assert record["n"] == {"real": 30, "sim": 30}
    low, high = record["discriminator"]["auc_ci95"]
    assert low <= record["discriminator"]["auc"] <= high and high - low < 1
    expected = {f"{name}.png" for name in statistics.CURVES} | {"gallery.png", "separation.png"}
    expected |= {f"{kind}-{c}.png" for kind in ("statistics", "discriminator") for c in ("no_sub", "sub")}
    assert expected <= {p.name for p in out.iterdir()}
