"""Every --device spelling the help texts offer maps to a torch device and a Lightning accelerator."""

import pytest
import torch
from lightning.pytorch.accelerators import AcceleratorRegistry

from equilens.devices import lightning_devices, torch_device
from equilens.errors import InputError


@pytest.mark.parametrize("spelling, expected", [("cpu", "cpu"), ("gpu", "cuda"), ("cuda", "cuda"), ("CUDA:1", "cuda:1"),
                                                ("gpu:1", "cuda:1"), ("mps", "mps")])
def test_torch_device(spelling, expected):
    assert torch_device(spelling) == torch.device(expected)


def test_auto_is_cuda_or_cpu():
    assert torch_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("spelling, expected", [("auto", ("auto", "auto")), ("cpu", ("cpu", "auto")), ("gpu", ("cuda", "auto")),
                                                ("cuda", ("cuda", "auto")), ("cuda:1", ("cuda", "1,")), ("mps", ("mps", "auto"))])
def test_lightning_devices(spelling, expected):
    accelerator, devices = lightning_devices(spelling)
    assert (accelerator, devices) == expected
    assert accelerator == "auto" or accelerator in AcceleratorRegistry.available_accelerators()


@pytest.mark.parametrize("spelling", ["tpu", "gpu:x", "cuda:", ""])
def test_unknown_spelling_names_it(spelling):
    with pytest.raises(InputError, match="unknown device"):
        torch_device(spelling)
