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
from lightning.pytorch.loggers import CSVLogger
from safetensors.torch import load_file

from equilens import __version__
from equilens.atomic import write_text_atomic
from equilens.config import AUTO_INIT, AUTO_INIT_MAX_TRAIN_IMAGES, AUTO_INIT_MODEL, DEFAULT_POOLED_BLOCKS, FILE_VALUE_TARGET, TrainConfig
from equilens.datamodules import LensDataModule
from equilens.datasets.folder import LensFolder, check_images, load_images, scan_lens_folder
from equilens.datasets.images import FileInfo, Reading, saved_reading
from equilens.datasets.split import stratified_split, write_split
from equilens.datasets.targets import read_targets
from equilens.errors import InputError
from equilens.runs import CONFIG_NAME, new_folder, read_run_config, read_split_folders
from equilens.log import logger
from equilens.pretrained import find_weights, pretrained_weights
from equilens.regression import ONE_SIGMA_COVERAGE, predict_gaussian, regression_record, sigma_scale
from equilens.trainers import TASKS, LensModule
from equilens.trainers.base import max_time_timer
from equilens.trainers.outlier_exposure import OutlierExposureModule
from equilens.trainers.checkpoint import BestAUCCheckpoint
from equilens.trainers.precise_bn import PreciseBatchNorm
from equilens.weights import WEIGHTS_NAME, read_info, save_weights

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
        _fit(child, resume=False)
        return child
    config, data, test, splits, model, reading, channels, infos = _prepare(config)
    default_name = f"{config.task}{'-outlier-exposure' if config.outliers else ''}-{config.architecture}" + (f"-{config.group}" if config.architecture == "steerable" else "")
    run_dir = new_folder(runs_dir, name or f"{default_name}-{time.strftime('%Y%m%d-%H%M%S')}")
    config.data = str(data.root.resolve())
    config.test_data = str(test.root.resolve()) if test else None
    for part, folder in splits.items():
        write_split(run_dir / "splits" / f"{part}.txt", list(folder.files), folder.root)
    record = {
        "equilens_version": __version__,
        "train": config.to_dict(),
        "classes": list(data.classes),
        "model": model,
        "input": {**reading.to_dict(), "channels": channels},
        "split_sizes": {part: int(len(folder.files)) for part, folder in splits.items()},
    }
    n_train = len(splits["train"].files)
    if config.outliers:  # outlier exposure trains on the simulated folder too
        record["split_sizes"]["outliers"] = len(scan_lens_folder(config.outliers, reading=reading).files)
        n_train += record["split_sizes"]["outliers"]
    write_text_atomic(run_dir / CONFIG_NAME, json.dumps(record, indent=2) + "\n")
    write_values(run_dir / VALUES_NAME, splits, infos)
    logger.warning("run folder: %s", run_dir)
    logger.warning("training: %d epochs of %d images%s", config.epochs, config.passes_per_epoch(n_train) * n_train,
                   f" (time cap {config.max_time})" if config.max_time else "")
    _fit(run_dir, resume=False)
    return run_dir


def _prepare(config: TrainConfig) -> tuple[TrainConfig, LensFolder, LensFolder | None, dict[str, LensFolder], dict,
                                           Reading, int, dict[Path, FileInfo]]:
    """What a new run trains: a resolved copy of ``config`` (batch size, initial weights), the
    data and test folders, the checked splits, the model config, how files are read, their
    number of bands, and what the check of every file found."""
    config = dataclasses.replace(config)
    config.validate()
    reading = Reading.from_dict(config.to_dict())
    data = scan_lens_folder(config.data, reading=reading, **class_choice(config.classes, every=config.task == "regress"))
    test = scan_lens_folder(config.test_data, classes=data.classes, reading=reading) if config.test_data else None
    splits = split_dataset(data, test, config)
    infos = check_split_files(splits, reading)
    if config.outliers:  # a bad outlier folder fails now too, and the run records where it is
        outliers = outlier_folder(config.outliers, data.root, reading)
        check_images(list(outliers.files), reading)
        config.outliers = str(outliers.root.resolve())
    if config.task == "regress":  # a bad target fails now, naming its file
        split_targets(config, splits, reading, infos)
    channels = next(iter(infos.values())).channels
    config.batch_size = config.batch_size_for(len(splits["train"].files))
    model = config.model_config(len(data.classes), channels)
    if config.init_weights == AUTO_INIT:
        config.init_weights = auto_initial_weights(config.task, model, list(data.classes), len(splits["train"].files))
    if config.init_weights:
        config.init_weights = str(find_weights(config.init_weights).resolve())
        model = _initial_model(config, list(data.classes), channels, reading)
    return config, data, test, splits, model, reading, channels, infos


def lightning_modules(config: TrainConfig) -> tuple[LensModule, LensDataModule]:
    """The LightningModule and LightningDataModule that ``equilens train`` would fit for
    ``config``, for your own ``lightning.Trainer`` (no run folder is made).

    The data module serves ``train``, ``val`` and ``test`` (the held-out split, or
    ``config.test_data``); the module starts from ``config.init_weights`` when the run would.
    ``equilens train`` adds :class:`~equilens.trainers.precise_bn.PreciseBatchNorm` and
    :class:`~equilens.trainers.checkpoint.BestAUCCheckpoint` to its Trainer, and its
    ``max_time`` budget; add them to yours for the same run.
    """
    config, data, _, splits, model, reading, channels, _ = _prepare(config)
    module, datamodule = _modules(config, model, list(data.classes), splits, reading, channels)
    if config.init_weights:
        _load_initial_weights(module.model, Path(config.init_weights))
    return module, datamodule


def class_choice(classes: list[str] | None, every: bool = False) -> dict:
    """:func:`scan_lens_folder` arguments for ``--classes``: one name is the negative class, several
    are every class; with ``every`` (regression: no negative class), any names are every class."""
    if not classes:
        return {}
    return {"negative": classes[0]} if len(classes) == 1 and not every else {"classes": tuple(classes)}


def split_targets(config: TrainConfig, splits: dict[str, LensFolder], reading: Reading,
                  infos: dict[Path, FileInfo] | None = None) -> dict[str, np.ndarray]:
    """Regression: split name -> (N,) float64 targets of its files (:func:`read_targets`; log10'd
    with ``log_target``). ``infos`` (what the check of every file found) saves reading the files
    again for the :data:`FILE_VALUE_TARGET` target."""
    targets = {}
    for name, part in splits.items():
        found = None
        if config.target == FILE_VALUE_TARGET:
            found = [infos[f] for f in part.files] if infos is not None else check_images(part.files, reading)
        targets[name] = read_targets(part.root, part.files, config.target, config.log_target, found)
    return targets


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
    record = read_run_config(run_dir)
    if _ddp_child_run() is None:
        check_split_files(read_split_folders(run_dir), saved_reading(record)[0])
        if epochs is not None or max_time is not None:
            record["train"].update({k: v for k, v in {"epochs": epochs, "max_time": max_time}.items() if v is not None})
            write_text_atomic(run_dir / CONFIG_NAME, json.dumps(record, indent=2) + "\n")
    _fit(run_dir, resume=True)
    return run_dir


def auto_initial_weights(task: str, model: dict, classes: list[str], n_train: int) -> str | None:
    """What ``--init-weights auto`` starts from: the shipped :data:`AUTO_INIT_MODEL` (trained on
    simulated Test IV-like images) for a training set of fewer than
    :data:`AUTO_INIT_MAX_TRAIN_IMAGES` images, if it is the model and classes this run trains;
    else None (random weights)."""
    if n_train >= AUTO_INIT_MAX_TRAIN_IMAGES:
        return None
    info = read_info(pretrained_weights(AUTO_INIT_MODEL))
    # The shipped model predates the default without a pooled first block (issue #31): a run of
    # the default downsampling still starts from it, and so trains its (pooled) architecture.
    if model.get("pooled_blocks") == DEFAULT_POOLED_BLOCKS:
        model = {**model, "pooled_blocks": info["model"].get("pooled_blocks")}
    if info.get("task") != task or info.get("classes") != classes or info["model"] != model:
        logger.info("init weights: random (%s is another model or other classes than this run's)", AUTO_INIT_MODEL)
        return None
    logger.warning("init weights: %s (%d training images: fewer than %d start from the model trained on "
                   "simulated images; --init-weights none starts from random weights)",
                   AUTO_INIT_MODEL, n_train, AUTO_INIT_MAX_TRAIN_IMAGES)
    return AUTO_INIT_MODEL


def _initial_model(config: TrainConfig, classes: list[str], channels: int, reading: Reading) -> dict:
    """The model config of ``config.init_weights``, checked against this run's task, classes and bands
    (and its ``reading`` of the files against the weights')."""
    info = read_info(config.init_weights)
    if info["model"].get("in_channels", 1) != channels:
        raise InputError(f"--init-weights {config.init_weights}: a model of {info['model'].get('in_channels', 1)} band(s); "
                         f"this dataset's images have {channels}")
    if info.get("task") != config.task:
        raise InputError(f"--init-weights {config.init_weights}: a {info.get('task')} model; this run's task is {config.task}")
    if config.task == "classify" and info["model"].get("num_classes") != len(classes):
        raise InputError(
            f"--init-weights {config.init_weights}: a model of {info['model'].get('num_classes')} classes "
            f"({', '.join(info.get('classes', []))}); this dataset has {len(classes)} ({', '.join(classes)})"
        )
    trained_on = saved_reading(info)[0]
    if trained_on != reading:  # allowed (the weights are only a start), but rarely meant
        logger.warning("--init-weights %s learnt images read as %s; this run reads them as %s: give the same "
                       "--scaling/--bands/--colour/--hdu to fine-tune on what the weights know", config.init_weights,
                       trained_on.to_dict(), reading.to_dict())
    return info["model"]


def _load_initial_weights(model: torch.nn.Module, path: Path) -> None:
    """Load ``path`` into the freshly built ``model``, strictly."""
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as error:
        raise InputError(f"--init-weights {path}: weights do not match the model ({str(error).splitlines()[0]})") from None


def training_passes(run_dir: Path) -> int:
    """Passes over its training images that a run's logged epochs made (``min_images_per_epoch``
    makes an epoch of a small set several passes), for images/s figures."""
    from equilens.evaluation.plots import read_epoch_metrics  # matplotlib: not needed to train

    record = read_run_config(run_dir)
    passes = TrainConfig.from_dict(record["train"]).passes_per_epoch(record["split_sizes"]["train"])
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

    Twins of a paired simulated folder go to the same part (:func:`twin_ids`). For the anomaly
    task only ``no_sub`` images go to training; the other classes are shared between
    validation and test in the same proportion.
    """
    fractions = {"val": config.val_fraction}
    if test is None:
        fractions["test"] = config.test_fraction
    fractions = {"train": 1.0 - sum(fractions.values()), **fractions}
    if config.task != "anomaly":
        parts = stratified_split(data.labels, fractions, config.seed, groups=twin_ids(data))
    else:
        negative = np.flatnonzero(data.labels == 0)
        positive = np.flatnonzero(data.labels > 0)
        held_out = {k: v for k, v in fractions.items() if k != "train"}
        scale = sum(held_out.values())
        neg_parts = stratified_split(data.labels[negative], fractions, config.seed)
        if len(held_out) == 1:
            pos_parts = {"val": np.arange(len(positive))}
        else:
            pos_parts = stratified_split(data.labels[positive], {k: v / scale for k, v in held_out.items()}, config.seed)
        parts = {
            name: np.sort(np.concatenate([negative[neg_parts[name]], positive[pos_parts.get(name, np.array([], int))]]))
            for name in fractions
        }
    splits = {name: data.subset(index) for name, index in parts.items()}
    if test is not None:
        splits["test"] = test
    return splits


def outlier_folder(path: str | Path, data_root: Path, reading: Reading) -> LensFolder:
    """The simulated folder of outlier exposure (``--outliers``): apart from the data folder
    (whose positive images must never be trained on), a negative class (``no_sub``) and at
    least one other. Its files are checked once, when the run is made (:func:`_prepare`)."""
    root, data_root = Path(path).resolve(), Path(data_root).resolve()
    if root == data_root or data_root in root.parents or root in data_root.parents:
        raise InputError(f"--outliers {path}: must be a simulated folder apart from the data folder {data_root}, "
                         "not inside it or holding it (the data's own substructure images are never trained on)")
    return scan_lens_folder(path, reading=reading)


def with_outliers(train: LensFolder, outliers: LensFolder) -> LensFolder:
    """The real training split (only its negative class) and the simulated outlier folder as one
    two-class training set: label 0 plain lenses (real and simulated), 1 simulated substructure."""
    logger.warning("outlier exposure: training on %d real '%s' images of %s and %d simulated images of %s "
                   "(%d with substructure); no image of the data's other classes is trained on",
                   len(train.files), train.classes[0], train.root, len(outliers.files), outliers.root,
                   int((outliers.labels > 0).sum()))
    return LensFolder(train.root, (train.classes[0], "simulated substructure"), train.files + outliers.files,
                      np.concatenate([train.labels, (outliers.labels > 0).astype(np.int64)]))


def check_split_files(splits: dict[str, LensFolder], reading: Reading) -> dict[Path, FileInfo]:
    """Check every file of every split, the test split too, before training starts: a bad file
    fails now, naming it, not when it is read after minutes of training (or at evaluation).
    Returns what the check found, by file."""
    files = [f for part in splits.values() for f in part.files]
    return dict(zip(files, check_images(files, reading)))


def _fit(run_dir: Path, resume: bool) -> None:
    record = read_run_config(run_dir)
    config = TrainConfig.from_dict(record["train"])
    splits = read_split_folders(run_dir)
    if config.task == "anomaly" and (splits["train"].labels != 0).any():
        raise InputError(f"{run_dir}: the anomaly training split holds images that are not '{record['classes'][0]}'")
    L.seed_everything(config.seed, workers=True, verbose=False)
    module, datamodule = _modules(config, record["model"], record["classes"], {k: v for k, v in splits.items() if k != "test"},
                                  *saved_reading(record))
    if config.init_weights and not resume:
        _load_initial_weights(module.model, find_weights(config.init_weights))
    checkpoint = BestAUCCheckpoint(run_dir / "checkpoints", *module.monitor)
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
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume and not last.is_file():
        raise InputError(f"{run_dir}: nothing to resume (no checkpoints/last.ckpt)")
    trainer.fit(module, datamodule=datamodule, ckpt_path=last if resume else None, weights_only=True)
    if trainer.is_global_zero:
        val_targets = datamodule.targets["val"] if datamodule.targets is not None else None
        _export(run_dir, module, checkpoint, record, config.select, splits["val"], val_targets, training_ending(trainer, config))


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
             channels: int) -> tuple[LensModule, LensDataModule]:
    """The task's LightningModule and the data module of ``splits`` (files read as ``reading``,
    ``channels`` bands), as ``config`` says."""
    targets = split_targets(config, splits, reading) if config.task == "regress" else None
    outlier_exposure = config.task == "anomaly" and bool(config.outliers)
    if outlier_exposure:
        splits = {**splits, "train": with_outliers(splits["train"], outlier_folder(config.outliers, splits["train"].root, reading))}
    datamodule = LensDataModule(
        splits, batch_size=config.batch_size, num_workers=config.num_workers,
        passes_per_epoch=config.passes_per_epoch(len(splits["train"].files)),
        train_twins=twin_ids(splits["train"]) if config.twin_batches and config.task == "classify" else None,
        reading=reading, channels=channels, targets=targets,
    )
    module = (OutlierExposureModule if outlier_exposure else TASKS[config.task])(
        model=model,
        classes=classes,
        **config.optimizer_options(),
        augment=config.augment_config(),
        **({"label_smoothing": config.label_smoothing} if config.task == "classify" or outlier_exposure else {}),
        **({"regression": regression_record(config.target, config.log_target, targets["train"])} if targets else {}),
    )
    return module, datamodule


def _export(run_dir: Path, module: L.LightningModule, checkpoint: BestAUCCheckpoint, record: dict, select: str,
            val: LensFolder, val_targets: np.ndarray | None, ending: dict[str, Any]) -> None:
    """Write the last or the best checkpoint's model as ``model.safetensors``, with how the
    training ended (:func:`training_ending`); an anomaly detector that keeps its last weights also
    stores its calibration (:func:`anomaly_calibration`), a regression (``val_targets``: its
    validation targets as trained) its sigma's (:func:`sigma_calibration`)."""
    last = str(run_dir / "checkpoints" / "last.ckpt")
    chosen = (checkpoint.best_model_path or last) if select == "best" else last
    state = torch.load(chosen, map_location="cpu", weights_only=True)["state_dict"]
    module.train()  # checkpoints hold train-mode keys (see LensModule.on_save_checkpoint)
    module.load_state_dict(state, strict=True)
    info = {
        "model": record["model"],
        "classes": record["classes"],
        "task": record["train"]["task"],
        "run": str(run_dir.resolve()),
        "checkpoint": Path(chosen).name,
        f"best_{checkpoint.monitor}": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "training": ending,
        **({"input": record["input"]} if "input" in record else {}),
    }
    if info["task"] == "regress":
        info["regression"] = {**module.regression, **sigma_calibration(module, val, val_targets, select, *saved_reading(record))}
    if info["task"] == "anomaly":
        calibration = anomaly_calibration(module.model, val, select, *saved_reading(record))
        if calibration is not None:
            info["calibration"] = calibration
    save_weights(module.model, run_dir / WEIGHTS_NAME, info)


def anomaly_calibration(model: torch.nn.Module, val: LensFolder, select: str, reading: Reading, channels: int) -> dict | None:
    """The calibration an anomaly detector's p-values need (:mod:`equilens.evaluation.calibration`):
    the scores of the run's validation images of the negative class (``no_sub``; files read as
    ``reading``, ``channels`` bands), which it never trained on. Only when the
    run keeps its last weights: with ``select`` ``best`` the validation images chose the weights,
    so their scores would be optimistic, and the model is stored without (and says so)."""
    from equilens.evaluation.calibration import calibration_record
    from equilens.evaluation.scoring import score_images

    normal = val.subset(np.flatnonzero(val.labels == 0)).files
    if select != "last" or not normal:
        logger.warning("no false-alarm calibration stored (%s): predict will write anomaly scores without p-values",
                       "the validation images chose the weights (--select best)" if normal else f"no validation '{val.classes[0]}' images")
        return None
    was_training = model.training
    scores, _ = score_images(model.eval(), load_images(list(normal), reading=reading, channels=channels))
    model.train(was_training)
    return calibration_record(scores.numpy(), f"anomaly scores of the run's {len(normal)} validation '{val.classes[0]}' images: "
                              "never trained on, and the run kept its last weights, so they did not choose them")


def sigma_calibration(module: L.LightningModule, val: LensFolder, val_targets: np.ndarray, select: str, reading: Reading,
                      channels: int) -> dict[str, Any]:
    """What a regression stores so that mean +- sigma covers 68.27% of new targets:
    ``sigma_scale`` (:func:`equilens.regression.sigma_scale`) fitted on the run's validation images
    (files read as ``reading``, ``channels`` bands; ``val_targets`` their (N,) targets as the data
    module served them), which it never trained on, and a sentence
    saying so. Only when the run keeps its last weights (as :func:`anomaly_calibration`); else,
    or with fewer than 3 validation images, nothing (sigma as the network gives it) and a warning."""
    scale = None
    if select == "last" and val.files:
        model = module.model
        was_training = model.training
        mean, sigma = predict_gaussian(model.eval(), load_images(list(val.files), reading=reading, channels=channels), module.regression)
        model.train(was_training)
        scale = sigma_scale(val_targets, mean.numpy(), sigma.numpy())
    if scale is None:
        logger.warning("sigma not calibrated (%s): the predicted sigmas are the network's own",
                       "the validation images chose the weights (--select best)" if select != "last"
                       else f"{len(val.files)} validation images, fewer than 3")
        return {}
    logger.warning("sigma calibrated on %d validation images: the network's sigma x %.3f", len(val.files), scale)
    return {"sigma_scale": scale,
            "sigma_calibration": f"network sigma x {scale:.4g}, so that mean +- sigma holds at least {ONE_SIGMA_COVERAGE:.2%} of "
                                 f"the run's {len(val.files)} validation targets (split conformal): never trained on, and the "
                                 "run kept its last weights, so they did not choose them"}


def _devices(value: str) -> int | str:
    return int(value) if str(value).isdigit() else value
