"""A network's convolution stacks in oneDNN's own tensor layout and bfloat16, for scoring on a CPU.

Under autocast alone, every convolution converts its weights to bfloat16 on each call and the
ReLUs and max pools between them run torch's own CPU kernels, slow on bfloat16 tensors with few
channels. Kept in oneDNN's layout (``torch.utils.mkldnn``), the weights are converted and packed
once and the pools run in oneDNN too, which issues the convolutions to AMX tiles or AVX-512 BF16
where the CPU has them. Measurements: docs/benchmarks/speed.md.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from equilens.log import logger

#: Layers oneDNN runs on its own tensors (batch norm is folded into the convs by every export).
ONEDNN_LAYERS = (nn.Conv2d, nn.ReLU, nn.MaxPool2d)


class OneDnnStack(nn.Module):
    """A run of :data:`ONEDNN_LAYERS`: (N, C, H, W) float tensor in, float32 (N, C', H', W') out."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        with warnings.catch_warnings():  # its modules are TorchScript's, which torch marks deprecated
            warnings.filterwarnings("ignore", message=".*script_method.* is deprecated", category=FutureWarning)
            from torch.utils import mkldnn

            self.layers = mkldnn.to_mkldnn(copy.deepcopy(nn.Sequential(*layers)).float().eval(), torch.bfloat16)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images.float().contiguous().to_mkldnn(torch.bfloat16)).to_dense().float()


def onednn_bfloat16(network: nn.Module) -> nn.Module:
    """A copy of the eval-mode ``network`` in which each run of two or more :data:`ONEDNN_LAYERS`
    inside an ``nn.Sequential`` with a convolution in it is a :class:`OneDnnStack`; the rest as it was.
    ``network`` itself where this torch cannot (autocast alone then scores in bfloat16)."""
    converted = copy.deepcopy(network).eval()
    try:
        for module in list(converted.modules()):
            if isinstance(module, nn.Sequential):
                _convert_runs(module)
    except (ImportError, AttributeError, RuntimeError) as error:
        logger.info("bfloat16 under autocast alone: this torch cannot hold the convolutions in oneDNN's layout (%s)", error)
        return network
    return converted


def _convert_runs(sequential: nn.Sequential) -> None:
    layers, run, kept = list(sequential), [], []
    for layer in [*layers, None]:
        if isinstance(layer, ONEDNN_LAYERS):
            run.append(layer)
            continue
        if len(run) > 1 and any(isinstance(m, nn.Conv2d) for m in run):
            kept.append(OneDnnStack(run))
        else:
            kept += run
        run = []
        if layer is not None:
            kept.append(layer)
    if len(kept) != len(layers):
        for name in list(sequential._modules):
            del sequential._modules[name]
        for i, layer in enumerate(kept):
            sequential.add_module(str(i), layer)
