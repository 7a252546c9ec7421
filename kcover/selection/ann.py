"""The k-nearest-neighbour lists of the kNN path, built with faiss when it is installed.

:func:`knn_graph` returns the same :class:`~kcover.selection.knn.KnnSimilarity` as the exact
blocked JAX builder :func:`kcover.knn_similarity` (which it falls back to when faiss is not
importable), so :func:`kcover.facility_location_knn` selects on either. With faiss (``faiss-cpu``,
or the GPU build where installed):

* ``index="flat"``: exact search (``IndexFlatL2`` for rbf, ``IndexFlatIP`` on unit rows for
  cosine, ``IndexFlatIP`` for linear). The default up to ``FLAT_LIMIT`` candidates.
* ``index="ivf"``: an inverted file (``IndexIVFFlat``, sqrt(N) * 4 lists trained on a sample of
  at most 64 rows per list, ``nprobe`` 16): approximate, much faster for large N. The default
  above ``FLAT_LIMIT``.

Similarities are computed from faiss's distances with the kernel (rbf: exp(-d^2 / (2 h^2))).
Time: flat O(T N d); ivf O(T N d nprobe / lists) + training; memory O(N d) for the index plus
O(T m) for the lists. faiss is imported here only when called, never by ``import kcover``.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Unpack

import numpy as np

from kcover import checks
from kcover.kernels import make_kernel
from kcover.selection.auto import with_exact_objective
from kcover.selection.facility_options import CoverageKeywords, keywords
from kcover.selection.knn import KnnSimilarity, facility_location_knn, knn_similarity
from kcover.selection.result import Selection

INDEXES = ("auto", "flat", "ivf", "jax")
DEFAULT_NEIGHBORS = 32
FLAT_LIMIT = 50_000  # candidates up to which "auto" searches exactly (flat at 100k: 189 s, ivf at 300k: 175 s)
NPROBE = 16


FAISS_ENV = "KCOVER_FAISS"


def faiss_module() -> Any:
    """The faiss module, or None when it is not installed or ``$KCOVER_FAISS`` is ``off``.

    ``KCOVER_FAISS=off`` keeps faiss (and the OpenMP and OpenBLAS runtimes its wheel brings) out
    of the process: the kNN path then uses the exact JAX lists.
    """
    if os.environ.get(FAISS_ENV, "").strip().lower() in ("off", "0", "false", "none"):
        return None
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _index(faiss: Any, x: np.ndarray, inner: bool, kind: str, seed: int) -> Any:
    d = x.shape[1]
    metric = faiss.METRIC_INNER_PRODUCT if inner else faiss.METRIC_L2
    if kind == "flat":
        index = faiss.IndexFlatIP(d) if inner else faiss.IndexFlatL2(d)
    else:
        lists = int(min(x.shape[0] // 39, 4 * math.isqrt(x.shape[0]))) or 1
        quantizer = faiss.IndexFlatIP(d) if inner else faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, lists, metric)
        train = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], min(x.shape[0], 64 * lists), replace=False))]
        index.train(np.ascontiguousarray(train))
        index.nprobe = min(NPROBE, lists)
    index.add(x)
    return index


def knn_graph(
    features: Any, m: int, *, index: str = "auto", seed: int = 0, **coverage: Unpack[CoverageKeywords]
) -> tuple[KnnSimilarity, str]:
    """Each target's ``m`` nearest rows of ``features`` (N, d) as a kNN similarity, and the index used.

    ``index``: "auto" (flat up to ``FLAT_LIMIT`` candidates, ivf above; "jax" when faiss is
    missing), "flat", "ivf" or "jax" (the exact blocked builder :func:`kcover.knn_similarity`).
    ``coverage``: ``kernel``, ``bandwidth``, ``targets``. Returns (lists, index name). Time and
    memory: see the module docstring.
    """
    opts = keywords(coverage, ("kernel", "bandwidth", "targets"), "coverage")
    checks.choice(index, INDEXES, "index")
    x = checks.features(features, "features")
    faiss = faiss_module()
    if index == "auto":
        index = "jax" if faiss is None else ("flat" if x.shape[0] <= FLAT_LIMIT else "ivf")
    if index == "jax":
        return knn_similarity(x, m, **{o: opts[o] for o in ("kernel", "bandwidth", "targets")}), "jax"
    if faiss is None:
        raise ValueError(f"index: {index!r} needs faiss (pip install faiss-cpu); use 'jax' or 'auto'")
    t = x if opts["targets"] is None else checks.features(opts["targets"], "targets")
    checks.same_width(x, t, "features", "targets")
    m = checks.budget(m, x.shape[0], "m")
    kern = make_kernel(opts["kernel"], opts["bandwidth"], x)
    xc, tc = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(t, np.float32)
    if kern.name == "cosine":
        xc = xc / np.maximum(np.linalg.norm(xc, axis=1, keepdims=True), 1e-30)
        tc = tc / np.maximum(np.linalg.norm(tc, axis=1, keepdims=True), 1e-30)
    inner = kern.name != "rbf"
    dist, idx = _index(faiss, xc, inner, index, seed).search(tc, m)
    missing = idx < 0  # ivf: fewer than m candidates in the probed lists
    idx = np.where(missing, 0, idx).astype(np.int32)
    if kern.name == "rbf":
        vals = np.exp(-np.maximum(dist, 0.0) / (2.0 * float(kern.bandwidth) ** 2))
    else:
        vals = np.clip(dist, -1.0, 1.0) if kern.name == "cosine" else dist
    vals = np.where(missing, kern.floor, vals).astype(np.float32)
    if vals.size and float(vals.min()) < kern.floor:
        raise ValueError(
            f"features: has similarities below {kern.floor} (min {float(vals.min()):.4g}); facility "
            "location needs similarities >= the floor. Use kernel='rbf' or 'cosine'"
        )
    return KnnSimilarity(idx, vals, x.shape[0], kern.floor), index


def knn_select(
    features: Any,
    k: int,
    *,
    neighbors: int | None = None,
    index: str = "auto",
    seed: int = 0,
    **coverage: Unpack[CoverageKeywords],
) -> Selection:
    """``select(method="knn")``: greedy facility location on the ``neighbors``-NN graph. APPROXIMATE.

    ``features`` (N, d); ``neighbors`` m (default 32); ``index`` as :func:`knn_graph`;
    ``coverage``: ``kernel``, ``bandwidth``, ``targets``, ``target_weights``, ``initial``.
    ``info``: ``method`` "knn", ``approximation`` {``neighbors``, ``index``}, ``index_seconds``
    (building the lists) and ``select_seconds`` (greedy) apart, ``exact_objective`` (F over all
    targets). Time: the index (module docstring) + lazy greedy on the lists
    (:mod:`kcover.selection.knn_lazy`); memory O(T m + (N + T) d).
    """
    m = DEFAULT_NEIGHBORS if neighbors is None else checks.positive_int(neighbors, "neighbors")
    opts: dict[str, Any] = {key: v for key, v in coverage.items() if v is not None}
    x = checks.features(features, "features")
    kern = make_kernel(opts.get("kernel", "rbf"), opts.get("bandwidth"), x)
    opts["kernel"] = kern
    t0 = time.perf_counter()
    graph, used = knn_graph(
        x, min(m, x.shape[0]), index=index, seed=seed, **{o: opts[o] for o in ("kernel", "targets") if o in opts}
    )
    t1 = time.perf_counter()
    sel = facility_location_knn(x, k, similarity=graph, **opts)
    extra = dict(
        method="knn",
        approximation={"neighbors": int(graph.indices.shape[1]), "index": used},
        reason="method knn",
        index_seconds=round(t1 - t0, 3),
        select_seconds=round(time.perf_counter() - t1, 3),
    )
    return with_exact_objective(x, sel, opts, extra)
