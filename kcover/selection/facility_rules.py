"""Facility location's greedy loop: how each method picks, inside the shared scaffold.

One jitted function, :func:`greedy_loop`, runs k picks of a method over a similarity source
(:mod:`kcover.selection.similarity`): ``naive`` evaluates every gain, ``lazy`` re-evaluates stale bounds
(:mod:`kcover.selection.lazy`), ``stochastic`` a random sample of s = ceil((N / k) log(1 / epsilon))
candidates, and ``fixed`` (used to score a given order) one given candidate per step. The
scaffold (:mod:`kcover.selection.scaffold`) adds the initial subset, scans the picks and weighs them.
:func:`run` is the host-side wrapper every entry point shares: it calls the loop and turns the
output into a :class:`~kcover.selection.result.Selection`, checking that no gain is NaN.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kcover.selection import lazy, scaffold
from kcover.selection.result import Selection
from kcover.selection.similarity import FeatureSimilarity, Similarity, all_gains, column, first_best, gains, target_sum

METHODS = ("naive", "lazy", "stochastic")
STATIC = ("k", "method", "block", "sample", "cache", "axis_name")
COUNTS = ("similarity_columns", "cache_rows", "rounds", "stalled")


def sample_size(n: int, k: int, epsilon: float) -> int:
    """Stochastic greedy's per-step sample: ceil((n / k) * log(1 / epsilon)), at most n."""
    return int(min(n, max(1, math.ceil(n / k * math.log(1.0 / epsilon)))))


def greedy_loop(
    src: Similarity,
    w: jax.Array,
    floor: jax.Array,
    initial: jax.Array,
    order: jax.Array,
    key: jax.Array,
    *,
    k: int,
    method: str,
    block: int,
    sample: int,
    cache: bool = False,
    axis_name: str | None = None,
) -> tuple[jax.Array, ...]:
    """k greedy picks of ``method`` ("naive", "lazy", "stochastic", or "fixed": take ``order``).

    src: N candidates against T targets; w (T,) target weights; floor: the kernel's floor;
    initial (m,) int32; order (k,) int32 (``fixed`` only); key: PRNG key (``stochastic``).
    With ``axis_name`` it runs inside ``shard_map`` on one shard of the targets; every sum over
    targets is completed with ``psum``, so everything but the coverage is the same on every device.
    Returns picks (k,), gains (k,), objective (k,), weights (k,), coverage (T,), and a (4,) int32
    count: similarity columns evaluated, cache rows read, lazy rounds, stalled lazy picks.
    """
    n = src.n_candidates
    m = initial.shape[0]
    neg_inf = jnp.array(-jnp.inf, w.dtype)
    block = min(block, n)
    cache = cache and isinstance(src, FeatureSimilarity) and method == "lazy"

    state = scaffold.start(jnp.full(w.shape, floor, w.dtype), n)
    state = scaffold.add_initial(state, initial, lambda i: column(src, i, block))
    counts = jnp.array([m * block, 0, 0, 0], jnp.int32)
    bounds, q = jnp.zeros(n, w.dtype), None
    if method == "lazy":
        first, q, cost = lazy.first_bounds(src, w, state.cover, block, cache, axis_name)
        bounds = jnp.where(state.selected, neg_inf, first)
        counts = counts.at[0].add(cost)

    def pick(state, carry, i):
        bounds, counts = carry
        if method == "naive":
            g = jnp.where(state.selected, neg_inf, all_gains(src, w, state.cover, block, axis_name))
            arg = jnp.argmax(g).astype(jnp.int32)
            gain, col = g[arg], column(src, arg, block)
            counts = counts.at[0].add((-(-n // block) + 1) * block)
        elif method == "lazy":
            arg, gain, bounds, col, c = lazy.lazy_pick(src, w, state.cover, state.selected, bounds, q, block, axis_name)
            counts = counts + c
        elif method == "stochastic":
            scores = jax.random.uniform(jax.random.fold_in(key, i), (n,))
            _, idx = jax.lax.top_k(jnp.where(state.selected, -1.0, scores), sample)
            g, cols = gains(src, w, state.cover, idx, axis_name)
            g = jnp.where(state.selected[idx], neg_inf, g)
            gain, arg = first_best(g, idx, n)
            col = cols[:, jnp.argmax(idx == arg)]
            counts = counts.at[0].add(sample)
        else:  # fixed order: one column per pick, its gain and update from the same evaluation
            arg = order[i]
            g, cols = gains(src, w, state.cover, arg[None], axis_name)
            gain, col = g[0], cols[:, 0]
            counts = counts.at[0].add(1)
        return arg, gain, col, (bounds, counts)

    state, (_, counts), (picks, gains_, objective) = scaffold.scan_picks(
        state, (bounds, counts), k, pick, lambda s: target_sum(w * (s.cover - floor), 0, axis_name), m
    )
    weights = scaffold.pick_weights(state.assign, w, m, k)
    if axis_name is not None:
        weights = jax.lax.psum(weights, axis_name)
    return picks, gains_, objective, weights, state.cover, counts


greedy_jit = jax.jit(greedy_loop, static_argnames=STATIC)


@functools.partial(jax.jit, static_argnames=("block",))
def coverage_value(src: Similarity, w: jax.Array, floor: jax.Array, idx: jax.Array, block: int) -> jax.Array:
    """F(S) = sum_t w_t (max(floor, max_{j in S} s(t, j)) - floor) for S = ``idx`` (m,), a scalar.

    ``block`` columns per call (S is padded with its first index, which leaves the max unchanged):
    ceil(m / block) wide products instead of the m one-column steps of the ``fixed`` loop, for
    when only the value is wanted. Time O(m T d), memory O(T block).
    """
    m = idx.shape[0]
    ids = jnp.concatenate([idx, jnp.full(((-m) % block,), idx[0], idx.dtype)]).reshape(-1, block)

    def body(cover, b):
        return jnp.maximum(cover, jnp.max(src.columns(b), axis=1)), None

    cover, _ = jax.lax.scan(body, jnp.full(w.shape, floor, w.dtype), ids)
    return jnp.sum(w * (cover - floor))


def to_selection(out: tuple[Any, ...], method: str, info: dict[str, Any], t_real: int | None = None) -> Selection:
    """The loop's device output as a :class:`Selection`; raises if a gain is NaN or a pick stalled."""
    picks, gains_, objective, weights, cur, counts = (np.asarray(a) for a in out)
    stats = dict(zip(COUNTS, (int(c) for c in counts)))
    if stats.pop("stalled") or np.isnan(gains_).any():
        raise ValueError(
            "features: the similarities are NaN for some pairs, so the greedy gains are undefined; "
            "check for values whose products overflow float32, or use kernel='rbf' or 'cosine'"
        )
    info = {**info, **stats}
    return Selection(
        picks.astype(np.int32), gains_, objective, weights, cur if t_real is None else cur[:t_real], method, info
    )


def run(
    src: Similarity,
    w: np.ndarray,
    floor: float,
    k: int,
    *,
    method: str,
    initial: np.ndarray,
    order: np.ndarray | None = None,
    epsilon: float = 0.1,
    seed: int = 0,
    block: int,
    cache: bool = False,
    info: dict[str, Any] | None = None,
) -> Selection:
    """Run the jitted loop on one device; the selection, its work counts in ``info``."""
    n = src.n_candidates
    sample = sample_size(n, k, epsilon) if method == "stochastic" else 1
    out = greedy_jit(
        src,
        jnp.asarray(w),
        jnp.asarray(floor, w.dtype),
        jnp.asarray(initial, jnp.int32),
        jnp.zeros(k, jnp.int32) if order is None else jnp.asarray(order, jnp.int32),
        jax.random.key(seed),
        k=k,
        method=method,
        block=int(block),
        sample=sample,
        cache=bool(cache),
    )
    return to_selection(out, method, {"block": int(block), "cache": bool(cache), **(info or {})})
