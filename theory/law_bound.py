"""The product law stated so that it holds: ADV(k) against the reach gap D(k) = G_in(k) - G_K(k).

The paper's Eq. 2 bounds ADV(k) = R(S_in) - R(S_K) by rho_tail(k) * g(Delta). On the latent-mode
model it fails both ways (:mod:`kcover.theory.product_law` lists every failure): rho_tail(k) sees
the learner's spectrum only, so it is 0 for k >= r while the input geometry still wastes slots,
and g = 1 - A is near 0 for two nonnegative kernels. The form checked here replaces the product
by a difference of two *reach* tails, both a-priori (eigenvectors of the two Gram matrices on the
pool, the targets y and k; never a selection):

    G_X(k) = (1/N) || y - K V_k (V_k^T K V_k + lam I)^+ V_k^T y ||^2,

V_k the top-k eigenvectors of the *floored* Gram X - min(X) 1 1^T (:func:`floored`: the
similarities greedy facility location acts on), K the learner Gram. G_X(k) is the pool risk of
the learner's KRR when its k training points are replaced by the k leading directions of X (with
V_k = [e_s, s in S] it *is* KRR on S). With X = K on an exact block kernel it is rho_tail(k) up to
the ridge's shrinkage; with X = K_in it is what the learner can fit from what the input
geometry's top-k eigenspace reaches. The statement:

    L(k) <= ADV(k) <= U(k),  U(k) = G_in(k_lo) - G_K(k_hi),  L(k) = G_in(k_hi) - G_K(k_lo),

where [k_lo, k_hi] is the band of budgets tied with k in each floored Gram's spectrum
(:func:`tie_band`; k_lo = k_hi = k, and U = L = D(k), when the k-th and (k+1)-th eigenvalues
differ). Proven (docs/product-law.md, Theorem 1) on the **block class**: exact and soft block
learner kernels, input clusters certified per instance by :func:`block_certificate`, ridge -> 0.
There it is an identity, so the lower bound holds with c = 1. General kernels break it;
:func:`classify_reach` names which half broke (ADV - D = input half + learner half), and the
tests assert those exceptions.

Computed in float64 with numpy/LAPACK: this module is the reference that the core's
:func:`kcover.law.reach_gap` (JAX) is tested against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kcover.theory.latent_mode import BlockKernel, LatentModes, input_gram
from kcover.theory.product_law import ADV_TOL, BOUND_TOL, is_block, law_rows

TIE_RTOL = 1e-9
"""Two eigenvalues within TIE_RTOL * (largest eigenvalue) count as tied."""
FAMILIES = ("exact block", "soft block", "general")
CLAIMED = {"upper": ("exact block", "soft block"), "lower": ("exact block", "soft block")}
"""Which families each statement is proven for: ``upper`` ADV <= U(k), ``lower`` ADV >= C_LOWER L(k)."""
UNTIED_ONLY = ("soft block",)
"""Families where the claim covers only budgets without a tie band: on a soft block, covering one
more mode can raise the risk on the others, so G is not monotone across a band and the bracket
[G(k_hi), G(k_lo)] need not contain the risk of the modes greedy happens to pick."""
C_LOWER = 1.0
"""The lower-bound constant proven on the block class: ADV >= C_LOWER * L(k)."""


def family(kernel: Any) -> str:
    """``exact block`` (BlockKernel, w_out = 0), ``soft block`` (w_out > 0) or ``general``."""
    if is_block(kernel):
        return "exact block" if kernel.w_out == 0 else "soft block"
    return "general"


def floored(gram: np.ndarray) -> np.ndarray:
    """gram - min(gram) 1 1^T (N, N), float64: the similarities greedy facility location acts on.

    Greedy FL makes the same picks on X and on X - c 1 1^T for any c <= min(X): the first pick's
    gains all move by N c, every later gain is unchanged. The reach tails use the eigenvectors of
    the floored Gram: for a soft block kernel those are the mode indicators (the top eigenvector
    of the raw Gram is close to the constant vector instead).
    """
    g = np.asarray(gram, np.float64)
    return g - g.min()


def _eig_desc(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = floored(gram)
    vals, vecs = np.linalg.eigh((g + g.T) / 2)
    return vals[::-1], vecs[:, ::-1]


def galerkin_tails(learner: np.ndarray, vecs: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """G(k) (k_max + 1,) for k = 0 .. k_max: the pool risk of the learner fit on span(vecs[:, :k]).

    learner: (N, N) learner Gram K. vecs: (N, k_max) directions, orthonormal columns. y: (N,) or
    (N, c). lam >= 0: ridge on the k x k system V^T K V; directions whose eigenvalue in that system
    is below k eps max|eig| are dropped (a pseudo-inverse), so parallel columns of K V are harmless.
    """
    k_mat = np.asarray(learner, np.float64)
    yv = np.asarray(y, np.float64).reshape(k_mat.shape[0], -1)
    n, k_max = vecs.shape
    kv = k_mat @ vecs
    a = vecs.T @ kv
    a = (a + a.T) / 2
    b = vecs.T @ yv
    out = [float(np.sum(yv * yv)) / n]
    for k in range(1, k_max + 1):
        theta, q = np.linalg.eigh(a[:k, :k])
        tol = k * np.finfo(np.float64).eps * max(float(np.abs(theta).max()), 1e-300)
        keep = theta > tol
        inv = np.where(keep, 1.0 / np.where(keep, theta + lam, 1.0), 0.0)
        beta = q @ (inv[:, None] * (q.T @ b[:k]))
        resid = yv - kv[:, :k] @ beta
        out.append(float(np.sum(resid * resid)) / n)
    return np.asarray(out)


def tie_band(eigenvalues: np.ndarray, k: int) -> tuple[int, int]:
    """(k_lo, k_hi) with k_lo <= k <= k_hi: the budgets tied with k in ``eigenvalues`` (N,), descending.

    k_lo = k_hi = k unless the k-th and (k+1)-th eigenvalues tie (within TIE_RTOL times the
    largest) at a nonzero value; then the band is the whole tie group, so every choice of basis
    inside the tied eigenspace gives a top-k eigenspace between the top-k_lo and the top-k_hi ones.
    Eigenvalues at 0 never widen the band: their directions have K v = 0 and add nothing to a fit.
    """
    lam = np.asarray(eigenvalues, np.float64)
    n = lam.shape[0]
    if k <= 0 or k >= n:
        return k, k
    tau = TIE_RTOL * max(abs(float(lam[0])), 1e-300)
    t = lam[k - 1]
    if abs(t - lam[k]) > tau or abs(t) <= tau:
        return k, k
    return int(np.sum(lam > t + tau)), int(np.sum(lam >= t - tau))


def reach_quantities(
    input_gram_: np.ndarray, learner: np.ndarray, y: np.ndarray, ks: Any, lam: float = 1e-6
) -> dict[str, np.ndarray]:
    """Every a-priori term per budget: G_in(k), G_K(k), D(k), U(k), L(k) and the tie bands.

    Eigenvectors and tie bands come from the :func:`floored` Grams; the fit uses ``learner`` as given.

    Args:
      input_gram_: (N, N) input Gram K_in. learner: (N, N) learner Gram K. y: (N,) or (N, c) targets.
      ks: budgets (each in [1, N]). lam: ridge on the Galerkin systems (absolute).

    Returns (len(ks),) arrays ``reach_in`` G_in(k), ``tail_learner`` G_K(k) (rho_tail(k) shrunk by
    the ridge), ``gap`` D(k) = G_in(k) - G_K(k), ``upper`` U(k), ``lower`` L(k), ``k_lo_in``,
    ``k_hi_in``, ``k_lo_learner``, ``k_hi_learner``; and ``energy`` = ||y||^2 / N (a scalar).
    """
    ks = np.asarray(ks, np.int64)
    n = learner.shape[0]
    ev_in, v_in = _eig_desc(input_gram_)
    ev_k, v_k = _eig_desc(learner)
    band_in = np.array([tie_band(ev_in, int(k)) for k in ks]).reshape(-1, 2)
    band_k = np.array([tie_band(ev_k, int(k)) for k in ks]).reshape(-1, 2)
    top = int(max(band_in.max(), band_k.max(), 1))
    top = min(top, n)
    g_in = galerkin_tails(learner, v_in[:, :top], y, lam)
    g_k = galerkin_tails(learner, v_k[:, :top], y, lam)
    return dict(
        reach_in=g_in[ks],
        tail_learner=g_k[ks],
        gap=g_in[ks] - g_k[ks],
        upper=g_in[band_in[:, 0]] - g_k[band_k[:, 1]],
        lower=g_in[band_in[:, 1]] - g_k[band_k[:, 0]],
        k_lo_in=band_in[:, 0],
        k_hi_in=band_in[:, 1],
        k_lo_learner=band_k[:, 0],
        k_hi_learner=band_k[:, 1],
        energy=float(np.sum(np.asarray(y, np.float64) ** 2)) / n,
    )


def block_certificate(inst: LatentModes, k_in: np.ndarray | None = None) -> dict:
    """The per-instance conditions of the theorem's lemmas on the input side (docs/product-law.md).

    kappa = smallest input similarity inside a cluster, eps = largest across clusters, n_max /
    n_min the largest / smallest cluster. Lemma 1 (input FL visits clusters by size, one pick each)
    and Lemma 2 (the top-k eigenspace of K_in is spanned by the Perron vectors of the k largest
    clusters) need ``margin`` = min(1 - n_max (1 - kappa), n_min kappa - n_max (1 - kappa)) > 0;
    the cross-cluster entries (assumed 0 in the proof) must be small against it:
    ``holds`` = margin > 2 N eps. k_in: (N, N) input Gram (default :func:`input_gram`).
    """
    k = np.asarray(input_gram(inst) if k_in is None else k_in, np.float64)
    same = inst.cluster[:, None] == inst.cluster[None, :]
    kappa = float(k[same].min())
    eps = float(k[~same].max()) if (~same).any() else 0.0
    sizes = np.bincount(inst.cluster, minlength=inst.r_in)
    n_max, n_min = int(sizes.max()), int(sizes.min())
    margin = min(1.0 - n_max * (1.0 - kappa), n_min * kappa - n_max * (1.0 - kappa))
    n = k.shape[0]
    return dict(
        kappa=kappa,
        eps=eps,
        n_max=n_max,
        n_min=n_min,
        margin=margin,
        distinct_sizes=bool(np.unique(sizes).size == sizes.size),
        holds=bool(margin > 2 * n * eps and np.unique(sizes).size == sizes.size),
    )


def reach_rows(
    inst: LatentModes,
    kernel: Any = None,
    ks: Any = None,
    *,
    lam: float = 1e-6,
    inputs: tuple[np.ndarray, np.ndarray] | None = None,
    rows: list[dict] | None = None,
) -> list[dict]:
    """:func:`kcover.theory.product_law.law_rows` (the paper's form) plus the reach form, per budget.

    Args: as ``law_rows`` (kernel defaults to the exact :class:`BlockKernel`); ``rows``: that
    function's output for the same arguments, to reuse instead of recomputing.

    Added keys: family, certificate (Lemma 1-2 hold on the input side), tied (k sits in a tie band
    of either floored Gram), claimed (the theorem covers this row: see CLAIMED, UNTIED_ONLY),
    reach_in, tail_learner,
    reach_gap, reach_upper, reach_lower, reach_ratio (ADV / U, None when U <= BOUND_TOL),
    reach_violation (ADV > U + ADV_TOL), reach_lower_violation (ADV < C_LOWER L - ADV_TOL),
    input_reach_violation (ADV > G_in + ADV_TOL), input_half (R(S_in) - G_in(k)), learner_half
    (G_K(k) - R(S_K)), reach_kind (:func:`classify_reach`).
    """
    kern = BlockKernel() if kernel is None else kernel
    ks = np.arange(1, inst.r_in + 1) if ks is None else np.asarray(ks, np.int64)
    if rows is None:
        rows = law_rows(inst, kern, ks, lam=lam, inputs=inputs)
    k_in = input_gram(inst) if inputs is None else inputs[0]
    k_pool = kern(inst.x, inst.mode, inst.x, inst.mode)
    q = reach_quantities(k_in, k_pool, inst.y, ks, lam)
    cert = block_certificate(inst, k_in)["holds"]
    fam = family(kern)
    tied = (q["k_lo_in"] != q["k_hi_in"]) | (q["k_lo_learner"] != q["k_hi_learner"])
    out = []
    for i, row in enumerate(rows):
        up, lo = float(q["upper"][i]), float(q["lower"][i])
        adv = row["adv"]
        new = dict(
            row,
            family=fam,
            certificate=cert,
            tied=bool(tied[i]),
            claimed=bool(cert and fam in CLAIMED["upper"] and not (tied[i] and fam in UNTIED_ONLY)),
            reach_in=float(q["reach_in"][i]),
            tail_learner=float(q["tail_learner"][i]),
            reach_gap=float(q["gap"][i]),
            reach_upper=up,
            reach_lower=lo,
            reach_ratio=adv / up if up > BOUND_TOL else None,
            reach_violation=bool(adv > up + ADV_TOL),
            reach_lower_violation=bool(adv < C_LOWER * lo - ADV_TOL),
            input_reach_violation=bool(adv > q["reach_in"][i] + ADV_TOL),
            input_half=float(row["risk_in"] - q["reach_in"][i]),
            learner_half=float(q["tail_learner"][i] - row["risk_learner"]),
        )
        new["reach_kind"] = classify_reach(new)
        out.append(new)
    return out


def classify_reach(row: dict) -> str | None:
    """Why a row breaks ADV <= U(k), or None. ADV - D = (R(S_in) - G_in) + (G_K - R(S_K)):

    * ``input half``: R(S_in) > G_in(k) + ADV_TOL only: KRR on the k input picks does worse than on
      the input's top-k eigenvectors (the learner kernel is not constant on modes, so a pick's
      input position matters, or the interpolation is ill-conditioned);
    * ``learner half``: G_K(k) > R(S_K) + ADV_TOL only: k learner picks reach more than the
      learner's top-k (floored) eigenspace;
    * ``both halves``;
    * ``tie band``: k sits in a tie band (soft block: see UNTIED_ONLY), checked first.
    """
    if not row["reach_violation"]:
        return None
    if row["tied"]:
        return "tie band"
    a, b = row["input_half"] > ADV_TOL, row["learner_half"] > ADV_TOL
    return "both halves" if a and b else "input half" if a else "learner half" if b else "tolerance"


def _quantiles(xs: list[float]) -> dict:
    if not xs:
        return dict(median=None, worst=None, min=None)
    return dict(median=float(np.median(xs)), worst=float(np.max(xs)), min=float(np.min(xs)))


def summarize_reach(rows: list[dict]) -> dict:
    """Violations of the reach form and its tightness, per family (rows from :func:`reach_rows`).

    Per family: rows, certified rows, upper violations (ADV > U), lower violations (ADV < L),
    input-reach violations (ADV > G_in), counts by :func:`classify_reach` kind, the ratio ADV / U
    over rows with U > BOUND_TOL (median, worst = max: the upper bound's tightness), ``c_fit`` =
    min ADV / L over rows with L > BOUND_TOL (the largest c with ADV >= c L there; U = L unless
    eigenvalues tie), and the ratio ADV / G_in (median, worst) of the loose input-reach bound.
    ``violations``: every row that breaks a statement *claimed* for it (row["claimed"]: certified,
    family in CLAIMED, untied where UNTIED_ONLY), with its parameters; ``exceptions``: every other
    row that breaks the upper bound, with its kind.
    """
    per: dict[str, dict] = {}
    violations, exceptions = [], []
    keys = "family kernel order seed r r_in m s delta_frac".split()
    keys += "k tied adv reach_upper reach_lower reach_in tail_learner input_half learner_half reach_kind".split()
    for fam in FAMILIES:
        sub = [r for r in rows if r["family"] == fam]
        if not sub:
            continue
        ratios = [r["adv"] / r["reach_upper"] for r in sub if r["reach_upper"] > BOUND_TOL]
        lower = [r["adv"] / r["reach_lower"] for r in sub if r["reach_lower"] > BOUND_TOL]
        ratios_in = [r["adv"] / r["reach_in"] for r in sub if r["reach_in"] > BOUND_TOL]
        kinds = {}
        for r in sub:
            if r["reach_kind"] is not None:
                kinds[r["reach_kind"]] = kinds.get(r["reach_kind"], 0) + 1
        q = _quantiles(ratios)
        per[fam] = dict(
            rows=len(sub),
            certified=sum(r["certificate"] for r in sub),
            claimed_rows=sum(r["claimed"] for r in sub),
            upper_violations=sum(r["reach_violation"] for r in sub),
            lower_violations=sum(r["reach_lower_violation"] for r in sub),
            input_reach_violations=sum(r["input_reach_violation"] for r in sub),
            kinds=kinds,
            ratio_median=q["median"],
            ratio_worst=q["worst"],
            c_fit=min(lower) if lower else None,
            rows_with_positive_bound=len(ratios),
            rows_with_positive_lower=len(lower),
            tied_rows=sum(r["reach_upper"] != r["reach_lower"] for r in sub),
            input_reach_ratio_median=_quantiles(ratios_in)["median"],
            input_reach_ratio_worst=_quantiles(ratios_in)["worst"],
            claimed=[s for s, fams in CLAIMED.items() if fam in fams],
        )
        for r in sub:
            broken = [s for s, flag in (("upper", r["reach_violation"]), ("lower", r["reach_lower_violation"])) if flag]
            claimed = broken if r["claimed"] else []
            rec = {k: r[k] for k in keys if k in r}
            if claimed:
                violations.append(dict(rec, broken=claimed))
            elif r["reach_violation"]:
                exceptions.append(rec)
    fit = [r["adv"] / r["reach_lower"] for r in rows if r["claimed"] and r["reach_lower"] > BOUND_TOL]
    return dict(
        per_family=per,
        violations=violations,
        exceptions=exceptions,
        c_fit=min(fit) if fit else None,
        claimed=CLAIMED,
        untied_only=UNTIED_ONLY,
        c_lower=C_LOWER,
    )
