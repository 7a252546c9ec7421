"""Greedy facility location: the public entry points.

The objective, for targets x with weights w_x, candidates s, and a kernel with floor f
(see :mod:`kcover.kernels`)::

    F(S) = sum_x w_x * (max(f, max_{s in S} sim(x, s)) - f),     F({}) = 0.

F is monotone and submodular whenever every similarity is >= f; a similarity below the floor
is an error. Targets default to the candidate pool; a separate target set (a validation set,
the paper's D) and target weights are accepted.

Greedy picks argmax_i F(S + i) - F(S); **ties go to the lowest candidate index**. Three methods
(N candidates, T targets, d features, k picks, B = ``block``):

* ``naive``: every step evaluates every gain. Time O(k N T d) matrix-free, O(k N T) dense.
* ``lazy`` (Minoux; :mod:`kcover.selection.lazy`): stale gains are upper bounds; a first pass bounds every
  gain, then each round re-evaluates the B largest stale bounds. Same picks as ``naive``. Time
  O(N T d) for the first pass (half of it when the targets are the pool) plus O(B T d) per
  round. With the float16 bound cache (N T 2 bytes) a stale bound is first tightened in O(T).
* ``stochastic`` (Mirzasoleiman et al. 2015): each step evaluates a uniform random sample of
  s = ceil((N / k) log(1 / epsilon)) unselected candidates. Time O(N T d log(1/epsilon)).

The parts: similarity sources and gains (:mod:`kcover.selection.similarity`), the greedy scaffold shared
with k-center and the kNN path (:mod:`kcover.selection.scaffold`), each method's pick rule
(:mod:`kcover.selection.facility_rules`), the keywords with their checks and "auto" defaults
(:mod:`kcover.selection.facility_options`). Everything runs in one jitted ``lax.scan`` over the k picks, on
whatever device JAX uses; deterministic for a given seed. :mod:`kcover.selection.sharding` runs the same
loop with the targets sharded over devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.selection import facility_options, facility_rules
from kcover.selection.facility_options import CoverageKeywords, FLKeywords
from kcover.selection.result import Selection
from kcover.selection.similarity import DenseSimilarity


def facility_location(features: Any, k: int, **options: Unpack[FLKeywords]) -> Selection:
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
      epsilon: stochastic greedy's accuracy parameter, in (0, 1); default 0.1.
      seed: seed for the stochastic sample; default 0.
      block: B, similarity columns evaluated per call, or "auto" (default: 16 on the CPU, 1024
        on a GPU or TPU). Wide is faster per column on wide hardware, narrow wastes less work
        per lazy round.
      precision: "highest" (float32 matrix products, the default) or "default" (TF32/bf16 on
        a GPU: several times faster, similarities good to about 1e-3; the same on the CPU).
      cache: lazy only, rbf or cosine: keep every similarity as float16, rounded up, and
        tighten stale bounds from it before evaluating exactly. Same picks; costs N T 2 bytes.
        "auto" (default): on when that fits in a quarter of the available memory.

    Returns:
      a :class:`~kcover.selection.result.Selection`; ``coverage`` is (T,); ``info`` holds the ``block``
      and ``cache`` used and the work done (``similarity_columns``, ``cache_rows``, ``rounds``).

    Time: naive O(k N T d); lazy O(N T d) first pass + O(B T d) per round (+ O(T) per cache
    bound); stochastic O(N T d log(1/epsilon)).
    Memory: O((N + T) d + N + T) plus one (T, max(B, 256)) similarity block (lazy) or (T, B)
    (naive), (T, s) for stochastic's sample s; + N T 2 bytes with the cache (read 8 rows at a
    time on the CPU, (4 max(B, 64), T) on an accelerator). Never N x T float32.
    """
    opts = facility_options.keywords(options)
    method = opts["method"]
    block, cache = facility_options.resolve(method, opts["epsilon"], opts["block"], opts["precision"], opts["cache"])
    src, w, init, k = facility_options.prepare(features, k, opts)
    cache = facility_options.decide_cache(cache, method, src.kernel, src.n_candidates, w.shape[0], block)
    if src.kernel.name == "linear":
        facility_options.check_floor(src, src.kernel.floor, block, "features")
    return facility_rules.run(
        src,
        w,
        src.kernel.floor,
        k,
        method=method,
        initial=init,
        epsilon=opts["epsilon"],
        seed=opts["seed"],
        block=block,
        cache=cache,
    )


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
        >= ``floor`` (the similarity to the empty set, default 0). apricot's precomputed
        matrices put candidates in rows: pass the transpose of one that is not symmetric.
      k, method, target_weights, initial, epsilon, seed, block: as
        :func:`facility_location` (``block`` default 128: the matrix is in memory already).

    Memory O(T N) for the matrix itself plus O(N + T + B T). Time O(k N T) naive; lazy O(N T) for
    the first pass plus O(B T) per round; stochastic O(N T log(1/epsilon)). For small N, or for
    similarities that are not a kernel on features.
    """
    block, _ = facility_options.resolve(method, epsilon, block, "highest", False)
    s = checks.features(similarity, "similarity")
    if float(s.min()) < floor:
        raise ValueError(
            f"similarity: has entries below the floor {floor} (min {float(s.min()):.4g}); facility "
            "location needs similarities >= the floor"
        )
    w = checks.weights(target_weights, s.shape[0], "target_weights").astype(s.dtype)
    init = checks.indices(initial, s.shape[1], "initial")
    k = checks.budget(k, s.shape[1] - init.size)
    return facility_rules.run(
        DenseSimilarity(jnp.asarray(s)),
        w,
        floor,
        k,
        method=method,
        initial=init,
        epsilon=epsilon,
        seed=seed,
        block=block,
    )


def evaluate_sequence(
    features: Any, order: Any, *, method: str = "fixed", **coverage: Unpack[CoverageKeywords]
) -> Selection:
    """Facility-location gains, objective and weights of a given pick ``order`` (k,) of ``features`` (N, d).

    ``coverage``: ``kernel``, ``bandwidth``, ``targets``, ``target_weights``, ``initial``, as
    :func:`facility_location`. Used to score baselines (random, k-center) on the
    facility-location objective. Time O(k T d), memory O((N + T) d).
    """
    src, w, init, order = _scored_subset(features, order, "order", coverage)
    sel = facility_rules.run(
        src, w, src.kernel.floor, int(order.size), method="fixed", initial=init, order=order, block=1
    )
    return sel._replace(method=method, info={})


def objective(features: Any, indices: Any, **coverage: Unpack[CoverageKeywords]) -> float:
    """F(S) for the subset ``indices`` (k,) of ``features`` (N, d), keywords as :func:`evaluate_sequence`.

    The value of :func:`evaluate_sequence`'s last objective (the initial subset counts as
    covering), computed 64 columns per call rather than one per step. Time O((k + m) T d).
    """
    src, w, init, idx = _scored_subset(features, indices, "indices", coverage)
    both = np.concatenate([init, idx]).astype(np.int32)
    return float(
        facility_rules.coverage_value(
            src,
            jnp.asarray(w),
            jnp.asarray(src.kernel.floor, w.dtype),
            jnp.asarray(both),
            block=int(min(64, both.size)),
        )
    )


def _scored_subset(
    features: Any, subset: Any, name: str, coverage: Mapping[str, Any]
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """(source, weights, initial, subset) for scoring a given ``subset`` of ``features``; errors name ``name``."""
    x = checks.features(features, "features")
    idx = checks.indices(subset, x.shape[0], name)
    if idx.size == 0:
        raise ValueError(f"{name}: is empty")
    src, w, init, _ = facility_options.prepare(x, 1, facility_options.keywords(coverage, facility_options.COVERAGE))
    if np.intersect1d(idx, init).size:
        raise ValueError(f"{name}: overlaps the initial subset")
    return src, w, init, idx
