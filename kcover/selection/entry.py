"""One entry point for every selector, and the uniform random baseline."""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np

from kcover import checks
from kcover.kernels import Kernel
from kcover.selection.ann import knn_select
from kcover.selection.auto import facility_location_auto, facility_location_scaled
from kcover.selection.facility_location import evaluate_sequence, facility_location, objective
from kcover.selection.facility_options import CoverageKeywords
from kcover.selection.facility_rules import METHODS as FL_METHODS
from kcover.selection.kcenter import DEFAULT_KERNEL as KCENTER_KERNEL
from kcover.selection.kcenter import k_center
from kcover.selection.result import Selection

METHODS = FL_METHODS + ("auto", "knn", "kcenter", "random")
SCALE_OPTIONS = ("targets_sketch", "partitions", "split")  # facility location's approximate paths


def random_subset(features: Any, k: int, *, seed: int = 0, **coverage: Unpack[CoverageKeywords]) -> Selection:
    """Uniform random k points (without replacement, outside ``initial``) from ``features`` (N, d).

    The picks are scored on the facility-location objective (``coverage``: ``kernel``,
    ``bandwidth``, ``targets``, ``target_weights``, ``initial``, as
    :func:`~kcover.selection.facility_location.facility_location`) so that they compare directly with the
    greedy selectors. Time O(k T d).
    """
    x, order, init = _random_order(features, k, seed, coverage.get("initial"))
    scored: dict[str, Any] = {**coverage, "initial": init}
    return evaluate_sequence(x, order, method="random", **scored)


def random_objective(features: Any, k: int, *, seed: int = 0, **coverage: Unpack[CoverageKeywords]) -> float:
    """F(S) of the subset :func:`random_subset` picks with the same ``seed``, without its curves.

    The same value as ``random_subset(...).objective[-1]`` (up to float32 rounding) from
    ceil(k / 64) wide similarity calls instead of k one-column steps: the baseline ``kcover
    select`` prints. ``features`` (N, d); time O(k T d).
    """
    x, order, init = _random_order(features, k, seed, coverage.get("initial"))
    scored: dict[str, Any] = {**coverage, "initial": init}
    return objective(x, order, **scored)


def _random_order(features: Any, k: int, seed: int, initial: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = checks.features(features, "features")
    init = checks.indices(initial, x.shape[0], "initial")
    k = checks.budget(k, x.shape[0] - init.size)
    free = np.setdiff1d(np.arange(x.shape[0]), init)
    return x, np.random.default_rng(seed).permutation(free)[:k], init


def select(
    features: Any, k: int, *, method: str = "lazy", kernel: str | Kernel | None = None, **options: Any
) -> Selection:
    """Select ``k`` of the rows of ``features`` (N, d).

    ``method``: "lazy" (default, exact), "naive", "stochastic" (facility location: ``options`` are its
    keywords, see :func:`~kcover.selection.facility_location.facility_location`, plus
    ``targets_sketch`` K and ``partitions`` P / ``split`` for the approximate paths of
    :mod:`kcover.selection.auto`), "auto" (exact lazy greedy while its first pass fits the
    time budget, a target sketch above; ``exact=True`` forces exact; see
    :func:`~kcover.selection.auto.auto_plan`), "knn" (greedy on a faiss kNN graph;
    ``neighbors`` m, default 32, ``index``), "kcenter" (Gonzalez, in the kernel's metric;
    ``bandwidth``, ``initial``, ``seed``) or "random" (scored on facility location;
    ``bandwidth``, ``targets``, ``target_weights``, ``initial``, ``seed``).
    ``kernel``: default "rbf" for facility location and random, "linear" (Euclidean distance)
    for k-center. ``info["method"]`` and ``info["approximation"]`` say which path ran (auto,
    knn, or with a sketch or partitions).
    """
    checks.choice(method, METHODS, "method")
    if method == "auto":
        return facility_location_auto(features, k, kernel=kernel or "rbf", **options)
    if method == "knn":
        return knn_select(features, k, kernel=kernel or "rbf", **options)
    if method in FL_METHODS:
        if any(options.get(o) is not None for o in SCALE_OPTIONS):
            return facility_location_scaled(features, k, method=method, kernel=kernel or "rbf", **options)
        options = {key: v for key, v in options.items() if key not in SCALE_OPTIONS}
        return facility_location(features, k, method=method, kernel=kernel or "rbf", **options)
    options = {key: v for key, v in options.items() if v is not None}  # None: not given
    allowed = {
        "kcenter": ("bandwidth", "initial", "seed"),
        "random": ("bandwidth", "targets", "target_weights", "initial", "seed"),
    }[method]
    extra = sorted(set(options) - set(allowed))
    if extra:
        if method == "kcenter" and {"targets", "target_weights"} & set(extra):
            raise ValueError("targets: k-center covers the pool itself; targets and target_weights are not supported")
        raise ValueError(f"options: {extra} apply to facility location only, not {method!r}")
    if method == "kcenter":
        return k_center(features, k, kernel=kernel or KCENTER_KERNEL, **options)
    return random_subset(features, k, kernel=kernel or "rbf", **options)
