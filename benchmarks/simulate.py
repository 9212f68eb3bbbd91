"""Images per second of the simulator: 150×150 ``test-iv`` images with 25 point-mass subhalos.

    python benchmarks/simulate.py [--n 300] [--workers K] [--class sub]

Single process: render only (no file writes), after one warm-up image. With ``--workers K``:
also a full ``simulate_dataset`` run (K processes, .npy files, pool start-up included) into a
temporary folder. Goal: >= 60 images/s per core.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from equilens.simulation import PRESETS, LensRenderer, simulate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="images to time (default: 300)")
    parser.add_argument("--workers", type=int, default=None, help="also time a K-process dataset run")
    parser.add_argument("--class", dest="class_name", default="sub", choices=["no_sub", "sub", "axion"])
    args = parser.parse_args()

    config = PRESETS["test-iv"]
    assert config.num_pix == 150 and config.n_subhalos == 25
    renderer = LensRenderer(config)
    renderer.simulate(args.class_name, seed=0)  # builds the cached lenstronomy models
    start = time.perf_counter()
    for seed in range(1, args.n + 1):
        renderer.simulate(args.class_name, seed)
    rate = args.n / (time.perf_counter() - start)
    print(f"single process, render only ({args.class_name}): {rate:.1f} images/s")

    if args.workers:
        classes = (args.class_name,)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            simulate_dataset(folder, args.n, config, classes=classes, workers=args.workers, progress=False)
            rate = args.n / (time.perf_counter() - start)
        print(f"{args.workers} workers, dataset with .npy files and tables: {rate:.1f} images/s")


if __name__ == "__main__":
    main()
