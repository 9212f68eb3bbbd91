"""``equilens evaluate``: load a model, find its labelled images, let its task write the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from equilens.api import TrainedModel
from equilens.config import BOOTSTRAP_REPLICATES, INVARIANCE_IMAGES, NEGATIVE_CLASS_NAMES
from equilens.datasets.folder import LensFolder, list_images, scan_lens_folder
from equilens.datasets.pixel_grid import simulated_pixel_scale
from equilens.errors import InputError
from equilens.runs import RunRecord, new_folder


def evaluate(
    model_path: str | Path,
    data: str | Path | None = None,
    out: str | Path | None = None,
    threshold: float | None = None,
    symmetrize: bool = False,
    n_bootstrap: int = BOOTSTRAP_REPLICATES,
    invariance_images: int = INVARIANCE_IMAGES,
    batch_size: int | None = None,
    device: str = "auto",
    compiled: bool = False,
    precision: str = "auto",
    hdu: str | None = None,
    pixel_scale: float | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Evaluate a model on labelled images and write its task's report (ROC, or errors and interval coverage).

    Args:
        model_path: a training run folder, a ``.safetensors`` weights file or a shipped model's name.
        data: labelled folder to evaluate on; default: the run's held-out test split.
        out: report folder (must not exist); default: a new ``evaluation*`` folder in the run.
        threshold: the confusion matrix's score threshold; default 0.5 for p(substructure), Youden's for an anomaly score.
        symmetrize: average scores over the 8 exact symmetries of the square.
        n_bootstrap: bootstrap replicates of the confidence intervals.
        invariance_images: images used to measure invariance errors (0 skips).
        compiled: run the export through ``torch.compile`` (see :func:`equilens.models.for_inference`).
        precision: ``auto``, ``float32`` or ``bfloat16`` (:mod:`equilens.precision`); metrics.json says which scored.
        hdu: the FITS HDU to read, instead of the model's.
        pixel_scale: arcsec per pixel of files without a celestial WCS, for a model with a pixel scale
            (:mod:`equilens.datasets.pixel_grid`: files are read at the model's scale and field of view);
            default: an ``equilens simulate`` folder's (the run's own test split's, when it is one).

    Returns:
        (report folder, metrics dict as written to metrics.json)."""
    model = TrainedModel.load(model_path, device, compiled, precision)
    folder = evaluation_set(model, data)
    if pixel_scale is None and model.pixel_scale is not None:
        pixel_scale = simulated_pixel_scale(folder.root)
    model.reading = model.reading.with_options(hdu, pixel_scale)
    out_dir = Path(out) if out else new_folder(model.run_dir or Path.cwd(), "evaluation")
    out_dir.mkdir(parents=True, exist_ok=True)
    options = {"threshold": threshold, "symmetrize": symmetrize, "n_bootstrap": n_bootstrap,
               "invariance_images": invariance_images, "batch_size": batch_size}
    return out_dir, model.task_type.evaluate(model, folder, out_dir, options)


def evaluation_set(model: TrainedModel, data: str | Path | None) -> LensFolder:
    """The run's test split, or the labelled folder ``data`` with the model's classes in its label order."""
    if data is None:
        if model.run_dir is None:
            raise InputError("evaluating a weights file outside its run folder needs --data DIR")
        return RunRecord.read(model.run_dir).split_folders(model.run_dir)["test"]
    if model.task_type.reads_every_class:
        return scan_lens_folder(data, classes=tuple(model.classes), reading=model.reading)
    root = Path(data)
    if root.is_dir():
        with_images = [p.name for p in sorted(root.iterdir()) if p.is_dir() and list_images(p)]
        if len(with_images) == 1:
            raise InputError(f"{root}: only class '{with_images[0]}' holds images; the ROC AUC needs images of the "
                             f"negative class '{model.classes[0]}' and of another")
    # Labels as in training: the negative class first, under the folder's name for it (Test IV's no_sub, Test I's no).
    negative = model.classes[0]
    if negative in NEGATIVE_CLASS_NAMES:
        negative = next((name for name in (negative, *NEGATIVE_CLASS_NAMES) if (root / name).is_dir()), negative)
    folder = scan_lens_folder(root, negative=negative, reading=model.reading)
    if list(folder.classes) != model.classes and sorted(folder.classes) == sorted(model.classes):
        folder = scan_lens_folder(root, classes=tuple(model.classes), reading=model.reading)
    return folder
