"""``equilens predict``: score new, unlabelled images with a trained model."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from equilens.atomic import write_text_atomic
from equilens.config import SCORING_BATCH_SIZE
from equilens.datasets.folder import check_images, list_images, load_images
from equilens.datasets.images import IMAGE_SUFFIXES
from equilens.errors import InputError
from equilens.evaluation.calibration import conformal_p_values
from equilens.evaluation.scoring import pick_device, score_images
from equilens.log import logger
from equilens.models import for_inference
from equilens.weights import load_model

CHUNK = 1024  # images decoded at a time, so memory stays bounded for any number of files


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files as given, and image files found recursively in given folders (sorted)."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files += list_images(entry, recursive=True)
        elif entry.is_file():
            files.append(entry)
        else:
            raise InputError(f"{entry}: no such file or folder")
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
    """Write ``out`` as CSV: ``path``, the substructure score, and (classifiers) each class's probability.

    The score column is ``p_substructure`` for a classifier and ``anomaly_score`` for an anomaly
    detector; beside it, ``p_value``: the conformal p-value of the score against the normal lenses
    the model stores (:mod:`equilens.evaluation.calibration`; flagging p <= alpha flags at most a
    fraction alpha of normal lenses). A model trained without that calibration (before it
    existed, or with ``--select best``) gets no ``p_value`` column, and a warning says why.
    An existing ``out`` is only replaced with ``overwrite=True``. ``compiled`` runs the export
    through ``torch.compile`` (see :func:`equilens.models.for_inference`).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists (choose another --out or pass --overwrite)")
    files = expand_paths(paths)
    check_images(files)  # a bad file fails now, not after the chunks before it were scored
    model, info = load_model(model_path, pick_device(device))
    model = for_inference(model, compiled)
    classifier = info.get("task", "classify") == "classify"
    header = ["path", "p_substructure" if classifier else "anomaly_score"]
    if classifier:
        header += [f"p_{name}" for name in info["classes"]]
    calibration = None if classifier else stored_calibration(info, model_path)
    if calibration is not None:
        header.append("p_value")
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(header)
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        scores, probabilities = score_images(model, load_images(chunk), batch_size=batch_size, symmetrize=symmetrize)
        extra = probabilities.numpy() if probabilities is not None else np.empty((len(chunk), 0))
        if calibration is not None:
            extra = conformal_p_values(calibration, scores.numpy())[:, None]
        for i, path in enumerate(chunk):
            writer.writerow([str(path), f"{scores[i].item():.6g}", *(f"{value:.6g}" for value in extra[i])])
    write_text_atomic(out, rows.getvalue())
    return out


def stored_calibration(info: dict, model_path: str | Path) -> list[float] | None:
    """An anomaly model's sorted calibration scores, or None (with a warning) when it has none."""
    if "calibration" in info:
        return info["calibration"]["scores"]
    logger.warning("%s: no false-alarm calibration stored with this anomaly model (trained before equilens stored "
                   "one, or with --select best); writing anomaly scores without p-values", model_path)
    return None
