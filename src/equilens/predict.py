"""``equilens predict``: score new, unlabelled images with a trained model."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from equilens.atomic import write_text_atomic
from equilens.config import SCORING_BATCH_SIZE
from equilens.datasets.folder import check_images, list_images, load_images, object_file, score_column
from equilens.datasets.images import GREY, IMAGE_SUFFIXES, Reading, saved_reading
from equilens.datasets.targets import target_label
from equilens.errors import InputError
from equilens.evaluation.calibration import conformal_p_values
from equilens.evaluation.scoring import pick_device, score_images
from equilens.log import logger
from equilens.models import for_inference
from equilens.regression import predict_gaussian
from equilens.weights import load_model, read_info

CHUNK = 1024  # images decoded at a time, so memory stays bounded for any number of files


def expand_paths(paths: list[str | Path], reading: Reading = GREY) -> list[Path]:
    """Files as given, and image files found recursively in given folders (sorted); with named
    bands, each object once, as its first band's file."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files += list_images(entry, recursive=True, reading=reading)
        elif entry.is_file():
            files.append(object_file(entry, reading))
        else:
            raise InputError(f"{entry}: no such file or folder")
    files = list(dict.fromkeys(files))
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {', '.join(map(str, paths))}")
    return files


def predict(
    model_path: str | Path,
    paths: list[str | Path],
    out: str | Path,
    batch_size: int = SCORING_BATCH_SIZE,
    symmetrize: bool = False,
    device: str = "auto",
    overwrite: bool = False,
    compiled: bool = False,
) -> Path:
    """Write ``out`` as CSV: ``path``, the score, and (classifiers) each class's probability.

    The score column is named for the model's classes (:func:`equilens.datasets.folder.score_column`:
    ``p_substructure`` for the DeepLense substructure classes) for a classifier, and is
    ``anomaly_score`` for an anomaly detector; beside an anomaly score, ``p_value``: its conformal
    p-value against the normal lenses the model stores (:mod:`equilens.evaluation.calibration`;
    flagging p <= alpha flags at most a fraction alpha of normal lenses). A model trained without
    that calibration (before it existed, or with ``--select best``) gets no ``p_value`` column, and
    a warning says why. A regression model's columns are its predicted mean and sigma
    (:func:`regression_columns`). Files are read as the model's were (its bands, FITS HDU and scaling); a
    file with other bands than the model's is refused. An existing ``out`` is only replaced with
    ``overwrite=True``. ``compiled`` runs the export through ``torch.compile`` (see
    :func:`equilens.models.for_inference`).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists (choose another --out or pass --overwrite)")
    info = read_info(model_path)
    reading, channels = saved_reading(info)
    files = expand_paths(paths, reading)
    check_images(files, reading, channels)  # a bad file fails now, not after the chunks before it were scored
    model, info = load_model(model_path, pick_device(device))
    model = for_inference(model, compiled)
    classifier = info.get("task", "classify") == "classify"
    regression = info.get("regression")  # a regression model writes its Gaussian's mean and sigma instead
    score = score_column(info["classes"]) if classifier else "anomaly_score"
    header = ["path", score] if regression is None else ["path", *regression_columns(regression)]
    if classifier:
        # A two-class lens finder's score is p_<positive> already: not written twice.
        header += [f"p_{name}" for name in info["classes"] if f"p_{name}" != score]
    calibration = None if classifier or regression else stored_calibration(info, model_path)
    if calibration is not None:
        header.append("p_value")
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(header)
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        images = load_images(chunk, reading=reading, channels=channels)
        if regression is not None:
            mean, sigma = predict_gaussian(model, images, regression, batch_size=batch_size, symmetrize=symmetrize)
            writer.writerows([str(path), f"{m:.6g}", f"{s:.6g}"] for path, m, s in zip(chunk, mean.tolist(), sigma.tolist()))
            continue
        scores, probabilities = score_images(model, images, batch_size=batch_size, symmetrize=symmetrize)
        p_values = conformal_p_values(calibration, scores.numpy()) if calibration is not None else None
        for i, path in enumerate(chunk):
            extra = [f"{p:.6g}" for name, p in zip(info["classes"], probabilities[i].tolist()) if f"p_{name}" != score] \
                if probabilities is not None else []
            if p_values is not None:
                extra.append(f"{p_values[i]:.6g}")
            writer.writerow([str(path), f"{scores[i].item():.6g}", *extra])
    write_text_atomic(out, rows.getvalue())
    return out


def regression_columns(regression: dict) -> list[str]:
    """``predict``'s columns of a regression model: ``<target>_mean``, ``<target>_sigma``
    (``log10_<target>_...`` for a log-target model), in the target's units."""
    label = target_label(regression["target"], regression["log10"])
    return [f"{label}_mean", f"{label}_sigma"]


def stored_calibration(info: dict, model_path: str | Path) -> list[float] | None:
    """An anomaly model's sorted calibration scores, or None (with a warning) when it has none."""
    if "calibration" in info:
        return info["calibration"]["scores"]
    logger.warning("%s: no false-alarm calibration stored with this anomaly model (trained before equilens stored "
                   "one, or with --select best); writing anomaly scores without p-values", model_path)
    return None
