"""``equilens quickstart``: simulate test-iv JPEGs, train the default model, evaluate on a separate simulated set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from equilens.config import QuickstartConfig, TrainConfig
from equilens.devices import lightning_devices
from equilens.evaluation import evaluate
from equilens.runs import new_folder
from equilens.simulation import get_preset, simulate_dataset
from equilens.training import train


def quickstart(config: QuickstartConfig) -> tuple[Path, dict[str, Any]]:
    """Run the quickstart; return (its folder, the test metrics)."""
    root = new_folder(config.out, "quickstart")
    physics = get_preset(config.preset)
    print(f"[1/3] simulating {config.n_per_class}+{config.n_test_per_class} '{config.preset}' images per class into {root / 'data'}")
    # 8-bit JPEG, as the Test IV files the preset is calibrated to.
    options = dict(file_format="jpg", workers=config.workers)
    train_data = simulate_dataset(root / "data" / "train", config.n_per_class, physics, seed=config.seed, **options)
    test_data = simulate_dataset(root / "data" / "test", config.n_test_per_class, physics, seed=config.seed + 1, **options)
    accelerator, devices = lightning_devices(config.device)
    given = {name: getattr(config, name) for name in ("epochs", "max_time", "lr", "batch_size")}
    train_config = TrainConfig(
        data=str(train_data), test_data=str(test_data), seed=config.seed,
        accelerator=accelerator, devices=devices,
        **{name: value for name, value in given.items() if value is not None},
    )
    print(f"[2/3] training the default equivariant model ({train_config.epochs} epochs, "
          f"time cap {train_config.max_time})")
    run_dir = train(train_config, runs_dir=root / "runs")
    print("[3/3] evaluating on the held-out simulated test set")
    report, metrics = evaluate(run_dir, device=config.device)
    return report, metrics
