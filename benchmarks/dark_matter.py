"""Which dark matter, and how heavy: three classes (no_sub / CDM subhalos / axion vortex) and the
axion mass, on Model I-, II- and III-like renderings, equivariant model vs plain CNN.

    python benchmarks/dark_matter.py [--presets deeplense-model-i euclid-like hst-like]
        [--n-per-class 5000] [--n-test-per-class 1000] [--models steerable cnn resnet18] [--budget-min M [M_REGRESS]]
        [--no-integer-counts] [--threads T] [--work DIR]

For each preset, simulates (once; reused from --work) a training set and a test set (another
seed) of ``no_sub``, ``sub`` (DeepLense's ``cdm``: 25 point-mass subhalos) and ``axion`` (the
vortex; its axion mass log-uniform on 1e-24-1e-22 eV, recorded in metadata.csv), the same
number per class. Then, for each architecture (the default steerable model and the plain CNN),
with the same budget each: ``equilens train``'s (the recipe's epochs over the same images within
its 30-minute cap, which ends a run on a large set first: then the cosine schedule is compressed
to the cap and the run records ``stopped_by: time_cap``), or, with ``--budget-min``, the same
wall-clock minutes (one figure for both tasks, or the classifier's and the regression's):

* trains the three-class classifier (``equilens train`` defaults: the ``equilens`` recipe, its
  weights kept by the validation split's rule, never the test's) and reports the test split's
  macro and per-class one-vs-rest AUC with 95% bootstrap intervals, and the validation AUC of
  every epoch (the evidence for the task's defaults: validation images only);
* trains the axion-mass regression (``--task regress --target axion_mass_log10_ev --classes
  axion``, in dex) and reports MAE (95% CI), RMSE, bias and the coverage of the 68% and 95%
  intervals (sigma as the run calibrated it on its validation images), and the validation MAE
  of every epoch.

With the steerable model and another, it also prints the steerable model's macro AUC minus the
other's on the same test images, with a paired 95% bootstrap interval (both models scored on
each resample), which says whether one is above the other.

DeepLense's references (30,000 images per class, GPU): macro AUC 0.9921 / 0.9997 / 0.9997 (C8
steerable CNN, Models I / II / III) and axion-mass MAE 0.274 / 0.221 / 0.126 dex. The default
sizes are what a 2-core CPU trains in about an hour for all three presets, a sixth of theirs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from equilens.config import TrainConfig
from equilens.evaluation import evaluate
from equilens.evaluation.metrics import macro_auc_difference
from equilens.evaluation.plots import read_epoch_metrics
from equilens.evaluation.report import read_class_probabilities
from equilens.simulation import get_preset, simulate_dataset
from equilens.training import train

CLASSES = ("no_sub", "sub", "axion")
TARGET = "axion_mass_log10_ev"
REFERENCE = {"deeplense-model-i": (0.9921, 0.274), "euclid-like": (0.99967, 0.221), "hst-like": (0.99972, 0.126)}


def simulate_sets(work: Path, preset: str, n_per_class: int, n_test: int, workers: int,
                  integer_counts: bool | None = None) -> tuple[Path, Path]:
    """(training, test) folders of the three classes, rendered with seeds 0 and 1; ``integer_counts``
    other than the preset's renders the same lenses with (or without) whole photon counts, in a
    folder of their own."""
    physics = get_preset(preset)
    folder = work / preset
    if integer_counts is not None and integer_counts != physics.integer_counts:
        physics = physics.replace(integer_counts=integer_counts)
        folder = work / f"{preset}-{'integer-counts' if integer_counts else 'no-integer-counts'}"
    return (simulate_dataset(folder / f"train-{n_per_class}", n_per_class, physics, seed=0, classes=CLASSES, workers=workers),
            simulate_dataset(folder / f"test-{n_test}", n_test, physics, seed=1, classes=CLASSES, workers=workers))


def run_one(task: str, architecture: str, train_set: Path, test_set: Path, budget_min: float | None, runs: Path, seed: int) -> dict:
    """Train one model (the recipe's epochs, or ``budget_min`` minutes) and evaluate it on ``test_set``."""
    extra = {"target": TARGET, "classes": ["axion"]} if task == "regress" else {}
    if budget_min is not None:
        extra.update(epochs=100_000, max_time=time.strftime("00:%H:%M:%S", time.gmtime(round(budget_min * 60))))
    config = TrainConfig(data=str(train_set), test_data=str(test_set), task=task, architecture=architecture, seed=seed, **extra)
    start = time.perf_counter()
    run = train(config, runs_dir=runs, name=f"{task}-{architecture}")
    seconds = time.perf_counter() - start
    _, metrics = evaluate(run, out=run / "eval-test", n_bootstrap=500)
    curve = read_epoch_metrics(run)
    validation = "val_auc" if task == "classify" else "val_mae"
    result = {"run": str(run), "train_s": seconds, "epochs": len(curve), "stopped_by": metrics["training"]["stopped_by"],
              "validation_curve": {validation: [round(row[validation], 5) for _, row in sorted(curve.items()) if validation in row]}}
    if task == "classify":
        multi = metrics["multiclass"]
        result.update(macro_auc=multi["macro_auc"], macro_auc_ci95=multi["macro_auc_ci95"], accuracy=multi["accuracy"],
                      per_class={name: [v["auc"], *v["auc_ci95"]] for name, v in multi["one_vs_rest"].items()},
                      rot90_max_abs_change=metrics["invariance"]["rot90_max_abs_change"])
    else:
        result.update({key: metrics[key] for key in ("mae", "mae_ci95", "rmse", "bias", "mae_of_predicting_the_mean", "n_images")},
                      coverage={k: v["empirical"] for k, v in metrics["interval_coverage"].items()},
                      sigma_calibration=metrics["sigma_calibration"],
                      rot90_max_abs_change=metrics["invariance"]["rot90_max_abs_change"])
    return result


def paired_difference(run_a: str, run_b: str) -> list[float]:
    """[difference, low, high]: run A's test macro AUC minus run B's, paired over the same images."""
    paths, labels, a = read_class_probabilities(Path(run_a) / "eval-test")
    paths_b, _, b = read_class_probabilities(Path(run_b) / "eval-test")
    if paths != paths_b:
        raise ValueError(f"{run_a} and {run_b} were tested on different images")
    return list(macro_auc_difference(labels, a, b, n_bootstrap=500))


def print_table(results: dict, args) -> None:
    print(f"\n{args.n_per_class} train+val images per class (90/10), {args.n_test_per_class} test images per class, "
          f"{'the recipe' if args.budget_min is None else ' / '.join(f'{m:g}' for m in args.budget_min) + ' min'} per model and task, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    for preset, by_model in results.items():
        auc_ref, mae_ref = REFERENCE.get(preset, (float("nan"), float("nan")))
        print(f"\n{preset} (DeepLense reference: macro AUC {auc_ref}, axion MAE {mae_ref} dex)")
        for model, r in by_model.items():
            c, g = r["classify"], r["regress"]
            per_class = ", ".join(f"{name} {a:.4f} [{lo:.4f}, {hi:.4f}]" for name, (a, lo, hi) in c["per_class"].items())
            print(f"  {model:<10} macro AUC {c['macro_auc']:.4f} [{c['macro_auc_ci95'][0]:.4f}, {c['macro_auc_ci95'][1]:.4f}] "
                  f"({c['epochs']} epochs, {c['train_s']:.0f} s, stopped by {c['stopped_by']}); one-vs-rest: {per_class}")
            print(f"  {'':<10} axion log10 m: MAE {g['mae']:.3f} [{g['mae_ci95'][0]:.3f}, {g['mae_ci95'][1]:.3f}] dex "
                  f"(predicting the mean {g['mae_of_predicting_the_mean']:.3f}), RMSE {g['rmse']:.3f}, bias {g['bias']:+.3f}, "
                  f"coverage 68% -> {g['coverage']['0.68']:.1%}, 95% -> {g['coverage']['0.95']:.1%} "
                  f"({g['n_images']} test images, {g['epochs']} epochs, {g['train_s']:.0f} s, stopped by {g['stopped_by']}); "
                  f"sigma calibration: {g['sigma_calibration']}")
        for other, (difference, low, high) in by_model.get("steerable", {}).get("classify", {}).get("minus", {}).items():
            print(f"  steerable minus {other}: macro AUC {difference:+.5f} [{low:+.5f}, {high:+.5f}] (paired, same test images)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(REFERENCE), help="simulation presets (Model I-, II-, III-like)")
    parser.add_argument("--n-per-class", type=int, default=5000, help="training+validation images per class")
    parser.add_argument("--n-test-per-class", type=int, default=1000, help="test images per class")
    parser.add_argument("--budget-min", type=float, nargs="+", default=None,
                        help="training wall-clock per model, minutes: one figure for both tasks, or the classifier's and the "
                        "regression's (default: the recipe's epochs)")
    parser.add_argument("--models", nargs="+", default=["steerable", "cnn"], help="architectures (steerable, cnn, resnet18)")
    parser.add_argument("--integer-counts", action=argparse.BooleanOptionalAction, default=None,
                        help="observe whole photon counts, as DeepLense's Model I files (simulation option integer_counts; "
                        "default: the preset's, on in deeplense-model-i only)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--workers", type=int, default=2, help="simulation processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("bench-dark-matter"), help="data and runs (data reused)")
    args = parser.parse_args()
    if args.budget_min and len(args.budget_min) > 2:
        parser.error("--budget-min takes one figure, or two: the classifier's and the regression's")
    # One figure serves both tasks; two are the classifier's and the regression's.
    budgets = {"classify": args.budget_min[0], "regress": args.budget_min[-1]} if args.budget_min else {"classify": None, "regress": None}
    if args.threads:
        torch.set_num_threads(args.threads)
    results: dict = {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for preset in args.presets:
        train_set, test_set = simulate_sets(args.work, preset, args.n_per_class, args.n_test_per_class, args.workers,
                                            args.integer_counts)
        runs = train_set.parent / f"runs-{stamp}"
        results[preset] = {model: {task: run_one(task, model, train_set, test_set, budgets[task], runs, args.seed)
                                   for task in ("classify", "regress")} for model in args.models}
        if "steerable" in results[preset]:
            steerable = results[preset]["steerable"]["classify"]
            steerable["minus"] = {model: paired_difference(steerable["run"], r["classify"]["run"])
                                  for model, r in results[preset].items() if model != "steerable"}
        (args.work / f"results-{stamp}.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                                      "results": results}, indent=1) + "\n")
    print_table(results, args)
    print(f"\nresults: {args.work / f'results-{stamp}.json'}")


if __name__ == "__main__":
    main()
