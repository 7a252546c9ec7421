"""The reach gap: an a-priori estimate of what learner-geometry selection gains at budget k.

For an input Gram K_in and a learner Gram K on the same N pool points, targets y and a budget k,

    G_in(k) = (1/N) || y - K V_k (V_k^T K V_k + ridge I)^+ V_k^T y ||^2,  V_k = top-k eigenvectors of K_in - min(K_in),
    G_K(k)  = the same with V_k = top-k eigenvectors of K - min(K),
    D(k)    = G_in(k) - G_K(k)   (the reach gap; theory.law_bound bounds ADV by U(k) >= D(k)).

Both Grams are *floored* (their smallest entry subtracted from every entry) before the
eigendecomposition: greedy facility location picks the same points on X and on X - c 1 1^T for
any c <= min(X), so the floored Gram is what selection acts on; the fit itself uses K as given.
When min(K) = 0 and K's top-k eigenvalues are positive, G_K(k) is the tail energy rho_tail(k)
(:func:`kcover.tail_energy`) shrunk by the ridge.

G_X(k) is the pool risk of the learner's kernel ridge fit when its k training points are replaced
by the k leading directions of X (with V_k = [e_s, s in S] it is KRR on S). G_in measures what the
learner can still fit from what the *input* geometry's top-k eigenspace reaches, G_K what it
fits from its own. On the paper's exact block model, input- and learner-geometry facility location
reach exactly these eigenspaces and ADV(k) = R(S_in) - R(S_K) = D(k) is an identity; on other
kernels it is an estimate (see docs/product-law.md for the statement, its proof and where it
breaks). Nothing here looks at a selection.

Cost for N points and k_max = max(ks): two N x N eigendecompositions O(N^3), K V O(N^2 k_max),
one k_max x k_max eigendecomposition per budget; memory O(N^2 + |ks| N c). jitted; float32
unless ``float64=True``.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.kernels import Kernel, gram


class ReachGap(NamedTuple):
    """Per budget (all (len(ks),) float64 arrays except ``energy``).

    ks: the budgets. reach_input: G_in(k). tail_learner: G_K(k). gap: G_in(k) - G_K(k).
    energy: ||y||^2 / N, the scale (gap / energy is a fraction of the label energy).
    """

    ks: np.ndarray
    reach_input: np.ndarray
    tail_learner: np.ndarray
    gap: np.ndarray
    energy: float


def _matrix(a: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a)
    except Exception as err:  # pragma: no cover - numpy's own message is kept
        raise ValueError(f"{name}: cannot be read as an array ({err})") from err
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name}: must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name}: expected a non-empty 2-d array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def _targets(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y)
    arr = _matrix(arr[:, None] if arr.ndim == 1 else arr, "y")
    if arr.shape[0] != n:
        raise ValueError(f"y: has {arr.shape[0]} rows but the pool has {n} points")
    return arr


@functools.partial(jax.jit, static_argnames=("k_max",))
def _reach_tails(k_top: jax.Array, k_l: jax.Array, y: jax.Array, ks: jax.Array, ridge: jax.Array, k_max: int):
    """G_X(k) for every k in ``ks``, X = ``k_top`` (whose floored top eigenvectors are used), fit with ``k_l``.

    One Gram per call on purpose: a single XLA program with two independent eigendecompositions
    hung on the 2-core CPU runtime (0 of 6 runs finished, against 6 of 6 with one), so
    :func:`reach_gap` calls this twice; both calls share one compilation.
    """
    n = k_l.shape[0]
    k_l = (k_l + k_l.T) / 2
    g = k_top - jnp.min(k_top)  # the floored Gram: greedy FL picks the same points on it
    _, vecs = jnp.linalg.eigh((g + g.T) / 2)
    v = vecs[:, ::-1][:, :k_max]
    kv = k_l @ v  # (n, k_max)
    a = v.T @ kv
    a = (a + a.T) / 2
    b = v.T @ y  # (k_max, c)
    mask = (jnp.arange(k_max)[None, :] < ks[:, None]).astype(a.dtype)  # (nk, k_max)
    am = a[None] * mask[:, :, None] * mask[:, None, :]
    theta, q = jnp.linalg.eigh(am)  # masked-out directions have theta = 0 and are dropped
    tol = k_max * jnp.finfo(a.dtype).eps * jnp.max(jnp.abs(theta), axis=1, keepdims=True)
    keep = theta > tol
    inv = jnp.where(keep, 1.0 / jnp.where(keep, theta + ridge, 1.0), 0.0)
    bm = b[None] * mask[:, :, None]
    coef = jnp.einsum("bkj,bkc->bjc", q, bm) * inv[:, :, None]  # spectral coefficients, (nk, k_max, c)
    beta = jnp.einsum("bij,bjc->bic", q, coef)
    resid = y[None] - jnp.einsum("nk,bkc->bnc", kv, beta)
    return jnp.sum(resid * resid, axis=(1, 2)) / n


def _precision(float64: bool):
    return jax.enable_x64(True) if float64 else contextlib.nullcontext()


def reach_gap(
    gram_input: Any, gram_learner: Any, y: Any, ks: Any, *, ridge: float = 1e-6, float64: bool = False
) -> ReachGap:
    """G_in(k), G_K(k) and their gap for every budget in ``ks`` (see the module docstring).

    Args:
      gram_input: (N, N) input-geometry Gram K_in (pixels, n-grams). gram_learner: (N, N) learner
        Gram K (embeddings, gradients); both symmetric.
      y: (N,) or (N, c) targets (for class labels pass :func:`kcover.one_hot`); energies sum over c.
      ks: budgets, integers in [1, N].
      ridge: >= 0, absolute ridge on each k x k system V^T K V; directions of that system below
        k eps times its largest eigenvalue are dropped (a pseudo-inverse).
      float64: compute in float64 (under ``jax.enable_x64``); default float32.

    Returns a :class:`ReachGap`.
    """
    dtype = np.float64 if float64 else np.float32
    a = _matrix(gram_input, "gram_input")
    b = _matrix(gram_learner, "gram_learner")
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"gram_input: must be square, got shape {a.shape}")
    if b.shape != a.shape:
        raise ValueError(f"gram_learner: shape {b.shape} differs from gram_input's {a.shape}")
    n = a.shape[0]
    yv = _targets(y, n)
    kk = checks.budget_list(ks, n, "ks").astype(np.int32)
    if not (np.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge: must be finite and >= 0, got {ridge}")
    with _precision(float64):
        args = (jnp.asarray(b, dtype), jnp.asarray(yv, dtype), jnp.asarray(kk), jnp.asarray(ridge, dtype))
        g_in = np.asarray(_reach_tails(jnp.asarray(a, dtype), *args, int(kk.max())), np.float64)
        g_k = np.asarray(_reach_tails(args[0], *args, int(kk.max())), np.float64)
    energy = float(np.sum(yv.astype(np.float64) ** 2)) / n
    return ReachGap(kk.astype(np.int64), g_in, g_k, g_in - g_k, energy)


def feature_reach_gap(
    x_input: Any,
    x_learner: Any,
    y: Any,
    ks: Any,
    *,
    kernel_input: str | Kernel = "rbf",
    kernel_learner: str | Kernel = "rbf",
    bandwidth_input: float | None = None,
    bandwidth_learner: float | None = None,
    ridge: float = 1e-6,
    float64: bool = False,
) -> ReachGap:
    """:func:`reach_gap` from two feature views x_input (N, d_in), x_learner (N, d_l) of the same pool.

    The Gram matrices are :func:`kcover.gram` of each view (rbf bandwidth: the median heuristic of
    that view unless given). Memory O(N^2); for N up to a few thousand.
    """
    xi = _matrix(x_input, "x_input")
    xl = _matrix(x_learner, "x_learner")
    if xl.shape[0] != xi.shape[0]:
        raise ValueError(f"x_learner: has {xl.shape[0]} rows but x_input has {xi.shape[0]}")
    dtype = np.float64 if float64 else np.float32
    with _precision(float64):
        k_in = np.asarray(gram(xi.astype(dtype), kernel=kernel_input, bandwidth=bandwidth_input))
        k_l = np.asarray(gram(xl.astype(dtype), kernel=kernel_learner, bandwidth=bandwidth_learner))
    return reach_gap(k_in, k_l, y, ks, ridge=ridge, float64=float64)
