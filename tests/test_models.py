"""Model shapes and exact invariance under the group's pixel-exact actions."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from equilens.config import TrainConfig
from equilens.errors import InputError
from equilens.models import build_model, for_inference, substructure_score
from equilens.models.base import LensNetwork
from equilens.models.geometry import pool_geometry, strided_conv_geometry
from equilens.models.groups import exact_actions
from equilens.registry import MODELS, default_widths, model_names, parse_group
from equilens.testing import assert_invariant


def assert_stride_2_grid_symmetric(size: int, kernel: int, padding: int, out: int) -> None:
    """A stride-2 window of ``kernel`` with ``padding`` gives ``out`` outputs, centred on input
    positions that the flip i -> size-1-i maps onto each other."""
    assert (size + 2 * padding - kernel) // 2 + 1 == out
    centres = [2 * i - padding + (kernel - 1) / 2 for i in range(out)]  # window centres in input pixels
    assert centres == [size - 1 - c for c in reversed(centres)]


@pytest.mark.parametrize("size", range(3, 200))
def test_pool_geometry_keeps_grid_symmetric(size):
    kernel, padding, out = pool_geometry(size)
    assert_stride_2_grid_symmetric(size, kernel, padding, out)


@pytest.mark.parametrize("size", range(3, 120))
@pytest.mark.parametrize("kernel", [3, 5])
def test_strided_conv_geometry_keeps_grid_symmetric(size, kernel):
    geometry = strided_conv_geometry(size, kernel)
    if size % 2 == 0:
        assert geometry is None  # no odd kernel sits symmetrically at stride 2 on an even grid
        return
    padding, out = geometry
    assert out == pool_geometry(size)[2]
    assert_stride_2_grid_symmetric(size, kernel, padding, out)


@pytest.mark.parametrize(
    "group, size",
    [("C4", 33), ("C4", 64), ("C8", 75), ("D4", 75), ("D4", 128), ("D8", 48), ("C2", 31)],
)
@pytest.mark.parametrize("pooled_blocks", [None, 0, 1])
def test_steerable_output_invariant_under_exact_actions(group, size, pooled_blocks):
    torch.manual_seed(0)
    config = {"architecture": "steerable", "group": group, "input_size": size, "widths": [3, 4, 6], "pooled_blocks": pooled_blocks}
    model = build_model(config).eval()
    images = torch.rand(6, 1, size, size)
    actions = exact_actions(group)
    assert ("flip_x" in actions) == group.startswith("D") and ("rot90" in actions) == (group != "C2")
    assert_invariant(lambda x: torch.softmax(model(x), dim=1), images, group)


def test_later_blocks_stride_and_old_configs_pool_everywhere():
    def layers(config):
        return [type(m).__name__ for m in build_model({"architecture": "steerable", "input_size": 75, **config}).features]

    strided = layers({"widths": [2, 3, 4], "pooled_blocks": 1})
    assert strided.count("PointwiseMaxPool2D") == 1 and strided.count("R2Conv") == 3
    assert layers({"widths": [2, 3, 4], "pooled_blocks": 0}).count("PointwiseMaxPool2D") == 0
    # A config saved before the option existed has no key: it meant a pool after every conv.
    assert layers({"widths": [2, 3, 4]}).count("PointwiseMaxPool2D") == 3
    # An even grid has no symmetric stride-2 conv: those blocks pool instead, keeping invariance.
    assert layers({"widths": [2, 3, 4], "pooled_blocks": 0, "input_size": 64}).count("PointwiseMaxPool2D") == 3


def test_invariance_holds_through_resizing():
    """A 150 px image, centre-cropped to 90% and resized to 75 px inside the model, keeps exact invariance."""
    model = build_model(TrainConfig(data="").model_config(num_classes=2)).eval()  # the default equivariant model
    assert model.input_size == 75 and model.crop_fraction == 0.9
    images = torch.rand(4, 1, 150, 150)
    assert_invariant(lambda x: substructure_score(model, x), images, "D4")


def test_plain_cnn_shapes_and_multiclass():
    model = build_model({"architecture": "cnn", "input_size": 40, "num_classes": 3}).eval()
    assert model(torch.rand(5, 1, 64, 64)).shape == (5, 3)
    assert substructure_score(model, torch.rand(5, 1, 40, 40)).shape == (5,)


@pytest.mark.parametrize("name", ["X4", "C0", "D", "rot4"])
def test_bad_group_rejected(name):
    with pytest.raises(InputError, match="is not C<N> or D<N>"):
        parse_group(name)


def test_bad_architecture_rejected():
    with pytest.raises(InputError, match="unknown architecture"):
        build_model({"architecture": "transformer"})


@pytest.mark.parametrize("architecture, group", [("steerable", "D4"), ("steerable", "C8"), ("cnn", None), ("resnet18", None)])
def test_trained_model_exports_with_batch_norm_folded(architecture, group):
    """Both group families (D_N, C_N) and the plain baselines train and export (escnn without py3nj)."""
    config = {"architecture": architecture, "input_size": 33, "widths": [2, 4, 4] if architecture == "steerable" else [8, 16]}
    if architecture == "steerable":
        config.update(group=group, pooled_blocks=2)  # both kinds of block: conv + pool, stride-2 conv
    model = build_model(config)
    # A training step: batch statistics, so batch norm is not the identity, and moved weights.
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.nn.functional.cross_entropy(model(torch.rand(16, 1, 40, 40)), torch.arange(16) % 2).backward()
    optimizer.step()
    model.eval()
    images = torch.rand(4, 1, 40, 40)
    with torch.no_grad():
        reference = model(images)
        exported = for_inference(model)
        assert torch.allclose(exported(images), reference, atol=1e-5)
        assert torch.equal(model(images), reference)  # the model itself is left as it was
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in exported.modules())


@pytest.mark.needs_cpp_compiler
def test_compiled_export_matches_and_stays_invariant():
    model = build_model({"architecture": "steerable", "input_size": 33, "widths": [2, 4]}).eval()
    images = torch.rand(8, 1, 40, 40)
    with torch.no_grad():
        reference = model(images)
        compiled = for_inference(model, compiled=True)
        assert torch.allclose(compiled(images), reference, atol=1e-5)
    assert_invariant(compiled, images, "D4")
    assert compiled.task == "classify"


def test_compile_without_cpp_compiler_rejected(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    model = build_model({"architecture": "cnn", "input_size": 17, "widths": [4]}).eval()
    with pytest.raises(InputError, match="needs a C\\+\\+ compiler"):
        for_inference(model, compiled=True)


def test_escnn_imports_without_the_py3nj_warning():
    """equilens installs escnn without py3nj (a Fortran build, used only for SO(3)); escnn's
    warning about it is silenced where equilens imports escnn."""
    result = subprocess.run([sys.executable, "-W", "always", "-c", "import equilens.models.steerable"], capture_output=True, text=True)
    assert result.returncode == 0 and "py3nj" not in result.stderr, result.stderr[-2000:]


def test_resnet18_is_the_resnet_18_layout():
    """Default widths: 4 stages of 2 basic blocks, 64-512 channels: ResNet-18's 11.17 M weights
    for one grey band and two classes (torchvision's resnet18 less its 3-band stem and 1000-way head)."""
    model = build_model({"architecture": "resnet18", "input_size": 75, "num_classes": 2, "in_channels": 1})
    assert len(model.blocks) == 8
    assert sum(p.numel() for p in model.parameters()) == 11_171_266
    assert model(torch.rand(3, 1, 64, 64)).shape == (3, 2)
    assert build_model({"architecture": "resnet18", "input_size": 40, "widths": [4, 8], "in_channels": 3})(torch.rand(2, 3, 50, 50)).shape == (2, 2)


def test_registry_names_every_architecture_and_builds_it_lazily():
    assert model_names() == ("steerable", "cnn", "resnet18") and model_names("anomaly") == ("steerable", "cnn")
    assert default_widths("steerable", "D4") == [3, 8, 16, 32] and default_widths("steerable", "C8") == [3, 8, 16, 32]
    assert default_widths("steerable", "C4") == [6, 16, 32, 64] and default_widths("cnn", "D4") == [16, 32, 64, 128]
    for spec in MODELS.values():
        assert spec.autoencoder is None or MODELS[spec.autoencoder].tasks == ("anomaly",)
        assert issubclass(spec.model_class(), LensNetwork)


@pytest.mark.parametrize("config", [
    {"architecture": "steerable", "group": "C4", "input_size": 33, "widths": [2, 3]},
    {"architecture": "steerable_autoencoder", "group": "D4", "input_size": 33, "widths": [1, 2]},
    {"architecture": "outlier_exposure", "classifier": {"architecture": "steerable", "input_size": 33, "widths": [2], "num_classes": 2}},
])
def test_check_invariance_of_the_model_and_its_export(config):
    torch.manual_seed(0)
    model = build_model(config).eval()
    images = torch.rand(3, 1, 33, 33)
    assert set(model.check_invariance(images)) == set(exact_actions(model.group))
    if model.export() is not None:
        model.export().check_invariance(images)


def test_check_invariance_of_a_plain_model_needs_a_group_and_fails():
    torch.manual_seed(0)
    model = build_model({"architecture": "cnn", "input_size": 17, "widths": [4]}).eval()
    with pytest.raises(ValueError, match="no symmetry group"):
        model.check_invariance(torch.rand(2, 1, 17, 17))
    with pytest.raises(AssertionError, match="not invariant under D4"):
        model.check_invariance(torch.rand(2, 1, 17, 17), group="D4")
