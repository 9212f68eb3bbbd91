"""Threads that fit the free CPU: the reading of other programs' load, the choice, and following it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from equilens import threads
from equilens.callbacks.cpu_load import FollowCpuLoad
from equilens.threads import CpuClock


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_others_are_the_busy_time_that_is_not_ours():
    earlier, later = CpuClock(wall=0.0, busy=10.0, own=4.0), CpuClock(wall=2.0, busy=14.0, own=6.0)
    assert later.others_since(earlier) == pytest.approx(1.0)  # 4 busy CPU-seconds in 2 s, 2 of them ours
    assert CpuClock(2.0, 11.0, 6.0).others_since(earlier) == 0.0  # never below zero


def test_free_cpus_leave_the_others_theirs_and_keep_one(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    assert [threads.free_cpus(load) for load in (0.0, 0.4, 1.0, 2.6, 9.0)] == [4, 4, 3, 1, 1]


def test_cgroup_quota_caps_the_usable_cpus(monkeypatch):
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: 1.5)
    assert threads.usable_cpus() == min(2, len(threads.os.sched_getaffinity(0)))
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: None)
    assert threads.usable_cpus() == len(threads.os.sched_getaffinity(0))


def test_requested_threads_are_set_as_given():
    assert threads.choose_threads(1) == 1 and torch.get_num_threads() == 1


@pytest.mark.skipif(len(threads.os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_a_busy_program_is_seen_and_left_its_cpu():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        start = CpuClock.now()
        time.sleep(1.0)
        assert CpuClock.now().others_since(start) > 0.6
    finally:
        busy.kill()


def test_following_moves_threads_when_two_windows_agree(monkeypatch):
    """The load falls to none: the threads go back up, but only after a second window says the same."""
    monkeypatch.setattr("equilens.callbacks.cpu_load.usable_cpus", lambda: 2)
    monkeypatch.setattr("equilens.callbacks.cpu_load.free_cpus", lambda others: 2 if others < 0.5 else 1)
    readings = iter([CpuClock(0, 0, 0), CpuClock(11, 11, 11), CpuClock(22, 22, 22), CpuClock(33, 33, 33)])
    monkeypatch.setattr(CpuClock, "now", classmethod(lambda cls: next(readings)))
    torch.set_num_threads(1)
    follow = FollowCpuLoad(window_s=10)
    follow.on_train_batch_end(None)  # the first reading starts the window
    follow.on_train_batch_end(None)
    assert torch.get_num_threads() == 1  # one window: proposed only
    follow.on_train_batch_end(None)
    assert torch.get_num_threads() == 2
