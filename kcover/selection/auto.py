"""Which facility-location path runs: exact lazy greedy while it is affordable, an approximation above.

The rule (``method="auto"``, the command line's default): lazy greedy's first pass costs
N T d multiply-adds (N candidates, T targets, d features). While that fits
``EXACT_SECONDS`` at the device's stated rate (:data:`RATE`), i.e. N T d <= :func:`exact_budget`,
exact lazy greedy runs, exactly as ``method="lazy"`` (same picks, bit for bit). Above it the
targets are replaced by a weighted k-means sketch of K = :func:`sketch_size` centres
(:mod:`kcover.selection.sketch`), and lazy greedy runs on all N candidates against them; in a
``jax.distributed`` run with P processes the candidates are also split into P parts (GreeDi,
:mod:`kcover.selection.partition`). ``exact=True`` forces exact lazy greedy.

Every path records in ``Selection.info``: ``method`` (the path: "lazy", "lazy+sketch",
"lazy+partitions", "lazy+sketch+partitions", "knn", ...), ``approximation`` (None for exact
greedy, else a dict: ``targets_sketch`` K, ``sketch_bound`` E, ``partitions``, ``split``,
``neighbors``, ``index``), ``reason`` (why auto chose it), and for an approximate path
``exact_objective``: F of the picks over all the real targets (:func:`kcover.objective`),
``approximate_objective``: the surrogate's, and ``sketch_seconds`` / ``index_seconds`` /
``select_seconds``.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Unpack

import jax
import numpy as np

from kcover import checks
from kcover.kernels import make_kernel
from kcover.selection.facility_location import facility_location, objective
from kcover.selection.facility_options import FLKeywords
from kcover.selection.partition import facility_location_partitioned
from kcover.selection.result import Selection
from kcover.selection.sketch import sketch_bound, target_sketch

EXACT_SECONDS = 60.0  # the time budget of exact lazy greedy's first pass
# multiply-adds per second of the blocked similarity pass, stated round figures (docs/scale.md): 2 CPU
# cores (2e10), a GPU (2e13; an H200 ran exact lazy greedy at N = 1e6, d = 128 in 131 s)
RATE = {"cpu": 2e10, "gpu": 2e13, "tpu": 2e13}
SKETCH_MIN, SKETCH_PER_PICK = 1024, 1  # K = max(SKETCH_MIN, SKETCH_PER_PICK k), at most T / 4


class Plan(NamedTuple):
    """What :func:`auto_plan` chose: ``targets_sketch`` K (None: every target), ``partitions`` P,
    and ``reason``, one line for the summary."""

    targets_sketch: int | None
    partitions: int
    reason: str


def exact_budget(backend: str | None = None) -> float:
    """Multiply-adds of a first pass that auto still runs exactly: RATE[backend] * EXACT_SECONDS."""
    return RATE.get(backend or jax.default_backend(), RATE["gpu"]) * EXACT_SECONDS


def sketch_size(t: int, k: int) -> int:
    """The auto sketch size for T targets and k picks: max(1024, k), at most T / 4."""
    return int(max(1, min(t // 4, max(SKETCH_MIN, SKETCH_PER_PICK * k))))


def auto_plan(
    n: int, t: int, d: int, k: int, *, exact: bool = False, processes: int = 1, backend: str | None = None
) -> Plan:
    """The path ``method="auto"`` takes for N = ``n`` candidates, T = ``t`` targets, d, k (module docstring)."""
    work, budget = float(n) * t * d, exact_budget(backend)
    if exact:
        return Plan(None, 1, f"exact forced (first pass N*T*d = {work:.3g}, budget {budget:.3g})")
    if work <= budget:
        return Plan(None, 1, f"first pass N*T*d = {work:.3g} <= budget {budget:.3g}: exact lazy greedy")
    size = sketch_size(t, k)
    parts = processes if processes > 1 and n // processes >= k else 1
    why = f"first pass N*T*d = {work:.3g} > budget {budget:.3g}: a {size}-centre target sketch"
    return Plan(size, parts, why + (f", {parts} partitions (one per process)" if parts > 1 else ""))


def with_exact_objective(x: np.ndarray, sel: Selection, opts: dict[str, Any], extra: dict[str, Any]) -> Selection:
    """``sel`` with ``info`` completed: the exact objective of its picks over the real targets."""
    cov = {
        o: opts[o] for o in ("kernel", "bandwidth", "targets", "target_weights", "initial") if opts.get(o) is not None
    }
    exact = objective(x, sel.indices, **cov)
    return sel._replace(
        info={**sel.info, **extra, "exact_objective": exact, "approximate_objective": float(sel.objective[-1])}
    )


def facility_location_scaled(
    features: Any,
    k: int,
    *,
    targets_sketch: int | None = None,
    partitions: int = 1,
    split: str = "random",
    sketch_method: str = "kmeans",
    reason: str = "",
    **options: Unpack[FLKeywords],
) -> Selection:
    """Greedy facility location on ``features`` (N, d), with a target sketch and/or partitions.

    ``targets_sketch``: K weighted k-means centres replace the T targets (None: exact targets).
    ``partitions``: P > 1 runs GreeDi over P parts (``split`` "random" or "kmeans").
    ``sketch_method``: "kmeans" or "sample". ``options``: :func:`kcover.facility_location`'s.
    Without either it is :func:`kcover.facility_location`, with ``info`` adding ``method``,
    ``approximation`` None and ``reason``. Time: the sketch O(T K d) + greedy O(N K d) first
    pass; memory O((N + T) d + K d), never N x T.
    """
    x = checks.features(features, "features")
    opts: dict[str, Any] = {key: v for key, v in options.items() if v is not None}
    parts = checks.positive_int(partitions, "partitions", maximum=x.shape[0])
    method = opts.get("method", "lazy")
    if targets_sketch is None and parts == 1:
        sel = facility_location(x, k, **opts)
        return sel._replace(info={**sel.info, "method": method, "approximation": None, "reason": reason})
    approx: dict[str, Any] = {}
    t0 = time.perf_counter()
    run_opts: dict[str, Any] = dict(opts)
    if targets_sketch is not None:
        t = x if opts.get("targets") is None else checks.features(opts["targets"], "targets")
        kern = make_kernel(opts.get("kernel", "rbf"), opts.get("bandwidth"), x)
        sk = target_sketch(
            t,
            checks.budget(targets_sketch, t.shape[0], "targets_sketch"),
            target_weights=opts.get("target_weights"),
            method=sketch_method,
            seed=opts.get("seed", 0),
            normalize=kern.name == "cosine",
        )
        run_opts.update(kernel=kern, targets=sk.centres, target_weights=sk.weights)
        approx.update(
            targets_sketch=int(sk.weights.size), sketch_method=sketch_method, sketch_bound=sketch_bound(sk, kern, x)
        )
    t1 = time.perf_counter()
    if parts > 1:
        sel = facility_location_partitioned(x, k, partitions=parts, split=split, **run_opts)
        approx.update(partitions=int(sel.info["partitions"]), split=split)
    else:
        sel = facility_location(x, k, **run_opts)
    path = method + ("+sketch" if targets_sketch is not None else "") + ("+partitions" if parts > 1 else "")
    extra: dict[str, Any] = dict(
        method=path, approximation=approx, reason=reason, select_seconds=round(time.perf_counter() - t1, 3)
    )
    if targets_sketch is not None:
        extra["sketch_seconds"] = round(t1 - t0, 3)
    return with_exact_objective(x, sel, opts, extra)


def facility_location_auto(
    features: Any,
    k: int,
    *,
    exact: bool = False,
    targets_sketch: int | None = None,
    partitions: int | None = None,
    split: str = "random",
    **options: Unpack[FLKeywords],
) -> Selection:
    """``method="auto"``: exact lazy greedy when affordable, else the approximate path (module docstring).

    ``exact``: force exact lazy greedy. ``targets_sketch`` / ``partitions`` given: use them
    (an approximate path) instead of the rule. ``options``: :func:`kcover.facility_location`'s,
    but ``method`` (always lazy). Time and memory: those of the path taken (``info["method"]``).
    """
    x = checks.features(features, "features")
    if options.get("method") not in (None, "auto"):
        raise ValueError(f"method: auto chooses the method itself, got {options['method']!r}")
    opts: dict[str, Any] = {key: v for key, v in options.items() if v is not None and key != "method"}
    t = x.shape[0] if opts.get("targets") is None else np.shape(opts["targets"])[0]
    if exact and (targets_sketch is not None or (partitions or 1) > 1):
        raise ValueError("exact: cannot be combined with targets_sketch or partitions")
    plan = auto_plan(x.shape[0], t, x.shape[1], k, exact=exact, processes=jax.process_count())
    if targets_sketch is not None or partitions is not None:
        plan = Plan(targets_sketch, partitions or 1, "targets_sketch/partitions given")
    return facility_location_scaled(
        x,
        k,
        targets_sketch=plan.targets_sketch,
        partitions=plan.partitions,
        split=split,
        reason=plan.reason,
        method="lazy",
        **opts,
    )
