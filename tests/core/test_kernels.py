import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcover
from _reference import gram as ref_gram
from kcover.kernels import make_kernel, median_bandwidth


@pytest.mark.parametrize("kernel", ["rbf", "cosine", "linear"])
def test_gram_matches_float64_reference(kernel, x64):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(13, 5)), rng.normal(size=(7, 5))
    bw = 1.7 if kernel == "rbf" else None
    got = np.asarray(kcover.gram(x, y, kernel=kernel, bandwidth=bw))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, ref_gram(x, y, kernel, 1.7), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", ["rbf", "cosine", "linear"])
def test_blocked_and_dense_gram_agree(kernel):
    x = np.random.default_rng(1).normal(size=(50, 8)).astype(np.float32)
    full = np.asarray(kcover.gram(x, kernel=kernel, block=4096))
    # row blocks change a matmul's shape, hence its summation order: two float32 dot products of
    # length d differ by at most 2 d eps sum_l |x_il x_jl| (for cosine, of the normalized rows)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True) if kernel == "cosine" else x
    bound = 2 * x.shape[1] * np.finfo(np.float32).eps * (np.abs(xn) @ np.abs(xn).T)
    for block in (1, 7, 50):
        got = np.asarray(kcover.gram(x, kernel=kernel, block=block))
        if kernel == "rbf":  # exp of a squared distance: relative error of its exponent's rounding
            np.testing.assert_allclose(got, full, rtol=1e-6, atol=1e-7)
        else:
            assert np.all(np.abs(got - full) <= bound + 1e-7), np.max(np.abs(got - full) - bound)


def test_gram_rejects_a_bad_block():
    x = np.ones((4, 2), np.float32)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="block: must be"):
            kcover.gram(x, block=bad)


def test_median_heuristic_is_median_pairwise_distance():
    x = np.random.default_rng(2).normal(size=(40, 3))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))[np.triu_indices(40, 1)]
    assert median_bandwidth(x) == pytest.approx(np.median(d), rel=1e-9)
    assert make_kernel("rbf", None, x).bandwidth == pytest.approx(np.median(d), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**31 - 1))
def test_median_heuristic_on_odd_and_even_pair_counts_with_ties(n, seed):
    # n (n - 1) / 2 pairs: odd for n = 2, 3, 6, 7, ...; integer features make many equal distances
    x = np.random.default_rng(seed).integers(0, 3, size=(n, 2)).astype(np.float64)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))[np.triu_indices(n, 1)]
    want = np.median(d) if np.median(d) > 0 else 1.0
    assert median_bandwidth(x) == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_kernel_floors_are_stated():
    assert make_kernel("rbf", 1.0).floor == 0.0
    assert make_kernel("cosine").floor == -1.0
    assert make_kernel("linear").floor == 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: kcover.gram(np.full((3, 2), np.nan)), "x: contains NaN"),
        (lambda: kcover.gram(np.ones((3, 2)), np.ones((3, 4))), "y: has 4 columns"),
        (lambda: kcover.gram(np.ones((3, 2)), kernel="poly"), "kernel: unknown"),
        (lambda: kcover.gram(np.ones((3, 2)), bandwidth=-1.0), "bandwidth: must be positive"),
        (lambda: kcover.gram(np.ones((3, 2)), kernel="cosine", bandwidth=1.0), "bandwidth: only the rbf"),
        (lambda: kcover.gram(np.ones((0, 2))), "x: is empty"),
        (lambda: kcover.gram(np.ones(3)), "x: expected a 2-d array"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
