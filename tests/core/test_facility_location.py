"""Facility location: the objective's properties, greedy guarantees, exactness across paths."""

import hypothesis.extra.numpy as hnp
import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcover
from _reference import fl_greedy, fl_optimum, fl_value
from _reference import gram as ref_gram
from kcover.selection.facility_rules import greedy_jit

SETTINGS = settings(max_examples=40, deadline=None)


def sims(shape=(5, 7)):
    """Non-negative similarity matrices (T, N) with frequent exact ties.

    One shape, and budgets from a short list, so the jitted selector compiles a few times only.
    """
    # no subnormals: XLA on the CPU flushes them to zero in some fused ops and not in others
    return hnp.arrays(
        np.float64, shape, elements=st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0, 1, allow_subnormal=False)
    )


@SETTINGS
@given(st.tuples(st.integers(1, 6), st.integers(2, 8)).flatmap(sims), st.data())
def test_objective_is_monotone_and_submodular(sim, data):
    n = sim.shape[1]
    a = set(data.draw(st.sets(st.integers(0, n - 1))))
    b = a | set(data.draw(st.sets(st.integers(0, n - 1))))
    v = data.draw(st.integers(0, n - 1))
    f = lambda s: fl_value(sim, sorted(s))
    assert f(b) >= f(a) - 1e-12
    if v not in b:
        assert f(a | {v}) - f(a) >= f(b | {v}) - f(b) - 1e-12


@SETTINGS
@given(sims(), st.data())
def test_naive_and_lazy_pick_the_same_sets_with_ties(sim, data):
    k = data.draw(st.sampled_from([2, 7]))
    block = data.draw(st.sampled_from([1, 3]))
    with jax.enable_x64(True):
        naive = kcover.facility_location_dense(sim, k, method="naive", block=block)
        lazy = kcover.facility_location_dense(sim, k, method="lazy", block=block)
    np.testing.assert_array_equal(naive.indices, lazy.indices)
    np.testing.assert_allclose(naive.gains, lazy.gains, rtol=1e-12, atol=1e-300)
    assert naive.indices.tolist() == fl_greedy(sim, k)


@SETTINGS
@given(sims(), st.data())
def test_greedy_invariants(sim, data):
    k = data.draw(st.sampled_from([2, 7]))
    method = data.draw(st.sampled_from(["naive", "lazy", "stochastic"]))
    with jax.enable_x64(True):
        sel = kcover.facility_location_dense(sim, k, method=method, epsilon=0.3)
    assert len(set(sel.indices.tolist())) == k
    assert np.all(np.diff(sel.gains) <= 1e-12) or method == "stochastic"
    assert np.all(sel.gains >= 0)
    prefix = [fl_value(sim, sel.indices[: i + 1].tolist()) for i in range(k)]
    np.testing.assert_allclose(sel.objective, prefix, atol=1e-12)
    np.testing.assert_allclose(np.cumsum(sel.gains), sel.objective, atol=1e-12)


def _random_instances(count, n, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        x = rng.normal(size=(n, 2))
        yield ref_gram(x, x, "rbf", 1.0)


@pytest.mark.parametrize("n", [6, 10])
def test_greedy_reaches_one_minus_one_over_e_of_the_optimum(n, x64):
    for sim in _random_instances(8, n, seed=n):
        for k in (1, 2, 3):
            opt = fl_optimum(sim, k)
            for method in ("naive", "lazy"):
                got = kcover.facility_location_dense(sim, k, method=method).objective[-1]
                assert got >= (1 - 1 / np.e) * opt - 1e-12
                assert got <= opt + 1e-12


def test_stochastic_greedy_reaches_its_guarantee_on_average(x64):
    eps = 0.2
    ratios = []
    for sim in _random_instances(6, 10, seed=3):
        opt = fl_optimum(sim, 3)
        vals = [
            kcover.facility_location_dense(sim, 3, method="stochastic", epsilon=eps, seed=s).objective[-1]
            for s in range(8)
        ]
        ratios.append(np.mean(vals) / opt)
    assert min(ratios) >= 1 - 1 / np.e - eps


def test_stochastic_is_deterministic_per_seed_and_varies_across_seeds():
    x = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    a = kcover.facility_location(x, 20, method="stochastic", seed=1, epsilon=0.5)
    b = kcover.facility_location(x, 20, method="stochastic", seed=1, epsilon=0.5)
    c = kcover.facility_location(x, 20, method="stochastic", seed=2, epsilon=0.5)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)


@pytest.mark.parametrize("kernel", ["rbf", "cosine", "linear"])
def test_matrix_free_matches_float64_reference_greedy(kernel, x64):
    rng = np.random.default_rng(5)
    x = np.abs(rng.normal(size=(40, 3))) if kernel == "linear" else rng.normal(size=(40, 3))
    t = np.abs(rng.normal(size=(25, 3))) if kernel == "linear" else rng.normal(size=(25, 3))
    w = rng.uniform(0.5, 2.0, size=25)
    bw = 1.3
    sim = ref_gram(t, x, kernel, bw)
    floor = -1.0 if kernel == "cosine" else 0.0
    ref = fl_greedy(sim, 8, w=w, floor=floor)
    for method in ("naive", "lazy"):
        sel = kcover.facility_location(
            x,
            8,
            method=method,
            kernel=kernel,
            bandwidth=bw if kernel == "rbf" else None,
            targets=t,
            target_weights=w,
            block=7,
        )
        assert sel.indices.tolist() == ref
        np.testing.assert_allclose(sel.objective[-1], fl_value(sim, ref, w, floor), rtol=1e-10)
        assert sel.coverage.shape == (25,)


@pytest.mark.parametrize("method", ["naive", "lazy", "stochastic"])
def test_lazy_naive_and_paths_agree_on_float32_features(method):
    x = np.random.default_rng(7).normal(size=(500, 16)).astype(np.float32)
    ref = kcover.facility_location(x, 30, method="naive", block=64)
    sel = kcover.facility_location(x, 30, method=method, block=64, epsilon=0.01)
    if method != "stochastic":
        np.testing.assert_array_equal(sel.indices, ref.indices)
    else:  # s = ceil((500 / 30) ln 100) = 77 random candidates per step
        from kcover.selection.facility_rules import sample_size

        assert sample_size(500, 30, 0.01) == 77
        assert sel.objective[-1] >= 0.97 * ref.objective[-1]


@pytest.mark.parametrize("block", [1, 5, 64, 1000])
def test_block_size_does_not_change_dense_picks(block, x64):
    sim = ref_gram(*(2 * [np.random.default_rng(8).normal(size=(30, 2))]), "rbf")
    ref = fl_greedy(sim, 10)
    assert kcover.facility_location_dense(sim, 10, method="lazy", block=block).indices.tolist() == ref
    assert kcover.facility_location_dense(sim, 10, method="naive", block=block).indices.tolist() == ref


def test_dense_and_matrix_free_paths_agree(x64):
    x = np.random.default_rng(9).normal(size=(60, 4))
    sim = ref_gram(x, x, "rbf", 2.0)
    a = kcover.facility_location(x, 12, bandwidth=2.0)
    b = kcover.facility_location_dense(sim, 12)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.objective, b.objective, rtol=1e-12)
    np.testing.assert_allclose(a.weights, b.weights)


def test_jitted_and_unjitted_paths_agree():
    x = np.random.default_rng(10).normal(size=(25, 3)).astype(np.float32)
    for method in ("naive", "lazy", "stochastic"):
        a = kcover.facility_location(x, 5, method=method, bandwidth=1.0, block=4, epsilon=0.3)
        with jax.disable_jit():
            b = kcover.facility_location(x, 5, method=method, bandwidth=1.0, block=4, epsilon=0.3)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.objective, b.objective, rtol=1e-5)


def test_second_call_with_same_shapes_does_not_recompile():
    rng = np.random.default_rng(11)
    x1, x2 = rng.normal(size=(2, 80, 5)).astype(np.float32)
    kcover.facility_location(x1, 6, bandwidth=1.0)
    before = greedy_jit._cache_size()
    kcover.facility_location(x2, 6, bandwidth=2.0)
    assert greedy_jit._cache_size() == before


@pytest.mark.parametrize("method", ["naive", "lazy", "stochastic"])
def test_ties_go_to_the_lowest_index(method):
    # every gain is exactly equal (then exactly zero): picks must come in index order
    sel = kcover.facility_location_dense(np.ones((4, 6), np.float32), 3, method=method, epsilon=1e-3)
    assert sel.indices.tolist() == [0, 1, 2]
    # duplicated candidates have bit-identical gains on the matrix-free path too
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], np.float32)
    sel = kcover.facility_location(x, 2, method=method, bandwidth=1.0, targets=x[1:2], epsilon=1e-3)
    assert sel.indices.tolist() == [1, 0]


def test_weights_count_the_targets_each_pick_covers(x64):
    rng = np.random.default_rng(12)
    x = rng.normal(size=(50, 2))
    sel = kcover.facility_location(x, 6, bandwidth=1.0)
    sim = ref_gram(x, x, "rbf", 1.0)[:, sel.indices]
    owner = np.argmax(sim, axis=1)
    np.testing.assert_array_equal(sel.weights, np.bincount(owner, minlength=6))
    assert sel.weights.sum() == 50


def test_initial_subset_is_counted_and_never_repicked(x64):
    x = np.random.default_rng(13).normal(size=(30, 2))
    sim = ref_gram(x, x, "rbf", 1.0)
    init = [3, 17]
    sel = kcover.facility_location(x, 5, bandwidth=1.0, initial=init)
    assert not set(sel.indices.tolist()) & set(init)
    assert sel.indices.tolist() == fl_greedy(sim, 5, initial=init)
    np.testing.assert_allclose(sel.objective[-1], fl_value(sim, init + sel.indices.tolist()))
    continued = kcover.facility_location(x, 3, bandwidth=1.0, initial=init + sel.indices[:2].tolist())
    np.testing.assert_array_equal(continued.indices, sel.indices[2:])


def test_random_and_kcenter_are_scored_consistently(x64):
    x = np.random.default_rng(14).normal(size=(40, 3))
    r = kcover.select(x, 7, method="random", bandwidth=1.0, seed=3)
    assert len(set(r.indices.tolist())) == 7
    sim = ref_gram(x, x, "rbf", 1.0)
    np.testing.assert_allclose(r.objective[-1], fl_value(sim, r.indices.tolist()), rtol=1e-12)
    assert kcover.objective(x, r.indices, bandwidth=1.0) == pytest.approx(r.objective[-1])
    g = kcover.select(x, 7, bandwidth=1.0)
    assert g.objective[-1] >= r.objective[-1]


@pytest.mark.parametrize("kernel", ["rbf", "cosine", "linear"])
@pytest.mark.parametrize("k", [1, 63, 64, 65, 150])  # around the 64-column call width: padding and one call
def test_objective_and_random_objective_match_brute_force(kernel, k, x64):
    from kcover.selection.entry import random_objective, random_subset

    rng = np.random.default_rng(k)
    x, t = rng.normal(size=(200, 4)), rng.normal(size=(90, 4))
    w, init = rng.uniform(0.5, 2.0, size=90), [3, 7]
    opts = dict(kernel=kernel, targets=t, target_weights=w, initial=init)
    bw = {"bandwidth": 1.5} if kernel == "rbf" else {}
    r = random_subset(x, k, seed=k, **opts, **bw)
    floor = kcover.make_kernel(kernel, 1.5 if kernel == "rbf" else None).floor
    want = fl_value(ref_gram(t, x, kernel, 1.5), init + r.indices.tolist(), w, floor)
    got = random_objective(x, k, seed=k, **opts, **bw)
    assert got == pytest.approx(want, rel=1e-10 if x64 else 1e-5) and got == pytest.approx(r.objective[-1], rel=1e-5)
    with pytest.raises(ValueError, match="^indices: overlaps the initial subset"):
        kcover.objective(x, [3, 4], **opts, **bw)
    with pytest.raises(ValueError, match="^indices: is empty"):
        kcover.objective(x, [], **bw)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(k=0), "k: must be positive"),
        (dict(k=11), "k: asks for 11 points but only 10"),
        (dict(k=2.5), "k: must be an integer"),
        (dict(k=2, method="greedy"), "method: unknown value 'greedy'"),
        (dict(k=2, kernel="laplace"), "kernel: unknown value"),
        (dict(k=2, targets=np.ones((4, 5))), "targets: has 5 columns"),
        (dict(k=2, target_weights=np.ones(3)), "target_weights: has 3 entries"),
        (dict(k=2, target_weights=-np.ones(10)), "target_weights: must be non-negative"),
        (dict(k=2, initial=[1, 1]), "initial: contains repeated"),
        (dict(k=9, initial=[1, 2]), "k: asks for 9 points but only 8"),
        (dict(k=2, method="stochastic", epsilon=1.5), "epsilon: must lie in"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, match):
    x = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=match):
        kcover.select(x, **kwargs)


def test_bad_features_and_similarities():
    with pytest.raises(ValueError, match="features: contains NaN"):
        kcover.select(np.array([[0.0, np.nan], [1.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="features: is empty"):
        kcover.select(np.zeros((0, 3)), 1)
    with pytest.raises(ValueError, match="similarity: has entries below the floor"):
        kcover.facility_location_dense(np.array([[1.0, -0.5], [0.2, 1.0]]), 1)
    with pytest.raises(ValueError, match="features: has similarities below 0"):
        kcover.select(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]), 1, kernel="linear")


def test_first_pick_is_the_best_singleton_by_brute_force(x64):
    for sim in _random_instances(5, 6, seed=20):
        best = max(range(6), key=lambda j: (fl_value(sim, [j]), -j))
        assert kcover.facility_location_dense(sim, 1).indices[0] == best
