"""Tasks by name: one module each, looked up by training, predict, evaluate, sensitivity and the API.

A new task is one module defining a :class:`~equilens.tasks.base.Task` and one
:func:`register_task` call (docs/contributing.md). Nothing here imports torch.
"""

from __future__ import annotations

from equilens.registry import Registry
from equilens.tasks.base import ScoreTask, Task, TrainingData

TASKS: Registry[Task] = Registry("--task {name!r}: choose one of {names}")
#: ``register_task(task)`` makes a task available by its name (``--task NAME``, the ``task``
#: stored with weights); ``get_task(name)`` looks one up.
register_task, get_task = TASKS.register, TASKS.spec


from equilens.tasks.anomaly import ANOMALY  # noqa: E402  (the tasks import the base above)
from equilens.tasks.classify import CLASSIFY  # noqa: E402
from equilens.tasks.regress import REGRESS  # noqa: E402

for _task in (CLASSIFY, ANOMALY, REGRESS):
    register_task(_task)

__all__ = ["TASKS", "ScoreTask", "Task", "TrainingData", "get_task", "register_task"]
