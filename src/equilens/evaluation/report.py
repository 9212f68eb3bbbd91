"""``equilens evaluate``: score a labelled set with a trained model and write the report.

The report folder holds ``metrics.json`` (every number), ``scores.csv`` (one row per image;
with more than two classes, each class's probability too), ``roc.png``,
``confusion_matrix.png``, ``score_histogram.png``, ``gallery.png`` (images with
their scores: the most confident of each class, the misclassified, those nearest the threshold)
and, for a training run, ``training_curves.png``. ``metrics.json`` holds the true-positive rate
at the false-alarm rates of :data:`~equilens.config.FALSE_ALARM_RATES` (``tpr_at_fpr``, from the
ROC curve of this set); for an anomaly model that stores a calibration set, also
``false_alarm_calibration``: what "flag p <= alpha" does here, the p-values conformal against
that set (:mod:`equilens.evaluation.calibration`), drawn in ``false_alarm_calibration.png``. On a simulated folder whose ``metadata.csv``
lists every evaluated image, ``metrics.json`` also holds ``auc_by_mass`` (the AUC per 0.5-dex
bin of each image's largest subhalo mass, the images without substructure as the negatives of
every bin; :func:`equilens.evaluation.mass_bins.auc_by_mass`), drawn in ``auc_by_mass.png``.
A regression model's report is :mod:`equilens.evaluation.regression_report`'s.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from equilens.atomic import write_text_atomic
from equilens.config import BOOTSTRAP_REPLICATES, FALSE_ALARM_RATES, INVARIANCE_IMAGES, NEGATIVE_CLASS_NAMES, OUTLIER_EXPOSURE, SCORING_BATCH_SIZE
from equilens.datasets.folder import LensFolder, binary_labels, list_images, load_images, scan_lens_folder, score_description
from equilens.datasets.images import Reading, saved_reading
from equilens.errors import InputError
from equilens.evaluation import plots
from equilens.evaluation.calibration import conformal_p_values, false_alarm_table
from equilens.evaluation.gallery import plot_gallery
from equilens.evaluation.metrics import auc_and_tpr_at_fpr, binary_metrics, invariance_errors, multiclass_metrics, youden_threshold
from equilens.evaluation.scoring import pick_device, score_images
from equilens.evaluation.mass_bins import auc_by_mass
from equilens.runs import new_folder, read_split_folders
from equilens.models import for_inference
from equilens.weights import load_model, resolve_weights


def evaluate(
    model_path: str | Path,
    data: str | Path | None = None,
    out: str | Path | None = None,
    threshold: float | None = None,
    symmetrize: bool = False,
    n_bootstrap: int = BOOTSTRAP_REPLICATES,
    invariance_images: int = INVARIANCE_IMAGES,
    batch_size: int = SCORING_BATCH_SIZE,
    device: str = "auto",
    compiled: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Evaluate a model on labelled images and write the report.

    Args:
        model_path: a training run folder or a ``.safetensors`` weights file.
        data: labelled folder to evaluate on; default: the run's held-out test split.
        out: report folder (must not exist); default: a new ``evaluation*`` folder in the run.
        threshold: decision threshold on the score for the confusion matrix; default 0.5 for a
            classifier (p(substructure)) and the Youden-optimal threshold for an anomaly score.
        symmetrize: average scores over the 8 exact symmetries of the square.
        n_bootstrap: bootstrap replicates of the AUC confidence interval.
        invariance_images: images used to measure invariance errors (0 skips).
        compiled: run the export through ``torch.compile`` (see :func:`equilens.models.for_inference`).

    Returns:
        (report folder, metrics dict as written to metrics.json).
    """
    weights = resolve_weights(model_path)
    model, info = load_model(weights, pick_device(device))
    model = for_inference(model, compiled)
    run_dir = weights.parent if (weights.parent / "config.json").is_file() else None
    if info.get("task") == "regress":
        from equilens.evaluation.regression_report import evaluate_regression

        return evaluate_regression(model, info, weights, run_dir, data, out, symmetrize, n_bootstrap, invariance_images, batch_size)
    reading, channels = saved_reading(info)
    folder = _evaluation_set(data, run_dir, info)
    images = load_images(folder.files, reading=reading, channels=channels)
    scores, probabilities = score_images(model, images, batch_size=batch_size, symmetrize=symmetrize)
    scores = scores.numpy()
    is_substructure = (folder.labels > 0).astype(int)
    task = info.get("task", "classify")
    if threshold is None:
        threshold = 0.5 if task == "classify" else youden_threshold(is_substructure, scores)
        threshold_rule = "default for probabilities" if task == "classify" else "Youden's J maximum on this set"
    else:
        threshold_rule = "given"
    metrics: dict[str, Any] = {
        "model": str(weights.resolve()),
        "task": task,
        "data": str(folder.root.resolve()),
        "classes": list(folder.classes),
        "n_images": len(folder.files),
        "score": score_description(info["classes"]) if task == "classify" else anomaly_score_description(info["model"]),
        "symmetrized": symmetrize,
        "threshold_rule": threshold_rule,
        "substructure_vs_none": binary_metrics(is_substructure, scores, threshold, n_bootstrap),
    }
    if "training" in info:  # how the run's training ended: epochs completed, time cap or not
        metrics["training"] = info["training"]
    metrics["substructure_vs_none"]["tpr_at_fpr"] = {
        f"{rate:g}": float(tpr) for rate, tpr in zip(FALSE_ALARM_RATES, auc_and_tpr_at_fpr(is_substructure, scores, FALSE_ALARM_RATES)[1:])
    }
    if "calibration" in info:
        p_values = conformal_p_values(info["calibration"]["scores"], scores)
        metrics["false_alarm_calibration"] = {
            "rule": "flag p <= nominal; p = (1 + #{calibration scores >= score}) / (n + 1)",
            "calibration": {k: v for k, v in info["calibration"].items() if k != "scores"},
            "rates": false_alarm_table(p_values, folder.labels),
        }
    multiclass = probabilities is not None and len(folder.classes) > 2 and list(folder.classes) == info["classes"]
    if multiclass:
        metrics["multiclass"] = multiclass_metrics(folder.labels, probabilities.numpy(), list(folder.classes), n_bootstrap)
    masses = largest_subhalo_masses(folder)
    if masses is not None:
        metrics["auc_by_mass"] = auc_by_mass(masses, is_substructure, scores, n_bootstrap)
    if invariance_images:
        metrics["invariance"] = invariance_errors(model, images[:invariance_images])
    out_dir = Path(out) if out else new_folder(run_dir or Path.cwd(), "evaluation")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_report(out_dir, metrics, folder, images, scores, probabilities.numpy() if multiclass else None, run_dir, reading)
    if "false_alarm_calibration" in metrics:
        plots.plot_false_alarm_calibration(p_values[folder.labels == 0], metrics["false_alarm_calibration"]["rates"],
                                           out_dir / "false_alarm_calibration.png", f"false alarms on {folder.classes[0]} images")
    return out_dir, metrics


def largest_subhalo_masses(folder: LensFolder) -> np.ndarray | None:
    """(N,) mass (M☉) of the largest subhalo of each of ``folder.files`` (0: none), from the
    ``metadata.csv`` of ``equilens simulate`` in the folder; None unless it lists every file."""
    # Here, not at the top: the simulation (lenstronomy) is needed only for simulated folders.
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


def _evaluation_set(data: str | Path | None, run_dir: Path | None, info: dict) -> LensFolder:
    if data is None:
        if run_dir is None:
            raise InputError("evaluating a weights file outside its run folder needs --data DIR")
        return read_split_folders(run_dir)["test"]
    root = Path(data)
    if root.is_dir():
        with_images = [p.name for p in sorted(root.iterdir()) if p.is_dir() and list_images(p)]
        if len(with_images) == 1:
            raise InputError(f"{root}: only class '{with_images[0]}' holds images; the ROC AUC needs images of the "
                             f"negative class '{info['classes'][0]}' and of another")
    # The model's negative class first, as in training; the other folders as found, in the
    # model's label order when they are its classes (so labels match its outputs).
    reading = saved_reading(info)[0]
    negative = info["classes"][0]
    if negative in NEGATIVE_CLASS_NAMES:
        # The folder's own name for the class without substructure (Test IV's no_sub, Test I's no).
        negative = next((name for name in (negative, *NEGATIVE_CLASS_NAMES) if (root / name).is_dir()), negative)
    folder = scan_lens_folder(root, negative=negative, reading=reading)
    if list(folder.classes) != info["classes"] and sorted(folder.classes) == sorted(info["classes"]):
        folder = scan_lens_folder(root, classes=tuple(info["classes"]), reading=reading)
    return folder


def _write_report(
    out_dir: Path, metrics: dict, folder: LensFolder, images: torch.Tensor, scores: np.ndarray, probabilities: np.ndarray | None,
    run_dir: Path | None, reading: Reading,
) -> None:
    """Write the report files; ``images`` (N, C, H, W), ``scores`` (N,) and, for more than two
    classes, the class ``probabilities`` (N, K) are those of ``folder.files``, read as ``reading``."""
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
    # Each class's probability too, as predict writes them, so that models can be compared image by image.
    names, columns = (folder.classes, probabilities) if multiclass else ([], np.empty((len(scores), 0)))
    writer.writerow(["path", "class", "score", *(f"p_{name}" for name in names)])
    for path, label, score, class_p in zip(folder.files, folder.labels, scores, columns):
        writer.writerow([str(path), folder.classes[label], f"{score:.6g}", *(f"{p:.6g}" for p in class_p)])
    write_text_atomic(out_dir / "scores.csv", rows.getvalue())


def read_class_probabilities(report: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(paths, labels (N,), probabilities (N, K)) from the ``scores.csv`` of a report with more than
    two classes; labels index the ``p_<class>`` columns in their order."""
    path = Path(report) / "scores.csv"
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    classes = [column[2:] for column in reader.fieldnames or [] if column.startswith("p_")]
    if not classes:  # a two-class or anomaly report writes scores only
        raise InputError(f"{path}: no per-class probabilities (p_<class> columns); only a report of more than "
                         "two classes has them")
    probabilities = np.array([[float(row[f"p_{name}"]) for name in classes] for row in rows])
    return [row["path"] for row in rows], np.array([classes.index(row["class"]) for row in rows]), probabilities


def anomaly_score_description(model: dict[str, Any]) -> str:
    """What an anomaly detector's score is, from its model config."""
    if model.get("architecture") == OUTLIER_EXPOSURE:
        return ("anomaly score (outlier exposure: log-odds of simulated substructure against plain lenses; "
                "trained on real no_sub and simulated images only)")
    return "anomaly score (reconstruction error)"
