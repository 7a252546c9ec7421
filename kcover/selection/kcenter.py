"""Greedy k-center (Gonzalez 1985) in the kernel-induced metric.

d(x, y)^2 = k(x, x) + k(y, y) - 2 k(x, y) (see :mod:`kcover.kernels`). Each step adds the pool
point farthest from the chosen centers (ties to the lowest index); the covering radius
max_x min_s d(x, s) is within 2x of the optimum. Without an initial subset the first center is
drawn uniformly with ``seed``. Time O(k N d), memory O(N d): one distance column per step.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.kernels import Kernel, make_kernel, power_of_two_scale, squared_distance
from kcover.selection import scaffold
from kcover.selection.result import Selection

DEFAULT_KERNEL = "linear"  # Euclidean distance: rbf distances saturate for far points and tie


@functools.partial(jax.jit, static_argnames=("k",))
def _kcenter(kernel: Kernel, x: jax.Array, initial: jax.Array, first: jax.Array, *, k: int):
    n = x.shape[0]
    m = initial.shape[0]

    def column(idx):
        return squared_distance(kernel, x, x[idx][None])[:, 0]

    def pick(state, carry, i):
        arg = jnp.argmax(jnp.where(state.selected, -1.0, state.cover)).astype(jnp.int32)
        arg = jnp.where((i == 0) & (m == 0), first, arg)
        return arg, jnp.sqrt(state.cover[arg]), column(arg), carry

    state = scaffold.start(jnp.full(n, jnp.inf, x.dtype), n)
    state = scaffold.add_initial(state, initial, column, jnp.less)
    state, _, (picks, gains, radius) = scaffold.scan_picks(
        state, None, k, pick, lambda s: jnp.sqrt(jnp.max(s.cover)), m, jnp.less
    )
    weights = scaffold.pick_weights(state.assign, jnp.ones(n, x.dtype), m, k)
    return picks, gains, radius, weights, jnp.sqrt(state.cover)


def k_center(
    features: Any,
    k: int,
    *,
    kernel: str | Kernel = DEFAULT_KERNEL,
    bandwidth: float | None = None,
    initial: Any = None,
    seed: int = 0,
) -> Selection:
    """Greedy k-center on the pool ``features`` (N, d).

    ``kernel`` sets the metric (default linear: Euclidean distance, the same default as
    :func:`kcover.select` and ``kcover select`` use for k-center). ``objective`` holds the
    covering radius after each pick, ``gains`` each pick's distance to the earlier centers
    (inf for a first center), ``weights`` the number of pool points nearest to each pick,
    ``coverage`` (N,) each point's distance to its nearest center.
    """
    x = checks.features(features, "features")
    init = checks.indices(initial, x.shape[0], "initial")
    k = checks.budget(k, x.shape[0] - init.size)
    kern = make_kernel(kernel, bandwidth, x)
    # features divided by a power of two (exact), so squared distances cannot overflow float32;
    # rbf and cosine distances are unchanged by it, linear ones are scaled back at the end
    scale = power_of_two_scale(x)
    x = x / np.asarray(scale, x.dtype)
    if kern.name == "rbf":
        kern = Kernel("rbf", float(kern.bandwidth) / scale)
    first = np.random.default_rng(seed).integers(x.shape[0])
    out = _kcenter(kern, jnp.asarray(x), jnp.asarray(init), jnp.int32(first), k=k)
    picks, gains, radius, weights, dist = (np.asarray(a) for a in out)
    if kern.name == "linear":
        gains, radius, dist = gains * scale, radius * scale, dist * scale
    return Selection(picks.astype(np.int32), gains, radius, weights, dist, "kcenter")
