"""Trained models that ship inside the package (:data:`equilens.registry.PRETRAINED`), each with its model card."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from equilens.registry import PRETRAINED, pretrained_spec


def _packaged(file: str) -> Path:
    return Path(str(resources.files(__name__) / file))


def pretrained_weights(name: str) -> Path:
    """The weights file of a shipped model, e.g. ``pretrained_weights("test-iv")``."""
    return _packaged(pretrained_spec(name).weights)


def find_weights(model: str | Path) -> Path:
    """A shipped model's name, a training run folder or a ``.safetensors`` file -> the weights
    file (a file or folder of that name wins over a shipped model)."""
    from equilens.weights import resolve_weights  # torch: not needed to list the names

    if str(model) in PRETRAINED and not Path(model).exists():
        return pretrained_weights(str(model))
    return resolve_weights(model)


def model_card(name: str) -> Path:
    """The model card (Markdown) of a shipped model."""
    return _packaged(pretrained_spec(name).card)
