"""Figures comparing real with simulated images: curves, statistics, galleries, separations."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from equilens.evaluation.plots import plt, save_figure
from equilens.fidelity.statistics import CURVES, SCALARS, centre_of

DISPLAY_SOFTENING = 0.02  # asinh(x / 0.02) shows arcs at 1% of the peak and the lens core
COLOURS = {"real": "tab:blue", "sim": "tab:orange"}


def plot_curve(name: str, measured: dict[str, dict[str, tuple[dict, dict]]], path: Path) -> Path:
    """One curve, real against simulated, a panel per class: the mean and 16-84% band over images
    of ``measured[source][class] = (scalars, curves)``."""
    xlabel, ylabel, xscale, yscale = CURVES[name]
    classes = list(next(iter(measured.values())))
    figure, axes = plt.subplots(1, len(classes), figsize=(5.5 * len(classes), 4), sharey=True, squeeze=False)
    for ax, class_name in zip(axes[0], classes):
        for source, by_class in measured.items():
            curves = by_class[class_name][1]
            x, y = curves[f"{name}_x"], curves[name]
            if name == "pixel_histogram":
                # Pooled: a band of per-image fractions of one level is all noise.
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
    """Histograms of every scalar statistic of one class, real against simulated, titled by its AUC."""
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
    """Rows (label, images (K, S, S), ring radii (K,) px) in one stretch, ring radii dashed."""
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
