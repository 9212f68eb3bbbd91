"""The Python API: load a model and score images held in memory as ``predict`` scores their files; train."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from equilens.config import TrainConfig
from equilens.datasets.folder import score_column
from equilens.datasets.formats import GREY, Reading, normalize_image
from equilens.datasets.pixel_grid import GridReading
from equilens.errors import InputError
from equilens.evaluation.calibration import conformal_p_values
from equilens.evaluation.scoring import pick_device, score_images
from equilens.models import for_inference, score_and_probabilities
from equilens.models.onednn import onednn_bfloat16
from equilens.precision import PROBE_IMAGES, autocast, check_precision, choose_precision, native_bfloat16
from equilens.pretrained import find_weights
from equilens.regression import predict_gaussian
from equilens.runs import CONFIG_NAME
from equilens.tasks import get_task
from equilens.weights import WeightsRecord, load_model

#: What :func:`normalize_images` takes: an array or tensor of images, or a sequence of images.
Images = np.ndarray | torch.Tensor | Sequence[np.ndarray]


def normalize_images(images: Images, reading: Reading = GREY) -> torch.Tensor:
    """Images in memory -> the float32 (N, C, H, W) tensor in [0, 1] that models take: a 2-D array
    is one image, else a batch of (H, W), (C, H, W) or (H, W, C) images of one size, each
    normalised as a file read as ``reading`` is (:func:`~equilens.datasets.formats.normalize_image`)."""
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


class TrainedModel:
    """A trained model ready to score images: what :func:`load` returns, and what ``predict``,
    ``evaluate`` and ``sensitivity`` run.

    Attributes:
        network: the eval-mode torch module that computes the outputs (the plain-torch export
            where the model has one).
        info: the weights' stored config as saved (``model``, ``classes``, ``task``, training details),
            and ``record``, the same read into a :class:`~equilens.weights.WeightsRecord`.
        task: its task's name (``classify``, ``anomaly``, ``regress`` ...).
        task_type: its :class:`equilens.tasks.Task`, which says what its outputs mean.
        reading, channels: how its files are read (a :class:`~equilens.datasets.pixel_grid.GridReading`:
            the run's :class:`~equilens.datasets.formats.Reading` and the pixel grid files are placed on)
            and the bands it takes.
        weights: the weights file it was loaded from (None when built in memory).
        precision: the number format it scores in, ``float32`` or ``bfloat16``; ``auto`` until
            its first images choose (:mod:`equilens.precision`).
    """

    def __init__(self, network: torch.nn.Module, info: dict[str, Any], weights: Path | None = None, precision: str = "auto",
                 compiled: bool = False):
        self.network, self.info, self.weights, self.compiled = network, info, weights, compiled
        self._bfloat16_network: torch.nn.Module | None = None
        self.record = WeightsRecord.from_info(info)
        self.task_type = get_task(self.record.task)
        self.task, self.channels = self.record.task, self.record.channels
        self.reading = GridReading.of(self.record.reading, self.record.grid)
        self.device = next(network.parameters()).device
        self.precision = precision if precision == "auto" else choose_precision(precision, self.device, None)

    @classmethod
    def load(cls, model: str | Path, device: str = "auto", compiled: bool = False, precision: str = "auto") -> "TrainedModel":
        """A shipped model's name, a run folder or a ``.safetensors`` file, on ``device``
        (``auto``: the first GPU if there is one); ``compiled``: see :func:`equilens.models.for_inference`;
        ``precision``: ``auto``, ``float32`` or ``bfloat16`` (:mod:`equilens.precision`)."""
        weights = find_weights(model)
        check_precision(precision)
        network, info = load_model(weights, pick_device(device))
        return cls(for_inference(network, compiled), info, weights, precision, compiled)

    @property
    def classes(self) -> list[str]:
        """Class names in output order, the negative class (``no_sub``, ``nonlenses`` ...) first."""
        return self.record.classes

    @property
    def pixel_scale(self) -> float | None:
        """Arcsec per pixel of the images it was trained on (None: unknown); ``predict`` and
        ``evaluate`` read files at this scale (:mod:`equilens.datasets.pixel_grid`)."""
        return self.record.grid.pixel_scale

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(H, W) pixels of the images it was trained on (None: weights saved before it was recorded);
        times :attr:`pixel_scale`, its field of view."""
        return self.record.grid.image_size

    @property
    def score_column(self) -> str:
        """The name of its score (``p_substructure``, ``p_lenses`` ...: :func:`equilens.datasets.folder.score_column`)."""
        return score_column(self.classes)

    @property
    def class_prior(self) -> np.ndarray:
        """(K,) the class mix its probabilities assume: the unlabelled images' estimated mix folded into
        an adapted model (``--unlabelled``), else its training split's, else (weights saved before
        that was stored) equal shares (:mod:`equilens.prior_shift`)."""
        adapted, counts = self.info.get("adaptation"), self.info.get("training_class_counts")
        if adapted:
            return np.asarray(adapted["estimated_prior"], dtype=np.float64)
        if counts:
            return np.asarray(counts, dtype=np.float64) / sum(counts)
        return np.full(len(self.classes), 1.0 / len(self.classes))

    @property
    def calibration(self) -> list[float] | None:
        """An anomaly detector's sorted calibration scores (conformal p-values), if it stores them."""
        return self.record.calibration["scores"] if self.record.calibration else None

    @property
    def run_dir(self) -> Path | None:
        """The training run folder the weights sit in, if they do."""
        return self.weights.parent if self.weights is not None and (self.weights.parent / CONFIG_NAME).is_file() else None

    def batch(self, images: Images) -> torch.Tensor:
        """``images`` as the model's (N, C, H, W) input, normalised as its files are, bands checked."""
        batch = normalize_images(images, self.reading)
        if len(batch) and batch.shape[1] != self.channels:  # an empty batch has no bands to check
            hint = " (a colour picture of a grey lens: convert it to grey first, e.g. PIL's .convert('L'))" \
                if self.channels == 1 and batch.shape[1] in (3, 4) else ""
            raise InputError(f"images of {batch.shape[1]} band(s); this model takes {self.channels}{hint}")
        return batch

    def network_for(self, precision: str) -> torch.nn.Module:
        """The network that scores in ``precision``: in bfloat16 on a CPU that has it natively, with its
        convolution stacks in oneDNN's layout (:func:`equilens.models.onednn.onednn_bfloat16`, made
        once); else :attr:`network`."""
        if precision != "bfloat16" or self.device.type != "cpu" or self.compiled or not native_bfloat16(self.device):
            return self.network
        if self._bfloat16_network is None:
            self._bfloat16_network = onednn_bfloat16(self.network)
        return self._bfloat16_network

    def _precision_for(self, batch: torch.Tensor) -> str:
        """The precision to score ``batch`` in; ``auto`` chooses once, on the first images scored."""
        if self.precision != "auto" or not len(batch):
            return "float32" if self.precision == "auto" else self.precision
        probe = batch[:PROBE_IMAGES].to(self.device)

        @torch.inference_mode()
        def probabilities(precision: str) -> torch.Tensor:
            with autocast(self.device, precision):
                return score_and_probabilities(self.network_for(precision), probe)[1]

        self.precision = choose_precision("auto", self.device, probabilities if self.task_type.probability_scores else None)
        return self.precision

    def scores(self, batch: torch.Tensor, batch_size: int | None = None,
               symmetrize: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """(N,) scores and (N, C) class probabilities (None but for a classifier) of a normalised (N, C, H, W) batch."""
        if self.record.regression is not None:
            raise InputError("a regression model has no substructure score; use predict_gaussian()")
        precision = self._precision_for(batch)
        scores, probabilities = score_images(self.network_for(precision), batch, batch_size=batch_size,
                                             symmetrize=symmetrize, precision=precision)
        return scores.numpy(), probabilities.numpy() if probabilities is not None else None

    def gaussian(self, batch: torch.Tensor, batch_size: int | None = None,
                 symmetrize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(N,) means and sigmas of a regression model on a normalised (N, C, H, W) batch."""
        if self.record.regression is None:
            raise InputError(f"a {self.task} model predicts no number; use score()")
        precision = self._precision_for(batch)
        mean, sigma = predict_gaussian(self.network_for(precision), batch, self.record.regression, batch_size, symmetrize,
                                       precision)
        return mean.numpy(), sigma.numpy()

    def predict_gaussian(self, images: Images, batch_size: int | None = None,
                         symmetrize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(N,) means and sigmas of a regression model in its target's units (log10 for a
        ``--log-target`` model), sigma calibrated as the run stored: ``predict``'s columns.
        ``images``: see :func:`normalize_images`; ``symmetrize``: average over the square's 8 symmetries."""
        return self.gaussian(self.batch(images), batch_size, symmetrize)

    def score(self, images: Images, batch_size: int | None = None, symmetrize: bool = False) -> np.ndarray:
        """(N,) scores, ``equilens predict``'s score column: a classifier's one minus the
        probability of its first class (p(substructure) = 1 - p(no_sub)), an anomaly detector's
        anomaly score. Arguments as :meth:`predict_gaussian`'s."""
        return self.scores(self.batch(images), batch_size, symmetrize)[0]

    def predict_proba(self, images: Images, batch_size: int | None = None, symmetrize: bool = False) -> np.ndarray:
        """(N, C) class probabilities of a classifier, columns in :attr:`classes` order.
        Arguments as :meth:`predict_gaussian`'s."""
        probabilities = self.scores(self.batch(images), batch_size, symmetrize)[1]
        if probabilities is None:
            raise InputError(f"a {self.task} model has no class probabilities; use score()")
        return probabilities

    def p_values(self, images: Images, batch_size: int | None = None) -> np.ndarray:
        """(N,) conformal p-values of an anomaly detector's scores against the normal lenses it
        stores, ``equilens predict``'s ``p_value`` column: flagging p <= alpha flags at most a
        fraction alpha of normal lenses (:mod:`equilens.evaluation.calibration`)."""
        if self.calibration is None:
            raise InputError(f"this {self.task} model stores no false-alarm calibration (only anomaly runs that keep "
                             "their last weights do); use score()")
        return conformal_p_values(self.calibration, self.score(images, batch_size))


def load(model: str | Path = "test-iv", device: str = "auto", compiled: bool = False, precision: str = "auto") -> TrainedModel:
    """Load a shipped model by name (``test-iv``, ``sim-test-iv``), a training run folder or a
    ``.safetensors`` weights file, ready to score (see :class:`TrainedModel`).

    Args:
        device: ``auto`` (the first GPU if there is one, else the CPU), ``cpu``, ``cuda:1`` ...
        compiled: ``torch.compile`` the network (see :func:`equilens.models.for_inference`).
        precision: ``auto`` (bfloat16 where the processor has it natively and a classifier's
            probabilities agree with float32's), ``float32`` or ``bfloat16`` (:mod:`equilens.precision`).
    """
    return TrainedModel.load(model, device, compiled, precision)


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
