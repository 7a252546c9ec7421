"""The sparse k-nearest-neighbour option: exact at m = N, close to exact greedy at small m."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcover
from _reference import fl_greedy, fl_value
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


def dense_of_lists(idx, vals, n, floor):
    """The (T, N) similarity the lists stand for: listed values, ``floor`` elsewhere."""
    sim = np.full((idx.shape[0], n), floor, np.float64)
    np.put_along_axis(sim, idx, vals, 1)
    return sim


def lazy_on_lists(idx, vals, w, floor, initial, k, batch):
    import jax.numpy as jnp

    from kcover.selection.knn_lazy import CandidateLists, by_candidate, knn_lazy_greedy

    lists = by_candidate(idx, vals.astype(np.float32), int(idx.max()) + 1 if idx.size else 0)
    return knn_lazy_greedy(
        CandidateLists(*(jnp.asarray(a) for a in lists)),
        jnp.asarray(w, jnp.float32),
        jnp.asarray(floor, jnp.float32),
        jnp.asarray(initial, jnp.int32),
        k=k,
        batch=batch,
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_init=st.integers(0, 1),
    batch=st.sampled_from([2, 32]),
    floor=st.sampled_from([0.0, 0.25]),
)
def test_lazy_greedy_on_the_lists_picks_what_naive_greedy_picks(seed, n_init, batch, floor):
    """Similarities and weights on a dyadic grid make every sum exact in any order, so the picks,
    ties included (to the lowest index), must be naive greedy's on the dense matrix the lists
    stand for. 100 targets list 4 of 40 candidates, drawn skewed: some candidates are listed by
    more targets than one gather chunk holds; batch 2 makes stale bounds decide most rounds."""
    rng = np.random.default_rng(seed)
    t, n, m, k = 100, 40, 4, 6
    p = rng.dirichlet(np.full(n, 0.3))
    idx = np.stack([rng.choice(n, m, replace=False, p=p) for _ in range(t)])
    idx[0, 0] = n - 1 if n - 1 not in idx[0] else idx[0, 0]  # every candidate id fits the regrouping
    vals = floor + rng.integers(0, 9, size=(t, m)) / 8.0
    w = rng.integers(1, 4, size=t).astype(np.float64)
    initial = rng.choice(n, n_init, replace=False)
    picks, gains, objective, weights, cover = (
        np.asarray(a) for a in lazy_on_lists(idx, vals, w, floor, initial, k, batch)
    )
    sim = dense_of_lists(idx, vals, n, floor)
    ref = fl_greedy(sim, k, w, floor, initial.tolist())
    np.testing.assert_array_equal(picks, ref)
    expected = [fl_value(sim, [*initial.tolist(), *ref[: i + 1]], w, floor) for i in range(k)]
    np.testing.assert_array_equal(objective, expected)
    np.testing.assert_array_equal(np.diff(np.r_[fl_value(sim, initial.tolist(), w, floor), expected]), gains)
    np.testing.assert_array_equal(cover, np.maximum(floor, sim[:, [*initial.tolist(), *ref]].max(1)))


def test_a_candidates_gain_has_the_same_bits_in_any_batch():
    import jax.numpy as jnp

    from kcover.selection.knn_lazy import CandidateLists, batch_gains, by_candidate

    rng = np.random.default_rng(5)
    t, n, m = 3000, 50, 8
    idx = np.stack([rng.choice(n, m, replace=False) for _ in range(t)])
    vals = rng.uniform(0, 1, (t, m)).astype(np.float32)
    lists = CandidateLists(*(jnp.asarray(a) for a in by_candidate(idx, vals, n)))
    w = jnp.asarray(rng.uniform(0.5, 2, t), jnp.float32)
    cover = jnp.asarray(rng.uniform(0, 0.8, t), jnp.float32)
    alone = np.asarray([batch_gains(lists, w, cover, jnp.asarray([j, j]))[0] for j in range(n)])
    together = np.asarray(batch_gains(lists, w, cover, jnp.arange(n)))
    np.testing.assert_array_equal(alone, together)
    ref = (
        np.asarray(w, np.float64)[:, None]
        * np.maximum(dense_of_lists(idx, vals, n, 0.0) - np.asarray(cover)[:, None], 0)
    ).sum(0)
    np.testing.assert_allclose(together, ref, rtol=1e-5)
    assert np.diff(np.asarray(lists.start)).max() > 32  # in-degrees near 480: many gather chunks each
