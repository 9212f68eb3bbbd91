"""Scoring images with a trained model, metrics (AUC with CI, invariance) and plots.

Imported lazily (PEP 562): ``equilens.evaluation.scoring`` needs torch only, while the report
(:func:`evaluate`) also needs matplotlib and the training run's files.
"""

import importlib

_WHERE = {"auc_with_ci": "metrics", "binary_metrics": "metrics", "invariance_errors": "metrics",
          "evaluate": "run", "score_images": "scoring"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
