"""The Python API for notebooks: load a model, score images held in memory, train.

``equilens.load`` returns a :class:`LensModel` that scores NumPy arrays or torch tensors with
the normalisation the file reader applies (:func:`equilens.datasets.images.normalize_image`),
so an array of a file's pixels gets the probabilities ``equilens predict`` writes for that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from equilens.config import SCORING_BATCH_SIZE, TrainConfig
from equilens.datasets.images import GREY, Reading, normalize_image, saved_reading
from equilens.errors import InputError
from equilens.evaluation.calibration import conformal_p_values
from equilens.evaluation.scoring import pick_device, score_images
from equilens.models import for_inference
from equilens.pretrained import find_weights
from equilens.regression import predict_gaussian
from equilens.weights import load_model

#: What :func:`normalize_images` takes: an array or tensor of images, or a sequence of images.
Images = np.ndarray | torch.Tensor | Sequence[np.ndarray]


def normalize_images(images: Images, reading: Reading = GREY) -> torch.Tensor:
    """Images in memory -> the float32 tensor (N, C, H, W) in [0, 1] that models take.

    A 2-D array is one image; anything else is a batch along its first axis, each item an
    image that :func:`~equilens.datasets.images.normalize_image` accepts ((H, W), or C bands
    as (C, H, W) or (H, W, C)) and normalised as the file reader normalises a file read as
    ``reading`` (the default, one grey band: integers divided by their type's maximum, floats
    in [0, 1] kept, other floats min-max scaled per image). All images must have the same size.
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    if isinstance(images, np.ndarray) and images.ndim == 2:
        images = images[None]
    normalised = [normalize_image(image, name=f"image {i}", reading=reading) for i, image in enumerate(images)]
    if not normalised:
        return torch.empty((0, 1, 0, 0))
    shapes = {image.shape for image in normalised}
    if len(shapes) > 1:
        raise InputError(f"images of several sizes {sorted(shapes)}: resize them to one size first")
    return torch.from_numpy(np.stack(normalised))


class LensModel:
    """A trained model ready to score images (what :func:`load` returns).

    Attributes:
        network: the torch module that computes the outputs (the plain-torch export where the
            model has one, as ``equilens predict`` runs it), in eval mode.
        info: the weights' stored config: ``model``, ``classes``, ``task`` and training details.
    """

    def __init__(self, network: torch.nn.Module, info: dict[str, Any]):
        self.network = network
        self.info = info

    @property
    def task(self) -> str:
        """``classify``, ``anomaly`` or ``regress``."""
        return self.info.get("task", "classify")

    @property
    def classes(self) -> list[str]:
        """Class names in output order, the negative class (``no_sub``, ``nonlenses`` ...) first."""
        return list(self.info.get("classes", []))

    def _batch(self, images: Images) -> torch.Tensor:
        """``images`` as the model's (N, C, H, W) input, its bands checked."""
        reading, channels = saved_reading(self.info)
        batch = normalize_images(images, reading)
        if len(batch) and batch.shape[1] != channels:  # an empty batch has no bands to check
            hint = " (a colour picture of a grey lens: convert it to grey first, e.g. PIL's .convert('L'))" \
                if channels == 1 and batch.shape[1] in (3, 4) else ""
            raise InputError(f"images of {batch.shape[1]} band(s); this model takes {channels}{hint}")
        return batch

    def _score(self, images: Images, batch_size: int, symmetrize: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.task == "regress":
            raise InputError("a regression model has no substructure score; use predict_gaussian()")
        return score_images(self.network, self._batch(images), batch_size=batch_size, symmetrize=symmetrize)

    def predict_gaussian(self, images: Images, batch_size: int = SCORING_BATCH_SIZE,
                         symmetrize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(N,) predicted means and (N,) standard deviations of a regression model, in its
        target's units (log10 of them for a ``--log-target`` model): ``equilens predict``'s columns.
        The standard deviations are calibrated as the run stored (``info["regression"]["sigma_calibration"]``).

        Args:
            images: see :func:`normalize_images`.
            batch_size: images per forward pass.
            symmetrize: average over the 8 rotations and flips of the square.
        """
        if self.task != "regress":
            raise InputError(f"a {self.task} model predicts no number; use score()")
        mean, sigma = predict_gaussian(self.network, self._batch(images), self.info["regression"], batch_size, symmetrize)
        return mean.numpy(), sigma.numpy()

    def score(self, images: Images, batch_size: int = SCORING_BATCH_SIZE, symmetrize: bool = False) -> np.ndarray:
        """(N,) scores, ``equilens predict``'s score column: for a classifier one minus the
        probability of its first class (p(substructure) = 1 - p(no_sub); a lens finder's
        p(lenses) = 1 - p(nonlenses)), for an anomaly detector the anomaly score.

        Args:
            images: see :func:`normalize_images`.
            batch_size: images per forward pass.
            symmetrize: average over the 8 rotations and flips of the square.
        """
        return self._score(images, batch_size, symmetrize)[0].numpy()

    def predict_proba(self, images: Images, batch_size: int = SCORING_BATCH_SIZE, symmetrize: bool = False) -> np.ndarray:
        """(N, C) class probabilities of a classifier, columns in :attr:`classes` order.

        Args:
            images: see :func:`normalize_images`.
            batch_size: images per forward pass.
            symmetrize: average over the 8 rotations and flips of the square.
        """
        if self.task != "classify":
            raise InputError(f"a {self.task} model has no class probabilities; use score()")
        return self._score(images, batch_size, symmetrize)[1].numpy()

    def p_values(self, images: Images, batch_size: int = SCORING_BATCH_SIZE) -> np.ndarray:
        """(N,) conformal p-values of an anomaly detector's scores against the normal lenses it
        stores, ``equilens predict``'s ``p_value`` column: flagging p <= alpha flags at most a
        fraction alpha of normal lenses (:mod:`equilens.evaluation.calibration`).

        Args:
            images: see :func:`normalize_images`.
            batch_size: images per forward pass.
        """
        if "calibration" not in self.info:
            raise InputError(f"this {self.task} model stores no false-alarm calibration (only anomaly runs that keep "
                             "their last weights do); use score()")
        return conformal_p_values(self.info["calibration"]["scores"], self.score(images, batch_size))


def load(model: str | Path = "test-iv", device: str = "auto", compiled: bool = False) -> LensModel:
    """Load a shipped model by name (``test-iv``, ``sim-test-iv``), a training run folder or a
    ``.safetensors`` weights file, ready to score (see :class:`LensModel`).

    Args:
        device: ``auto`` (the first GPU if there is one, else the CPU), ``cpu``, ``cuda:1`` ...
        compiled: ``torch.compile`` the network (see :func:`equilens.models.for_inference`).
    """
    network, info = load_model(find_weights(model), pick_device(device))
    return LensModel(for_inference(network, compiled), info)


def train(data: str | Path | TrainConfig, runs_dir: str | Path = "runs", name: str | None = None, **options: Any) -> Path:
    """Train as ``equilens train`` does; return the new run folder (load it with :func:`load`).

    Args:
        data: the dataset folder (``no_sub/`` plus positive class folders), or a whole
            :class:`~equilens.config.TrainConfig` (then ``options`` must be empty).
        options: :class:`~equilens.config.TrainConfig` fields, e.g. ``max_time="00:00:02:00"``,
            ``architecture="cnn"``; unset ones take the recipe's defaults.
    """
    from equilens.training import train as train_run

    if isinstance(data, TrainConfig):
        if options:
            raise InputError(f"pass options in the TrainConfig, not beside it ({sorted(options)})")
        config = data
    else:
        config = TrainConfig(data=str(data), **options)
    return train_run(config, runs_dir=runs_dir, name=name)
