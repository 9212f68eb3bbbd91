"""NumPy ``.npy`` / ``.npz`` arrays (H, W), (C, H, W) or (H, W, C), and DeepLense's pickled ``.npy``
object arrays ``[image, number]`` (``axion`` files), unpickled with a whitelist of numpy arrays
and numbers: ``allow_pickle=True`` would run whatever callable the file names."""

from __future__ import annotations

import io
import math
import pickle
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from equilens.datasets.formats.checks import as_bands, check_bands, check_layout, nonempty
from equilens.datasets.formats.reading import FileInfo, Reading
from equilens.errors import InputError

# The callables numpy's own pickles name, taken from live objects (no numpy internals imported).
# numpy 1 writes them as numpy.core.multiarray.*, numpy 2 as numpy._core.multiarray.*.
_RECONSTRUCT = np.array(0.0).__reduce__()[0]
_SCALAR = np.float64(0.0).__reduce__()[0]
_ALLOWED = {
    **{(module, "_reconstruct"): _RECONSTRUCT for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "scalar"): _SCALAR for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyArray:
    suffixes = (".npy", ".npz")
    check_before_load = False

    def check(self, path: Path, reading: Reading) -> FileInfo:
        """``.npy``: read whole (little more work than its header for an image) and checked.
        ``.npz``: layout and type from the zip directory and the array's header only."""
        nonempty(path)
        if path.suffix.lower() == ".npz":
            return FileInfo(*check_layout(*_npz_header(path), path))
        array, value = _load(path)
        return FileInfo(*check_bands(as_bands(array, path), path, reading), value)

    def load(self, path: Path, reading: Reading) -> np.ndarray:
        """The image as stored, as (C, H, W)."""
        nonempty(path)
        return as_bands(_load(path)[0], path)


def _load(path: Path) -> tuple[np.ndarray, float | None]:
    """The image array and, for a DeepLense object array, the number beside it."""
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return archive[_npz_key(list(archive.keys()), path)], None
    with open(path, "rb") as handle:
        shape, fortran_order, dtype = _read_header(handle)
        if dtype.hasobject:
            return _unpickle(handle, path)
        # The header is read once (np.load would parse it again): a catalogue's files are small and many.
        count = math.prod(shape)
        data = np.fromfile(handle, dtype=dtype, count=count)
    if data.size != count:  # read_errors names the file
        raise ValueError(f"truncated: {data.size} of the {count} values its header announces")
    return data.reshape(shape, order="F" if fortran_order else "C"), None


def _read_header(handle: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from an ``.npy`` header, leaving ``handle`` at the data."""
    version = npy_format.read_magic(handle)
    read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    return read(handle)


def _npz_key(keys: list[str], path: Path) -> str:
    """The array of an ``.npz`` that holds the image: the one named ``image``, or its only one."""
    if "image" in keys:
        return "image"
    if len(keys) == 1:
        return keys[0]
    raise InputError(f"{path}: .npz holds arrays {keys}; expected one array or one named 'image'")


def _npz_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    with zipfile.ZipFile(path) as archive:
        keys = [name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")]
        with archive.open(f"{_npz_key(keys, path)}.npy") as member:
            shape, _, dtype = _read_header(member)
    return shape, dtype


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays, dtypes and scalars only; names the first other global and stops."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not a numpy array or number") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it holds a persistent reference")


def _unpickle(handle: IO[bytes], path: Path) -> tuple[np.ndarray, float | None]:
    """(image, number or None) of an object array ``[image, number]`` or ``[image]``, past its header."""
    try:
        array = _ArrayUnpickler(io.BytesIO(handle.read())).load()
    except pickle.UnpicklingError as error:
        raise InputError(f"{path}: refused to unpickle this object array: {error}") from None
    except Exception as error:  # noqa: BLE001 - a malformed pickle can raise almost anything
        raise InputError(f"{path}: cannot read the pickled object array ({type(error).__name__}: {error})") from None
    items = list(array.ravel()) if isinstance(array, np.ndarray) else []
    numbers = items[1:]
    if not items or not isinstance(items[0], np.ndarray) or len(numbers) > 1 or not all(_is_number(n) for n in numbers):
        kinds = ", ".join(type(item).__name__ for item in items) or type(array).__name__
        raise InputError(f"{path}: object array holds [{kinds}]; expected [image] or [image, number] (DeepLense axion files)")
    return items[0], float(numbers[0]) if numbers else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
