"""Where a run's weights start: ``--init-weights`` (a run, a weights file or a shipped model),
checked against the run, or ``auto``'s choice of the shipped simulation model for a small set."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from equilens.config import AUTO_INIT_MAX_TRAIN_IMAGES, AUTO_INIT_MODEL, DEFAULT_POOLED_BLOCKS, TrainConfig
from equilens.datasets.formats import Reading
from equilens.errors import InputError
from equilens.log import logger
from equilens.pretrained import pretrained_weights
from equilens.weights import WeightsRecord, read_info

def auto_initial_weights(task: str, model: dict, classes: list[str], n_train: int) -> str | None:
    """What ``--init-weights auto`` starts from: the shipped :data:`AUTO_INIT_MODEL` (trained on
    simulated Test IV-like images) for a training set of fewer than
    :data:`AUTO_INIT_MAX_TRAIN_IMAGES` images, if it is the model and classes this run trains;
    else None (random weights)."""
    if n_train >= AUTO_INIT_MAX_TRAIN_IMAGES:
        return None
    shipped = WeightsRecord.from_info(read_info(pretrained_weights(AUTO_INIT_MODEL)))
    # The shipped model predates the default without a pooled first block: a run of the default
    # downsampling still starts from it, and so trains its (pooled) architecture.
    if model.get("pooled_blocks") == DEFAULT_POOLED_BLOCKS:
        model = {**model, "pooled_blocks": shipped.model.get("pooled_blocks")}
    if shipped.task != task or shipped.classes != classes or shipped.model != model:
        logger.info("init weights: random (%s is another model or other classes than this run's)", AUTO_INIT_MODEL)
        return None
    logger.warning("init weights: %s (%d training images: fewer than %d start from the model trained on "
                   "simulated images; --init-weights none starts from random weights)",
                   AUTO_INIT_MODEL, n_train, AUTO_INIT_MAX_TRAIN_IMAGES)
    return AUTO_INIT_MODEL


def initial_model_config(config: TrainConfig, classes: list[str], channels: int, reading: Reading) -> dict:
    """The model config of ``config.init_weights``, checked against this run's task, classes and bands
    (and its ``reading`` of the files against the weights')."""
    start = WeightsRecord.from_info(read_info(config.init_weights))
    if start.channels != channels:
        raise InputError(f"--init-weights {config.init_weights}: a model of {start.channels} band(s); "
                         f"this dataset's images have {channels}")
    if start.task != config.task:
        raise InputError(f"--init-weights {config.init_weights}: a {start.task} model; this run's task is {config.task}")
    config.training_task.check_initial_weights(start, config, classes)
    trained_on = start.reading
    if trained_on != reading:  # allowed (the weights are only a start), but rarely meant
        logger.warning("--init-weights %s learnt images read as %s; this run reads them as %s: give the same "
                       "--scaling/--bands/--colour/--hdu to fine-tune on what the weights know", config.init_weights,
                       trained_on.to_dict(), reading.to_dict())
    return start.model


def load_initial_weights(model: torch.nn.Module, path: Path) -> None:
    """Load ``path`` into the freshly built ``model``, strictly."""
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as error:
        raise InputError(f"--init-weights {path}: weights do not match the model ({str(error).splitlines()[0]})") from None
