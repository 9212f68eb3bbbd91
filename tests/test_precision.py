"""Scoring in bfloat16: when ``auto`` takes it, that its probabilities stay within the tolerance of
float32's, and that a report says which precision scored."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from equilens import load, precision
from equilens.cli import main
from equilens.errors import InputError
from equilens.models import build_model, for_inference
from equilens.models.onednn import OneDnnStack, onednn_bfloat16
from equilens.precision import BFLOAT16_TOLERANCE, autocast, choose_precision, native_bfloat16
from equilens.threads import decoding_workers, fewer_threads

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test-iv"
CPU = torch.device("cpu")
needs_native_bfloat16 = pytest.mark.skipif(not native_bfloat16(CPU), reason="this CPU has no native bfloat16 (AMX / AVX-512 BF16)")


def lens_like_images(n: int) -> np.ndarray:
    """Real Test IV images where present (the first of each class), else faint, peaked noise."""
    if REAL_DATA.is_dir():
        from equilens.datasets.folder import load_images

        files = [f for name in ("no_sub", "sub") for f in sorted((REAL_DATA / name).glob("*.jpg"))[: n // 2]]
        return load_images(files)[:, 0].numpy()
    return np.random.default_rng(0).random((n, 150, 150), dtype=np.float32) ** 4


def test_unknown_precision_is_refused():
    with pytest.raises(InputError, match="--precision 'half': choose one of auto, float32, bfloat16"):
        load("test-iv", device="cpu", precision="half")


def test_auto_keeps_float32_without_native_bfloat16_or_probabilities(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda device: False)
    assert choose_precision("auto", CPU, lambda p: torch.zeros(2, 2)) == "float32"
    monkeypatch.setattr(precision, "native_bfloat16", lambda device: True)
    assert choose_precision("auto", CPU, None) == "float32"  # no probabilities to judge it on: anomaly, regression


def test_auto_falls_back_to_float32_where_bfloat16_moves_probabilities_too_far(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda device: True)
    near = {"float32": torch.tensor([[0.5, 0.5]]), "bfloat16": torch.tensor([[0.5 + BFLOAT16_TOLERANCE / 2, 0.5]])}
    far = {"float32": torch.tensor([[0.5, 0.5]]), "bfloat16": torch.tensor([[0.5 + 2 * BFLOAT16_TOLERANCE, 0.5]])}
    assert choose_precision("auto", CPU, near.get) == "bfloat16"
    assert choose_precision("auto", CPU, far.get) == "float32"


def test_forced_precision_is_kept():
    assert choose_precision("float32", CPU, None) == "float32"
    assert choose_precision("bfloat16", CPU, None) == "bfloat16"


@needs_native_bfloat16
def test_auto_scores_in_bfloat16_within_the_tolerance_of_float32():
    images = lens_like_images(64)
    full, auto = load("test-iv", device="cpu", precision="float32"), load("test-iv", device="cpu")
    assert auto.precision == "auto"
    p_auto = auto.predict_proba(images)
    assert auto.precision == "bfloat16"
    assert np.abs(p_auto - full.predict_proba(images)).max() <= BFLOAT16_TOLERANCE
    assert np.allclose(p_auto.sum(1), 1.0, atol=1e-5)  # the softmax runs in float32


def test_a_regression_model_scores_in_float32_under_auto(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda device: True)
    model = load("test-iv", device="cpu")
    model.task_type = type("NoProbabilities", (), {"probability_scores": False})()
    model.score(lens_like_images(4))
    assert model.precision == "float32"


def test_evaluate_and_predict_say_which_precision_scored(toy_run, toy_data, tmp_path, capsys):
    assert main(["evaluate", str(toy_run), "--out", str(tmp_path / "report"), "--precision", "float32",
                 "--bootstrap", "10", "--invariance-images", "0"]) == 0
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["precision"] == "float32"
    assert main(["predict", str(toy_run), str(toy_data / "no_sub"), "--out", str(tmp_path / "s.csv"),
                 "--precision", "float32"]) == 0
    # A predict killed in float32 and run again in another precision would mix two in one table.
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    weights = toy_run / "model.safetensors"
    (tmp_path / "t.csv.partial").write_text(header + "\n")
    (tmp_path / "t.csv.partial.json").write_text(json.dumps({
        "model_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "symmetrize": False, "precision": "float32",
        "columns": header.split(",")}))
    assert main(["predict", str(toy_run), str(toy_data / "no_sub"), "--out", str(tmp_path / "t.csv")]) == 2
    assert "an interrupted predict with another model, --symmetrize, --precision" in capsys.readouterr().err
    assert main(["predict", str(toy_run), str(toy_data / "no_sub"), "--out", str(tmp_path / "t.csv"), "--precision", "float32"]) == 0


def test_decoding_workers_leave_small_machines_to_the_model():
    assert [decoding_workers(n) for n in (1, 2, 3, 4, 8, 16, 64)] == [0, 0, 0, 1, 2, 4, 4]


def test_fewer_threads_restores_the_threads():
    before = torch.get_num_threads()
    with fewer_threads(before + 5) as inside:
        assert inside == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("architecture", ["steerable", "cnn"])
def test_exports_pool_before_relu_with_the_same_outputs(architecture):
    model = build_model({"architecture": architecture, "num_classes": 2, "input_size": 33, "pooled_blocks": 1}
                        if architecture == "steerable" else {"architecture": architecture, "num_classes": 2, "input_size": 33}).eval()
    exported = for_inference(model)
    layers = [m for s in exported.modules() if isinstance(s, torch.nn.Sequential) for m in s]
    assert not any(isinstance(a, torch.nn.ReLU) and isinstance(b, torch.nn.MaxPool2d) for a, b in zip(layers, layers[1:]))
    images = torch.rand(6, 1, 40, 40) ** 4
    with torch.inference_mode():
        assert torch.allclose(exported(images), model(images), atol=1e-5)


@needs_native_bfloat16
@pytest.mark.parametrize("architecture", ["steerable", "cnn"])
def test_onednn_bfloat16_runs_the_convolutions_near_float32(architecture):
    model = build_model({"architecture": architecture, "num_classes": 2, "input_size": 33}).eval()
    exported = for_inference(model)
    fast = onednn_bfloat16(exported)
    assert any(isinstance(m, OneDnnStack) for m in fast.modules())
    assert not any(isinstance(m, OneDnnStack) for m in exported.modules())  # a copy: the float32 network is kept
    images = torch.rand(6, 1, 40, 40) ** 4
    with torch.inference_mode(), autocast(CPU, "bfloat16"):
        p_fast = torch.softmax(fast(images).float(), 1)
    with torch.inference_mode():
        p_full = torch.softmax(exported(images), 1)
    assert (p_fast - p_full).abs().max() <= BFLOAT16_TOLERANCE
