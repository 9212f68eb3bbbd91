"""Models by name; each maps images (N, 1, H, W) in [0, 1] to outputs, and has a ``task``."""

from __future__ import annotations

import os
import shutil
import warnings
from typing import Any

# Every equilens module that imports escnn lives in this package, so this runs first. escnn
# warns at import that py3nj is missing: equilens installs without it on purpose (it needs a
# Fortran compiler and serves only SO(3)/O(3), which equilens never uses). Nor does it install
# lie_learn (numpy 1 only), whose one function escnn imports equilens provides.
warnings.filterwarnings("ignore", message="`py3nj` package not found", category=UserWarning, module="escnn")
from equilens.models.wigner_d import provide_to_escnn  # noqa: E402

provide_to_escnn()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from equilens.errors import InputError  # noqa: E402
from equilens.log import logger  # noqa: E402
from equilens.models.autoencoder import PlainAutoencoder, SteerableAutoencoder  # noqa: E402
from equilens.models.cnn import PlainCNN  # noqa: E402
from equilens.models.outlier_exposure import OutlierExposureDetector  # noqa: E402
from equilens.models.resnet import ResNet18  # noqa: E402
from equilens.models.steerable import SteerableCNN  # noqa: E402

ARCHITECTURES: dict[str, type[nn.Module]] = {"steerable": SteerableCNN, "cnn": PlainCNN, "resnet18": ResNet18,
                                             "steerable_autoencoder": SteerableAutoencoder, "cnn_autoencoder": PlainAutoencoder,
                                             "outlier_exposure": OutlierExposureDetector}


def build_model(config: dict[str, Any]) -> nn.Module:
    """Build a model from a plain config: ``{"architecture": name, **constructor arguments}``."""
    config = dict(config)
    name = config.pop("architecture", None)
    if name not in ARCHITECTURES:
        raise InputError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
    for key in ("widths",):
        if key in config:
            config[key] = tuple(config[key])
    if name == "steerable":
        # Configs saved before the option existed (weights files, run folders) pooled in every block.
        config.setdefault("pooled_blocks", None)
    try:
        model = ARCHITECTURES[name](**config)
    except TypeError as error:
        raise InputError(f"bad options for architecture {name!r}: {error}") from None
    # escnn convs are born with placeholder `filter` buffers that the first .train() removes;
    # calling it here gives every fresh model the same state-dict keys as a saved one.
    return model.train()


def cpp_compiler() -> str | None:
    """The C++ compiler TorchInductor needs to compile for a CPU ($CXX, g++ or clang++), if on PATH."""
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("clang++")


def for_inference(model: nn.Module, compiled: bool = False) -> nn.Module:
    """The model's plain-torch export where it has one (same outputs, faster; channels-last
    layout), else the model.

    ``compiled=True`` also wraps the export in ``torch.compile`` (TorchInductor): faster on many
    images, after a one-off compile of seconds and again on the first batch of a new shape (the
    last, smaller batch); ``benchmarks/auc_vs_budget.py`` measures both (documentation:
    benchmarks). Autoencoders have no export and run uncompiled.
    """
    if not hasattr(model, "export"):
        if compiled:
            logger.warning("compile: %s has no plain-torch export; it runs uncompiled", type(model).__name__)
        return model
    # Channels-last: CPU max-pooling and oneDNN convolutions run faster on it (benchmarks/
    # throughput.py); only the conv weights change layout, not the outputs.
    exported = model.export().to(memory_format=torch.channels_last)
    if not compiled:
        return exported
    device = next(exported.parameters()).device
    if device.type == "cpu" and not cpp_compiler():
        raise InputError("compile on a CPU needs a C++ compiler (g++ or clang++, or $CXX) on PATH: install one "
                         "(e.g. apt-get install g++) or run without compiling")
    return torch.compile(exported)


def score_and_probabilities(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N,) score that is high for substructure, and (N, C) class probabilities (None for an
    anomaly detector). A classifier's score is p(not ``no_sub``); an anomaly detector's is its
    anomaly score."""
    if model.task == "classify":
        probabilities = torch.softmax(model(images).float(), dim=1)
        return 1.0 - probabilities[:, 0], probabilities
    return model.anomaly_score(images).float(), None


def substructure_score(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N,) score that is high for substructure (see :func:`score_and_probabilities`)."""
    return score_and_probabilities(model, images)[0]


__all__ = ["ARCHITECTURES", "PlainCNN", "ResNet18", "SteerableCNN", "build_model", "cpp_compiler", "for_inference", "score_and_probabilities", "substructure_score"]
