"""The pixel grid a model was trained on, and reading a file onto it: a cutout is scored at the
model's pixel scale and field of view, whatever its own (docs/layouts.md, "Pixel scale").

The grid is the training images' pixel scale (arcsec per pixel) and size (H, W) in pixels; their
product is the field of view the model learnt. The model's own centred crop and resize to its
``input_size`` happen after, inside the network, as in training. A file with a celestial WCS
(FITS) is resampled from its own scale; any other file takes the ``--pixel-scale`` given, or else
is taken as it is, at the model's scale.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from equilens.datasets.formats import Reading, check_image, format_of, read_bands
from equilens.datasets.formats.checks import check_bands, read_errors
from equilens.datasets.formats.scaling import integer_to_unit, scale
from equilens.datasets.resample import crop_per_side, resample_onto
from equilens.errors import InputError
from equilens.log import logger

#: The key of the grid in a weights file's info (model.json).
INFO_KEY = "pixel_grid"
#: Training images sampled for the grid's image size (the most common among them).
SIZE_SAMPLE = 256
#: A cutout whose field of view is under this fraction of the model's, on either axis, is refused.
MIN_FIELD_FRACTION = 0.5
#: predict's columns saying what the model saw of each file (:meth:`Placement.cells`).
PLACEMENT_COLUMNS = ["pixel_scale_arcsec", "resample_factor", "crop_y_px", "crop_x_px"]


@dataclass(frozen=True)
class PixelGrid:
    """The training images' ``pixel_scale`` (arcsec per pixel; None: unknown) and ``image_size``
    (H, W) in pixels (None: weights saved before it was recorded)."""

    pixel_scale: float | None = None
    image_size: tuple[int, int] | None = None

    @property
    def on_sky(self) -> bool:
        """Both the scale and the size known: files are placed on this grid (:func:`read_on_grid`)."""
        return self.pixel_scale is not None and self.image_size is not None

    @property
    def field_of_view(self) -> tuple[float, float] | None:
        """(H, W) in arcsec, where both the scale and the size are known."""
        return (self.image_size[0] * self.pixel_scale, self.image_size[1] * self.pixel_scale) if self.on_sky else None

    def to_dict(self) -> dict[str, Any]:
        return {"pixel_scale_arcsec": self.pixel_scale, "image_size": list(self.image_size) if self.image_size else None,
                "field_of_view_arcsec": list(self.field_of_view) if self.field_of_view else None}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "PixelGrid":
        """The grid a weights file stores; None (saved before grids existed): unknown."""
        values = values or {}
        size = values.get("image_size")
        return cls(values.get("pixel_scale_arcsec"), (int(size[0]), int(size[1])) if size else None)


def simulated_pixel_scale(root: str | Path) -> float | None:
    """Arcsec per pixel of the images of an ``equilens simulate`` folder (its ``simulation.json``), else None."""
    manifest = Path(root) / "simulation.json"
    return json.loads(manifest.read_text())["config"].get("pixel_scale_arcsec") if manifest.is_file() else None


def training_pixel_scale(given: float | None, data_root: str | Path) -> float | None:
    """A run's pixel scale: ``--pixel-scale``, else that of the ``equilens simulate`` folder it
    trains on, else None. InputError where the two disagree."""
    simulated = simulated_pixel_scale(data_root)
    if given is not None and simulated is not None and not math.isclose(given, simulated, rel_tol=1e-6):
        raise InputError(f"--pixel-scale {given:g}: {Path(data_root) / 'simulation.json'} says its images are at "
                         f"{simulated:g} arcsec per pixel")
    return given if given is not None else simulated


def training_grid(pixel_scale: float | None, files: Sequence[Path], reading: Reading) -> PixelGrid:
    """The grid of a run's images: ``pixel_scale`` and the most common size among up to
    :data:`SIZE_SAMPLE` of ``files``, spread evenly (the size training resizes odd images to)."""
    sample = [files[i] for i in np.linspace(0, len(files) - 1, min(len(files), SIZE_SAMPLE)).astype(int)] if files else []
    sizes = Counter(check_image(f, reading).size for f in sample)
    return PixelGrid(pixel_scale, sizes.most_common(1)[0][0] if sizes else None)


@dataclass(frozen=True)
class GridReading(Reading):
    """How a trained model reads files: its :class:`Reading`, its ``grid``, and the
    ``pixel_scale`` (arcsec) a user gives for files without a celestial WCS (None: none given)."""

    grid: PixelGrid = field(default_factory=PixelGrid)
    pixel_scale: float | None = None

    @classmethod
    def of(cls, reading: Reading, grid: PixelGrid) -> "GridReading":
        return cls(**{f.name: getattr(reading, f.name) for f in fields(Reading)}, grid=grid)

    def with_options(self, hdu: str | None = None, pixel_scale: float | None = None) -> "GridReading":
        """This reading with predict's or evaluate's ``--hdu`` (overriding the model's) and
        ``--pixel-scale``; InputError for a scale that is not positive or a model without one."""
        if pixel_scale is not None:
            if not pixel_scale > 0:
                raise InputError(f"--pixel-scale {pixel_scale}: must be a positive number of arcsec per pixel")
            if self.grid.pixel_scale is None:
                raise InputError(f"--pixel-scale {pixel_scale:g}: this model records no pixel scale to resample to (train "
                                 "it with --pixel-scale, or from an equilens simulate folder)")
        return replace(self, hdu=self.hdu if hdu is None else str(hdu), pixel_scale=pixel_scale)


class Placement(NamedTuple):
    """What reading one file onto a grid did: its ``pixel_scale`` (rows, columns) in arcsec (None:
    unknown, taken at the model's), ``zoom`` (rows, columns): model pixels per file pixel, and
    ``crop`` (rows, columns): model pixels cut from each side (negative: padded with the sky)."""

    pixel_scale: tuple[float, float] | None
    zoom: tuple[float, float]
    crop: tuple[float, float]

    def cells(self) -> list[str]:
        """predict's :data:`PLACEMENT_COLUMNS`, numbers all (``nan``: no pixel scale known); a
        non-square pixel's scale and zoom as their geometric mean."""
        scale_cell = "nan" if self.pixel_scale is None else f"{math.sqrt(self.pixel_scale[0] * self.pixel_scale[1]):.6g}"
        return [scale_cell, f"{math.sqrt(self.zoom[0] * self.zoom[1]):.6g}", *(f"{round(c, 2) + 0.0:.2f}" for c in self.crop)]


@dataclass
class PlacementTally:
    """What reading many files onto a grid did, counted (a catalogue's worth, in constant memory),
    for :meth:`report`: files with no pixel scale, and the range of zooms of those resampled."""

    unscaled: int = 0
    resampled: int = 0
    zooms: tuple[float, float] = (math.inf, -math.inf)

    def add(self, placement: Placement | None) -> None:
        if placement is None:
            return
        if placement.pixel_scale is None:
            self.unscaled += 1
        elif placement.zoom != (1.0, 1.0):
            zoom = math.sqrt(placement.zoom[0] * placement.zoom[1])
            self.resampled, self.zooms = self.resampled + 1, (min(self.zooms[0], zoom), max(self.zooms[1], zoom))

    def report(self, grid: PixelGrid) -> None:
        """One warning for the files read with no pixel scale (taken at the model's); a line for those resampled."""
        if self.unscaled:
            logger.warning("%d image(s) have no pixel scale (no celestial WCS, no --pixel-scale): taken as they are, at the "
                           "model's %g arcsec/px, centred on its %dx%d px; if they are at another scale, pass "
                           "--pixel-scale ARCSEC", self.unscaled, grid.pixel_scale, *grid.image_size)
        if self.resampled:
            logger.info("%d image(s) resampled to the model's %g arcsec/px (x%.3g to x%.3g)", self.resampled,
                        grid.pixel_scale, *self.zooms)


def _snapped(zoom: float) -> float:
    return 1.0 if math.isclose(zoom, 1.0, rel_tol=1e-9) else zoom


def grid_of(reading: Reading) -> PixelGrid:
    """The grid a reading places files on: a :class:`GridReading`'s, else none (an unknown grid)."""
    return reading.grid if isinstance(reading, GridReading) else PixelGrid()


def read_on_grid(path: str | Path, reading: Reading) -> tuple[np.ndarray, Placement | None]:
    """The file at ``path`` as C-contiguous float32 bands (C, H, W), each scaled by ``reading.scaling``
    after it is placed on ``reading``'s grid where that has a pixel scale: resampled exactly
    (:mod:`equilens.datasets.resample`) from the file's scale to the grid's, centred, cropped or
    padded with each band's median to the grid's image size; and what was done (None: nothing,
    a model of unknown scale, whose files are read as :func:`~equilens.datasets.formats.read_bands`
    reads them). InputError naming the file for a WCS that is not celestial, or a cutout whose
    field of view is under half the model's on either axis."""
    path = Path(path)
    grid = grid_of(reading)
    if not grid.on_sky:
        return read_bands(path, reading), None
    image_format = format_of(path)
    with read_errors(path):
        load = getattr(image_format, "load_with_pixel_scale", None)
        bands, pixel_scale = load(path, reading) if load else (image_format.load(path, reading), None)
    check_bands(bands, path, reading)
    bands = integer_to_unit(bands)
    if pixel_scale is None and reading.pixel_scale is not None:
        pixel_scale = (reading.pixel_scale, reading.pixel_scale)
    # A WCS at the model's scale, but for its last bits, is read as it is.
    zoom = (1.0, 1.0) if pixel_scale is None else tuple(_snapped(s / grid.pixel_scale) for s in pixel_scale)
    shape, size = bands.shape[1:], grid.image_size
    crop = (crop_per_side(shape[0], size[0], zoom[0]), crop_per_side(shape[1], size[1], zoom[1]))
    if any(n * z < MIN_FIELD_FRACTION * m for n, m, z in zip(shape, size, zoom)):
        at = f"{pixel_scale[0]:g}x{pixel_scale[1]:g}" if pixel_scale else f"the model's {grid.pixel_scale:g} (no pixel scale known)"
        spans, model_spans = (" x ".join(f"{n * z * grid.pixel_scale:.2f}" for n, z in zip(sides, zooms))
                              for sides, zooms in ((shape, zoom), (size, (1.0, 1.0))))
        hint = "" if pixel_scale else "; if its pixels are larger, pass --pixel-scale ARCSEC"
        raise InputError(f"{path}: a cutout of {shape[0]}x{shape[1]} px at {at} arcsec/px spans {spans} arcsec, under "
                         f"half the model's field of view ({model_spans} arcsec){hint}")
    if zoom != (1.0, 1.0) or tuple(shape) != tuple(size):
        bands = resample_onto(bands, zoom, size, np.median(bands, axis=(1, 2)))
    return scale(bands, reading.scaling), Placement(pixel_scale, zoom, crop)
