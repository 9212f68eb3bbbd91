"""``equilens evaluate`` of a regression model: errors, interval coverage and their figures, in the target's
units (log10 of it for a ``--log-target`` model); the command-line page lists the report's files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from equilens.atomic import write_text_atomic
from equilens.config import BOOTSTRAP_REPLICATES, INVARIANCE_IMAGES
from equilens.datasets.folder import LensFolder, check_images, load_images
from equilens.datasets.targets import read_targets, target_label
from equilens.evaluation import plots
from equilens.evaluation.metrics import regression_metrics
from equilens.regression import to_user_units
from equilens.testing import invariance_changes

if TYPE_CHECKING:
    from equilens.api import TrainedModel


def evaluate_regression(
    model: TrainedModel, folder: LensFolder, out_dir: Path, symmetrize: bool = False, n_bootstrap: int = BOOTSTRAP_REPLICATES,
    invariance_images: int = INVARIANCE_IMAGES, batch_size: int | None = None,
) -> dict[str, Any]:
    """Evaluate a regression ``model`` on the labelled ``folder``, write the report into ``out_dir``; return the metrics."""
    record = model.record.regression
    infos = check_images(folder.files, model.reading, model.channels)
    truth = read_targets(folder.root, folder.files, record["target"], record["log10"], infos)
    images = load_images(folder.files, reading=model.reading, channels=model.channels)
    mean, sigma = model.gaussian(images, batch_size=batch_size, symmetrize=symmetrize)
    label = target_label(record["target"], record["log10"])
    metrics: dict[str, Any] = {
        "model": str(model.weights.resolve()),
        "task": model.task,
        "data": str(folder.root.resolve()),
        "classes": list(folder.classes),
        "target": label,
        "symmetrized": symmetrize,
        "precision": model.precision,
        "sigma_calibration": record.get("sigma_calibration", "none: the network's own sigma"),
        **regression_metrics(truth, mean, sigma, n_bootstrap=n_bootstrap),
    }
    if model.record.training is not None:
        metrics["training"] = model.record.training
    if invariance_images:
        # How far the predicted mean and sigma (target units) move under the exact symmetries.
        network = model.network
        changes = invariance_changes(lambda x: torch.stack(to_user_units(network(x), record), 1), images[:invariance_images].to(
            next(network.parameters()).device))
        metrics["invariance"] = {"rot90_max_abs_change": max(v for k, v in changes.items() if k.startswith("rot")),
                                 "flip_max_abs_change": max((v for k, v in changes.items() if not k.startswith("rot")), default=0.0)}
    plots.plot_predicted_vs_true(truth, mean, sigma, out_dir / "predicted_vs_true.png", label,
                                 f"{label}: MAE {metrics['mae']:.3g}, RMSE {metrics['rmse']:.3g}, bias {metrics['bias']:.3g}")
    plots.plot_interval_calibration(metrics["calibration"]["nominal"], metrics["calibration"]["empirical"],
                                    out_dir / "interval_calibration.png", f"interval calibration ({len(truth)} images)")
    if model.run_dir is not None:
        plots.plot_training_curves(model.run_dir, out_dir / "training_curves.png")
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["path", "class", f"true_{label}", f"{label}_mean", f"{label}_sigma"])
    writer.writerows((str(f), folder.classes[c], f"{t:.6g}", f"{m:.6g}", f"{s:.6g}")
                     for f, c, t, m, s in zip(folder.files, folder.labels, truth, mean.tolist(), sigma.tolist()))
    write_text_atomic(out_dir / "predictions.csv", rows.getvalue())
    return metrics


def print_summary(out: Path, metrics: dict[str, Any]) -> None:
    """What ``equilens evaluate`` prints for a regression model."""
    low, high = metrics["mae_ci95"] or (float("nan"), float("nan"))
    print(f"images: {metrics['n_images']}; target {metrics['target']}")
    print(f"MAE {metrics['mae']:.4g} (95% CI {low:.4g}-{high:.4g}; predicting the mean: {metrics['mae_of_predicting_the_mean']:.4g}), "
          f"RMSE {metrics['rmse']:.4g}, bias {metrics['bias']:+.4g}")
    print(f"sigma calibration: {metrics['sigma_calibration']}")
    print("interval coverage: " + ", ".join(f"{float(k):.0%} -> {v['empirical']:.1%}" for k, v in metrics["interval_coverage"].items()))
    for b in metrics["by_true_value"]:
        print(f"  true {b['low']:.4g} to {b['high']:.4g} ({b['n']} images): MAE {b['mae']:.4g}, bias {b['bias']:+.4g}, "
              f"median sigma {b['median_sigma']:.4g}, coverage " + ", ".join(f"{float(k):.0%} -> {v:.1%}" for k, v in b["coverage"].items()))
    if "invariance" in metrics:
        inv = metrics["invariance"]
        print(f"invariance: max change of mean/sigma under 90-degree rotations {inv['rot90_max_abs_change']:.2e}, "
              f"flips {inv['flip_max_abs_change']:.2e}")
    print(f"report: {out} (metrics.json, predictions.csv, predicted_vs_true.png, interval_calibration.png, training_curves.png)")
