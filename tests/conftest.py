"""Shared fixtures: a generated easy dataset and one short training run on it."""

from __future__ import annotations

from pathlib import Path

import pytest

# tests/ is on sys.path under pytest's default ("prepend") import mode, as tests/ has no __init__.py.
from toy import write_toy_dataset


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory) -> Path:
    """120 images per class, 33x33 px: rings vs rings with a clump."""
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "data", n_per_class=120, size=33)


@pytest.fixture(scope="session")
def toy_run(toy_data, tmp_path_factory) -> Path:
    """A D4 steerable classifier trained briefly on ``toy_data``."""
    from equilens.config import TrainConfig
    from equilens.training import train

    config = TrainConfig(data=str(toy_data), input_size=33, epochs=4, lr=3e-3, batch_size=32, accelerator="cpu")
    return train(config, runs_dir=tmp_path_factory.mktemp("runs"))


def pytest_collection_modifyitems(items):
    """Tests marked ``needs_cpp_compiler`` (torch.compile on a CPU) skip where none is on PATH:
    equilens itself installs and runs without a compiler."""
    from equilens.models import cpp_compiler

    if cpp_compiler():
        return
    skip = pytest.mark.skip(reason="torch.compile on a CPU needs a C++ compiler (g++, clang++ or $CXX); none on PATH")
    for item in items:
        if "needs_cpp_compiler" in item.keywords:
            item.add_marker(skip)
