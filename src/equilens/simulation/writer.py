"""Write a simulated dataset laid out like the DeepLense datasets. Seeds derive from (seed, class,
index), files are atomic and tables rewritten whole, so resumed or sharded runs (at once too, but
not one shard twice) end byte-identical to a single one."""

from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from equilens.atomic import atomic_path, write_text_atomic
from equilens.errors import InputError
from equilens.memory import keep_freed_memory
from equilens.simulation.bands import get_band
from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.lens_finding import CLASSES as LENS_FINDING_CLASSES
from equilens.simulation.lens_finding import LensFindingRenderer
from equilens.simulation.render import CLASSES, LensRenderer

FILE_FORMATS = ("npy", "png", "jpg", "fits", "fits-per-band")
BAND_FORMATS = ("npy", "fits", "fits-per-band")
MANIFEST_NAME = "simulation.json"
METADATA_NAME = "metadata.csv"
SUBHALOS_NAME = "subhalos.csv"
_MANIFEST_VERSION = 1
#: The Test IV files' quantisation table, so simulated JPEGs have their artefacts.
JPEG_QUALITY = 75


#: Every class name, in the order used for seed derivation (append only: seeds would change).
_SEED_CLASSES = CLASSES + LENS_FINDING_CLASSES


def image_seed(seed: int, class_name: str, index: int, *, paired: bool = False) -> int:
    """The 64-bit seed of image ``index`` of ``class_name``, for :meth:`LensRenderer.simulate`."""
    key = (index,) if paired else (_SEED_CLASSES.index(class_name), index)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)[0])


def make_renderer(config: LensSimulationConfig) -> LensRenderer:
    """The renderer of ``config``'s scene: :class:`LensRenderer` or :class:`LensFindingRenderer`."""
    return LensFindingRenderer(config) if config.scene == "lens_finding" else LensRenderer(config)


def scene_classes(config: LensSimulationConfig) -> tuple[str, ...]:
    """The classes ``config``'s scene can render, the negative first."""
    return LENS_FINDING_CLASSES if config.scene == "lens_finding" else CLASSES


def default_classes(config: LensSimulationConfig) -> tuple[str, ...]:
    """The classes rendered unless named: ``no_sub``, ``sub``, or ``nonlenses``, ``lenses``."""
    return LENS_FINDING_CLASSES if config.scene == "lens_finding" else ("no_sub", "sub")


def image_name(index: int, n_per_class: int, file_format: str, bands: Sequence[str] | None = None) -> str:
    """``image_000042.npy`` (padded so names sort), or the first band's ``image_000042_g.fits``."""
    width = max(6, len(str(n_per_class - 1)))
    if file_format == "fits-per-band":
        return f"image_{index:0{width}d}_{bands[0]}.fits"
    return f"image_{index:0{width}d}.{file_format}"


def _shard_indices(n_per_class: int, shard: tuple[int, int] | None) -> range:
    if shard is None:
        return range(n_per_class)
    i, n = shard
    return range(i, n_per_class, n)


def save_image(image: np.ndarray, path: Path, file_format: str) -> None:
    """Write ``image`` (float32 (H, W) in [0, 1]; FITS: counts/s, (H, W) or (C, H, W)) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if file_format == "fits":
            from astropy.io import fits

            fits.PrimaryHDU(image.astype(np.float32)).writeto(tmp)
        elif file_format == "npy":
            with open(tmp, "wb") as handle:
                np.save(handle, image)
        else:
            from PIL import Image

            pixels = np.round(image * 255.0).astype(np.uint8)
            options = {"quality": JPEG_QUALITY} if file_format == "jpg" else {}
            Image.fromarray(pixels, mode="L").save(tmp, format="JPEG" if file_format == "jpg" else "PNG", **options)


def save_bands(bands: np.ndarray, path: Path, file_format: str, names: Sequence[str]) -> None:
    """Write ``bands`` ((C, H, W) counts/s): ``npy`` each band scaled to [0, 1], ``fits`` a cube,
    ``fits-per-band`` one file per band, ``path`` (the first band's) last so that it marks a whole image."""
    if file_format == "npy":
        low, high = bands.min(axis=(1, 2), keepdims=True), bands.max(axis=(1, 2), keepdims=True)
        save_image(((bands - low) / np.where(high > low, high - low, 1.0)).astype(np.float32), path, "npy")
    elif file_format == "fits":
        save_image(bands, path, "fits")
    else:
        stem = path.stem.removesuffix(f"_{names[0]}")
        for name, band in reversed(list(zip(names, bands))):
            save_image(band, path.with_name(f"{stem}_{name}.fits"), "fits")


# Pool workers' state, so each builds its models once.
_worker_renderer: LensRenderer | None = None
_worker_format: str = "npy"
_worker_bands: tuple[str, ...] | None = None


def _init_worker_process(config_dict: dict[str, Any], file_format: str, bands: tuple[str, ...] | None = None) -> None:
    # Only in the pool's own processes: the caller's stays as it was.
    keep_freed_memory()
    _init_worker(config_dict, file_format, bands)


def _init_worker(config_dict: dict[str, Any], file_format: str, bands: tuple[str, ...] | None = None) -> None:
    global _worker_renderer, _worker_format, _worker_bands
    _worker_renderer = make_renderer(LensSimulationConfig.from_dict(config_dict))
    _worker_format, _worker_bands = file_format, bands


def _render_task(task: tuple[str, int, str]) -> None:
    class_name, seed, path = task
    if _worker_bands:
        params = _worker_renderer.draw_parameters(class_name, seed)
        save_bands(_worker_renderer.render_bands(params, _worker_bands), Path(path), _worker_format, _worker_bands)
    elif _worker_format == "fits":
        save_image(_worker_renderer.simulate(class_name, seed, normalize=False)[0], Path(path), "fits")
    else:
        save_image(_worker_renderer.simulate(class_name, seed)[0], Path(path), _worker_format)


def _validate(
    n_per_class: Any, seed: Any, classes: Sequence[str], file_format: str, workers: Any, shard: Any,
    bands: tuple[str, ...] | None, config: LensSimulationConfig,
) -> None:
    def is_int(value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if not is_int(n_per_class) or n_per_class < 1:
        raise InputError(f"n_per_class must be an integer >= 1, got {n_per_class!r}")
    if not is_int(seed) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    allowed = scene_classes(config)
    unknown = [c for c in classes if c not in allowed]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise InputError(f"classes must be distinct names among {', '.join(allowed)}, got {list(classes)!r}")
    if file_format not in FILE_FORMATS:
        raise InputError(f"file format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}")
    if bands is not None:
        if config.scene == "lens_finding":
            raise InputError("the lens-finding scene renders one band; leave out --bands")
        for name in bands:
            get_band(name)
        if len(set(bands)) != len(bands) or not bands:
            raise InputError(f"--bands {list(bands)}: name each band once")
        if file_format not in BAND_FORMATS:
            raise InputError(f"--format {file_format} holds one grey band; with --bands choose one of {', '.join(BAND_FORMATS)}")
    elif file_format == "fits-per-band":
        raise InputError("--format fits-per-band needs --bands")
    if not is_int(workers) or workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    if shard is not None:
        if not (isinstance(shard, tuple) and len(shard) == 2 and all(is_int(v) for v in shard)):
            raise InputError(f"shard must be a pair (i, N) of integers, got {shard!r}")
        if not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
            raise InputError(f"shard {shard[0]}/{shard[1]}: need N >= 1 and 0 <= i < N")


def _manifest(config: LensSimulationConfig, n_per_class: int, seed: int, classes: Sequence[str],
              file_format: str, paired: bool, bands: tuple[str, ...] | None = None) -> dict[str, Any]:
    # "bands" only when given: older folders keep their manifest.
    return {
        **({"bands": list(bands)} if bands else {}),
        "equilens_simulation_version": _MANIFEST_VERSION,
        "seed": int(seed),
        "n_per_class": int(n_per_class),
        "classes": list(classes),
        "paired": bool(paired),
        "file_format": file_format,
        "config": config.to_dict(),
    }


def _claim_folder(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``simulation.json`` into a new/empty folder, or check an existing one matches."""
    manifest_path = out_dir / MANIFEST_NAME
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} exists and is not a folder")
    if manifest_path.exists():
        try:
            existing = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{manifest_path} is unreadable ({exc}); use a new folder") from None
        try:  # settings added since the folder was begun take their defaults, which keep its images
            existing["config"] = LensSimulationConfig.from_dict(existing["config"]).to_dict()
        except (InputError, KeyError, TypeError):
            pass  # reported below as different settings
        if existing != manifest:
            differing = sorted(k for k in set(existing) | set(manifest) if existing.get(k) != manifest.get(k))
            if differing == ["config"]:
                differing = sorted(
                    k for k in set(existing["config"]) | set(manifest["config"])
                    if existing["config"].get(k) != manifest["config"].get(k)
                )
            raise InputError(
                f"{out_dir} holds a simulation made with different settings ({', '.join(differing)}); "
                "rerun with the same options to resume, or choose a new folder"
            )
        return
    # A concurrent shard may be mid-way through writing the same manifest: not "foreign" content.
    if out_dir.exists() and any(not p.name.startswith(".simulation.") for p in out_dir.iterdir()):
        raise InputError(f"{out_dir} is not empty and has no {MANIFEST_NAME}; choose a new or empty folder")
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _remove_stale_temporaries(out_dir: Path, classes: Iterable[str], indices: range, whole_folder: bool) -> None:
    """Delete the temporary files a killed run of this shard left (concurrent shards keep theirs)."""
    own = set(indices)
    for class_name in classes:
        for tmp in (out_dir / class_name).glob(".image_*.tmp*"):
            try:
                index = int(tmp.name.split(".")[1].removeprefix("image_"))
            except ValueError:
                continue
            if index in own:
                tmp.unlink(missing_ok=True)
    if whole_folder:
        for name in (MANIFEST_NAME, METADATA_NAME, SUBHALOS_NAME):
            stem = Path(name).stem
            for tmp in out_dir.glob(f".{stem}.*.tmp*"):
                tmp.unlink(missing_ok=True)


def _csv_text(header: list[str], rows: Iterable[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    # repr() of a float round-trips exactly: deterministic to the last bit.
    writer.writerows([repr(v) if isinstance(v, float) else v for v in row] for row in rows)
    return buffer.getvalue()


def write_tables(
    out_dir: Path, renderer: LensRenderer, n_per_class: int, seed: int, classes: Sequence[str],
    file_format: str, paired: bool, bands: tuple[str, ...] | None = None,
) -> None:
    """(Re)write ``metadata.csv`` and ``subhalos.csv`` for the whole dataset (no rendering)."""
    meta_header: list[str] | None = None
    meta_rows: list[list[Any]] = []
    subhalo_header: list[str] | None = None
    subhalo_rows: list[list[Any]] = []
    for class_name in classes:
        for index in range(n_per_class):
            params = renderer.draw_parameters(class_name, image_seed(seed, class_name, index, paired=paired))
            file = f"{class_name}/{image_name(index, n_per_class, file_format, bands)}"
            scalars = {k: v for k, v in params.items() if np.isscalar(v)}  # not arrays, not lenstronomy kwargs
            if meta_header is None:
                meta_header = ["file", "index"] + list(scalars)
            meta_rows.append([file, index] + [scalars[k] for k in meta_header[2:]])
            if class_name != "sub":
                continue
            # Subhalos get a row each (vortices are fixed by their scalars).
            _, lens_kwargs = renderer.perturber_lens_kwargs(params)
            for mass, kwargs in zip(params["perturber_mass_msun"], lens_kwargs):
                shape_keys = [k for k in kwargs if k not in ("center_x", "center_y")]
                if subhalo_header is None:
                    subhalo_header = ["file", "mass_msun", "x_arcsec", "y_arcsec"] + [f"{k}_arcsec" for k in shape_keys]
                subhalo_rows.append([file, float(mass), kwargs["center_x"], kwargs["center_y"]]
                                    + [kwargs[k] for k in shape_keys])
    write_text_atomic(out_dir / METADATA_NAME, _csv_text(meta_header, meta_rows))
    if "sub" in classes:
        header = subhalo_header or ["file", "mass_msun", "x_arcsec", "y_arcsec"]
        write_text_atomic(out_dir / SUBHALOS_NAME, _csv_text(header, subhalo_rows))


def simulate_dataset(
    out_dir: str | os.PathLike,
    n_per_class: int,
    config: LensSimulationConfig,
    *,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    file_format: str = "npy",
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    paired: bool = False,
    progress: bool = True,
    bands: Sequence[str] | None = None,
) -> Path:
    """Render ``n_per_class`` images per class into ``out_dir``, resuming what is there.

    Args:
        out_dir: a new, empty or earlier folder of the same settings.
        n_per_class: images per class.
        config: the simulated population.
        seed: the dataset seed.
        classes: names among the scene's classes (:func:`scene_classes`); default: :func:`default_classes`.
        file_format: one of :data:`FILE_FORMATS`.
        workers: rendering processes; changes no file.
        shard: ``(i, N)``: only the indices with ``index % N == i``; changes no file.
        paired: image k of every class from one seed (twins differing only by perturbers).
        progress: show a progress bar.
        bands: render each image in these bands (:data:`~equilens.simulation.bands.BANDS`).

    Returns:
        ``out_dir``; InputError for bad arguments or a folder of other settings.
    """
    classes = tuple(classes) if classes is not None else default_classes(config)
    bands = tuple(bands) if bands else None
    _validate(n_per_class, seed, classes, file_format, workers, shard, bands, config)
    out_dir = Path(out_dir)
    _claim_folder(out_dir, _manifest(config, n_per_class, seed, classes, file_format, paired, bands))
    indices = _shard_indices(n_per_class, shard)
    _remove_stale_temporaries(out_dir, classes, indices, whole_folder=shard is None)

    tasks = []
    for class_name in classes:
        (out_dir / class_name).mkdir(parents=True, exist_ok=True)
        for index in indices:
            path = out_dir / class_name / image_name(index, n_per_class, file_format, bands)
            if not path.exists():
                tasks.append((class_name, image_seed(seed, class_name, index, paired=paired), str(path)))

    from tqdm import tqdm

    shard_note = f" shard {shard[0]}/{shard[1]}" if shard else ""
    with tqdm(total=len(tasks), unit="img", desc=f"simulate{shard_note}", disable=not progress, smoothing=0.1) as bar:
        if workers == 1 or len(tasks) <= 1:
            _init_worker(config.to_dict(), file_format, bands)
            for task in tasks:
                _render_task(task)
                bar.update()
        else:
            # "spawn": safe even if the parent holds threads (torch).
            context = multiprocessing.get_context("spawn")
            chunksize = max(1, min(16, math.ceil(len(tasks) / (4 * workers))))
            with context.Pool(workers, initializer=_init_worker_process, initargs=(config.to_dict(), file_format, bands)) as pool:
                for _ in pool.imap_unordered(_render_task, tasks, chunksize=chunksize):
                    bar.update()

    write_tables(out_dir, make_renderer(config), n_per_class, seed, classes, file_format, paired, bands)
    return out_dir
