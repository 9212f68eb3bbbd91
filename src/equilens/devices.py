"""Device spellings: one mapping from what a user types (``--device``) to torch and to Lightning.

Users type ``auto``, ``cpu``, ``gpu``, ``cuda``, ``cuda:1``, ``gpu:1`` or ``mps``; torch's
``torch.device`` knows ``cuda`` but not ``gpu``, and Lightning's Trainer wants an accelerator
(``gpu``, ``cpu`` ...) and a device list instead of an index. Every command maps through here.
"""

from __future__ import annotations

import torch

from equilens.errors import InputError

_TORCH = {"gpu": "cuda", "cuda": "cuda", "cpu": "cpu", "mps": "mps"}


def _parse(spelling: str) -> tuple[str, int | None]:
    """``auto`` -> ("cuda" or "cpu", None); ``gpu:1`` -> ("cuda", 1); an unknown spelling is an InputError."""
    name, colon, index = spelling.strip().lower().partition(":")
    if name == "auto" and not colon:
        return ("cuda" if torch.cuda.is_available() else "cpu"), None
    if name not in _TORCH or (colon and not index.isdigit()):
        raise InputError(f"unknown device {spelling!r} (expected auto, cpu, gpu, cuda, mps, or gpu:N / cuda:N)")
    return _TORCH[name], int(index) if index else None


def torch_device(spelling: str = "auto") -> torch.device:
    """The ``torch.device`` of a device spelling: ``gpu`` and ``cuda`` -> ``cuda``, ``gpu:1`` -> ``cuda:1``,
    ``auto`` -> the first CUDA GPU when there is one, else the CPU."""
    name, index = _parse(spelling)
    return torch.device(name, index)


def lightning_devices(spelling: str = "auto") -> tuple[str, str]:
    """(accelerator, devices) for Lightning's Trainer, as ``equilens train``'s ``--accelerator`` and
    ``--devices`` take them: ``auto`` -> ("auto", "auto"), ``cuda``/``gpu`` -> ("cuda", "auto"),
    ``cuda:1`` -> ("cuda", "1,") (Lightning reads a trailing comma as a list of device indices),
    ``cpu`` -> ("cpu", "auto")."""
    if spelling.strip().lower() == "auto":
        return "auto", "auto"
    name, index = _parse(spelling)
    return name, "auto" if index is None else f"{index},"
