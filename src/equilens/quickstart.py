"""``equilens quickstart``: the whole workflow on a small simulated dataset, in minutes on a CPU.

simulate (test-iv preset, lenstronomy) -> train the default equivariant model -> evaluate on a
separately simulated test set -> print where everything is. Every budget is a flag, so the
same command scales up to a real experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from equilens.config import QuickstartConfig, TrainConfig
from equilens.evaluation import evaluate
from equilens.folders import new_folder
from equilens.simulation import get_preset, simulate_dataset
from equilens.training import train


def quickstart(config: QuickstartConfig) -> tuple[Path, dict[str, Any]]:
    """Run the quickstart; return (its folder, the test metrics)."""
    root = new_folder(config.out, "quickstart")
    physics = get_preset(config.preset)
    print(f"[1/3] simulating {config.n_per_class}+{config.n_test_per_class} '{config.preset}' images per class into {root / 'data'}")
    train_data = simulate_dataset(root / "data" / "train", config.n_per_class, physics, seed=config.seed, workers=config.workers)
    test_data = simulate_dataset(root / "data" / "test", config.n_test_per_class, physics, seed=config.seed + 1, workers=config.workers)
    print(f"[2/3] training the default equivariant model (max {config.epochs} epochs, time limit {config.max_time})")
    train_config = TrainConfig(
        data=str(train_data), test_data=str(test_data), epochs=config.epochs, max_time=config.max_time,
        lr=config.lr, batch_size=config.batch_size, seed=config.seed,
        # Decays to zero by whichever ends first, the epochs or the time limit, so the model
        # is trained out on a slow CPU as on a GPU.
        lr_schedule="cosine",
        accelerator="auto" if config.device == "auto" else config.device,
    )
    run_dir = train(train_config, runs_dir=root / "runs")
    print("[3/3] evaluating on the held-out simulated test set")
    report, metrics = evaluate(run_dir, device=config.device)
    return report, metrics
