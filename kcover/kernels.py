"""Similarity kernels, and how a distance becomes a similarity.

Three kernels, each a function of two feature vectors, evaluated in blocks:

* ``rbf``:    k(x, y) = exp(-||x - y||^2 / (2 * bandwidth^2)), values in (0, 1].
  The bandwidth is given, or set by the median heuristic (:func:`median_bandwidth`):
  the median Euclidean distance between pairs of points.
* ``cosine``: k(x, y) = <x, y> / (||x|| ||y||), values in [-1, 1]. A zero vector has
  similarity 0 to everything.
* ``linear``: k(x, y) = <x, y>, unbounded.

No transform is applied silently. Each kernel declares a ``floor``, the similarity of a target
to the empty selection, used by facility location (see :mod:`kcover.selection.facility_location`): 0 for
rbf and linear, -1 for cosine. A similarity below the floor is an error, never clipped.

The kernel-induced distance d(x, y)^2 = k(x, x) + k(y, y) - 2 k(x, y) (used by k-center) is a
metric for all three: for rbf it is a monotone function of the Euclidean distance, for cosine
of the angle, for linear it is the Euclidean distance itself.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks

KERNELS = ("rbf", "cosine", "linear")
_FLOORS = {"rbf": 0.0, "cosine": -1.0, "linear": 0.0}
_PRECISION = jax.lax.Precision.HIGHEST


@functools.partial(jax.tree_util.register_dataclass, data_fields=["bandwidth"], meta_fields=["name"])
@dataclasses.dataclass(frozen=True)
class Kernel:
    """A kernel: ``name`` (static under jit) and ``bandwidth`` (rbf only; traced)."""

    name: str
    bandwidth: Any = 1.0

    @property
    def floor(self) -> float:
        """Similarity of a target to the empty set, for facility location."""
        return _FLOORS[self.name]


def median_bandwidth(x: Any, *, max_points: int = 2000, seed: int = 0) -> float:
    """Median heuristic: the median pairwise Euclidean distance of the rows of ``x`` (N, d).

    Uses a seeded subsample of at most ``max_points`` rows, so the cost is O(max_points^2 d).
    Returns 1.0 if every sampled pair coincides.
    """
    x = checks.features(x, "x")
    if x.shape[0] > max_points:
        rows = np.random.default_rng(seed).choice(x.shape[0], max_points, replace=False)
        x = x[np.sort(rows)]
    xs = x.astype(np.float64)
    sq = np.sum(xs * xs, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * xs @ xs.T, 0.0)
    iu = np.triu_indices(xs.shape[0], k=1)
    if iu[0].size == 0:
        return 1.0
    # np.median(np.sqrt(d2[iu])) bit for bit, in a fifth of its time: the square root keeps the
    # order, so only the middle one or two distances need it
    v = d2[iu]
    kth = [v.size // 2] if v.size % 2 else [v.size // 2 - 1, v.size // 2]
    med = float(np.mean(np.sqrt(np.partition(v, kth)[kth])))
    return med if med > 0 else 1.0


def make_kernel(kernel: str | Kernel = "rbf", bandwidth: float | None = None, x: Any = None) -> Kernel:
    """Resolve a kernel name (``rbf``, ``cosine``, ``linear``) to a :class:`Kernel`.

    For rbf without ``bandwidth`` the median heuristic is applied to ``x`` (N, d).
    """
    if isinstance(kernel, Kernel):
        return kernel
    checks.choice(kernel, KERNELS, "kernel")
    if kernel != "rbf":
        if bandwidth is not None:
            raise ValueError(f"bandwidth: only the rbf kernel has one, not {kernel!r}")
        return Kernel(kernel, 1.0)
    if bandwidth is None:
        if x is None:
            raise ValueError("bandwidth: give a bandwidth or features for the median heuristic")
        bandwidth = median_bandwidth(x)
    return Kernel("rbf", checks.positive(bandwidth, "bandwidth"))


def pairwise(kernel: Kernel, x: jax.Array, y: jax.Array, precision: Any = _PRECISION) -> jax.Array:
    """Similarities between the rows of ``x`` (n, d) and ``y`` (m, d): an (n, m) array.

    ``precision`` is the matrix product's (a ``jax.lax.Precision``); the default ``HIGHEST`` is
    full float32 everywhere. On a GPU ``DEFAULT`` allows TF32/bf16 passes: several times faster,
    similarities good to about 1e-3. On the CPU both are the same.

    Pure and traceable; callers bound n * m (see :func:`blocked_rows`).
    """
    if kernel.name == "linear":
        return jnp.matmul(x, y.T, precision=precision)
    if kernel.name == "cosine":
        return cosine_of_units(unit_rows(x), unit_rows(y), precision)
    if kernel.name == "rbf":
        sq = (
            jnp.sum(x * x, axis=1)[:, None]
            + jnp.sum(y * y, axis=1)[None, :]
            - 2.0 * jnp.matmul(x, y.T, precision=precision)
        )
        bw = jnp.asarray(kernel.bandwidth, x.dtype)
        sq = jnp.maximum(sq, 0.0)
        # coinciding points are at similarity 1 even when 2 bw^2 underflows to 0 (0 / 0 would be NaN)
        return jnp.where(sq > 0.0, jnp.exp(-sq / (2.0 * bw * bw)), 1.0).astype(sq.dtype)
    raise ValueError(f"kernel: unknown kernel {kernel.name!r}")


def unit_rows(x: jax.Array) -> jax.Array:
    """The rows of ``x`` (n, d) divided by their Euclidean norms; zero rows stay zero."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=1, keepdims=True), 1e-30)


def cosine_of_units(x: jax.Array, y: jax.Array, precision: Any = _PRECISION) -> jax.Array:
    """The cosine kernel (n, m) between rows already passed through :func:`unit_rows`.

    Callers that evaluate many blocks against the same rows normalise them once with
    :func:`unit_rows` and call this, instead of :func:`pairwise` renormalising every call.
    """
    return jnp.clip(jnp.matmul(x, y.T, precision=precision), -1.0, 1.0)


def power_of_two_scale(*arrays: np.ndarray) -> float:
    """A power of two near the largest magnitude in ``arrays`` (1.0 if all are zero).

    Dividing features by it is exact (no rounding), and keeps squared norms and distances inside
    float32's range whatever the features' magnitude (1e-30 or 1e30): rbf and cosine similarities
    are unchanged, bit for bit, when the bandwidth is divided by the same power of two.
    """
    top = max(float(np.max(np.abs(a))) if a.size else 0.0 for a in arrays)
    return 1.0 if top == 0.0 else float(2.0 ** np.floor(np.log2(top)))


def self_similarity(kernel: Kernel, x: jax.Array) -> jax.Array:
    """k(x_i, x_i) for the rows of ``x`` (n, d): an (n,) array."""
    if kernel.name == "linear":
        return jnp.sum(x * x, axis=1)
    if kernel.name == "cosine":
        return jnp.where(jnp.linalg.norm(x, axis=1) > 0, 1.0, 0.0).astype(x.dtype)
    return jnp.ones(x.shape[0], x.dtype)


def squared_distance(kernel: Kernel, x: jax.Array, y: jax.Array) -> jax.Array:
    """Kernel-induced squared distances between rows of ``x`` (n, d) and ``y`` (m, d): (n, m)."""
    d2 = self_similarity(kernel, x)[:, None] + self_similarity(kernel, y)[None, :] - 2.0 * pairwise(kernel, x, y)
    return jnp.maximum(d2, 0.0)


def blocked_rows(fn: Callable[[jax.Array, jax.Array], jax.Array], x: jax.Array, block: int) -> jax.Array:
    """Apply ``fn(x_block, valid)`` to row blocks of ``x`` (n, d) and concatenate the results.

    ``x`` is zero-padded to a multiple of ``block`` so every call has the static shape
    (block, d); ``valid`` (block,) marks the real rows. ``fn`` must return an array whose leading
    axis is ``block``. At most one block's intermediate lives at a time (``lax.map``).
    """
    n = x.shape[0]
    block = max(1, min(block, n))
    nb = -(-n // block)
    pad = nb * block - n
    xp = jnp.pad(x, ((0, pad), (0, 0)))
    valid = (jnp.arange(nb * block) < n).reshape(nb, block)
    out = jax.lax.map(lambda args: fn(*args), (xp.reshape(nb, block, x.shape[1]), valid))
    return out.reshape((nb * block,) + out.shape[2:])[:n]


@functools.partial(jax.jit, static_argnames=("block",))
def _gram(kernel: Kernel, x: jax.Array, y: jax.Array, block: int) -> jax.Array:
    """(n, m) similarities written ``block`` rows at a time into one buffer.

    Not :func:`blocked_rows`: padding n to a multiple of ``block`` and slicing it off again costs
    a copy of the whole matrix. The last block starts at n - block instead (it recomputes a few
    rows, in the same (block, m) shape, so with the same values).
    """
    n, m = x.shape[0], y.shape[0]
    block = max(1, min(block, n))
    nb = -(-n // block)

    def body(i, out):
        start = jnp.minimum(i * block, n - block)
        rows = pairwise(kernel, jax.lax.dynamic_slice_in_dim(x, start, block), y)
        return jax.lax.dynamic_update_slice_in_dim(out, rows, start, 0)

    return jax.lax.fori_loop(0, nb, body, jnp.zeros((n, m), x.dtype))


_GRAM_BLOCK_ELEMENTS = 1 << 23  # default block: at most 8M similarities (32 MB of float32) at a time


def gram(
    x: Any, y: Any = None, *, kernel: str | Kernel = "rbf", bandwidth: float | None = None, block: int | None = None
) -> jax.Array:
    """Dense similarity matrix between ``x`` (n, d) and ``y`` (m, d) (``y`` defaults to ``x``).

    Returns (n, m). Memory O(n m); for small data, tests and peers that need the dense matrix.
    Built ``block`` rows at a time (default: the largest power of two with at most 8M
    similarities a block; why: benchmarks/README.md, "Measurements behind the code").
    The rbf median bandwidth, when not given, is taken from ``x``.
    """
    xa = checks.features(x, "x")
    ya = xa if y is None else checks.features(y, "y")
    checks.same_width(xa, ya, "x", "y")
    if block is None:
        # a power of two: XLA's CPU matrix products ran several times slower at some other heights
        block = 1 << max(3, (_GRAM_BLOCK_ELEMENTS // max(ya.shape[0], 1)).bit_length() - 1)
    block = checks.positive_int(block, "block")
    k = make_kernel(kernel, bandwidth, xa)
    dtype = jnp.result_type(xa.dtype, ya.dtype)
    return _gram(k, jnp.asarray(xa, dtype), jnp.asarray(ya, dtype), block)
