"""Models by name (:mod:`equilens.registry`); each is a :class:`~equilens.models.base.LensNetwork`."""

from __future__ import annotations

import importlib
import os
import shutil
import warnings
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from equilens.errors import InputError
from equilens.log import logger
from equilens.models.wigner_d import provide_to_escnn
from equilens.registry import model_spec

# escnn imports lie_learn's one function, provided here, and warns at import that py3nj (SO(3) only)
# is missing: it is imported once, here, before any model, with that warning silenced.
provide_to_escnn()
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="`py3nj` package not found", category=UserWarning)
    importlib.import_module("escnn")

if TYPE_CHECKING:
    from equilens.models.base import LensNetwork


def build_model(config: dict[str, Any]) -> LensNetwork:
    """Build a model from a plain config: ``{"architecture": name, **constructor arguments}``."""
    options = dict(config)
    spec = model_spec(options.pop("architecture", None))
    options = {**spec.legacy_defaults, **options}
    if "widths" in options:
        options["widths"] = tuple(options["widths"])
    try:
        model = spec.model_class()(**options)
    except TypeError as error:
        raise InputError(f"bad options for architecture {spec.name!r}: {error}") from None
    # escnn's placeholder `filter` buffers go at the first .train(): fresh models get saved ones' keys.
    return model.train()


def cpp_compiler() -> str | None:
    """The C++ compiler TorchInductor needs to compile for a CPU ($CXX, g++ or clang++), if on PATH."""
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("clang++")


def for_inference(model: LensNetwork, compiled: bool = False) -> nn.Module:
    """The model's channels-last plain-torch export where it has one (same outputs, faster), else
    the model; ``compiled=True`` wraps the export in ``torch.compile`` (a one-off compile per shape)."""
    exported = model.export()
    if exported is None:
        if compiled:
            logger.warning("compile: %s has no plain-torch export; it runs uncompiled", type(model).__name__)
        return model
    # Only the conv weights change layout, not the outputs; CPU pooling and oneDNN convs run faster.
    exported = exported.to(memory_format=torch.channels_last)
    for module in exported.modules():
        if isinstance(module, nn.Sequential):
            _pool_before_relu(module)
    if not compiled:
        return exported
    device = next(exported.parameters()).device
    if device.type == "cpu" and not cpp_compiler():
        raise InputError("compile on a CPU needs a C++ compiler (g++ or clang++, or $CXX) on PATH: install one "
                         "(e.g. apt-get install g++) or run without compiling")
    return torch.compile(exported)


def _pool_before_relu(sequential: nn.Sequential) -> None:
    """Swap each ReLU followed by a max pool: the same outputs exactly (ReLU is monotone, so it
    commutes with a max), the ReLU on the pooled, smaller tensor."""
    layers = list(sequential)
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.ReLU) and isinstance(layers[i + 1], nn.MaxPool2d):
            names = list(sequential._modules)
            sequential._modules[names[i]], sequential._modules[names[i + 1]] = layers[i + 1], layers[i]
            layers[i], layers[i + 1] = layers[i + 1], layers[i]


def score_and_probabilities(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N,) score that is high for substructure, and (N, C) class probabilities (None for an
    anomaly detector). A classifier's score is p(not ``no_sub``); an anomaly detector's is its
    anomaly score."""
    # An anomaly detector is the network with an anomaly score (a compiled classifier forwards attributes).
    if hasattr(model, "anomaly_score"):
        return model.anomaly_score(images).float(), None
    probabilities = torch.softmax(model(images).float(), dim=1)
    return 1.0 - probabilities[:, 0], probabilities


def substructure_score(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N,) score that is high for substructure (see :func:`score_and_probabilities`)."""
    return score_and_probabilities(model, images)[0]


__all__ = ["build_model", "cpp_compiler", "for_inference", "score_and_probabilities", "substructure_score"]
