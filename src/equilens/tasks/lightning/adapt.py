"""A classifier trained on labelled images of one domain while it adapts to unlabelled images of another.

Each training step takes a labelled batch (the simulation) and as many unlabelled images (the
survey's); the unlabelled loss is weighted by Ganin et al.'s ramp 2 / (1 + exp(-10 p)) - 1 over
the run's progress p, so it starts once the labelled loss has given the model something to say.

* ``self-training``: an image whose prediction under one random augmentation is at least
  :data:`CONFIDENCE` sure of its class is trained to that class under another augmentation
  (pseudo-labels with consistency, as FixMatch does). The predictions are first aligned so that
  their running mean over the unlabelled images is the labelled split's class mix (distribution
  alignment, Berthelot et al. 2020): without it a model that meets the new domain calling most
  images one class teaches itself that class (measured: real Test IV AUC fell from 0.99 to 0.92).
  So while adapting, the unlabelled images' class mix is taken to be the labelled one's; the kept
  model's mix is estimated afterwards (:mod:`equilens.tasks.adapt`);
* ``dann``: a small head tells the domains apart from the model's last features (the input of
  its output layer, invariant) through a gradient-reversal layer, so the features learn not to
  (domain-adversarial training, Ganin et al. 2016).

Both act on the network's own outputs or on features after its group pooling, so the model
stays exactly invariant; the domain head is not part of the kept model. Batch norm sees each
domain's batches apart, and the kept model takes the unlabelled domain's statistics
(:class:`~equilens.callbacks.precise_bn.PreciseBatchNorm`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from equilens.tasks.lightning.classify import ClassifierModule

#: Self-training: the least probability of its class at which a prediction is taken as an unlabelled
#: image's label. Chosen by hand below the 0.95 that the recipe's label smoothing lets a model reach.
CONFIDENCE = 0.9
#: Self-training: weight of the newest batch in the running mean of the unlabelled predictions that
#: distribution alignment divides by (about the last 100 batches count). Set by hand.
ALIGNMENT_MOMENTUM = 0.01


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient times -``weight`` backward."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return features.view_as(features)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.weight * grad, None


def output_layer(model: nn.Module) -> nn.Linear:
    """The linear layer that gives a classifier's logits (the last of its ``head``)."""
    head = model.head
    layer = head[-1] if isinstance(head, nn.Sequential) else head
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"{type(model).__name__}'s head does not end in a linear layer")
    return layer


class AdaptingClassifierModule(ClassifierModule):
    """:class:`ClassifierModule` that also learns from unlabelled images (batches: see
    :class:`~equilens.datamodules.LensDataModule`); logs ``unlabelled_loss`` and, for
    self-training, ``pseudo_labelled`` (the fraction of unlabelled images above :data:`CONFIDENCE`)."""

    def __init__(self, *args, adaptation: str, class_prior: list[float], **kwargs):
        super().__init__(*args, **kwargs)
        self.adaptation = adaptation
        self.register_buffer("class_prior", torch.as_tensor(class_prior, dtype=torch.float32))
        self.register_buffer("unlabelled_mean", self.class_prior.clone())
        if adaptation == "dann":
            width = output_layer(self.model).in_features
            self.domain_head = nn.Sequential(nn.Linear(width, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))
        elif adaptation != "self-training":
            raise ValueError(f"unknown adaptation {adaptation!r}")

    def ramp(self) -> float:
        return 2.0 / (1.0 + math.exp(-10.0 * self.run_progress())) - 1.0

    def training_step(self, batch, batch_idx):
        images, labels = self.augmented(*batch["labelled"])
        target = batch["unlabelled"][0]
        if self.adaptation == "dann":  # the domain head learns at full weight; the ramp scales what the features get
            loss, unlabelled_loss = self._dann(images, labels, target)
            total = loss + unlabelled_loss
        else:
            loss = F.cross_entropy(self.model(images), labels, label_smoothing=self.label_smoothing)
            unlabelled_loss = self._self_training(target)
            total = loss + self.ramp() * unlabelled_loss
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)
        self.log("unlabelled_loss", unlabelled_loss, on_step=False, on_epoch=True, batch_size=len(target), sync_dist=True)
        return total

    def _self_training(self, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            predicted = torch.softmax(self.model(self.augment(target)), dim=1)
            self.unlabelled_mean.lerp_(predicted.mean(dim=0), ALIGNMENT_MOMENTUM)
            aligned = predicted * (self.class_prior / self.unlabelled_mean)
            confidence, pseudo = (aligned / aligned.sum(dim=1, keepdim=True)).max(dim=1)
            sure = (confidence >= CONFIDENCE).float()
        self.log("pseudo_labelled", sure.mean(), on_step=False, on_epoch=True, batch_size=len(target), sync_dist=True)
        losses = F.cross_entropy(self.model(self.augment(target)), pseudo, reduction="none")
        return (losses * sure).mean()

    def _dann(self, images: torch.Tensor, labels: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        captured: list[torch.Tensor] = []
        hook = output_layer(self.model).register_forward_pre_hook(lambda _, inputs: captured.append(inputs[0]))
        try:
            loss = F.cross_entropy(self.model(images), labels, label_smoothing=self.label_smoothing)
            self.model(self.augment(target))  # its logits are not used: only the features the hook keeps
        finally:
            hook.remove()
        features = torch.cat(captured)
        domains = torch.cat([torch.zeros(len(images)), torch.ones(len(target))]).to(features)
        logits = self.domain_head(GradientReversal.apply(features, self.ramp())).squeeze(1)
        return loss, F.binary_cross_entropy_with_logits(logits, domains)

    def trained_parameters(self) -> list[nn.Parameter]:
        return [*super().trained_parameters(), *(self.domain_head.parameters() if self.adaptation == "dann" else ())]
