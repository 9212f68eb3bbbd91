"""``equilens evaluate`` of a classifier or anomaly detector: score a labelled set and write the report
(``metrics.json``, ``scores.csv`` and figures; the command-line page lists them)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from equilens.atomic import write_text_atomic
from equilens.config import BOOTSTRAP_REPLICATES, FALSE_ALARM_RATES, INVARIANCE_IMAGES
from equilens.datasets.folder import LensFolder, binary_labels, load_images
from equilens.datasets.formats import Reading
from equilens.errors import InputError
from equilens.evaluation import plots
from equilens.evaluation.calibration import conformal_p_values, false_alarm_table
from equilens.evaluation.gallery import plot_gallery
from equilens.evaluation.mass_bins import auc_by_mass
from equilens.evaluation.metrics import (auc_and_tpr_at_fpr, binary_metrics, invariance_errors, multiclass_metrics,
                                        tpr_above_negatives)
from equilens.evaluation.reliability import reliability
from equilens.prior_shift import class_mix as estimate_class_mix

if TYPE_CHECKING:
    from equilens.api import TrainedModel


def evaluate_scores(model: TrainedModel, folder: LensFolder, out_dir: Path, threshold: float | None = None,
                    symmetrize: bool = False, n_bootstrap: int = BOOTSTRAP_REPLICATES, invariance_images: int = INVARIANCE_IMAGES,
                    batch_size: int | None = None) -> dict[str, Any]:
    """Score the labelled ``folder``, write the report into ``out_dir`` (arguments: ``evaluate``'s); return the metrics."""
    task = model.task_type
    images = load_images(folder.files, reading=model.reading, channels=model.channels)
    scores, probabilities = model.scores(images, batch_size=batch_size, symmetrize=symmetrize)
    is_substructure = (folder.labels > 0).astype(int)
    if threshold is None:
        threshold, threshold_rule = task.threshold(is_substructure, scores)
    else:
        threshold_rule = "given"
    metrics: dict[str, Any] = {
        "model": str(model.weights.resolve()),
        "task": task.name,
        "data": str(folder.root.resolve()),
        "classes": list(folder.classes),
        "n_images": len(folder.files),
        "score": task.score_description(model),
        "symmetrized": symmetrize,
        "precision": model.precision,
        "threshold_rule": threshold_rule,
        "substructure_vs_none": binary_metrics(is_substructure, scores, threshold, n_bootstrap),
    }
    if model.record.training is not None:
        metrics["training"] = model.record.training
    metrics["substructure_vs_none"]["tpr_at_fpr"] = {
        f"{rate:g}": float(tpr) for rate, tpr in zip(FALSE_ALARM_RATES, auc_and_tpr_at_fpr(is_substructure, scores, FALSE_ALARM_RATES)[1:])
    }
    # Lens-finding challenge figures (Metcalf et al. 2019): positives above the highest / 10th highest negative.
    metrics["substructure_vs_none"].update({"tpr0": tpr_above_negatives(is_substructure, scores, 1),
                                            "tpr10": tpr_above_negatives(is_substructure, scores, 10)})
    if model.calibration is not None:
        p_values = conformal_p_values(model.calibration, scores)
        metrics["false_alarm_calibration"] = {
            "rule": "flag p <= nominal; p = (1 + #{calibration scores >= score}) / (n + 1)",
            "calibration": {k: v for k, v in model.record.calibration.items() if k != "scores"},
            "rates": false_alarm_table(p_values, folder.labels),
        }
    same_classes = probabilities is not None and list(folder.classes) == model.classes
    multiclass = same_classes and len(folder.classes) > 2
    if same_classes:
        metrics["reliability"] = reliability(probabilities, folder.labels)
        metrics["class_mix"] = class_mix(model, probabilities, folder.labels)
    if multiclass:
        metrics["multiclass"] = multiclass_metrics(folder.labels, probabilities, list(folder.classes), n_bootstrap)
    masses = largest_subhalo_masses(folder)
    if masses is not None:
        metrics["auc_by_mass"] = auc_by_mass(masses, is_substructure, scores, n_bootstrap)
    if invariance_images:
        metrics["invariance"] = invariance_errors(model.network, images[:invariance_images])
    _write_report(out_dir, metrics, folder, images, scores, probabilities if multiclass else None, model.run_dir, model.reading)
    if "reliability" in metrics:
        plots.plot_reliability(metrics["reliability"], out_dir / "reliability.png", f"reliability on {folder.root.name}")
    if "false_alarm_calibration" in metrics:
        plots.plot_false_alarm_calibration(p_values[folder.labels == 0], metrics["false_alarm_calibration"]["rates"],
                                           out_dir / "false_alarm_calibration.png", f"false alarms on {folder.classes[0]} images")
    return metrics


def class_mix(model: TrainedModel, probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Each class's share of the images: the truth, and what the model's (N, K) ``probabilities``
    estimate without their labels (:func:`equilens.prior_shift.class_mix`, from the mix the model
    assumes, :attr:`~equilens.api.TrainedModel.class_prior`), with its 95% bootstrap interval."""
    return {"classes": model.classes, "true": (np.bincount(labels, minlength=len(model.classes)) / len(labels)).tolist(),
            **estimate_class_mix(probabilities, model.class_prior)}


def largest_subhalo_masses(folder: LensFolder) -> np.ndarray | None:
    """(N,) mass (M☉) of each file's largest subhalo (0: none) from the folder's ``metadata.csv``; None unless complete."""
    # Imported here: only simulated folders need the simulation (lenstronomy).
    from equilens.simulation.writer import METADATA_NAME

    path = folder.root / METADATA_NAME
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        rows = {row.get("file"): row.get("subhalo_mass_max_msun") for row in csv.DictReader(handle)}
    try:
        return np.array([float(rows[Path(f).relative_to(folder.root).as_posix()]) for f in folder.files])
    except (KeyError, ValueError, TypeError):
        return None


def _write_report(
    out_dir: Path, metrics: dict, folder: LensFolder, images: torch.Tensor, scores: np.ndarray, probabilities: np.ndarray | None,
    run_dir: Path | None, reading: Reading,
) -> None:
    """Write the report files of ``folder.files``: ``images`` (N, C, H, W), ``scores`` (N,), ``probabilities`` (N, K)."""
    multiclass = probabilities is not None
    binary = metrics["substructure_vs_none"]
    negative, positive = binary_labels(folder.classes)
    curves = {f"{positive} vs {negative}": binary}
    if multiclass:
        curves.update({f"{name} vs rest": v for name, v in metrics["multiclass"]["one_vs_rest"].items()})
    plots.plot_roc(curves, out_dir / "roc.png")
    plots.plot_confusion(binary["confusion_matrix"], [negative, positive], out_dir / "confusion_matrix.png",
                         f"score >= {binary['threshold']:.3g} ({metrics['threshold_rule']})")
    if multiclass:
        plots.plot_confusion(metrics["multiclass"]["confusion_matrix"], list(folder.classes),
                             out_dir / "confusion_matrix_classes.png", "argmax of class probabilities")
    plots.plot_score_histogram(scores, folder.labels, list(folder.classes), out_dir / "score_histogram.png", metrics["score"])
    plot_gallery(images, folder.files, folder.labels, list(folder.classes), scores, binary["threshold"],
                 out_dir / "gallery.png", metrics["score"], metrics["threshold_rule"], reading=reading)
    if metrics.get("auc_by_mass"):
        plots.plot_by_mass(metrics["auc_by_mass"], out_dir / "auc_by_mass.png",
                           "AUC by the largest subhalo's mass (negatives: every image without substructure)")
    if run_dir is not None:
        plots.plot_training_curves(run_dir, out_dir / "training_curves.png")
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    rows = io.StringIO()
    writer = csv.writer(rows)
    # Each class's probability too, as predict writes them, to compare models image by image.
    names, columns = (folder.classes, probabilities) if multiclass else ([], np.empty((len(scores), 0)))
    writer.writerow(["path", "class", "score", *(f"p_{name}" for name in names)])
    for path, label, score, class_p in zip(folder.files, folder.labels, scores, columns):
        writer.writerow([str(path), folder.classes[label], f"{score:.6g}", *(f"{p:.6g}" for p in class_p)])
    write_text_atomic(out_dir / "scores.csv", rows.getvalue())


def read_class_probabilities(report: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(paths, labels (N,), probabilities (N, K)) from a report's ``scores.csv``; labels index its ``p_<class>`` columns."""
    path = Path(report) / "scores.csv"
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    classes = [column[2:] for column in reader.fieldnames or [] if column.startswith("p_")]
    if not classes:
        raise InputError(f"{path}: no per-class probabilities (p_<class> columns); only a report of more than "
                         "two classes has them")
    probabilities = np.array([[float(row[f"p_{name}"]) for name in classes] for row in rows])
    return [row["path"] for row in rows], np.array([classes.index(row["class"]) for row in rows]), probabilities


def print_summary(out: Path, metrics: dict[str, Any]) -> None:
    """What ``equilens evaluate`` prints for a classifier or an anomaly detector."""
    binary = metrics["substructure_vs_none"]
    negative, positive = binary_labels(metrics["classes"])
    low, high = binary["auc_ci95"]
    print(f"images: {metrics['n_images']} ({binary['n_none']} {negative}, {binary['n_substructure']} {positive})")
    print(f"AUC: {binary['auc']:.4f} (95% CI {low:.4f}-{high:.4f}); accuracy at threshold "
          f"{binary['threshold']:.3g}: {binary['accuracy']:.4f}")
    print(f"TPR0 {binary['tpr0']:.4f}, TPR10 {binary['tpr10']:.4f} ({positive} above the highest / 10th highest "
          f"scored {negative} image, Metcalf et al. 2019)")
    if "multiclass" in metrics:
        multi = metrics["multiclass"]
        print(f"macro AUC over {len(metrics['classes'])} classes: {multi['macro_auc']:.4f}; "
              + ", ".join(f"{name} vs rest {row['auc']:.4f}" for name, row in multi["one_vs_rest"].items()))
    if "invariance" in metrics:
        inv = metrics["invariance"]
        print(f"invariance: max |dp| under 90-degree rotations {inv['rot90_max_abs_change']:.2e}, flips "
              f"{inv['flip_max_abs_change']:.2e}; median |dp| under 45 degrees {inv['rot45_median_abs_change']:.2e}")
    for row in metrics.get("auc_by_mass", []):
        low, high = row["auc_ci95"]
        print(f"  largest subhalo {row['mass_low_msun']:.3g}-{row['mass_high_msun']:.3g} Msun ({row['n_substructure']} images): "
              f"AUC {row['auc']:.4f} ({low:.4f}-{high:.4f})")
    if "reliability" in metrics:
        mix = metrics["class_mix"]
        print(f"calibration: ECE {metrics['reliability']['ece']:.4f}; {metrics['classes'][0]} fraction "
              f"{mix['true'][0]:.3f}, estimated from the probabilities alone {mix['estimated'][0]:.3f} "
              f"(95% CI {mix['estimated_95'][0][0]:.3f}-{mix['estimated_95'][1][0]:.3f})")
    for row in metrics.get("false_alarm_calibration", {}).get("rates", []):
        print(f"flag p <= {row['nominal']:g}: {row['false_alarm_rate']:.2%} of no_sub images flagged, "
              f"true-positive rate {row.get('true_positive_rate', float('nan')):.4f}")
    calibration = ", false_alarm_calibration.png" if "false_alarm_calibration" in metrics else ""
    calibration += ", reliability.png" if "reliability" in metrics else ""
    print(f"report: {out} (metrics.json, roc.png, confusion_matrix.png, score_histogram.png, gallery.png, training_curves.png{calibration})")
