"""Training and inference throughput (images/s) of the default equivariant model and the plain
CNN, measured in the same run on the same inputs.

    python benchmarks/throughput.py [--input-size 128] [--batch-size 64] [--threads N]

Training = one full optimiser step (augmentation, forward, backward, Adam) on (B, 1, 150, 150)
images; inference = eval-mode forward under torch.inference_mode, for the escnn model both as
is and exported to plain torch (escnn ``export()``, batch norm folded, channels-last; the plain
CNN's export is the same folding).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from equilens.config import TrainConfig
from equilens.memory import keep_freed_memory
from equilens.models import build_model, for_inference
from equilens.transforms import Augment, AugmentConfig


def images_per_second(step, batch_size: int, min_seconds: float) -> float:
    step()  # warm-up: basis caches, allocator, oneDNN kernels
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds or count < 3:
        step()
        count += 1
    return count * batch_size / (time.perf_counter() - start)


def measure(model_config: dict, batch_size: int, min_seconds: float) -> dict[str, float]:
    model = build_model(model_config)
    augment = Augment(AugmentConfig(**TrainConfig(data="").augment_config()))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.rand(batch_size, 1, 150, 150)
    labels = torch.randint(0, 2, (batch_size,))

    def train_step():
        loss = F.cross_entropy(model(augment(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    results = {"params": sum(p.numel() for p in model.parameters()), "train": images_per_second(train_step, batch_size, min_seconds)}
    model.eval()
    inference_batch = torch.rand(4 * batch_size, 1, model_config["input_size"], model_config["input_size"])
    for name, net in [("infer", model), ("infer_exported", for_inference(model))]:
        with torch.inference_mode():
            results[name] = images_per_second(lambda: net(inference_batch), len(inference_batch), min_seconds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=128, help="model input side in pixels")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0, help="minimum timing per measurement")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    keep_freed_memory()  # as the equilens command does
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, input {args.input_size} px, batch {args.batch_size}")
    print(f"{'model':<34}{'params':>9}{'train img/s':>13}{'infer img/s':>13}{'exported':>10}")
    for architecture in ("steerable", "cnn"):
        config = TrainConfig(data="", architecture=architecture, input_size=args.input_size).model_config(num_classes=2)
        r = measure(config, args.batch_size, args.seconds)
        name = architecture + (f" {config['group']} {tuple(config['widths'])}" if architecture == "steerable" else f" {tuple(config['widths'])}")
        print(f"{name:<34}{r['params']:>9,}{r['train']:>13.1f}{r['infer']:>13.0f}{r['infer_exported']:>10.0f}")


if __name__ == "__main__":
    main()
