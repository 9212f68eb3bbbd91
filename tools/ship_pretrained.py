"""Copy a finished training run's model into the package as a shipped pretrained model.

    python tools/ship_pretrained.py RUN test-iv --report RUN/evaluation

Writes ``src/equilens/pretrained/<name>.safetensors`` (+ ``.json``): the run's weights, loaded
strictly and saved again with a header that names no local paths, only what a user of the
model needs (config, classes, task, training recipe and split sizes, held-out figures). The
model card ``<name>.md`` beside it is written by hand from the same figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from equilens.runs import read_run_config
from equilens.weights import load_model, save_weights

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "equilens" / "pretrained"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="finished training run folder")
    parser.add_argument("name", help="name of the shipped model (e.g. test-iv)")
    parser.add_argument("--report", type=Path, required=True, help="the run's evaluation folder (metrics.json)")
    args = parser.parse_args()
    model, info = load_model(args.run)
    record = read_run_config(args.run)
    metrics = json.loads((args.report / "metrics.json").read_text())
    binary = metrics["substructure_vs_none"]
    train = {k: v for k, v in record["train"].items() if k not in ("data", "test_data")}
    out = save_weights(model, PACKAGE_DIR / f"{args.name}.safetensors", {
        "model": info["model"], "classes": info["classes"], "task": info["task"],
        "pretrained": args.name, "card": f"{args.name}.md", "equilens_version": record["equilens_version"],
        "train": train, "split_sizes": record["split_sizes"], "checkpoint": info["checkpoint"],
        "held_out": {"n_images": metrics["n_images"], "auc": binary["auc"], "auc_ci95": binary["auc_ci95"],
                     "accuracy": binary["accuracy"], "invariance": metrics.get("invariance")},
    })
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
