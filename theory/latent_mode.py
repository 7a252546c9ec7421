"""The latent-mode model of section 3: its instances (pool, test draws, target) and the learner kernel.

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

Target
------
f*(x) = a_j on mode j with a_j = sign_j sqrt(rho_j / p_j), p_j the mode's mass under D (the
pool's distribution), signs random: rho_j = p_j a_j^2 is the excess risk of leaving mode j
uncovered. The test draws are fresh draws from D, stratified by input cluster (t n_c fresh points
per cluster c) so the empirical mode masses equal p_j exactly. The selections, risks and Eq. 1
over an instance are :mod:`kcover.theory.mode_simulation`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from kcover.kernels import gram as kernel_gram

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


def _visit_order(
    cluster_mode: np.ndarray, sub: np.ndarray, misaligned: np.ndarray, order: str, rng: np.random.Generator
) -> np.ndarray:
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
    return LatentModes(
        x,
        mode,
        cluster,
        x_test,
        mode_test,
        cluster_test,
        cluster_mode,
        rank,
        target,
        rho_arr,
        mass,
        misaligned,
        1.0,
        order,
        s,
    )


def input_gram(inst: LatentModes) -> np.ndarray:
    """The input RBF Gram (N, N) on the pool (bandwidth ``inst.bandwidth``), float32."""
    return np.asarray(kernel_gram(inst.x.astype(np.float32), kernel="rbf", bandwidth=inst.bandwidth))
