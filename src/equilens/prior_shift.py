"""Class priors of unlabelled images, and posteriors corrected to them (label shift).

A classifier trained where the classes had priors pi_s gives posteriors p_s(y | x). On images
whose class mix pi_t differs (a survey holds few lenses with substructure), the Bayes posterior
is p_t(y | x) proportional to p_s(y | x) pi_t(y) / pi_s(y) (the images of each class look the
same; only their mix changed). pi_t is not known, but the images themselves estimate it: the
EM of Saerens, Latinne & Decaestecker (2002) alternates corrected posteriors and their mean
until they agree. Both need calibrated p_s (:func:`fit_temperature` on labelled validation
images of the training domain). Numpy only: predict, evaluate and training share it.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

#: EM stops when no class prior moves more than this between iterations, or after ``EM_ITERATIONS``.
EM_TOLERANCE = 1e-6
EM_ITERATIONS = 1000
#: Bootstrap replicates of a prior's 95% interval. Set by hand (run time against the interval's own noise).
PRIOR_REPLICATES = 200


def adjust_posteriors(probabilities: np.ndarray, model_prior: np.ndarray, new_prior: np.ndarray) -> np.ndarray:
    """(N, K) posteriors of a model whose classes had ``model_prior`` (K,), corrected to ``new_prior`` (K,)."""
    weighted = np.asarray(probabilities, dtype=np.float64) * (np.asarray(new_prior) / np.asarray(model_prior))
    return weighted / weighted.sum(axis=1, keepdims=True)


def estimate_prior(probabilities: np.ndarray, model_prior: np.ndarray) -> np.ndarray:
    """(K,) class priors of the images whose (N, K) posteriors under ``model_prior`` (K,) are given
    (Saerens et al. 2002 EM: the prior is the mean of the posteriors corrected to it)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(probabilities) == 0:
        raise ValueError("no images to estimate class priors from")
    prior = np.asarray(model_prior, dtype=np.float64)
    for _ in range(EM_ITERATIONS):
        new = adjust_posteriors(probabilities, model_prior, prior).mean(axis=0)
        if np.abs(new - prior).max() < EM_TOLERANCE:
            return new
        prior = new
    return prior


def prior_interval(probabilities: np.ndarray, model_prior: np.ndarray, replicates: int = PRIOR_REPLICATES,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(K,) lower and upper ends of a 95% bootstrap interval of :func:`estimate_prior` over the images
    (their sampling only: a model's miscalibration on them is not in it)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = np.stack([estimate_prior(probabilities[rng.integers(0, len(probabilities), len(probabilities))], model_prior)
                      for _ in range(replicates)])
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    return low, high


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 for which softmax(logits / T) has the least negative log-likelihood of ``labels``
    ((N, K) logits, (N,) labels): temperature scaling (Guo et al. 2017). It keeps every ranking
    and, for two classes, every decision at p = 0.5."""
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)

    def nll(log_t: float) -> float:
        return -float(log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def class_mix(probabilities: np.ndarray, model_prior: np.ndarray) -> dict:
    """The class mix of the images whose (N, K) posteriors under ``model_prior`` (K,) are given:
    ``estimated`` (:func:`estimate_prior`), ``estimated_95`` (lower and upper ends, :func:`prior_interval`)
    and ``model_prior``, as lists: what ``predict`` and ``evaluate`` report."""
    low, high = prior_interval(probabilities, model_prior)
    return {"estimated": estimate_prior(probabilities, model_prior).tolist(), "estimated_95": [low.tolist(), high.tolist()],
            "model_prior": np.asarray(model_prior, dtype=np.float64).tolist()}
