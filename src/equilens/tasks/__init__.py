"""Tasks by name: one module each, looked up by training, predict, evaluate, sensitivity and the API.

A new task is one module defining a :class:`~equilens.tasks.base.Task` and one
:func:`register_task` call (docs/contributing.md). Nothing here imports torch.
"""

from __future__ import annotations

from equilens.errors import InputError
from equilens.tasks.base import ScoreTask, Task, TrainingData

TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Make ``task`` available by its name (``--task NAME``, the ``task`` stored with weights)."""
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise InputError(f"--task {name!r}: choose one of {list(TASKS)}")
    return TASKS[name]


def task_names() -> list[str]:
    return list(TASKS)


from equilens.tasks.anomaly import ANOMALY  # noqa: E402  (the tasks import this module's base)
from equilens.tasks.classify import CLASSIFY  # noqa: E402
from equilens.tasks.regress import REGRESS  # noqa: E402

for _task in (CLASSIFY, ANOMALY, REGRESS):
    register_task(_task)

__all__ = ["TASKS", "ScoreTask", "Task", "TrainingData", "get_task", "register_task", "task_names"]
