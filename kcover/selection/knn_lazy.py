"""Lazy greedy on the sparse kNN similarity, reading the lists candidate by candidate.

The kNN lists are stored per target (each target's m nearest candidates, (T, m)). A candidate's
gain sums over the targets that list it, so naive greedy scatter-adds all T m entries at every
pick: O(k T m). Here the entries are regrouped by candidate once (:func:`by_candidate`, a
stable sort: O(T m log(T m))), and lazy greedy re-evaluates only the candidates whose stale
gain is the largest, each in O(its in-degree), ``batch`` at a time.

Exactness: every gain that decides a pick is computed by :func:`batch_gains`, which sums a
candidate's entries in the same order, in chunks of the same shape, whatever batch it is in.
Each entry's contribution w_t max(v - cover_t, 0) only shrinks as the coverage grows, and
rounding is monotone, so a gain computed earlier is an upper bound on the same gain computed
later: lazy greedy then picks exactly what naive greedy with this gain function picks (ties
to the lowest index). The first pass sums the entries in another way (``segment_sum``); its
bounds are inflated by more than the summation error of any order (``deg * 2**-22`` relative,
for nonnegative terms), so they only decide which candidates get evaluated.

Time: the regrouping, one O(T m) first pass, then per pick O(T + N) for the coverage update,
and per round O(N) for choosing the largest stale bounds plus O(batch * in-degree) for their
gains. Memory O(T m + N + T).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover.selection import scaffold
from kcover.selection.similarity import first_best, max_first

BATCH = 32  # candidates evaluated per round
CHUNK = 32  # entries per candidate gathered per step (the default m: most candidates take one)


class CandidateLists(NamedTuple):
    """The kNN entries grouped by candidate: candidate j's entries are ``start[j]:start[j + 1]``
    of ``targets`` (E,) int32 and ``values`` (E,); ``start`` is (N + 1,) int32. NumPy arrays from
    :func:`by_candidate`, device arrays inside :func:`knn_lazy_greedy`."""

    start: np.ndarray | jax.Array
    targets: np.ndarray | jax.Array
    values: np.ndarray | jax.Array


def by_candidate(indices: np.ndarray, values: np.ndarray, n: int) -> CandidateLists:
    """Regroup per-target lists (T, m) (candidate ``indices``, similarity ``values``) by
    candidate: a stable sort, so each candidate's targets stay in increasing order."""
    t, m = indices.shape
    if t * m >= 2**31:
        raise ValueError(f"similarity: {t} x {m} kNN entries do not fit int32 offsets; use fewer neighbours")
    flat = indices.reshape(-1)
    order = np.argsort(flat, kind="stable")
    start = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(flat, minlength=n), out=start[1:])
    return CandidateLists(
        start.astype(np.int32), (order // m).astype(np.int32), values.reshape(-1)[order].astype(values.dtype)
    )


def batch_gains(
    lists: CandidateLists, w: jax.Array, cover: jax.Array, cand: jax.Array, chunk: int = CHUNK
) -> jax.Array:
    """Exact gains (B,) of the candidates ``cand`` (B,) given ``cover`` (T,) and weights ``w`` (T,).

    Each candidate's entries are summed ``chunk`` at a time, in their stored order; a chunk past
    a candidate's end adds exact zeros, so the result does not depend on the batch.
    """
    lo, hi = lists.start[cand], lists.start[cand + 1]
    steps = jnp.max(-(-(hi - lo) // chunk))
    offs = jnp.arange(chunk, dtype=jnp.int32)

    def body(c, total):
        pos = lo[:, None] + c * chunk + offs
        ok = pos < hi[:, None]
        p = jnp.where(ok, pos, 0)
        t = lists.targets[p]
        contrib = jnp.maximum(lists.values[p] - cover[t], 0.0) * w[t]
        return total + jnp.sum(jnp.where(ok, contrib, 0.0), axis=1)

    return jax.lax.fori_loop(0, steps, body, jnp.zeros(cand.shape, w.dtype))


def pick_column(lists: CandidateLists, j: jax.Array, floor: jax.Array, t: int, chunk: int = CHUNK) -> jax.Array:
    """Candidate ``j``'s similarity to every target (T,): its listed values, ``floor`` elsewhere."""
    lo, hi = lists.start[j], lists.start[j + 1]
    offs = jnp.arange(chunk, dtype=jnp.int32)

    def body(c, col):
        pos = lo + c * chunk + offs
        ok = pos < hi
        p = jnp.where(ok, pos, 0)
        return col.at[lists.targets[p]].max(jnp.where(ok, lists.values[p], floor))

    return jax.lax.fori_loop(0, -(-(hi - lo) // chunk), body, jnp.full((t,), floor, lists.values.dtype))


def first_bounds(lists: CandidateLists, w: jax.Array, cover: jax.Array, n: int) -> jax.Array:
    """Upper bounds (N,) on every candidate's gain, in one pass over all entries."""
    seg = jnp.repeat(jnp.arange(n, dtype=jnp.int32), jnp.diff(lists.start), total_repeat_length=lists.targets.shape[0])
    contrib = jnp.maximum(lists.values - cover[lists.targets], 0.0) * w[lists.targets]
    g = jax.ops.segment_sum(contrib, seg, num_segments=n, indices_are_sorted=True)
    deg = jnp.diff(lists.start).astype(w.dtype)
    return g * (1.0 + (deg + 1.0) * 2.0**-22)


def lazy_pick(
    lists: CandidateLists, w: jax.Array, cover: jax.Array, selected: jax.Array, bounds: jax.Array, batch: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One pick: (index, exact gain, new bounds (N,)). Rounds evaluate the ``batch`` largest stale
    bounds until a fresh gain is at least every stale bound left (lowest index on equality)."""
    n = bounds.shape[0]
    neg_inf = jnp.array(-jnp.inf, w.dtype)
    batch = min(batch, n)

    def round_(s):
        bounds, fresh, best, arg, _, _ = s
        top_vals, top_idx = jax.lax.top_k(jnp.where(fresh | selected, neg_inf, bounds), batch)
        valid = top_vals > neg_inf
        g = jnp.where(valid, batch_gains(lists, w, cover, top_idx), neg_inf)
        bounds = bounds.at[top_idx].set(jnp.where(valid, g, bounds[top_idx]))
        fresh = fresh.at[top_idx].set(fresh[top_idx] | valid)
        gb, gi = first_best(g, top_idx, n)
        take = (gb > best) | ((gb == best) & (gi < arg))
        best, arg = jnp.where(take, gb, best), jnp.where(take, gi, arg)
        rest, top = max_first(jnp.where(fresh | selected, neg_inf, bounds))
        done = (best > rest) | ((best == rest) & (arg < top))
        return bounds, fresh, best, arg, done, jnp.any(valid)

    init = (bounds, jnp.zeros(n, bool), neg_inf, jnp.int32(n), jnp.array(False), jnp.array(True))
    bounds, _, best, arg, _, _ = jax.lax.while_loop(lambda s: ~s[4] & s[5], round_, init)
    arg = jnp.minimum(arg, n - 1)  # no candidate left to evaluate (NaN gains): a defined index
    return arg, best, bounds.at[arg].set(neg_inf)


@functools.partial(jax.jit, static_argnames=("k", "batch"))
def knn_lazy_greedy(
    lists: CandidateLists, w: jax.Array, floor: jax.Array, initial: jax.Array, *, k: int, batch: int = BATCH
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """Lazy greedy on the regrouped kNN lists: (picks (k,), gains (k,), objective (k,),
    weights (k,), coverage (T,)). ``initial`` (m,) are added first, in order."""
    n, t = lists.start.shape[0] - 1, w.shape[0]

    def column(j):
        return pick_column(lists, j, floor, t)

    m = initial.shape[0]
    state = scaffold.add_initial(scaffold.start(jnp.full((t,), floor, w.dtype), n), initial, column)
    bounds = jnp.where(state.selected, -jnp.inf, first_bounds(lists, w, state.cover, n))

    def pick(state, bounds, i):
        arg, gain, bounds = lazy_pick(lists, w, state.cover, state.selected, bounds, batch)
        return arg, gain, column(arg), bounds

    state, _, (picks, gains, objective) = scaffold.scan_picks(
        state, bounds, k, pick, lambda s: jnp.sum(w * (s.cover - floor)), m
    )
    return picks, gains, objective, scaffold.pick_weights(state.assign, w, m, k), state.cover
