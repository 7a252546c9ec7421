"""Eq. 2, the product law: rho_tail(k) * g(Delta) against the realized ADV(k).

For a learner kernel K and the input kernel k_in on the pool of a latent-mode instance
(:mod:`kcover.theory.latent_mode`), with y = f* on the pool and n pool points:

* r_eff(lam) = sum_i mu_i / (mu_i + lam), mu the eigenvalues of K / n
  (:func:`kcover.spectral.effective_dimension`);
* rho_tail(k) = (1/n) ||(I - U_k U_k^T) y||^2, U_k the top-k eigenvectors of K (the quantity of
  :func:`kcover.spectral.tail_energy`, computed here for every k from one eigendecomposition;
  the tests check it against the core's function);
* g = 1 - A(K, k_in), A the uncentered kernel alignment (:func:`kcover.spectral.alignment`);
  the centered variant 1 - A_c is recorded too;
* ADV(k) = R(S_in) - R(S_K), R the KRR risk on fresh draws (ridge ``lam``, float64).

The paper states ADV(k) <= rho_tail(k) g and, on block instances, ADV(k) >= c rho_tail(k) g.
:func:`law_rows` measures every term; :func:`summarize` estimates c as the smallest ratio
ADV / (rho_tail g) over block instances where the product is positive, and lists every instance
that breaks either side. Nothing is filtered: where the sketch fails, the rows say so.

Learner kernels (all similarities >= 0, as facility location needs):

* :class:`~kcover.theory.latent_mode.BlockKernel` -- exact (w_out = 0) and soft (w_out > 0) block
  kernels: the *block instances*.
* :class:`MixedKernel` -- (1 - beta) [same mode] + beta k_in: a partly local learner.
* :class:`EmbeddingRBF` -- an RBF on the embedding (a e_mode, b x): modes pulled together,
  input distances kept at scale b.
* :class:`RandomFeatureKernel` -- a random rank-q kernel phi phi^T / q with
  phi = relu(A e_mode + B x / sep + c): a generic, not mode-aligned learner.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.linalg

from kcover.kernels import gram as kernel_gram
from kcover.spectral import alignment, centered_alignment, effective_dimension
from kcover.theory.latent_mode import BlockKernel, LatentModes, input_gram
from kcover.theory.mode_simulation import greedy, subset_risks

ADV_TOL = 1e-6
"""|ADV| below this counts as 0 (the ridge and float rounding leave ~1e-12)."""
BOUND_TOL = 1e-3
"""rho_tail, and rho_tail * g, below this (in units of rho = 1) count as 0: g picks up ~1e-6 from the
input clusters' finite spread and float32 rounding, and near-block kernels leave ~1e-5 of tail."""


def _rbf(xa: np.ndarray, xb: np.ndarray, bandwidth: float) -> np.ndarray:
    return np.asarray(
        kernel_gram(xa.astype(np.float32), xb.astype(np.float32), kernel="rbf", bandwidth=bandwidth), np.float64
    )


@dataclasses.dataclass(frozen=True)
class MixedKernel:
    """K = (1 - beta) [same mode] + beta * rbf(x, x') with the input bandwidth; 0 <= beta <= 1."""

    beta: float = 0.3
    bandwidth: float = 1.0

    @property
    def name(self) -> str:
        return f"mixed(beta={self.beta:g})"

    def __call__(self, xa: np.ndarray, ma: np.ndarray, xb: np.ndarray, mb: np.ndarray) -> np.ndarray:
        """Gram (na, nb) for inputs xa (na, d), modes ma (na,) and xb, mb."""
        same = (ma[:, None] == mb[None, :]).astype(np.float64)
        return (1.0 - self.beta) * same + self.beta * _rbf(xa, xb, self.bandwidth)


@dataclasses.dataclass(frozen=True)
class EmbeddingRBF:
    """RBF (bandwidth 1) on the embedding (mode_scale * e_mode, input_scale * x).

    K = exp(-(2 mode_scale^2 [modes differ] + input_scale^2 ||x - x'||^2) / 2).
    """

    mode_scale: float = 1.0
    input_scale: float = 0.1

    @property
    def name(self) -> str:
        return f"embed-rbf(a={self.mode_scale:g},b={self.input_scale:g})"

    def __call__(self, xa: np.ndarray, ma: np.ndarray, xb: np.ndarray, mb: np.ndarray) -> np.ndarray:
        """Gram (na, nb) for inputs xa (na, d), modes ma (na,) and xb, mb."""
        diff = (ma[:, None] != mb[None, :]).astype(np.float64)
        local = _rbf(xa, xb, 1.0 / self.input_scale)  # exp(-b^2 ||x - x'||^2 / 2)
        return np.exp(-(self.mode_scale**2) * diff) * local


@dataclasses.dataclass(frozen=True)
class RandomFeatureKernel:
    """Rank-q kernel phi(x) phi(x')^T / q, phi = relu(A e_mode + B x / sep + c), A, B, c ~ N(0, 1).

    ``r`` and ``d`` fix the shapes of A (q, r) and B (q, d); ``seed`` draws them.
    """

    q: int = 6
    r: int = 8
    d: int = 16
    sep: float = 8.0
    seed: int = 0

    @property
    def name(self) -> str:
        return f"random-rank{self.q}"

    def features(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """phi (n, q) for inputs x (n, d) and modes m (n,)."""
        rng = np.random.default_rng(self.seed)
        a = rng.normal(size=(self.q, self.r))
        b = rng.normal(size=(self.q, self.d))
        c = rng.normal(size=self.q)
        return np.maximum(a[:, m].T + x @ b.T / self.sep + c, 0.0)

    def __call__(self, xa: np.ndarray, ma: np.ndarray, xb: np.ndarray, mb: np.ndarray) -> np.ndarray:
        """Gram (na, nb) for inputs xa (na, d), modes ma (na,) and xb, mb."""
        return self.features(xa, ma) @ self.features(xb, mb).T / self.q


def is_block(kernel: Any) -> bool:
    """True for the block instances (exact or soft :class:`BlockKernel`)."""
    return isinstance(kernel, BlockKernel)


def spectrum(gram: np.ndarray, y: np.ndarray, k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (n,) of gram / n, descending, and rho_tail(k) (k_max + 1,) for k = 0 .. k_max.

    gram (n, n), y (n,). rho_tail(k) = (||y||^2 - sum_{i<k} (u_i^T y)^2) / n from the top k_max
    eigenvectors only (float64 LAPACK): the same quantity as :func:`kcover.spectral.tail_energy`
    for each k, without an eigendecomposition per k.
    """
    n = gram.shape[0]
    k_max = min(int(k_max), n)
    g = np.asarray(gram, np.float64)
    g = (g + g.T) / 2
    mu = np.linalg.eigvalsh(g)[::-1] / n
    if k_max == 0:
        return mu, np.array([float(y @ y) / n])
    _, vecs = scipy.linalg.eigh(g, subset_by_index=[n - k_max, n - 1])
    proj = (vecs.T @ np.asarray(y, np.float64))[::-1]
    energy = np.concatenate([[0.0], np.cumsum(proj**2)])
    tail = np.maximum(float(y @ y) - energy, 0.0) / n
    return mu, tail


def input_side(inst: LatentModes, k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """The input RBF Gram (N, N) and the input-FL picks (k_max,): shared by every learner kernel."""
    k_in = input_gram(inst)
    return k_in, greedy(k_in, k_max)


def law_rows(
    inst: LatentModes,
    kernel: Any,
    ks: Any = None,
    *,
    lam: float = 1e-6,
    lam_eff: float = 1e-3,
    inputs: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[dict]:
    """Every term of Eq. 2 for one instance and learner kernel, one dict per budget k.

    Args:
      inst: a latent-mode instance. kernel: a learner kernel ``(xa, ma, xb, mb) -> Gram``.
      ks: budgets (default 1 .. r_in). lam: the KRR ridge. lam_eff: lambda of r_eff.
      inputs: :func:`input_side` for ``inst`` with k_max >= max(ks), to reuse across kernels.

    Each row: k, r, r_in, m, delta_frac, kernel, block, r_eff, rho_tail, g, g_centered, bound
    (rho_tail * g), adv, risk_in, risk_learner, ratio (adv / bound, None when bound <= BOUND_TOL),
    upper_violation (adv > bound + ADV_TOL).
    """
    ks = np.arange(1, inst.r_in + 1) if ks is None else np.asarray(ks, np.int64)
    k_pool = kernel(inst.x, inst.mode, inst.x, inst.mode)
    k_test = kernel(inst.x_test, inst.mode_test, inst.x, inst.mode)
    k_max = int(ks.max())
    k_in, p_in = input_side(inst, k_max) if inputs is None else inputs
    p_in = p_in[:k_max]
    p_k = greedy(k_pool, k_max)
    risk_in = subset_risks(k_pool, k_test, inst.y, inst.y_test, p_in, ks, lam=lam)
    risk_k = subset_risks(k_pool, k_test, inst.y, inst.y_test, p_k, ks, lam=lam)
    mu, tail = spectrum(k_pool, inst.y, k_max)
    r_eff = effective_dimension(mu, lam_eff)
    k32 = k_pool.astype(np.float32)
    g = 1.0 - alignment(k32, k_in)
    g_c = 1.0 - centered_alignment(k32, k_in)
    rows = []
    for i, k in enumerate(ks):
        bound = float(tail[k] * g)
        adv = float(risk_in[i] - risk_k[i])
        rows.append(
            dict(
                kernel=getattr(kernel, "name", type(kernel).__name__),
                block=is_block(kernel),
                **{f: getattr(inst, f) for f in ("order", "r", "r_in", "m", "s", "delta_frac")},
                k=int(k),
                rho=float(inst.rho.min()),
                r_eff=r_eff,
                rho_tail=float(tail[k]),
                g=g,
                g_centered=g_c,
                bound=bound,
                adv=adv,
                risk_in=float(risk_in[i]),
                risk_learner=float(risk_k[i]),
                ratio=adv / bound if bound > BOUND_TOL else None,
                upper_violation=bool(adv > bound + ADV_TOL),
            )
        )
    return rows


def classify(row: dict) -> str | None:
    """Why a row breaks Eq. 2, or None. Kinds:

    * ``upper, rho_tail = 0`` (rho_tail <= BOUND_TOL): k has reached the learner's reachable
      eigenspace (k >= r) but the input geometry still binds (k < r_in), so ADV > 0 = rho_tail * g.
    * ``upper``: ADV > rho_tail * g with rho_tail > 0 (g is too small: the uncentered alignment of
      two nonnegative kernels stays large under misalignment).
    * ``lower, ADV <= 0``: a block instance with rho_tail * g > BOUND_TOL but ADV <= ADV_TOL
      (k = 1, or the input order has not wasted a slot yet): only c <= 0 satisfies the lower bound.
    """
    if row["upper_violation"]:
        return "upper, rho_tail = 0" if row["rho_tail"] <= BOUND_TOL else "upper"
    if row["block"] and row["bound"] > BOUND_TOL and row["adv"] <= ADV_TOL:
        return "lower, ADV <= 0"
    return None


def summarize(rows: list[dict]) -> dict:
    """c_empirical, the violations (every one, with its parameters) and counts per kernel.

    Per kernel: rows, violations of each kind, rows with ADV < 0, and the min / max of
    ADV / (rho_tail g) over rows with rho_tail g > BOUND_TOL (min also over rows with ADV > 0).

    ``c_empirical``: min ADV / (rho_tail g) over block rows with rho_tail g > BOUND_TOL (0 or
    negative when some such row has no advantage); ``c_empirical_positive``: the same over rows with
    ADV > ADV_TOL, the constant the lower bound would have with those rows excluded;
    ``c_upper_needed``: max ADV / (rho_tail g) over all rows with a positive product, the
    constant the upper bound would need to hold on them.
    """
    block = [r for r in rows if r["block"] and r["bound"] > BOUND_TOL]
    ratios = [r["adv"] / r["bound"] for r in block]
    pos = [r["adv"] / r["bound"] for r in block if r["adv"] > ADV_TOL]
    all_ratios = [r["adv"] / r["bound"] for r in rows if r["bound"] > BOUND_TOL]
    violations = []
    for r in rows:
        kind = classify(r)
        if kind is not None:
            violations.append(
                dict(
                    kind=kind,
                    **{
                        key: r[key]
                        for key in "kernel order seed r r_in m delta_frac k adv rho_tail g bound".split()
                        if key in r
                    },
                )
            )
    per_kernel: dict[str, dict] = {}
    for r in rows:
        e = per_kernel.setdefault(
            r["kernel"],
            dict(
                rows=0,
                upper=0,
                upper_rho_tail_zero=0,
                lower=0,
                negative_adv=0,
                max_ratio=None,
                min_ratio=None,
                min_ratio_positive=None,
            ),
        )
        e["rows"] += 1
        kind = classify(r)
        e["upper"] += kind == "upper"
        e["upper_rho_tail_zero"] += kind == "upper, rho_tail = 0"
        e["lower"] += kind == "lower, ADV <= 0"
        e["negative_adv"] += r["adv"] < -ADV_TOL
        if r["bound"] > BOUND_TOL:
            ratio = r["adv"] / r["bound"]
            e["max_ratio"] = ratio if e["max_ratio"] is None else max(e["max_ratio"], ratio)
            e["min_ratio"] = ratio if e["min_ratio"] is None else min(e["min_ratio"], ratio)
            if r["adv"] > ADV_TOL:
                lo = e["min_ratio_positive"]
                e["min_ratio_positive"] = ratio if lo is None else min(lo, ratio)
    return dict(
        c_empirical=min(ratios) if ratios else None,
        c_empirical_positive=min(pos) if pos else None,
        c_upper_needed=max(all_ratios) if all_ratios else None,
        n_rows=len(rows),
        n_block_rows_with_positive_bound=len(block),
        violations=violations,
        per_kernel=per_kernel,
    )
