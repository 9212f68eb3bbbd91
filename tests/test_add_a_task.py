"""A task added from outside the package, docs/contributing.md's worked example: its own module
and one ``register_task`` call give training, ``equilens.load`` and ``evaluate``."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import equilens
from equilens.evaluation import evaluate
from equilens.simulation import PRESETS, simulate_dataset
from equilens.tasks import TASKS, register_task
from equilens.training import train

# --8<-- [start:task]
from equilens.config import TrainConfig
from equilens.tasks.regress import Regress


class EinsteinRadius(Regress):
    """Each lens's Einstein radius (arcsec, a simulated folder's metadata.csv column) as a Gaussian mean and sigma."""

    name = run_name = "einstein_radius"
    description = "einstein_radius: each lens's Einstein radius in arcsec (a simulated folder's metadata.csv)"
    own_options = ()  # no --target: the task fixes it

    def target(self, config: TrainConfig) -> tuple[str, bool]:
        return "einstein_radius_arcsec", False
# --8<-- [end:task]


@pytest.fixture
def einstein_radius():
    """The task, registered for one test and then removed: other tests see the built-in tasks only."""
    task = register_task(EinsteinRadius())
    yield task
    TASKS.pop(task.name)


def test_a_task_from_outside_the_package_trains_loads_and_evaluates(einstein_radius, tmp_path):
    # 24 px lenses whose Einstein radius is drawn per image (a fixed one is not in metadata.csv).
    tiny = PRESETS["test-iv"].replace(num_pix=24, pixel_scale_arcsec=0.15, n_subhalos=5, vortex_n_point_masses=10,
                                      varied_settings=(("einstein_radius_arcsec", 0.8, 1.6),))
    data = simulate_dataset(tmp_path / "sim", 10, tiny, progress=False)
    config = TrainConfig(data=str(data), task="einstein_radius", input_size=17, widths=[2, 3], epochs=1,
                         min_images_per_epoch=0, max_time=None, accelerator="cpu")
    run = train(config, runs_dir=tmp_path / "runs")
    assert run.name.startswith("einstein_radius-steerable-D4-")
    assert json.loads((run / "model.json").read_text())["regression"]["target"] == "einstein_radius_arcsec"

    model = equilens.load(run, device="cpu")
    assert model.task == "einstein_radius" and model.info["regression"]["target"] == "einstein_radius_arcsec"
    test_files = [data / line for line in (run / "splits" / "test.txt").read_text().split()]
    mean, sigma = model.predict_gaussian([np.load(f) for f in test_files])
    assert mean.shape == sigma.shape == (len(test_files),) and np.all(sigma > 0)

    _, metrics = evaluate(run, out=tmp_path / "report", n_bootstrap=20, invariance_images=4)
    assert metrics["task"] == "einstein_radius" and metrics["target"] == "einstein_radius_arcsec"
    truth = {row["file"]: float(row["einstein_radius_arcsec"]) for row in csv.DictReader((data / "metadata.csv").open())}
    errors = [abs(m - truth[f.relative_to(data).as_posix()]) for f, m in zip(test_files, mean)]
    assert metrics["mae"] == pytest.approx(np.mean(errors), rel=1e-4)
    assert metrics["invariance"]["rot90_max_abs_change"] < 1e-4


def test_the_teardown_above_left_the_built_in_tasks_only():
    assert list(TASKS) == ["classify", "anomaly", "regress"]
