"""equilens's Wigner-D matrices stand in for lie_learn's inside escnn: they must be lie_learn's."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from equilens.models.wigner_d import wigner_D_matrix

REFERENCE = Path(__file__).parent / "data" / "wigner_d_lie_learn.npz"


def test_wigner_d_matches_lie_learn():
    reference = np.load(REFERENCE)
    for i, l in enumerate(reference["degrees"]):
        for triple, expected in zip(reference["angles"][i], reference[f"D_{l}"]):
            np.testing.assert_allclose(wigner_D_matrix(int(l), *triple), expected, rtol=0, atol=1e-10)


def test_wigner_d_is_a_representation():
    """D(R) is orthogonal and D(Rz(a) R) = Z(a) D(R): the group law, independent of lie_learn."""
    l, (alpha, beta, gamma) = 7, (0.3, 1.1, 2.0)
    d = wigner_D_matrix(l, alpha, beta, gamma)
    np.testing.assert_allclose(d @ d.T, np.eye(2 * l + 1), atol=1e-12)
    np.testing.assert_allclose(wigner_D_matrix(l, alpha + 0.5, beta, gamma),
                               wigner_D_matrix(l, 0.5, 0, 0) @ d, atol=1e-12)


def test_other_bases_are_refused():
    with pytest.raises(NotImplementedError, match="lie_learn"):
        wigner_D_matrix(2, 0.1, 0.2, 0.3, field="complex")


def test_escnn_so3_irreps_are_correct_without_lie_learn():
    """In a fresh interpreter with lie_learn hidden, escnn imports through this module and its
    SO(3) irreps are orthogonal and multiply as the group does."""
    code = (
        "import sys; sys.modules['lie_learn'] = None  # as if not installed\n"
        "import numpy as np, equilens.models\n"
        "from escnn import group\n"
        "so3 = group.so3_group(maximum_frequency=3)\n"
        "rho = so3.irrep(3)\n"
        "g, h = so3.sample(), so3.sample()\n"
        "assert np.allclose(rho(g) @ rho(h), rho(g @ h), atol=1e-8)\n"
        "assert np.allclose(rho(g) @ rho(g).T, np.eye(7), atol=1e-8)\n"
        "print(sys.modules['lie_learn.representations.SO3.wigner_d'].__name__)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "equilens.models.wigner_d"
