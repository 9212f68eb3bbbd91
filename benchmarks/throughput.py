"""Speed of training and scoring on this machine, as a fraction of its measured peak.

    python benchmarks/throughput.py [--threads N] [--rounds 7]
    python benchmarks/throughput.py --predict DIR            # equilens predict on DIR's files, before and now
    python benchmarks/throughput.py --precision-check DATA   # bfloat16 against float32 on labelled images
    python benchmarks/throughput.py --busy-core               # training with one CPU kept busy by another program

Peak: a 2048 x 2048 matrix product in float32 and in bfloat16, timed in the same run (a
multiply-add is 2 FLOPs; bfloat16 runs on AMX tiles or AVX-512 BF16 where the CPU has them).
Per model (the default equivariant model, the default before issue #31, the plain CNN): FLOPs per
image as torch's FlopCounterMode counts them (scoring: the export's forward; training: forward and
backward), then images/s and the fraction of the peak of its number format, for a training step
(augmentation, forward, backward, Adam on (B, 1, 150, 150) images) in float32 and under bfloat16
autocast, and for scoring (the export under torch.inference_mode, channels-last; in bfloat16 with
its convolution stacks in oneDNN, as ``equilens predict`` runs it) at the CPU's scoring batch
size, and for the two steerable models at several (the sweep that set
``SCORING_BATCH_SIZES["cpu"]``). The
models take turns, a few steps each per round, and each figure is the median over the rounds, so a
machine that gets busier or quieter during the run shifts every model alike.

``--predict DIR`` runs ``equilens predict --pretrained test-iv DIR`` as before this page's changes
(float32, batch 256, one decoding process per CPU but one, at most 4) and as now (no options), and
prints their images/s. ``--precision-check DATA`` scores the labelled folder DATA with the shipped
``test-iv`` model in float32 and in bfloat16 and prints |dp| and both AUCs with their intervals.
``--busy-core`` times the default model's float32 training step quiet and while another process
keeps one CPU busy (a Python ``while True`` loop), with all threads and with one fewer, and prints
the ratios to quiet (whole runs under those conditions: benchmarks/shared_cpu.py).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from equilens.api import load
from equilens.config import DEFAULT_INPUT_SIZE, SCORING_BATCH_SIZES, TrainConfig
from equilens.datasets.folder import load_images, scan_lens_folder
from equilens.evaluation.metrics import binary_metrics
from equilens.memory import keep_freed_memory
from equilens.models import build_model, for_inference
from equilens.models.onednn import onednn_bfloat16
from equilens.precision import autocast
from equilens.transforms import Augment, AugmentConfig

# name -> TrainConfig options: the default, the default before issue #31, the plain baseline.
MODELS = {"steerable": {}, "steerable-pooled": {"pooled_blocks": 1}, "cnn": {"architecture": "cnn"}}
PRECISIONS = ("float32", "bfloat16")
# Scored at every batch size: the default and the shipped models' architecture (pooled, as test-iv).
SWEPT = ("steerable", "steerable-pooled")
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
CPU = torch.device("cpu")


def interleaved_rates(steps: dict[str, Callable[[], None]], images_per_step: dict[str, int], rounds: int,
                      steps_per_round: int) -> dict[str, float]:
    """Median images/s of each step function over ``rounds`` rounds in which every one takes its turn."""
    for step in steps.values():
        step()  # warm-up: basis caches, allocator, oneDNN kernels
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                step()
            rates[name].append(steps_per_round * images_per_step[name] / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def peak_flops(precision: str, size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a square matrix product in ``precision`` (the best of ``repeats``)."""
    a, b = (torch.rand(size, size).to(getattr(torch, precision)) for _ in range(2))
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def flops_per_image(fn: Callable[[], object], batch_size: int) -> float:
    """FLOPs per image of one call of ``fn`` on a batch of ``batch_size`` (torch's FlopCounterMode)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / batch_size


def train_step(model_config: dict, batch_size: int, precision: str) -> Callable[[], None]:
    model = build_model(model_config)
    augment = Augment(AugmentConfig(**TrainConfig(data="").augment_config()))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.rand(batch_size, 1, 150, 150)
    labels = torch.randint(0, 2, (batch_size,))

    def step():
        with autocast(CPU, precision):
            loss = F.cross_entropy(model(augment(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def score_step(network: torch.nn.Module, batch: torch.Tensor, precision: str) -> Callable[[], None]:
    def step():
        with torch.inference_mode(), autocast(CPU, precision):
            network(batch)

    return step


def model_table(args: argparse.Namespace) -> None:
    peaks = {precision: peak_flops(precision) for precision in PRECISIONS}
    print(f"peak (2048^2 matmul): " + ", ".join(f"{p} {peaks[p] / 1e9:.0f} GFLOP/s" for p in PRECISIONS))
    configs = {name: TrainConfig(data="", input_size=args.input_size, **options).model_config(num_classes=2)
               for name, options in MODELS.items()}
    batch = args.batch_size
    train_steps = {(name, p): train_step(c, batch, p) for name, c in configs.items() for p in PRECISIONS}
    train_flops = {name: flops_per_image(train_steps[name, "float32"], batch) for name in configs}
    train = interleaved_rates({f"{n} {p}": s for (n, p), s in train_steps.items()}, dict.fromkeys(
        (f"{n} {p}" for n, p in train_steps), batch), args.rounds, args.steps)

    score_batch = SCORING_BATCH_SIZES["cpu"]
    images = torch.rand(max(BATCH_SIZES), 1, 150, 150).contiguous(memory_format=torch.channels_last) ** 4
    exported = {name: for_inference(build_model(c).eval()) for name, c in configs.items()}
    score_flops = {name: flops_per_image(score_step(net, images[:score_batch], "float32"), score_batch)
                   for name, net in exported.items()}
    steps, sizes = {}, {}
    for name, net in exported.items():
        networks = {"float32": net, "bfloat16": onednn_bfloat16(net)}  # as TrainedModel.network_for
        for p in PRECISIONS:
            for size in BATCH_SIZES if name in SWEPT else (score_batch,):
                steps[f"{name} {p} {size}"], sizes[f"{name} {p} {size}"] = score_step(networks[p], images[:size], p), size
    score = interleaved_rates(steps, sizes, args.rounds, args.steps)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, input {args.input_size} px, training batch "
          f"{batch}, scoring batch {score_batch}, median of {args.rounds} rounds; % = share of that format's peak")
    print(f"{'model':<18}{'params':>9}{'GFLOP/img':>11}{'train f32':>11}{'bf16':>8}{'GFLOP/img':>11}"
          f"{'score f32':>11}{'bf16':>8}{'bf16/f32':>9}")
    for name, config in configs.items():
        params = sum(p.numel() for p in build_model(config).parameters())
        t32, t16 = (train[f"{name} {p}"] for p in PRECISIONS)
        s32, s16 = (score[f"{name} {p} {score_batch}"] for p in PRECISIONS)
        print(f"{name:<18}{params:>9,}{train_flops[name] / 1e9:>11.3f}{t32:>11.0f}{t16:>8.0f}{score_flops[name] / 1e9:>11.3f}"
              f"{s32:>11.0f}{s16:>8.0f}{s16 / s32:>8.2f}x")
        print(f"{'  % of peak':<38}{_share(t32 * train_flops[name], peaks['float32']):>11}"
              f"{_share(t16 * train_flops[name], peaks['bfloat16']):>8}{'':>11}"
              f"{_share(s32 * score_flops[name], peaks['float32']):>11}{_share(s16 * score_flops[name], peaks['bfloat16']):>8}")
    for name in SWEPT:
        print(f"scoring img/s of {name} by batch size: " + "; ".join(
            f"{size}: {score[f'{name} float32 {size}']:.0f} f32, {score[f'{name} bfloat16 {size}']:.0f} bf16"
            for size in BATCH_SIZES))


def _share(flops_per_s: float, peak: float) -> str:
    return f"{100 * flops_per_s / peak:.1f}%"


def predict_rates(folder: str, runs: int) -> None:
    """``equilens predict`` on ``folder`` with the options of before and with none, alternately."""
    before = ["--precision", "float32", "--batch-size", "256", "--num-workers", str(min(4, max(0, (os.cpu_count() or 1) - 1)))]
    rates: dict[str, list[float]] = {"before": [], "now": []}
    for _ in range(runs):
        for name, options in (("before", before), ("now", [])):
            command = [sys.executable, "-m", "equilens.cli", "predict", "--pretrained", "test-iv", folder,
                       "--out", str(Path(tempfile.gettempdir()) / f"throughput-{name}.csv"), "--overwrite", *options]
            log = subprocess.run(command, capture_output=True, text=True, check=True).stderr
            rates[name].append(float(re.search(r"\(([\d.]+) images/s", log).group(1)))
    b, n = (statistics.median(rates[k]) for k in ("before", "now"))
    print(f"equilens predict --pretrained test-iv {folder} (median of {runs}): before {b:.0f} img/s "
          f"({' '.join(before)}), now {n:.0f} img/s (no options): {n / b:.2f}x")


def precision_check(data: str) -> None:
    """|dp| and AUCs of the shipped test-iv model in float32 and bfloat16 on the labelled folder ``data``."""
    folder = scan_lens_folder(data)
    images = load_images(folder.files)
    labels = (folder.labels > 0).astype(int)
    scores = {p: load("test-iv", device="cpu", precision=p).scores(images)[0] for p in PRECISIONS}
    change = np.abs(scores["bfloat16"] - scores["float32"])
    print(f"{len(images)} images of {data}: |p(bf16) - p(f32)| max {change.max():.4f}, 99th percentile "
          f"{np.quantile(change, 0.99):.4f}, mean {change.mean():.5f}")
    for p in PRECISIONS:
        m = binary_metrics(labels, scores[p], 0.5, 1000)
        print(f"  {p}: AUC {m['auc']:.5f} (95% CI {m['auc_ci95'][0]:.5f}-{m['auc_ci95'][1]:.5f}), "
              f"accuracy at 0.5 {m['accuracy']:.4f}")


def busy_core_ratios(args: argparse.Namespace) -> None:
    """Training img/s of the default model quiet, then beside a busy loop with all threads and with one fewer."""
    step = train_step(TrainConfig(data="", input_size=args.input_size).model_config(num_classes=2), args.batch_size, "float32")
    threads = torch.get_num_threads()
    conditions = [("quiet", threads, False), (f"busy loop, {threads} threads", threads, True)]
    conditions += [(f"busy loop, {threads - 1} threads", threads - 1, True)] if threads > 1 else []
    rates = {}
    for name, n, busy in conditions:
        other = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            torch.set_num_threads(n)
            rates[name] = interleaved_rates({name: step}, {name: args.batch_size}, args.rounds, args.steps)[name]
        finally:
            if other is not None:
                other.kill()
    torch.set_num_threads(threads)
    print("training img/s of the default model (float32): " + "; ".join(
        f"{name} {rate:.0f} ({rates['quiet'] / rate:.2f}x the quiet time)" for name, rate in rates.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE, help="model input side in pixels")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch")
    parser.add_argument("--rounds", type=int, default=7, help="turns each model takes (the median is printed)")
    parser.add_argument("--steps", type=int, default=3, help="steps per model per round")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--predict", metavar="DIR", help="time equilens predict on DIR's image files instead")
    parser.add_argument("--predict-runs", type=int, default=3)
    parser.add_argument("--precision-check", metavar="DATA", help="compare bfloat16 with float32 on a labelled folder instead")
    parser.add_argument("--busy-core", action="store_true", help="time training beside a busy loop on one CPU instead")
    args = parser.parse_args()
    keep_freed_memory()  # as the equilens command does
    torch.set_num_threads(args.threads)
    if args.predict:
        predict_rates(args.predict, args.predict_runs)
    elif args.precision_check:
        precision_check(args.precision_check)
    elif args.busy_core:
        busy_core_ratios(args)
    else:
        model_table(args)


if __name__ == "__main__":
    main()
