"""The number format a model scores in: float32, or bfloat16 where the processor computes it natively.

bfloat16 convolutions run on a CPU's AMX tiles or AVX-512 BF16 units (through oneDNN) and on a GPU's
tensor cores; elsewhere torch emulates them, slower than float32. Scoring in bfloat16 is autocast:
convolutions and matrix products in bfloat16, the rest (resizing, softmax, scores) in float32.
``auto`` takes bfloat16 only where it is native, only for a model whose score is a probability (a
classifier: its tolerance is on probabilities, which other tasks' scores are not), and only when its
probabilities on the first images it scores agree with float32's within :data:`BFLOAT16_TOLERANCE`;
it says which it chose in one log line. Measurements: docs/benchmarks/speed.md.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable, ContextManager

from equilens.errors import InputError
from equilens.log import logger

if TYPE_CHECKING:  # torch is imported where used: the command line reads PRECISIONS without it
    import torch

PRECISIONS = ("auto", "float32", "bfloat16")

#: Largest |p(bfloat16) - p(float32)| of a class probability that ``auto`` accepts on its probe images.
#: A limit a little above the largest difference measured on the real Test IV images with the shipped
#: model (benchmarks/throughput.py --precision-check), so that a model whose outputs bfloat16 disturbs
#: more than the shipped one's falls back to float32.
BFLOAT16_TOLERANCE = 0.1

#: Images ``auto`` scores both ways before it chooses.
PROBE_IMAGES = 64


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else an InputError."""
    if precision not in PRECISIONS:
        raise InputError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    return precision


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively (AMX or AVX-512 BF16 on a CPU; a GPU that has bf16)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def autocast(device: torch.device, precision: str) -> ContextManager:
    """The context a forward pass runs in to score in ``precision`` (``float32`` or ``bfloat16``) on ``device``."""
    import torch

    if precision == "bfloat16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def choose_precision(
    requested: str, device: torch.device, probabilities: Callable[[str], torch.Tensor] | None
) -> str:
    """``float32`` or ``bfloat16``: ``requested`` unless it is ``auto`` (see the module's docstring).

    Args:
        probabilities: (N, C) class probabilities of the probe images in a given precision, or None
            for a model that gives no probabilities (``auto`` then takes float32).
    """
    if check_precision(requested) != "auto":
        if requested == "bfloat16" and not native_bfloat16(device):
            logger.warning("precision: bfloat16 on %s, which has no native bfloat16: slower than float32", device)
        return requested
    if probabilities is None or not native_bfloat16(device):
        return "float32"
    change = (probabilities("bfloat16") - probabilities("float32")).abs().max().item()
    chosen = "bfloat16" if change <= BFLOAT16_TOLERANCE else "float32"
    logger.info("precision: %s (bfloat16 moves a probability by at most %.3f on the first images, tolerance %g); "
                "--precision float32 forces full precision", chosen, change, BFLOAT16_TOLERANCE)
    return chosen
