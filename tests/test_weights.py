"""Strict, pickle-free weight files that load in either mode."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from equilens.errors import InputError
from equilens.models import build_model
from equilens.weights import load_model, save_weights

CONFIG = {"architecture": "steerable", "group": "D4", "input_size": 33, "widths": [3, 4]}


@pytest.mark.parametrize("saved_in_eval_mode", [False, True])
def test_round_trip_is_strict_and_exact(tmp_path, saved_in_eval_mode):
    torch.manual_seed(0)
    model = build_model(CONFIG)
    model(torch.rand(8, 1, 33, 33))  # move the batch-norm running statistics off their initial values
    model.train(not saved_in_eval_mode)
    path = save_weights(model, tmp_path / "m.safetensors", {"model": CONFIG, "classes": ["no_sub", "sub"], "task": "classify"})
    assert not any(key.endswith(".filter") for key in load_file(str(path)))
    loaded, info = load_model(path)
    assert not loaded.training and info["classes"] == ["no_sub", "sub"]
    images = torch.rand(4, 1, 33, 33)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), model.eval()(images))
    assert (tmp_path / "m.json").is_file()


def test_mismatched_weights_rejected(tmp_path):
    path = save_weights(build_model(CONFIG), tmp_path / "m.safetensors", {"model": CONFIG})
    state = load_file(str(path))
    state.pop("features.0.weights")
    save_file(state, str(path), metadata={"equilens": (tmp_path / "m.json").read_text()})
    with pytest.raises(InputError, match="weights do not match"):
        load_model(path)


def test_non_weights_file_rejected(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a safetensors weights file"):
        load_model(tmp_path / "x.safetensors")
    with pytest.raises(InputError, match="no such run folder"):
        load_model(tmp_path / "missing.safetensors")
