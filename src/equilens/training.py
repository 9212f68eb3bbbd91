"""Training runs: a new folder per run, its split and config, Lightning fit, resume, export.

A run folder holds::

    config.json            resolved TrainConfig, classes, model config, data roots, input (bands, scaling)
    splits/{train,val,test}.txt   file lists (relative to the data roots)
    values.csv             the number each DeepLense object array holds beside its image (the
                           axion mass of an ``axion`` file), per file, when any file has one
    checkpoints/           Lightning checkpoints: best by validation AUC, and last (for --resume)
    logs/version_K/metrics.csv    per-epoch metrics; each (resumed) session adds a version
    model.safetensors, model.json the kept weights (``select``: the last epoch's by default, or
                           the best validation AUC's) and their config (what evaluate/predict load)

:func:`lightning_modules` gives the LightningModule and LightningDataModule that a run fits,
for a user's own ``lightning.Trainer``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.loggers import CSVLogger

from equilens.atomic import write_text_atomic
from equilens.callbacks.checkpoint import BestAUCCheckpoint
from equilens.callbacks.cpu_load import FollowCpuLoad
from equilens.callbacks.precise_bn import PreciseBatchNorm
from equilens.config import AUTO_INIT, TrainConfig
from equilens.datamodules import LensDataModule
from equilens.datasets.folder import LensFolder, check_images, scan_lens_folder
from equilens.datasets.formats import FileInfo, Reading
from equilens.datasets.pixel_grid import INFO_KEY as PIXEL_GRID_KEY, training_grid, training_pixel_scale
from equilens.datasets.split import write_split
from equilens.errors import InputError
from equilens.initial_weights import auto_initial_weights, initial_model_config, load_initial_weights
from equilens.log import logger
from equilens.pretrained import find_weights
from equilens.registry import model_spec
from equilens.runs import RunRecord, new_folder
from equilens.tasks.lightning.base import LensModule, max_time_timer
from equilens.threads import choose_threads
from equilens.weights import WEIGHTS_NAME, save_weights

VALUES_NAME = "values.csv"
# Lightning's DDP launcher re-runs the user's command in one process per extra device; those
# processes must join the parent's run folder instead of making their own.
RUN_DIR_ENV = "EQUILENS_RUN_DIR"


def _ddp_child_run() -> Path | None:
    if os.environ.get("LOCAL_RANK", "0") != "0" and RUN_DIR_ENV in os.environ:
        return Path(os.environ[RUN_DIR_ENV])
    return None


def train(config: TrainConfig, runs_dir: str | Path = "runs", name: str | None = None) -> Path:
    """Start a new training run in a new folder under ``runs_dir``; return the run folder.

    ``config`` is not changed: the run's folder records the options as resolved."""
    child = _ddp_child_run()
    if child is not None:
        record = RunRecord.read(child)
        _fit(child, record, record.split_folders(child))
        return child
    config, data, test, splits, model, reading, channels, infos = _prepare(config)
    task = config.training_task
    default_name = f"{task.run_name}-{config.architecture}" + (f"-{config.group}" if model_spec(config.architecture).equivariant else "")
    run_dir = new_folder(runs_dir, name or f"{default_name}-{time.strftime('%Y%m%d-%H%M%S')}")
    config.data = str(data.root.resolve())
    config.test_data = str(test.root.resolve()) if test else None
    for part, folder in splits.items():
        write_split(run_dir / "splits" / f"{part}.txt", list(folder.files), folder.root)
    record = RunRecord(config, list(data.classes), model, reading, channels,
                       {part: int(len(folder.files)) for part, folder in splits.items()})
    extra = task.extra_training_images(config, reading)
    if extra:
        record.split_sizes["outliers"] = extra
    n_train = len(splits["train"].files) + extra
    record.write(run_dir)
    write_values(run_dir / VALUES_NAME, splits, infos)
    logger.warning("run folder: %s", run_dir)
    logger.warning("training: %d epochs of %d images%s", config.epochs, config.passes_per_epoch(n_train) * n_train,
                   f" (time cap {config.max_time})" if config.max_time else "")
    _fit(run_dir, record, splits, infos)
    return run_dir


def _prepare(config: TrainConfig) -> tuple[TrainConfig, LensFolder, LensFolder | None, dict[str, LensFolder], dict,
                                           Reading, int, dict[Path, FileInfo]]:
    """What a new run trains: a resolved copy of ``config`` (batch size, initial weights), the
    data and test folders, the checked splits, the model config, how files are read, their
    number of bands, and what the check of every file found."""
    config = dataclasses.replace(config)
    config.validate()
    reading = config.reading
    task = config.training_task
    data = scan_lens_folder(config.data, reading=reading, **class_choice(config.classes, every=task.reads_every_class))
    config.pixel_scale = training_pixel_scale(config.pixel_scale, data.root)
    test = scan_lens_folder(config.test_data, classes=data.classes, reading=reading) if config.test_data else None
    splits = split_dataset(data, test, config)
    infos = check_split_files(splits, reading)
    task.prepare(config, splits, reading, infos)  # the task's own data (targets, outliers) fails now, naming its file
    channels = next(iter(infos.values())).channels
    config.batch_size = config.batch_size_for(len(splits["train"].files))
    model = config.model_config(len(data.classes), channels)
    if config.init_weights == AUTO_INIT:
        config.init_weights = auto_initial_weights(config.task, model, list(data.classes), len(splits["train"].files))
    if config.init_weights:
        config.init_weights = str(find_weights(config.init_weights).resolve())
        model = initial_model_config(config, list(data.classes), channels, reading)
    return config, data, test, splits, model, reading, channels, infos


def lightning_modules(config: TrainConfig) -> tuple[LensModule, LensDataModule]:
    """The LightningModule and LightningDataModule that ``equilens train`` would fit for
    ``config``, for your own ``lightning.Trainer`` (no run folder is made).

    The data module serves ``train``, ``val`` and ``test`` (the held-out split, or
    ``config.test_data``); the module starts from ``config.init_weights`` when the run would.
    ``equilens train`` adds :class:`~equilens.callbacks.precise_bn.PreciseBatchNorm` and
    :class:`~equilens.callbacks.checkpoint.BestAUCCheckpoint` to its Trainer, and its
    ``max_time`` budget; add them to yours for the same run.
    """
    config, data, _, splits, model, reading, channels, _ = _prepare(config)
    module, datamodule = _modules(config, model, list(data.classes), splits, reading, channels)
    if config.init_weights:
        load_initial_weights(module.model, Path(config.init_weights))
    return module, datamodule


def class_choice(classes: list[str] | None, every: bool = False) -> dict:
    """:func:`scan_lens_folder` arguments for ``--classes``: one name is the negative class, several
    are every class; with ``every`` (regression: no negative class), any names are every class."""
    if not classes:
        return {}
    return {"negative": classes[0]} if len(classes) == 1 and not every else {"classes": tuple(classes)}


def write_values(path: Path, splits: dict[str, LensFolder], infos: dict[Path, FileInfo]) -> None:
    """Write the number beside each image that has one (DeepLense axion files: the axion mass,
    the target of DeepLense's regression task) as CSV: file (relative to its data root), class,
    split, value. Nothing is written when no image has one."""
    rows = [(Path(f).relative_to(part.root).as_posix(), part.classes[label], name, repr(infos[f].value))
            for name, part in splits.items() for f, label in zip(part.files, part.labels) if infos[f].value is not None]
    if rows:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([("file", "class", "split", "value"), *rows])
        write_text_atomic(path, text.getvalue())


def resume(run_dir: str | Path, epochs: int | None = None, max_time: str | None = None) -> Path:
    """Continue an interrupted run from its last checkpoint (optionally with a new epoch or time limit)."""
    run_dir = Path(run_dir)
    record = RunRecord.read(run_dir)
    splits = record.split_folders(run_dir)
    infos = None
    if _ddp_child_run() is None:
        infos = check_split_files(splits, record.reading)
        if epochs is not None or max_time is not None:
            record.config.epochs = epochs if epochs is not None else record.config.epochs
            record.config.max_time = max_time if max_time is not None else record.config.max_time
            record.write(run_dir)
    _fit(run_dir, record, splits, infos, resume=True)
    return run_dir


def training_passes(run_dir: Path) -> int:
    """Passes over its training images that a run's logged epochs made (``min_images_per_epoch``
    makes an epoch of a small set several passes), for images/s figures."""
    from equilens.evaluation.plots import read_epoch_metrics  # matplotlib: not needed to train

    record = RunRecord.read(run_dir)
    passes = record.config.passes_per_epoch(record.split_sizes["train"])
    return len(read_epoch_metrics(Path(run_dir))) * passes


def twin_ids(data: LensFolder) -> np.ndarray | None:
    """File stems of a paired simulated folder (``equilens simulate --paired``: image k of every
    class shows the same lens), which the split keeps together, or None for any other folder.
    A twin on each side of the split would let a model that memorises lenses score its twin
    by the training label (validation AUC below 0.5 was measured so)."""
    manifest = data.root / "simulation.json"
    if not (manifest.is_file() and json.loads(manifest.read_text()).get("paired")):
        return None
    return np.array([f.stem for f in data.files])


def split_dataset(data: LensFolder, test: LensFolder | None, config: TrainConfig) -> dict[str, LensFolder]:
    """Seeded stratified split of ``data`` (train/val, plus test unless ``test`` is given).

    Twins of a paired simulated folder go to the same part (:func:`twin_ids`); the task decides
    which classes train (:meth:`equilens.tasks.Task.split`).
    """
    fractions = {"val": config.val_fraction}
    if test is None:
        fractions["test"] = config.test_fraction
    fractions = {"train": 1.0 - sum(fractions.values()), **fractions}
    parts = config.training_task.split(data.labels, fractions, config.seed, twin_ids(data))
    splits = {name: data.subset(index) for name, index in parts.items()}
    if test is not None:
        splits["test"] = test
    return splits


def check_split_files(splits: dict[str, LensFolder], reading: Reading) -> dict[Path, FileInfo]:
    """Check every file of every split, the test split too, before training starts: a bad file
    fails now, naming it, not when it is read after minutes of training (or at evaluation).
    Returns what the check found, by file."""
    files = [f for part in splits.values() for f in part.files]
    return dict(zip(files, check_images(files, reading)))


def _fit(run_dir: Path, record: RunRecord, splits: dict[str, LensFolder], infos: dict[Path, FileInfo] | None = None,
         resume: bool = False) -> None:
    """Fit the run ``record`` describes on its ``splits`` (``infos``: what checking their files found, when at hand)."""
    config = record.config
    L.seed_everything(config.seed, workers=True, verbose=False)
    module, datamodule = _modules(config, record.model, record.classes, {k: v for k, v in splits.items() if k != "test"},
                                  record.reading, record.channels, infos)
    if config.init_weights and not resume:
        load_initial_weights(module.model, find_weights(config.init_weights))
    checkpoint = BestAUCCheckpoint(run_dir / "checkpoints", *module.monitor)
    choose_threads(config.threads)
    trainer = L.Trainer(
        max_epochs=config.epochs,
        max_time=config.max_time,
        accelerator=config.accelerator,
        devices=_devices(config.devices),
        strategy=config.strategy,
        precision=config.precision,
        callbacks=[PreciseBatchNorm(), checkpoint],
        logger=CSVLogger(run_dir, name="logs"),
        default_root_dir=run_dir,
        log_every_n_steps=1,  # metrics are logged per epoch; this only silences a warning on small sets
        num_sanity_val_steps=0,
        enable_model_summary=False,
    )
    if config.threads is None and trainer.world_size == 1 and isinstance(trainer.accelerator, CPUAccelerator):
        trainer.callbacks.append(FollowCpuLoad())
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume and not last.is_file():
        raise InputError(f"{run_dir}: nothing to resume (no checkpoints/last.ckpt)")
    trainer.fit(module, datamodule=datamodule, ckpt_path=last if resume else None, weights_only=True)
    if trainer.is_global_zero:
        val_targets = datamodule.targets["val"] if datamodule.targets is not None else None
        _export(run_dir, module, checkpoint, record, splits["val"], val_targets, training_ending(trainer, config), datamodule)


def training_ending(trainer: L.Trainer, config: TrainConfig) -> dict[str, Any]:
    """How a fit ended, as stored in ``model.json`` (and so in ``evaluate``'s metrics):
    epochs completed of ``config.epochs``, and ``stopped_by`` ``epochs`` (the schedule ran its
    course), ``time_cap`` (``max_time`` ended it first: the cosine schedule was compressed to
    end there, so the model is annealed but trained on less than the run asked for) or
    ``interrupted`` (Ctrl-C). A time cap's ending is also logged as a warning, saying what to do."""
    completed = int(trainer.current_epoch)
    timer = max_time_timer(trainer)
    capped = completed < config.epochs and timer is not None and (timer.time_remaining() or 0.0) <= 0
    stopped_by = "interrupted" if trainer.interrupted else "time_cap" if capped else "epochs"
    if stopped_by == "time_cap":
        logger.warning(
            "time cap: --max-time %s ended training after epoch %d of %d (%.0f%% of the run's work; the learning-rate "
            "schedule was shortened to end there). The model is kept, but may be weaker than a full run: train again with "
            "a longer --max-time (or 'none'), on a less busy machine, or on a GPU.",
            config.max_time, completed, config.epochs, 100 * completed / config.epochs)
    return {"epochs_completed": completed, "epochs_planned": config.epochs, "stopped_by": stopped_by,
            "max_time": config.max_time}


def _modules(config: TrainConfig, model: dict, classes: list[str], splits: dict[str, LensFolder], reading: Reading,
             channels: int, infos: dict[Path, FileInfo] | None = None) -> tuple[LensModule, LensDataModule]:
    """The task's LightningModule and the data module of ``splits`` (files read as ``reading``,
    ``channels`` bands), as ``config`` says."""
    task = config.training_task
    data = task.training_data(config, splits, reading, infos)
    datamodule = LensDataModule(
        data.splits, batch_size=config.batch_size, num_workers=config.num_workers,
        passes_per_epoch=config.passes_per_epoch(len(data.splits["train"].files)),
        train_twins=twin_ids(data.splits["train"]) if config.twin_batches and task.uses_twin_batches else None,
        reading=reading, channels=channels, targets=data.targets,
    )
    module = task.module_class()(model=model, classes=classes, **config.optimizer_options(), augment=config.augment_config(),
                                 **task.module_options(config, data))
    return module, datamodule


def _export(run_dir: Path, module: L.LightningModule, checkpoint: BestAUCCheckpoint, record: RunRecord,
            val: LensFolder, val_targets: np.ndarray | None, ending: dict[str, Any], data: LensDataModule) -> None:
    """Write the last or the best checkpoint's model (``config.select``) as ``model.safetensors``,
    with how the training ended (:func:`training_ending`) and what the task calibrated after training."""
    config = record.config
    last = str(run_dir / "checkpoints" / "last.ckpt")
    chosen = (checkpoint.best_model_path or last) if config.select == "best" else last
    state = torch.load(chosen, map_location="cpu", weights_only=True)["state_dict"]
    module.train()  # checkpoints hold train-mode keys (see LensModule.on_save_checkpoint)
    module.load_state_dict(state, strict=True)
    info = {
        "model": record.model,
        "classes": record.classes,
        "task": config.task,
        "run": str(run_dir.resolve()),
        "checkpoint": Path(chosen).name,
        f"best_{checkpoint.monitor}": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "training": ending,
        "input": {**record.reading.to_dict(), "channels": record.channels},
        PIXEL_GRID_KEY: training_grid(config.pixel_scale, val.files, record.reading).to_dict(),
        **config.training_task.calibration(module, val, val_targets, config.select, record.reading, record.channels, data),
    }
    save_weights(module.model, run_dir / WEIGHTS_NAME, info)


def _devices(value: str) -> int | str:
    return int(value) if str(value).isdigit() else value
