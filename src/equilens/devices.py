"""``--device`` spellings (``auto``, ``cpu``, ``gpu``, ``cuda:1``, ``gpu:1``, ``mps``) as torch and Lightning devices."""

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
    """The ``torch.device`` of a spelling: ``gpu:1`` -> ``cuda:1``; ``auto``: the first CUDA GPU, else the CPU."""
    name, index = _parse(spelling)
    return torch.device(name, index)


def lightning_devices(spelling: str = "auto") -> tuple[str, str]:
    """(accelerator, devices) for Lightning: ``cuda:1`` -> ("cuda", "1,"), the comma making it a list of indices."""
    if spelling.strip().lower() == "auto":
        return "auto", "auto"
    name, index = _parse(spelling)
    return name, "auto" if index is None else f"{index},"
