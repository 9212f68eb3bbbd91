"""Simulated strong-lensing images (DeepLense Model I / Test IV style) with lenstronomy.

Public API:

* :class:`LensSimulationConfig`, :data:`PRESETS`, :func:`get_preset`,
  :func:`einstein_radius_arcsec`, :func:`nfw_lensing_arcsec` — physical settings;
* :class:`LensRenderer` — draw parameters and render one image from a seed;
* :func:`simulate_dataset`, :func:`image_seed` — write a resumable, shardable dataset folder;
* :func:`add_simulate_arguments`, :func:`run_simulate` — the ``equilens simulate`` command.
"""

from equilens.simulation.cli import add_simulate_arguments, run_simulate
from equilens.simulation.physics import einstein_radius_arcsec, nfw_lensing_arcsec
from equilens.simulation.presets import PRESETS, LensSimulationConfig, get_preset
from equilens.simulation.render import CLASSES, LensRenderer, sample_truncated_power_law
from equilens.simulation.writer import image_seed, simulate_dataset

__all__ = [
    "CLASSES",
    "PRESETS",
    "LensRenderer",
    "LensSimulationConfig",
    "add_simulate_arguments",
    "einstein_radius_arcsec",
    "get_preset",
    "image_seed",
    "nfw_lensing_arcsec",
    "run_simulate",
    "sample_truncated_power_law",
    "simulate_dataset",
]
