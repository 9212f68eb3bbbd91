"""Image statistics that tell simulated lensing images from real ones, per image (N, S, S) in [0, 1].
Geometry is in fractions of the image side S, so other sizes scale; px: pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from equilens.datasets.folder import load_images, scan_lens_folder

LENS_CORE_FRACTION = 0.05  # the compact lens light; rings are searched outside it
RING_SEARCH_MAX_FRACTION = 0.45
CORNER_FRACTION = 0.1  # corners hold neither lens light nor arcs
N_ANGLES = 72
HIGH_FREQUENCY = 0.25  # cycles per pixel: above it, noise, JPEG blocks and the sharpest edges
DARK_LEVEL = 2.5 / 255  # 0, 1 or 2 in 8 bits

#: Per-image scalar statistics: name -> what it is.
SCALARS = {
    "mean": "mean pixel value",
    "dark_fraction": "fraction of pixels <= 2/255",
    "p99": "99th percentile pixel value",
    "ring_radius": "ring radius, px: mean radius of the non-circular light, weighted by it",
    "arc_radius": "radius of the non-circular light's brightest point, px",
    "arc_width": "arc width, px: radial FWHM of the non-circular light at its brightest point",
    "arc_contrast": "arc brightness above the circular light at its brightest point",
    "lens_peak": "central value of the circular (azimuthal-median) profile",
    "lens_hwhm": "lens-light radius, px: where the circular profile falls to half its central excess",
    "background_level": "median of the corners",
    "background_noise": "standard deviation of the corners",
    "background_mad": "1.4826 x median absolute deviation of the corners",
    "centroid_offset": "flux centroid's distance from the image centre, px",
    "elongation_e1": "(Ixx - Iyy) / (Ixx + Iyy) of the light 3 sigma above the background (x: columns)",
    "elongation_e2": "2 Ixy / (Ixx + Iyy) of the same light",
    "high_frequency_power": "log10 fraction of the power above 0.25 cycles/px",
}

#: Per-image curves: name -> (x label, y label, x scale, y scale).
CURVES = {
    "pixel_histogram": ("pixel value (8-bit level)", "fraction of pixels", "linear", "log"),
    "profile_centre": ("radius about the image centre (px)", "mean pixel value", "linear", "log"),
    "profile_centroid": ("radius about the flux centroid (px)", "mean pixel value", "linear", "log"),
    "lens_light_profile": ("radius (px)", "circular (azimuthal-median) profile", "linear", "linear"),
    "arc_profile": ("radius (px)", "non-circular light: mean - median over angle", "linear", "linear"),
    "power_spectrum": ("spatial frequency (cycles/px)", "power |FFT|^2 / pixels", "log", "log"),
}


def class_files(root: Path, class_name: str, n: int, seed: int) -> list[Path]:
    """Up to ``n`` files of ``root/<class_name>``, a seeded random draw (the folder's order is not random)."""
    files = scan_lens_folder(root, (class_name,)).files
    return [files[i] for i in np.random.default_rng(seed).permutation(len(files))[:n]]


def read_stack(files: list[Path]) -> np.ndarray:
    """The images of ``files`` as one float32 array (N, H, W) in [0, 1]."""
    return load_images(files)[:, 0].numpy()


def centre_of(images: np.ndarray) -> np.ndarray:
    """(2,) the image centre (row, column) in pixel coordinates: (S - 1) / 2."""
    return (np.asarray(images.shape[1:], dtype=float) - 1) / 2


def flux_centroids(images: np.ndarray) -> np.ndarray:
    """(N, 2) flux-weighted centre (row, column) of each image (N, H, W), in pixels."""
    rows, cols = np.indices(images.shape[1:])
    total = images.sum((1, 2)) + 1e-12
    return np.stack([(images * rows).sum((1, 2)) / total, (images * cols).sum((1, 2)) / total], axis=1)


def radial_profiles(images: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, R) mean pixel value in 1-px annuli (distance rounded down) about each centre (N, 2); R = S // 2."""
    n_radii = images.shape[1] // 2
    rows, cols = np.indices(images.shape[1:])
    profiles = np.empty((len(images), n_radii))
    for i, (image, (row, col)) in enumerate(zip(images, centres)):
        ring = np.hypot(rows - row, cols - col).astype(int).ravel()
        inside = ring < n_radii
        sums = np.bincount(ring[inside], image.ravel()[inside], minlength=n_radii)
        counts = np.bincount(ring[inside], minlength=n_radii)
        profiles[i] = sums / np.maximum(counts, 1)
    return profiles


def polar_images(images: np.ndarray) -> np.ndarray:
    """(N, R, A) images resampled (bilinear) on radii 0..R-1 px about the centre and A angles."""
    n_radii = images.shape[1] // 2
    radius, angle = np.meshgrid(np.arange(n_radii), np.linspace(0, 2 * np.pi, N_ANGLES, endpoint=False), indexing="ij")
    row, col = centre_of(images)
    coordinates = np.stack([row + radius * np.sin(angle), col + radius * np.cos(angle)])
    return np.stack([ndimage.map_coordinates(image, coordinates, order=1, mode="nearest") for image in images])


def half_max_width(profile: np.ndarray, peak: int) -> float:
    """Full width (samples, interpolated) at half of ``profile[peak]``; a side that never falls to half ends at the end."""
    half = profile[peak] / 2
    edges = []
    for step in (-1, 1):
        k = peak
        while 0 <= k + step < len(profile) and profile[k + step] > half:
            k += step
        outer = k + step
        if 0 <= outer < len(profile):
            k = k + step * (profile[k] - half) / max(profile[k] - profile[outer], 1e-12)
        edges.append(k)
    return float(edges[1] - edges[0])


def ring_statistics(polar: np.ndarray, noise: np.ndarray) -> dict[str, np.ndarray]:
    """Lens light, ring and arcs from polar images (N, R, A) with background noise sigma (N,): the
    median over angle is the circular lens light, the excess above it the lensed light, whose mean
    radius 3 sigma above the noise is the ring's (an isothermal lens images a source at theta_E +-
    beta); the arc is measured at the excess's brightest point.

    Returns:
        (N,) ``ring_radius``, ``arc_radius``, ``arc_width``, ``arc_contrast``, ``lens_peak``,
        ``lens_hwhm``; (N, 2 core + 1) ``lens_light_profile``; (N, R) ``arc_profile``.
    """
    n_radii = polar.shape[1]
    core = max(2, int(round(LENS_CORE_FRACTION * 2 * n_radii)))
    search_max = int(round(RING_SEARCH_MAX_FRACTION * 2 * n_radii))
    radii = np.arange(n_radii)
    circular = np.median(polar, axis=2)
    excess = polar - circular[:, :, None]
    # Smooth over three sectors so that one bright pixel does not set the arc's direction.
    smooth = ndimage.uniform_filter1d(excess, 3, axis=2, mode="wrap")
    weights = np.clip(excess[:, core:search_max] - 3 * noise[:, None, None], 0, None).sum(axis=2)
    out = {"ring_radius": (weights * radii[core:search_max]).sum(1) / np.maximum(weights.sum(1), 1e-12)}
    for name in ("arc_radius", "arc_width", "arc_contrast", "lens_hwhm"):
        out[name] = np.empty(len(polar))
    for i in range(len(polar)):
        r, a = np.unravel_index(np.argmax(smooth[i, core:search_max]), smooth[i, core:search_max].shape)
        out["arc_radius"][i] = core + r
        out["arc_width"][i] = half_max_width(smooth[i, :search_max, a], core + r)
        out["arc_contrast"][i] = smooth[i, core + r, a]
        # About index 0 there is no left side: a half width.
        out["lens_hwhm"][i] = half_max_width(circular[i] - circular[i, -1], 0)
    # Beyond twice the core, the circular part holds complete rings too.
    return {**out, "lens_peak": circular[:, 0], "lens_light_profile": circular[:, : 2 * core + 1], "arc_profile": excess.mean(axis=2)}


def corner_pixels(images: np.ndarray) -> np.ndarray:
    """(N, 4 c^2) the pixels of the four c x c corners of each image, c = CORNER_FRACTION x S."""
    c = max(2, int(round(CORNER_FRACTION * images.shape[1])))
    corners = [images[:, :c, :c], images[:, :c, -c:], images[:, -c:, :c], images[:, -c:, -c:]]
    return np.concatenate([corner.reshape(len(images), -1) for corner in corners], axis=1)


def power_spectra(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies (K,) in cycles/px, spectra (N, K)): radially averaged |FFT(x - mean)|^2 / pixels, K = S // 2."""
    size = images.shape[1]
    power = np.abs(np.fft.fft2(images - images.mean((1, 2), keepdims=True))) ** 2 / images[0].size
    frequency = np.fft.fftfreq(size)
    k = np.rint(np.hypot(*np.meshgrid(frequency, frequency, indexing="ij")) * size).astype(int).ravel()
    inside = (k > 0) & (k <= size // 2)
    counts = np.bincount(k[inside], minlength=size // 2 + 1)[1:]
    spectra = np.stack([np.bincount(k[inside], p.ravel()[inside], minlength=size // 2 + 1)[1:] for p in power]) / counts
    return np.arange(1, size // 2 + 1) / size, spectra


def elongations(images: np.ndarray, background: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e1, e2) of the second moments of the light 3 ``noise`` above ``background`` (both (N,)):
    below that, clipped noise would add a round halo."""
    light = np.clip(images - (background + 3 * noise)[:, None, None], 0, None)
    rows, cols = np.indices(images.shape[1:]) - centre_of(images)[:, None, None]
    total = light.sum((1, 2)) + 1e-12
    ixx, iyy, ixy = ((light * m).sum((1, 2)) / total for m in (cols**2, rows**2, rows * cols))
    return (ixx - iyy) / (ixx + iyy + 1e-12), 2 * ixy / (ixx + iyy + 1e-12)


def measure(images: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(scalars name -> (N,) of :data:`SCALARS`, curves name -> (N, K) of :data:`CURVES` and ``<name>_x`` -> (K,))."""
    n_radii = images.shape[1] // 2
    corners = corner_pixels(images)
    background = np.median(corners, axis=1)
    noise = corners.std(axis=1)
    rings = ring_statistics(polar_images(images), noise)
    centroids = flux_centroids(images)
    frequencies, spectra = power_spectra(images)
    levels = np.rint(images * 255).astype(int).reshape(len(images), -1)
    scalars = {
        "mean": images.mean((1, 2)),
        "dark_fraction": (images <= DARK_LEVEL).mean((1, 2)),
        "p99": np.percentile(images.reshape(len(images), -1), 99, axis=1),
        **{name: rings[name] for name in ("ring_radius", "arc_radius", "arc_width", "arc_contrast", "lens_peak", "lens_hwhm")},
        "background_level": background,
        "background_noise": noise,
        "background_mad": 1.4826 * np.median(np.abs(corners - background[:, None]), axis=1),
        "centroid_offset": np.hypot(*(centroids - centre_of(images)).T),
        **dict(zip(("elongation_e1", "elongation_e2"), elongations(images, background, noise))),
        "high_frequency_power": np.log10(spectra[:, frequencies > HIGH_FREQUENCY].sum(1) / spectra.sum(1) + 1e-12),
    }
    radii = np.arange(n_radii, dtype=float)
    curves = {
        "pixel_histogram": np.stack([np.bincount(row, minlength=256) for row in levels]) / levels.shape[1],
        "pixel_histogram_x": np.arange(256, dtype=float),
        "profile_centre": radial_profiles(images, np.broadcast_to(centre_of(images), centroids.shape)),
        "profile_centroid": radial_profiles(images, centroids),
        "lens_light_profile": rings["lens_light_profile"],
        "arc_profile": rings["arc_profile"],
        "power_spectrum": spectra,
        "power_spectrum_x": frequencies,
        "lens_light_profile_x": radii[: rings["lens_light_profile"].shape[1]],
        **{f"{name}_x": radii for name in ("profile_centre", "profile_centroid", "arc_profile")},
    }
    return scalars, curves


def summarise(values: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation and the 5/25/50/75/95th percentiles of (N,) values."""
    quantiles = np.percentile(values, [5, 25, 50, 75, 95])
    return {"mean": float(values.mean()), "std": float(values.std()),
            **{f"q{q:02d}": float(v) for q, v in zip((5, 25, 50, 75, 95), quantiles)}}
