"""DDP on the CPU: the same training with 1 and with 2 processes (gloo) over the disk cache, AUC with CIs.

    python benchmarks/ddp.py --data DIR [--epochs 8] [--work DIR]

Runs ``equilens train --data DIR --accelerator cpu`` with ``--devices 1`` and then with
``--devices 2 --strategy ddp`` (Lightning's DDP, one process per device; each takes half of
the cores), both with ``$EQUILENS_IN_MEMORY_GB=0`` so every split is read from the
memory-mapped cache (:mod:`equilens.datasets.cache`) that the ranks share, then ``equilens
evaluate`` on each run's own test split (the same files: the split depends on the seed, not on
the devices). Prints one JSON line per run (AUC with its bootstrap 95% interval, training
seconds, epochs) and whether the two AUCs agree within their intervals. Each rank takes the
run's batch size, so two processes take twice the images per optimiser step in half the
steps of one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def equilens(*args: str, env: dict[str, str]) -> None:
    command = [str(Path(sys.executable).with_name("equilens")), *args]
    subprocess.run(command, check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="labelled dataset folder (e.g. DeepLense Test IV)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of both runs")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "equilens-ddp"), help="runs and cache")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EQUILENS_IN_MEMORY_GB": "0", "EQUILENS_CACHE": str(work / "cache")}
    results = []
    for devices in (1, 2):
        name = f"devices-{devices}-{time.strftime('%Y%m%d-%H%M%S')}"
        extra = ["--strategy", "ddp"] if devices > 1 else []
        start = time.perf_counter()
        equilens("train", "--data", args.data, "--epochs", str(args.epochs), "--accelerator", "cpu", "--devices", str(devices),
                 *extra, "--runs-dir", str(work / "runs"), "--name", name, env=env)
        wall = time.perf_counter() - start
        run = work / "runs" / name
        equilens("evaluate", str(run), env=env)
        metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
        auc = metrics["substructure_vs_none"]
        result = {"devices": devices, "auc": auc["auc"], "auc_ci95": auc["auc_ci95"], "command_s": round(wall, 1),
                  "training": metrics.get("training"), "run": str(run)}
        results.append(result)
        print(json.dumps(result), flush=True)
    (low1, high1), (low2, high2) = results[0]["auc_ci95"], results[1]["auc_ci95"]
    print(json.dumps({"auc_intervals_overlap": low1 <= high2 and low2 <= high1,
                      "auc_difference": round(results[1]["auc"] - results[0]["auc"], 4)}))


if __name__ == "__main__":
    main()
