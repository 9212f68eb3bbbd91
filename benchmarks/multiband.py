"""Does colour help? The same D4 model on multi-band images and on their band average.

    python benchmarks/multiband.py [--bands g r i] [--n-per-class 600] [--epochs 12] [--work DIR]

Simulates (once; reused from --work) `test-iv` lenses at random orientations whose lens galaxy
is red and extended, overlapping the Einstein ring, and whose source is blue (``equilens simulate --bands``: each band its own
colours, PSF and noise), as FITS cubes in counts/s; writes the band average of every cube
(counts/s, one 2-D FITS file) beside them. Trains the default steerable classifier on each for
the same number of epochs (not a wall-clock budget: the two runs then compare alike on a
shared, busy machine) and seed, and prints the test AUC of each with its 95% bootstrap
interval, and the paired difference (the same test lenses, resampled alike) with its interval.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from sklearn.metrics import roc_auc_score

from equilens.config import TrainConfig
from equilens.evaluation import evaluate
from equilens.evaluation.metrics import bootstrap
from equilens.evaluation.plots import read_epoch_metrics
from equilens.simulation import get_preset, simulate_dataset


def simulate_sets(args) -> dict[str, dict[str, Path]]:
    """{"bands": {"train", "test"}, "average": {"train", "test"}} dataset folders."""
    physics = get_preset(args.preset).replace(num_pix=args.num_pix, pixel_scale_arcsec=7.5 / args.num_pix,
                                              random_orientation=True, lens_light=True,
                                              lens_light_R_sersic_arcsec=args.lens_light_r_arcsec)
    sets: dict[str, dict[str, Path]] = {"bands": {}, "average": {}}
    for part, n, seed in (("train", args.n_per_class, 0), ("test", args.n_test_per_class, 1)):
        root = args.work / f"{'-'.join(args.bands)}-{part}-{n}"
        sets["bands"][part] = simulate_dataset(root, n, physics, seed=seed, bands=tuple(args.bands), file_format="fits",
                                               workers=args.workers)
        sets["average"][part] = band_average(root, root.with_name(root.name + "-average"))
    return sets


def band_average(root: Path, out: Path) -> Path:
    """Write the band average of every cube under ``root`` (class folders) to ``out``, same names."""
    for cube in sorted(root.glob("*/*.fits")):
        target = out / cube.parent.name / cube.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fits.PrimaryHDU(fits.getdata(cube).mean(axis=0).astype(np.float32)).writeto(target)
    return out


def run_one(name: str, sets: dict[str, Path], bands: list[str] | None, args) -> dict:
    from equilens.training import train

    config = TrainConfig(data=str(sets["train"]), test_data=str(sets["test"]), bands=bands, seed=args.seed,
                         epochs=args.epochs, max_time=None, init_weights=None)
    run = train(config, runs_dir=args.work / "runs", name=f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out, metrics = evaluate(run, out=run / "eval-test", n_bootstrap=args.bootstrap, invariance_images=64)
    with open(out / "scores.csv", newline="") as handle:
        test_root = Path(sets["test"]).resolve()
        scores = {Path(row["path"]).relative_to(test_root).as_posix(): float(row["score"]) for row in csv.DictReader(handle)}
    return {"run": run, "epochs": len(read_epoch_metrics(run)), "scores": scores, **metrics["substructure_vs_none"],
            "rot90": metrics["invariance"]["rot90_max_abs_change"], "flip": metrics["invariance"]["flip_max_abs_change"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", nargs="+", default=["g", "r", "i"])
    parser.add_argument("--n-per-class", type=int, default=600, help="training+validation images per class")
    parser.add_argument("--n-test-per-class", type=int, default=300)
    parser.add_argument("--num-pix", type=int, default=75, help="image side (7.5 arcsec field)")
    parser.add_argument("--preset", default="test-iv", help="simulation preset (its lens light is switched on)")
    parser.add_argument("--lens-light-r-arcsec", type=float, default=0.8,
                        help="lens-light half-light radius (test-iv: Einstein radius 1 arcsec)")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs per model (cosine decay over them)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="simulation processes")
    parser.add_argument("--work", type=Path, default=Path("bench-multiband"), help="data and runs (reused)")
    args = parser.parse_args()
    sets = simulate_sets(args)
    results = {f"{len(args.bands)} bands ({' '.join(args.bands)})": run_one("bands", sets["bands"], args.bands, args),
               "band average": run_one("average", sets["average"], None, args)}
    multi, average = results.values()
    # Test files are the cubes' names in both sets: score them side by side.
    names = sorted(multi["scores"])
    labels = np.array([0 if name.startswith("no_sub/") else 1 for name in names])
    paired = np.array([[multi["scores"][n], average["scores"][n]] for n in names])
    delta = bootstrap(labels, paired, lambda y, s: roc_auc_score(y, s[:, 0]) - roc_auc_score(y, s[:, 1]), args.bootstrap,
                      seed=args.seed)
    print(f"\n{args.epochs} epochs per model, {args.n_per_class} train+val and {args.n_test_per_class} test images "
          f"per class, {args.num_pix} px, D4 steerable (train's defaults)")
    print(f"{'':<24}{'epochs':>8}{'test AUC':>10}{'95% CI':>18}{'max|dp| rot90':>15}{'flips':>10}")
    for name, r in results.items():
        low, high = r["auc_ci95"]
        print(f"{name:<24}{r['epochs']:>8}{r['auc']:>10.4f}{f'{low:.4f}-{high:.4f}':>18}{r['rot90']:>15.1e}{r['flip']:>10.1e}")
    low, high = np.percentile(delta, [2.5, 97.5])
    print(f"AUC(bands) - AUC(average): {multi['auc'] - average['auc']:+.4f} (paired 95% CI {low:+.4f} to {high:+.4f})")
    for name, r in results.items():
        print(f"{name} run: {r['run']}")


if __name__ == "__main__":
    main()
