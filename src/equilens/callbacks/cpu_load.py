"""Follow other programs' CPU load during a fit: fewer torch threads while they keep CPUs busy, more when they stop."""

from __future__ import annotations

import time

import lightning.pytorch as L
import torch

from equilens.log import logger
from equilens.threads import CpuClock, free_cpus, usable_cpus

# Seconds between two readings of the load: long enough to average a step's bursts, short
# enough to follow a program that starts or stops within an epoch.
LOAD_WINDOW_S = 10.0


class FollowCpuLoad(L.Callback):
    """During a CPU fit, re-read other programs' load every ``window_s`` seconds and move
    torch's threads to the CPUs left free, when two windows in a row agree."""

    def __init__(self, window_s: float = LOAD_WINDOW_S):
        self.window_s = window_s
        self._clock: CpuClock | None = None
        self._proposed: int | None = None

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        # Only the wall clock per batch: /proc/stat is read once a window.
        if self._clock is not None and time.monotonic() - self._clock.wall < self.window_s:
            return
        now = CpuClock.now()
        if self._clock is None:
            self._clock = now
            return
        threads = free_cpus(now.others_since(self._clock))
        self._clock = now
        if threads == torch.get_num_threads():
            self._proposed = None
        elif threads == self._proposed:
            logger.warning("threads: %d -> %d (other programs now keep %d of %d CPUs busy)", torch.get_num_threads(),
                           threads, usable_cpus() - threads, usable_cpus())
            torch.set_num_threads(threads)
            self._proposed = None
        else:
            self._proposed = threads
