"""Catalogue scale: cache build, training and predict rates, and peak memory, on N synthetic cutouts.

    python benchmarks/scale.py --n 10000 100000 [--size 64] [--input-size 32] [--threads 1]

For each N, a synthetic catalogue of N 8-bit JPEG cutouts (jittered copies of a few lens-like
images: a lens galaxy and an Einstein ring, half with a subhalo clump on the ring; written in
parallel, and reused when already there) and, per N, prints:

- the disk cache's build time (:mod:`equilens.datasets.cache`);
- training images/s over the same batches (same model, batch, optimiser, no augmentation) from
  the cache and from memory (skipped when the float32 set would not fit ``--max-memory-gb``);
- predict images/s: decode-only (the DataLoader workers of ``equilens predict``, no model),
  model-only (the model on an in-memory batch) and end to end (:func:`equilens.predict.predict`
  writing its CSV) over the first ``--predict-files`` files;
- CPU ms per image of each predict phase (this process and its reaped workers): on a CPU shared
  with other jobs the wall-clock rates of the overlapped end-to-end run suffer most, and the
  CPU time shows whether overlapping added work;
- the peak anonymous memory (RssAnon, sampled every 20 ms from /proc/self/status) of this
  process in each phase (the decode workers' own is a few tens of MB each).

The model is deliberately small (``--input-size`` 32, widths 4 8) so that an epoch of 10^5
images takes a minute on a shared CPU; the comparisons (cache vs memory, overlap of decoding
and scoring) are what is measured.

``--kill-test`` also checks, for each N, what issue #26 asks of an interrupted predict: a
copy of the catalogue (hard links) with 1% of its files cut short is scored by ``equilens
predict`` in a subprocess, which is killed with SIGKILL (with its decoding workers) once about
half the files are written; the same command then runs to the end. It prints whether every
readable file is in the output exactly once and every cut file is in the errors report.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from equilens.config import TrainConfig
from equilens.datamodules import LensDataModule
from equilens.datamodules.lens import IN_MEMORY_ENV
from equilens.datasets.cache import CACHE_ENV, cached_images
from equilens.datasets.folder import scan_lens_folder
from equilens.datasets.formats import GREY
from equilens.datasets.stream import ImageFiles, collate_files
from equilens.evaluation.scoring import score_images
from equilens.memory import keep_freed_memory
from equilens.models import build_model, for_inference
from equilens.predict import predict
from equilens.weights import save_weights

BASES = 16  # distinct lens-like images the catalogue jitters


class PeakRssAnon:
    """Peak RssAnon (bytes) of this process while the context is open, sampled in a thread."""

    def __enter__(self):
        self.peak, self._done = 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._done.wait(0.02):
            self.peak = max(self.peak, rss_anon())

    def __exit__(self, *_):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())


class CpuSeconds:
    """CPU seconds (user + system) of this process and of its children reaped while the context is open."""

    def __enter__(self):
        self._start = self._now()
        return self

    def __exit__(self, *_):
        self.seconds = self._now() - self._start

    @staticmethod
    def _now() -> float:
        return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))


def rss_anon() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def base_images(size: int, seed: int = 0) -> np.ndarray:
    """(BASES, 2, size, size) float images in [0, 1]: a lens galaxy and ring, without and with a clump."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    out = np.empty((BASES, 2, size, size))
    for k in range(BASES):
        q, angle, radius = rng.uniform(0.7, 1.0), rng.uniform(0, np.pi), rng.uniform(0.2, 0.35) * size
        u, v = x * np.cos(angle) + y * np.sin(angle), (-x * np.sin(angle) + y * np.cos(angle)) / q
        r = np.hypot(u, v)
        lens = np.exp(-r / (0.06 * size))
        ring = np.exp(-((r - radius) ** 2) / (2 * (0.04 * size) ** 2)) * (0.6 + 0.4 * np.cos(np.arctan2(v, u) - rng.uniform(0, 6.3)))
        phi = rng.uniform(0, 2 * np.pi)
        clump = 0.5 * np.exp(-((x - radius * np.cos(phi)) ** 2 + (y - radius * np.sin(phi)) ** 2) / (2 * (0.02 * size) ** 2))
        out[k, 0] = lens + ring
        out[k, 1] = lens + ring + clump
    return out / out.max(axis=(2, 3), keepdims=True)


def _write_chunk(args: tuple[str, int, int, int]) -> None:
    root, start, stop, size = args
    bases = base_images(size)
    rng = np.random.default_rng(start)
    for i in range(start, stop):
        label = i % 2
        image = np.roll(bases[i // 2 % BASES, label], tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
        image = image * rng.uniform(0.8, 1.0) + rng.normal(0, 0.03, image.shape)
        pixels = np.clip(image * 255, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(Path(root) / ("sub" if label else "no_sub") / f"c{i:07d}.jpg", quality=90)


def catalogue(root: Path, n: int, size: int) -> Path:
    """``root`` holding ``n`` JPEG cutouts in no_sub/ and sub/ (written in parallel unless already there)."""
    done = root / "complete.json"
    if done.exists() and json.loads(done.read_text()) == {"n": n, "size": size}:
        return root
    for name in ("no_sub", "sub"):
        (root / name).mkdir(parents=True, exist_ok=True)
    chunks = [(str(root), i, min(i + 5000, n), size) for i in range(0, n, 5000)]
    with multiprocessing.get_context("fork").Pool() as pool:
        pool.map(_write_chunk, chunks)
    done.write_text(json.dumps({"n": n, "size": size}))
    return root


def train_rate(module: LensDataModule, model: torch.nn.Module, batches: int) -> tuple[float, int]:
    """Images/s of optimiser steps over the first ``batches`` training batches (0: the whole epoch),
    after one warm-up batch, and the images trained on."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(0)
    loader = iter(module.train_dataloader())
    count, start = 0, None
    for step, (images, labels) in enumerate(loader):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 0:
            start, first = time.perf_counter(), images
        else:
            count += len(images)
        if batches and step == batches:  # 0: the whole epoch
            break
    return count / (time.perf_counter() - start), count + len(first)


def run(n: int, args: argparse.Namespace, work: Path) -> dict:
    result = {"n": n}
    start = time.perf_counter()
    folder = scan_lens_folder(catalogue(work / f"catalogue-{n}-{args.size}", n, args.size))
    result["catalogue_s"] = round(time.perf_counter() - start, 1)
    files = list(folder.files)
    os.environ[CACHE_ENV] = tempfile.mkdtemp(dir=work, prefix="cache-")
    with PeakRssAnon() as memory:
        start = time.perf_counter()
        cached_images(files, GREY, 1)
        result["cache_build_s"] = round(time.perf_counter() - start, 1)
    result["cache_build_peak_rss_anon_gb"] = round(memory.peak / 1e9, 3)

    config = TrainConfig(data="", input_size=args.input_size, widths=(4, 8))
    model_config = config.model_config(2, 1)
    splits = {"train": folder, "val": folder.subset(np.arange(0, n, max(1, n // 256)))}
    memory_gb = n * args.size**2 * 4 / 1e9
    for path, limit in [("cache", "0"), ("memory", "1e9")]:
        if path == "memory" and memory_gb > args.max_memory_gb:
            result["train_memory"] = f"skipped: {memory_gb:.1f} GB as float32"
            continue
        os.environ[IN_MEMORY_ENV] = limit
        torch.manual_seed(0)
        model = build_model(model_config).train()
        with PeakRssAnon() as memory:
            start = time.perf_counter()
            module = LensDataModule(splits, batch_size=args.batch_size, channels=1)  # as cached above: one key
            module.setup("fit")
            result[f"train_{path}_setup_s"] = round(time.perf_counter() - start, 1)
            rate, trained = train_rate(module, model, args.train_batches)
            result[f"train_{path}_images_per_s"], result[f"train_{path}_images"] = round(rate, 1), trained
        result[f"train_{path}_peak_rss_anon_gb"] = round(memory.peak / 1e9, 3)
        del module

    weights = save_weights(build_model(model_config), work / "scale-model.safetensors",
                           {"model": model_config, "classes": ["no_sub", "sub"], "task": "classify",
                            "input": {**GREY.to_dict(), "channels": 1}})
    subset = files[: args.predict_files or None]
    size = (args.size, args.size)
    loader = DataLoader(ImageFiles(subset, size, GREY, 1), batch_size=args.predict_batch_size, num_workers=args.decode_workers,
                        collate_fn=functools.partial(collate_files, size=size))
    with CpuSeconds() as cpu:
        start = time.perf_counter()
        decoded = sum(len(batch.indices) for batch in loader)
        result["predict_decode_images_per_s"] = round(decoded / (time.perf_counter() - start), 1)
        del loader  # its workers exit and are reaped: their CPU time counts
    result["predict_decode_cpu_ms_per_image"] = round(1e3 * cpu.seconds / decoded, 3)
    model = for_inference(build_model(model_config).eval())
    batch = torch.rand(args.predict_batch_size, 1, *size)
    score_images(model, batch)
    with CpuSeconds() as cpu:
        start, scored = time.perf_counter(), 0
        while time.perf_counter() - start < args.seconds:
            score_images(model, batch)
            scored += len(batch)
        result["predict_model_images_per_s"] = round(scored / (time.perf_counter() - start), 1)
    result["predict_model_cpu_ms_per_image"] = round(1e3 * cpu.seconds / scored, 3)
    out = work / f"scores-{n}.csv"
    with PeakRssAnon() as memory, CpuSeconds() as cpu:
        start = time.perf_counter()
        predict(weights, subset, out, batch_size=args.predict_batch_size, overwrite=True, num_workers=args.decode_workers)
        result["predict_end_to_end_images_per_s"] = round(len(subset) / (time.perf_counter() - start), 1)
    result["predict_end_to_end_cpu_ms_per_image"] = round(1e3 * cpu.seconds / len(subset), 3)
    result["predict_peak_rss_anon_gb"] = round(memory.peak / 1e9, 3)
    result["predict_files"] = len(subset)
    slower = min(result["predict_decode_images_per_s"], result["predict_model_images_per_s"])
    result["predict_overlap_ratio"] = round(result["predict_end_to_end_images_per_s"] / slower, 3)
    if "train_memory_images_per_s" in result:
        result["train_cache_over_memory"] = round(result["train_cache_images_per_s"] / result["train_memory_images_per_s"], 3)
    return result


def kill_test(n: int, catalogue_root: Path, weights: Path, work: Path, workers: int) -> dict:
    """Predict over a copy of the catalogue with 1% of files cut short, SIGKILL it half-way, run it again."""
    root = work / f"kill-test-{n}"
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    files = sorted(catalogue_root.glob("*/*.jpg"))
    corrupt = set(files[:: 100])
    for f in files:
        target = root / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if f in corrupt:
            target.write_bytes(f.read_bytes()[:200])  # a JPEG cut off after its headers
        else:
            os.link(f, target)
    out = root / "scores.csv"
    command = [str(Path(sys.executable).with_name("equilens")), "predict", str(weights), str(root), "--out", str(out),
               "--num-workers", str(workers), "--batch-size", "256"]
    partial = out.with_name(out.name + ".partial")
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start, rows = time.perf_counter(), 0
    while process.poll() is None:
        time.sleep(0.2)
        if partial.exists():
            with partial.open("rb") as handle:
                rows = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
            if rows >= len(files) // 2:
                os.killpg(process.pid, signal.SIGKILL)  # the predict and its decoding workers
                break
    process.wait()
    killed_at = rows
    resumed = subprocess.run(command, capture_output=True, text=True)
    if resumed.returncode != 0:
        raise RuntimeError(f"the resumed predict failed: {resumed.stderr[-2000:]}")
    with out.open(newline="") as handle:
        written = [row["path"] for row in csv.DictReader(handle)]
    with out.with_name(f"{out.stem}.errors.csv").open(newline="") as handle:
        listed = {Path(row["path"]).name for row in csv.DictReader(handle)}
    readable = {str(root / f.parent.name / f.name) for f in files if f not in corrupt}
    result = {
        "files": len(files), "corrupt": len(corrupt), "killed_after_rows": killed_at,
        "kill_s": round(time.perf_counter() - start, 1), "resume_exit": resumed.returncode,
        "rows": len(written), "distinct_rows": len(set(written)),
        "every_readable_once": len(written) == len(set(written)) and {str(Path(p).resolve()) for p in written} == {str(Path(p).resolve()) for p in readable},
        "every_corrupt_listed": listed == {f.name for f in corrupt},
    }
    subprocess.run(["rm", "-rf", str(root)], check=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000], help="catalogue sizes")
    parser.add_argument("--size", type=int, default=64, help="cutout side in pixels")
    parser.add_argument("--input-size", type=int, default=32, help="model input side (the cutouts are resized to it)")
    parser.add_argument("--batch-size", type=int, default=256, help="training batch")
    parser.add_argument("--train-batches", type=int, default=100, help="training batches timed per path (0: a whole epoch)")
    parser.add_argument("--predict-batch-size", type=int, default=256)
    parser.add_argument("--predict-files", type=int, default=20_000, help="files scored per N (the first ones; 0: all)")
    parser.add_argument("--decode-workers", type=int, default=1, help="predict's decoding processes")
    parser.add_argument("--seconds", type=float, default=10.0, help="model-only timing")
    parser.add_argument("--max-memory-gb", type=float, default=4.0, help="skip the in-memory training above this")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process")
    parser.add_argument("--kill-test", action="store_true", help="also kill and resume a predict over 1%%-corrupt copies (see above)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "equilens-scale"), help="catalogues, caches, outputs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the equilens command does
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"threads": args.threads, "cpus": len(os.sched_getaffinity(0)), "decode_workers": args.decode_workers}))
    for n in args.n:
        result = run(n, args, work)
        print(json.dumps(result), flush=True)
        if args.kill_test:
            print(json.dumps({"n": n, "kill_test": kill_test(n, work / f"catalogue-{n}-{args.size}", work / "scale-model.safetensors",
                                                             work, args.decode_workers)}), flush=True)


if __name__ == "__main__":
    main()
