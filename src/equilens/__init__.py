"""equilens: dark-matter substructure in strong-lensing images with E(2)-equivariant networks.

Its API (``_WHERE``) is imported lazily (PEP 562), so ``import equilens`` and ``equilens --help`` stay fast."""

import importlib

__version__ = "0.1.0"

_WHERE = {
    "TrainedModel": "equilens.api",
    "load": "equilens.api",
    "normalize_images": "equilens.api",
    "train": "equilens.api",
    "lightning_modules": "equilens.training",
    "TrainConfig": "equilens.config",
    "evaluate": "equilens.evaluation.run",
    "get_preset": "equilens.simulation.presets",
    "simulate_dataset": "equilens.simulation.writer",
}

__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
