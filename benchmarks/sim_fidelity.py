"""How far simulated lensing images are from real ones, and whether training on them helps.

    python benchmarks/sim_fidelity.py compare --sim SIMDIR [--real REALDIR] [--n 1000] --out OUTDIR
    python benchmarks/sim_fidelity.py sim-to-real --sim SIMDIR [--real REALDIR] --work DIR [--budget-min 9] [--sizes 50 250]

* ``compare``: per class (``no_sub``, ``sub``), up to ``--n`` images of each folder are
  measured the same way: pixel histogram, radial profiles about the image centre and about the
  flux centroid, ring radius, arc width and arc contrast, the lens-light profile, background
  level and noise, the radially averaged power spectrum. Writes one PNG per statistic (real
  against simulated, per class), a gallery of both with one display stretch, ``fidelity.json``
  and a printed table. Two two-sample tests say how different the sets are: a small CNN
  trained to tell real from simulated images (AUC on held-out images; 0.5: indistinguishable),
  and gradient boosting on the scalar statistics, with each statistic's own AUC (what differs).
* ``sim-to-real``: the default classifier (``equilens train``'s defaults) trained on the
  simulated folder only and scored on a fixed real test set; then, per ``--sizes`` N, that
  model fine-tuned on N real images per class against the same model trained from scratch on
  those N, for the same budget. The real test set is ``benchmarks/real_test_iv.py``'s (per
  class, the first ``--n-holdout`` of a ``--seed`` permutation; the documentation's small-data figures
  use seed 0's), and the N come from the rest, nested across N.

The statistics, the two tests and the plots are :mod:`equilens.fidelity`; this script reads
the folders, runs them and prints the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from equilens.datasets.folder import scan_lens_folder
from equilens.fidelity.figures import plot_curve, plot_gallery, plot_scalars, plot_separation
from equilens.fidelity.statistics import CURVES, SCALARS, class_files, read_stack
from equilens.fidelity.two_sample import compare_class

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "test-iv"


def print_compare_table(records: dict[str, dict]) -> None:
    """Per statistic and class: real and sim medians [5-95%], and the statistic's own AUC; then the tests."""
    print(f"\n{'statistic':<22}{'class':<8}{'real median [5%, 95%]':>30}{'sim median [5%, 95%]':>30}{'AUC':>6}")
    for name in SCALARS:
        for class_name, record in records.items():
            cells = [f"{s['q50']:.3g} [{s['q05']:.3g}, {s['q95']:.3g}]" for s in record["statistics"][name].values()]
            auc = record["feature_separation"]["per_statistic"][name]
            print(f"{name:<22}{class_name:<8}{cells[0]:>30}{cells[1]:>30}{auc:>6.2f}")
    print()
    for class_name, record in records.items():
        boosting = record["feature_separation"]["gradient_boosting"]
        line = f"{class_name}: real vs sim AUC, gradient boosting on the statistics {_auc_text(boosting)}"
        if "discriminator" in record:
            d = record["discriminator"]
            line += f"; CNN discriminator {_auc_text(d)} ({d['epochs']} epochs, {d['seconds']:.0f} s)"
        print(line)


def _auc_text(result: dict[str, Any]) -> str:
    low, high = result["auc_ci95"]
    return f"{result['auc']:.3f} ({low:.3f}-{high:.3f})"


def compare(args: argparse.Namespace) -> dict[str, dict]:
    """The ``compare`` subcommand: statistics, plots and two-sample tests per class; writes fidelity.json."""
    args.out.mkdir(parents=True, exist_ok=True)
    formats = {root: {f.suffix.lower() for f in scan_lens_folder(root, tuple(args.classes)).files} for root in (args.real, args.sim)}
    if formats[args.real] != formats[args.sim]:
        print(f"warning: real files are {sorted(formats[args.real])}, simulated ones {sorted(formats[args.sim])}: "
              "quantisation and compression differ too, and the CNN discriminator can see that")
    measured, records, gallery = {"real": {}, "sim": {}}, {}, []
    for class_name in args.classes:
        images = {source: read_stack(class_files(root, class_name, args.n, args.seed))
                  for source, root in (("real", args.real), ("sim", args.sim))}
        by_source, records[class_name] = compare_class(class_name, images["real"], images["sim"], args.out, seed=args.seed,
                                                       discriminator_epochs=args.discriminator_epochs,
                                                       discriminator_budget_s=args.discriminator_budget_s)
        for source, m in by_source.items():
            measured[source][class_name] = m
            gallery.append((f"{source} {class_name}", images[source][:8], m[0]["ring_radius"][:8]))
    for name in CURVES:
        plot_curve(name, measured, args.out / f"{name}.png")
    for class_name in args.classes:
        plot_scalars(class_name, {s: measured[s] for s in measured}, records[class_name]["feature_separation"]["per_statistic"],
                     args.out / f"statistics-{class_name}.png")
    plot_gallery(gallery, args.out / "gallery.png")
    plot_separation(records, args.out / "separation.png")
    report = {"real": str(args.real), "sim": str(args.sim), "seed": args.seed, "classes": records}
    (args.out / "fidelity.json").write_text(json.dumps(report, indent=1) + "\n")
    print_compare_table(records)
    print(f"\nfigures and fidelity.json in {args.out}")
    return records


def sim_to_real(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The ``sim-to-real`` subcommand: train on simulation, test on real; fine-tune vs from scratch."""
    # Training imports escnn and Lightning (seconds): compare and discriminator_auc do without.
    from real_test_iv import holdout_result, link_folder, print_table, run_one, split_by_class

    pool, held = split_by_class(args.real, args.seed, args.n_holdout, "test")
    base = args.work / f"seed{args.seed}"
    real_test = link_folder(base / "real-test", [f for files in held.values() for f in files])
    if args.sim_run is None:
        results = [run_one("sim-only", {}, args.sim, real_test, args.seed, args)]
    else:
        results = [holdout_result("sim-only", args.sim_run, float("nan"), args.seed, held_dir=real_test)]
    print_table(results[-1:])
    for n in args.sizes:
        real_train = link_folder(base / f"real-train-{n}", [f for files in pool.values() for f in files[:n]])
        results.append(run_one("real-only", {"init_weights": None}, real_train, real_test, args.seed, args))
        print_table(results[-1:])
        results.append(run_one("sim+fine-tune", {"init_weights": results[0]["run"]}, real_train, real_test, args.seed, args))
        print_table(results[-1:])
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsim-to-real: trained on {args.sim}; tested on {args.n_holdout} real images per class of {args.real}"
          + "".join(f"; {k}={v}" for k, v in args.set))
    print_table(results)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--sim", type=Path, required=True, help="simulated labelled folder (no_sub/, sub/)")
    common.add_argument("--real", type=Path, default=DEFAULT_REAL, help=f"real labelled folder (default {DEFAULT_REAL})")
    common.add_argument("--seed", type=int, default=0, help="seeds every draw, split and initialisation (default 0)")
    cmp = commands.add_parser("compare", parents=[common], help="statistics, plots and real-vs-sim two-sample tests")
    cmp.add_argument("--out", type=Path, required=True, help="folder for the figures and fidelity.json")
    cmp.add_argument("--n", type=int, default=1000, help="images per class and source (default 1000)")
    cmp.add_argument("--classes", nargs="+", default=["no_sub", "sub"], help="classes to compare (default no_sub sub)")
    cmp.add_argument("--discriminator-epochs", type=int, default=20, help="CNN discriminator epochs; 0 skips it (default 20)")
    cmp.add_argument("--discriminator-budget-s", type=float, default=90.0, help="its time limit per class (default 90 s)")
    s2r = commands.add_parser("sim-to-real", parents=[common], help="train on simulation, test on real; fine-tuning on a few real images")
    s2r.add_argument("--work", type=Path, required=True, help="links, runs and results.json")
    s2r.add_argument("--sim-run", type=Path, help="a finished run trained on --sim: fine-tune from it instead of training one")
    s2r.add_argument("--sizes", type=int, nargs="+", default=[50, 250], help="real images per class to fine-tune on (default 50 250)")
    s2r.add_argument("--n-holdout", type=int, default=1000, help="real test images per class (default 1000)")
    s2r.add_argument("--budget-min", type=float, default=None,
                     help="training wall-clock per run, minutes (default: equilens train's own default)")
    s2r.add_argument("--set", type=lambda s: tuple(s.split("=", 1)), action="append", default=[], metavar="KEY=JSON",
                     help="override a TrainConfig field for every run, e.g. lr=5e-4")
    args = parser.parse_args(argv)
    {"compare": compare, "sim-to-real": sim_to_real}[args.command](args)


if __name__ == "__main__":
    main()
