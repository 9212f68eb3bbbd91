"""Read ``.npy`` object arrays (pickled) without running code from the file.

DeepLense's Model I-III ``axion`` files are object arrays ``[image, axion_mass]`` that
``np.save`` wrote with pickle; ``np.load(..., allow_pickle=True)`` would run whatever callable
such a file names. :func:`load_object_array` unpickles with a whitelist instead: the pickle may
rebuild numpy arrays, dtypes and numpy scalars, and plain Python numbers, lists and tuples,
and nothing else; any other global is refused before it is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

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


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays, dtypes and scalars only; names the first other global and stops."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not a numpy array or number") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it holds a persistent reference")


def is_object_npy(path: Path) -> bool:
    """Whether the ``.npy`` at ``path`` holds a pickled object array (read from its header)."""
    with open(path, "rb") as handle:
        return _read_header(handle)[2].hasobject


def _read_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = npy_format.read_magic(handle)
    read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    return read(handle)


def load_object_array(path: Path) -> tuple[np.ndarray, float | None]:
    """The image and the number beside it in a DeepLense-style object array ``[image, number]``
    (or ``[image]``), unpickled safely.

    Returns:
        (image array as stored, the number or None).

    Raises:
        InputError: naming the file, when the pickle names anything but numpy arrays and
            numbers (nothing it names is called), or is not ``[image]`` / ``[image, number]``.
    """
    with open(path, "rb") as handle:
        _read_header(handle)
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
