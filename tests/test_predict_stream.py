"""Streaming predict: unreadable files listed while the rest are scored; a killed predict resumes,
every readable file scored exactly once."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from equilens.cli import main
from equilens.weights import resolve_weights


def _catalogue(folder, n, corrupt=()):
    """``n`` 20x20 8-bit JPEG rings, the positions in ``corrupt`` cut off half-way."""
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[:20, :20] - 9.5
    rng = np.random.default_rng(0)
    for i in range(n):
        ring = 255 * np.exp(-((np.hypot(y, x) - 6) ** 2) / 4) + rng.uniform(0, 30, (20, 20))
        Image.fromarray(ring.clip(0, 255).astype(np.uint8)).save(folder / f"c{i:05d}.jpg")
        if i in corrupt:
            path = folder / f"c{i:05d}.jpg"
            path.write_bytes(path.read_bytes()[:100])
    return folder


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_corrupt_files_are_listed_while_the_others_are_scored(toy_run, tmp_path, capsys):
    images = _catalogue(tmp_path / "cat", 30, corrupt={3, 17})
    (images / "empty.png").write_bytes(b"")
    out = tmp_path / "scores.csv"
    assert main(["predict", str(toy_run), str(images), "--out", str(out), "--batch-size", "8", "--num-workers", "1"]) == 0
    assert "unreadable files:" in capsys.readouterr().out
    rows = _rows(out)
    assert len(rows) == 28 and len({r["path"] for r in rows}) == 28
    errors = _rows(tmp_path / "scores.errors.csv")
    assert sorted(os.path.basename(r["path"]) for r in errors) == ["c00003.jpg", "c00017.jpg", "empty.png"]
    assert all(r["path"] in r["error"] for r in errors)  # the reason names the file
    assert not list(tmp_path.glob("*.partial*"))
    out.unlink()  # the errors CSV left alone is not replaced silently either
    assert main(["predict", str(toy_run), str(images), "--out", str(out)]) == 2
    assert "scores.errors.csv: already exists" in capsys.readouterr().err


def test_nothing_readable_is_an_error(toy_run, tmp_path, capsys):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(["predict", str(toy_run), str(tmp_path / "bad.png"), "--out", str(tmp_path / "s.csv")]) == 2
    assert "bad.png" in capsys.readouterr().err and sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]


def test_resume_after_a_cut_row_scores_each_file_once(toy_run, tmp_path):
    """An interrupted run's partial output, its last row cut half-way, is completed by the same command."""
    images = _catalogue(tmp_path / "cat", 40, corrupt={5})
    whole, out = tmp_path / "whole.csv", tmp_path / "scores.csv"
    args = [str(toy_run), str(images), "--batch-size", "8", "--num-workers", "0", "--precision", "float32"]
    assert main(["predict", *args, "--out", str(whole)]) == 0
    lines = whole.read_text().splitlines(keepends=True)
    # What a kill leaves: the run record, the header and 12 rows, then half a row.
    out.with_name("scores.csv.partial.json").write_text(_record(toy_run, lines[0]))
    out.with_name("scores.csv.partial").write_text("".join(lines[:13]) + lines[13][:10])
    assert main(["predict", *args, "--out", str(out)]) == 0
    resumed, expected = _rows(out), _rows(whole)
    assert [r["path"] for r in resumed] == [r["path"] for r in expected]  # every readable file once, in order
    # The same scores up to float32 rounding: the resumed run batches the remaining files otherwise,
    # and a convolution's last bits depend on the batch it runs in.
    assert np.allclose([float(r["p_substructure"]) for r in resumed], [float(r["p_substructure"]) for r in expected],
                       rtol=0, atol=1e-5)
    assert len(_rows(tmp_path / "scores.errors.csv")) == 1


def _record(run, header_line):
    """The run record predict writes beside its partial output, for this model and header."""
    header = next(csv.reader([header_line]))
    return json.dumps({"model_sha256": hashlib.sha256(resolve_weights(run).read_bytes()).hexdigest(), "symmetrize": False,
                       "precision": "float32", "columns": header})


def test_kill_9_then_the_same_command_scores_each_file_once(toy_run, tmp_path):
    images = _catalogue(tmp_path / "cat", 300, corrupt={7, 150})
    out = tmp_path / "scores.csv"
    command = [sys.executable, "-m", "equilens.cli", "predict", str(toy_run), str(images), "--out", str(out),
               "--batch-size", "4", "--num-workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    partial = out.with_name("scores.csv.partial")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not partial.exists() or partial.read_text().count("\n") < 40):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the command and its decoding workers, mid-run
    process.wait()
    assert not out.exists() and 40 <= partial.read_text().count("\n") < 299
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming" in result.stderr
    paths = [r["path"] for r in _rows(out)]
    assert len(paths) == 298 and len(set(paths)) == 298
    assert sorted(os.path.basename(r["path"]) for r in _rows(tmp_path / "scores.errors.csv")) == ["c00007.jpg", "c00150.jpg"]


def test_a_partial_output_of_another_model_is_refused(toy_run, tmp_path, capsys):
    images = _catalogue(tmp_path / "cat", 5)
    out = tmp_path / "scores.csv"
    out.with_name("scores.csv.partial").write_text("path,p_substructure\n")
    out.with_name("scores.csv.partial.json").write_text('{"model_sha256": "other"}')
    assert main(["predict", str(toy_run), str(images), "--out", str(out)]) == 2
    assert "another model" in capsys.readouterr().err
    assert main(["predict", str(toy_run), str(images), "--out", str(out), "--overwrite"]) == 0
    assert len(_rows(out)) == 5
