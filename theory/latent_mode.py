"""The latent-mode model of section 3 and Eq. 1: ADV(k) = rho * delta(Delta, k).

The model
---------
r modes (concepts). A fraction Delta of them (m = floor(Delta r + 1/2) modes, the first m) is
*misaligned* with the input geometry: each such mode is split into ``s`` input-distant
sub-clusters (a concept seen in s input styles), while an aligned mode is a single input
cluster. That gives r_in = r + m (s - 1) input clusters. Every input cluster is a tight ball
(radius ``spread``) around its own centre; centres are pairwise ``sep`` apart, so under the
input RBF kernel (bandwidth 1) clusters are isolated and greedy facility location in the input
geometry picks one point per input cluster before it picks a second point in any cluster.

The order in which input FL visits the clusters is designed, not left to noise: the cluster
of rank q (q = 0 .. r_in - 1 in the chosen ``order``) holds n + (r_in - 1 - q) points, and FL
takes the heaviest uncovered cluster first (a first pick gains the cluster's size times ~0.997 at
the default spread 0.05, a second pick in a covered cluster ~0.003 of it). Orders:

* ``mode-major`` (default): every sub-cluster of misaligned mode 0, then of mode 1, ..., then
  the aligned modes. Input FL spends its second pick on an already covered mode: maximal waste.
* ``round-robin``: the first sub-cluster of every misaligned mode, then the second of each, ...,
  then the aligned modes. No waste for k <= m, then waste.
* ``shuffled``: a seeded random order of all input clusters.

Why misaligned modes are heavier than aligned ones: facility location spends picks where the
pool has mass. If a misaligned mode's n points were split into s sub-clusters of n / s, input FL
would take every aligned mode first and waste budget only late (k > r - m). The paper's claim
that ADV > 0 for every binding budget needs input coverage to *prefer* the split concept; a
concept that appears in s input styles, each as common as a whole other concept, is exactly that.
The size grading also makes every mode mass distinct, so the learner Gram has no tied
eigenvalues and rho_tail(k) (see :mod:`kcover.theory.product_law`) is well defined.

The learner kernel is a function of the mode only: K(x, x') = w_in if x and x' share a mode,
w_out otherwise (:class:`BlockKernel`; w_in = 1, w_out = 0 is the exact block-diagonal kernel
of condition (A); w_out > 0 is the soft version).

Target and risk
---------------
f*(x) = a_j on mode j with a_j = sign_j sqrt(rho_j / p_j), p_j the mode's mass under D (the
pool's distribution), signs random. R(S) = E_{x ~ D} (f_S(x) - f*(x))^2 with f_S the KRR fit on
S (ridge ``lam``, float64, the core's :func:`kcover.learn.krr.solve_ridge`). With the exact block
kernel and lam -> 0, f_S = f* on covered modes and 0 on uncovered ones, so

    R(S) = sum_{j uncovered} p_j a_j^2 = sum_{j uncovered} rho_j:

rho_j *is* the excess risk of leaving mode j uncovered, as in the paper. R is measured on fresh
draws from D, stratified by input cluster (t n_c fresh points per cluster c) so the empirical
mode masses equal p_j exactly; the residual of the ridge is rho_j (lam / (c_j + lam))^2 per
covered mode (c_j picks in it), below 1e-15 for lam = 1e-8.

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

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover.kernels import gram as kernel_gram
from kcover.learn.krr import solve_ridge
from kcover.selection.facility_location import facility_location_dense

ORDERS = ("mode-major", "round-robin", "shuffled")


@dataclasses.dataclass(frozen=True)
class BlockKernel:
    """Learner kernel K(x, x') = w_in on the same mode, w_out across modes (w_in > w_out >= 0)."""

    w_in: float = 1.0
    w_out: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.w_in) and np.isfinite(self.w_out)) or not self.w_in > self.w_out >= 0:
            raise ValueError(f"w_in: need w_in > w_out >= 0, got w_in={self.w_in}, w_out={self.w_out}")

    @property
    def name(self) -> str:
        return "block" if self.w_out == 0 and self.w_in == 1 else f"soft-block(w_in={self.w_in:g},w_out={self.w_out:g})"

    def __call__(self, xa: np.ndarray, ma: np.ndarray, xb: np.ndarray, mb: np.ndarray) -> np.ndarray:
        """Gram (na, nb) between points with inputs xa (na, d), modes ma (na,) and xb, mb."""
        return np.where(ma[:, None] == mb[None, :], self.w_in, self.w_out).astype(np.float64)


@dataclasses.dataclass(frozen=True)
class LatentModes:
    """One generated instance (pool and fresh test draws). Shapes: N pool, T test points, d dims.

    Attributes:
      x: (N, d) pool input positions. mode: (N,) mode of each pool point. cluster: (N,) its
        input cluster.
      x_test: (T, d), mode_test: (T,), cluster_test: (T,) fresh stratified draws from D.
      cluster_mode: (r_in,) the mode of each input cluster. cluster_rank: (r_in,) its rank in
        the designed input-FL visiting order.
      target: (r,) f*_j. rho: (r,) rho_j. mass: (r,) p_j. misaligned: (r,) bool.
      bandwidth: the input RBF bandwidth. order: the visiting order's name. s: sub-clusters per
        misaligned mode.
    """

    x: np.ndarray
    mode: np.ndarray
    cluster: np.ndarray
    x_test: np.ndarray
    mode_test: np.ndarray
    cluster_test: np.ndarray
    cluster_mode: np.ndarray
    cluster_rank: np.ndarray
    target: np.ndarray
    rho: np.ndarray
    mass: np.ndarray
    misaligned: np.ndarray
    bandwidth: float
    order: str
    s: int

    @property
    def r(self) -> int:
        """Number of modes."""
        return int(self.target.shape[0])

    @property
    def m(self) -> int:
        """Number of misaligned modes."""
        return int(self.misaligned.sum())

    @property
    def r_in(self) -> int:
        """Number of input clusters, r + m (s - 1)."""
        return int(self.cluster_mode.shape[0])

    @property
    def delta_frac(self) -> float:
        """The realized Delta = m / r."""
        return self.m / self.r

    @property
    def y(self) -> np.ndarray:
        """f* on the pool, (N,)."""
        return self.target[self.mode]

    @property
    def y_test(self) -> np.ndarray:
        """f* on the test draws, (T,)."""
        return self.target[self.mode_test]


def _int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")
    return int(value)


def misaligned_count(r: int, delta: float) -> int:
    """m = floor(Delta r + 1/2): the number of misaligned modes for a fraction Delta in [0, 1]."""
    if not 0.0 <= float(delta) <= 1.0:
        raise ValueError(f"delta: the misaligned fraction must lie in [0, 1], got {delta}")
    return int(np.floor(float(delta) * r + 0.5 + 1e-12))


def _visit_order(cluster_mode: np.ndarray, sub: np.ndarray, misaligned: np.ndarray, order: str,
                 rng: np.random.Generator) -> np.ndarray:
    """Rank (r_in,) of every input cluster in the designed input-FL visiting order."""
    mis = misaligned[cluster_mode]
    if order == "shuffled":
        seq = rng.permutation(cluster_mode.shape[0])
    else:
        major = (cluster_mode, sub) if order == "mode-major" else (sub, cluster_mode)
        # lexsort sorts by the last key first: aligned clusters after misaligned ones
        seq = np.lexsort((major[1], major[0], ~mis))
    rank = np.empty_like(seq)
    rank[seq] = np.arange(seq.shape[0])
    return rank


def make_latent_modes(
    r: int = 8,
    delta: float = 0.5,
    *,
    n: int = 12,
    s: int = 2,
    rho: float | Any = 1.0,
    order: str = "mode-major",
    spread: float = 0.05,
    sep: float = 8.0,
    test_per_point: int = 2,
    seed: int = 0,
) -> LatentModes:
    """Generate a latent-mode instance.

    Args:
      r: number of modes. delta: fraction Delta in [0, 1] of misaligned modes.
      n: points in the lightest input cluster; the cluster of rank q holds n + r_in - 1 - q.
      s: input sub-clusters per misaligned mode (>= 2).
      rho: per-mode excess risk rho_j >= 0 of leaving the mode uncovered (scalar or (r,)).
      order: input-FL visiting order, one of ``mode-major``, ``round-robin``, ``shuffled``.
      spread: radius of each input cluster; sep: distance between cluster centres (the input
        bandwidth is 1). The designed visiting order needs spread << 1 << sep.
      test_per_point: fresh test draws per pool point, stratified by input cluster.
      seed: seeds positions, the signs of f* and the shuffled order.

    Returns a :class:`LatentModes` with N = sum_q (n + r_in - 1 - q) pool points in d = r s dims.
    """
    r = _int(r, "r", 1)
    n = _int(n, "n", 1)
    s = _int(s, "s", 2)
    test_per_point = _int(test_per_point, "test_per_point", 1)
    if order not in ORDERS:
        raise ValueError(f"order: unknown value {order!r}; choose one of {', '.join(ORDERS)}")
    if not spread >= 0 or not sep > 0 or not np.isfinite(spread + sep):
        raise ValueError(f"spread: need spread >= 0 and sep > 0, got spread={spread}, sep={sep}")
    rho_arr = np.broadcast_to(np.asarray(rho, np.float64), (r,)).copy()
    if not np.all(np.isfinite(rho_arr)) or (rho_arr < 0).any():
        raise ValueError(f"rho: must be finite and >= 0, got {rho}")
    m = misaligned_count(r, delta)
    rng = np.random.default_rng(seed)

    misaligned = np.arange(r) < m
    per_mode = np.where(misaligned, s, 1)
    cluster_mode = np.repeat(np.arange(r), per_mode)
    sub = np.concatenate([np.arange(c) for c in per_mode])
    r_in = cluster_mode.shape[0]
    rank = _visit_order(cluster_mode, sub, misaligned, order, rng)
    sizes = n + (r_in - 1 - rank)

    d = r * s
    centres = np.zeros((r_in, d))
    centres[np.arange(r_in), np.arange(r_in)] = sep / np.sqrt(2.0)

    def draw(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cl = np.repeat(np.arange(r_in), counts)
        pts = centres[cl] + spread * rng.normal(size=(cl.shape[0], d)) / np.sqrt(d)
        return pts, cl

    x, cluster = draw(sizes)
    x_test, cluster_test = draw(sizes * test_per_point)
    mode, mode_test = cluster_mode[cluster], cluster_mode[cluster_test]
    mass = np.bincount(mode, minlength=r) / mode.shape[0]
    signs = rng.choice([-1.0, 1.0], size=r)
    target = signs * np.sqrt(rho_arr / mass)
    return LatentModes(x, mode, cluster, x_test, mode_test, cluster_test, cluster_mode, rank,
                       target, rho_arr, mass, misaligned, 1.0, order, s)


def input_gram(inst: LatentModes) -> np.ndarray:
    """The input RBF Gram (N, N) on the pool (bandwidth ``inst.bandwidth``), float32."""
    return np.asarray(kernel_gram(inst.x.astype(np.float32), kernel="rbf", bandwidth=inst.bandwidth))


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
        alpha = _batched_solve(jnp.asarray(g, jnp.float64), jnp.asarray(t, jnp.float64),
                               jnp.asarray(lam, jnp.float64), jnp.asarray(0.0, jnp.float64))
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


def simulate_modes(
    inst: LatentModes,
    ks: Any = None,
    *,
    kernel: Any = None,
    lam: float = 1e-8,
) -> ModeRun:
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
