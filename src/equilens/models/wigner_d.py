"""SO(3) Wigner-D matrices in lie_learn's default basis: the one function escnn imports from lie_learn,
which equilens installs without (why: docs/install.md). Any other basis raises: nothing checks it."""

from __future__ import annotations

import functools
import importlib.util
import sys
import types

import numpy as np

_LIE_LEARN_MODULE = "lie_learn.representations.SO3.wigner_d"
_BASIS = ("real", "quantum", "centered", "cs")


def _z_rotation(angle: float, l: int) -> np.ndarray:
    """A rotation by ``angle`` (radians) about z in irrep ``l``, real centred basis (frequency l - i on row i)."""
    frequencies = np.arange(l, -l - 1, -1)
    rows = np.arange(2 * l + 1)
    matrix = np.zeros((2 * l + 1, 2 * l + 1))
    matrix[rows, rows[::-1]] = np.sin(frequencies * angle)
    matrix[rows, rows] = np.cos(frequencies * angle)
    return matrix


@functools.lru_cache(maxsize=None)
def _pinchon_hoggan_j(l: int) -> np.ndarray:
    """Pinchon and Hoggan's J of irrep ``l`` (J. Phys. A 40, 1597, 2007), taking z- to y-rotations:
    (-1)^l exp(-i pi n.L) for n = (0, 1, -1)/sqrt(2), built in the complex basis |l, m>."""
    m = np.arange(-l, l + 1)
    raising = np.diag(np.sqrt(l * (l + 1) - m[:-1] * (m[:-1] + 1)), k=-1)  # L+ |m> to |m + 1>
    l_y = (raising - raising.T) / 2j
    l_z = np.diag(m).astype(complex)
    eigenvalues, vectors = np.linalg.eigh((l_y - l_z) / np.sqrt(2))
    rotation = (vectors * (-1.0) ** np.rint(eigenvalues)) @ vectors.conj().T
    # Complex |l, m> to the real centred basis; row l + mu holds the real harmonic of order mu.
    to_real = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    to_real[l, l] = 1
    for mu in range(1, l + 1):
        to_real[l + mu, l + mu], to_real[l + mu, l - mu] = (-1) ** mu / np.sqrt(2), 1 / np.sqrt(2)
        to_real[l - mu, l + mu], to_real[l - mu, l - mu] = -1j * (-1) ** mu / np.sqrt(2), 1j / np.sqrt(2)
    return (-1) ** l * (to_real @ rotation @ to_real.conj().T).real


def wigner_D_matrix(l: int, alpha: float, beta: float, gamma: float, field: str = "real",  # noqa: N802
                    normalization: str = "quantum", order: str = "centered",
                    condon_shortley: str = "cs") -> np.ndarray:
    """The (2l + 1, 2l + 1) matrix of the rotation with ZYZ Euler angles (alpha, beta, gamma),
    radians, in irrep ``l``: lie_learn's function of the same name, in its default basis."""
    if (field, normalization, order, condon_shortley) != _BASIS:
        raise NotImplementedError(
            f"equilens.models.wigner_d (which stands in for lie_learn) computes Wigner-D matrices "
            f"only in the basis {_BASIS}, not {(field, normalization, order, condon_shortley)}: "
            "install lie_learn (numpy < 2) for other bases")
    j = _pinchon_hoggan_j(int(l))
    return _z_rotation(alpha, l) @ j @ _z_rotation(beta, l) @ j @ _z_rotation(gamma, l)


def provide_to_escnn() -> None:
    """Register this module as lie_learn's where lie_learn is not installed, so ``import escnn`` works."""
    if _LIE_LEARN_MODULE in sys.modules or importlib.util.find_spec("lie_learn") is not None:
        return
    names = _LIE_LEARN_MODULE.split(".")
    parent = None
    for depth in range(1, len(names) + 1):
        if depth < len(names):
            module = types.ModuleType(".".join(names[:depth]))
            module.__path__ = []  # a package, whose submodule is then looked up in sys.modules
        else:
            module = sys.modules[__name__]
        sys.modules[".".join(names[:depth])] = module
        if parent is not None:
            setattr(parent, names[depth - 1], module)
        parent = module
