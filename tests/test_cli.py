"""The command line end to end: train -> evaluate -> predict, and clear errors for bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from equilens.cli import build_parser, main, train_config


def test_train_evaluate_predict(toy_data, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "--data", str(toy_data), "--input-size", "17", "--widths", "2", "3", "--epochs", "2",
                 "--lr", "3e-3", "--accelerator", "cpu", "--runs-dir", str(runs), "--name", "cli"]) == 0
    run = runs / "cli"
    assert (run / "model.safetensors").is_file() and (run / "config.json").is_file()

    assert main(["evaluate", str(run), "--bootstrap", "20", "--out", str(tmp_path / "report")]) == 0
    printed = capsys.readouterr().out
    assert "AUC:" in printed and "report:" in printed
    assert (tmp_path / "report" / "metrics.json").is_file()

    scores = tmp_path / "scores.csv"
    assert main(["predict", str(run / "model.safetensors"), str(toy_data / "sub"), str(toy_data / "no_sub" / "image_0000.npy"),
                 "--out", str(scores)]) == 0
    rows = list(csv.DictReader(scores.open()))
    assert len(rows) == 121 and set(rows[0]) == {"path", "p_substructure", "p_no_sub", "p_sub"}
    # The score is 1 - p(no_sub), and the rings with a clump (sub) score above the plain ones.
    assert all(float(r["p_substructure"]) == pytest.approx(1 - float(r["p_no_sub"]), abs=2e-6) for r in rows)
    assert np.mean([float(r["p_substructure"]) for r in rows[:-1]]) > float(rows[-1]["p_substructure"])

    # An existing output is never replaced silently.
    before = scores.read_text()
    assert main(["predict", str(run), str(toy_data / "sub"), "--out", str(scores)]) == 2
    assert "already exists" in capsys.readouterr().err and scores.read_text() == before


@pytest.mark.needs_cpp_compiler
def test_compiled_predict_scores_the_same(toy_run, toy_data, tmp_path):
    """``--compile`` (the torch.compile'd export) changes no score."""
    for name, flags in [("plain.csv", []), ("compiled.csv", ["--compile"])]:
        assert main(["predict", str(toy_run), str(toy_data / "sub"), "--out", str(tmp_path / name), "--precision", "float32",
                     *flags]) == 0
    plain, compiled = (list(csv.DictReader((tmp_path / name).open())) for name in ("plain.csv", "compiled.csv"))
    assert [r["path"] for r in compiled] == [r["path"] for r in plain]
    assert all(abs(float(a["p_substructure"]) - float(b["p_substructure"])) < 1e-5 for a, b in zip(plain, compiled))


def test_commands_import_only_what_they_use(tmp_path):
    """Every --help answers at once: building the parser imports no torch, escnn, Lightning,
    lenstronomy or astropy (seconds each to import); simulating needs neither torch nor escnn."""
    code = f"""
import json, sys
from equilens.cli import build_parser, main
heavy = {{"torch", "escnn", "lightning", "lenstronomy", "astropy"}}
build_parser()
parser = sorted(heavy & sys.modules.keys())
main(["simulate", {str(tmp_path)!r}, "--n-per-class", "1", "--no-progress"])
print(json.dumps([parser, sorted(heavy & sys.modules.keys())]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    parser, simulate = json.loads(result.stdout.splitlines()[-1])
    assert parser == [] and simulate == ["astropy", "lenstronomy"]


def test_predict_reports_a_corrupt_image(toy_run, tmp_path, capsys):
    """An unreadable file is listed with the reason beside the scores of the others (tests/test_predict_stream.py)."""
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    np.save(tmp_path / "good.npy", np.zeros((33, 33), np.float32))
    assert main(["predict", str(toy_run), str(tmp_path), "--out", str(tmp_path / "s.csv")]) == 0
    assert [r["path"] for r in csv.DictReader((tmp_path / "s.csv").open())] == [str(tmp_path / "good.npy")]
    (error,) = csv.DictReader((tmp_path / "s.errors.csv").open())
    assert error["path"] == str(tmp_path / "bad.png") and "cannot read image" in error["error"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["train"], "needs --data DIR"),
        (["train", "--data", "{missing}"], "dataset folder does not exist"),
        (["train", "--data", "{toy}", "--group", "E7"], "is not C<N> or D<N>"),
        (["train", "--data", "{toy}", "--pooled-blocks", "-1"], "--pooled-blocks -1: must be at least 0"),
        (["evaluate", "{missing}"], "no such run folder or weights file"),
        (["train", "--resume", "{toy}"], "not a training run"),
    ],
)
def test_bad_input_is_one_clear_line(toy_data, tmp_path, args, message):
    args = [a.format(missing=tmp_path / "missing", toy=toy_data) for a in args]
    result = subprocess.run([sys.executable, "-m", "equilens.cli", *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_ddp_on_two_cpu_processes_shares_one_run_folder(toy_data, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "equilens.cli", "train", "--data", str(toy_data), "--input-size", "17", "--widths", "2", "2",
         "--epochs", "1", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--runs-dir", str(tmp_path),
         "--name", "ddp"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["ddp"] and (tmp_path / "ddp" / "model.safetensors").is_file()


def test_quickstart_end_to_end_small(tmp_path, capsys):
    """The main job with tiny budgets: simulate -> train -> evaluate -> report."""
    assert main(["quickstart", "--out", str(tmp_path), "--n-per-class", "16", "--n-test-per-class", "8",
                 "--epochs", "1", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "AUC:" in printed
    (root,) = tmp_path.glob("quickstart*")
    assert len(list((root / "data" / "train" / "sub").glob("*.jpg"))) == 16  # the Test IV file format
    (report,) = root.glob("runs/*/evaluation")
    assert (report / "metrics.json").is_file() and (report / "roc.png").is_file()


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], {"task": "classify", "recipe": "equilens", "lr": 2e-3, "lr_schedule": "cosine", "max_time": "00:00:30:00",
              "epochs": 32, "select": "last", "batch_size": 64, "min_batches_per_epoch": 6, "min_images_per_epoch": 4096, "label_smoothing": 0.1, "crop_fraction": 0.9, "rotate": True,
              "brightness": [0.8, 1.2], "init_weights": "auto", "twin_batches": True}),
        (["--recipe", "deeplense"], {"lr": 1e-4, "lr_schedule": "step", "select": "best", "lr_step_epochs": 5, "lr_gamma": 0.7,
                                     "epochs": 10, "max_time": None, "batch_size": 64, "min_batches_per_epoch": 0,
                                     "min_images_per_epoch": 0, "label_smoothing": 0.0, "init_weights": None}),
        (["--recipe", "deeplense", "--epochs", "3", "--max-time", "00:00:01:00"], {"lr": 1e-4, "epochs": 3,
                                                                                  "max_time": "00:00:01:00"}),
        (["--max-time", "none"], {"max_time": None, "lr_schedule": "cosine"}),
        (["--init-weights", "none"], {"init_weights": None}),
        (["--init-weights", "sim-test-iv"], {"init_weights": "sim-test-iv"}),
        (["--no-twin-batches"], {"twin_batches": False}),
        (["--task", "anomaly"], {"epochs": 24, "lr": 3e-3, "batch_size": 32, "min_images_per_epoch": 3072, "label_smoothing": 0.0, "init_weights": None, "crop_fraction": None, "rotate": False, "brightness": None}),
        (["--task", "anomaly", "--lr", "1e-3", "--crop-fraction", "0.8", "--rotate"], {"lr": 1e-3, "crop_fraction": 0.8, "rotate": True}),
        (["--task", "regress", "--target", "t"], {"epochs": 128, "lr": 2e-3, "max_time": "00:00:30:00", "label_smoothing": 0.0,
                                                   "init_weights": None, "select": "last"}),
        (["--task", "regress", "--target", "t", "--recipe", "deeplense"], {"epochs": 10, "lr": 1e-4}),
        (["--task", "anomaly", "--outliers", "sim"], {"outliers": "sim", "epochs": 32, "lr": 2e-3, "batch_size": 64,
                                                      "label_smoothing": 0.1, "rotate": True, "init_weights": None}),
        (["--no-crop", "--no-rotate", "--no-brightness", "--batch-size", "8", "--min-batches-per-epoch", "0",
          "--min-images-per-epoch", "0"],
         {"crop_fraction": None, "rotate": False, "brightness": None, "batch_size": 8, "min_batches_per_epoch": 0,
          "min_images_per_epoch": 0}),
    ],
)
def test_train_options_take_recipe_and_task_defaults_unless_given(args, expected):
    config = train_config(build_parser().parse_args(["train", "--data", "x", *args]))
    assert {k: getattr(config, k) for k in expected} == expected
