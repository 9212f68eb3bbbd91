"""The lightest subhalo each model detects: the default equivariant model against the plain CNN,
trained for the same wall-clock budget on single-subhalo images.

    python benchmarks/sensitivity.py [--presets deeplense-model-i hst-like] [--budget-min 40]
                                     [--n-per-class 10000] [--per-mass 200] [--work DIR]
                                     [--init-weights MODEL=RUN ...]

For each preset, simulates (once; reused from ``--work``) a paired training set
(``equilens simulate --paired``): image k of ``no_sub`` and of ``sub`` share lens, source and
noise, and the ``sub`` one carries one subhalo on the Einstein ring, by default an NFW halo with
the Duffy et al. 2008 concentration truncated at its tidal radius (``--profile``,
``--concentration``), its mass log-uniform on ``--train-masses``. Twins give the model the
cleanest contrast: the only difference within a pair is the subhalo, and training batches hold
both twins of each lens (``twin_batches``, a default). Trains ``equilens train``'s defaults (the
D4 steerable model) and ``--model cnn`` for the same ``--budget-min`` each, without augmentation
(``--augment`` restores ``equilens train``'s shift, rotation and brightness jitter): the training
images and the twins are rendered in the preset's one geometry (lens centred, one orientation,
one source brightness), so augmentation only adds variation the twins never have; measured, it
slowed learning several-fold (documentation: "Sensitivity"). Without the shift the model takes the
whole image (``crop_fraction`` 1). Then measures both with ``equilens sensitivity`` on the same
twins (which are never training images) and prints the curves side by side, beside the ideal
observer's on the same twins (known subhalo position, and the matched-filter scan over positions),
the mass at AUC 0.9 of each, and the true-positive rate at 10% false-positive rate for
10^9-10^9.5 Msun (Tsang et al. 2024: 71%). Also prints each run's epochs, training images/s and the machine's load average over
the run (the CPU may be shared). Writes ``results.json`` in ``--work``.

``--init-weights steerable=RUN cnn=RUN`` starts each model from an earlier run of its own kind:
to continue a run for a longer budget, or as a curriculum (e.g. this benchmark's point-mass
runs, then ``--profile tnfw``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from equilens.results import write_docs_table
from equilens.config import TrainConfig
from equilens.evaluation import evaluate
from equilens.evaluation.plots import read_epoch_metrics
from equilens.sensitivity import BOUNDS, DEFAULT_MASS_EDGES_MSUN, bound_mass_key, sensitivity
from equilens.simulation import get_preset, simulate_dataset
from equilens.simulation.twins import one_subhalo, subhalo_physics
from equilens.training import train, training_passes

MODELS = {"steerable": {}, "cnn": {"architecture": "cnn"}}
#: Training without augmentation (see the module docstring); ``--augment`` drops these.
NO_AUGMENTATION = {"crop_fraction": None, "rotate": False, "brightness": None}
#: The bin the Tsang et al. 2024 figure is quoted for.
TSANG_BIN_MSUN = (1e9, 10**9.5)


def simulate_training_set(preset: str, args) -> Path:
    physics = one_subhalo(subhalo_physics(get_preset(preset), args.profile, "ring", args.concentration), *args.train_masses)
    low, high = (math.log10(m) for m in args.train_masses)
    folder = args.work / f"train-{preset}-{args.profile}-{args.concentration}-{args.n_per_class}-mass{low:.3g}-{high:.3g}"
    return simulate_dataset(folder, args.n_per_class, physics, seed=args.seed, paired=True, workers=args.workers)


def run_one(name: str, options: dict[str, Any], data: Path, args) -> dict[str, Any]:
    config = TrainConfig(data=str(data), seed=args.seed, epochs=100_000, init_weights=args.init_weights.get(name),
                         max_time=time.strftime("00:%H:%M:%S", time.gmtime(args.budget_min * 60)),
                         **({} if args.augment else NO_AUGMENTATION), **options)
    for key, value in args.set:
        setattr(config, key, json.loads(value))
    load_before = os.getloadavg()
    start = time.perf_counter()
    run = train(config, runs_dir=args.work / "runs", name=f"{name}-{data.name}-seed{args.seed}-{time.strftime('%H%M%S')}")
    seconds = time.perf_counter() - start
    load_after = os.getloadavg()
    epochs = len(read_epoch_metrics(run))
    n_train = sum(1 for _ in (run / "splits" / "train.txt").open())
    _, held_out = evaluate(run, out=run / "eval-test", n_bootstrap=1000, invariance_images=256)
    _, report = sensitivity(run, n_per_bin=args.per_mass, profile=args.profile, concentration=args.concentration,
                            seed=args.seed, out=run / "sensitivity")
    tsang = next(b for b in report["bins"]
                 if math.isclose(b["mass_low_msun"], TSANG_BIN_MSUN[0]) and math.isclose(b["mass_high_msun"], TSANG_BIN_MSUN[1]))
    return {
        "model": name, "preset": data.name, "run": str(run), "init_weights": config.init_weights,
        "budget_min": args.budget_min, "train_s": seconds,
        "epochs": epochs, "n_train": n_train, "train_img_s": training_passes(run) * n_train / seconds,
        # The 5-minute load average at the end of the run: how busy the CPU was while it trained.
        "load_5min_end": load_after[1], "load_at_start": list(load_before), "cpus": os.cpu_count(),
        "held_out_auc": held_out["substructure_vs_none"]["auc"], "held_out_auc_ci95": held_out["substructure_vs_none"]["auc_ci95"],
        "held_out_auc_by_mass": held_out.get("auc_by_mass"),
        "bins": report["bins"], "mass_at_auc_0.9_msun": report["mass_at_auc_0.9_msun"],
        "mass_at_auc_0.9_range68_msun": report["mass_at_auc_0.9_range68_msun"],
        **{bound_mass_key(key): report[bound_mass_key(key)] for key, _ in BOUNDS},
        "tpr_at_fpr_0.1_1e9_1e9.5": tsang["tpr_at_fpr_0.1"], "tpr_at_fpr_0.1_1e9_1e9.5_ci95": tsang["tpr_at_fpr_0.1_ci95"],
        "rot90_max_abs_change": held_out["invariance"]["rot90_max_abs_change"],
    }


def mass_text(mass: float | None, span: list[float | None]) -> str:
    ends = "-".join("out" if v is None else f"{v:.2g}" for v in span)
    return f"{'none' if mass is None else f'{mass:.2g}'} ({ends})"


def comparison_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Per mass bin AUC [TPR at FPR 10%], then the summary lines; a cell per model, then the ideal
    observer's AUC (known position, then the scan's: the same twins for every model)."""
    bound_cells = [[f"{row[key]:.3f}" if row[key] is not None else "-" for key, _ in BOUNDS] for row in results[0]["bins"]]
    rows = [[f"{row['mass_low_msun']:.3g} - {row['mass_high_msun']:.3g} Msun",
             *(f"{r['bins'][b]['auc']:.3f} [{r['bins'][b]['tpr_at_fpr_0.1']:.2f}]" for r in results), *bound_cells[b]]
            for b, row in enumerate(results[0]["bins"])]
    bound_masses = [results[0][bound_mass_key(key)] for key, _ in BOUNDS]
    lines = [
        ("mass at AUC 0.9 (68% range)", lambda r: mass_text(r["mass_at_auc_0.9_msun"], r["mass_at_auc_0.9_range68_msun"])),
        ("TPR at FPR 10%, 1e9-10^9.5", lambda r: f"{r['tpr_at_fpr_0.1_1e9_1e9.5']:.3f}"),
        ("  95% CI", lambda r: "{0[0]:.3f}-{0[1]:.3f}".format(r["tpr_at_fpr_0.1_1e9_1e9.5_ci95"])),
        ("held-out AUC (train masses)", lambda r: f"{r['held_out_auc']:.4f}"),
        ("budget min / epochs", lambda r: f"{r['budget_min']:g} / {r['epochs']}"),
        ("started from", lambda r: "earlier run" if r.get("init_weights") else "scratch"),
        ("training img/s", lambda r: f"{r['train_img_s']:.0f}"),
        ("load (5-min avg at end)", lambda r: f"{r['load_5min_end']:.1f} on {r['cpus']} CPUs"),
        ("max |dp| under 90-degree turns", lambda r: f"{r['rot90_max_abs_change']:.1e}"),
    ]
    return rows + [[label, *(cell(r) for r in results),
                    *(("none" if mass is None else f"{mass:.2g}") if k == 0 else "" for mass in bound_masses)]
                   for k, (label, cell) in enumerate(lines)]


def model_columns(results: list[dict[str, Any]]) -> list[str]:
    """The table's column names after the first: the models, then the ideal observer's figures."""
    return [*(r["model"] for r in results), "ideal (known position)", "scan (position unknown)"]


def print_comparison(preset: str, results: list[dict[str, Any]]) -> None:
    print(f"\n{preset}: one subhalo on the Einstein ring; AUC [TPR at FPR 10%] per mass bin")
    print(f"{'':<32}" + "".join(f"{name:>24}" for name in model_columns(results)))
    for label, *cells in comparison_rows(results):
        print(f"{label:<32}" + "".join(f"{cell:>24}" for cell in cells))
    for r in results:
        print(f"{r['model']} run: {r['run']}" + (f" (started from {r['init_weights']})" if r.get("init_weights") else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["deeplense-model-i", "hst-like"], help="observation presets")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--budget-min", type=float, default=40.0, help="training wall-clock per model, minutes (default 40)")
    parser.add_argument("--n-per-class", type=int, default=10000, help="training+validation+test twins per class (default 10000)")
    parser.add_argument("--train-masses", type=float, nargs=2, default=[1e8, 10**10.5], metavar=("LOW", "HIGH"),
                        help="training subhalo masses, log-uniform, Msun (default 1e8 3.16e10)")
    parser.add_argument("--profile", default="tnfw", help="subhalo profile of training set and twins (default tnfw)")
    parser.add_argument("--concentration", default="duffy2008", help="duffy2008 or a fixed c200 (default duffy2008)")
    parser.add_argument("--per-mass", type=int, default=200, help="sensitivity twin pairs per mass bin (default 200)")
    parser.add_argument("--augment", action="store_true",
                        help="train with equilens train's augmentation (shift, rotation, brightness); default: none")
    parser.add_argument("--set", type=lambda s: tuple(s.split("=", 1)), action="append", default=[], metavar="KEY=JSON",
                        help="override a TrainConfig field for both models, e.g. rotate=false")
    parser.add_argument("--init-weights", type=lambda s: tuple(s.split("=", 1)), action="append", default=[],
                        metavar="MODEL=RUN", help="start MODEL (steerable, cnn) from the weights of RUN (a run folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="simulation processes")
    parser.add_argument("--work", type=Path, default=Path("bench-sensitivity"), help="data, runs and results (reused)")
    parser.add_argument("--docs-table", type=Path, metavar="JSON", help="also write the table for the documentation "
                        "here (the first preset's)")
    args = parser.parse_args(argv)
    args.init_weights = dict(args.init_weights)
    if set(args.init_weights) - set(MODELS):
        parser.error(f"--init-weights: models are {', '.join(MODELS)}")
    os.environ.setdefault("NUMBA_DISABLE_JIT", "1")  # lenstronomy's numba start-up costs more than it saves here
    results: dict[str, list[dict[str, Any]]] = {}
    for preset in args.presets:
        data = simulate_training_set(preset, args)
        results[preset] = [run_one(name, MODELS[name], data, args) for name in args.models]
        print_comparison(preset, results[preset])
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.docs_table:
        first = results[args.presets[0]]
        write_docs_table(args.docs_table, [args.presets[0], *model_columns(first)], comparison_rows(first))
    print(f"\n{args.budget_min:g} min per model, {'with' if args.augment else 'no'} augmentation{''.join(f', {k}={v}' for k, v in args.set)}, {args.n_per_class} twins per class, "
          f"{args.profile} subhalos ({args.concentration}), sensitivity bins "
          f"{', '.join(f'{m:.3g}' for m in DEFAULT_MASS_EDGES_MSUN)} Msun, {args.per_mass} pairs each")
    for preset, rows in results.items():
        print_comparison(preset, rows)


if __name__ == "__main__":
    main()
