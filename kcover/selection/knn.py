"""Facility location on a sparse k-nearest-neighbour similarity: approximate, for very large N.

Each target keeps only its ``m`` most similar candidates; every other similarity is taken to
be the kernel's floor (the similarity to the empty set, so it adds nothing). The objective

    F_m(S) = sum_x w_x * (max(f, max_{s in S, s in kNN_m(x)} sim(x, s)) - f)  <=  F(S)

is still monotone submodular, and greedy on it is exact greedy for F_m. **It is an
approximation of F**: a pick is credited only for the targets that list it among their m
nearest. It is close to F when the kernel is local (most of a target's coverage comes from its
nearest candidates, i.e. a bandwidth small against the spread of the data) and m is not tiny;
it is poor for flat kernels. Score the picks on the exact objective with
:func:`kcover.objective`, and compare with exact greedy on a subsample (the benchmark does).

Time: building the lists O(T N d) (one blocked pass, ``block`` targets at a time, the same
cost as exact greedy's first pass) plus O(T N log m) for the selection of the m largest; then
lazy greedy over the lists regrouped by candidate (:mod:`kcover.selection.knn_lazy`): one O(T m)
pass, then O(T + N) per pick plus O(in-degree) per re-evaluated candidate. Memory: O(T m) for
the lists, O((N + T) d) features and one (``block``, N) similarity block while building; never
N x T.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Unpack

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.kernels import Kernel, pairwise
from kcover.selection.facility_options import COVERAGE, CoverageKeywords, keywords, prepare
from kcover.selection.knn_lazy import CandidateLists, by_candidate, knn_lazy_greedy
from kcover.selection.result import Selection
from kcover.selection.similarity import PRECISIONS


class KnnSimilarity(NamedTuple):
    """Each target's ``m`` nearest candidates: ``indices`` (T, m) int32, ``values`` (T, m)."""

    indices: np.ndarray
    values: np.ndarray
    n_candidates: int
    floor: float


@functools.partial(jax.jit, static_argnames=("m", "block", "precision"))
def _knn_lists(kernel: Kernel, targets: jax.Array, candidates: jax.Array, *, m: int, block: int, precision: str):
    t = targets.shape[0]
    nb = -(-t // block)
    tp = jnp.pad(targets, ((0, nb * block - t), (0, 0)))

    def one(tb):
        s = pairwise(kernel, tb, candidates, PRECISIONS[precision])
        vals, idx = jax.lax.top_k(s, m)
        return vals, idx.astype(jnp.int32)

    vals, idx = jax.lax.map(one, tp.reshape(nb, block, -1))
    return vals.reshape(nb * block, m)[:t], idx.reshape(nb * block, m)[:t]


def knn_similarity(
    features: Any, m: int, *, block: int = 256, precision: str = "highest", **coverage: Unpack[CoverageKeywords]
) -> KnnSimilarity:
    """Each target's ``m`` most similar rows of ``features`` (N, d), and those similarities.

    ``coverage``: ``kernel``, ``bandwidth``, ``targets`` (default ``features``), as
    :func:`kcover.facility_location`. Ties go to the lower candidate index. Time O(T N d + T N
    log m); memory O(T m) plus one (``block``, N) similarity block.
    """
    opts = keywords(coverage, ("kernel", "bandwidth", "targets"), "coverage")
    src, _, _, _ = prepare(features, 1, {**opts, "precision": precision})
    m = checks.budget(m, src.n_candidates, "m")
    block = min(checks.positive_int(block, "block"), int(src.targets.shape[0]))
    vals, idx = _knn_lists(src.kernel, src.targets, src.candidates, m=m, block=block, precision=precision)
    vals = np.asarray(vals)
    floor = src.kernel.floor
    if vals.size and float(vals.min()) < floor:
        raise ValueError(
            f"features: has similarities below {floor} (min {float(vals.min()):.4g}); facility location needs "
            "similarities >= the floor. Use kernel='rbf' or 'cosine'"
        )
    return KnnSimilarity(np.asarray(idx), vals, src.n_candidates, floor)


def facility_location_knn(
    features: Any,
    k: int,
    *,
    m: int = 32,
    block: int = 256,
    precision: str = "highest",
    similarity: KnnSimilarity | None = None,
    **coverage: Unpack[CoverageKeywords],
) -> Selection:
    """Greedy facility location on the sparse ``m``-nearest-neighbour similarity. APPROXIMATE.

    Args:
      features: (N, d) candidate pool.
      k: number of points to pick.
      m: neighbours kept per target (m = N is exact greedy, at dense cost).
      kernel, bandwidth, targets, target_weights, initial, precision: as
        :func:`kcover.facility_location`.
      block: targets per similarity block while building the lists.
      similarity: lists from :func:`knn_similarity` to reuse (then the features only fix N).

    Returns:
      a :class:`~kcover.selection.result.Selection` whose ``gains``, ``objective``, ``weights`` and
      ``coverage`` are those of the sparse objective F_m <= F (see the module docstring);
      rescore with :func:`kcover.objective` for F. ``method`` is "knn".

    Time O(T N d) to build the lists + lazy greedy on them (see the module docstring); memory
    O(T m + (N + T) d + block N).
    Ties go to the lowest candidate index.
    """
    opts = keywords(coverage, COVERAGE, "coverage")
    x = checks.features(features, "features")
    t = x if opts["targets"] is None else checks.features(opts["targets"], "targets", dtype=x.dtype)
    w = checks.weights(opts["target_weights"], t.shape[0], "target_weights").astype(x.dtype)
    init = checks.indices(opts["initial"], x.shape[0], "initial")
    k = checks.budget(k, x.shape[0] - init.size)
    if similarity is None:
        similarity = knn_similarity(
            x, m, block=block, precision=precision, **{o: opts[o] for o in ("kernel", "bandwidth", "targets")}
        )
    elif similarity.indices.shape[0] != t.shape[0] or similarity.n_candidates != x.shape[0]:
        raise ValueError("similarity: its lists were built for another pool or target set")
    lists = by_candidate(np.asarray(similarity.indices), np.asarray(similarity.values, w.dtype), x.shape[0])
    out = knn_lazy_greedy(
        CandidateLists(*(jnp.asarray(a) for a in lists)),
        jnp.asarray(w),
        jnp.asarray(similarity.floor, w.dtype),
        jnp.asarray(init, jnp.int32),
        k=k,
    )
    picks, gains, objective, weights, cur = (np.asarray(a) for a in out)
    return Selection(picks.astype(np.int32), gains, objective, weights, cur, "knn")
