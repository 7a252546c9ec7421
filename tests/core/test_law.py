"""kcover.law.reach_gap: a hand-worked block case, a float64 brute-force reference, input errors,
and no recompilation for repeated shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _jaxtools import count_compiles
from kcover.law import ReachGap, feature_reach_gap, reach_gap


def brute_force(k_in: np.ndarray, k_l: np.ndarray, y: np.ndarray, k: int, ridge: float) -> tuple[float, float]:
    """G_in(k), G_K(k) in float64, one k at a time, straight from the definition."""
    y = y.reshape(len(y), -1)

    def g(x):
        f = x - x.min()
        _, vecs = np.linalg.eigh((f + f.T) / 2)
        v = vecs[:, ::-1][:, :k]
        kv = k_l @ v
        beta = np.linalg.solve(v.T @ kv + ridge * np.eye(k), v.T @ y)
        return float(np.sum((y - kv @ beta) ** 2)) / len(y)

    return g(k_in), g(k_l)


def block(labels: np.ndarray) -> np.ndarray:
    return (labels[:, None] == labels[None, :]).astype(np.float64)


def test_hand_worked_block_case():
    """Mode 0 = input clusters A (3 points) and B (2 points), mode 1 = C (1 point); y = 1 on mode 0, 2 on mode 1.

    Input geometry: its top-2 eigenspace is A and B, both in mode 0, so the learner fit from it misses
    mode 1 (energy 2^2 / 6); the learner's own top 2 are the two modes. gap = (0, 4/6, 0) at k = 1, 2, 3.
    """
    clusters = np.array([0, 0, 0, 1, 1, 2])
    modes = np.array([0, 0, 0, 0, 0, 1])
    y = np.where(modes == 0, 1.0, 2.0)
    res = reach_gap(block(clusters), block(modes), y, [1, 2, 3], ridge=0.0, float64=True)
    assert isinstance(res, ReachGap)
    np.testing.assert_allclose(res.gap, [0.0, 4 / 6, 0.0], atol=1e-12)
    np.testing.assert_allclose(res.reach_input, [4 / 6, 4 / 6, 0.0], atol=1e-12)
    np.testing.assert_allclose(res.tail_learner, [4 / 6, 0.0, 0.0], atol=1e-12)
    assert res.energy == pytest.approx((5 + 4) / 6)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.sampled_from([12, 20]), c=st.integers(1, 3), ridge=st.floats(1e-3, 1.0))
def test_matches_float64_brute_force(seed, n, c, ridge):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 4))
    k_in = np.exp(-((a[:, None] - a[None]) ** 2).sum(-1) / 4)
    k_l = np.exp(-((b[:, None] - b[None]) ** 2).sum(-1) / 6)
    y = rng.normal(size=(n, c))
    ks = [1, 3, n // 2, n]
    res = reach_gap(k_in, k_l, y, ks, ridge=ridge, float64=True)
    ref = np.array([brute_force(k_in, k_l, y, k, ridge) for k in ks])
    np.testing.assert_allclose(res.reach_input, ref[:, 0], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.tail_learner, ref[:, 1], rtol=1e-7, atol=1e-9)
    res32 = reach_gap(k_in.astype(np.float32), k_l.astype(np.float32), y, ks, ridge=ridge)
    np.testing.assert_allclose(res32.gap, res.gap, atol=1e-3 * res.energy)


def test_features_and_no_recompile():
    rng = np.random.default_rng(0)
    x, z, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 3)), rng.normal(size=30)
    first = feature_reach_gap(x, z, y, [2, 5, 9])
    assert first.gap.shape == (3,) and np.all(np.isfinite(first.gap))
    with count_compiles() as compiles:
        again = reach_gap(np.asarray(_g(x)), np.asarray(_g(z)), -y, [1, 4, 9])
    assert compiles == [] and again.gap.shape == (3,)


def _g(x):
    from kcover.kernels import gram

    return gram(x.astype(np.float32))


@pytest.mark.parametrize(
    "args, name",
    [
        ((np.full((4, 4), np.nan), np.eye(4), np.ones(4), [1]), "gram_input"),
        ((np.ones((4, 3)), np.eye(4), np.ones(4), [1]), "gram_input"),
        ((np.eye(4), np.eye(5), np.ones(4), [1]), "gram_learner"),
        ((np.eye(4), np.eye(4), np.ones(3), [1]), "y"),
        ((np.eye(4), np.eye(4), np.ones(4), [0]), "ks"),
        ((np.eye(4), np.eye(4), np.ones(4), [5]), "ks"),
        ((np.eye(4), np.eye(4), np.ones(4), []), "ks"),
        ((np.eye(4), np.eye(4), np.ones(4), [1.5]), "ks"),
    ],
)
def test_bad_input_names_the_argument(args, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        reach_gap(*args)


def test_bad_ridge_and_features():
    with pytest.raises(ValueError, match="^ridge:"):
        reach_gap(np.eye(3), np.eye(3), np.ones(3), [1], ridge=-1.0)
    with pytest.raises(ValueError, match="^x_learner:"):
        feature_reach_gap(np.ones((4, 2)), np.ones((5, 2)), np.ones(4), [1])
