"""The greedy scaffold every selector shares: start, add the initial subset, scan k picks, weigh.

A greedy selector keeps, for each of T targets, its coverage by the picks so far (a similarity
for facility location, a distance for k-center) and which pick provides it. What differs
between selectors is only *how a pick is chosen* (the ``pick`` function given to
:func:`scan_picks`) and which new coverage counts as better (``better``: ``jnp.greater`` for
similarities, ``jnp.less`` for distances). Everything here runs inside ``jax.jit``; shapes are
static (N candidates, T targets, k picks, m initial points).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class GreedyState(NamedTuple):
    """cover (T,): each target's coverage; assign (T,) int32: the position (initial points first,
    then picks) of the pick that provides it, -1 for none; selected (N,) bool."""

    cover: jax.Array
    assign: jax.Array
    selected: jax.Array


Better = Callable[[jax.Array, jax.Array], jax.Array]


def start(cover: jax.Array, n: int) -> GreedyState:
    """The empty selection: ``cover`` (T,) is each target's coverage by nothing (the floor or inf)."""
    return GreedyState(cover, jnp.full(cover.shape, -1, jnp.int32), jnp.zeros(n, bool))


def add(
    state: GreedyState, idx: jax.Array, pos: jax.Array, col: jax.Array, better: Better = jnp.greater
) -> GreedyState:
    """Add candidate ``idx`` at position ``pos``, whose coverage of every target is ``col`` (T,).

    A target moves to the new pick only where ``better(col, cover)`` (strictly), so ties stay
    with the earliest pick."""
    take = better(col, state.cover)
    return GreedyState(
        jnp.where(take, col, state.cover), jnp.where(take, pos, state.assign), state.selected.at[idx].set(True)
    )


def add_initial(
    state: GreedyState, initial: jax.Array, column: Callable[[jax.Array], jax.Array], better: Better = jnp.greater
) -> GreedyState:
    """Add the initial subset ``initial`` (m,) in order, at positions 0..m-1."""
    m = initial.shape[0]
    if not m:
        return state
    return jax.lax.fori_loop(
        0, m, lambda i, s: add(s, initial[i], i.astype(jnp.int32), column(initial[i]), better), state
    )


def scan_picks(
    state: GreedyState,
    carry: Any,
    k: int,
    pick: Callable[[GreedyState, Any, jax.Array], tuple[jax.Array, jax.Array, jax.Array, Any]],
    objective: Callable[[GreedyState], jax.Array],
    offset: int,
    better: Better = jnp.greater,
) -> tuple[GreedyState, Any, tuple[jax.Array, jax.Array, jax.Array]]:
    """k greedy steps in one ``lax.scan``.

    ``pick(state, carry, i)`` returns (index, gain, its coverage column (T,), new carry); the
    pick is added at position ``offset + i`` (``offset`` = the size of the initial subset).
    Returns the final state and carry, and (picks (k,) int32, gains (k,), objective (k,)).
    """

    def step(c, i):
        state, carry = c
        arg, gain, col, carry = pick(state, carry, i)
        state = add(state, arg, offset + i, col, better)
        return (state, carry), (arg, gain, objective(state))

    (state, carry), out = jax.lax.scan(step, (state, carry), jnp.arange(k, dtype=jnp.int32))
    return state, carry, out


def pick_weights(assign: jax.Array, target_weights: jax.Array, offset: int, k: int) -> jax.Array:
    """(k,) the total target weight each pick covers (CRAIG's gamma); initial points excluded."""
    seg = jnp.where(assign < 0, offset + k, assign)
    return jax.ops.segment_sum(target_weights, seg, num_segments=offset + k + 1)[offset : offset + k]
