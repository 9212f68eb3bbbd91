"""keep_freed_memory: the large blocks a step frees are reused by the next step, not re-mapped."""

from __future__ import annotations

import resource

import pytest
import torch

from equilens.memory import keep_freed_memory


def _page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _step() -> None:
    """What a training step does with its activations: large tensors made, used, freed."""
    a = torch.ones(64 << 20, dtype=torch.uint8)  # 64 MiB: above glibc's largest mmap threshold
    b = torch.ones(40 << 20, dtype=torch.uint8)
    (a[: 40 << 20] + b).sum()


def test_steps_stop_page_faulting_once_the_heap_holds_their_memory():
    if not keep_freed_memory():
        pytest.skip("the C library is not glibc")
    for _ in range(20):  # the heap grows to the steps' peak, then stays
        _step()

    def faults_of_three_steps() -> int:
        before = _page_faults()
        for _ in range(3):
            _step()
        return _page_faults() - before

    # Returned to the kernel on every free (glibc's default), each step faults in ~37,000 pages.
    # The quietest of a few windows: the kernel may reclaim idle pages under memory pressure
    # (seen once in a full-suite run on a loaded machine), which is not the allocator's doing.
    assert min(faults_of_three_steps() for _ in range(5)) < 1000
