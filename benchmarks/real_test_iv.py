"""The default models on the users' real images: DeepLense Test IV (or any labelled folder).

    python benchmarks/real_test_iv.py compare [--seeds 0 1 2] [--budget-min 9]
    python benchmarks/real_test_iv.py small-data [--sizes 50 100 250 1000] [--models steerable cnn]
    python benchmarks/real_test_iv.py anomaly [--seeds 0]
    python benchmarks/real_test_iv.py small-data --holdout val --sizes 100 --set rotate=false   # a design choice

For each seed the folder's images are split, per class, into a held-out set (``--n-holdout``
per class, drawn with that seed) and a pool; nothing of the held-out set is ever trained on.

* ``compare``: the default steerable model, the previous default (``steerable-pooled``: its
  first block convolves at full resolution and max-pools), the plain CNN and the DeepLense
  write-up's recipe (``--recipe deeplense``), each trained on the whole pool (its own 10%
  validation split inside) with ``equilens train``'s defaults (the same epochs), or for the
  same wall-clock budget (``--budget-min``);
* ``small-data``: N images per class of the pool (the same N for every model, nested across N),
  trained with ``equilens train``'s defaults: the small-data curve; ``steerable-scratch`` is
  the default model started from random weights instead of ``--init-weights auto``'s
  simulation model;
* ``anomaly``: the default equivariant and plain autoencoders, trained on the pool's ``no_sub``
  images only (``--task anomaly``), scored on every class of the held-out set; outlier
  exposure (``--task anomaly --outliers``: the pool's ``no_sub`` images against a simulated
  folder, ``--outliers`` or else ``--n-outliers`` per class of the ``test-iv`` preset rendered
  into ``--work``); and the default supervised classifier (``supervised``) as the reference an
  unsupervised detector is measured against.

Prints, per run, the held-out AUC with its bootstrap 95% interval, accuracy at p = 0.5 (the
Youden threshold for anomaly scores), epochs, training time and images/s, the training seconds
until the run's validation AUC first reached 0.999, the invariance
errors, the true-positive rate at false-positive rates of 1%, 5% and 10% of the held-out
ROC, and, for an anomaly detector that stores its calibration, what "flag p <= alpha" does on
the held-out images at alpha = 1%, 5%, 10% (false-alarm rate on ``no_sub`` / true-positive rate); writes them to ``results.json`` in ``--work``. ``--holdout val`` takes the held-out set
from the pool's far end instead of the test images (still disjoint from training), for
choosing defaults without looking at test data; ``--set KEY=VALUE`` overrides a training option.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from equilens.config import TrainConfig
from equilens.results import write_docs_table
from equilens.datasets.folder import scan_lens_folder
from equilens.evaluation import evaluate
from equilens.evaluation.plots import read_epoch_metrics
from equilens.runs import RunRecord
from equilens.simulation import PRESETS, simulate_dataset
from equilens.training import train, training_passes

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test-iv"
# The validation AUC whose time-to-reach each run reports (issue #31's target for the default).
VAL_AUC_TARGET = 0.999
MODELS = {
    "steerable": {},
    # The default before issue #31: a full-resolution first block that max-pools (trains slower).
    "steerable-pooled": {"pooled_blocks": 1},
    # The default model without --init-weights auto: small sets start from random weights too.
    "steerable-scratch": {"init_weights": None},
    "cnn": {"architecture": "cnn"},
    "deeplense": {"recipe": "deeplense"},
}
ANOMALY_MODELS = {
    "steerable-ae": {"task": "anomaly"},
    "cnn-ae": {"task": "anomaly", "architecture": "cnn"},
    # Outlier exposure, a separate mode: real no_sub against simulated substructure
    # (--outliers; the simulated folder is set in main()).
    "outlier-exposure": {"task": "anomaly"},
    # The reference: what labels buy on the same images (not an anomaly detector).
    "supervised": {},
}


def link_folder(folder: Path, files: list[Path]) -> Path:
    """A dataset folder of symbolic links ``folder/<class>/<name>`` to ``files`` (made once)."""
    if not folder.is_dir():
        for f in files:
            target = folder / f.parent.name / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f.resolve())
    return folder


def split_by_class(data: Path, seed: int, n_holdout: int, holdout: str) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Per class: (pool files in a seeded random order, held-out files).

    The test set is the first ``n_holdout`` files of each class's seeded permutation; with
    ``holdout == "val"`` the held-out set is instead the last ``n_holdout`` of the rest, so
    design choices are made without the test images.
    """
    folder = scan_lens_folder(data)
    pool, held = {}, {}
    for label, name in enumerate(folder.classes):
        files = [f for f, y in zip(folder.files, folder.labels) if y == label]
        order = [files[i] for i in np.random.default_rng(seed).permutation(len(files))]
        test, rest = order[:n_holdout], order[n_holdout:]
        if holdout == "val":
            held[name], pool[name] = rest[-n_holdout:], rest[:-n_holdout]
        else:
            held[name], pool[name] = test, rest
    return pool, held


def run_one(name: str, options: dict[str, Any], train_dir: Path, held_dir: Path, seed: int, args) -> dict[str, Any]:
    config = TrainConfig(data=str(train_dir), test_data=str(held_dir), seed=seed, **options)
    if args.budget_min is not None:
        # The same wall-clock budget for every model; the epoch cap only guards a fast machine.
        config.max_time = time.strftime("00:%H:%M:%S", time.gmtime(args.budget_min * 60))
        config.epochs = 100_000
    for key, value in args.set:
        setattr(config, key, json.loads(value))
    start = time.perf_counter()
    run = train(config, runs_dir=args.work / "runs", name=f"{name}-{train_dir.name}-seed{seed}-{time.strftime('%H%M%S')}")
    return holdout_result(name, run, time.perf_counter() - start, seed)


def holdout_result(name: str, run: Path, seconds: float, seed: int, held_dir: Path | None = None) -> dict[str, Any]:
    """The table row of a finished run scored on its test split, or on ``held_dir`` when given."""
    epochs = read_epoch_metrics(run)
    n_train = sum(1 for _ in (run / "splits" / "train.txt").open())
    out = run / ("eval-holdout" if held_dir is None else f"eval-{held_dir.name}")
    _, metrics = evaluate(run, data=held_dir, out=out, n_bootstrap=1000)
    binary = metrics["substructure_vs_none"]
    train_dir = Path(RunRecord.read(run).config.data)
    passes = training_passes(run)
    return {
        "model": name, "train_set": train_dir.name, "seed": seed, "run": str(run),
        "n_train": n_train, "epochs": len(epochs), "passes": passes, "train_s": seconds, "train_img_s": passes * n_train / seconds,
        "time_to_val_auc": time_to_val_auc(epochs, VAL_AUC_TARGET),
        "auc": binary["auc"], "auc_ci95": binary["auc_ci95"], "accuracy": binary["accuracy"],
        "tpr_at_fpr": binary["tpr_at_fpr"], "false_alarms": metrics.get("false_alarm_calibration", {}).get("rates"),
        **metrics.get("invariance", {}),
    }


def time_to_val_auc(epochs: dict[int, dict[str, float]], target: float) -> float | None:
    """Training seconds (validation included) until the run's own validation split first
    reached ``target`` AUC; None if it never did or the run logged no clock (no ``max_time``)."""
    return next((m.get("elapsed_s") for _, m in sorted(epochs.items()) if m.get("val_auc", 0.0) >= target), None)


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'model':<14}{'train set':<16}{'seed':>5}{'AUC':>8}{'95% CI':>16}{'acc':>7}{'epochs':>7}{'passes':>7}"
          f"{'train s':>9}{'img/s':>7}{f's to {VAL_AUC_TARGET}':>10}{'max|dp| 90/flip':>18}{'med|dp| 45':>11}")
    for r in results:
        low, high = r["auc_ci95"]
        invariance = (f"{r['rot90_max_abs_change']:.1e}/{r['flip_max_abs_change']:.1e}"
                      if "rot90_max_abs_change" in r else "-")
        rot45 = f"{r['rot45_median_abs_change']:.4f}" if "rot45_median_abs_change" in r else "-"
        reached = f"{r['time_to_val_auc']:.0f}" if r.get("time_to_val_auc") is not None else "-"
        print(f"{r['model']:<14}{r['train_set']:<16}{r['seed']:>5}{r['auc']:>8.4f}{f'{low:.4f}-{high:.4f}':>16}"
              f"{r['accuracy']:>7.3f}{r['epochs']:>7}{r['passes']:>7}{r['train_s']:>9.0f}{r['train_img_s']:>7.0f}"
              f"{reached:>10}{invariance:>18}{rot45:>11}")
    print("  TPR at FPR 1/5/10% (held-out ROC): " + "  ".join(
        f"{r['model']} {' / '.join(f'{v:.3f}' for v in r['tpr_at_fpr'].values())}" for r in results))
    for r in results:
        if r.get("false_alarms"):
            print(f"  {r['model']}: flag p <= alpha, false alarms on no_sub [95% CI] / TPR: " + "  ".join(
                f"{row['nominal']:.0%}: {row['false_alarm_rate']:.2%} [{row['false_alarm_rate_ci95'][0]:.2%}, "
                f"{row['false_alarm_rate_ci95'][1]:.2%}] / {row['true_positive_rate']:.3f}" for row in r["false_alarms"]))


def write_table(results: list[dict], path: Path) -> None:
    """The results as the documentation renders them (equilens.results)."""
    columns = ["model", "train set", "seed", "AUC (95% CI)", "accuracy", "epochs", "max |Δp| 90° / flip",
               "TPR at FPR 1 / 5 / 10%", "no_sub flagged at p ≤ 1 / 5 / 10% (TPR)"]
    rows = [[r["model"], r["train_set"], r["seed"], f"{r['auc']:.4f} ({r['auc_ci95'][0]:.4f}–{r['auc_ci95'][1]:.4f})",
             f"{r['accuracy']:.3f}", r["epochs"],
             f"{r['rot90_max_abs_change']:.1e} / {r['flip_max_abs_change']:.1e}" if "rot90_max_abs_change" in r else "–",
             " / ".join(f"{v:.3f}" for v in r["tpr_at_fpr"].values()),
             " / ".join(f"{row['false_alarm_rate']:.1%} ({row['true_positive_rate']:.3f})" for row in r["false_alarms"])
             if r.get("false_alarms") else "–"]
            for r in results]
    write_docs_table(path, columns, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["compare", "small-data", "anomaly"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"labelled folder (default {DEFAULT_DATA})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one held-out split and training seed each")
    parser.add_argument("--n-holdout", type=int, default=1000, help="held-out images per class (default 1000)")
    parser.add_argument("--holdout", choices=["test", "val"], default="test",
                        help="val: hold out validation images of the pool instead (for choosing defaults)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 250, 1000], help="small-data: images per class")
    parser.add_argument("--models", nargs="+", help="subset of the mode's models (default: all of them)")
    parser.add_argument("--budget-min", type=float, default=None,
                        help="training wall-clock per run, minutes (default: equilens train's own default)")
    parser.add_argument("--set", type=lambda s: tuple(s.split("=", 1)), action="append", default=[], metavar="KEY=JSON",
                        help="override a TrainConfig field, e.g. rotate=false or brightness=null")
    parser.add_argument("--outliers", type=Path, help="anomaly: the simulated folder of outlier exposure "
                        "(default: render --n-outliers per class of the test-iv preset into --work)")
    parser.add_argument("--n-outliers", type=int, default=2000, help="anomaly: simulated images per class to render")
    parser.add_argument("--work", type=Path, default=Path("bench-real-test-iv"), help="links, runs and results")
    parser.add_argument("--docs-table", type=Path, metavar="JSON",
                        help="also write the table for the documentation here (e.g. docs/results/small-data.json)")
    args = parser.parse_args(argv)
    # Sets of the pool's size start from random weights anyway; small ones compare both starts.
    skipped = {"compare": "steerable-scratch", "small-data": "deeplense"}.get(args.mode)
    catalogue = ANOMALY_MODELS if args.mode == "anomaly" else {k: v for k, v in MODELS.items() if k != skipped}
    models = {k: catalogue[k] for k in (args.models or catalogue)}
    if "outlier-exposure" in models:
        outliers = args.outliers or simulate_dataset(args.work / "outliers-test-iv", args.n_outliers, PRESETS["test-iv"],
                                                     seed=11, file_format="jpg", progress=False)
        models["outlier-exposure"] = {**models["outlier-exposure"], "outliers": str(outliers)}
    results = []
    for seed in args.seeds:
        pool, held = split_by_class(args.data, seed, args.n_holdout, args.holdout)
        base = args.work / f"{args.holdout}-seed{seed}"
        held_dir = link_folder(base / "holdout", [f for files in held.values() for f in files])
        if args.mode == "small-data":
            train_sets = [link_folder(base / f"train-{n}-per-class", [f for files in pool.values() for f in files[:n]])
                          for n in args.sizes]
        else:
            train_sets = [link_folder(base / "pool", [f for files in pool.values() for f in files])]
        for train_dir in train_sets:
            for name, options in models.items():
                results.append(run_one(name, options, train_dir, held_dir, seed, args))
                print_table(results[-1:])
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.docs_table:
        write_table(results, args.docs_table)
    print(f"\n{args.mode} on {args.data} (held-out: {args.holdout}, {args.n_holdout} per class)"
          + "".join(f"; {k}={v}" for k, v in args.set))
    print_table(results)


if __name__ == "__main__":
    main()
