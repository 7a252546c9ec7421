"""Greedy facility location: naive, lazy and stochastic, dense or matrix-free.

The objective, for targets x with weights w_x, candidates s, and a kernel with floor f
(see :mod:`kcover.kernels`)::

    F(S) = sum_x w_x * (max(f, max_{s in S} sim(x, s)) - f),     F({}) = 0.

F is monotone and submodular whenever every similarity is >= f; a similarity below the floor
is an error. Targets default to the candidate pool; a separate target set (a validation set,
the paper's D) and target weights are accepted.

Greedy picks argmax_i F(S + i) - F(S); **ties go to the lowest candidate index**. Three methods:

* ``naive``: every step evaluates every gain. Time O(k N T d) matrix-free, O(k N T) dense.
* ``lazy`` (Minoux): gains only shrink, so stale gains are upper bounds. Each step re-evaluates
  the ``block`` largest stale bounds in one jitted call and accepts the best fresh gain once it
  beats every stale bound left (index order on equality). Same picks as ``naive``. Time
  O(N T d) for the first pass plus O(block T d) per re-evaluation round.
* ``stochastic`` (Mirzasoleiman et al. 2015): each step evaluates a uniform random sample of
  s = ceil((N / k) log(1 / epsilon)) unselected candidates. Time O(N T d log(1/epsilon)).

Memory: features O((N + T) d) plus O(block T) similarities per call (a chunk of a full gain
pass, or one lazy round); never N x T. Every similarity is evaluated in calls of the same width
``block``, which keeps floating-point rounding identical across methods. The dense path holds the given (T, N) matrix.
Everything runs in one jitted ``lax.scan`` over the k picks; deterministic for a given seed.
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


@functools.partial(jax.tree_util.register_dataclass, data_fields=["targets", "candidates", "kernel"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class FeatureSimilarity:
    """Similarities computed on the fly from features: targets (T, d), candidates (N, d)."""

    targets: jax.Array
    candidates: jax.Array
    kernel: Kernel

    @property
    def n_candidates(self) -> int:
        return self.candidates.shape[0]

    def columns(self, idx: jax.Array) -> jax.Array:
        """sim(targets, candidates[idx]): (T, len(idx))."""
        return pairwise(self.kernel, self.targets, self.candidates[idx])


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


def _gains(src: Similarity, w: jax.Array, cur: jax.Array, idx: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Marginal gains (len(idx),) of candidates ``idx`` given coverage ``cur`` (T,), and their columns."""
    cols = src.columns(idx)
    return jnp.sum(w[:, None] * jnp.maximum(cols - cur[:, None], 0.0), axis=0), cols


def _all_gains(src: Similarity, w: jax.Array, cur: jax.Array, block: int) -> jax.Array:
    """Gains of every candidate (N,), ``block`` candidates at a time."""
    n = src.n_candidates
    ids = jnp.arange(n, dtype=jnp.int32)[:, None]
    return blocked_rows(lambda b, _: _gains(src, w, cur, jnp.minimum(b[:, 0], n - 1))[0], ids, block)


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


@functools.partial(jax.jit, static_argnames=("k", "method", "block", "sample"))
def _greedy(
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
) -> tuple[jax.Array, ...]:
    """The jitted greedy loop. ``method`` "fixed" evaluates the given ``order`` instead."""
    n = src.n_candidates
    m = initial.shape[0]
    neg_inf = jnp.array(-jnp.inf, w.dtype)
    cur = jnp.full(w.shape, floor, w.dtype)
    assign = jnp.full(w.shape, -1, jnp.int32)
    selected = jnp.zeros(n, bool)

    block = min(block, n)

    def apply(state, idx, pos, col):
        cur, assign, selected = state
        better = col > cur
        return jnp.where(better, col, cur), jnp.where(better, pos, assign), selected.at[idx].set(True)

    state = (cur, assign, selected)
    if m:
        state = jax.lax.fori_loop(0, m, lambda i, s: apply(s, initial[i], i.astype(jnp.int32), _column(src, initial[i], block)), state)

    bounds = jnp.zeros(n, w.dtype)
    if method == "lazy":
        bounds = jnp.where(state[2], neg_inf, _all_gains(src, w, state[0], block))

    def lazy_pick(cur, selected, bounds):
        def cond(s):
            return ~s[-1]

        def body(s):
            bounds, fresh, best, arg, best_col, _ = s
            top_vals, top_idx = jax.lax.top_k(jnp.where(fresh, neg_inf, bounds), block)
            valid = top_vals > neg_inf
            g, cols = _gains(src, w, cur, top_idx)
            g = jnp.where(valid, g, neg_inf)
            bounds = bounds.at[top_idx].set(jnp.where(valid, g, bounds[top_idx]))
            fresh = fresh.at[top_idx].set(fresh[top_idx] | valid)
            gb, gi = _first_best(g, top_idx, n)
            take = (gb > best) | ((gb == best) & (gi < arg))
            col = cols[:, jnp.argmax(top_idx == gi)]
            best, arg = jnp.where(take, gb, best), jnp.where(take, gi, arg)
            best_col = jnp.where(take, col, best_col)
            rest = jnp.where(fresh | selected, neg_inf, bounds)
            rest_max, rest_arg = jnp.max(rest), jnp.argmax(rest)
            done = (best > rest_max) | ((best == rest_max) & (arg < rest_arg))
            return bounds, fresh, best, arg, best_col, done

        init = (bounds, jnp.zeros(n, bool), neg_inf, jnp.int32(n), jnp.zeros_like(cur), jnp.array(False))
        bounds, _, best, arg, col, _ = jax.lax.while_loop(cond, body, init)
        return arg, best, bounds.at[arg].set(neg_inf), col

    def step(carry, i):
        (cur, assign, selected), bounds = carry
        if method == "naive":
            g = jnp.where(selected, neg_inf, _all_gains(src, w, cur, block))
            arg = jnp.argmax(g).astype(jnp.int32)
            gain, col = g[arg], _column(src, arg, block)
        elif method == "lazy":
            arg, gain, bounds, col = lazy_pick(cur, selected, bounds)
        elif method == "stochastic":
            scores = jax.random.uniform(jax.random.fold_in(key, i), (n,))
            _, idx = jax.lax.top_k(jnp.where(selected, -1.0, scores), sample)
            g, cols = _gains(src, w, cur, idx)
            g = jnp.where(selected[idx], neg_inf, g)
            gain, arg = _first_best(g, idx, n)
            col = cols[:, jnp.argmax(idx == arg)]
        else:  # fixed order: one column per pick, its gain and update from the same evaluation
            arg = order[i]
            g, cols = _gains(src, w, cur, arg[None])
            gain, col = g[0], cols[:, 0]
        cur, assign, selected = apply((cur, assign, selected), arg, m + i, col)
        obj = jnp.sum(w * (cur - floor))
        return ((cur, assign, selected), bounds), (arg, gain, obj)

    (state, _), (picks, gains, objective) = jax.lax.scan(step, (state, bounds), jnp.arange(k, dtype=jnp.int32))
    cur, assign, _ = state
    seg = jnp.where(assign < 0, m + k, assign)
    weights = jax.ops.segment_sum(w, seg, num_segments=m + k + 1)[m : m + k]
    return picks, gains, objective, weights, cur


def sample_size(n: int, k: int, epsilon: float) -> int:
    """Stochastic greedy's per-step sample: ceil((n / k) * log(1 / epsilon)), at most n."""
    return int(min(n, max(1, math.ceil(n / k * math.log(1.0 / epsilon)))))


def _run(
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
) -> Selection:
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
    )
    picks, gains, objective, weights, cur = (np.asarray(a) for a in out)
    return Selection(picks.astype(np.int32), gains, objective, weights, cur, method)


def _prepare(features, targets, target_weights, kernel, bandwidth, initial, k, dtype=None):
    x = _checks.features(features, "features", dtype=dtype)
    t = x if targets is None else _checks.features(targets, "targets", dtype=x.dtype)
    if targets is not None:
        _checks.same_width(x, t, "features", "targets")
    w = _checks.weights(target_weights, t.shape[0], "target_weights").astype(x.dtype)
    init = _checks.indices(initial, x.shape[0], "initial")
    k = _checks.budget(k, x.shape[0] - init.size)
    kern = make_kernel(kernel, bandwidth, x)
    src = FeatureSimilarity(jnp.asarray(t), jnp.asarray(x), kern)
    return src, w, init, k


def _check_floor(src: Similarity, floor: float, block: int, name: str) -> None:
    low = float(_min_similarity_jit(src, block))
    if low < floor:
        raise ValueError(
            f"{name}: has similarities below {floor} (min {low:.4g}); facility location needs "
            f"similarities >= the floor. Use kernel='rbf' or 'cosine', or shift your similarities"
        )


_min_similarity_jit = jax.jit(_min_similarity, static_argnames=("block",))


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
      block: similarity columns evaluated per call: candidates per gain pass and stale
        bounds re-evaluated per lazy round.

    Returns:
      a :class:`~kcover.result.Selection`; ``coverage`` is (T,).
    Memory O((N + T) d + block T); time see the module docstring.
    """
    _checks.choice(method, METHODS, "method")
    if method == "stochastic" and not 0 < epsilon < 1:
        raise ValueError(f"epsilon: must lie in (0, 1), got {epsilon}")
    block = int(_checks.budget(block, 1 << 30, "block"))
    src, w, init, k = _prepare(features, targets, target_weights, kernel, bandwidth, initial, k)
    if src.kernel.name == "linear":
        _check_floor(src, src.kernel.floor, block, "features")
    return _run(src, w, src.kernel.floor, k, method=method, initial=init, order=None,
                epsilon=epsilon, seed=seed, block=block)


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

    Memory O(T N) for the matrix itself; time O(k N T) naive, much less lazy.
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
