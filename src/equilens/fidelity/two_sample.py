"""Two-sample tests of real against simulated images: a CNN discriminator and gradient boosting.
Images are compared as read: simulate 8-bit files (``--format jpg``) to compare with 8-bit real ones."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits
from torch import nn

from equilens.evaluation.metrics import auc_with_ci
from equilens.fidelity.figures import plot_discriminator_extremes
from equilens.fidelity.statistics import CURVES, SCALARS, measure, summarise
from equilens.log import logger


def discriminator_inputs(images: np.ndarray) -> torch.Tensor:
    """(N, 1, S/2, S/2) inputs of images (N, S, S): 2 x 2 pooled, log(1 + 50 x) / log(51) so faint
    arcs weigh as much as the lens core."""
    pooled = F.avg_pool2d(torch.as_tensor(images, dtype=torch.float32)[:, None], 2)
    return torch.log1p(50 * pooled) / np.log(51.0)


def discriminator_network() -> nn.Module:
    """A small plain CNN (four conv-BN-ReLU-maxpool blocks, global pooling) to one logit: p(real)."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip((1, 8, 16, 32), (8, 16, 32, 64)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1))


def seeded_halves(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices) of a seeded random split of range(n)."""
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return order[n_test:], order[:n_test]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with ``n`` torch CPU threads, then restore the count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.inference_mode()
def _logits(network: nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    network.eval()
    return torch.cat([network(inputs[i : i + batch_size])[:, 0] for i in range(0, len(inputs), batch_size)]).numpy()


def discriminator_auc(
    real: np.ndarray,
    sim: np.ndarray,
    seed: int = 0,
    budget_s: float = 90.0,
    epochs: int = 20,
    test_fraction: float = 0.3,
    batch_size: int = 64,
    lr: float = 1e-3,
    threads: int = 1,
) -> dict[str, Any]:
    """How well a small CNN, trained on a seeded balanced split without augmentation for ``epochs``
    or ``budget_s`` seconds (whichever ends first), tells held-out ``real`` from ``sim`` images.

    Args:
        real, sim: (N, S, S) and (M, S, S) float images in [0, 1], one class each.
        threads: torch CPU threads (one is fastest on a shared CPU).

    Returns:
        ``auc`` (0.5: indistinguishable), ``auc_ci95``, ``n_train``/``n_test`` [real, sim], ``epochs``,
        ``seconds``, ``<real|sim>_test_index`` and ``_test_scores`` (high: real-looking).
    """
    with torch_threads(threads):
        return _train_discriminator(real, sim, seed, budget_s, epochs, test_fraction, batch_size, lr)


def _train_discriminator(real: np.ndarray, sim: np.ndarray, seed: int, budget_s: float, epochs: int,
                         test_fraction: float, batch_size: int, lr: float) -> dict[str, Any]:
    """:func:`discriminator_auc` on the current torch threads."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    (real_train, real_test), (sim_train, sim_test) = (seeded_halves(len(x), test_fraction, rng) for x in (real, sim))
    real_inputs, sim_inputs = discriminator_inputs(real), discriminator_inputs(sim)
    network = discriminator_network()
    optimiser = torch.optim.Adam(network.parameters(), lr=lr)
    per_side = min(len(real_train), len(sim_train))
    start, done = time.perf_counter(), 0
    while done < epochs and time.perf_counter() - start < budget_s:
        network.train()
        inputs = torch.cat([real_inputs[rng.choice(real_train, per_side, replace=False)],
                            sim_inputs[rng.choice(sim_train, per_side, replace=False)]])
        targets = torch.cat([torch.ones(per_side), torch.zeros(per_side)])
        order = torch.from_numpy(rng.permutation(len(inputs)))
        for batch in order.split(batch_size):
            loss = F.binary_cross_entropy_with_logits(network(inputs[batch])[:, 0], targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        done += 1
    real_scores, sim_scores = _logits(network, real_inputs[real_test]), _logits(network, sim_inputs[sim_test])
    auc, low, high = auc_with_ci(np.r_[np.ones(len(real_scores)), np.zeros(len(sim_scores))], np.r_[real_scores, sim_scores])
    return {
        "auc": auc, "auc_ci95": [low, high], "n_train": [len(real_train), len(sim_train)],
        "n_test": [len(real_test), len(sim_test)], "epochs": done, "seconds": time.perf_counter() - start,
        "real_test_index": real_test, "sim_test_index": sim_test, "real_test_scores": real_scores, "sim_test_scores": sim_scores,
    }


def feature_separation(real: dict[str, np.ndarray], sim: dict[str, np.ndarray], seed: int = 0, folds: int = 5) -> dict[str, Any]:
    """What differs: each statistic's own AUC, real (1) against sim (0), and all of them together.

    Args:
        real, sim: name -> (N,) / (M,) per-image statistics (:data:`SCALARS`).

    Returns:
        ``per_statistic``: name -> AUC (above 0.5: larger in real images); ``gradient_boosting``:
        ``auc``, ``auc_ci95`` of ``folds``-fold cross-validated gradient boosting on all of them.
    """
    names = list(SCALARS)
    labels = np.r_[np.ones(len(real[names[0]])), np.zeros(len(sim[names[0]]))]
    features = np.stack([np.r_[real[name], sim[name]] for name in names], axis=1)
    per_statistic = {name: float(roc_auc_score(labels, features[:, k])) for k, name in enumerate(names)}
    # On a shared CPU, more OpenMP threads spin and wait.
    with threadpool_limits(1):
        scores = cross_val_predict(HistGradientBoostingClassifier(random_state=seed), features, labels,
                                   cv=StratifiedKFold(folds, shuffle=True, random_state=seed), method="predict_proba")[:, 1]
    auc, low, high = auc_with_ci(labels, scores)
    return {"per_statistic": per_statistic, "gradient_boosting": {"auc": auc, "auc_ci95": [low, high]}}


def compare_class(class_name: str, real: np.ndarray, sim: np.ndarray, out: Path, seed: int = 0,
                  discriminator_epochs: int = 20, discriminator_budget_s: float = 90.0) -> tuple[dict, dict]:
    """Statistics and both tests of one class's real (N, S, S) and sim (M, S, S) images; the
    discriminator's extremes drawn in ``out/discriminator-<class>.png`` (0 epochs: no discriminator).

    Returns:
        (measurements {"real": (scalars, curves), "sim": (...)}, the class's JSON record).
    """
    measured = {"real": measure(real), "sim": measure(sim)}
    separation = feature_separation(measured["real"][0], measured["sim"][0], seed=seed)
    record = {
        "n": {"real": len(real), "sim": len(sim)},
        "statistics": {name: {source: summarise(m[0][name]) for source, m in measured.items()} for name in SCALARS},
        "mean_curves": {name: {"x": measured["real"][1][f"{name}_x"].tolist(),
                               **{source: m[1][name].mean(0).tolist() for source, m in measured.items()}} for name in CURVES},
        "feature_separation": separation,
    }
    if discriminator_epochs > 0:
        logger.info("%s: training the real-vs-sim discriminator (%d epochs at most %.0f s)", class_name,
                    discriminator_epochs, discriminator_budget_s)
        result = discriminator_auc(real, sim, seed=seed, budget_s=discriminator_budget_s, epochs=discriminator_epochs)
        record["discriminator"] = {k: v for k, v in result.items() if not k.endswith(("_index", "_scores"))}
        plot_discriminator_extremes(class_name, real, sim, measured, result, out / f"discriminator-{class_name}.png")
    return measured, record
