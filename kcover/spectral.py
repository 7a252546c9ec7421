"""Spectral quantities of a kernel on a sample: the theory's (A), (B) and (C) factors.

For a Gram matrix K (n, n) on n draws from D, the eigenvalues mu_i of K / n estimate the
integral operator's spectrum. From them:

* effective dimension r_eff(lam) = sum_i mu_i / (mu_i + lam): "how many modes" (condition C);
* tail energy rho_tail(k) = (1/n) ||(I - U_k U_k^T) y||^2: the part of the target vector y
  outside the top-k eigenspace of K (condition B; summed over outputs for (n, c) targets);
* kernel alignment A(K1, K2) = <K1, K2>_F / (||K1||_F ||K2||_F) in [-1, 1], its centered
  version (Cortes et al. 2012) with H K H, H = I - 11^T/n, and kernel-target alignment
  A(K, y y^T). The paper's misalignment is g = 1 - A(K_learner, K_input) (condition A).

All functions take dense matrices (O(n^2) memory) and are jitted; pass float64 arrays under
``jax.enable_x64`` for references. :func:`feature_alignment` computes A from features in row
blocks without forming either Gram matrix.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kcover import checks
from kcover.kernels import Kernel, blocked_rows, make_kernel, pairwise
from kcover.labels import targets


def _square(k: Any, name: str) -> jax.Array:
    a = checks.features(k, name)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: must be square, got shape {a.shape}")
    return jnp.asarray(a)


@jax.jit
def _eigh_desc(k: jax.Array) -> tuple[jax.Array, jax.Array]:
    vals, vecs = jnp.linalg.eigh((k + k.T) / 2)
    return vals[::-1], vecs[:, ::-1]


def gram_eigenvalues(gram: Any) -> jax.Array:
    """Eigenvalues (n,) of gram / n, descending: the integral operator's estimate."""
    g = _square(gram, "gram")
    return _eigh_desc(g / g.shape[0])[0]


def effective_dimension(eigenvalues: Any, lam: float) -> float:
    """r_eff(lam) = sum mu / (mu + lam) over ``eigenvalues`` (n,) (negatives treated as 0)."""
    mu = np.maximum(checks.features(eigenvalues, "eigenvalues", ndim=1).astype(np.float64), 0.0)
    if not lam > 0:
        raise ValueError(f"lam: must be positive, got {lam}")
    return float(np.sum(mu / (mu + lam)))


def tail_energy(gram: Any, y: Any, k: int) -> float:
    """rho_tail(k) = (1/n) ||(I - U_k U_k^T) y||^2 for gram (n, n), y (n,) or (n, c), 0 <= k <= n."""
    g = _square(gram, "gram")
    n = g.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"k: must be an integer in [0, {n}], got {k!r}")
    return float(_tail_energy(g, jnp.asarray(targets(y, n, "y")), jnp.int32(k)))


@jax.jit
def _tail_energy(g: jax.Array, y: jax.Array, k: jax.Array) -> jax.Array:
    """(1/n) ||(I - U_k U_k^T) y||^2 with k traced: one compilation for every k."""
    _, vecs = _eigh_desc(g)
    keep = (jnp.arange(g.shape[0]) < k).astype(g.dtype)
    resid = y - vecs @ ((vecs.T @ y) * keep[:, None])
    return jnp.sum(resid * resid) / g.shape[0]


@functools.partial(jax.jit, static_argnames=("centered",))
def _alignment(k1: jax.Array, k2: jax.Array, centered: bool) -> jax.Array:
    if centered:
        k1 = k1 - k1.mean(0, keepdims=True) - k1.mean(1, keepdims=True) + k1.mean()
        k2 = k2 - k2.mean(0, keepdims=True) - k2.mean(1, keepdims=True) + k2.mean()
    return jnp.sum(k1 * k2) / (jnp.linalg.norm(k1) * jnp.linalg.norm(k2))


def alignment(k1: Any, k2: Any) -> float:
    """A(K1, K2) = <K1, K2>_F / (||K1||_F ||K2||_F) for two (n, n) Gram matrices."""
    a, b = _square(k1, "k1"), _square(k2, "k2")
    if a.shape != b.shape:
        raise ValueError(f"k2: shape {b.shape} differs from k1's {a.shape}")
    return float(_alignment(a, b, False))


def centered_alignment(k1: Any, k2: Any) -> float:
    """Centered alignment A(H K1 H, H K2 H), H = I - 11^T / n."""
    a, b = _square(k1, "k1"), _square(k2, "k2")
    if a.shape != b.shape:
        raise ValueError(f"k2: shape {b.shape} differs from k1's {a.shape}")
    return float(_alignment(a, b, True))


def target_alignment(gram: Any, y: Any, centered: bool = False) -> float:
    """Kernel-target alignment A(K, Y Y^T) for gram (n, n) and y (n,) or (n, c)."""
    g = _square(gram, "gram")
    yv = jnp.asarray(targets(y, g.shape[0], "y"))
    return float(_alignment(g, yv @ yv.T, centered))


@functools.partial(jax.jit, static_argnames=("centered", "block"))
def _feature_alignment(k1: Kernel, x1: jax.Array, k2: Kernel, x2: jax.Array, centered: bool, block: int):
    n = x1.shape[0]
    both = jnp.concatenate([x1, x2], axis=1)
    d1 = x1.shape[1]

    def grams(rows):
        return pairwise(k1, rows[:, :d1], x1), pairwise(k2, rows[:, d1:], x2)

    if centered:
        means = blocked_rows(lambda r, _: jnp.stack([g.mean(1) for g in grams(r)], 1), both, block)
        m1, m2 = means[:, 0], means[:, 1]
        g1m, g2m = m1.mean(), m2.mean()
    else:
        m1 = m2 = jnp.zeros(n, x1.dtype)
        g1m = g2m = jnp.zeros((), x1.dtype)
    both_m = jnp.concatenate([both, m1[:, None], m2[:, None]], axis=1)

    def sums(r, valid):
        a, b = grams(r[:, :-2])
        if centered:
            a = a - r[:, -2:-1] - m1[None, :] + g1m
            b = b - r[:, -1:] - m2[None, :] + g2m
        v = valid[:, None]
        return jnp.stack(
            [
                jnp.sum(jnp.where(v, a * b, 0), 1),
                jnp.sum(jnp.where(v, a * a, 0), 1),
                jnp.sum(jnp.where(v, b * b, 0), 1),
            ],
            1,
        )

    s = blocked_rows(sums, both_m, block).sum(0)
    return s[0] / jnp.sqrt(s[1] * s[2])


def feature_alignment(
    x1: Any,
    x2: Any,
    *,
    kernel1: str | Kernel = "rbf",
    kernel2: str | Kernel = "rbf",
    centered: bool = False,
    block: int = 1024,
) -> float:
    """A(K1, K2) (or centered) between kernels on two feature views x1 (n, d1), x2 (n, d2).

    Same n rows in both. Memory O(block n), time O(n^2 (d1 + d2)); rbf bandwidths by the
    median heuristic of each view.
    """
    a = checks.features(x1, "x1")
    b = checks.features(x2, "x2")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"x2: has {b.shape[0]} rows but x1 has {a.shape[0]}")
    dt = np.result_type(a.dtype, b.dtype)
    return float(
        _feature_alignment(
            make_kernel(kernel1, None, a),
            jnp.asarray(a, dt),
            make_kernel(kernel2, None, b),
            jnp.asarray(b, dt),
            centered,
            block,
        )
    )
