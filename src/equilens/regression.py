"""What a regression model's two outputs mean: a Gaussian over the target, in the user's units.

A regression model is an invariant classifier with two outputs (``num_classes=2``): output 0
is the mean and output 1 the log standard deviation of a Gaussian over the *standardized*
target z = (t - mean) / std, the mean and std of the run's training targets. The run stores
them with the weights (``info["regression"]``: ``target``, ``log10``, ``mean``, ``std``), so
that predictions come back in the target's units (log10 of it with ``log10``).

A run that keeps its last weights also stores ``sigma_scale`` (:func:`sigma_scale`, fitted on its
validation images): every sigma it reports is the network's sigma times this factor, so that
mean +- sigma is a split-conformal 68.27% interval. A network fitted by the NLL can end training
with sigmas too narrow or too wide for images it has not seen.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from equilens.config import SCORING_BATCH_SIZE
from equilens.models.groups import exact_actions

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
    """Mean Gaussian negative log-likelihood (with its constant) of (N,) standardized targets
    under the (N, 2) outputs."""
    mean, variance = standardized_gaussian(outputs)
    return nn.functional.gaussian_nll_loss(mean, standardized_targets, variance, full=True)


def to_user_units(outputs: torch.Tensor, record: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2) outputs -> (N,) mean and (N,) sigma in the target's units (``record``: :func:`regression_record`)."""
    mean, variance = standardized_gaussian(outputs.float())
    # A run trained before sigma calibration (or one that chose its weights on validation) stores no scale.
    return record["mean"] + record["std"] * mean, record["std"] * record.get("sigma_scale", 1.0) * variance.sqrt()


def sigma_scale(truth: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> float | None:
    """The factor on sigma that makes mean +- sigma a split-conformal 68.27% interval, from (N,)
    held-out targets and a model's (N,) means and sigmas (same units): the k-th smallest of the
    normalized residuals |truth - mean| / sigma, k = ceil((N + 1) x 0.6827) (Lei et al. 2018,
    "Distribution-free predictive inference for regression", locally weighted residuals). For a
    new image exchangeable with these, P(|t - mean| <= factor x sigma) >= 68.27%. None when N is
    too small for that (k > N, i.e. N < 3)."""
    residuals = np.sort(np.abs(np.asarray(truth, np.float64) - np.asarray(mean, np.float64)) / np.asarray(sigma, np.float64))
    k = math.ceil((len(residuals) + 1) * ONE_SIGMA_COVERAGE)
    return float(residuals[k - 1]) if k <= len(residuals) else None


@torch.inference_mode()
def predict_gaussian(model: nn.Module, images: torch.Tensor, record: dict[str, Any], batch_size: int = SCORING_BATCH_SIZE,
                     symmetrize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) mean and sigma (CPU float32, target units) of eval-mode ``model`` on (N, C, H, W)
    ``images``; ``symmetrize`` averages both over the 8 exact symmetries of the square (a no-op
    up to float error for an invariant model)."""
    device = next(model.parameters()).device
    actions = [lambda x: x, *exact_actions("D4").values()] if symmetrize else [lambda x: x]
    means, sigmas = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        outputs = [to_user_units(model(act(batch)), record) for act in actions]
        means.append(torch.stack([m for m, _ in outputs]).mean(0).cpu())
        sigmas.append(torch.stack([s for _, s in outputs]).mean(0).cpu())
    return (torch.cat(means), torch.cat(sigmas)) if means else (torch.empty(0), torch.empty(0))
