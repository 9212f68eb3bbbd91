"""Unsupervised substructure detection on Test-IV-like lenses: equivariant vs plain autoencoder.

Both autoencoders are trained on ``no_sub`` images only, for the same wall-clock budget, with
``equilens.training.train`` (task ``anomaly``); each is then scored on its run's held-out test
split (``no_sub`` and ``sub``). Prints one row per model: test ROC AUC of the anomaly score,
training throughput, parameter count.

    python benchmarks/anomaly.py --minutes 20                  # simulates 5,000 images per class
    python benchmarks/anomaly.py --data lenses/ --minutes 5    # a folder with no_sub/ and sub/

Run it in the background on a shared machine; it takes 2 x --minutes plus simulation.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch
from torchmetrics.functional.classification import binary_auroc

from equilens.config import TrainConfig
from equilens.datasets.folder import load_images
from equilens.models import substructure_score
from equilens.simulation import PRESETS, simulate_dataset
from equilens.runs import RunRecord
from equilens.training import train
from equilens.weights import load_model


def test_auc(run_dir: Path, batch_size: int = 250) -> float:
    """ROC AUC of the run's exported model on its test split (label > 0 is positive)."""
    test = RunRecord.read(run_dir).split_folders(run_dir)["test"]
    model, _ = load_model(run_dir)
    scores = []
    with torch.no_grad():
        for start in range(0, len(test.files), batch_size):
            scores.append(substructure_score(model, load_images(test.files[start:start + batch_size])))
    return binary_auroc(torch.cat(scores), torch.as_tensor(test.labels > 0).long()).item()


def images_trained(run_dir: Path, batch_size: int) -> int:
    """Training images seen, from the last optimiser step logged in the run's metrics."""
    steps = 0
    for path in (run_dir / "logs").glob("version_*/metrics.csv"):
        with path.open() as handle:
            steps = max([steps] + [int(row["step"]) + 1 for row in csv.DictReader(handle)])
    return steps * batch_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="dataset folder with no_sub/ and sub/ (default: simulate test-iv)")
    parser.add_argument("--n-per-class", type=int, default=5000, help="images per class to simulate (default 5000)")
    parser.add_argument("--out", type=Path, default=Path("runs/anomaly-benchmark"), help="runs (and simulated data) go here")
    parser.add_argument("--minutes", type=float, default=20.0, help="training wall-clock budget per model (default 20)")
    parser.add_argument("--group", default="D4")
    parser.add_argument("--input-size", type=int, default=75)
    parser.add_argument("--batch-size", type=int, help="default: equilens train's for the anomaly task")
    parser.add_argument("--lr", type=float, help="default: equilens train's for the anomaly task")
    parser.add_argument("--models", nargs="+", default=["steerable", "cnn"], choices=["steerable", "cnn"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    data = args.data
    if data is None:
        data = simulate_dataset(args.out / "data-test-iv", args.n_per_class, PRESETS["test-iv"], seed=args.seed)
    seconds = round(args.minutes * 60)
    max_time = f"00:{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    # Only what was given here; the rest of the recipe is `equilens train --task anomaly`'s default.
    given = {k: v for k, v in {"batch_size": args.batch_size, "lr": args.lr}.items() if v is not None}
    rows = []
    for architecture in args.models:
        config = TrainConfig(
            data=str(data), task="anomaly", architecture=architecture, group=args.group,
            input_size=args.input_size, epochs=10_000, max_time=max_time, seed=args.seed, **given,
        )
        started = time.perf_counter()
        run_dir = train(config, args.out)
        elapsed = time.perf_counter() - started
        model, info = load_model(run_dir)
        rows.append({
            "model": f"{architecture}" + (f" ({args.group})" if architecture == "steerable" else ""),
            "params": sum(p.numel() for p in model.parameters()),
            "img/s": images_trained(run_dir, config.batch_size) / elapsed,
            "best val AUC": info["best_val_auc"],
            "test AUC": test_auc(run_dir),
            "run": str(run_dir),
        })
    print(f"\nanomaly detection, {args.input_size} px, {args.minutes:g} min of training each, data {data}")
    print(f"{'model':<16}{'params':>9}{'train img/s':>13}{'val AUC':>9}{'test AUC':>10}  run")
    for row in rows:
        print(f"{row['model']:<16}{row['params']:>9,}{row['img/s']:>13.1f}{row['val AUC']:>9.3f}{row['test AUC']:>10.3f}  {row['run']}")
    print("train img/s: images trained / wall time of the run, validation and start-up included")


if __name__ == "__main__":
    main()
