"""A gallery of evaluated images with their scores: what the model is sure of, gets wrong and
hesitates on, so that a person can look. An image is called substructure when score >= threshold."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from equilens.datasets.formats import GREY, Reading
from equilens.evaluation.plots import plt, save_figure

# asinh stretch, linear below this pixel value: a linear grey scale leaves the faint arcs black.
STRETCH_SOFTENING = 0.02
STRETCH = f"asinh(x / {STRETCH_SOFTENING:g}) / asinh(1 / {STRETCH_SOFTENING:g})"


def gallery_rows(
    scores: np.ndarray, labels: np.ndarray, classes: Sequence[str], threshold: float, columns: int = 8, wrong_rows: int = 2
) -> list[tuple[str, np.ndarray]]:
    """(row label, indices of up to ``columns`` images) per gallery row, empty categories included: each
    class's most confident correct images, the misclassified (at most ``wrong_rows`` rows, surest first),
    the images nearest ``threshold``. ``labels`` (N,) index ``classes``, 0 being ``no_sub``."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    margin = np.abs(scores - threshold)
    correct = (scores >= threshold) == (labels > 0)
    by_margin = np.argsort(-margin, kind="stable")
    rows = [
        (f"most confident\n{name}, correct", by_margin[(labels[by_margin] == index) & correct[by_margin]][:columns])
        for index, name in enumerate(classes)
    ]
    wrong = by_margin[~correct[by_margin]]
    for row in range(max(1, min(wrong_rows, math.ceil(len(wrong) / columns)))):
        label = "misclassified,\nmost confident first" if row == 0 else "misclassified\n(continued)"
        rows.append((label, wrong[row * columns : (row + 1) * columns]))
    rows.append(("nearest the\nthreshold", np.argsort(margin, kind="stable")[:columns]))
    return rows


def short_name(name: str, length: int = 22) -> str:
    """``name`` cut to ``length`` characters by an ellipsis in the middle (keeps the suffix)."""
    if len(name) <= length:
        return name
    head = (length - 1) // 2
    return f"{name[:head]}…{name[len(name) - (length - 1 - head):]}"


def plot_gallery(
    images,
    files: Sequence[Path],
    labels: np.ndarray,
    classes: Sequence[str],
    scores: np.ndarray,
    threshold: float,
    path: Path,
    score_name: str,
    threshold_rule: str,
    columns: int = 8,
    reading: Reading = GREY,
) -> Path:
    """Draw the gallery of ``images`` (N, C, H, W) in [0, 1] and their ``files`` as one PNG at ``path``:
    each tile in the stretch :data:`STRETCH` (one for all), titled by its class, score and file, red
    if wrong; ``reading`` picks the colours of multi-band images (:func:`display_bands`)."""
    shown, shown_as = display_bands(np.shape(images)[1], reading)
    columns = max(1, min(columns, len(scores)))
    rows = gallery_rows(scores, labels, classes, threshold, columns)
    figure, grid = plt.subplots(len(rows), columns, figsize=(1.55 * columns + 1.6, 1.9 * len(rows) + 0.9), squeeze=False)
    for (label, indices), axes_row in zip(rows, grid):
        for column, axes in enumerate(axes_row):
            axes.set_xticks([])
            axes.set_yticks([])
            if column < len(indices):
                _draw_tile(axes, int(indices[column]), images, shown, files, labels, classes, scores, threshold)
            else:
                axes.set_frame_on(False)
        axes_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9, labelpad=8)
        if len(indices) == 0:
            axes_row[0].text(0.5, 0.5, "none", ha="center", va="center", color="grey", transform=axes_row[0].transAxes)
    figure.suptitle(
        f"{len(scores)} images; each tile: true class, score, file name (red: misclassified)\n"
        f"score: {score_name}; called substructure when score >= {threshold:.4g} ({threshold_rule})\n"
        f"{shown_as}: {STRETCH} of pixel values x in [0, 1], the same for every tile (lifts faint arcs)",
        fontsize=9,
    )
    figure.tight_layout()
    return save_figure(figure, path)


def display_bands(channels: int, reading: Reading = GREY) -> tuple[list[int], str]:
    """(bands shown as R, G, B or one grey band, how the title says so) for (C, H, W) images:
    colour pictures keep their R, G, B; three survey bands are taken bluest first, so the last is
    red; any other count shows the first band in grey."""
    names = list(reading.bands) if reading.bands else [f"band {i + 1}" for i in range(channels)]
    if channels == 3 and reading.colour:
        return [0, 1, 2], "colour (the pictures' R, G, B)"
    if channels == 3:
        return [2, 1, 0], f"colour: R, G, B = {names[2]}, {names[1]}, {names[0]}"
    return [0], "grey scale" if channels == 1 else f"grey scale of {names[0]} (of {channels} bands)"


def _draw_tile(axes, index, images, shown, files, labels, classes, scores, threshold) -> None:
    image = np.asarray(images[index], dtype=np.float64)[shown]
    stretched = np.arcsinh(image / STRETCH_SOFTENING) / np.arcsinh(1 / STRETCH_SOFTENING)
    if len(shown) == 3:
        axes.imshow(np.clip(stretched.transpose(1, 2, 0), 0, 1))
    else:
        axes.imshow(stretched[0], cmap="gray", vmin=0, vmax=1)
    wrong = (scores[index] >= threshold) != (labels[index] > 0)
    axes.set_title(f"{classes[labels[index]]}  {scores[index]:#.4g}\n{short_name(Path(files[index]).name)}",
                   fontsize=7, color="red" if wrong else "black")
