"""Partitioned greedy (GreeDi, Mirzasoleiman et al. 2013): greedy within P parts, then over their picks.

The N candidates are split into P parts (``split="random"``: a seeded random permutation cut
into P nearly equal parts; ``"kmeans"``: the k-means clusters of the candidates, P centres).
Stage 1 runs greedy facility location within each part: when the targets are the pool, part p
covers its own rows (the decomposable local objective of GreeDi); with explicit ``targets``
(for example a target sketch) every part covers all of them. Stage 2 runs greedy over the
union of the parts' picks (at most P k candidates) against all the targets. APPROXIMATE: GreeDi's
guarantee is (1 - 1/e)^2 / min(P, k) of the optimum in the worst case; on real data it is
close to centralised greedy, and the benchmark measures the gap.

Parts run one after another in one process; in a ``jax.distributed`` run (``jax.process_count()
> 1``) process r runs parts r, r + P_proc, ... and the picks are exchanged (an all-gather of a
(P, k) int32 table), after which every process runs stage 2 on the same union, so every
process returns the same picks as a one-process run with the same partitions.

Time: stage 1 O(N^2 d / P) with pool targets (O(N T d) with explicit ones) plus stage 2 O(P k T
d) (lazy greedy's first passes); memory as :func:`kcover.facility_location` on one part, plus
the (P, k) table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import jax
import numpy as np
from jax.experimental import multihost_utils

from kcover import checks
from kcover.kernels import median_bandwidth
from kcover.selection.facility_location import facility_location
from kcover.selection.facility_options import FLKeywords
from kcover.selection.result import Selection
from kcover.selection.sketch import target_sketch

SPLITS = ("random", "kmeans")


def partition_labels(features: np.ndarray, parts: int, split: str, seed: int) -> list[np.ndarray]:
    """The P parts, each a sorted int array of row indices (none empty)."""
    n = features.shape[0]
    parts = checks.positive_int(parts, "partitions", maximum=n)
    checks.choice(split, SPLITS, "split")
    if split == "random":
        order = np.random.default_rng(seed).permutation(n)
        return [np.sort(p) for p in np.array_split(order, parts)]
    labels = target_sketch(features, parts, seed=seed).labels
    return [p for p in (np.flatnonzero(labels == j) for j in range(parts)) if p.size]


def _local_picks(
    x: np.ndarray, k: int, members: list[np.ndarray], mine: list[int], opts: Mapping[str, Any]
) -> np.ndarray:
    """(P, k) int32: part p's picks (pool indices, -1 padded) in the rows ``mine``, -1 elsewhere."""
    table = np.full((len(members), k), -1, np.int32)
    for p in mine:  # a Python loop over partitions: each is one jitted greedy run
        rows = members[p]
        sel = facility_location(x[rows], min(k, rows.size), **opts)
        table[p, : sel.indices.size] = rows[sel.indices]
    return table


def facility_location_partitioned(
    features: Any, k: int, *, partitions: int, split: str = "random", **options: Unpack[FLKeywords]
) -> Selection:
    """Greedy facility location by GreeDi over ``partitions`` parts of ``features`` (N, d). APPROXIMATE.

    Args:
      features: (N, d) candidate pool.
      k: number of points to pick.
      partitions: P >= 1 parts (P = 1 is plain greedy on the whole pool).
      split: "random" (default, seeded by ``seed``) or "kmeans".
      options: the keywords of :func:`kcover.facility_location` (``method``, ``kernel``,
        ``bandwidth``, ``targets``, ``target_weights``, ``epsilon``, ``seed``, ``block``,
        ``precision``, ``cache``); ``initial`` is not supported. The rbf bandwidth defaults to
        the median heuristic on the whole pool, the same in every part.

    Returns:
      the stage-2 :class:`~kcover.selection.result.Selection` with ``indices`` into ``features``;
      ``gains``/``objective``/``weights``/``coverage`` as stage 2 computed them (exact F over
      the targets given); ``info`` adds ``partitions``, ``split``, ``candidates`` (the union's
      size) and ``processes``.

    Time O(N^2 d / P + P k T d) with pool targets; memory that of one part's greedy run.
    """
    x = checks.features(features, "features")
    if options.get("initial") is not None:
        raise ValueError("initial: not supported with partitions")
    k = checks.budget(k, x.shape[0])
    seed = options.get("seed", 0)
    members = partition_labels(x, partitions, split, seed)
    kernel = options.get("kernel", "rbf")
    if kernel == "rbf" and options.get("bandwidth") is None:  # one bandwidth for every part and stage 2
        options = {**options, "bandwidth": median_bandwidth(x)}
    procs, me = jax.process_count(), jax.process_index()
    table = _local_picks(x, k, members, list(range(me, len(members), procs)), options)
    if procs > 1:
        gathered = np.asarray(multihost_utils.process_allgather(table))  # (procs, P, k)
        table = gathered.max(axis=0)  # each row filled by exactly one process, -1 elsewhere
    union = np.unique(table[table >= 0])
    if union.size < k:
        raise ValueError(f"partitions: the parts picked only {union.size} distinct candidates, fewer than k = {k}")
    stage2: dict[str, Any] = {**options}
    if options.get("targets") is None:
        stage2["targets"] = x  # stage 2 covers the whole pool, not the union
    sel = facility_location(x[union], k, **stage2)
    info = {**sel.info, "partitions": len(members), "split": split, "candidates": int(union.size), "processes": procs}
    return sel._replace(indices=union[sel.indices].astype(np.int32), info=info)
