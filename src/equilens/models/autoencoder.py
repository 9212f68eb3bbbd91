"""Autoencoders for unsupervised substructure detection: trained on ``no_sub`` images only.

    image (N, 1, H, W) --centred crop, resize--> x (N, 1, S, S)
      encoder: [conv -> batch norm -> ReLU -> symmetric stride-2 max-pool] x len(widths)
               -> dense conv over the whole s x s map -> latent (N, latent x |G|, 1, 1)
      decoder: dense transposed conv back to s x s -> [bilinear upsample to the encoder's side
               -> conv -> batch norm -> ReLU] x (len(widths) - 1) -> upsample to S -> conv
               -> reconstruction (N, 1, S, S)

The anomaly score is how badly the model redraws an image: the reconstruction residual,
box-filtered and squared, averaged over a ring about the lens centre (``score_ring``), in
log-stretched intensities (``intensity_stretch``) so that faint arcs weigh as much as the
bright lens light. A smooth lens is what the model has learned to draw, so the small
distortions that subhalos add to the arcs are what it fails to reproduce. New models take
these options from :data:`equilens.config.ANOMALY_SCORE_DEFAULTS`.

Design (steerable model): every layer, the latent included, is equivariant, so the
reconstruction of a rotated/flipped image is the rotated/flipped reconstruction and the score
is exactly invariant under the group's exact actions. The latent is a 1 x 1 map of regular
fields: it keeps the pose (the lens has a preferred axis) in how its |G| channels are
permuted, which an invariant latent would lose, and the decoder could then not place the arcs.
Every pooling uses :func:`~equilens.models.geometry.pool_geometry` and every upsampling
targets the side the encoder had at that depth with a centre-aligned bilinear grid, so the
pixel grid stays symmetric at any input size (odd or even). Widths, latent and score options
were chosen with ``benchmarks/anomaly.py`` and ``benchmarks/real_test_iv.py anomaly``; the
figures are in the documentation (benchmarks, "Anomaly detection").
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from escnn import nn as enn
from torch import nn

from equilens.config import DEFAULT_CHANNELS, DEFAULT_GROUP, DEFAULT_INPUT_SIZE
from equilens.models.geometry import pool_geometry
from equilens.models.groups import gspace
from equilens.transforms import model_input


def encoder_sides(input_size: int, stages: int) -> list[int]:
    """Feature-map sides [S, s_1, ..., s_stages] after each symmetric stride-2 pooling.

    A stage whose input is already 2 pixels or less is not pooled (as in the classifiers).
    """
    sides = [input_size]
    for _ in range(stages):
        sides.append(pool_geometry(sides[-1])[2] if sides[-1] > 2 else sides[-1])
    return sides


class _Autoencoder(nn.Module):
    """What both autoencoders share: the input geometry, the score region and the anomaly score.

    Subclasses set ``self.sides`` (from :func:`encoder_sides`), implement :meth:`reconstruct`
    on model inputs (already cropped and resized to S), and zero the weights of their last
    convolution: the first reconstructions are then a flat image (its bias) instead of the
    random-weight decoder's output, whose error starts ~100x above the data's variance and
    takes epochs to come down.

    Args:
        input_size: side S in pixels the image is resized to.
        crop_fraction: the centred crop (fraction of the image side) taken before resizing,
            as the classifiers do (see :func:`equilens.transforms.model_input`).
        score_ring: (inner, outer) radius of the ring about the centre that the anomaly
            score averages over, as fractions of S (0.5 touches the image border; outer None:
            the whole image).
        loss_ring: the ring that the training loss (mean squared error) averages over; None:
            the score ring.
        score_smoothing: side in pixels of the box filter applied to the residual before the
            score squares it (1: none): a subhalo's distortion spans a few pixels, a
            reconstruction's pixel-scale errors do not.
        intensity_stretch: a > 0 reconstructs log(1 + a x) / log(1 + a) of the image x, not
            x itself; None keeps x.

    The constructor's defaults (linear intensities, a disc of 0.35 S for loss and score, no
    smoothing) are those of the models saved before these options existed; new runs take
    :data:`equilens.config.ANOMALY_SCORE_DEFAULTS`.
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
        # A ring about the grid centre maps onto itself under 90-degree turns and flips, so the
        # masked score keeps the reconstruction's exact symmetry (as does the centred box
        # filter). Not parameters: not saved.
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
        """(N, 1, H, W) images in [0, 1] -> (N,) mean squared error inside the loss ring:
        what training minimises on ``no_sub`` images."""
        return self.loss_of_residual(self.residual(images))

    def anomaly_score(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images in [0, 1] -> (N,) mean squared box-filtered residual inside the
        score ring (units: squared model-input intensity); high means unlike the ``no_sub``
        training images."""
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
    """E(2)-equivariant autoencoder (escnn): reconstruction equivariant, score invariant.

    Args:
        group: symmetry group, ``C<N>`` or ``D<N>``.
        input_size: see :class:`_Autoencoder`.
        crop_fraction: see :class:`_Autoencoder`.
        widths: regular fields per encoder block (the decoder mirrors them).
        latent: regular fields of the 1 x 1 latent (latent dimension = latent x |G|).
        lift_kernel: side of the first and last convolution's kernel, in pixels.
        kernel: side of the other kernels.
        in_channels: bands of the image, each a scalar field (reconstructed band by band; the
            score averages over bands).
        **score_options: ``score_ring``, ``loss_ring``, ``score_smoothing``, ``intensity_stretch``:
            see :class:`_Autoencoder`.
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
            decoder[-1].weights.zero_()  # see _Autoencoder.__init__

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(enn.GeometricTensor(x, self.image_type))).tensor


class PlainAutoencoder(_Autoencoder):
    """The plain-CNN baseline with the same layout as :class:`SteerableAutoencoder`.

    Args:
        input_size: see :class:`_Autoencoder`.
        crop_fraction: see :class:`_Autoencoder`.
        widths: channels per encoder block (the decoder mirrors them).
        latent: channels of the 1 x 1 latent.
        lift_kernel: as for :class:`SteerableAutoencoder`.
        kernel: as for :class:`SteerableAutoencoder`.
        in_channels: as for :class:`SteerableAutoencoder`.
        **score_options: as for :class:`SteerableAutoencoder`.
    """

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
        nn.init.zeros_(decoder[-1].weight)  # see _Autoencoder.__init__

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
