"""Model weights as safetensors (no pickled code), the model's config in the header and as JSON beside.

escnn adds buffers to the state dict in eval mode only: weights are taken in train mode, so keys are fixed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from equilens.atomic import atomic_path, write_text_atomic
from equilens.datasets.formats import Reading, saved_reading
from equilens.datasets.pixel_grid import INFO_KEY as PIXEL_GRID_KEY, PixelGrid
from equilens.errors import InputError
from equilens.models import build_model

FORMAT = "equilens-weights/1"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class WeightsRecord:
    """What a weights file stores beside its tensors, read once: the task, the classes in output
    order, the model config, how its files are read (and their bands), and what the task
    calibrated after training (``regression``: the Gaussian's units and sigma scale;
    ``calibration``: an anomaly detector's validation scores); ``grid``: the training images'
    pixel scale and size (unknown in weights saved before it was recorded)."""

    task: str
    classes: list[str]
    model: dict[str, Any]
    reading: Reading
    channels: int
    regression: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    run: str | None = None
    grid: PixelGrid = PixelGrid()

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "WeightsRecord":
        reading, channels = saved_reading(info)
        # Weights saved before tasks were stored are classifiers.
        return cls(info.get("task", "classify"), list(info.get("classes", [])), info.get("model", {}), reading, channels,
                   info.get("regression"), info.get("calibration"), info.get("training"), info.get("run"),
                   PixelGrid.from_dict(info.get(PIXEL_GRID_KEY)))


def canonical_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's train-mode state dict, as contiguous CPU tensors (the mode is restored)."""
    was_training = model.training
    model.train()
    state = {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()}
    model.train(was_training)
    return state


def save_weights(model: nn.Module, path: str | Path, info: dict[str, Any]) -> Path:
    """Write ``model``'s weights to ``path`` (.safetensors) and ``info`` (JSON, with the
    :func:`build_model` config under ``model``) to its header and to the same name with .json."""
    path = Path(path)
    if "model" not in info:
        raise ValueError("info must include the model config under 'model'")
    info = {"format": FORMAT, **info}
    with atomic_path(path) as tmp:
        save_file(canonical_state_dict(model), str(tmp), metadata={"equilens": json.dumps(info)})
    write_text_atomic(path.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    return path


def resolve_weights(path: str | Path) -> Path:
    """A run folder or a weights file -> the weights file."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS_NAME
        if not path.is_file():
            raise InputError(f"{path.parent}: no {WEIGHTS_NAME} in this folder (is it a finished training run?)")
    elif not path.is_file():
        raise InputError(f"{path}: no such run folder or weights file")
    return path


def read_info(path: str | Path) -> dict[str, Any]:
    """The config stored in a weights file's header."""
    path = resolve_weights(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as error:
        raise InputError(f"{path}: not a safetensors weights file ({error})") from None
    if "equilens" not in metadata:
        raise InputError(f"{path}: safetensors file has no equilens model config in its header")
    info = json.loads(metadata["equilens"])
    if info.get("format") != FORMAT:
        raise InputError(f"{path}: weights format {info.get('format')!r}, expected {FORMAT!r}")
    return info


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, info given to :func:`save_weights`) from a run folder or weights file, strictly."""
    path = resolve_weights(path)
    info = read_info(path)
    model = build_model(info["model"])
    state = load_file(str(path))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise InputError(f"{path}: weights do not match the model config ({first_line})") from None
    return model.to(device).eval(), info
