"""Where facility location's similarities come from, and the marginal gains computed from them.

Two sources, both pytrees so they pass through ``jax.jit`` and ``shard_map``:

* :class:`FeatureSimilarity`: similarities computed on the fly from features (targets (T, d),
  candidates (N, d)) by a :class:`~kcover.kernels.Kernel`; never an N x T matrix.
* :class:`DenseSimilarity`: a precomputed (T, N) matrix.

A source answers ``columns(idx)``: sim(targets, candidates[idx]), (T, len(idx)). The gain of
candidate i given the coverage ``cur`` (T,) and target weights w (T,) is
sum_t w_t max(sim(t, i) - cur_t, 0). With ``axis_name`` every sum over targets is completed with
``psum`` (targets sharded over devices, see :mod:`kcover.selection.sharding`).

Exactness: a matrix product's rounding depends on its shape, not on a column's position in it,
so every gain that decides a pick is computed in calls of one width (:func:`column`, :func:`gains`
with ``block`` columns). :func:`covered` is faster but position-dependent: upper bounds only.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from kcover.kernels import Kernel, blocked_rows, cosine_of_units, pairwise, unit_rows

PRECISIONS = {"highest": jax.lax.Precision.HIGHEST, "default": jax.lax.Precision.DEFAULT}


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["targets", "candidates", "kernel"],
    meta_fields=["precision", "symmetric", "unit"],
)
@dataclasses.dataclass(frozen=True)
class FeatureSimilarity:
    """Similarities computed on the fly from features: targets (T, d), candidates (N, d).

    ``precision``: "highest" (full float32 matrix products; the default) or "default" (the
    backend's fastest: TF32/bf16 passes on a GPU, the same as "highest" on the CPU).
    ``symmetric``: the targets are the candidates (the same array), so the lazy first pass
    evaluates each pair of blocks once, half the work.
    ``unit``: the kernel is cosine and both arrays' rows were normalised once
    (:func:`~kcover.kernels.unit_rows`), so a block of similarities is a clipped matrix product;
    XLA does not hoist the normalisation of all T targets out of the greedy loop by itself.
    Build one with :func:`feature_source`.
    """

    targets: jax.Array
    candidates: jax.Array
    kernel: Kernel
    precision: str = "highest"
    symmetric: bool = False
    unit: bool = False

    @property
    def n_candidates(self) -> int:
        return self.candidates.shape[0]

    def between(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """sim(a, b): (len(a), len(b)) for rows ``a`` and ``b`` taken from this source's arrays."""
        if self.unit:
            return cosine_of_units(a, b, PRECISIONS[self.precision])
        return pairwise(self.kernel, a, b, PRECISIONS[self.precision])

    def columns(self, idx: jax.Array) -> jax.Array:
        """sim(targets, candidates[idx]): (T, len(idx))."""
        return self.between(self.targets, self.candidates[idx])

    def rows(self, idx: jax.Array) -> jax.Array:
        """sim(candidates[idx], targets): (len(idx), T), the layout of the first pass and cache."""
        return self.between(self.candidates[idx], self.targets)


def feature_source(
    targets: jax.Array, candidates: jax.Array, kernel: Kernel, precision: str, symmetric: bool
) -> FeatureSimilarity:
    """A :class:`FeatureSimilarity`; for the cosine kernel, with its rows normalised once (``unit``)."""
    if kernel.name != "cosine":
        return FeatureSimilarity(targets, candidates, kernel, precision, symmetric)
    xu = unit_rows(candidates)
    tu = xu if symmetric else unit_rows(targets)
    return FeatureSimilarity(tu, xu, kernel, precision, symmetric, unit=True)


@functools.partial(jax.tree_util.register_dataclass, data_fields=["matrix"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class DenseSimilarity:
    """A precomputed similarity matrix (T, N): rows are targets, columns candidates."""

    matrix: jax.Array

    @property
    def n_candidates(self) -> int:
        return self.matrix.shape[1]

    def columns(self, idx: jax.Array) -> jax.Array:
        """matrix[:, idx]: (T, len(idx))."""
        return jnp.take(self.matrix, idx, axis=1)


Similarity = FeatureSimilarity | DenseSimilarity


def psum(x: jax.Array, axis_name: str | None) -> jax.Array:
    """``x`` summed over the devices of ``axis_name`` (unchanged without one)."""
    return x if axis_name is None else jax.lax.psum(x, axis_name)


def target_sum(x: jax.Array, axis: int, axis_name: str | None) -> jax.Array:
    """Sum over the target axis; across devices too when the targets are sharded."""
    return psum(jnp.sum(x, axis=axis), axis_name)


def covered(s: jax.Array, w: jax.Array, cur: jax.Array, target_axis: int, axis_name: str | None) -> jax.Array:
    """sum_t w_t max(s_t - cur_t, 0) along ``target_axis`` of the similarities ``s``: bounds only.

    Written as a matrix-vector product, which XLA's CPU backend vectorises better than the sum;
    its rounding may depend on a column's position, so exact gains use :func:`gains` instead.
    """
    hi = jax.lax.Precision.HIGHEST
    if target_axis == 0:
        return psum(jnp.matmul(w, jnp.maximum(s - cur[:, None], 0.0), precision=hi), axis_name)
    return psum(jnp.matmul(jnp.maximum(s - cur[None, :], 0.0), w, precision=hi), axis_name)


def gains(
    src: Similarity, w: jax.Array, cur: jax.Array, idx: jax.Array, axis_name: str | None = None
) -> tuple[jax.Array, jax.Array]:
    """Marginal gains (len(idx),) of candidates ``idx`` given coverage ``cur`` (T,), and their columns."""
    cols = src.columns(idx)
    # an elementwise sum, not a matrix product: its rounding does not depend on the column's
    # position in the call (a product's may), so a candidate's gain has the same bits in every call
    return target_sum(w[:, None] * jnp.maximum(cols - cur[:, None], 0.0), 0, axis_name), cols


def all_gains(src: Similarity, w: jax.Array, cur: jax.Array, block: int, axis_name: str | None = None) -> jax.Array:
    """Gains of every candidate (N,), ``block`` candidates at a time."""
    n = src.n_candidates
    ids = jnp.arange(n, dtype=jnp.int32)[:, None]
    return blocked_rows(lambda b, _: gains(src, w, cur, jnp.minimum(b[:, 0], n - 1), axis_name)[0], ids, block)


def column(src: Similarity, idx: jax.Array, block: int) -> jax.Array:
    """sim(targets, candidate idx) (T,), evaluated in a ``block``-wide call (see the module note)."""
    return src.columns(jnp.full((block,), idx, jnp.int32))[:, 0]


def min_similarity(src: Similarity, block: int) -> jax.Array:
    """The smallest similarity between any target and any candidate (a scalar)."""
    n = src.n_candidates
    ids = jnp.arange(n, dtype=jnp.int32)[:, None]
    mins = blocked_rows(lambda b, _: jnp.min(src.columns(jnp.minimum(b[:, 0], n - 1)), axis=0), ids, block)
    return jnp.min(mins)


def max_first(values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(max, first index attaining it) of ``values`` (n,), with ``jnp.argmax``'s rules (a NaN is
    the max; all -inf gives 0), as two plain reductions: XLA's CPU argmax, a reduction over
    (value, index) pairs, is not vectorised (benchmarks/README.md, "Measurements behind the code")."""
    top = jnp.max(values)
    hit = (values == top) | jnp.isnan(values)
    return top, jnp.min(jnp.where(hit, jnp.arange(values.shape[0], dtype=jnp.int32), values.shape[0]))


def first_best(values: jax.Array, idx: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Largest value in ``values`` and the smallest index ``idx`` attaining it."""
    best = jnp.max(values)
    return best, jnp.min(jnp.where(values == best, idx, n)).astype(jnp.int32)
