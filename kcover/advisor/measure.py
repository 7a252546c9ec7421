"""The measurements behind :func:`kcover.advise`: conditions (A), (B) and (C) on the data.

* :func:`probe_gap` -- (B): full-budget probe accuracies on input and learner features, and the
  paired standard error of their gap.
* :func:`measure_geometry` -- (A) and (C): alignment and centered alignment of the two Gram
  matrices, effective dimensions and label tails, on a seeded subsample of ``points`` rows.
* :func:`label_tails` -- the label energy outside every top-k eigenspace of a Gram matrix.
* :func:`neighbour_agreement` -- the share of points whose nearest neighbour in a Gram matrix
  shares their label: how label-local a geometry is.
* :func:`kernel_for` -- the named kernel, rbf with the median-heuristic bandwidth.

The rules that turn these numbers into verdicts are :mod:`kcover.advisor.rules`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover.kernels import Kernel, gram, make_kernel, median_bandwidth
from kcover.law import reach_gap
from kcover.learn.probe import fit_probe, predict_probe
from kcover.spectral import alignment, centered_alignment, effective_dimension


def kernel_for(name: str, x: np.ndarray, bandwidth: float | None = None) -> Kernel:
    """The named kernel as ``kcover select`` builds it: rbf with ``bandwidth``, else the median heuristic on ``x``."""
    if name == "rbf":
        return make_kernel("rbf", median_bandwidth(x) if bandwidth is None else bandwidth)
    return make_kernel(name)


def probe_gap(
    x_in: np.ndarray,
    x_l: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    num_classes: int,
    l2: float,
    seed: int,
) -> tuple[float, float, float]:
    """(B): (input accuracy, learner accuracy, paired standard error of their gap) on one split.

    The probe is fit on the rows ``train`` of ``x_in`` (n, d_in) and of ``x_l`` (n, d_l) with ids
    ``y`` (n,) and scored on the rows ``test``; the standard error is over the test points.
    """
    right = []
    for x in (x_in, x_l):
        probe = fit_probe(x[train], y[train], num_classes=num_classes, l2=l2, seed=seed)
        right.append(predict_probe(probe, x[test]) == y[test])
    acc_in, acc_l = float(right[0].mean()), float(right[1].mean())
    diff = right[1].astype(np.float64) - right[0].astype(np.float64)
    return acc_in, acc_l, float(diff.std() / np.sqrt(diff.size))


@jax.jit
def _label_spectrum(g: jax.Array, yc: jax.Array) -> tuple[jax.Array, jax.Array]:
    vals, vecs = jnp.linalg.eigh((g + g.T) / 2)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    return vals / g.shape[0], jnp.sum(jnp.square(vecs.T @ yc), axis=1)


def label_tails(g: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of g / m (m,) descending, and tails (m + 1,): tails[k] = rho_tail(k) / rho_tail(0).

    rho_tail(k) = (1/m) ||(I - U_k U_k^T) Y||^2 for the centered one-hot labels Y (m, C) of the
    rows of ``g`` (m, m), as :func:`kcover.tail_energy`, for every k from one jitted
    eigendecomposition (float32 unless x64 is enabled). Time O(m^3), memory O(m^2).
    """
    yc = np.eye(num_classes)[y]
    yc = yc - yc.mean(axis=0)
    dt = jax.dtypes.canonicalize_dtype(np.asarray(g).dtype)  # float32 unless x64 is enabled
    vals, energy = (np.asarray(a, np.float64) for a in _label_spectrum(jnp.asarray(g, dt), jnp.asarray(yc, dt)))
    # tails as suffix sums of the label energy on each eigenvector, not 1 - prefix sums: a small
    # tail keeps its relative accuracy, and tails[m] is exactly 0 (no cancellation in float32)
    suffix = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])
    if suffix[0] <= 0.0:  # constant labels: nothing to explain, every tail is the whole (zero) energy
        return vals, np.ones_like(suffix)
    return vals, suffix / suffix[0]


def neighbour_agreement(g: np.ndarray, y: np.ndarray) -> float:
    """Share of rows i of the Gram matrix ``g`` (m, m) whose most similar other row j has y[j] == y[i].

    ``y`` (m,) class ids. The leave-one-out 1-nearest-neighbour accuracy in the kernel's geometry:
    near 1 when labels are local there, near the chance level when they are not. O(m^2).
    """
    g = np.array(g, np.float64, copy=True)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] != np.asarray(y).shape[0]:
        raise ValueError(f"g: must be a square (m, m) matrix matching y (m,), got {g.shape} and {np.shape(y)}")
    if g.shape[0] < 2:
        raise ValueError("g: needs at least 2 rows")
    np.fill_diagonal(g, -np.inf)
    y = np.asarray(y)
    return float(np.mean(y[np.argmax(g, axis=1)] == y))


class Geometry(NamedTuple):
    """Conditions (A) and (C) measured on ``points`` rows; tails (points + 1,) as :func:`label_tails`.

    ``nn_input`` and ``nn_learner``: :func:`neighbour_agreement` in each kernel. ``full`` holds
    the two N x N Gram matrices (input, learner) when they were formed for the sweep, else None.
    ``reach``: (3, len(budgets)) rows G_in(k), G_K(k) and their gap, as fractions of the centered
    label energy, at min(k, points) for each budget (:func:`kcover.reach_gap`); None without budgets.
    """

    alignment: float
    centered_alignment: float
    r_eff: float
    r_eff_input: float
    learner_tails: np.ndarray
    input_tails: np.ndarray
    points: int
    full: tuple[np.ndarray, np.ndarray] | None
    nn_input: float = float("nan")
    nn_learner: float = float("nan")
    reach: np.ndarray | None = None


def measure_geometry(
    x_in: np.ndarray,
    x_l: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    kernels: tuple[Kernel, Kernel],
    points: int,
    seed: int,
    lam: float,
    full_grams: bool,
    budgets: tuple[int, ...] = (),
) -> Geometry:
    """(A) and (C) from Gram matrices on a seeded subsample of m = min(N, ``points``) rows.

    ``kernels`` = (input kernel, learner kernel); ``lam`` is the ridge of r_eff relative to
    trace(K / m). With ``budgets``, the reach gap at each (capped at m) on the same Gram matrices,
    with the centered one-hot labels as targets (two more m x m eigendecompositions). With
    ``full_grams`` both N x N Gram matrices are formed (for the sweep) and the subsample's are
    slices of them. Time O(m^2 (d_in + d_l) + m^3), memory O(m^2) (O(N^2) with
    ``full_grams``).
    """
    k_in, k_l = kernels
    n = x_in.shape[0]
    m = min(n, points)
    rows = np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
    full = None
    if full_grams:  # the sweep needs every pool similarity; the spectral block is a slice
        full = (np.asarray(gram(x_in, kernel=k_in)), np.asarray(gram(x_l, kernel=k_l)))
        g_in, g_l = (np.asarray(g[np.ix_(rows, rows)], np.float64) for g in full)
    else:
        g_in = np.asarray(gram(x_in[rows], kernel=k_in), np.float64)
        g_l = np.asarray(gram(x_l[rows], kernel=k_l), np.float64)
    align, calign = alignment(g_l, g_in), centered_alignment(g_l, g_in)

    (mu_l, tail_l), (mu_in, tail_in) = label_tails(g_l, y[rows], num_classes), label_tails(g_in, y[rows], num_classes)
    r_l = effective_dimension(mu_l, lam * max(float(mu_l.sum()), 1e-30))
    r_in = effective_dimension(mu_in, lam * max(float(mu_in.sum()), 1e-30))
    nn_in, nn_l = neighbour_agreement(g_in, y[rows]), neighbour_agreement(g_l, y[rows])
    reach = None
    if budgets:
        yc = np.eye(num_classes)[y[rows]]
        rg = reach_gap(g_in, g_l, yc - yc.mean(axis=0), [min(int(k), m) for k in budgets])
        scale = max(rg.energy, 1e-30)
        reach = np.stack([rg.reach_input, rg.tail_learner, rg.gap]) / scale
    return Geometry(align, calign, r_l, r_in, tail_l, tail_in, m, full, nn_in, nn_l, reach)
