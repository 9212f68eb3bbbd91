"""Simulation-trained classifiers on real images, with and without the real images unlabelled.

    python benchmarks/adaptation.py [--data ../shared/data/test-iv] [--work DIR]
        [--shifts test-iv deeplense-model-i] [--methods source self-training dann real-labels]
        [--few 10] [--docs-table docs/results/adaptation.json]

The real folder's images are split per class (seeded) into a held-out set (``--n-holdout`` per
class) and a pool. The pool is linked into one flat folder under neutral names (no class can be
read from it): the unlabelled images. Only this script's scorer reads the held-out labels.

For each shift (``--shifts``: the simulation preset, ``--n-sim`` images per class rendered into
``--work``), on the same training budget (``equilens train``'s defaults):

* ``source``: the simulated folder only;
* ``self-training``, ``dann``: the simulated folder with ``--unlabelled POOL --adaptation METHOD``;
* ``real-labels`` (once, not per shift): the pool with its labels, the ceiling.

``--few N``: N labelled real images per class of the pool with the pool unlabelled, and alone
where ``--methods`` names ``few-alone`` (both start from the shipped simulation model, as small
sets do).

Prints per run, on the held-out images: AUC with its bootstrap 95% interval, accuracy at p = 0.5,
the expected calibration error (ECE, :mod:`equilens.evaluation.reliability`), the substructure
fraction the run estimated from the unlabelled pool (adapted runs) and the one EM estimates
from the held-out images' posteriors (:mod:`equilens.prior_shift`, as ``predict`` does) against
the truth (0.5); then the prior shift alone: the held-out images resampled to 10% and 90%
substructure, each run's EM estimate there and its accuracy at 0.5 before and after correcting
its probabilities to that estimate. Appends to ``results.json`` in ``--work`` (so runs may be
made in several invocations); ``--report-only`` prints and tabulates it.

The ``test-iv`` preset's subhalo masses were fitted with 36 real ``sub`` images of this folder
(docs/simulator.md); ``deeplense-model-i`` was fitted to nothing of it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import equilens
from equilens.config import TrainConfig
from equilens.datasets.folder import load_images
from equilens.evaluation.metrics import auc_with_ci
from equilens.evaluation.reliability import reliability
from equilens.prior_shift import adjust_posteriors, estimate_prior
from equilens.results import write_docs_table
from equilens.simulation import PRESETS, simulate_dataset
from equilens.training import train

from real_test_iv import DEFAULT_DATA, link_folder, split_by_class

ADAPTATIONS = ("self-training", "dann")
PRIOR_SHIFTS = (0.1, 0.9)


def flat_pool(folder: Path, files: list[Path], seed: int) -> Path:
    """``folder/u<k>.<suffix>``: links to ``files`` in a seeded random order (made once)."""
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for k, i in enumerate(np.random.default_rng(seed).permutation(len(files))):
            (folder / f"u{k:05d}{files[i].suffix}").symlink_to(files[i].resolve())
    return folder


def slug(name: str) -> str:
    """A run's name as a folder name."""
    return "-".join("".join(c if c.isalnum() else " " for c in name).split())


def score(name: str, run: Path, seconds: float, images, labels: np.ndarray, seed: int) -> dict[str, Any]:
    model = equilens.load(run, precision="float32")
    probabilities = model.predict_proba(images)
    scores = 1.0 - probabilities[:, 0]
    auc, low, high = auc_with_ci(labels, scores)
    prior = model.class_prior
    adapted = model.info.get("adaptation")
    row: dict[str, Any] = {
        "run": name, "dir": str(run), "train_s": seconds, "epochs": epochs_run(model.info), "auc": auc, "auc_ci95": [low, high],
        "accuracy": float(((scores > 0.5) == labels).mean()), "ece": reliability(probabilities, labels)["ece"],
        "pool_fraction": float(1 - adapted["estimated_prior"][0]) if adapted else None,
        "held_fraction": float(1 - estimate_prior(probabilities, prior)[0]),
    }
    rng = np.random.default_rng(seed)
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    for fraction in PRIOR_SHIFTS:  # every image of the larger class, and as few of the other as the fraction asks
        n_pos = len(positive) if fraction >= 0.5 else round(len(negative) * fraction / (1 - fraction))
        n_neg = len(negative) if fraction < 0.5 else round(len(positive) * (1 - fraction) / fraction)
        index = np.r_[rng.choice(positive, n_pos, replace=False), rng.choice(negative, n_neg, replace=False)]
        p, y = probabilities[index], labels[index]
        estimated = estimate_prior(p, prior)
        corrected = adjust_posteriors(p, prior, estimated)
        row[f"shift_{fraction:g}"] = {"true": float(y.mean()), "estimated": float(1 - estimated[0]),
                                      "accuracy": float(((1 - p[:, 0] > 0.5) == y).mean()),
                                      "accuracy_corrected": float(((1 - corrected[:, 0] > 0.5) == y).mean())}
    return row


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'run':<44}{'epochs':>16}{'train s':>8}{'AUC':>8}{'95% CI':>16}{'acc':>7}{'ECE':>7}{'pool f':>8}{'held f':>8}"
          + "".join(f"{f'at {f:.0%}: est / acc / corr':>28}" for f in PRIOR_SHIFTS))
    for r in rows:
        pool = f"{r['pool_fraction']:.3f}" if r["pool_fraction"] is not None else "-"
        shifts = "".join(f"{s['estimated']:>12.3f}{s['accuracy']:>8.3f}{s['accuracy_corrected']:>8.3f}"
                         for s in (r[f"shift_{f:g}"] for f in PRIOR_SHIFTS))
        interval = "{:.4f}-{:.4f}".format(*r["auc_ci95"])
        print(f"{r['run']:<44}{r['epochs']:>16}{r['train_s']:>8.0f}{r['auc']:>8.4f}{interval:>16}"
              f"{r['accuracy']:>7.3f}{r['ece']:>7.3f}{pool:>8}{r['held_fraction']:>8.3f}{shifts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path("adaptation-benchmark"))
    parser.add_argument("--shifts", nargs="*", default=["test-iv", "deeplense-model-i"])
    parser.add_argument("--methods", nargs="*", default=["source", *ADAPTATIONS, "real-labels"])
    parser.add_argument("--n-sim", type=int, default=2000, help="simulated images per class")
    parser.add_argument("--n-holdout", type=int, default=1000, help="held-out real images per class")
    parser.add_argument("--few", type=int, default=0, help="also N labelled real images per class, alone and with the pool")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--docs-table", type=Path)
    parser.add_argument("--report-only", action="store_true", help="print and tabulate --work's results.json; train nothing")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.work / "results.json"
    if args.report_only:
        report(json.loads(out.read_text()), args.docs_table)
        return

    pool, held = split_by_class(args.data, args.seed, args.n_holdout, "test")
    unlabelled = flat_pool(args.work / f"pool-seed{args.seed}", [f for files in pool.values() for f in files], args.seed)
    held_dir = link_folder(args.work / f"held-seed{args.seed}", [f for files in held.values() for f in files])
    held_files = [f for files in held.values() for f in files]
    labels = np.concatenate([np.full(len(files), int(name != "no_sub")) for name, files in held.items()])
    images = load_images([held_dir / f.parent.name / f.name for f in held_files])

    rows: list[dict[str, Any]] = json.loads(out.read_text()) if out.is_file() else []  # runs of earlier invocations kept

    def run(name: str, **options: Any) -> None:
        start = time.perf_counter()
        folder = train(TrainConfig(seed=args.seed, **options), runs_dir=args.work / "runs", name=f"{slug(name)}-{time.strftime('%H%M%S')}")
        rows.append(score(name, folder, time.perf_counter() - start, images, labels, args.seed))
        out.write_text(json.dumps(rows, indent=1) + "\n")
        print_rows(rows[-1:])

    for shift in args.shifts:
        sim = args.work / f"sim-{shift}-{args.n_sim}"
        if not sim.is_dir():
            simulate_dataset(sim, args.n_sim, PRESETS[shift], seed=args.seed, workers=2)
        for method in args.methods:
            if method == "source":
                run(f"{shift}: source only", data=str(sim))
            elif method in ADAPTATIONS:
                run(f"{shift}: {method}", data=str(sim), unlabelled=str(unlabelled), adaptation=method)
    if "real-labels" in args.methods:
        run("real labels (ceiling)", data=str(link_folder(args.work / f"pool-labelled-seed{args.seed}",
                                                           [f for files in pool.values() for f in files])))
    if args.few:
        few = link_folder(args.work / f"few{args.few}-seed{args.seed}", [f for files in pool.values() for f in files[: args.few]])
        if "few-alone" in args.methods:
            run(f"{args.few} per class", data=str(few))
        run(f"{args.few} per class + unlabelled", data=str(few), unlabelled=str(unlabelled))
    report(rows, args.docs_table)


def report(rows: list[dict[str, Any]], docs_table: Path | None) -> None:
    print("\nall runs:")
    print_rows(rows)
    if docs_table:
        write_docs_table(docs_table, ["run", "AUC (95% CI)", "accuracy at 0.5", "ECE", "substructure fraction: pool / held-out (true 0.5)",
                                           *(f"at {f:.0%}: estimated, accuracy raw → corrected" for f in PRIOR_SHIFTS), "epochs", "train s"],
                         [[r["run"], f"{r['auc']:.4f} ({r['auc_ci95'][0]:.4f}–{r['auc_ci95'][1]:.4f})", f"{r['accuracy']:.3f}",
                           f"{r['ece']:.3f}", f"{r['pool_fraction']:.3f} / {r['held_fraction']:.3f}" if r["pool_fraction"] is not None
                           else f"– / {r['held_fraction']:.3f}",
                           *(f"{s['estimated']:.3f}, {s['accuracy']:.3f} → {s['accuracy_corrected']:.3f}"
                             for s in (r[f"shift_{f:g}"] for f in PRIOR_SHIFTS)), r["epochs"], f"{r['train_s']:.0f}"] for r in rows],
                         note="Held-out real Test IV images never in the unlabelled pool; one seed; the CPU shared with other work.")


if __name__ == "__main__":
    main()
