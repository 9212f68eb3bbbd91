"""The model that ships in the package: strict loading, exact invariance, scoring with no training."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from equilens.cli import main
from equilens.datasets.folder import load_images
from equilens.errors import InputError
from equilens.models import score_and_probabilities, substructure_score
from equilens.testing import assert_invariant
from equilens.pretrained import model_card, pretrained_weights
from equilens.registry import pretrained_names
from equilens.weights import load_model, read_info

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test-iv"


def real_files(n_per_class: int) -> list[Path]:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real Test IV images not present at {REAL_DATA}")
    return [f for name in ("no_sub", "sub") for f in sorted((REAL_DATA / name).glob("*.jpg"))[:n_per_class]]


@pytest.mark.parametrize("name", pretrained_names())
def test_shipped_model_loads_strictly_with_its_card(name):
    weights = pretrained_weights(name)
    assert weights.stat().st_size < 5e6
    model, info = load_model(weights)  # strict: every key matches the config's model
    assert info["pretrained"] == name and info["task"] == "classify" and info["classes"] == ["no_sub", "sub"]
    assert model_card(name).read_text().startswith("# ")
    # Held-out real images: the split's test images (test-iv), every real image (sim-test-iv).
    assert read_info(weights)["held_out"]["auc"] > {"test-iv": 0.99, "sim-test-iv": 0.95}[name]


def test_shipped_model_invariant_under_exact_group_actions():
    model, info = load_model(pretrained_weights("test-iv"))
    images = torch.rand(4, 1, 150, 150) ** 4  # faint, peaked, like the real images
    assert_invariant(lambda x: substructure_score(model, x), images, info["model"]["group"])


def pair_order(name: str, n_per_class: int) -> float:
    """Fraction of (substructure, none) pairs of real images the shipped model ``name`` orders
    right (the AUC on the first ``n_per_class`` images of each class)."""
    files = real_files(n_per_class)
    model, _ = load_model(pretrained_weights(name))
    with torch.no_grad():
        scores = substructure_score(model, load_images(files))
    none, substructure = scores[:n_per_class], scores[n_per_class:]
    return (substructure[:, None] > none[None, :]).float().mean().item()


def test_shipped_model_separates_real_images():
    # Every pair ordered right would be AUC 1; the model's held-out AUC is above 0.999.
    assert pair_order("test-iv", 20) > 0.95


def test_model_trained_on_simulation_separates_real_images():
    """The calibrated simulation stands in for the real data: a model that saw only simulated
    images orders real ones far above chance (its AUC on all 8,000: its model card)."""
    assert pair_order("sim-test-iv", 100) > 0.9


def test_shipped_models_score_as_when_shipped():
    """Probabilities on 8 + 8 real images equal those made where the models were shipped (numpy 1,
    lie_learn; tests/data/make_pretrained_probabilities.py) to 1e-6, whatever numpy this is."""
    reference = json.loads((Path(__file__).parent / "data" / "pretrained_probabilities.json").read_text())
    files = real_files(8)
    assert [f"{f.parent.name}/{f.name}" for f in files] == reference["files"]
    for name in pretrained_names():
        model, _ = load_model(pretrained_weights(name))
        with torch.no_grad():
            probabilities = score_and_probabilities(model, load_images(files))[1].double()
        assert (probabilities - torch.tensor(reference[name])).abs().max() < 1e-6, name


def test_predict_pretrained_writes_the_run_columns(tmp_path):
    files = real_files(3)
    out = tmp_path / "scores.csv"
    assert main(["predict", "--pretrained", "test-iv", *map(str, files), "--out", str(out), "--device", "cpu"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [row["path"] for row in rows] == list(map(str, files))
    # What the model saw: JPEGs have no scale, so they were read as they are (150 px, the model's size).
    assert set(rows[0]) == {"path", "p_substructure", "p_no_sub", "p_sub", "pixel_scale_arcsec", "resample_factor",
                            "crop_y_px", "crop_x_px"}
    assert (rows[0]["pixel_scale_arcsec"], float(rows[0]["resample_factor"]), float(rows[0]["crop_y_px"])) == ("nan", 1.0, 0.0)


def test_pretrained_options_checked(tmp_path, capsys):
    assert main(["evaluate", "runs/x", "--pretrained", "test-iv", "--data", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["evaluate", "--pretrained", "test-iv"]) == 2  # no split of its own: needs --data
    assert "--data" in capsys.readouterr().err
    with pytest.raises(InputError, match="choose one of"):
        pretrained_weights("model-ii")
