"""Eq. 1 on a latent-mode instance (:mod:`kcover.theory.latent_mode`): ADV(k) = rho * delta(Delta, k).

Both geometries select with greedy facility location (:func:`greedy`): the input geometry on the
input RBF Gram, the learner on the mode-only kernel; :func:`simulate_modes` measures the modes each
prefix covers and the risk of the KRR fit on it, for every budget.

Risk
----
The target is f*(x) = a_j on mode j with a_j = sign_j sqrt(rho_j / p_j), p_j the mode's mass
under D (the pool's distribution). R(S) = E_{x ~ D} (f_S(x) - f*(x))^2 with f_S the KRR fit on
S (ridge ``lam``, float64, the core's :func:`kcover.learn.krr.solve_ridge`). With the exact block
kernel and lam -> 0, f_S = f* on covered modes and 0 on uncovered ones, so

    R(S) = sum_{j uncovered} p_j a_j^2 = sum_{j uncovered} rho_j:

rho_j *is* the excess risk of leaving mode j uncovered, as in the paper. R is measured on the
instance's fresh test draws (stratified, so their mode masses equal p_j exactly); the residual of
the ridge is rho_j (lam / (c_j + lam))^2 per covered mode (c_j picks in it), below 1e-15 for
lam = 1e-8.

Eq. 1 and where it bends
------------------------
delta(Delta, k) = min(k, r) - (modes covered by S_in), measured. With equal rho_j = rho and the
exact block kernel, ADV(k) = R(S_in) - R(S_K) = rho * delta(Delta, k) exactly (the learner FL
covers min(k, r) modes). For unequal rho_j the exact identity is
ADV = sum_{j in C_K - C_in} rho_j - sum_{j in C_in - C_K} rho_j (``adv_exact``).

Two boundary facts, both consequences of greedy selections being nested (the first k picks of a
larger budget are the k-budget selection):

* k = 1: one pick covers exactly one mode in any geometry, so delta = 0 and ADV = 0 even though
  the budget binds. "ADV > 0 iff all three" needs 2 <= k < r.
* k >= r does not make ADV vanish when Delta > 0: if the first r input picks covered all r
  modes they would lie in r distinct modes and no shorter prefix could waste a slot. With
  misalignment the input geometry's budget binds until k >= r_in = r + m (s - 1), its own number
  of clusters; ADV = 0 for k >= r_in, and ADV = rho * (r_in - k) > 0 for r <= k < r_in in the
  mode-major order.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover.learn.krr import solve_ridge
from kcover.selection.facility_location import facility_location_dense
from kcover.theory.latent_mode import BlockKernel, LatentModes, input_gram


def greedy(similarity: np.ndarray, k_max: int) -> np.ndarray:
    """Greedy facility location on a pool Gram (N, N) with entries >= 0: the picks (k_max,) in order.

    The core's dense selector, ``naive`` method (the same picks as ``lazy``, ties to the lowest
    index; it compiles faster, and at N of a few hundred the O(k N^2) cost is negligible). Both
    geometries go through this one function so that one compilation per pool size serves both.
    """
    return facility_location_dense(np.asarray(similarity, np.float32), k_max, method="naive").indices


def subset_risks(
    gram: np.ndarray,
    gram_test: np.ndarray,
    y: np.ndarray,
    y_test: np.ndarray,
    picks: np.ndarray,
    ks: Any,
    *,
    lam: float = 1e-8,
) -> np.ndarray:
    """KRR risk R(S_k) on the test draws for every prefix S_k = picks[:k], k in ``ks``.

    Args:
      gram: (N, N) learner Gram on the pool; gram_test: (T, N) test-by-pool.
      y: (N,) targets on the pool; y_test: (T,) on the test draws.
      picks: (k_max,) the greedy order. ks: budgets (each <= k_max).
      lam: the ridge (absolute, > 0), solved in float64 by :func:`kcover.learn.krr.solve_ridge`, no jitter.

    Every system is zero-padded to k_max x k_max (the padded block is lam I with zero targets, so
    its coefficients are exactly 0) and all budgets are solved in one vmapped call.
    Returns (len(ks),) float64 risks mean_t (f_S(x_t) - f*(x_t))^2.
    """
    if not lam > 0:
        raise ValueError(f"lam: must be positive, got {lam}")
    ks = np.asarray(ks, np.int64)
    k_max = int(picks.shape[0])
    mask = np.arange(k_max)[None, :] < ks[:, None]  # (nk, k_max): which picks are in S_k
    g = gram[np.ix_(picks, picks)][None] * (mask[:, :, None] & mask[:, None, :])
    t = (y[picks][None] * mask)[:, :, None]
    with jax.enable_x64(True):
        alpha = _batched_solve(
            jnp.asarray(g, jnp.float64),
            jnp.asarray(t, jnp.float64),
            jnp.asarray(lam, jnp.float64),
            jnp.asarray(0.0, jnp.float64),
        )
    pred = gram_test[:, picks] @ np.asarray(alpha, np.float64)[:, :, 0].T  # (T, nk)
    return np.mean((pred - y_test[:, None]) ** 2, axis=0)


_batched_solve = jax.jit(jax.vmap(solve_ridge, in_axes=(0, 0, None, None)))


def modes_covered(mode: np.ndarray, picks: np.ndarray, ks: Any, r: int) -> np.ndarray:
    """Distinct modes (len(ks),) among picks[:k] for each k in ``ks``; ``mode`` (N,), picks (k_max,)."""
    first = np.full(r, np.iinfo(np.int64).max)
    np.minimum.at(first, mode[picks], np.arange(picks.shape[0]))
    return np.array([(first < k).sum() for k in ks], np.int64)


class ModeRun(NamedTuple):
    """Eq. 1 on one instance, for every budget in ``ks`` (all arrays (len(ks),))."""

    ks: np.ndarray
    covered_in: np.ndarray
    covered_learner: np.ndarray
    delta: np.ndarray
    risk_in: np.ndarray
    risk_learner: np.ndarray
    adv: np.ndarray
    adv_predicted: np.ndarray
    adv_exact: np.ndarray


def simulate_modes(inst: LatentModes, ks: Any = None, *, kernel: Any = None, lam: float = 1e-8) -> ModeRun:
    """Run both greedy selectors on ``inst`` and measure Eq. 1 for each budget.

    Args:
      inst: a :class:`LatentModes`. ks: budgets (default 1 .. r_in); greedy runs once with
        max(ks) and is cut to prefixes (greedy is nested, so a prefix is the smaller selection).
      kernel: learner kernel ``(xa, ma, xb, mb) -> Gram``; default the exact :class:`BlockKernel`.
      lam: KRR ridge (float64).

    ``delta`` = min(k, r) - covered_in; ``adv_predicted`` = min_j rho_j * delta (the paper's
    rho = min over modes); ``adv_exact`` = sum of rho_j over modes covered by S_K only minus
    over modes covered by S_in only (the exact identity under the block kernel and lam -> 0).
    """
    kern = BlockKernel() if kernel is None else kernel
    ks = np.arange(1, inst.r_in + 1) if ks is None else np.asarray(ks, np.int64)
    if ks.ndim != 1 or ks.size == 0 or (ks < 1).any() or (ks > inst.x.shape[0]).any():
        raise ValueError(f"ks: budgets must lie in [1, {inst.x.shape[0]}], got {ks}")
    k_max = int(ks.max())
    k_pool = kern(inst.x, inst.mode, inst.x, inst.mode)
    k_test = kern(inst.x_test, inst.mode_test, inst.x, inst.mode)
    p_in = greedy(input_gram(inst), k_max)
    p_k = greedy(k_pool, k_max)
    cov_in = modes_covered(inst.mode, p_in, ks, inst.r)
    cov_k = modes_covered(inst.mode, p_k, ks, inst.r)
    r_in = subset_risks(k_pool, k_test, inst.y, inst.y_test, p_in, ks, lam=lam)
    r_k = subset_risks(k_pool, k_test, inst.y, inst.y_test, p_k, ks, lam=lam)
    delta = np.minimum(ks, inst.r) - cov_in
    exact = []
    for k in ks:
        c_in = np.zeros(inst.r, bool)
        c_in[inst.mode[p_in[:k]]] = True
        c_k = np.zeros(inst.r, bool)
        c_k[inst.mode[p_k[:k]]] = True
        exact.append(inst.rho[c_k & ~c_in].sum() - inst.rho[c_in & ~c_k].sum())
    return ModeRun(ks, cov_in, cov_k, delta, r_in, r_k, r_in - r_k, inst.rho.min() * delta, np.asarray(exact))


def predicted_delta(r: int, m: int, s: int, k: int, order: str = "mode-major") -> int:
    """Closed-form delta(Delta, k) for the designed ``mode-major`` / ``round-robin`` orders.

    Input FL takes one point per input cluster in rank order (misaligned sub-clusters first),
    so the modes covered by the first k picks are counted directly.
    """
    if order not in ("mode-major", "round-robin"):
        raise ValueError(f"order: closed form only for mode-major and round-robin, got {order!r}")
    j = min(k, m * s)
    mis = -(-j // s) if order == "mode-major" else min(j, m)
    covered = mis + min(max(k - m * s, 0), r - m)
    return min(k, r) - covered
