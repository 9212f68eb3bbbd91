"""Checks of exact symmetry for tests and reports: ``function`` maps images (N, C, H, W) to a tensor,
the group acts by :func:`equilens.models.groups.exact_actions` (90-degree turns, flips for D_N)."""

from __future__ import annotations

from typing import Callable

import torch

from equilens.models.groups import exact_actions

Function = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def invariance_changes(function: Function, images: torch.Tensor, group: str = "D4") -> dict[str, float]:
    """max |function(g x) - function(x)| over ``images`` for each exact action g of ``group``."""
    reference = function(images)
    return {name: (function(act(images)) - reference).abs().max().item() for name, act in exact_actions(group).items()}


def assert_invariant(function: Function, images: torch.Tensor, group: str = "D4", atol: float = 1e-4) -> dict[str, float]:
    """Assert function(g x) == function(x) within ``atol`` for every exact action g of ``group``;
    returns the changes. The error names each action that moved the output, and by how much."""
    changes = invariance_changes(function, images, group)
    moved = {name: change for name, change in changes.items() if not change <= atol}
    assert not moved, f"not invariant under {group} (atol {atol}): " + ", ".join(f"{k} {v:.2e}" for k, v in moved.items())
    return changes


@torch.no_grad()
def assert_equivariant(function: Function, images: torch.Tensor, group: str = "D4", atol: float = 1e-4) -> None:
    """Assert function(g x) == g function(x) within ``atol`` for every exact action g of ``group``
    (``function`` maps images to images, e.g. a reconstruction)."""
    output = function(images)
    moved = {name: (function(act(images)) - act(output)).abs().max().item() for name, act in exact_actions(group).items()}
    moved = {name: change for name, change in moved.items() if not change <= atol}
    assert not moved, f"not equivariant under {group} (atol {atol}): " + ", ".join(f"{k} {v:.2e}" for k, v in moved.items())
