"""The two data sets of the scaling benchmark (bench_scale.py, gpu_reference.py), the same on every machine.

* ``mixture``: benchmarks/bench_selection.py's Gaussian mixture (50 centres, d = 128).
* ``embedding``: embedding-like rows, d = 384: 200 topic centres in a random 48-dimensional
  subspace around a shared direction, plus isotropic noise, each row normalised to unit length (the shape of a sentence
  encoder's output: unit norm, most of the variance in few directions).
"""

from __future__ import annotations

import numpy as np

from bench_selection import mixture

DATASETS = {"mixture": 128, "embedding": 384}


def embedding(n: int, d: int = 384, seed: int = 0, topics: int = 200, rank: int = 48) -> np.ndarray:
    """n unit-norm float32 rows in d dimensions (module docstring)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, rank)))[0].T  # (rank, d) orthonormal rows
    common = 5.0 * basis[0]  # a shared direction: distinct topics at cosine ~0.25, as encoders' outputs are
    centres = rng.normal(size=(topics, rank)) @ basis + common
    x = np.empty((n, d), np.float32)
    for i in range(0, n, 100_000):  # chunks: no (n, d) float64 temporary
        m = min(100_000, n - i)
        rows = centres[rng.integers(0, topics, m)] + 0.6 * rng.normal(size=(m, rank)) @ basis
        rows += 0.15 * rng.normal(size=(m, d))
        x[i : i + m] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return x


def dataset(name: str, n: int) -> np.ndarray:
    """The ``name`` data set ("mixture" or "embedding") with n rows."""
    return mixture(n, DATASETS[name]) if name == "mixture" else embedding(n, DATASETS[name])
