"""The no-flag training run on a quiet CPU and on a shared one: time per epoch, to the end, and the AUC.

    python benchmarks/shared_cpu.py --data ../shared/data/test-iv --condition quiet
    python benchmarks/shared_cpu.py --data ../shared/data/test-iv --condition busy-loop [--threads 2]

``quiet``: nothing else runs. ``busy-loop``: another program keeps one CPU busy for the whole run
(a Python ``while True`` loop). ``second-run``: a second, identical ``equilens train`` runs beside
it. Each trains ``equilens train --data DIR`` with no other option (``--threads`` forces the
threads, as before they followed the load) and evaluates on the run's held-out test split.
Prints one line per run: condition, epochs, seconds, seconds per epoch, the threads it chose, the AUC.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from equilens.evaluation.plots import read_epoch_metrics

BUSY_LOOP = "while True: pass"


def train(data: str, runs: Path, name: str, threads: int | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "equilens.cli", "train", "--data", data, "--runs-dir", str(runs), "--name", name]
    log = open(runs / f"{name}.log", "w")
    return subprocess.Popen(command + (["--threads", str(threads)] if threads else []), stdout=log, stderr=subprocess.STDOUT)


def report(runs: Path, name: str, condition: str, seconds: float) -> None:
    run = runs / name
    out = run / "evaluation-benchmark"
    subprocess.run([sys.executable, "-m", "equilens.cli", "evaluate", str(run), "--out", str(out), "--invariance-images", "0"],
                   check=True, capture_output=True)
    metrics = json.loads((out / "metrics.json").read_text())
    epochs = len(read_epoch_metrics(run))
    chosen = [line.strip() for line in (runs / f"{name}.log").read_text().splitlines() if "threads:" in line]
    print(f"{condition}: {epochs} epochs in {seconds:.0f} s ({seconds / max(epochs, 1):.1f} s/epoch); "
          f"AUC {metrics['substructure_vs_none']['auc']:.5f}; {' | '.join(chosen) or 'threads not logged'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--condition", choices=["quiet", "busy-loop", "second-run"], default="quiet")
    parser.add_argument("--runs", default="runs/shared-cpu")
    parser.add_argument("--threads", type=int, help="force equilens train's threads (default: its own choice)")
    args = parser.parse_args()
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    other = None
    if args.condition == "busy-loop":
        other = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    names = [f"{args.condition}-{stamp}"] + ([f"{args.condition}-beside-{stamp}"] if args.condition == "second-run" else [])
    start = time.perf_counter()
    processes = [train(args.data, runs, name, args.threads) for name in names]
    seconds = []
    for process in processes:
        process.wait()
        seconds.append(time.perf_counter() - start)
    if other is not None:
        other.kill()
    for name, elapsed in zip(names, seconds):
        report(runs, name, args.condition, elapsed)


if __name__ == "__main__":
    main()
