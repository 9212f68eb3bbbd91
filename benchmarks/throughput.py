"""Training and inference throughput (images/s) of the default equivariant model, the previous
default and the plain CNN, measured in the same run on the same inputs.

    python benchmarks/throughput.py [--input-size 75] [--batch-size 64] [--threads N] [--rounds 7]

Training = one full optimiser step (augmentation, forward, backward, Adam) on (B, 1, 150, 150)
images; inference = eval-mode forward under torch.inference_mode, for the escnn models both as
is and exported to plain torch (escnn ``export()``, batch norm folded, channels-last; the plain
CNN's export is the same folding). The models take turns, a few steps each per round, and each
figure is the median over the rounds, so a machine that gets busier or quieter during the run
shifts every model alike (the ratio to the previous default is the figure issue #31 asks for).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from equilens.config import DEFAULT_INPUT_SIZE, TrainConfig
from equilens.memory import keep_freed_memory
from equilens.models import build_model, for_inference
from equilens.transforms import Augment, AugmentConfig

# name -> TrainConfig options: the default, the default before issue #31, the plain baseline.
MODELS = {"steerable": {}, "steerable-pooled": {"pooled_blocks": 1}, "cnn": {"architecture": "cnn"}}


def interleaved_rates(steps: dict[str, Callable[[], None]], batch_size: int, rounds: int, steps_per_round: int) -> dict[str, float]:
    """Median images/s of each step function over ``rounds`` rounds in which every one takes its turn."""
    for step in steps.values():
        step()  # warm-up: basis caches, allocator, oneDNN kernels
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                step()
            rates[name].append(steps_per_round * batch_size / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def train_step(model_config: dict, batch_size: int) -> Callable[[], None]:
    model = build_model(model_config)
    augment = Augment(AugmentConfig(**TrainConfig(data="").augment_config()))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.rand(batch_size, 1, 150, 150)
    labels = torch.randint(0, 2, (batch_size,))

    def step():
        loss = F.cross_entropy(model(augment(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def inference_steps(model_config: dict, batch_size: int) -> dict[str, Callable[[], None]]:
    model = build_model(model_config).eval()
    batch = torch.rand(batch_size, 1, model_config["input_size"], model_config["input_size"])
    exported = for_inference(model)

    def run(net):
        def step():
            with torch.inference_mode():
                net(batch)
        return step

    return {"infer": run(model), "exported": run(exported)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE, help="model input side in pixels")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7, help="turns each model takes (the median is printed)")
    parser.add_argument("--steps", type=int, default=3, help="steps per model per round")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    keep_freed_memory()  # as the equilens command does
    torch.set_num_threads(args.threads)
    configs = {name: TrainConfig(data="", input_size=args.input_size, **options).model_config(num_classes=2)
               for name, options in MODELS.items()}
    train = interleaved_rates({name: train_step(c, args.batch_size) for name, c in configs.items()},
                              args.batch_size, args.rounds, args.steps)
    infer_batch = 4 * args.batch_size
    infer = interleaved_rates({f"{name} {kind}": step for name, c in configs.items()
                               for kind, step in inference_steps(c, infer_batch).items()}, infer_batch, args.rounds, args.steps)
    print(f"torch {torch.__version__}, {args.threads} threads, input {args.input_size} px, batch {args.batch_size}, "
          f"median of {args.rounds} rounds")
    print(f"{'model':<44}{'params':>9}{'train img/s':>13}{'vs pooled':>10}{'infer img/s':>13}{'exported':>10}")
    for name, config in configs.items():
        params = sum(p.numel() for p in build_model(config).parameters())
        shape = f"{config['group']} {tuple(config['widths'])} pooled {config['pooled_blocks']}" if "group" in config else str(tuple(config["widths"]))
        print(f"{name + ' ' + shape:<44}{params:>9,}{train[name]:>13.1f}{train[name] / train['steerable-pooled']:>9.2f}x"
              f"{infer[name + ' infer']:>13.0f}{infer[name + ' exported']:>10.0f}")


if __name__ == "__main__":
    main()
