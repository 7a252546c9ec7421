"""Kernel ridge regression: fit, predict, and risk on a target set.

f_S(x) = k(x, S) alpha with (K_SS + lam I) alpha = Y: the minimizer of
sum_i ||f(x_i) - y_i||^2 + lam ||f||_H^2. Multi-output: Y is (n, c) (e.g. one-hot labels).
As lam -> 0, f_S is the orthogonal projection (in the RKHS) of the target onto
span{k(., s): s in S}. The solve is a Cholesky factorization of K + (lam + jitter * mean(diag K)) I;
if it fails numerically the solve falls back to an eigendecomposition with the same shift
(a pseudo-inverse: directions with a numerically zero eigenvalue get no weight).
``float64=True`` runs the fit in float64 regardless of the global JAX setting.
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.kernels import Kernel, make_kernel, pairwise
from kcover.labels import class_ids, targets


class KRRModel(NamedTuple):
    """A fitted model: support points (n, d), coefficients (n, c), the kernel."""

    support: jax.Array
    alpha: jax.Array
    kernel: Kernel


def one_hot(labels: Any, num_classes: int | None = None) -> np.ndarray:
    """(n,) integer labels -> (n, C) float32 one-hot (C defaults to max label + 1)."""
    y = class_ids(labels, "labels", num_classes=num_classes)
    c = int(y.max()) + 1 if num_classes is None else int(num_classes)
    return np.eye(c, dtype=np.float32)[y]


@jax.jit
def solve_ridge(gram: jax.Array, y: jax.Array, lam: jax.Array, jitter: jax.Array) -> jax.Array:
    """alpha (n, c) solving (gram + (lam + jitter * mean diag) I) alpha = y (n, c)."""
    n = gram.shape[0]
    shift = lam + jitter * jnp.mean(jnp.diag(gram))
    a = gram + shift * jnp.eye(n, dtype=gram.dtype)
    chol = jnp.linalg.cholesky(a)

    def by_cholesky(_):
        return jax.scipy.linalg.cho_solve((chol, True), y)

    def by_eigh(_):
        vals, vecs = jnp.linalg.eigh((gram + gram.T) / 2)
        vals = jnp.maximum(vals, 0.0) + shift
        tol = jnp.max(vals) * n * jnp.finfo(gram.dtype).eps
        inv = jnp.where(vals > tol, 1.0 / jnp.where(vals > tol, vals, 1.0), 0.0)  # pseudo-inverse
        return vecs @ ((vecs.T @ y) * inv[:, None])

    return jax.lax.cond(jnp.all(jnp.isfinite(chol)), by_cholesky, by_eigh, None)


def _precision(float64: bool):
    return jax.enable_x64(True) if float64 else contextlib.nullcontext()


def krr_fit(
    x: Any,
    y: Any,
    *,
    kernel: str | Kernel = "rbf",
    bandwidth: float | None = None,
    lam: float = 1e-3,
    jitter: float | None = None,
    float64: bool = False,
) -> KRRModel:
    """Fit KRR on ``x`` (n, d) with targets ``y`` (n,) or (n, c).

    ``jitter`` (relative to mean diag K) defaults to 1e-6 in float32 and 1e-12 in float64.
    """
    xa = checks.features(x, "x")
    ya = targets(y, xa.shape[0], "y")
    if lam < 0 or not np.isfinite(lam):
        raise ValueError(f"lam: must be >= 0, got {lam}")
    kern = make_kernel(kernel, bandwidth, xa)
    dt = np.float64 if float64 else np.float32
    jit = (1e-12 if float64 else 1e-6) if jitter is None else jitter
    with _precision(float64):
        xs = jnp.asarray(xa, dt)
        g = pairwise(kern, xs, xs)
        alpha = solve_ridge(g, jnp.asarray(ya, dt), jnp.asarray(lam, dt), jnp.asarray(jit, dt))
    return KRRModel(xs, alpha, kern)


@jax.jit
def _predict(model: KRRModel, x: jax.Array) -> jax.Array:
    return pairwise(model.kernel, x, model.support) @ model.alpha


def krr_predict(model: KRRModel, x: Any) -> jax.Array:
    """Predictions (m, c) at ``x`` (m, d)."""
    xa = checks.features(x, "x")
    if xa.shape[1] != model.support.shape[1]:
        raise ValueError(f"x: has {xa.shape[1]} columns but the model was fit on {model.support.shape[1]}")
    with _precision(model.alpha.dtype == jnp.float64):
        return _predict(model, jnp.asarray(xa, model.alpha.dtype))


def krr_risk(model: KRRModel, x: Any, y: Any, target_weights: Any = None) -> float:
    """Weighted mean over targets ``x`` (m, d) of ||f(x) - y||^2, ``y`` (m,) or (m, c)."""
    pred = np.asarray(krr_predict(model, x), np.float64)
    ya = targets(y, pred.shape[0], "y").astype(np.float64)
    if ya.shape[1] != pred.shape[1]:
        raise ValueError(f"y: has {ya.shape[1]} outputs but the model predicts {pred.shape[1]}")
    w = checks.weights(target_weights, pred.shape[0], "target_weights").astype(np.float64)
    return float(np.sum(w * np.sum((pred - ya) ** 2, axis=1)) / np.sum(w))
