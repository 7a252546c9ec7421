"""The sparse k-nearest-neighbour option: exact at m = N, close to exact greedy at small m."""

import numpy as np
import pytest

import kcover
from _reference import fl_value
from _reference import gram as ref_gram
from kcover.selection.knn import facility_location_knn, knn_similarity


def blobs(n, d=4, c=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(c, d))[rng.integers(0, c, n)] * 3.0 + rng.normal(size=(n, d))


def test_lists_hold_each_targets_m_most_similar_candidates(x64):
    x = blobs(80)
    lists = knn_similarity(x, 6, bandwidth=1.5, block=16)
    sim = ref_gram(x, x, "rbf", 1.5)
    np.testing.assert_allclose(np.sort(lists.values, 1), np.sort(sim, 1)[:, -6:], rtol=1e-12)
    np.testing.assert_allclose(np.take_along_axis(sim, lists.indices, 1), lists.values, rtol=1e-12)
    assert lists.indices.shape == (80, 6) and lists.floor == 0.0


def test_all_neighbours_is_exact_greedy(x64):
    x = blobs(150, seed=1)
    w = np.random.default_rng(2).uniform(0.5, 2.0, 150)
    exact = kcover.facility_location(x, 12, method="naive", bandwidth=1.5, target_weights=w, initial=[7])
    full = facility_location_knn(x, 12, m=150, bandwidth=1.5, target_weights=w, initial=[7])
    np.testing.assert_array_equal(full.indices, exact.indices)
    np.testing.assert_allclose(full.objective, exact.objective, rtol=1e-10)
    np.testing.assert_allclose(full.weights, exact.weights)
    assert full.method == "knn"


def test_few_neighbours_get_at_least_95_percent_of_exact_greedy(x64):
    x = blobs(600, d=8, c=12, seed=3)
    exact = kcover.facility_location(x, 30, bandwidth=2.0)
    approx = facility_location_knn(x, 30, m=20, bandwidth=2.0)
    sim = ref_gram(x, x, "rbf", 2.0)
    true = fl_value(sim, approx.indices.tolist())
    assert true >= 0.95 * exact.objective[-1]
    assert approx.objective[-1] <= true + 1e-9  # the sparse objective never overstates F
    assert kcover.objective(x, approx.indices, bandwidth=2.0) == pytest.approx(true, rel=1e-10)


def test_separate_targets_and_reused_lists():
    x = blobs(100, seed=4).astype(np.float32)
    t = x[:40]
    lists = knn_similarity(x, 8, bandwidth=1.0, targets=t)
    a = facility_location_knn(x, 5, m=8, bandwidth=1.0, targets=t)
    b = facility_location_knn(x, 5, targets=t, similarity=lists)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert a.coverage.shape == (40,)
    with pytest.raises(ValueError, match="similarity: its lists were built"):
        facility_location_knn(x, 5, similarity=lists)
    with pytest.raises(ValueError, match="m: asks for 101"):
        knn_similarity(x, 101)
