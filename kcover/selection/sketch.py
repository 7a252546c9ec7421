"""A weighted target sketch: K k-means centres, each weighted by the target weight of its cluster.

Facility location's cost is linear in the number of targets T. Replacing the T targets by K
centres c_j with weights W_j = (total weight of the targets assigned to c_j) gives the sketched
objective

    F~(S) = sum_j W_j * (max(f, max_{s in S} sim(c_j, s)) - f),

which costs K / T of the exact one per gain. **Error bound** (any S, any kernel Lipschitz in
its first argument with constant L): |F(S) - F~(S)| <= E = L * sum_x w_x ||x - c(x)||, where
c(x) is the centre x is assigned to (the max over S of L-Lipschitz functions is L-Lipschitz).
Greedy on F~ therefore keeps F(S~) >= (1 - 1/e) F(OPT) - 2E. L is 1 / (bandwidth sqrt(e)) for
rbf, 2 for cosine (targets sketched as unit-normalised rows; 2 because a centre c is not a
unit vector: ||u - c/|c||| <= 2 ||u - c|| for a unit u) and max_s ||s|| for linear. :func:`target_sketch`
returns E with the centres; the benchmark measures the
actual loss, which is far below E.

The centres: Lloyd's k-means (``iterations`` rounds on a uniform subsample of
``sample_per_centre`` rows per centre, from K distinct random rows), then one assignment of
every target to the nearest centre, which fixes the weights and E. ``method="sample"`` instead
takes K uniform random targets, each weighted by the weight of the targets nearest to it.
Time O(iterations * min(T, sample_per_centre K) K d + T K d); memory O(T d) for the input
plus O((K + chunk) d + chunk K), never T x T. Deterministic for a given ``seed``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.kernels import Kernel

SKETCH_METHODS = ("kmeans", "sample")
CHUNK = 8192  # rows assigned per jitted call


class TargetSketch(NamedTuple):
    """``centres`` (K, d) float32, ``weights`` (K,) float32 (summing to the targets' total weight),
    ``quantization`` = sum_x w_x ||x - c(x)|| (multiply by the kernel's Lipschitz constant for the
    error bound E, see :func:`sketch_bound`), ``labels`` (T,) int32 each target's centre."""

    centres: np.ndarray
    weights: np.ndarray
    quantization: float
    labels: np.ndarray


@functools.partial(jax.jit, static_argnames=("k",))
def _assign_chunk(x: jax.Array, w: jax.Array, c: jax.Array, *, k: int):
    """Nearest centre of each row of ``x`` (chunk, d); per-centre weighted sums, weights, and sum w ||x - c||."""
    c_sq = jnp.sum(c * c, axis=1)
    x_sq = jnp.sum(x * x, axis=1)
    score = c_sq[None, :] - 2.0 * jnp.matmul(x, c.T, precision=jax.lax.Precision.HIGHEST)
    lab = jnp.argmin(score, axis=1).astype(jnp.int32)
    dist = jnp.sqrt(jnp.maximum(x_sq + jnp.min(score, axis=1), 0.0))
    sums = jax.ops.segment_sum(x * w[:, None], lab, num_segments=k)
    mass = jax.ops.segment_sum(w, lab, num_segments=k)
    return lab, sums, mass, jnp.sum(w * dist)


def _assign(x: np.ndarray, w: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Every row's centre (chunk by chunk, the last one zero-weight padded): labels, sums, masses, quantization."""
    k, cj = c.shape[0], jnp.asarray(c)
    rows = min(CHUNK, x.shape[0])
    labels = np.empty(x.shape[0], np.int32)
    sums, mass, quant = np.zeros(c.shape, np.float64), np.zeros(k, np.float64), 0.0
    for i in range(0, x.shape[0], rows):  # a Python loop over chunks; each chunk is one jitted call
        xb, wb = np.asarray(x[i : i + rows], np.float32), w[i : i + rows]
        pad = rows - xb.shape[0]
        if pad:
            xb, wb = np.pad(xb, ((0, pad), (0, 0))), np.pad(wb, (0, pad))
        lab, s, m, q = _assign_chunk(jnp.asarray(xb), jnp.asarray(wb), cj, k=k)
        labels[i : i + rows - pad] = np.asarray(lab)[: rows - pad]
        sums += np.asarray(s, np.float64)
        mass += np.asarray(m, np.float64)
        quant += float(q)
    return labels, sums, mass, quant


def target_sketch(
    targets: Any,
    size: int,
    *,
    target_weights: Any = None,
    method: str = "kmeans",
    seed: int = 0,
    iterations: int = 8,
    sample_per_centre: int = 32,
    normalize: bool = False,
) -> TargetSketch:
    """K = ``size`` weighted centres standing for the rows of ``targets`` (T, d).

    ``method``: "kmeans" (default; Lloyd on a subsample, then one full assignment) or "sample"
    (K uniform rows as centres). ``target_weights`` (T,) default ones. ``normalize``: sketch the
    unit-normalised rows (for the cosine kernel). Empty clusters are dropped, so K may come out
    smaller. Time O(iterations min(T, sample_per_centre K) K d + T K d); memory O(T d + K d +
    8192 K). See the module docstring for the error bound.
    """
    x = checks.features(targets, "targets")
    t = x.shape[0]
    size = checks.budget(size, t, "targets_sketch")
    checks.choice(method, SKETCH_METHODS, "method")
    iterations = checks.positive_int(iterations, "iterations")
    w = checks.weights(target_weights, t, "target_weights").astype(np.float32)
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30).astype(x.dtype)
    rng = np.random.default_rng(seed)
    c = np.asarray(x[np.sort(rng.choice(t, size, replace=False))], np.float32)
    if method == "kmeans" and size < t:
        sub = np.sort(
            rng.choice(t, min(t, checks.positive_int(sample_per_centre, "sample_per_centre") * size), replace=False)
        )
        xs, ws = np.asarray(x[sub], np.float32), w[sub]
        for _ in range(iterations):
            _, sums, mass, _ = _assign(xs, ws, c)
            full = mass > 0
            c[full] = (sums[full] / mass[full, None]).astype(np.float32)  # an empty cluster keeps its centre
    labels, _, mass, quant = _assign(x, w, c)
    keep = mass > 0
    remap = np.cumsum(keep) - 1
    return TargetSketch(c[keep], mass[keep].astype(np.float32), float(quant), remap[labels].astype(np.int32))


def lipschitz(kernel: Kernel, candidates: np.ndarray) -> float:
    """The kernel's Lipschitz constant in its first argument over ``candidates``' similarities."""
    if kernel.name == "rbf":
        return 1.0 / (float(kernel.bandwidth) * math.sqrt(math.e))
    if kernel.name == "cosine":
        return 2.0  # per unit of ||x/|x| - c||: see the module docstring
    return float(np.sqrt(np.max(np.einsum("ij,ij->i", candidates, candidates))))


def sketch_bound(sketch: TargetSketch, kernel: Kernel, candidates: np.ndarray) -> float:
    """E = L * sum_x w_x ||x - c(x)||: |F(S) - F~(S)| <= E for every subset S (module docstring)."""
    return lipschitz(kernel, candidates) * sketch.quantization
