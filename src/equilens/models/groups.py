"""Symmetry groups by name (``C4``, ``D8``, any ``C<N>``/``D<N>``) and their exact pixel actions.

Only rotations by multiples of 90 degrees and flips map the square pixel grid onto itself, so
only those group elements can leave a network's output exactly unchanged; the rest of C_N/D_N
(e.g. 45 degrees in C8) holds only approximately.
"""

from __future__ import annotations

from typing import Callable

import torch
from escnn import gspaces

from equilens.config import parse_group

Action = Callable[[torch.Tensor], torch.Tensor]


def gspace(name: str) -> gspaces.GSpace2D:
    """The escnn space of the group acting on the plane: rotations C_N, or rotations and flips D_N."""
    flips, order = parse_group(name)
    return gspaces.flipRot2dOnR2(order) if flips else gspaces.rot2dOnR2(order)


def exact_actions(name: str) -> dict[str, Action]:
    """The non-identity elements of the group that act exactly on square images (N, C, H, W).

    Rotations by 90/180/270 degrees where 4 (or 2) divides N; for D_N with even N both
    axis flips (one is escnn's reflection, the other that composed with the 180-degree turn),
    and for D_N with 4 | N the two diagonal flips.
    """
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
