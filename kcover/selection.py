"""One entry point for every selector, and the uniform random baseline."""

from __future__ import annotations

from typing import Any

import numpy as np

from kcover import _checks
from kcover.facility_location import METHODS as FL_METHODS
from kcover.facility_location import evaluate_sequence, facility_location
from kcover.kcenter import k_center
from kcover.kernels import Kernel
from kcover.result import Selection

METHODS = FL_METHODS + ("kcenter", "random")


def random_subset(
    features: Any,
    k: int,
    *,
    kernel: str | Kernel = "rbf",
    bandwidth: float | None = None,
    targets: Any = None,
    target_weights: Any = None,
    initial: Any = None,
    seed: int = 0,
) -> Selection:
    """Uniform random k points (without replacement, outside ``initial``) from ``features`` (N, d).

    The picks are scored on the facility-location objective in the given kernel so that they
    compare directly with the greedy selectors. Time O(k T d).
    """
    x = _checks.features(features, "features")
    init = _checks.indices(initial, x.shape[0], "initial")
    k = _checks.budget(k, x.shape[0] - init.size)
    free = np.setdiff1d(np.arange(x.shape[0]), init)
    order = np.random.default_rng(seed).permutation(free)[:k]
    return evaluate_sequence(x, order, kernel=kernel, bandwidth=bandwidth, targets=targets,
                             target_weights=target_weights, initial=init, method="random")


def select(
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
    **options: Any,
) -> Selection:
    """Select ``k`` of the rows of ``features`` (N, d).

    ``method``: "lazy" (default), "naive", "stochastic" (facility location, see
    :func:`~kcover.facility_location.facility_location`), "kcenter" (Gonzalez, in the kernel's
    metric; ``targets``/``target_weights`` not supported) or "random" (scored on facility location).
    ``options`` go to the facility-location selector (``block``).
    """
    _checks.choice(method, METHODS, "method")
    if method in FL_METHODS:
        return facility_location(features, k, method=method, kernel=kernel, bandwidth=bandwidth, targets=targets,
                                 target_weights=target_weights, initial=initial, epsilon=epsilon, seed=seed,
                                 **options)
    if options:
        raise ValueError(f"options: {sorted(options)} apply to facility location only, not {method!r}")
    if method == "kcenter":
        if targets is not None or target_weights is not None:
            raise ValueError("targets: k-center covers the pool itself; targets and target_weights are not supported")
        return k_center(features, k, kernel=kernel, bandwidth=bandwidth, initial=initial, seed=seed)
    return random_subset(features, k, kernel=kernel, bandwidth=bandwidth, targets=targets,
                         target_weights=target_weights, initial=initial, seed=seed)
