"""What every equilens network declares: its task, its plain-torch export, and a check of its symmetry."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from equilens.testing import assert_invariant


class LensNetwork(nn.Module):
    """A network from images (N, C, H, W) in [0, 1]: ``task`` ``classify`` (forward: (N, K) logits) or
    ``anomaly`` (``anomaly_score``: (N,)); ``group``: the symmetry group built in (None: none)."""

    task: ClassVar[str]
    group: str | None = None

    def export(self) -> nn.Module | None:
        """An eval-mode plain-torch copy with the same outputs, faster; None where there is none."""
        return None

    def invariant_output(self, images: torch.Tensor) -> torch.Tensor:
        """The output that must not change under the group: the anomaly score where there is one, else the logits."""
        return self.anomaly_score(images) if hasattr(self, "anomaly_score") else self(images)

    def check_invariance(self, images: torch.Tensor, atol: float = 1e-4, group: str | None = None) -> dict[str, float]:
        """Assert :meth:`invariant_output` is unchanged within ``atol`` by every exact pixel action of
        ``group`` (default: the model's own); returns the largest change per action. Call in eval mode."""
        group = group or self.group
        if group is None:
            raise ValueError(f"{type(self).__name__} has no symmetry group built in: name the group to check")
        return assert_invariant(self.invariant_output, images, group, atol)
