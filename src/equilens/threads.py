"""CPU threads that fit the processor that is free: its affinity mask, a cgroup quota, and other programs' load.

torch's OpenMP threads meet at a barrier in every parallel region, so one thread sharing its core
with another program holds all of them back; fewer threads than CPUs is then faster. Other
programs' load is this machine's busy CPU time (``/proc/stat``) less this process's own, over a
window. Measurements: docs/benchmarks/scale.md ("A shared CPU").
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from equilens.log import logger

def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup (v2 or v1) CPU quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def _cgroup_quota() -> float | None:
    for quota_file, period_file in (("/sys/fs/cgroup/cpu.max", None),
                                    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")):
        try:
            fields = Path(quota_file).read_text().split()
            quota, period = (fields[0], fields[1]) if period_file is None else (fields[0], Path(period_file).read_text().split()[0])
        except (OSError, IndexError):
            continue
        if quota in ("max", "-1"):
            return None
        return int(quota) / int(period)
    return None


@dataclass
class CpuClock:
    """A reading of the machine's busy CPU seconds and this process's own, to difference later."""

    wall: float
    busy: float
    own: float

    @classmethod
    def now(cls) -> "CpuClock":
        try:
            values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            values = []
        # user nice system idle iowait irq softirq steal: idle and iowait are not busy.
        busy = (sum(values[:8]) - sum(values[3:5])) / os.sysconf("SC_CLK_TCK") if len(values) >= 8 else 0.0
        own = sum(os.times()[:2])
        return cls(time.monotonic(), busy, own)

    def others_since(self, earlier: "CpuClock") -> float:
        """CPUs other programs kept busy between ``earlier`` and this reading (0 where /proc/stat is missing)."""
        wall = self.wall - earlier.wall
        return max(0.0, (self.busy - earlier.busy) - (self.own - earlier.own)) / wall if wall > 0 else 0.0


def free_cpus(others: float) -> int:
    """Threads for the usable CPUs that ``others`` CPUs of other programs' load leave free (at least 1)."""
    return max(1, usable_cpus() - round(others))


def choose_threads(requested: int | None = None, sample_s: float = 0.25) -> int:
    """Set torch's intra-op threads to ``requested``, or to the CPUs free now; log the choice in one line."""
    if requested is not None:
        torch.set_num_threads(requested)
        logger.info("threads: %d (--threads)", requested)
        return requested
    start = CpuClock.now()
    time.sleep(sample_s)
    others = CpuClock.now().others_since(start)
    threads = free_cpus(others)
    torch.set_num_threads(threads)
    logger.info("threads: %d of %d usable CPUs (other programs: %.1f CPUs busy); --threads N sets them", threads,
                usable_cpus(), others)
    return threads


def decoding_workers(threads: int) -> int:
    """DataLoader processes to decode image files beside a model that has ``threads`` CPUs: a quarter
    of them, rounded down, at most 4, so none on three or fewer, where decoding between batches beats
    two programs contending for a core (measured on two: benchmarks/throughput.py --predict)."""
    return min(4, threads // 4)


@contextlib.contextmanager
def fewer_threads(by: int) -> Iterator[int]:
    """torch's intra-op threads less ``by`` (at least 1) for the ``with`` block, as before after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before - by))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
