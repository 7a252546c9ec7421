"""Greedy facility location: naive, lazy and stochastic, dense or matrix-free.

The objective, for targets x with weights w_x, candidates s, and a kernel with floor f
(see :mod:`kcover.kernels`)::

    F(S) = sum_x w_x * (max(f, max_{s in S} sim(x, s)) - f),     F({}) = 0.

F is monotone and submodular whenever every similarity is >= f; a similarity below the floor
is an error. Targets default to the candidate pool; a separate target set (a validation set,
the paper's D) and target weights are accepted.

Greedy picks argmax_i F(S + i) - F(S); **ties go to the lowest candidate index**. Three methods
(N candidates, T targets, d features, k picks, B = ``block``):

* ``naive``: every step evaluates every gain. Time O(k N T d) matrix-free, O(k N T) dense.
* ``lazy`` (Minoux): gains only shrink, so stale gains are upper bounds. A first pass bounds
  every gain; each round then re-evaluates the B largest stale bounds in one jitted call and
  accepts the best fresh gain once it is at least every stale bound left (index order on
  equality). Same picks as ``naive``. Time O(N T d) for the first pass (half of it when the
  targets are the pool: each pair of blocks is evaluated once) plus O(B T d) per round;
  the number of rounds depends on the data (on flat kernels, several N / B in all).
  With ``cache=True`` the first pass also keeps every similarity as a float16 rounded up
  (N T 2 bytes): a stale bound is then first tightened from the cache in O(T) without the
  kernel, and only the candidates whose tightened bound still leads are evaluated exactly.
* ``stochastic`` (Mirzasoleiman et al. 2015): each step evaluates a uniform random sample of
  s = ceil((N / k) log(1 / epsilon)) unselected candidates. Time O(N T d log(1/epsilon)).

Memory (matrix-free): features O((N + T) d), O(N + T) state, and one (T, max(B, 256)) block of
similarities at a time; never N x T (``cache=True`` adds N T float16 and reads (4 max(B, 64), T)
rows of it at a time on an accelerator, 8 at a time on the CPU). The dense path holds the given (T, N) matrix. Everything runs in one jitted ``lax.scan`` over the k picks, on whatever
device JAX uses; deterministic for a given seed. :mod:`kcover.sharding` runs the same loop with
the targets sharded over devices.

Exactness. Every gain that decides a pick is evaluated in calls of one width B, which keeps
floating-point rounding identical across methods (a matrix product's rounding depends on its
shape, not on a column's position in it). The lazy first pass and the cache only give upper
bounds; they are evaluated in other shapes (or float16), so they are inflated by a relative
2**-10 before use, far above float32 summation error: they never decide a pick, only which
candidates get evaluated. (A gain is computed inside different fused XLA loops by naive and lazy
greedy, so a reported float32 gain can differ in its last bit; the picks do not.)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kcover import _checks
from kcover.kernels import Kernel, blocked_rows, make_kernel, pairwise
from kcover.result import Selection

METHODS = ("naive", "lazy", "stochastic")
PRECISIONS = {"highest": jax.lax.Precision.HIGHEST, "default": jax.lax.Precision.DEFAULT}
_INFLATE = 1.0 + 2.0**-10  # upper bounds computed in another shape or in float16 are scaled by this
_PASS_WIDTH = 256  # the lazy first pass evaluates at least this many candidates per call (CPU: 256 beat 512)
_CACHE_CHUNK = 8  # cache rows gathered and summed together in a cache round


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["targets", "candidates", "kernel"],
    meta_fields=["precision", "symmetric"],
)
@dataclasses.dataclass(frozen=True)
class FeatureSimilarity:
    """Similarities computed on the fly from features: targets (T, d), candidates (N, d).

    ``precision``: "highest" (full float32 matrix products; the default) or "default" (the
    backend's fastest: TF32/bf16 passes on a GPU, the same as "highest" on the CPU).
    ``symmetric``: the targets are the candidates (the same array), so the lazy first pass
    evaluates each pair of blocks once, half the work.
    """

    targets: jax.Array
    candidates: jax.Array
    kernel: Kernel
    precision: str = "highest"
    symmetric: bool = False

    @property
    def n_candidates(self) -> int:
        return self.candidates.shape[0]

    def columns(self, idx: jax.Array) -> jax.Array:
        """sim(targets, candidates[idx]): (T, len(idx))."""
        return pairwise(self.kernel, self.targets, self.candidates[idx], PRECISIONS[self.precision])

    def rows(self, idx: jax.Array) -> jax.Array:
        """sim(candidates[idx], targets): (len(idx), T), the layout of the first pass and cache."""
        return pairwise(self.kernel, self.candidates[idx], self.targets, PRECISIONS[self.precision])


@functools.partial(jax.tree_util.register_dataclass, data_fields=["matrix"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class DenseSimilarity:
    """A precomputed similarity matrix (T, N): rows are targets, columns candidates."""

    matrix: jax.Array

    @property
    def n_candidates(self) -> int:
        return self.matrix.shape[1]

    def columns(self, idx: jax.Array) -> jax.Array:
        """matrix[:, idx]: (T, len(idx))."""
        return jnp.take(self.matrix, idx, axis=1)


Similarity = FeatureSimilarity | DenseSimilarity


def _tsum(x: jax.Array, axis: int, axis_name: str | None) -> jax.Array:
    """Sum over the target axis; across devices too when the targets are sharded."""
    s = jnp.sum(x, axis=axis)
    return s if axis_name is None else jax.lax.psum(s, axis_name)


def _psum(x: jax.Array, axis_name: str | None) -> jax.Array:
    return x if axis_name is None else jax.lax.psum(x, axis_name)


def _covered(s: jax.Array, w: jax.Array, cur: jax.Array, target_axis: int, axis_name: str | None) -> jax.Array:
    """sum_t w_t max(s_t - cur_t, 0) along ``target_axis`` of the similarities ``s``: bounds only.

    Written as a matrix-vector product, which XLA's CPU backend vectorises better than the sum;
    its rounding may depend on a column's position, so exact gains use :func:`_gains` instead.
    """
    hi = jax.lax.Precision.HIGHEST
    if target_axis == 0:
        return _psum(jnp.matmul(w, jnp.maximum(s - cur[:, None], 0.0), precision=hi), axis_name)
    return _psum(jnp.matmul(jnp.maximum(s - cur[None, :], 0.0), w, precision=hi), axis_name)


def _gains(
    src: Similarity, w: jax.Array, cur: jax.Array, idx: jax.Array, axis_name: str | None = None
) -> tuple[jax.Array, jax.Array]:
    """Marginal gains (len(idx),) of candidates ``idx`` given coverage ``cur`` (T,), and their columns."""
    cols = src.columns(idx)
    # an elementwise sum, not a matrix product: its rounding does not depend on the column's
    # position in the call (a product's may), so a candidate's gain has the same bits in every call
    return _tsum(w[:, None] * jnp.maximum(cols - cur[:, None], 0.0), 0, axis_name), cols


def _all_gains(src: Similarity, w: jax.Array, cur: jax.Array, block: int, axis_name: str | None = None) -> jax.Array:
    """Gains of every candidate (N,), ``block`` candidates at a time."""
    n = src.n_candidates
    ids = jnp.arange(n, dtype=jnp.int32)[:, None]
    return blocked_rows(lambda b, _: _gains(src, w, cur, jnp.minimum(b[:, 0], n - 1), axis_name)[0], ids, block)


def _round_up_f16(s: jax.Array) -> jax.Array:
    """float16 values >= ``s`` (for |s| < 65504).

    Rounding to nearest moves a value down by at most half a float16 step: 2**-11 relative for
    normal numbers, 2**-25 absolute for subnormal ones; the nudge up is larger than both.
    """
    return (s + jnp.abs(s) * 2.0**-10 + 2.0**-24).astype(jnp.float16)


def _bound_pass(
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
        g = _covered(s, w, cur, 1, axis_name)
        return g, (_round_up_f16(s) if cache else None)

    g, q = jax.lax.map(one, jnp.arange(nb, dtype=jnp.int32))
    bounds = g.reshape(-1)[:n] * _INFLATE
    return bounds, (None if q is None else q.reshape(nb * width, q.shape[-1]))


def _symmetric_bound_pass(
    src: FeatureSimilarity, w: jax.Array, cur: jax.Array, width: int, cache: bool
) -> tuple[jax.Array, jax.Array | None]:
    """:func:`_bound_pass` when the targets are the candidates: each pair of blocks once.

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
    prec = PRECISIONS[src.precision]

    def body(p, carry):
        g, q = carry
        a, b = pairs[p, 0] * width, pairs[p, 1] * width
        s = pairwise(src.kernel, jax.lax.dynamic_slice_in_dim(xp, a, width),
                     jax.lax.dynamic_slice_in_dim(xp, b, width), prec)
        wa, wb = jax.lax.dynamic_slice_in_dim(wp, a, width), jax.lax.dynamic_slice_in_dim(wp, b, width)
        ca, cb = jax.lax.dynamic_slice_in_dim(cp, a, width), jax.lax.dynamic_slice_in_dim(cp, b, width)
        ga = _covered(s, wb, cb, 1, None)  # row block a as candidates, column block b as targets
        gb = jnp.where(a == b, 0.0, _covered(s, wa, ca, 0, None))  # and the other way round
        g = jax.lax.dynamic_update_slice_in_dim(g, jax.lax.dynamic_slice_in_dim(g, a, width) + ga, a, 0)
        g = jax.lax.dynamic_update_slice_in_dim(g, jax.lax.dynamic_slice_in_dim(g, b, width) + gb, b, 0)
        if q is not None:
            t = _round_up_f16(s)
            q = jax.lax.dynamic_update_slice(q, t.T, (b, a))
            q = jax.lax.dynamic_update_slice(q, t, (a, b))
        return g, q

    q0 = jnp.zeros((npad, npad), jnp.float16) if cache else None
    g, q = jax.lax.fori_loop(0, pairs.shape[0], body, (jnp.zeros(npad, w.dtype), q0))
    return g[:n] * _INFLATE, q


def _cache_bounds(
    q: jax.Array, idx: jax.Array, w: jax.Array, cur: jax.Array, axis_name: str | None
) -> jax.Array:
    """Upper bounds (len(idx),) on the gains of the candidates ``idx`` from their cached rows.

    ``q`` is the (P, T') float16 cache. On the CPU the rows are gathered ``_CACHE_CHUNK`` at a
    time: a gathered chunk stays in the processor's cache while it is widened and summed, which
    reads rows about 2.5x faster than gathering all of them first (measured at T = 30,000). On an
    accelerator, where a loop of small steps would serialize, they are gathered at once.
    """
    pad = q.shape[1] - cur.shape[0]  # the symmetric pass's cache has zero-weight padding columns
    if pad:
        w, cur = jnp.pad(w, (0, pad)), jnp.pad(cur, (0, pad))
    m = idx.shape[0]
    chunk = min(_CACHE_CHUNK, m) if jax.default_backend() == "cpu" else m
    chunks = -(-m // chunk)
    ids = jnp.pad(idx, (0, chunks * chunk - m), mode="edge").reshape(chunks, chunk)
    ub = jax.lax.map(lambda j: _covered(q[j].astype(cur.dtype), w, cur, 1, None), ids).reshape(-1)[:m]
    return _psum(ub, axis_name) * _INFLATE


def _column(src: Similarity, idx: jax.Array, block: int) -> jax.Array:
    """sim(targets, candidate idx) (T,), evaluated in a ``block``-wide call.

    A matrix product's rounding depends on its shape, not on a column's position in it, so
    evaluating every similarity in calls of one width keeps gains and coverage bit-consistent
    (and lazy greedy's picks identical to naive greedy's).
    """
    return src.columns(jnp.full((block,), idx, jnp.int32))[:, 0]


def _min_similarity(src: Similarity, block: int) -> jax.Array:
    """The smallest similarity between any target and any candidate (a scalar)."""
    n = src.n_candidates
    ids = jnp.arange(n, dtype=jnp.int32)[:, None]
    mins = blocked_rows(lambda b, _: jnp.min(src.columns(jnp.minimum(b[:, 0], n - 1)), axis=0), ids, block)
    return jnp.min(mins)


def _first_best(values: jax.Array, idx: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Largest value in ``values`` and the smallest index ``idx`` attaining it."""
    best = jnp.max(values)
    return best, jnp.min(jnp.where(values == best, idx, n)).astype(jnp.int32)


_STATIC = ("k", "method", "block", "sample", "cache", "axis_name")


def _greedy_impl(
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
    """The greedy loop. ``method`` "fixed" evaluates the given ``order`` instead.

    With ``axis_name`` it runs inside ``shard_map`` on one shard of the targets (``src.targets``,
    ``w``); every sum over targets is then completed with ``psum``, so gains, picks and
    everything else but the coverage are the same on every device.
    Returns picks, gains, objective, weights, coverage and a (3,) int32 count: similarity
    columns evaluated, cache rows read, lazy rounds.
    """
    n = src.n_candidates
    m = initial.shape[0]
    neg_inf = jnp.array(-jnp.inf, w.dtype)
    cur = jnp.full(w.shape, floor, w.dtype)
    assign = jnp.full(w.shape, -1, jnp.int32)
    selected = jnp.zeros(n, bool)
    block = min(block, n)
    matrix_free = isinstance(src, FeatureSimilarity)
    cache = cache and matrix_free and method == "lazy"

    def apply(state, idx, pos, col):
        cur, assign, selected = state
        better = col > cur
        return jnp.where(better, col, cur), jnp.where(better, pos, assign), selected.at[idx].set(True)

    state = (cur, assign, selected)
    if m:
        state = jax.lax.fori_loop(
            0, m, lambda i, s: apply(s, initial[i], i.astype(jnp.int32), _column(src, initial[i], block)), state
        )
    counts = jnp.array([m * block, 0, 0], jnp.int32)

    bounds = jnp.zeros(n, w.dtype)
    q = None
    if method == "lazy":
        if matrix_free:
            width = min(n, max(block, _PASS_WIDTH))
            nb = -(-n // width)
            if src.symmetric and axis_name is None and nb > 1:
                first, q = _symmetric_bound_pass(src, w, state[0], width, cache)
                counts = counts.at[0].add((nb * (nb + 1) // 2) * width * width // n)  # T = n similarities a column
            else:
                first, q = _bound_pass(src, w, state[0], width, cache, axis_name)
                counts = counts.at[0].add(nb * width)
        else:
            first = _all_gains(src, w, state[0], block, axis_name)
            counts = counts.at[0].add(-(-n // block) * block)
        bounds = jnp.where(state[2], neg_inf, first)
    n_small = min(n, max(block, 64))
    n_large = min(n, 4 * n_small)  # cache rounds: n_small first in a pick, then n_large

    def lazy_pick(cur, selected, bounds):
        def exact_round(s):
            bounds, fresh, ubf, best, arg, best_col, c = s
            vals = jnp.where(fresh | selected, neg_inf, bounds)
            top_vals, top_idx = jax.lax.top_k(vals, block)
            valid = top_vals > neg_inf
            g, cols = _gains(src, w, cur, top_idx, axis_name)
            g = jnp.where(valid, g, neg_inf)
            bounds = bounds.at[top_idx].set(jnp.where(valid, g, bounds[top_idx]))
            fresh = fresh.at[top_idx].set(fresh[top_idx] | valid)
            gb, gi = _first_best(g, top_idx, n)
            take = (gb > best) | ((gb == best) & (gi < arg))
            col = cols[:, jnp.argmax(top_idx == gi)]
            best, arg = jnp.where(take, gb, best), jnp.where(take, gi, arg)
            best_col = jnp.where(take, col, best_col)
            return bounds, fresh, ubf, best, arg, best_col, c + jnp.array([block, 0, 1], jnp.int32)

        def cache_round(size):
            def run(s):
                bounds, fresh, ubf, best, arg, best_col, c = s
                vals = jnp.where(fresh | selected | ubf, neg_inf, bounds)
                top_vals, top_idx = jax.lax.top_k(vals, size)
                valid = top_vals > neg_inf
                ub = _cache_bounds(q, top_idx, w, cur, axis_name)
                old = bounds[top_idx]
                bounds = bounds.at[top_idx].set(jnp.where(valid, jnp.minimum(old, ub), old))
                ubf = ubf.at[top_idx].set(ubf[top_idx] | valid)
                return bounds, fresh, ubf, best, arg, best_col, c + jnp.array([0, size, 1], jnp.int32)

            return run

        def body(s):
            *inner, rounds, _ = s
            if q is None:
                inner = exact_round(tuple(inner))
            else:
                bounds, fresh, ubf = inner[:3]
                top = jnp.argmax(jnp.where(fresh | selected, neg_inf, bounds))
                branch = jnp.where(ubf[top], 0, jnp.where(rounds > 0, 2, 1))
                inner = jax.lax.switch(branch, [exact_round, cache_round(n_small), cache_round(n_large)], tuple(inner))
            bounds, fresh, _, best, arg = inner[:5]
            rest = jnp.where(fresh | selected, neg_inf, bounds)
            rest_max, rest_arg = jnp.max(rest), jnp.argmax(rest)
            done = (best > rest_max) | ((best == rest_max) & (arg < rest_arg))
            return (*inner, rounds + 1, done)

        no = jnp.zeros(n, bool)
        init = (bounds, no, no, neg_inf, jnp.int32(n), jnp.zeros_like(cur), jnp.zeros(3, jnp.int32), jnp.int32(0),
                jnp.array(False))
        bounds, _, _, best, arg, col, c, _, _ = jax.lax.while_loop(lambda s: ~s[-1], body, init)
        return arg, best, bounds.at[arg].set(neg_inf), col, c

    def step(carry, i):
        (cur, assign, selected), bounds, counts = carry
        if method == "naive":
            g = jnp.where(selected, neg_inf, _all_gains(src, w, cur, block, axis_name))
            arg = jnp.argmax(g).astype(jnp.int32)
            gain, col = g[arg], _column(src, arg, block)
            counts = counts.at[0].add((-(-n // block) + 1) * block)
        elif method == "lazy":
            arg, gain, bounds, col, c = lazy_pick(cur, selected, bounds)
            counts = counts + c
        elif method == "stochastic":
            scores = jax.random.uniform(jax.random.fold_in(key, i), (n,))
            _, idx = jax.lax.top_k(jnp.where(selected, -1.0, scores), sample)
            g, cols = _gains(src, w, cur, idx, axis_name)
            g = jnp.where(selected[idx], neg_inf, g)
            gain, arg = _first_best(g, idx, n)
            col = cols[:, jnp.argmax(idx == arg)]
            counts = counts.at[0].add(sample)
        else:  # fixed order: one column per pick, its gain and update from the same evaluation
            arg = order[i]
            g, cols = _gains(src, w, cur, arg[None], axis_name)
            gain, col = g[0], cols[:, 0]
            counts = counts.at[0].add(1)
        cur, assign, selected = apply((cur, assign, selected), arg, m + i, col)
        obj = _tsum(w * (cur - floor), 0, axis_name)
        return ((cur, assign, selected), bounds, counts), (arg, gain, obj)

    (state, _, counts), (picks, gains, objective) = jax.lax.scan(
        step, (state, bounds, counts), jnp.arange(k, dtype=jnp.int32)
    )
    cur, assign, _ = state
    seg = jnp.where(assign < 0, m + k, assign)
    weights = jax.ops.segment_sum(w, seg, num_segments=m + k + 1)[m : m + k]
    if axis_name is not None:
        weights = jax.lax.psum(weights, axis_name)
    return picks, gains, objective, weights, cur, counts


_greedy = jax.jit(_greedy_impl, static_argnames=_STATIC)


def sample_size(n: int, k: int, epsilon: float) -> int:
    """Stochastic greedy's per-step sample: ceil((n / k) * log(1 / epsilon)), at most n."""
    return int(min(n, max(1, math.ceil(n / k * math.log(1.0 / epsilon)))))


def _run_counts(
    src: Similarity,
    w: np.ndarray,
    floor: float,
    k: int,
    *,
    method: str,
    initial: np.ndarray,
    order: np.ndarray | None,
    epsilon: float,
    seed: int,
    block: int,
    cache: bool = False,
) -> tuple[Selection, dict[str, int]]:
    """Run the jitted loop; the selection and its work counts (for benchmarks)."""
    n = src.n_candidates
    sample = sample_size(n, k, epsilon) if method == "stochastic" else 1
    out = _greedy(
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
    picks, gains, objective, weights, cur, counts = (np.asarray(a) for a in out)
    stats = dict(zip(("similarity_columns", "cache_rows", "rounds"), (int(c) for c in counts)))
    return Selection(picks.astype(np.int32), gains, objective, weights, cur, method), stats


def _run(src: Similarity, w: np.ndarray, floor: float, k: int, **kwargs: Any) -> Selection:
    return _run_counts(src, w, floor, k, **kwargs)[0]


def _prepare(features, targets, target_weights, kernel, bandwidth, initial, k, dtype=None, precision="highest"):
    x = _checks.features(features, "features", dtype=dtype)
    t = x if targets is None else _checks.features(targets, "targets", dtype=x.dtype)
    if targets is not None:
        _checks.same_width(x, t, "features", "targets")
    w = _checks.weights(target_weights, t.shape[0], "target_weights").astype(x.dtype)
    init = _checks.indices(initial, x.shape[0], "initial")
    k = _checks.budget(k, x.shape[0] - init.size)
    kern = make_kernel(kernel, bandwidth, x)
    xj = jnp.asarray(x)
    src = FeatureSimilarity(xj if targets is None else jnp.asarray(t), xj, kern, precision, targets is None)
    return src, w, init, k


def _check_floor(src: Similarity, floor: float, block: int, name: str) -> None:
    low = float(_min_similarity_jit(src, block))
    if low < floor:
        raise ValueError(
            f"{name}: has similarities below {floor} (min {low:.4g}); facility location needs "
            f"similarities >= the floor. Use kernel='rbf' or 'cosine', or shift your similarities"
        )


_min_similarity_jit = jax.jit(_min_similarity, static_argnames=("block",))


def _check_options(method: str, epsilon: float, block: Any, precision: str, cache: Any) -> int:
    _checks.choice(method, METHODS, "method")
    if method == "stochastic" and not 0 < epsilon < 1:
        raise ValueError(f"epsilon: must lie in (0, 1), got {epsilon}")
    _checks.choice(precision, tuple(PRECISIONS), "precision")
    if not isinstance(cache, (bool, np.bool_)):
        raise ValueError(f"cache: must be True or False, got {cache!r}")
    if cache and method != "lazy":
        raise ValueError(f"cache: speeds up lazy greedy only, not {method!r}")
    return int(_checks.budget(block, 1 << 30, "block"))


def _facility_location(
    features: Any,
    k: int,
    *,
    method: str = "lazy",
    kernel: str | Kernel = "rbf",
    bandwidth: float | None = None,
    targets: Any = None,
    target_weights: Any = None,
    initial: Any = None,
    epsilon: float = 0.1,
    seed: int = 0,
    block: int = 128,
    precision: str = "highest",
    cache: bool = False,
) -> tuple[Selection, dict[str, int]]:
    """:func:`facility_location`, and its work counts (similarity columns, cache rows, rounds)."""
    block = _check_options(method, epsilon, block, precision, cache)
    src, w, init, k = _prepare(features, targets, target_weights, kernel, bandwidth, initial, k, precision=precision)
    if src.kernel.name == "linear":
        if cache:
            raise ValueError("cache: needs a bounded kernel (rbf or cosine); linear similarities may overflow float16")
        _check_floor(src, src.kernel.floor, block, "features")
    return _run_counts(src, w, src.kernel.floor, k, method=method, initial=init, order=None,
                       epsilon=epsilon, seed=seed, block=block, cache=cache)


def facility_location(
    features: Any,
    k: int,
    *,
    method: str = "lazy",
    kernel: str | Kernel = "rbf",
    bandwidth: float | None = None,
    targets: Any = None,
    target_weights: Any = None,
    initial: Any = None,
    epsilon: float = 0.1,
    seed: int = 0,
    block: int = 128,
    precision: str = "highest",
    cache: bool = False,
) -> Selection:
    """Greedy facility location on features, matrix-free.

    Args:
      features: (N, d) candidate pool.
      k: number of points to pick, 1 <= k <= N - len(initial).
      method: "naive", "lazy" (default, same picks as naive) or "stochastic".
      kernel: "rbf" (default), "cosine", "linear", or a :class:`~kcover.kernels.Kernel`.
      bandwidth: rbf bandwidth; default the median heuristic on ``features``.
      targets: (T, d) the points to cover; default the pool itself.
      target_weights: (T,) non-negative weights w_x; default ones.
      initial: indices of an initial subset S_0 (counted in F, never re-picked).
      epsilon: stochastic greedy's accuracy parameter, in (0, 1).
      seed: seed for the stochastic sample.
      block: B, similarity columns evaluated per call: candidates per gain pass and stale
        bounds re-evaluated per lazy round. Larger is faster per column on wide hardware
        (GPU: 512-2048) but wastes more work per lazy round (CPU: 64-128).
      precision: "highest" (float32 matrix products, the default) or "default" (TF32/bf16 on
        a GPU: several times faster, similarities good to about 1e-3; the same on the CPU).
      cache: lazy only, rbf or cosine: keep every similarity as float16, rounded up, and
        tighten stale bounds from it before evaluating exactly. Same picks; costs N T 2 bytes;
        several times faster on the CPU when N T fits in memory.

    Returns:
      a :class:`~kcover.result.Selection`; ``coverage`` is (T,).

    Time: naive O(k N T d); lazy O(N T d) first pass + O(B T d) per round (+ O(T) per cache
    bound); stochastic O(N T d log(1/epsilon)).
    Memory: O((N + T) d + N + T) plus one (T, max(B, 256)) similarity block (lazy) or (T, B)
    (naive), (T, s) for stochastic's sample s; + N T 2 bytes with ``cache`` (and a (4 max(B, 64), T)
    float32 block of it at a time; (8, T) on the CPU). Never N x T float32.
    """
    return _facility_location(features, k, method=method, kernel=kernel, bandwidth=bandwidth, targets=targets,
                              target_weights=target_weights, initial=initial, epsilon=epsilon, seed=seed,
                              block=block, precision=precision, cache=cache)[0]


def facility_location_dense(
    similarity: Any,
    k: int,
    *,
    method: str = "lazy",
    floor: float = 0.0,
    target_weights: Any = None,
    initial: Any = None,
    epsilon: float = 0.1,
    seed: int = 0,
    block: int = 128,
) -> Selection:
    """Greedy facility location on a precomputed similarity matrix.

    Args:
      similarity: (T, N) similarities, rows targets and columns candidates; every entry must be
        >= ``floor`` (the similarity to the empty set, default 0).
      k, method, target_weights, initial, epsilon, seed, block: as
        :func:`facility_location`.

    Memory O(T N) for the matrix itself plus O(N + T + B T). Time O(k N T) naive; lazy O(N T) for
    the first pass plus O(B T) per round; stochastic O(N T log(1/epsilon)). For small N, or for
    similarities that are not a kernel on features.
    """
    _checks.choice(method, METHODS, "method")
    if method == "stochastic" and not 0 < epsilon < 1:
        raise ValueError(f"epsilon: must lie in (0, 1), got {epsilon}")
    s = _checks.features(similarity, "similarity")
    if float(s.min()) < floor:
        raise ValueError(
            f"similarity: has entries below the floor {floor} (min {float(s.min()):.4g}); facility "
            "location needs similarities >= the floor"
        )
    w = _checks.weights(target_weights, s.shape[0], "target_weights").astype(s.dtype)
    init = _checks.indices(initial, s.shape[1], "initial")
    k = _checks.budget(k, s.shape[1] - init.size)
    return _run(DenseSimilarity(jnp.asarray(s)), w, floor, k, method=method, initial=init, order=None,
                epsilon=epsilon, seed=seed, block=block)


def evaluate_sequence(
    features: Any,
    order: Any,
    *,
    kernel: str | Kernel = "rbf",
    bandwidth: float | None = None,
    targets: Any = None,
    target_weights: Any = None,
    initial: Any = None,
    method: str = "fixed",
) -> Selection:
    """Facility-location gains, objective and weights of a given pick ``order`` (k,).

    Used to score baselines (random, k-center) on the facility-location objective.
    Time O(k T d), memory O((N + T) d).
    """
    x = _checks.features(features, "features")
    order = _checks.indices(order, x.shape[0], "order")
    if order.size == 0:
        raise ValueError("order: is empty")
    src, w, init, _ = _prepare(x, targets, target_weights, kernel, bandwidth, initial, 1)
    if np.intersect1d(order, init).size:
        raise ValueError("order: overlaps the initial subset")
    sel = _run(src, w, src.kernel.floor, int(order.size), method="fixed", initial=init, order=order,
               epsilon=0.5, seed=0, block=1)
    return sel._replace(method=method)


def objective(
    features: Any,
    indices: Any,
    *,
    kernel: str | Kernel = "rbf",
    bandwidth: float | None = None,
    targets: Any = None,
    target_weights: Any = None,
) -> float:
    """F(S) for the subset ``indices`` of ``features`` (N, d). Time O(|S| T d)."""
    return float(evaluate_sequence(features, indices, kernel=kernel, bandwidth=bandwidth, targets=targets,
                                   target_weights=target_weights).objective[-1])
