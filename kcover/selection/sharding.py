"""Facility location with the targets sharded over devices, in one process or several.

The objective is a sum over targets, so the targets (and their weights) are split over a
1-D :class:`jax.sharding.Mesh`: each device holds T / D targets, every candidate, and the
coverage of its own targets. Each gain is a per-device partial sum completed with ``psum``;
the picks, gains and objective are then the same on every device, and equal to the
single-device run's. The same jitted loop as :func:`kcover.facility_location` runs inside
``jax.shard_map``; naive, lazy (with or without ``cache``) and stochastic greedy all work.

Per device: time O(N (T / D) d) per full gain pass, plus one all-reduce of a (B,) or (N,)
vector per round; memory O(N d + (T / D) d + N) plus one (T / D, max(B, 256)) similarity
block (and N T / D float16 with ``cache``). Use it when T x d (or the similarity blocks) outgrow
one device, or to spread a large pass over several.

Exactness: ``psum`` adds the partial sums in another order than one device's sum, so a gain can
differ from the single-device gain in the last bit; the picks are the same unless two gains tie
to within float rounding. With integer-valued similarities in float64 (or data without
near-ties) they are identical.

Several processes (one per host, or several on one machine): JAX's own distributed runtime does
the work. Every process calls ``jax.distributed.initialize(coordinator_address, num_processes,
process_id)`` before anything else, builds the mesh over ``jax.devices()`` (every process's
devices) and calls :func:`facility_location_sharded` with the same arguments. The global arrays
are built with ``jax.make_array_from_callback`` (each process supplies only the shards on its own
devices) and the picks, gains, objective, weights and coverage are brought back to every process.
Two input modes:

* every process passes the whole ``targets`` (or none: the targets are the pool);
* ``local_targets=True``: each process passes only its own rows of ``targets`` and
  ``target_weights``; the targets are their concatenation in process order, so they never sit in
  one host's memory. Every process still passes every candidate (``features``).

Before the loop the processes exchange a small summary of their arguments (shapes, ``k``, the
options, a checksum of a sample of rows, and any argument error), so a bad argument in one
process, or arguments that differ between processes, raise the same ValueError in every process
instead of a hang. Launch recipes: docs/distributed.md.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any, Unpack

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from kcover.kernels import Kernel
from kcover.selection.facility_options import FLKeywords, check_floor, decide_cache, keywords, prepare, resolve
from kcover.selection.facility_rules import STATIC, greedy_loop, sample_size, to_selection
from kcover.selection.result import Selection
from kcover.selection.similarity import FeatureSimilarity

_MSG_BYTES = 192  # bytes of an argument error passed on to the other processes
_SAMPLE_ROWS = 1024  # rows of features / targets checksummed to compare processes' arguments


def target_mesh(devices: Any = None, axis: str = "targets") -> Mesh:
    """A 1-D mesh named ``axis`` over ``devices`` (default: every device JAX sees, in every process)."""
    devs = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devs.reshape(-1), (axis,))


@functools.lru_cache(maxsize=64)
def _sharded_greedy(mesh: Mesh, axis: str, kernel_name: str, precision: str, unit: bool, statics: tuple) -> Any:
    """The jitted, shard_mapped greedy loop for one mesh, kernel and set of static options."""
    kw = dict(zip(STATIC, statics))

    def loop(src, w, floor, initial, order, key_data):
        # the PRNG key travels as its (2,) uint32 data: a plain array can be built across processes
        return greedy_loop(src, w, floor, initial, order, jax.random.wrap_key_data(key_data), **kw)

    # a tree of partition specs with the similarity source's structure (not arrays: hence the ignore)
    src_spec = FeatureSimilarity(P(axis), P(), Kernel(kernel_name, P()), precision, False, unit)  # type: ignore[arg-type]
    return jax.jit(
        jax.shard_map(
            loop,
            mesh=mesh,
            in_specs=(src_spec, P(axis), P(), P(), P(), P()),
            out_specs=(P(), P(), P(), P(), P(axis), P()),
            check_vma=False,
        )
    )


def _replicated(x: Any, mesh: Mesh) -> jax.Array:
    """``x`` (the same in every process) on every device of ``mesh``; each process fills its own devices."""
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, NamedSharding(mesh, P()), lambda idx: x[idx])


def _row_sharded(local: np.ndarray, rows: int, slots: dict[int, int], mesh: Mesh) -> jax.Array:
    """A (D * rows, ...) array split by rows over ``mesh``, built from this process's rows.

    ``local`` holds this process's blocks of ``rows`` rows; ``slots`` maps the first global row of
    each of this process's devices to the index of its block in ``local``.
    """
    d = mesh.devices.size

    def block(idx: Any) -> np.ndarray:
        j = slots[idx[0].start or 0]
        return local[j * rows : (j + 1) * rows][(slice(None), *idx[1:])]

    sharding = NamedSharding(mesh, P(mesh.axis_names[0]))
    return jax.make_array_from_callback((d * rows, *local.shape[1:]), sharding, block)


def _fetch(a: jax.Array) -> np.ndarray:
    """The whole value of ``a`` in this process (a collective when ``a`` is split over processes)."""
    if a.is_fully_addressable:
        return np.asarray(a)
    if a.is_fully_replicated:
        return np.asarray(a.addressable_data(0))
    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def _checksum(x: np.ndarray) -> int:
    """crc32 of the shape and of about ``_SAMPLE_ROWS`` evenly spaced rows of ``x`` (31 bits)."""
    rows = np.ascontiguousarray(x[:: max(1, x.shape[0] // _SAMPLE_ROWS)])
    return zlib.crc32(rows.tobytes(), zlib.crc32(repr((x.shape, str(x.dtype))).encode())) & 0x7FFFFFFF


def _agree(err: Exception | None, facts: list[int], same_targets: bool) -> np.ndarray:
    """Exchange every process's argument summary; raise the same ValueError everywhere on a problem.

    ``facts``: [N, d, k, local target rows, features checksum, options checksum, targets
    checksum, whether the float16 cache fits here], zeros where ``err`` is set; ``same_targets``:
    every process passed all the targets. Returns the (P, 8) table of every process's facts, in
    process order.
    """
    msg = np.zeros(_MSG_BYTES, np.int32)
    if err is not None:
        text = str(err).encode()[:_MSG_BYTES]
        msg[: len(text)] = np.frombuffer(text, np.uint8)
    row = np.asarray([jax.process_index(), err is None, *facts], np.int64)
    table = np.asarray(multihost_utils.process_allgather(np.concatenate([row, msg]).astype(np.int32)))
    table = table[np.argsort(table[:, 0])]
    if err is not None:
        raise err
    failed = np.flatnonzero(table[:, 1] == 0)
    if failed.size:
        p = int(failed[0])
        said = bytes(table[p, 2 + len(facts) :].astype(np.uint8)).rstrip(b"\0").decode(errors="replace")
        raise ValueError(f"{said} (raised in process {p}; every process stops)")
    facts_all = table[:, 2 : 2 + len(facts)]

    def differ(col: int) -> bool:
        return bool((facts_all[:, col] != facts_all[0, col]).any())

    if differ(0) or differ(1):
        shapes = [tuple(int(v) for v in r[:2]) for r in facts_all]
        raise ValueError(f"features: every process must pass the same candidates; shapes per process: {shapes}")
    if differ(4):
        raise ValueError(
            "features: differ between processes (row checksums differ); every process must pass "
            "the same candidates, in the same order"
        )
    if differ(2):
        raise ValueError(f"k: differs between processes: {facts_all[:, 2].tolist()}")
    if differ(5):
        raise ValueError(
            "method: the options (method, kernel, bandwidth, initial, epsilon, seed, block, precision, "
            "cache, local_targets, dtype) differ between processes; pass the same in every process"
        )
    if same_targets and (differ(3) or differ(6)):
        raise ValueError(
            "targets: differ between processes; pass the same targets in every process, or "
            "local_targets=True with each process's own rows"
        )
    return facts_all


def facility_location_sharded(
    features: Any, k: int, *, mesh: Mesh | None = None, local_targets: bool = False, **options: Unpack[FLKeywords]
) -> Selection:
    """Greedy facility location with the targets sharded over the 1-D ``mesh``.

    Args:
      features: (N, d) candidates, the same in every process.
      k: number of points to pick, as :func:`kcover.facility_location`.
      mesh: a 1-D :class:`jax.sharding.Mesh` (default :func:`target_mesh` over every device of
        every process). The targets are zero-weight padded to fill its devices equally. With
        several processes it must hold devices of every process, and every process calls this
        function with the same arguments.
      local_targets: ``targets`` (T_p, d) and ``target_weights`` (T_p,) hold only this process's
        rows (at least one); the targets are the processes' rows concatenated in process order,
        T = sum_p T_p. Default False: every process passes all the targets (or none: the pool).
      options: the keywords of :func:`kcover.facility_location` (``method``, ``kernel``,
        ``bandwidth``, ``targets``, ``target_weights``, ``initial``, ``epsilon``, ``seed``,
        ``block``, ``precision``, ``cache``). ``cache="auto"`` is on only if N x (the targets on
        each process's devices) x 2 bytes fit in every process.

    Returns:
      the same :class:`~kcover.selection.result.Selection` as :func:`kcover.facility_location`, in every
      process; ``coverage`` gathered to (T,) (with ``local_targets``, in process order); ``info``
      also holds the number of ``devices`` and ``processes``.

    Time per device O(N (T / D) d) per gain pass (see :mod:`kcover.selection.sharding`); memory per device
    O(N d + (T / D) d + N + (T / D) max(B, 256)), + N T / D float16 with the cache; per process,
    the host arrays passed in plus the gathered (T,) coverage.
    """
    mesh = target_mesh() if mesh is None else mesh
    if not isinstance(mesh, Mesh) or len(mesh.axis_names) != 1:
        raise ValueError(f"mesh: must be 1-D, got axes {getattr(mesh, 'axis_names', mesh)}")
    axis = mesh.axis_names[0]
    devices = list(mesh.devices.flat)
    n_dev, n_proc = len(devices), jax.process_count()
    spans = any(d.process_index != jax.process_index() for d in devices)
    if spans and {d.process_index for d in devices} != set(range(n_proc)):
        missing = sorted(set(range(n_proc)) - {d.process_index for d in devices})
        raise ValueError(f"mesh: has no device of process(es) {missing}; build it over jax.devices()")
    mine = sum(d.process_index == jax.process_index() for d in devices)

    err, facts = None, [0] * 8
    try:
        opts = keywords(options)
        method = opts["method"]
        block, cache = resolve(method, opts["epsilon"], opts["block"], opts["precision"], opts["cache"])
        if not isinstance(local_targets, (bool, np.bool_)):
            raise ValueError(f"local_targets: must be True or False, got {local_targets!r}")
        if local_targets and opts["targets"] is None:
            raise ValueError("local_targets: needs targets (this process's rows of them)")
        with jax.default_device(jax.local_devices(backend="cpu")[0]):  # host arrays, not device 0's memory
            src, w, init, k = prepare(features, k, opts)
        x, t = np.asarray(src.candidates), np.asarray(src.targets)
        here = t.shape[0] if local_targets or not spans else -(-t.shape[0] // n_dev) * mine  # targets on my devices
        fits = decide_cache(cache, method, src.kernel, x.shape[0], here, block)
        if src.kernel.name == "linear":
            check_floor(src, src.kernel.floor, block, "features")
        settings = (
            method,
            src.kernel.name,
            float(src.kernel.bandwidth),
            init.tolist(),
            float(opts["epsilon"]),
            int(opts["seed"]),
            block,
            opts["precision"],
            str(cache),
            bool(local_targets),
            str(t.dtype),
            axis,
        )
        facts = [
            x.shape[0],
            x.shape[1],
            k,
            t.shape[0],
            _checksum(x),
            zlib.crc32(repr(settings).encode()) & 0x7FFFFFFF,
            0 if local_targets else _checksum(t),
            int(fits),
        ]
    except Exception as e:  # with several processes, every process must learn of it, or the others hang
        if not spans:
            raise
        err = e
    table = _agree(err, facts, not local_targets) if spans else np.asarray([facts])
    cache = bool(table[:, 7].all())  # "auto" is on only where it fits in every process

    me = jax.process_index() if spans else 0
    if local_targets and spans:
        counts = table[:, 3].astype(int)
        owned = [[j for j, d in enumerate(devices) if d.process_index == p] for p in range(n_proc)]
        rows = max(-(-c // len(o)) for c, o in zip(counts, owned))
        positions = np.concatenate(
            [np.asarray(o)[np.arange(c) // rows] * rows + np.arange(c) % rows for c, o in zip(counts, owned)]
        )
        slots = {j * rows: b for b, j in enumerate(owned[me])}
        size = len(owned[me]) * rows
    else:  # every process holds all the targets: device j gets rows [j * rows, (j + 1) * rows)
        rows = -(-t.shape[0] // n_dev)
        positions = np.arange(t.shape[0])
        slots = {j * rows: j for j in range(n_dev)}
        size = n_dev * rows
    t_local = np.zeros((size, t.shape[1]), t.dtype)
    t_local[: t.shape[0]] = t
    w_local = np.zeros(size, w.dtype)
    w_local[: w.shape[0]] = w

    src = FeatureSimilarity(
        _row_sharded(t_local, rows, slots, mesh),
        _replicated(x, mesh),
        Kernel(src.kernel.name, _replicated(np.asarray(src.kernel.bandwidth, t.dtype), mesh)),
        opts["precision"],
        False,  # each device holds a shard of the targets, not the candidates
        src.unit,  # cosine rows already normalised by prepare
    )
    sample = sample_size(x.shape[0], k, opts["epsilon"]) if method == "stochastic" else 1
    statics = (k, method, block, sample, cache, axis)
    run = _sharded_greedy(mesh, axis, src.kernel.name, opts["precision"], src.unit, statics)
    out = run(
        src,
        _row_sharded(w_local, rows, slots, mesh),
        _replicated(np.asarray(src.kernel.floor, w.dtype), mesh),
        _replicated(np.asarray(init, np.int32), mesh),
        _replicated(np.zeros(k, np.int32), mesh),
        _replicated(jax.random.key_data(jax.random.key(opts["seed"])), mesh),
    )
    picks, gains, objective, weights, cover, counts = (_fetch(a) for a in out)
    info = {"block": block, "cache": cache, "devices": n_dev, "processes": len(table)}
    return to_selection((picks, gains, objective, weights, cover[positions], counts), method, info)
