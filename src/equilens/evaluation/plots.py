"""Report figures as PNG (matplotlib, no display needed). Each function writes one file atomically."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np

from equilens.atomic import atomic_path

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` atomically as PNG and close it."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_roc(curves: dict[str, dict], path: Path, title: str = "ROC curve") -> Path:
    """``curves``: label -> {"roc_curve", "auc", "auc_ci95"}; one line each plus the chance diagonal."""
    figure, axes = plt.subplots(figsize=(5, 5))
    for label, curve in curves.items():
        low, high = curve["auc_ci95"]
        axes.plot(curve["roc_curve"]["fpr"], curve["roc_curve"]["tpr"],
                  label=f"{label}: AUC {curve['auc']:.4f} [{low:.4f}, {high:.4f}]")
    axes.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    axes.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)


def plot_confusion(matrix: list[list[int]], classes: list[str], path: Path, title: str) -> Path:
    """Confusion matrix (rows true, columns predicted) with counts in the cells."""
    matrix = np.asarray(matrix)
    figure, axes = plt.subplots(figsize=(1.6 * len(classes) + 2, 1.6 * len(classes) + 1.5))
    axes.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, str(count), ha="center", va="center", color="white" if count > matrix.max() / 2 else "black")
    axes.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
             xlabel="predicted", ylabel="true", title=title)
    return save_figure(figure, path)


def plot_score_histogram(scores: np.ndarray, labels: np.ndarray, classes: list[str], path: Path, xlabel: str) -> Path:
    """Histogram of the scores of each class."""
    figure, axes = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(scores, bins=40)
    for index, name in enumerate(classes):
        axes.hist(scores[labels == index], bins=bins, alpha=0.55, label=f"{name} ({int((labels == index).sum())})")
    axes.set(xlabel=xlabel, ylabel="images", title="scores by class")
    axes.legend()
    return save_figure(figure, path)


def read_epoch_metrics(run_dir: Path) -> dict[int, dict[str, float]]:
    """Per-epoch metrics of every ``logs/version_*/metrics.csv`` of a run (a resumed session's rows win)."""
    epochs: dict[int, dict[str, float]] = {}
    for file in sorted((run_dir / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])):
        with open(file, newline="") as handle:
            for row in csv.DictReader(handle):
                if not row.get("epoch"):
                    continue
                values = {k: float(v) for k, v in row.items() if v not in ("", None) and k not in ("epoch", "step")}
                epochs.setdefault(int(float(row["epoch"])), {}).update(values)
    return epochs


def plot_training_curves(run_dir: Path, path: Path) -> Path | None:
    """Training/validation loss and validation AUC (regression: MAE) per epoch; None when the run logged nothing."""
    epochs = read_epoch_metrics(run_dir)
    if not epochs:
        return None
    x = sorted(epochs)
    figure, (loss_axes, auc_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "training loss"), ("val_loss", "validation loss")):
        points = [(e, epochs[e][key]) for e in x if key in epochs[e]]
        if points:
            loss_axes.plot(*zip(*points), marker="o", label=label)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_axes.legend()
    key, name = ("val_mae", "validation MAE") if any("val_mae" in epochs[e] for e in x) else ("val_auc", "validation AUC")
    points = [(e, epochs[e][key]) for e in x if key in epochs[e]]
    if points:
        auc_axes.plot(*zip(*points), marker="o", c="C2")
    auc_axes.set(xlabel="epoch", ylabel=name, title=name)
    return save_figure(figure, path)


def plot_by_mass(
    bins: list[dict], path: Path, title: str, mass_at_target: float | None = None, target: float = 0.9,
    bounds: Sequence[tuple[str, str]] = (),
) -> Path:
    """AUC (95% CI) and any true-positive rates against subhalo mass (log axis), bars spanning
    each bin (rows of :mod:`~equilens.evaluation.mass_bins`); the mass at AUC ``target`` marked if given;
    ``bounds``: (row key, label) of other AUCs per bin to draw beside the model's (e.g. an ideal observer's)."""
    centre = np.array([b["mass_centre_msun"] for b in bins])
    spans = np.array([[c - b["mass_low_msun"], b["mass_high_msun"] - c] for b, c in zip(bins, centre)]).T
    auc = np.array([b["auc"] for b in bins])
    ci = np.array([b["auc_ci95"] for b in bins]).T
    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    # A percentile interval of few resamples can exclude the estimate: no negative bars.
    bars = np.clip([auc - ci[0], ci[1] - auc], 0, None)
    axes.errorbar(centre, auc, xerr=spans, yerr=bars, marker="o", capsize=3, label="AUC (95% CI)")
    for key in sorted(k for k in bins[0] if k.startswith("tpr_at_fpr_") and not k.endswith("_ci95")):
        fpr = key.removeprefix("tpr_at_fpr_")
        axes.plot(centre, [b[key] for b in bins], marker="s", ls="--", label=f"TPR at FPR {float(fpr):.0%}")
    for k, (key, label) in enumerate(bounds):
        axes.plot(centre, [b[key] for b in bins], marker="^", lw=1, c=f"C{3 + k}", label=label)
    axes.axhline(target, c="grey", lw=1, ls=":")
    if mass_at_target is not None:
        axes.axvline(mass_at_target, c="grey", lw=1, ls=":", label=f"AUC {target:g} at {mass_at_target:.2g} M☉")
    axes.set(xscale="log", xlabel="subhalo mass (M☉)", ylabel="AUC, true-positive rate", ylim=(0, 1.02), title=title)
    axes.legend(fontsize=8, loc="lower right")
    return save_figure(figure, path)


def plot_false_alarm_calibration(normal_p_values: np.ndarray, rates: list[dict], path: Path, title: str) -> Path:
    """Empirical against nominal false-alarm rate of "flag p <= alpha" on normal images, with
    the rows of :func:`~equilens.evaluation.calibration.false_alarm_table` as points and their 95% intervals."""
    top = 2 * max(row["nominal"] for row in rates)
    alpha = np.linspace(0, top, 400)
    empirical = (np.sort(normal_p_values)[None, :] <= alpha[:, None]).mean(1)
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, top], [0, top], ls="--", c="grey", lw=1, label="nominal (calibrated)")
    axes.step(alpha, empirical, where="post", c="C0", label=f"empirical ({len(normal_p_values)} normal images)")
    for row in rates:
        low, high = row["false_alarm_rate_ci95"]
        tpr = f", TPR {row['true_positive_rate']:.3f}" if "true_positive_rate" in row else ""
        axes.errorbar(row["nominal"], row["false_alarm_rate"], yerr=[[row["false_alarm_rate"] - low], [high - row["false_alarm_rate"]]],
                      marker="o", capsize=3, ls="none", label=f"p <= {row['nominal']:g}: {row['false_alarm_rate']:.2%}{tpr}")
    axes.set(xlabel="nominal false-alarm rate (flag p <= alpha)", ylabel="flagged normal images", title=title,
             xlim=(0, top), ylim=(0, top))
    axes.legend(fontsize=8, loc="upper left")
    return save_figure(figure, path)


def plot_predicted_vs_true(truth: np.ndarray, mean: np.ndarray, sigma: np.ndarray, path: Path, label: str, title: str) -> Path:
    """Predicted mean (±1 sigma) against the truth beside 1:1, and the residual beside zero."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    span = [min(truth.min(), mean.min()), max(truth.max(), mean.max())]
    top.errorbar(truth, mean, yerr=sigma, fmt="o", ms=3, alpha=0.5, elinewidth=0.6, label=f"{len(truth)} images (±1 sigma)")
    top.plot(span, span, ls="--", c="grey", lw=1, label="1:1")
    top.set(ylabel=f"predicted {label}", title=title)
    top.legend(fontsize=8, loc="upper left")
    bottom.errorbar(truth, mean - truth, yerr=sigma, fmt="o", ms=3, alpha=0.5, elinewidth=0.6)
    bottom.axhline(0, ls="--", c="grey", lw=1)
    bottom.set(xlabel=f"true {label}", ylabel="residual (predicted - true)")
    return save_figure(figure, path)


def plot_interval_calibration(nominal: list[float], empirical: list[float], path: Path, title: str) -> Path:
    """Empirical against nominal coverage of the predicted Gaussians' central intervals."""
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="nominal (calibrated)")
    axes.plot(nominal, empirical, marker="o", c="C0", label="empirical")
    axes.set(xlabel="nominal coverage of mean ± z sigma", ylabel="fraction of true values inside", title=title,
             xlim=(0, 1), ylim=(0, 1))
    axes.legend(fontsize=8, loc="upper left")
    return save_figure(figure, path)


def plot_reliability(curve: dict, path: Path, title: str) -> Path:
    """Reliability diagram of :func:`equilens.evaluation.reliability.reliability`'s ``curve``: accuracy
    against confidence per bin (marker area: images), the diagonal a calibrated model follows."""
    figure, axes = plt.subplots(figsize=(5, 5))
    low = 1.0 / 2 if not curve["confidence"] else min(0.5, min(curve["confidence"]))
    axes.plot([low, 1], [low, 1], ls="--", c="grey", lw=1, label="calibrated")
    counts = np.asarray(curve["count"], dtype=float)
    axes.plot(curve["confidence"], curve["accuracy"], c="C0", lw=1)
    axes.scatter(curve["confidence"], curve["accuracy"], s=20 + 200 * counts / max(1.0, counts.max()), c="C0",
                 label=f"per bin (area: images); ECE {curve['ece']:.3f}")
    axes.set(xlabel="confidence (top class probability)", ylabel="accuracy", title=title, xlim=(low, 1.0), ylim=(0, 1.01))
    axes.legend(loc="upper left", fontsize=8)
    return save_figure(figure, path)
