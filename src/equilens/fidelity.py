"""How far simulated lensing images are from real ones: image statistics, two two-sample tests
and their plots (``benchmarks/sim_fidelity.py`` runs them on two folders).

Per class, images are measured the same way: pixel histogram, radial profiles about the image
centre and about the flux centroid, ring radius, arc width and arc contrast, the lens-light
profile, background level and noise, the radially averaged power spectrum (:func:`measure`).
Two two-sample tests say how different two sets are: a small CNN trained to tell real from
simulated images (:func:`discriminator_auc`: AUC on held-out images; 0.5: indistinguishable),
and gradient boosting on the scalar statistics, with each statistic's own AUC
(:func:`feature_separation`: what differs).

Images are compared as read (:func:`equilens.datasets.images.read_image`: 8-bit files / 255,
float ``.npy`` as stored): a float simulation against 8-bit real images differs in its
quantisation too, which the CNN can see, so simulate with ``--format jpg`` to compare looks.
Used in calibration loops::

    from equilens.fidelity import discriminator_auc
    discriminator_auc(real, sim)   # (N, H, W) float arrays in [0, 1] -> {"auc", "auc_ci95", ...}
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits
from torch import nn

from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.evaluation.metrics import auc_with_ci
from equilens.evaluation.plots import plt, save_figure
from equilens.log import logger

# Geometry as fractions of the image side S, so other image sizes scale (150 px: Test IV).
LENS_CORE_FRACTION = 0.05  # r < 7.5 px at 150 px: the compact lens light; rings are searched outside
RING_SEARCH_MAX_FRACTION = 0.45  # rings are searched inside 67 px at 150 px
CORNER_FRACTION = 0.1  # the four 15 x 15 px corners at 150 px hold neither lens light nor arcs
N_ANGLES = 72  # polar sampling: 5-degree sectors
HIGH_FREQUENCY = 0.25  # cycles per pixel: above it, power is noise, JPEG blocks and the sharpest edges
DARK_LEVEL = 2.5 / 255  # "dark" pixel: 0, 1 or 2 in 8 bits (75% of the real Test IV pixels are)
DISPLAY_SOFTENING = 0.02  # gallery stretch asinh(x / 0.02): shows arcs at 1% of the peak and the lens core

#: Per-image scalar statistics: name -> what it is, with units (px: pixels; images are in [0, 1]).
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
    """(N, R) mean pixel value in 1-px annuli about each image's centre (N, 2); R = S // 2.

    Annulus k holds the pixels whose distance from the centre rounds down to k.
    """
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
    """Full width (in samples) at half of ``profile[peak]`` around ``peak``, linearly interpolated.

    A side that never falls to half (it reaches the end of the profile) counts to that end.
    """
    half = profile[peak] / 2
    edges = []
    for step in (-1, 1):
        k = peak
        while 0 <= k + step < len(profile) and profile[k + step] > half:
            k += step
        outer = k + step
        if 0 <= outer < len(profile):
            # Linear interpolation between the last sample above half and the first below.
            k = k + step * (profile[k] - half) / max(profile[k] - profile[outer], 1e-12)
        edges.append(k)
    return float(edges[1] - edges[0])


def ring_statistics(polar: np.ndarray, noise: np.ndarray) -> dict[str, np.ndarray]:
    """Lens light, ring and arcs from polar images (N, R, A) with background noise sigma (N,).

    The lens light is circular: the median over angle at each radius estimates it (plus the
    background and any complete, even ring); what lies above it is the lensed light (and the
    lens light's own ellipticity). Outside the lens core, the ring radius is the mean radius of
    that excess where it stands 3 sigma above the noise, weighted by it (for an isothermal lens
    the two images of a source lie at theta_E +- beta, so their mean radius is the Einstein
    radius); the arc's radius, radial width and contrast are measured at the excess's brightest
    point.

    Returns:
        ``ring_radius``, ``arc_radius``, ``arc_width`` (px), ``arc_contrast``, ``lens_peak``,
        ``lens_hwhm`` (px): (N,) each; ``lens_light_profile``: (N, 2 x core + 1) the circular
        part about the lens (core: the lens core radius in px); ``arc_profile``: (N, R) the
        non-circular light's mean over angle.
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
        # About index 0 the width has no left side: it is the half width at half maximum of
        # the lens light above the circular light at the image's edge.
        out["lens_hwhm"][i] = half_max_width(circular[i] - circular[i, -1], 0)
    # The lens-light profile is shown out to twice the core radius; further out, the circular
    # part holds the complete rings too.
    return {**out, "lens_peak": circular[:, 0], "lens_light_profile": circular[:, : 2 * core + 1], "arc_profile": excess.mean(axis=2)}


def corner_pixels(images: np.ndarray) -> np.ndarray:
    """(N, 4 c^2) the pixels of the four c x c corners of each image, c = CORNER_FRACTION x S."""
    c = max(2, int(round(CORNER_FRACTION * images.shape[1])))
    corners = [images[:, :c, :c], images[:, :c, -c:], images[:, -c:, :c], images[:, -c:, -c:]]
    return np.concatenate([corner.reshape(len(images), -1) for corner in corners], axis=1)


def power_spectra(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power |FFT(x - mean)|^2 / pixels of each image (N, S, S).

    Returns:
        (frequencies (K,) in cycles per pixel, spectra (N, K)), K = S // 2 bins of width 1 / S.
    """
    size = images.shape[1]
    power = np.abs(np.fft.fft2(images - images.mean((1, 2), keepdims=True))) ** 2 / images[0].size
    frequency = np.fft.fftfreq(size)
    k = np.rint(np.hypot(*np.meshgrid(frequency, frequency, indexing="ij")) * size).astype(int).ravel()
    inside = (k > 0) & (k <= size // 2)
    counts = np.bincount(k[inside], minlength=size // 2 + 1)[1:]
    spectra = np.stack([np.bincount(k[inside], p.ravel()[inside], minlength=size // 2 + 1)[1:] for p in power]) / counts
    return np.arange(1, size // 2 + 1) / size, spectra


def elongations(images: np.ndarray, background: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e1, e2) of the second moments about the image centre of the light that stands 3 ``noise``
    above ``background`` (both (N,)): noise alone, clipped at zero, would add a round, wide halo."""
    light = np.clip(images - (background + 3 * noise)[:, None, None], 0, None)
    rows, cols = np.indices(images.shape[1:]) - centre_of(images)[:, None, None]
    total = light.sum((1, 2)) + 1e-12
    ixx, iyy, ixy = ((light * m).sum((1, 2)) / total for m in (cols**2, rows**2, rows * cols))
    return (ixx - iyy) / (ixx + iyy + 1e-12), 2 * ixy / (ixx + iyy + 1e-12)


def measure(images: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every statistic of every image (N, S, S), values in [0, 1].

    Returns:
        (scalars: name -> (N,), as in :data:`SCALARS`; curves: name -> (N, K), as in
        :data:`CURVES`, plus ``<name>_x`` -> (K,) their abscissae).
    """
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


# Figures: real in one colour, simulated in another, everywhere.
COLOURS = {"real": "tab:blue", "sim": "tab:orange"}


def plot_curve(name: str, measured: dict[str, dict[str, tuple[dict, dict]]], path: Path) -> Path:
    """One curve statistic, real against simulated: a panel per class, the mean over images with
    the band of their 16th-84th percentiles. ``measured[source][class] = (scalars, curves)``."""
    xlabel, ylabel, xscale, yscale = CURVES[name]
    classes = list(next(iter(measured.values())))
    figure, axes = plt.subplots(1, len(classes), figsize=(5.5 * len(classes), 4), sharey=True, squeeze=False)
    for ax, class_name in zip(axes[0], classes):
        for source, by_class in measured.items():
            curves = by_class[class_name][1]
            x, y = curves[f"{name}_x"], curves[name]
            if name == "pixel_histogram":
                # The pooled fraction: the band of per-image fractions of one level is all noise.
                ax.step(x, y.mean(0), where="mid", color=COLOURS[source], label=f"{source} ({len(y)} images)")
                continue
            low, high = np.percentile(y, [16, 84], axis=0)
            ax.plot(x, y.mean(0), color=COLOURS[source], label=f"{source} ({len(y)} images): mean")
            ax.fill_between(x, low, high, color=COLOURS[source], alpha=0.2, lw=0, label=f"{source}: 16-84%")
        ax.set(xlabel=xlabel, xscale=xscale, yscale=yscale, title=f"{class_name}: {name.replace('_', ' ')}")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, 0].legend(fontsize=8)
    return save_figure(figure, path)


def plot_scalars(class_name: str, measured: dict[str, dict[str, tuple[dict, dict]]], auc: dict[str, float], path: Path) -> Path:
    """Histograms of every scalar statistic of one class, real against simulated; each panel's
    title gives the statistic's own real-vs-simulated AUC (0.5: the same distribution)."""
    columns = 4
    rows = -(-len(SCALARS) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), SCALARS):
        values = {source: by_class[class_name][0][name] for source, by_class in measured.items()}
        bins = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=40)
        for source, v in values.items():
            ax.hist(v, bins=bins, color=COLOURS[source], alpha=0.5, label=source)
        ax.set_title(f"{name} (AUC {auc[name]:.2f})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(SCALARS):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(f"{class_name}: per-image statistics, real vs simulated")
    figure.tight_layout()
    return save_figure(figure, path)


def plot_gallery(rows: list[tuple[str, np.ndarray, np.ndarray]], path: Path) -> Path:
    """Rows of images (label, images (K, S, S), ring radii (K,) in px) with one display stretch,
    asinh(x / 0.02), and the measured ring radius as a dashed circle."""
    columns = max(len(images) for _, images, _ in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.6 * columns, 1.7 * len(rows)), squeeze=False)
    top = np.arcsinh(1 / DISPLAY_SOFTENING)
    for row_axes, (label, images, radii) in zip(axes, rows):
        for ax, image, radius in zip(row_axes, images, radii):
            ax.imshow(np.arcsinh(image / DISPLAY_SOFTENING), cmap="gray", vmin=0, vmax=top)
            ax.add_patch(plt.Circle(centre_of(images)[::-1], radius, fill=False, ls="--", lw=0.6, color="tab:red"))
        for ax in row_axes:
            ax.set(xticks=[], yticks=[])
        row_axes[0].set_ylabel(label, fontsize=8)
    figure.suptitle(f"same stretch asinh(x / {DISPLAY_SOFTENING}) for all; dashed: measured ring radius", fontsize=9)
    figure.tight_layout()
    return save_figure(figure, path)


def discriminator_inputs(images: np.ndarray) -> torch.Tensor:
    """(N, 1, S/2, S/2) network inputs from images (N, S, S) in [0, 1]: 2 x 2 average pooling
    (150 -> 75 px, as the default classifier sees them) and the log stretch
    log(1 + 50 x) / log(51), so that faint arcs and the background weigh as much as the lens core."""
    pooled = F.avg_pool2d(torch.as_tensor(images, dtype=torch.float32)[:, None], 2)
    return torch.log1p(50 * pooled) / np.log(51.0)


def discriminator_network() -> nn.Module:
    """A plain CNN of four 3 x 3 conv-BN-ReLU-maxpool blocks (8-16-32-64 channels, 24k
    parameters; ~5M multiply-adds per 75-px image, so an epoch of 1,400 images takes seconds on
    a shared 2-core CPU) and global average pooling to one logit: p(real)."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip((1, 8, 16, 32), (8, 16, 32, 64)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1))


def seeded_halves(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices) of a seeded random split of range(n)."""
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return order[n_test:], order[:n_test]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with ``n`` torch CPU threads, then restore the count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.inference_mode()
def _logits(network: nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    network.eval()
    return torch.cat([network(inputs[i : i + batch_size])[:, 0] for i in range(0, len(inputs), batch_size)]).numpy()


def discriminator_auc(
    real: np.ndarray,
    sim: np.ndarray,
    seed: int = 0,
    budget_s: float = 90.0,
    epochs: int = 20,
    test_fraction: float = 0.3,
    batch_size: int = 64,
    lr: float = 1e-3,
    threads: int = 1,
) -> dict[str, Any]:
    """Two-sample test: how well a small CNN tells ``real`` from ``sim`` images it has not seen.

    Each set is split (seeded) into train and held-out parts; the CNN
    (:func:`discriminator_network` on :func:`discriminator_inputs`) learns real = 1, sim = 0
    on the train parts, balanced by sampling the same number from each per epoch, for ``epochs``
    epochs or until ``budget_s`` seconds are spent, whichever ends first (the epoch count keeps
    results comparable across machines and loads; the budget only guards a slow one). No
    augmentation: any difference, orientation included, is a difference. ``threads``: torch
    CPU threads; one, because on a CPU shared with other work one thread trained this network
    several times faster than two (measured with ``benchmarks/sim_fidelity.py compare``).

    Args:
        real, sim: (N, S, S) and (M, S, S) float images in [0, 1], one class each.

    Returns:
        ``auc`` on the held-out images (0.5: indistinguishable; 1.0: always told apart) and its
        bootstrap ``auc_ci95``; ``n_train``/``n_test`` as [real, sim]; ``epochs`` run,
        ``seconds``; ``real_test_index``/``sim_test_index`` (indices into the inputs) and
        ``real_test_scores``/``sim_test_scores`` (logits, high = real-looking).
    """
    with torch_threads(threads):
        return _train_discriminator(real, sim, seed, budget_s, epochs, test_fraction, batch_size, lr)


def _train_discriminator(real: np.ndarray, sim: np.ndarray, seed: int, budget_s: float, epochs: int,
                         test_fraction: float, batch_size: int, lr: float) -> dict[str, Any]:
    """:func:`discriminator_auc` on the current torch threads."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    (real_train, real_test), (sim_train, sim_test) = (seeded_halves(len(x), test_fraction, rng) for x in (real, sim))
    real_inputs, sim_inputs = discriminator_inputs(real), discriminator_inputs(sim)
    network = discriminator_network()
    optimiser = torch.optim.Adam(network.parameters(), lr=lr)
    per_side = min(len(real_train), len(sim_train))
    start, done = time.perf_counter(), 0
    while done < epochs and time.perf_counter() - start < budget_s:
        network.train()
        inputs = torch.cat([real_inputs[rng.choice(real_train, per_side, replace=False)],
                            sim_inputs[rng.choice(sim_train, per_side, replace=False)]])
        targets = torch.cat([torch.ones(per_side), torch.zeros(per_side)])
        order = torch.from_numpy(rng.permutation(len(inputs)))
        for batch in order.split(batch_size):
            loss = F.binary_cross_entropy_with_logits(network(inputs[batch])[:, 0], targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        done += 1
    real_scores, sim_scores = _logits(network, real_inputs[real_test]), _logits(network, sim_inputs[sim_test])
    auc, low, high = auc_with_ci(np.r_[np.ones(len(real_scores)), np.zeros(len(sim_scores))], np.r_[real_scores, sim_scores])
    return {
        "auc": auc, "auc_ci95": [low, high], "n_train": [len(real_train), len(sim_train)],
        "n_test": [len(real_test), len(sim_test)], "epochs": done, "seconds": time.perf_counter() - start,
        "real_test_index": real_test, "sim_test_index": sim_test, "real_test_scores": real_scores, "sim_test_scores": sim_scores,
    }


def feature_separation(real: dict[str, np.ndarray], sim: dict[str, np.ndarray], seed: int = 0, folds: int = 5) -> dict[str, Any]:
    """What differs: each scalar statistic's own AUC, and all of them together.

    Args:
        real, sim: name -> (N,) / (M,) per-image statistics (:data:`SCALARS`).

    Returns:
        ``per_statistic``: name -> AUC of that statistic alone for real (1) against sim (0)
        (above 0.5: larger in the real images; 0.5: no difference in that statistic);
        ``gradient_boosting``: {``auc``, ``auc_ci95``} of gradient boosting on all of them,
        from ``folds``-fold cross-validated predictions.
    """
    names = list(SCALARS)
    labels = np.r_[np.ones(len(real[names[0]])), np.zeros(len(sim[names[0]]))]
    features = np.stack([np.r_[real[name], sim[name]] for name in names], axis=1)
    per_statistic = {name: float(roc_auc_score(labels, features[:, k])) for k, name in enumerate(names)}
    # One OpenMP thread: on a CPU shared with other work, more threads spin and wait.
    with threadpool_limits(1):
        scores = cross_val_predict(HistGradientBoostingClassifier(random_state=seed), features, labels,
                                   cv=StratifiedKFold(folds, shuffle=True, random_state=seed), method="predict_proba")[:, 1]
    auc, low, high = auc_with_ci(labels, scores)
    return {"per_statistic": per_statistic, "gradient_boosting": {"auc": auc, "auc_ci95": [low, high]}}


def summarise(values: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation and the 5/25/50/75/95th percentiles of (N,) values."""
    quantiles = np.percentile(values, [5, 25, 50, 75, 95])
    return {"mean": float(values.mean()), "std": float(values.std()),
            **{f"q{q:02d}": float(v) for q, v in zip((5, 25, 50, 75, 95), quantiles)}}


def compare_class(class_name: str, real: np.ndarray, sim: np.ndarray, out: Path, seed: int = 0,
                  discriminator_epochs: int = 20, discriminator_budget_s: float = 90.0) -> tuple[dict, dict]:
    """Statistics and both two-sample tests of one class's real (N, S, S) and sim (M, S, S) images;
    the discriminator's extremes are drawn in ``out/discriminator-<class>.png``
    (``discriminator_epochs`` 0 skips the discriminator).

    Returns:
        (measurements {"real": (scalars, curves), "sim": (...)}, the class's JSON record).
    """
    measured = {"real": measure(real), "sim": measure(sim)}
    separation = feature_separation(measured["real"][0], measured["sim"][0], seed=seed)
    record = {
        "n": {"real": len(real), "sim": len(sim)},
        "statistics": {name: {source: summarise(m[0][name]) for source, m in measured.items()} for name in SCALARS},
        "mean_curves": {name: {"x": measured["real"][1][f"{name}_x"].tolist(),
                               **{source: m[1][name].mean(0).tolist() for source, m in measured.items()}} for name in CURVES},
        "feature_separation": separation,
    }
    if discriminator_epochs > 0:
        logger.info("%s: training the real-vs-sim discriminator (%d epochs at most %.0f s)", class_name,
                    discriminator_epochs, discriminator_budget_s)
        result = discriminator_auc(real, sim, seed=seed, budget_s=discriminator_budget_s, epochs=discriminator_epochs)
        record["discriminator"] = {k: v for k, v in result.items() if not k.endswith(("_index", "_scores"))}
        plot_discriminator_extremes(class_name, real, sim, measured, result, out / f"discriminator-{class_name}.png")
    return measured, record


def plot_discriminator_extremes(class_name: str, real: np.ndarray, sim: np.ndarray, measured: dict, result: dict, path: Path) -> Path:
    """Held-out images the discriminator scored: the 8 most and least real-looking of each set."""
    rows = []
    for source, images in (("real", real), ("sim", sim)):
        index, scores = result[f"{source}_test_index"], result[f"{source}_test_scores"]
        order = index[np.argsort(scores)]
        radii = measured[source][0]["ring_radius"]
        for label, chosen in (("most real-looking", order[::-1][:8]), ("least real-looking", order[:8])):
            rows.append((f"{source} {class_name}:\n{label}", images[chosen], radii[chosen]))
    return plot_gallery(rows, path)


def plot_separation(records: dict[str, dict], path: Path) -> Path:
    """Each statistic's own real-vs-sim AUC per class, sorted by how far it is from 0.5."""
    names = sorted(SCALARS, key=lambda n: -max(abs(r["feature_separation"]["per_statistic"][n] - 0.5) for r in records.values()))
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(names) + 1.5))
    height = 0.8 / len(records)
    for k, (class_name, record) in enumerate(records.items()):
        aucs = [record["feature_separation"]["per_statistic"][n] for n in names]
        axes.barh(np.arange(len(names)) + k * height, np.array(aucs) - 0.5, height=height, left=0.5, label=class_name)
    axes.axvline(0.5, color="grey", lw=1)
    axes.set(yticks=np.arange(len(names)) + height * (len(records) - 1) / 2, yticklabels=names, xlim=(0, 1),
             xlabel="AUC of the statistic alone (right: larger in real images; 0.5: no difference)")
    axes.invert_yaxis()
    axes.legend(fontsize=8)
    axes.set_title("what separates real from simulated images")
    return save_figure(figure, path)
