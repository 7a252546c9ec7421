"""Lazy greedy's machinery: the first pass that bounds every gain, the float16 bound cache, and
the rounds that re-evaluate stale bounds until a fresh gain beats every bound left.

Gains only shrink as picks are added, so a stale gain is an upper bound. Per pick, each round
either evaluates the B largest stale bounds exactly (``block`` columns, the width every deciding
gain is computed in) or, with the cache, first tightens the largest bounds from their float16
rows in O(T) each. A pick is accepted once its fresh gain is at least every stale bound left
(lowest index on equality): the same picks as naive greedy.

Bounds computed in another shape, or from float16, are inflated by a relative 2**-10 (far
above float32 summation error), so they never decide a pick, only which candidates get
evaluated. Each round marks at least one more candidate as evaluated or tightened, so a pick
takes at most 2 N rounds; :func:`lazy_pick` stops and reports a stall when a round marks nothing
new or that bound is reached (only NaN similarities can cause either) instead of looping forever.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from kcover.selection.similarity import (
    FeatureSimilarity,
    Similarity,
    all_gains,
    covered,
    first_best,
    gains,
    max_first,
    psum,
)

INFLATE = 1.0 + 2.0**-10  # upper bounds computed in another shape or in float16 are scaled by this
PASS_WIDTH = 256  # the first pass evaluates at least this many candidates per call (CPU: 256 beat 512)
SYMMETRIC_WIDTH = 512  # the symmetric pass's tiles are (W, W) (CPU: 512 beat 256, 384 and 768)
SYMMETRIC_UNROLL = 2  # tiles per iteration of the symmetric pass's loop (CPU: 2 beat 1, 4 no better)
CACHE_CHUNK = 32  # cache rows gathered and summed together in a CPU cache round, on two cores or more
CACHE_CHUNK_ONE_CORE = 8  # the same on one core


def cpu_cores() -> int:
    """Cores this process may run on: its CPU affinity where the system reports one."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cache_chunk() -> int:
    """Cache rows a CPU cache round gathers and sums together: ``CACHE_CHUNK``, large enough for
    XLA's CPU runtime to split the widening and the sum across cores, or ``CACHE_CHUNK_ONE_CORE``
    on one core, where it measured faster (benchmarks/README.md)."""
    return CACHE_CHUNK if cpu_cores() > 1 else CACHE_CHUNK_ONE_CORE


def round_up_f16(s: jax.Array) -> jax.Array:
    """float16 values >= ``s`` (for |s| < 65504).

    Rounding to nearest moves a value down by at most half a float16 step: 2**-11 relative for
    normal numbers, 2**-25 absolute for subnormal ones; the nudge up is larger than both.
    """
    return (s + jnp.abs(s) * 2.0**-10 + 2.0**-24).astype(jnp.float16)


def transpose_f16(t: jax.Array) -> jax.Array:
    """``t.T`` for a (W, W) float16 tile, W even, moved as 32-bit pairs.

    XLA's CPU transpose moves one element at a time (about 0.5 G elements/s, and the symmetric
    pass transposes half the cache); packing rows 2m and 2m + 1 into one uint32 per column
    halves the elements moved, and the packing itself is elementwise (vectorised).
    """
    width = t.shape[0]
    if width % 2:
        return t.T
    u = jax.lax.bitcast_convert_type(t, jnp.uint16).astype(jnp.uint32).reshape(width // 2, 2, width)
    pairs = u[:, 0] | (u[:, 1] << 16)  # (W/2, W): pairs[m, c] holds t[2m, c] (low half) and t[2m+1, c]
    halves = jax.lax.bitcast_convert_type(pairs.T, jnp.uint16)  # (W, W/2, 2): low half first
    return jax.lax.bitcast_convert_type(halves.reshape(width, width), jnp.float16)


def bound_pass(
    src: FeatureSimilarity, w: jax.Array, cur: jax.Array, width: int, cache: bool, axis_name: str | None
) -> tuple[jax.Array, jax.Array | None]:
    """Upper bounds (N,) on every gain, ``width`` candidates per call; and the float16 cache.

    The cache is (ceil(N / width) * width, T) float16, row i >= sim(candidate i, targets).
    """
    n = src.n_candidates
    nb = -(-n // width)

    def one(i):
        idx = jnp.minimum(i * width + jnp.arange(width, dtype=jnp.int32), n - 1)
        s = src.rows(idx)
        g = covered(s, w, cur, 1, axis_name)
        return g, (round_up_f16(s) if cache else None)

    g, q = jax.lax.map(one, jnp.arange(nb, dtype=jnp.int32))
    bounds = g.reshape(-1)[:n] * INFLATE
    return bounds, (None if q is None else q.reshape(nb * width, q.shape[-1]))


def symmetric_bound_pass(
    src: FeatureSimilarity, w: jax.Array, cur: jax.Array, width: int, cache: bool
) -> tuple[jax.Array, jax.Array | None]:
    """:func:`bound_pass` when the targets are the candidates: each pair of blocks once.

    The similarity is symmetric, so one (width, width) tile gives the gains of its row block
    over the column block's targets and of its column block over the row block's targets. The
    cache is (P, P) float16 for P = ceil(N / width) * width (its extra columns are zero-weight).
    """
    x = src.candidates
    n = x.shape[0]
    nb = -(-n // width)
    npad = nb * width
    xp = jnp.pad(x, ((0, npad - n), (0, 0)))
    wp = jnp.pad(w, (0, npad - n))
    cp = jnp.pad(cur, (0, npad - n))
    rows, cols = np.triu_indices(nb)
    pairs = jnp.asarray(np.stack([rows, cols], 1), jnp.int32)

    def body(p, carry):
        g, q = carry
        a, b = pairs[p, 0] * width, pairs[p, 1] * width
        s = src.between(jax.lax.dynamic_slice_in_dim(xp, a, width), jax.lax.dynamic_slice_in_dim(xp, b, width))
        wa, wb = jax.lax.dynamic_slice_in_dim(wp, a, width), jax.lax.dynamic_slice_in_dim(wp, b, width)
        ca, cb = jax.lax.dynamic_slice_in_dim(cp, a, width), jax.lax.dynamic_slice_in_dim(cp, b, width)
        ga = covered(s, wb, cb, 1, None)  # row block a as candidates, column block b as targets
        gb = jnp.where(a == b, 0.0, covered(s, wa, ca, 0, None))  # and the other way round
        g = jax.lax.dynamic_update_slice_in_dim(g, jax.lax.dynamic_slice_in_dim(g, a, width) + ga, a, 0)
        g = jax.lax.dynamic_update_slice_in_dim(g, jax.lax.dynamic_slice_in_dim(g, b, width) + gb, b, 0)
        if q is not None:
            t = round_up_f16(s)
            q = jax.lax.dynamic_update_slice(q, transpose_f16(t), (b, a))
            q = jax.lax.dynamic_update_slice(q, t, (a, b))
        return g, q

    q0 = jnp.zeros((npad, npad), jnp.float16) if cache else None
    # unrolled: XLA's CPU runtime overlaps one tile's product and transpose with the next's
    g, q = jax.lax.fori_loop(0, pairs.shape[0], body, (jnp.zeros(npad, w.dtype), q0), unroll=SYMMETRIC_UNROLL)
    return g[:n] * INFLATE, q


def pass_width(n: int, block: int, symmetric: bool) -> int:
    """Candidates per call of the first pass over ``n`` candidates: the symmetric pass's tile side
    or the plain pass's row block (at least ``block``, at most ``n``)."""
    return min(n, max(block, SYMMETRIC_WIDTH if symmetric else PASS_WIDTH))


def uses_symmetric_pass(n: int, block: int) -> bool:
    """Whether a first pass over ``n`` candidates that are also the targets takes the symmetric
    route: when it spans more than one (W, W) tile."""
    return -(-n // pass_width(n, block, symmetric=True)) > 1


def first_bounds(
    src: Similarity, w: jax.Array, cur: jax.Array, block: int, cache: bool, axis_name: str | None
) -> tuple[jax.Array, jax.Array | None, int]:
    """Bounds (N,) on every gain before the first pick, the cache (or None), and the similarity
    columns that cost (a static count). Picks the symmetric pass when it applies."""
    n = src.n_candidates
    if not isinstance(src, FeatureSimilarity):
        return all_gains(src, w, cur, block, axis_name), None, -(-n // block) * block
    if src.symmetric and axis_name is None and uses_symmetric_pass(n, block):
        width = pass_width(n, block, symmetric=True)
        nb = -(-n // width)
        bounds, q = symmetric_bound_pass(src, w, cur, width, cache)
        return bounds, q, (nb * (nb + 1) // 2) * width * width // n  # T = n similarities a column
    width = pass_width(n, block, symmetric=False)
    bounds, q = bound_pass(src, w, cur, width, cache, axis_name)
    return bounds, q, -(-n // width) * width


def cache_bounds(q: jax.Array, idx: jax.Array, w: jax.Array, cur: jax.Array, axis_name: str | None) -> jax.Array:
    """Upper bounds (len(idx),) on the gains of the candidates ``idx`` from their cached rows.

    ``q`` is the (P, T') float16 cache. On the CPU the rows are gathered :func:`cache_chunk` at a
    time: a gathered chunk is widened and summed while it is still in the processor's cache,
    which reads rows faster than gathering all of them first (benchmarks/README.md). On an
    accelerator, where a loop of small steps would serialize, they are gathered at once.
    """
    pad = q.shape[1] - cur.shape[0]  # the symmetric pass's cache has zero-weight padding columns
    if pad:
        w, cur = jnp.pad(w, (0, pad)), jnp.pad(cur, (0, pad))
    m = idx.shape[0]
    chunk = min(cache_chunk(), m) if jax.default_backend() == "cpu" else m
    chunks = -(-m // chunk)
    ids = jnp.pad(idx, (0, chunks * chunk - m), mode="edge").reshape(chunks, chunk)
    ub = jax.lax.map(lambda j: covered(q[j].astype(cur.dtype), w, cur, 1, None), ids).reshape(-1)[:m]
    return psum(ub, axis_name) * INFLATE


def lazy_pick(
    src: Similarity,
    w: jax.Array,
    cur: jax.Array,
    selected: jax.Array,
    bounds: jax.Array,
    q: jax.Array | None,
    block: int,
    axis_name: str | None,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """One lazy pick: (index, gain, new bounds (N,), the pick's column (T,), counts (4,) int32).

    counts: similarity columns evaluated, cache rows read, rounds, and 1 if the pick stalled
    (the round bound was reached: the gains are NaN), else 0.
    """
    n = src.n_candidates
    neg_inf = jnp.array(-jnp.inf, w.dtype)
    n_small = min(n, max(block, 64))
    n_large = min(n, 4 * n_small)  # cache rounds: n_small first in a pick, then n_large
    max_rounds = 2 * n + 2

    def exact_round(s):
        bounds, fresh, ubf, best, arg, best_col, c = s
        vals = jnp.where(fresh | selected, neg_inf, bounds)
        top_vals, top_idx = jax.lax.top_k(vals, block)
        valid = top_vals > neg_inf
        g, cols = gains(src, w, cur, top_idx, axis_name)
        g = jnp.where(valid, g, neg_inf)
        bounds = bounds.at[top_idx].set(jnp.where(valid, g, bounds[top_idx]))
        fresh = fresh.at[top_idx].set(fresh[top_idx] | valid)
        gb, gi = first_best(g, top_idx, n)
        take = (gb > best) | ((gb == best) & (gi < arg))
        col = cols[:, jnp.argmax(top_idx == gi)]
        best, arg = jnp.where(take, gb, best), jnp.where(take, gi, arg)
        best_col = jnp.where(take, col, best_col)
        new = jnp.sum(valid, dtype=jnp.int32)  # every valid top candidate was unmarked before
        return (bounds, fresh, ubf, best, arg, best_col, c + jnp.array([block, 0, 1, 0], jnp.int32)), new

    def cache_round(size):
        def run(s):
            bounds, fresh, ubf, best, arg, best_col, c = s
            vals = jnp.where(fresh | selected | ubf, neg_inf, bounds)
            top_vals, top_idx = jax.lax.top_k(vals, size)
            valid = top_vals > neg_inf
            ub = cache_bounds(q, top_idx, w, cur, axis_name)
            old = bounds[top_idx]
            bounds = bounds.at[top_idx].set(jnp.where(valid, jnp.minimum(old, ub), old))
            ubf = ubf.at[top_idx].set(ubf[top_idx] | valid)
            new = jnp.sum(valid, dtype=jnp.int32)
            return (bounds, fresh, ubf, best, arg, best_col, c + jnp.array([0, size, 1, 0], jnp.int32)), new

        return run

    def body(s):
        *inner, top, rounds, _, _ = s
        if q is None:
            inner, new = exact_round(tuple(inner))
        else:
            branch = jnp.where(inner[2][top], 0, jnp.where(rounds > 0, 2, 1))
            inner, new = jax.lax.switch(branch, [exact_round, cache_round(n_small), cache_round(n_large)], tuple(inner))
        bounds, fresh, ubf, best, arg = inner[:5]
        rest_max, top = max_first(jnp.where(fresh | selected, neg_inf, bounds))
        done = (best > rest_max) | ((best == rest_max) & (arg < top))
        stuck = new == 0  # a round that marks nothing new: NaN bounds
        return (*inner, top, rounds + 1, done, stuck | (rounds + 1 >= max_rounds))

    no = jnp.zeros(n, bool)
    _, top = max_first(jnp.where(selected, neg_inf, bounds))
    init = (
        bounds,
        no,
        no,
        neg_inf,
        jnp.int32(n),
        jnp.zeros_like(cur),
        jnp.zeros(4, jnp.int32),
        top,
        jnp.int32(0),
        jnp.array(False),
        jnp.array(False),
    )
    bounds, _, _, best, arg, col, c, _, _, done, _ = jax.lax.while_loop(lambda s: ~s[-2] & ~s[-1], body, init)
    stalled = ~done
    arg = jnp.where(stalled, 0, jnp.minimum(arg, n - 1))
    best = jnp.where(stalled, jnp.nan, best)
    return arg, best, bounds.at[arg].set(neg_inf), col, c.at[3].set(stalled.astype(jnp.int32))
