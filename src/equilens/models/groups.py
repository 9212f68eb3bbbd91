"""Symmetry groups by name (``C<N>``/``D<N>``) and their exact pixel actions: only 90-degree turns and
flips map the square grid onto itself, so the rest of C_N/D_N holds only approximately."""

from __future__ import annotations

from typing import Callable

import torch
from escnn import gspaces

from equilens.registry import parse_group

Action = Callable[[torch.Tensor], torch.Tensor]


def gspace(name: str) -> gspaces.GSpace2D:
    """The escnn space of the group acting on the plane: rotations C_N, or rotations and flips D_N."""
    flips, order = parse_group(name)
    return gspaces.flipRot2dOnR2(order) if flips else gspaces.rot2dOnR2(order)


def exact_actions(name: str) -> dict[str, Action]:
    """The non-identity elements of the group that act exactly on square images (N, C, H, W): turns
    by 90/180/270 degrees where 4 (or 2) divides N; for D_N with even N both axis flips, and with
    4 | N both diagonal flips."""
    flips, order = parse_group(name)
    quarter_turns = [1, 2, 3] if order % 4 == 0 else [2] if order % 2 == 0 else []
    actions: dict[str, Action] = {
        f"rot{90 * k}": (lambda x, k=k: torch.rot90(x, k, dims=(-2, -1))) for k in quarter_turns
    }
    if flips and order % 2 == 0:
        actions["flip_x"] = lambda x: torch.flip(x, dims=(-1,))
        actions["flip_y"] = lambda x: torch.flip(x, dims=(-2,))
        if order % 4 == 0:
            actions["transpose"] = lambda x: x.transpose(-2, -1)
            actions["antitranspose"] = lambda x: torch.rot90(x, 2, dims=(-2, -1)).transpose(-2, -1)
    return actions
