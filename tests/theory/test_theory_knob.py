"""The alpha knob (kcover.theory.knob)."""

from __future__ import annotations

import numpy as np
import pytest

from kcover.theory.knob import embed, knob_sweep, make_pairs


def test_embedding_folds_pairs_at_alpha_one():
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(embed(x, 1.0), embed(-x, 1.0))
    np.testing.assert_allclose(embed(x, 0.0), np.concatenate([np.zeros_like(x), x], 1), rtol=1e-6)
    e = embed(x, 0.25)
    assert e.shape == (5, 6) and e.dtype == np.float32
    np.testing.assert_allclose(e[:, :3], 0.25 * np.abs(x), rtol=1e-6)
    with pytest.raises(ValueError, match="^alpha:"):
        embed(x, 1.5)


def test_pairs_are_antipodal_clusters():
    x, y, xt, yt = make_pairs(4, 6, n=5, noise=0.0, test_per_cluster=3, seed=1)
    assert x.shape == (40, 6) and xt.shape == (24, 6)
    for j in range(4):
        pts = x[y == j]
        np.testing.assert_allclose(pts[:5], -pts[5:], atol=1e-6)
    assert np.bincount(yt).tolist() == [6] * 4


def test_sweep_endpoints():
    """alpha = 0: identical geometries, ADV exactly 0; alpha = 1: learner FL covers every class."""
    res = knob_sweep([0.0, 1.0], 2)  # default shapes: shares compilations with the CLI test
    assert res.adv.shape == (2, 2)
    np.testing.assert_array_equal(res.adv[:, 0], 0.0)
    np.testing.assert_array_equal(res.covered_learner[:, 1], 16)
    assert np.all(res.covered_input[:, 1] < 16)
    assert np.all(res.adv[:, 1] > 0)
    # with a probe right on covered classes ADV equals the Eq. 1 coverage gap / P
    np.testing.assert_allclose(res.adv[:, 1], res.adv_eq1[:, 1], atol=0.05)


def test_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="^seeds:"):
        knob_sweep([0.0], 0)
    with pytest.raises(ValueError, match="^alphas:"):
        knob_sweep([1.2], 1)
