"""Write wigner_d_lie_learn.npz: lie_learn's Wigner-D matrices, the reference for
equilens.models.wigner_d. Run once where lie_learn imports (numpy < 2, Python <= 3.12):
``pip install lie_learn 'numpy<2'`` then ``python tests/data/make_wigner_d_lie_learn.py``."""

from pathlib import Path

import numpy as np
from lie_learn.representations.SO3.wigner_d import wigner_D_matrix

DEGREES = [*range(13), 20]  # escnn's SO(3)/O(3) irreps up to a band limit of 12, and one beyond
rng = np.random.default_rng(0)
angles = rng.uniform([0, 0, 0], [2 * np.pi, np.pi, 2 * np.pi], size=(len(DEGREES), 2, 3))
matrices = {f"D_{l}": np.stack([wigner_D_matrix(l, *triple) for triple in angles[i]])
            for i, l in enumerate(DEGREES)}
np.savez_compressed(Path(__file__).with_name("wigner_d_lie_learn.npz"), degrees=DEGREES, angles=angles, **matrices)
