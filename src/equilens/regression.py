"""A regression model's (N, 2) outputs: mean and log sigma of a Gaussian over the standardized target
z = (t - mean) / std, mapped back to the target's units by the run's ``info["regression"]``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from equilens.evaluation.scoring import scoring_batch_size
from equilens.models.groups import exact_actions
from equilens.precision import autocast

# log sigma is clamped (standardized units) so that one wild output cannot make the loss infinite.
LOG_SIGMA_RANGE = (-7.0, 5.0)
#: The probability that a Gaussian draw lies within one sigma of its mean.
ONE_SIGMA_COVERAGE = math.erf(1 / math.sqrt(2))


def regression_record(target: str, log10: bool, train_targets: np.ndarray) -> dict[str, Any]:
    """``info["regression"]`` of a run whose (N,) training targets (log10'd if asked) are given."""
    std = float(np.std(train_targets))
    return {"target": target, "log10": log10, "mean": float(np.mean(train_targets)), "std": std if std > 0 else 1.0}


def standardized_gaussian(outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2) model outputs -> (N,) mean and (N,) variance of the standardized target."""
    log_sigma = outputs[:, 1].clamp(*LOG_SIGMA_RANGE)
    return outputs[:, 0], torch.exp(2 * log_sigma)


def gaussian_nll(outputs: torch.Tensor, standardized_targets: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood (constant included) of (N,) standardized targets under (N, 2) outputs."""
    mean, variance = standardized_gaussian(outputs)
    return nn.functional.gaussian_nll_loss(mean, standardized_targets, variance, full=True)


def to_user_units(outputs: torch.Tensor, record: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2) outputs -> (N,) mean and (N,) sigma in the target's units (``record``: :func:`regression_record`)."""
    mean, variance = standardized_gaussian(outputs.float())
    # No sigma_scale: a run that chose its weights on validation, or one older than the calibration.
    return record["mean"] + record["std"] * mean, record["std"] * record.get("sigma_scale", 1.0) * variance.sqrt()


def sigma_scale(truth: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> float | None:
    """Factor on sigma making mean +- sigma a split-conformal 68.27% interval (Lei et al. 2018), since NLL-fitted
    sigmas can be off on unseen images: the k-th smallest |truth - mean| / sigma of (N,) held-out arrays,
    k = ceil((N + 1) x 0.6827); None if k > N (N < 3)."""
    residuals = np.sort(np.abs(np.asarray(truth, np.float64) - np.asarray(mean, np.float64)) / np.asarray(sigma, np.float64))
    k = math.ceil((len(residuals) + 1) * ONE_SIGMA_COVERAGE)
    return float(residuals[k - 1]) if k <= len(residuals) else None


@torch.inference_mode()
def predict_gaussian(model: nn.Module, images: torch.Tensor, record: dict[str, Any], batch_size: int | None = None,
                     symmetrize: bool = False, precision: str = "float32") -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) mean and sigma (CPU float32, target units) of an eval-mode model on (N, C, H, W) images, D4-averaged
    if asked, its forward passes in ``precision`` (:func:`equilens.precision.autocast`)."""
    device = next(model.parameters()).device
    batch_size = scoring_batch_size(device, batch_size)
    actions = [lambda x: x, *exact_actions("D4").values()] if symmetrize else [lambda x: x]
    means, sigmas = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        with autocast(device, precision):
            outputs = [to_user_units(model(act(batch)), record) for act in actions]
        means.append(torch.stack([m for m, _ in outputs]).mean(0).cpu())
        sigmas.append(torch.stack([s for _, s in outputs]).mean(0).cpu())
    return (torch.cat(means), torch.cat(sigmas)) if means else (torch.empty(0), torch.empty(0))
