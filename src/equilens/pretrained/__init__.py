"""Trained models that ship inside the package: scoring needs no training and no download.

Each model is ``<name>.safetensors`` (weights, with its config in the header, loaded strictly
by :func:`equilens.weights.load_model`) and its model card ``<name>.md`` beside it: the data it
was trained on, the split, the recipe, its measured figures and its limits.

* ``test-iv``: the default D4-equivariant classifier trained on real DeepLense Test IV images.
* ``sim-test-iv``: the same model trained on the calibrated ``test-iv`` simulation only (a
  starting point for fine-tuning: ``equilens train --init-weights sim-test-iv``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from equilens.errors import InputError

PRETRAINED = ("test-iv", "sim-test-iv")


def pretrained_weights(name: str) -> Path:
    """The weights file of a shipped model, e.g. ``pretrained_weights("test-iv")``."""
    if name not in PRETRAINED:
        raise InputError(f"--pretrained {name!r}: choose one of {list(PRETRAINED)}")
    return Path(str(resources.files(__name__) / f"{name}.safetensors"))


def find_weights(model: str | Path) -> Path:
    """A shipped model's name, a training run folder or a ``.safetensors`` file -> the weights
    file (a file or folder of that name wins over a shipped model)."""
    from equilens.weights import resolve_weights  # torch: not needed to list the names

    if str(model) in PRETRAINED and not Path(model).exists():
        return pretrained_weights(str(model))
    return resolve_weights(model)


def model_card(name: str) -> Path:
    """The model card (Markdown) of a shipped model."""
    return pretrained_weights(name).with_suffix(".md")
