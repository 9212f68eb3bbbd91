"""Simulated strong-lensing images (DeepLense Models I-III, Test IV look, HST lens finding) with lenstronomy."""

from equilens.simulation.cli import add_simulate_arguments, run_simulate
from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.lens_finding import LensFindingRenderer
from equilens.simulation.physics import einstein_radius_arcsec, nfw_lensing_arcsec
from equilens.simulation.presets import PRESETS, get_preset
from equilens.simulation.render import CLASSES, LensRenderer, sample_truncated_power_law
from equilens.simulation.writer import image_seed, simulate_dataset

__all__ = [
    "CLASSES",
    "PRESETS",
    "LensFindingRenderer",
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
