"""``equilens predict``: score new, unlabelled images with a trained model."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from equilens.api import TrainedModel
from equilens.atomic import write_text_atomic
from equilens.datasets.folder import list_images, object_file
from equilens.datasets.formats import FORMATS, GREY, Reading, check_image
from equilens.datasets.pixel_grid import PLACEMENT_COLUMNS, PlacementTally
from equilens.datasets.stream import ImageFiles, collate_files
from equilens.errors import InputError
from equilens.evaluation.scoring import scoring_batch_size
from equilens.log import logger
from equilens.prior_shift import adjust_posteriors
from equilens.prior_shift import class_mix as estimate_class_mix
from equilens.threads import decoding_workers, fewer_threads


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
        raise InputError(f"no images ({', '.join(FORMATS)}) found in {', '.join(map(str, paths))}")
    return files


def predict(
    model_path: str | Path,
    paths: list[str | Path],
    out: str | Path,
    batch_size: int | None = None,
    symmetrize: bool = False,
    device: str = "auto",
    overwrite: bool = False,
    compiled: bool = False,
    num_workers: int | None = None,
    precision: str = "auto",
    hdu: str | None = None,
    pixel_scale: float | None = None,
    correct_class_mix: bool = False,
) -> tuple[Path, Path | None]:
    """Write ``out`` as CSV: ``path``, the score, and (classifiers) each class's probability.

    The score column is named for the model's classes (:func:`equilens.datasets.folder.score_column`:
    ``p_substructure`` for the DeepLense substructure classes) for a classifier, and is
    ``anomaly_score`` for an anomaly detector; beside an anomaly score, ``p_value``: its conformal
    p-value against the normal lenses the model stores (:mod:`equilens.evaluation.calibration`;
    flagging p <= alpha flags at most a fraction alpha of normal lenses). A model trained without
    that calibration (before it existed, or with ``--select best``) gets no ``p_value`` column, and
    a warning says why. A regression model's columns are its predicted mean and sigma
    (the task's :meth:`~equilens.tasks.Task.columns`). Files are read as the model's were (its bands, FITS HDU and scaling;
    ``hdu`` names another HDU).

    At the model's pixel scale (:mod:`equilens.datasets.pixel_grid`), where it records one: a file
    with a celestial WCS is resampled from its own scale, any other from ``pixel_scale`` (arcsec),
    or else taken as it is (one warning says how many); each is centred, cropped or padded to the
    training images' size. The columns :data:`~equilens.datasets.pixel_grid.PLACEMENT_COLUMNS` then
    say what was done: the file's pixel scale (``nan``: unknown), the resampling factor (model pixels
    per file pixel) and the model pixels cut from each side, rows and columns (negative: padded).
    A model of unknown scale scores each image resized to its training images' size (weights
    saved before that was recorded: the first file's).
    ``compiled`` runs the export through ``torch.compile`` (see :func:`equilens.models.for_inference`);
    ``precision``: ``auto``, ``float32`` or ``bfloat16`` (:mod:`equilens.precision`).

    A classifier's run also estimates the scored images' class mix from their probabilities alone
    (:func:`class_mix`): logged, and written with its 95% interval to ``<out stem>.class_mix.json``;
    ``correct_class_mix`` rewrites the probabilities (and the score) corrected to that mix, which
    helps where the mix differs from the one the model assumes and the images are many.

    Catalogue scale: files are decoded in ``num_workers`` DataLoader processes (default:
    :func:`equilens.threads.decoding_workers`, and the model's threads less as many) while the model
    scores the batch before; rows are appended to
    ``<out>.partial`` batch by batch (flushed and fsync'd), which becomes ``out`` when every file
    is done. A killed predict run again with the same arguments skips the files already in
    ``<out>.partial`` (with the same model and options), so every file is scored exactly once.
    An unreadable file (or one with other bands than the model's) does not stop the others: it is
    listed with the reason in ``<out stem>.errors.csv`` (``path``, ``error``) and a warning says
    how many. An existing ``out`` (or errors CSV) is only replaced with ``overwrite=True``, which
    also starts an interrupted run afresh (resuming skips the files already listed as unreadable:
    after fixing them, score them anew or pass ``overwrite``).

    Returns:
        ``out``, and the errors CSV (None when every file was read).

    Raises:
        InputError: ``out`` exists, no image found, a partial output of another model or other
            columns, or no file at all could be read (naming the first).
    """
    out = Path(out)
    errors = out.with_name(f"{out.stem}.errors.csv")
    partial, errors_partial = (path.with_name(path.name + ".partial") for path in (out, errors))
    for finished in (out, errors):
        if finished.exists() and not overwrite:
            raise InputError(f"{finished}: already exists (choose another --out or pass --overwrite)")
    model = TrainedModel.load(model_path, device, compiled, precision)
    model.reading = model.reading.with_options(hdu, pixel_scale)
    grid = model.reading.grid
    batch_size = scoring_batch_size(model.device, batch_size)
    files = expand_paths(paths, model.reading)
    header = ["path", *model.task_type.columns(model), *(PLACEMENT_COLUMNS if grid.on_sky else [])]
    run = {"model_sha256": hashlib.sha256(model.weights.read_bytes()).hexdigest(), "symmetrize": symmetrize,
           "precision": precision, "columns": header,
           **{name: value for name, value in (("hdu", hdu), ("pixel_scale", pixel_scale)) if value is not None}}
    if overwrite:
        for stale in (errors, partial, errors_partial, _run_record(partial)):
            stale.unlink(missing_ok=True)
    done = _resume(partial, errors_partial, run)
    todo = [f for f in files if str(f) not in done]
    if done:
        logger.info("%s: resuming: %d of %d files already done", partial, len(files) - len(todo), len(files))
    size = grid.image_size or _common_size(todo, model.reading)
    # Default workers leave their CPUs to decoding; workers given are the caller's call, threads as they are.
    workers = decoding_workers(torch.get_num_threads()) if num_workers is None else num_workers
    model_threads = fewer_threads(workers if num_workers is None else 0)
    loader = DataLoader(ImageFiles(todo, size, model.reading, model.channels), batch_size=batch_size, num_workers=workers,
                        collate_fn=functools.partial(collate_files, size=size), pin_memory=model.device.type == "cuda")
    scored = failed = resized = 0
    tally = PlacementTally()
    start = time.perf_counter()
    with partial.open("a", newline="") as rows, errors_partial.open("a", newline="") as bad, model_threads, \
            tqdm(total=len(todo), desc="scoring", unit="img", disable=None) as progress:
        _ensure_header(rows, header)
        _ensure_header(bad, ["path", "error"])
        for batch in loader:
            files_done = [str(todo[i]) for i in batch.indices.tolist()]
            cells = model.task_type.rows(model, batch.images, batch_size, symmetrize) if files_done else []
            placed = [placement.cells() if placement else [] for placement in batch.placements]
            table = [[path, *row, *where] for path, row, where in zip(files_done, cells, placed)]
            _append(rows, table)
            _append(bad, [[str(todo[i]), error] for i, error in batch.failed])
            scored, failed, resized = scored + len(batch.indices), failed + len(batch.failed), resized + batch.resized
            for placement in batch.placements:
                tally.add(placement)
            progress.update(len(batch.indices) + len(batch.failed))
    seconds = time.perf_counter() - start
    logger.info("scored %d images in %.1f s (%.0f images/s, %s)", scored, seconds, scored / max(seconds, 1e-9),
                model.precision)
    if resized:
        logger.warning("%d images were not %dx%d, as %s; they were resized to it", resized, *size,
                       "the model's training images" if grid.image_size else "the first")
    if grid.on_sky:
        tally.report(grid)
    out, errors = _finish(out, partial, errors, errors_partial, run)
    if model.task_type.probability_scores:
        class_mix(out, model, correct_class_mix)
    return out, errors


def class_mix(table: Path, model: TrainedModel, correct: bool = False) -> dict:
    """Each class's share of the images scored in ``table`` (predict's CSV), estimated from their
    probabilities (:func:`equilens.prior_shift.class_mix`, from the mix the model assumes,
    :attr:`~equilens.api.TrainedModel.class_prior`) with a 95% bootstrap interval; written to
    ``<table stem>.class_mix.json`` and logged. ``correct``: rewrite ``table``'s probabilities and
    score corrected to the estimate (:func:`equilens.prior_shift.adjust_posteriors`)."""
    with table.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows, header = list(reader), list(reader.fieldnames or [])
    columns = [f"p_{name}" for name in model.classes]  # every class's column is there (a lens finder's score is one)
    probabilities = np.array([[float(row[c]) for c in columns] for row in rows])
    prior = model.class_prior
    record = {"n_images": len(rows), "classes": model.classes, **estimate_class_mix(probabilities, prior), "corrected": correct,
              "method": "EM on the probabilities (Saerens et al. 2002); the interval resamples the images only"}
    estimated, (low, high) = np.asarray(record["estimated"]), record["estimated_95"]
    write_text_atomic(table.with_name(f"{table.stem}.class_mix.json"), json.dumps(record, indent=2) + "\n")
    logger.warning("class mix of the %d scored images, estimated from their probabilities: %s (the model assumes %s)%s",
                   len(rows), ", ".join(f"{name} {p:.3f} [{a:.3f}, {b:.3f}]" for name, p, a, b in
                                        zip(model.classes, estimated, low, high)),
                   ", ".join(f"{p:.3f}" for p in prior),
                   "; probabilities corrected to it" if correct else "; --correct-class-mix corrects the probabilities to it")
    if correct:
        corrected = adjust_posteriors(probabilities, prior, estimated)
        for row, p in zip(rows, corrected):
            row[model.score_column] = f"{1.0 - p[0]:.6g}"
            row.update({column: f"{value:.6g}" for column, value in zip(columns, p)})
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(table, text.getvalue())
    return record


def _run_record(partial: Path) -> Path:
    return partial.with_name(partial.name + ".json")


def _resume(partial: Path, errors_partial: Path, run: dict) -> set[str]:
    """Paths an interrupted predict already wrote to ``partial`` or ``errors_partial``, after cutting
    off a row half-written when it was killed; checks it was the same model and options."""
    record = _run_record(partial)
    if not partial.exists():
        errors_partial.unlink(missing_ok=True)
        write_text_atomic(record, json.dumps(run))
        return set()
    if not record.exists() or json.loads(record.read_text()) != run:
        raise InputError(f"{partial}: an interrupted predict with another model, --symmetrize, --precision, --hdu, "
                         "--pixel-scale or columns; "
                         "delete it or pass --overwrite to start again")
    done: set[str] = set()
    for table in (partial, errors_partial):
        if table.exists():
            _cut_partial_row(table)
            with table.open(newline="") as handle:
                done.update(row[0] for row in list(csv.reader(handle))[1:] if row)
    return done


def _cut_partial_row(path: Path) -> None:
    """Truncate ``path`` after its last newline: a row cut off by a kill is written again."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        os.truncate(path, data.rfind(b"\n") + 1)


def _ensure_header(handle: TextIO, header: list[str]) -> None:
    if handle.tell() == 0:
        _append(handle, [header])


def _append(handle: TextIO, table: list[list[str]]) -> None:
    """Append rows as one write, flushed and fsync'd, so that a kill leaves whole rows and at most a cut last one."""
    if table:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(table)
        handle.write(text.getvalue())
        handle.flush()
        os.fsync(handle.fileno())


def _common_size(files: list[Path], reading: Reading) -> tuple[int, int]:
    """(H, W) of the first file whose header reads: a batch's images are resized to it where they differ."""
    for path in files:
        try:
            return check_image(path, reading).size
        except InputError:
            continue
    return (1, 1)  # nothing readable (or nothing left to do): no image will be stacked


def _finish(out: Path, partial: Path, errors: Path, errors_partial: Path, run: dict) -> tuple[Path, Path | None]:
    """Rename the finished partial outputs onto their names; the errors CSV only where a file failed."""
    with partial.open(newline="") as handle:
        scored = sum(1 for _ in handle) - 1
    with errors_partial.open(newline="") as handle:
        failures = list(csv.reader(handle))[1:]
    if failures and not scored:  # nothing to resume: a rerun after fixing the files reads them all again
        for path in (partial, errors_partial, _run_record(partial)):
            path.unlink()
        raise InputError(f"{failures[0][1]} (no file could be read: {len(failures)} unreadable)")
    if failures:
        os.replace(errors_partial, errors)
        logger.warning("%d unreadable file(s) skipped, listed with the reason in %s (e.g. %s)", len(failures), errors,
                       failures[0][1])
    else:
        errors_partial.unlink()
    os.replace(partial, out)
    _run_record(partial).unlink()
    return out, errors if failures else None
