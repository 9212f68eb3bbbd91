"""Autoencoders for unsupervised substructure detection, trained on ``no_sub`` images only (layout and
design: docs/api/models.md). The anomaly score is how badly a model redraws an image."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from escnn import nn as enn
from torch import nn

from equilens.config import DEFAULT_GROUP, DEFAULT_INPUT_SIZE
from equilens.models.base import LensNetwork
from equilens.models.geometry import pool_geometry
from equilens.models.groups import gspace
from equilens.registry import DEFAULT_CHANNELS
from equilens.transforms import model_input


def encoder_sides(input_size: int, stages: int) -> list[int]:
    """Feature-map sides [S, s_1, ..., s_stages] after each symmetric stride-2 pooling (none at 2 px or less)."""
    sides = [input_size]
    for _ in range(stages):
        sides.append(pool_geometry(sides[-1])[2] if sides[-1] > 2 else sides[-1])
    return sides


class _Autoencoder(LensNetwork):
    """What both autoencoders share: input geometry, score and loss rings, the anomaly score. Subclasses
    set ``sides`` (:func:`encoder_sides`), implement :meth:`reconstruct` and zero their last conv's
    weights (a flat first reconstruction). The defaults are those of models saved before these
    options; new runs take :data:`equilens.tasks.anomaly.ANOMALY_SCORE_DEFAULTS`.

    Args:
        score_ring: (inner, outer) radius the score averages over, fractions of S (outer None: all).
        loss_ring: the ring the training loss averages over; None: the score ring.
        score_smoothing: odd side (px) of a box filter on the residual before squaring (1: none).
        intensity_stretch: a > 0 reconstructs log(1 + a x) / log(1 + a), not x; None keeps x.
    """

    task = "anomaly"

    def __init__(
        self,
        input_size: int,
        crop_fraction: float,
        score_ring: tuple[float, float | None] = (0.0, 0.35),
        loss_ring: tuple[float, float | None] | None = None,
        score_smoothing: int = 1,
        intensity_stretch: float | None = None,
    ):
        super().__init__()
        if score_smoothing < 1 or score_smoothing % 2 == 0:
            raise ValueError(f"score_smoothing {score_smoothing}: must be an odd number of pixels")
        self.input_size = input_size
        self.crop_fraction = crop_fraction
        self.score_smoothing = score_smoothing
        self.intensity_stretch = intensity_stretch
        # Centred rings and box filters keep the score's exact symmetry; not in saved weights.
        centred = torch.arange(input_size, dtype=torch.float32) - (input_size - 1) / 2
        radius = torch.hypot(centred[:, None], centred[None, :]) / input_size

        def ring_mask(ring: tuple[float, float | None]) -> torch.Tensor:
            inner, outer = ring
            return ((radius >= inner) & (radius <= (float("inf") if outer is None else outer))).float()

        self.register_buffer("score_mask", ring_mask(tuple(score_ring)), persistent=False)
        self.register_buffer("loss_mask", ring_mask(tuple(loss_ring or score_ring)), persistent=False)

    def model_input(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images -> (N, 1, S, S): what the autoencoder reconstructs."""
        x = model_input(images, self.crop_fraction, self.input_size)
        if self.intensity_stretch is None:
            return x
        # Pixel-wise, so it commutes with every rotation and flip.
        a = self.intensity_stretch
        return torch.log1p(a * x.clamp(min=0)) / math.log1p(a)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, S, S) model inputs -> (N, 1, S, S) reconstructions."""
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images in [0, 1] -> (N, 1, S, S) reconstruction of the model input."""
        return self.reconstruct(self.model_input(images))

    def residual(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images -> (N, 1, S, S) reconstruction minus model input, per pixel."""
        x = self.model_input(images)
        return self.reconstruct(x) - x

    def reconstruction_loss(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images in [0, 1] -> (N,) mean squared error inside the loss ring."""
        return self.loss_of_residual(self.residual(images))

    def anomaly_score(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images in [0, 1] -> (N,) mean squared box-filtered residual in the score
        ring (squared model-input intensity): high is unlike the ``no_sub`` training images."""
        return self.score_of_residual(self.residual(images))

    def loss_of_residual(self, residual: torch.Tensor) -> torch.Tensor:
        """:meth:`reconstruction_loss` of a (N, 1, S, S) :meth:`residual` already computed."""
        return (residual**2 * self.loss_mask).sum(dim=(1, 2, 3)) / (self.loss_mask.sum() * residual.shape[1])

    def score_of_residual(self, residual: torch.Tensor) -> torch.Tensor:
        """:meth:`anomaly_score` of a (N, 1, S, S) :meth:`residual` already computed."""
        if self.score_smoothing > 1:
            residual = F.avg_pool2d(residual, self.score_smoothing, stride=1, padding=self.score_smoothing // 2)
        return (residual**2 * self.score_mask).sum(dim=(1, 2, 3)) / (self.score_mask.sum() * residual.shape[1])


class SteerableAutoencoder(_Autoencoder):
    """E(2)-equivariant autoencoder: reconstruction equivariant, score invariant.

    Args:
        widths: regular fields per encoder block (the decoder mirrors them).
        latent: regular fields of the 1 x 1 latent (latent x |G| numbers).
        lift_kernel: kernel side of the first and last convs; ``kernel``: of the others.
        **score_options: see :class:`_Autoencoder`; the rest as for :class:`~equilens.models.steerable.SteerableCNN`.
    """

    def __init__(
        self,
        group: str = DEFAULT_GROUP,
        input_size: int = DEFAULT_INPUT_SIZE,
        crop_fraction: float = 1.0,
        widths: tuple[int, ...] = (2, 4, 8, 16),
        latent: int = 4,
        lift_kernel: int = 5,
        kernel: int = 3,
        in_channels: int = 1,
        **score_options: Any,
    ):
        super().__init__(input_size, crop_fraction, **score_options)
        self.group = group
        space = gspace(group)
        self.sides = encoder_sides(input_size, len(widths))
        self.image_type = enn.FieldType(space, in_channels * [space.trivial_repr])
        types = [enn.FieldType(space, width * [space.regular_repr]) for width in widths]
        latent_type = enn.FieldType(space, latent * [space.regular_repr])

        def block(in_type: enn.FieldType, out_type: enn.FieldType, size: int, padding: int) -> list[enn.EquivariantModule]:
            return [
                enn.R2Conv(in_type, out_type, kernel_size=size, padding=padding, bias=False),
                enn.InnerBatchNorm(out_type),
                enn.ReLU(out_type, inplace=True),
            ]

        encoder: list[enn.EquivariantModule] = []
        in_type = self.image_type
        for i, out_type in enumerate(types):
            size = lift_kernel if i == 0 else kernel
            encoder += block(in_type, out_type, size, size // 2)
            if self.sides[i] > 2:
                pool, padding, _ = pool_geometry(self.sides[i])
                encoder.append(enn.PointwiseMaxPool2D(out_type, kernel_size=pool, stride=2, padding=padding))
            in_type = out_type
        bottom = self.sides[-1]
        # A kernel as large as the map, unpadded: a dense, equivariant map to the 1 x 1 latent.
        encoder.append(enn.R2Conv(in_type, latent_type, kernel_size=bottom, padding=0))
        self.encoder = enn.SequentialModule(*encoder)

        # Its transpose: the same kernel size, padded to grow the 1 x 1 latent back to bottom^2.
        decoder = block(latent_type, types[-1], bottom, bottom - 1)
        for i in range(len(widths) - 1, 0, -1):
            decoder.append(enn.R2Upsampling(types[i], size=self.sides[i], mode="bilinear"))
            decoder += block(types[i], types[i - 1], kernel, kernel // 2)
        decoder += [
            enn.R2Upsampling(types[0], size=input_size, mode="bilinear"),
            enn.R2Conv(types[0], self.image_type, kernel_size=lift_kernel, padding=lift_kernel // 2),
        ]
        self.decoder = enn.SequentialModule(*decoder)
        with torch.no_grad():
            decoder[-1].weights.zero_()

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(enn.GeometricTensor(x, self.image_type))).tensor


class PlainAutoencoder(_Autoencoder):
    """The plain-CNN baseline with the layout of :class:`SteerableAutoencoder`; widths and latent are channels."""

    def __init__(
        self,
        input_size: int = DEFAULT_INPUT_SIZE,
        crop_fraction: float = 1.0,
        widths: tuple[int, ...] = DEFAULT_CHANNELS,
        latent: int = 32,
        lift_kernel: int = 5,
        kernel: int = 3,
        in_channels: int = 1,
        **score_options: Any,
    ):
        super().__init__(input_size, crop_fraction, **score_options)
        self.sides = encoder_sides(input_size, len(widths))

        def block(in_channels: int, out_channels: int, size: int, padding: int) -> list[nn.Module]:
            return [
                nn.Conv2d(in_channels, out_channels, size, padding=padding, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]

        encoder: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            size = lift_kernel if i == 0 else kernel
            encoder += block(channels, width, size, size // 2)
            if self.sides[i] > 2:
                pool, padding, _ = pool_geometry(self.sides[i])
                encoder.append(nn.MaxPool2d(pool, stride=2, padding=padding))
            channels = width
        bottom = self.sides[-1]
        encoder.append(nn.Conv2d(channels, latent, bottom))
        self.encoder = nn.Sequential(*encoder)

        decoder = block(latent, widths[-1], bottom, bottom - 1)
        for i in range(len(widths) - 1, 0, -1):
            decoder.append(nn.Upsample(size=self.sides[i], mode="bilinear"))
            decoder += block(widths[i], widths[i - 1], kernel, kernel // 2)
        decoder += [
            nn.Upsample(size=input_size, mode="bilinear"),
            nn.Conv2d(widths[0], in_channels, lift_kernel, padding=lift_kernel // 2),
        ]
        self.decoder = nn.Sequential(*decoder)
        nn.init.zeros_(decoder[-1].weight)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
