"""Facility location with the targets sharded over devices.

The objective is a sum over targets, so the targets (and their weights) are split over a
1-D :class:`jax.sharding.Mesh`: each device holds T / D targets, every candidate, and the
coverage of its own targets. Each gain is a per-device partial sum completed with ``psum``;
the picks, gains and objective are then the same on every device, and equal to the
single-device run's. The same jitted loop as :func:`kcover.facility_location` runs inside
``jax.shard_map``; naive, lazy (with or without ``cache``) and stochastic greedy all work.

Per device: time O(N (T / D) d) per full gain pass, plus one all-reduce of a (B,) or (N,)
vector per round; memory O(N d + (T / D) d + N) plus one (T / D, max(B, 512)) similarity
block (and N T / D float16 with ``cache``). Use it when T x d (or the similarity blocks) outgrow
one device, or to spread a large pass over several.

Exactness: ``psum`` adds the partial sums in another order than one device's sum, so a gain can
differ from the single-device gain in the last bit; the picks are the same unless two gains tie
to within float rounding. With integer-valued similarities in float64 (or data without
near-ties) they are identical.

Several hosts: JAX's own distributed runtime does the work. Start one process per host with
``jax.distributed.initialize(coordinator_address, num_processes, process_id)`` before anything
else, build the mesh over ``jax.devices()`` (all hosts' devices), and call
:func:`facility_location_sharded` with the same arguments in every process.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from kcover.facility_location import (
    _STATIC,
    FeatureSimilarity,
    _check_floor,
    _check_options,
    _greedy_impl,
    _prepare,
    sample_size,
)
from kcover.kernels import Kernel
from kcover.result import Selection


def target_mesh(devices: Any = None, axis: str = "targets") -> Mesh:
    """A 1-D mesh named ``axis`` over ``devices`` (default: every device JAX sees)."""
    devs = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devs.reshape(-1), (axis,))


@functools.lru_cache(maxsize=64)
def _sharded_greedy(mesh: Mesh, axis: str, kernel_name: str, precision: str, statics: tuple) -> Any:
    """The jitted, shard_mapped greedy loop for one mesh, kernel and set of static options."""
    kw = dict(zip(_STATIC, statics))
    fn = functools.partial(_greedy_impl, **kw)
    src_spec = FeatureSimilarity(P(axis), P(), Kernel(kernel_name, P()), precision, False)  # a tree of specs
    return jax.jit(
        jax.shard_map(
            fn,
            mesh=mesh,
            in_specs=(src_spec, P(axis), P(), P(), P(), P()),
            out_specs=(P(), P(), P(), P(), P(axis), P()),
            check_vma=False,
        )
    )


def facility_location_sharded(
    features: Any,
    k: int,
    *,
    mesh: Mesh | None = None,
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
    """Greedy facility location with the targets sharded over the 1-D ``mesh``.

    Args:
      mesh: a 1-D :class:`jax.sharding.Mesh` (default :func:`target_mesh` over every device).
        The targets are zero-weight padded to a multiple of its size.
      everything else: as :func:`kcover.facility_location`.

    Returns:
      the same :class:`~kcover.result.Selection` as :func:`kcover.facility_location`
      (``coverage`` gathered to (T,)).

    Time per device O(N (T / D) d) per gain pass (see :mod:`kcover.sharding`); memory per device
    O(N d + (T / D) d + N + (T / D) max(B, 512)), + N T / D float16 with ``cache``.
    """
    block = _check_options(method, epsilon, block, precision, cache)
    mesh = target_mesh() if mesh is None else mesh
    if len(mesh.axis_names) != 1:
        raise ValueError(f"mesh: must be 1-D, got axes {mesh.axis_names}")
    axis = mesh.axis_names[0]
    src, w, init, k = _prepare(features, targets, target_weights, kernel, bandwidth, initial, k, precision=precision)
    if src.kernel.name == "linear":
        if cache:
            raise ValueError("cache: needs a bounded kernel (rbf or cosine); linear similarities may overflow float16")
        _check_floor(src, src.kernel.floor, block, "features")
    n_dev = mesh.devices.size
    t_real = w.shape[0]
    pad = (-t_real) % n_dev
    t = np.asarray(src.targets)
    if pad:
        t = np.concatenate([t, np.zeros((pad, t.shape[1]), t.dtype)])
        w = np.concatenate([w, np.zeros(pad, w.dtype)])
    shard = NamedSharding(mesh, P(axis))
    rep = NamedSharding(mesh, P())
    src = FeatureSimilarity(
        jax.device_put(t, shard),
        jax.device_put(src.candidates, rep),
        Kernel(src.kernel.name, jax.device_put(jnp.asarray(src.kernel.bandwidth, t.dtype), rep)),
        precision,
        False,  # each device holds a shard of the targets, not the candidates
    )
    n = src.n_candidates
    sample = sample_size(n, k, epsilon) if method == "stochastic" else 1
    statics = (k, method, block, sample, bool(cache), axis)
    run = _sharded_greedy(mesh, axis, src.kernel.name, precision, statics)
    out = run(
        src,
        jax.device_put(w, shard),
        jax.device_put(jnp.asarray(src.kernel.floor, w.dtype), rep),
        jax.device_put(jnp.asarray(init, jnp.int32), rep),
        jax.device_put(jnp.zeros(k, jnp.int32), rep),
        jax.device_put(jax.random.key(seed), rep),
    )
    picks, gains, objective, weights, cur, _ = (np.asarray(a) for a in out)
    return Selection(picks.astype(np.int32), gains, objective, weights, cur[:t_real], method)
