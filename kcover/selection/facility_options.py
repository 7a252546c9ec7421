"""Facility location's keywords, defined once: their defaults, their checks, and what "auto" means.

Every facility-location entry point (:func:`kcover.facility_location`, :func:`kcover.select`,
:func:`kcover.facility_location_sharded`, the ``kcover select`` command) takes these keywords and
resolves them here, so a default or a check changes in one place.

Auto defaults:

* ``block="auto"``: 16 on the CPU (a narrow block wastes the least work per lazy round on a
  processor that gains little from wide products), 1024 on a GPU or TPU (wide products are
  nearly free there).
* ``cache="auto"``: the float16 bound cache is on for lazy greedy with the rbf or cosine kernel
  when its N x T x 2 bytes fit in ``CACHE_SHARE`` of the memory available (on the CPU the
  system's available memory, on an accelerator the device's free memory), off otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.kernels import Kernel, make_kernel, power_of_two_scale
from kcover.selection.facility_rules import METHODS
from kcover.selection.lazy import pass_width, uses_symmetric_pass
from kcover.selection.similarity import PRECISIONS, FeatureSimilarity, Similarity, feature_source, min_similarity


class CoverageKeywords(TypedDict, total=False):
    """What is covered and how similarity is measured: every coverage function takes these
    (see :func:`kcover.facility_location` for each)."""

    kernel: str | Kernel
    bandwidth: float | None
    targets: Any
    target_weights: Any
    initial: Any


class FLKeywords(CoverageKeywords, total=False):
    """The keywords of facility location (see :func:`kcover.facility_location` for each)."""

    method: str
    epsilon: float
    seed: int
    block: int | str
    precision: str
    cache: bool | str


DEFAULTS: dict[str, Any] = dict(
    method="lazy",
    kernel="rbf",
    bandwidth=None,
    targets=None,
    target_weights=None,
    initial=None,
    epsilon=0.1,
    seed=0,
    block="auto",
    precision="highest",
    cache="auto",
)
CPU_BLOCK, ACCELERATOR_BLOCK = 16, 1024
CACHE_SHARE = 0.25  # the cache may take at most this share of the available memory
CACHE_KERNELS = ("rbf", "cosine")  # bounded similarities: float16 holds them


COVERAGE = tuple(CoverageKeywords.__annotations__)


def keywords(
    given: Mapping[str, Any], allowed: tuple[str, ...] = tuple(DEFAULTS), name: str = "options"
) -> dict[str, Any]:
    """``given`` completed with :data:`DEFAULTS`; a keyword outside ``allowed`` is an error naming it."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{name}: unknown keyword(s) {unknown}; this function takes {', '.join(allowed)}")
    return {**DEFAULTS, **given}


def auto_block(backend: str | None = None) -> int:
    """The block ``"auto"`` stands for on ``backend`` (default: JAX's default backend)."""
    return CPU_BLOCK if (backend or jax.default_backend()) == "cpu" else ACCELERATOR_BLOCK


def available_memory() -> int:
    """Bytes free for new arrays on JAX's default device: the system's available memory on the CPU,
    the device's limit minus its use on an accelerator."""
    if jax.default_backend() != "cpu":
        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def cache_bytes(n: int, t: int, block: int) -> int:
    """Bytes of the float16 cache for N candidates and T targets: rows padded to the pass width,
    and columns too when the targets are the pool (the symmetric pass's square cache)."""
    symmetric = t == n and uses_symmetric_pass(n, block)
    width = pass_width(n, block, symmetric)
    rows = -(-n // width) * width
    return 2 * rows * (rows if symmetric else t)


def resolve(method: str, epsilon: float, block: Any, precision: str, cache: Any) -> tuple[int, Any]:
    """Check the loop options; returns (block, cache) with ``block`` resolved (``cache`` may stay "auto")."""
    checks.choice(method, METHODS, "method")
    if method == "stochastic" and not 0 < epsilon < 1:
        raise ValueError(f"epsilon: must lie in (0, 1), got {epsilon}")
    checks.choice(precision, tuple(PRECISIONS), "precision")
    if not (isinstance(cache, (bool, np.bool_)) or cache == "auto"):
        raise ValueError(f"cache: must be True, False or 'auto', got {cache!r}")
    if cache is True and method != "lazy":
        raise ValueError(f"cache: speeds up lazy greedy only, not {method!r}")
    block = auto_block() if isinstance(block, str) and block == "auto" else checks.positive_int(block, "block")
    return block, cache


def decide_cache(cache: Any, method: str, kernel: Kernel, n: int, t: int, block: int) -> bool:
    """Whether the float16 cache is used: ``cache`` itself, or the auto rule of the module note."""
    if cache == "auto":
        return (
            method == "lazy"
            and kernel.name in CACHE_KERNELS
            and cache_bytes(n, t, block) <= CACHE_SHARE * available_memory()
        )
    if cache and kernel.name not in CACHE_KERNELS:
        raise ValueError("cache: needs a bounded kernel (rbf or cosine); linear similarities may overflow float16")
    return bool(cache)


def prepare(
    features: Any, k: Any, opts: dict[str, Any], dtype: Any = None
) -> tuple[FeatureSimilarity, np.ndarray, np.ndarray, int]:
    """Validate features, targets, weights, initial subset and budget; build the similarity source.

    Returns (source, target weights (T,), initial (m,) int32, k). For the rbf and cosine kernels
    the features and targets (and the rbf bandwidth) are divided by a power of two near the
    candidates' largest magnitude (:func:`~kcover.kernels.power_of_two_scale`), which leaves
    every similarity unchanged and keeps squared norms inside float32's range.
    """
    targets = opts["targets"]
    x = checks.features(features, "features", dtype=dtype)
    t = x if targets is None else checks.features(targets, "targets", dtype=x.dtype)
    if targets is not None:
        checks.same_width(x, t, "features", "targets")
    w = checks.weights(opts["target_weights"], t.shape[0], "target_weights").astype(x.dtype)
    init = checks.indices(opts["initial"], x.shape[0], "initial")
    k = checks.budget(k, x.shape[0] - init.size)
    kern = make_kernel(opts["kernel"], opts["bandwidth"], x)
    if kern.name in CACHE_KERNELS:
        s = power_of_two_scale(x)  # from the candidates alone: the same in every process of a sharded run
        if s != 1.0:
            x = x / np.asarray(s, x.dtype)
            t = x if targets is None else t / np.asarray(s, t.dtype)
            if kern.name == "rbf":
                kern = Kernel("rbf", float(kern.bandwidth) / s)
    xj = jnp.asarray(x)
    src = feature_source(xj if targets is None else jnp.asarray(t), xj, kern, opts["precision"], targets is None)
    return src, w, init, k


_min_similarity = jax.jit(min_similarity, static_argnames=("block",))


def check_floor(src: Similarity, floor: float, block: int, name: str) -> None:
    """Raise naming ``name`` if a similarity is below ``floor`` or not finite (linear kernels)."""
    low = float(_min_similarity(src, block))
    if not np.isfinite(low):
        raise ValueError(
            f"{name}: some similarities overflow float32 (the linear kernel's dot products); "
            "rescale the features or use kernel='rbf' or 'cosine'"
        )
    if low < floor:
        raise ValueError(
            f"{name}: has similarities below {floor} (min {low:.4g}); facility location needs "
            f"similarities >= the floor. Use kernel='rbf' or 'cosine', or shift your similarities"
        )
