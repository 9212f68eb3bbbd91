"""Models by name; each maps images (N, 1, H, W) in [0, 1] to outputs, and has a ``task``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from equilens.errors import InputError
from equilens.models.autoencoder import PlainAutoencoder, SteerableAutoencoder
from equilens.models.cnn import PlainCNN
from equilens.models.steerable import SteerableCNN

ARCHITECTURES: dict[str, type[nn.Module]] = {"steerable": SteerableCNN, "cnn": PlainCNN,
                                             "steerable_autoencoder": SteerableAutoencoder, "cnn_autoencoder": PlainAutoencoder}


def build_model(config: dict[str, Any]) -> nn.Module:
    """Build a model from a plain config: ``{"architecture": name, **constructor arguments}``."""
    config = dict(config)
    name = config.pop("architecture", None)
    if name not in ARCHITECTURES:
        raise InputError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
    for key in ("widths",):
        if key in config:
            config[key] = tuple(config[key])
    try:
        model = ARCHITECTURES[name](**config)
    except TypeError as error:
        raise InputError(f"bad options for architecture {name!r}: {error}") from None
    # escnn convs are born with placeholder `filter` buffers that the first .train() removes;
    # calling it here gives every fresh model the same state-dict keys as a saved one.
    return model.train()


def for_inference(model: nn.Module) -> nn.Module:
    """The model's plain-torch export where it has one (same outputs, faster), else the model."""
    return model.export() if hasattr(model, "export") else model


def substructure_score(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N,) score that is high for substructure: p(not ``no_sub``) for a classifier, the
    anomaly score for an anomaly detector."""
    if model.task == "classify":
        return 1.0 - torch.softmax(model(images), dim=1)[:, 0]
    return model.anomaly_score(images)


__all__ = ["ARCHITECTURES", "PlainCNN", "SteerableCNN", "build_model", "for_inference", "substructure_score"]
