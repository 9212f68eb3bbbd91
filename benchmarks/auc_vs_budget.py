"""Equivariant model vs plain CNN at the same wall-clock training budget.

    python benchmarks/auc_vs_budget.py [--budget-min 10] [--n-per-class 2000] [--work DIR]

Simulates (once; reused from --work) a `test-iv` training set at the fixed DeepLense lens
orientation, a test set like it, and a test set whose lenses are rendered at random
orientations (physics rotated, not pixels). Trains the default equivariant model and the plain
CNN for the same budget each, then prints side by side: test AUC on both test sets, training
and inference throughput (exported, and exported then torch.compile'd), and invariance errors
(max |change of p(sub)| under 90-degree rotations, median under 45 degrees).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from equilens.results import write_docs_table
from equilens.config import TrainConfig
from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.evaluation import evaluate, score_images
from equilens.evaluation.plots import read_epoch_metrics
from equilens.models import for_inference
from equilens.simulation import get_preset, simulate_dataset
from equilens.training import train, training_passes
from equilens.weights import load_model


def simulate_sets(work: Path, n_per_class: int, n_test: int, workers: int, preset: str) -> dict[str, Path]:
    physics = get_preset(preset)
    work = work / preset
    return {
        "train": simulate_dataset(work / f"train-{n_per_class}", n_per_class, physics, seed=0, workers=workers),
        "test": simulate_dataset(work / f"test-{n_test}", n_test, physics, seed=1, workers=workers),
        "test_rotated": simulate_dataset(work / f"test-rotated-{n_test}", n_test, physics.replace(random_orientation=True),
                                         seed=2, workers=workers),
    }


def run_one(architecture: str, sets: dict[str, Path], budget_min: float, work: Path, args) -> dict[str, float]:
    config = TrainConfig(
        data=str(sets["train"]), test_data=str(sets["test"]), architecture=architecture, group=args.group,
        epochs=100_000, max_time=time.strftime("00:%H:%M:%S", time.gmtime(budget_min * 60)), lr=args.lr,
        # Decay with the clock: the budget, not the set size or the speed, sets the schedule.
        lr_schedule="cosine", seed=args.seed,
    )
    if args.input_size:
        config.input_size = args.input_size
    if args.widths and architecture == "steerable":
        config.widths = args.widths
    if args.pooled_blocks is not None:
        config.pooled_blocks = args.pooled_blocks
    start = time.perf_counter()
    run = train(config, runs_dir=work / "runs")
    train_seconds = time.perf_counter() - start
    epochs = len(read_epoch_metrics(run))
    n_train = sum(1 for _ in (run / "splits" / "train.txt").open())
    _, fixed = evaluate(run, out=run / "eval-test", n_bootstrap=200)
    _, rotated = evaluate(run, data=sets["test_rotated"], out=run / "eval-test-rotated", n_bootstrap=200, invariance_images=0)
    images = load_images(scan_lens_folder(sets["test"]).files[:1024])
    trained, speed = load_model(run)[0], {}
    for name, compiled in (("infer_img_s", False), ("compiled_infer_img_s", True)):
        model = for_inference(trained, compiled)
        start = time.perf_counter()
        score_images(model, images[:256])  # warm-up: oneDNN kernels and, when compiled, the compile
        if compiled:
            speed["compile_s"] = time.perf_counter() - start
        start = time.perf_counter()
        score_images(model, images)
        speed[name] = len(images) / (time.perf_counter() - start)
    return {
        "run": str(run),
        "epochs": epochs,
        "auc": fixed["substructure_vs_none"]["auc"],
        "auc_ci": fixed["substructure_vs_none"]["auc_ci95"],
        "auc_rotated": rotated["substructure_vs_none"]["auc"],
        "train_img_s": training_passes(run) * n_train / train_seconds,
        **speed,
        **fixed["invariance"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-min", type=float, default=10.0, help="training wall-clock per model, minutes")
    parser.add_argument("--n-per-class", type=int, default=2000, help="training+validation images per class")
    parser.add_argument("--n-test-per-class", type=int, default=1000)
    parser.add_argument("--input-size", type=int, default=None, help="override both models' input size (px)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--group", default="D4", help="the steerable model's group")
    parser.add_argument("--widths", type=int, nargs="+", help="the steerable model's fields per block (default: train's)")
    parser.add_argument("--pooled-blocks", type=int, help="the steerable model's pooled blocks (default: train's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="test-iv",
                        help="simulation preset (the documented figures: deeplense-model-i-lens-light, before calibration)")
    parser.add_argument("--workers", type=int, default=1, help="simulation processes")
    parser.add_argument("--work", type=Path, default=Path("bench-auc-vs-budget"), help="data and runs (reused)")
    parser.add_argument("--models", nargs="+", default=["steerable", "cnn"])
    parser.add_argument("--docs-table", type=Path, metavar="JSON", help="also write the table for the documentation here")
    args = parser.parse_args()
    sets = simulate_sets(args.work, args.n_per_class, args.n_test_per_class, args.workers, args.preset)
    results = {m: run_one(m, sets, args.budget_min, args.work, args) for m in args.models}
    print(f"\n{args.budget_min:g} min per model, {args.n_per_class} train+val images per class, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = [
        ("epochs completed", "epochs", "{:.0f}"),
        ("test AUC (fixed orientation)", "auc", "{:.4f}"),
        ("  95% CI", "auc_ci", "{0[0]:.4f}-{0[1]:.4f}"),
        ("test AUC (random orientation)", "auc_rotated", "{:.4f}"),
        ("training img/s (incl. validation)", "train_img_s", "{:.1f}"),
        ("inference img/s (exported)", "infer_img_s", "{:.0f}"),
        ("  torch.compile'd", "compiled_infer_img_s", "{:.0f}"),
        ("  compile + first batch, s", "compile_s", "{:.1f}"),
        ("max |dp| under 90-degree rotations", "rot90_max_abs_change", "{:.2e}"),
        ("max |dp| under flips", "flip_max_abs_change", "{:.2e}"),
        ("median |dp| under 45-degree rotation", "rot45_median_abs_change", "{:.2e}"),
    ]
    print(f"{'':<38}" + "".join(f"{m:>16}" for m in results))
    for label, key, fmt in rows:
        print(f"{label:<38}" + "".join(f"{fmt.format(r[key]):>16}" for r in results.values()))
    for m, r in results.items():
        print(f"{m} run: {r['run']}")
    if args.docs_table:
        write_docs_table(args.docs_table, ["", *results], [[label, *(fmt.format(r[key]) for r in results.values())]
                                                           for label, key, fmt in rows])


if __name__ == "__main__":
    main()
