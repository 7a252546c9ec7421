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

from kcover import _checks
from kcover.kernels import Kernel, make_kernel, squared_distance
from kcover.result import Selection


@functools.partial(jax.jit, static_argnames=("k",))
def _kcenter(kernel: Kernel, x: jax.Array, initial: jax.Array, first: jax.Array, *, k: int):
    n = x.shape[0]
    m = initial.shape[0]
    mind = jnp.full(n, jnp.inf, x.dtype)
    assign = jnp.full(n, -1, jnp.int32)
    selected = jnp.zeros(n, bool)

    def apply(state, idx, pos):
        mind, assign, selected = state
        d2 = squared_distance(kernel, x, x[idx][None])[:, 0]
        closer = d2 < mind
        return jnp.where(closer, d2, mind), jnp.where(closer, pos, assign), selected.at[idx].set(True)

    state = (mind, assign, selected)
    if m:
        state = jax.lax.fori_loop(0, m, lambda i, s: apply(s, initial[i], i.astype(jnp.int32)), state)

    def step(state, i):
        mind, assign, selected = state
        far = jnp.where(selected, -1.0, mind)
        arg = jnp.argmax(far).astype(jnp.int32)
        arg = jnp.where((i == 0) & (m == 0), first, arg)
        gain = jnp.sqrt(mind[arg])
        state = apply(state, arg, m + i)
        return state, (arg, gain, jnp.sqrt(jnp.max(state[0])))

    (mind, assign, _), (picks, gains, radius) = jax.lax.scan(step, state, jnp.arange(k, dtype=jnp.int32))
    seg = jnp.where(assign < 0, m + k, assign)
    weights = jax.ops.segment_sum(jnp.ones(n, x.dtype), seg, num_segments=m + k + 1)[m : m + k]
    return picks, gains, radius, weights, jnp.sqrt(mind)


def k_center(
    features: Any,
    k: int,
    *,
    kernel: str | Kernel = "linear",
    bandwidth: float | None = None,
    initial: Any = None,
    seed: int = 0,
) -> Selection:
    """Greedy k-center on the pool ``features`` (N, d).

    ``kernel`` sets the metric (default linear: Euclidean distance). ``objective`` holds the
    covering radius after each pick, ``gains`` each pick's distance to the earlier centers
    (inf for a first center), ``weights`` the number of pool points nearest to each pick,
    ``coverage`` (N,) each point's distance to its nearest center.
    """
    x = _checks.features(features, "features")
    init = _checks.indices(initial, x.shape[0], "initial")
    k = _checks.budget(k, x.shape[0] - init.size)
    kern = make_kernel(kernel, bandwidth, x)
    first = np.random.default_rng(seed).integers(x.shape[0])
    out = _kcenter(kern, jnp.asarray(x), jnp.asarray(init), jnp.int32(first), k=k)
    picks, gains, radius, weights, dist = (np.asarray(a) for a in out)
    return Selection(picks.astype(np.int32), gains, radius, weights, dist, "kcenter")
