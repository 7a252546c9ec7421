"""Nothing hangs, nothing is silently NaN: extreme magnitudes, constant and duplicate rows, integers.

Finite float32 features of any magnitude give finite similarities for rbf and cosine (features
are divided by a power of two first, which changes no similarity); the linear kernel's dot
products can overflow, and then the call stops with an error naming ``features``. Every method
returns or raises; none loops.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kcover
from kcover.kernels import power_of_two_scale

METHODS = ("lazy", "naive", "stochastic")


def _data(seed: int, n: int, d: int, exponent: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    if kind == "constant":
        x[:] = x[0]
    elif kind == "duplicates":
        x[n // 2 :] = x[: n - n // 2]
    elif kind == "integer":
        return np.round(x * 10.0 ** min(exponent, 6)).astype(np.int64)
    return (x * 10.0**exponent).astype(np.float32)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    exponent=st.sampled_from([-30, -20, -5, 0, 5, 20, 30]),
    kind=st.sampled_from(["normal", "constant", "duplicates", "integer"]),
    kernel=st.sampled_from(["rbf", "cosine"]),
    method=st.sampled_from(METHODS),
)
def test_bounded_kernels_give_finite_gains_at_any_magnitude(seed, exponent, kind, kernel, method):
    x = _data(seed, 24, 3, exponent, kind)
    sel = kcover.facility_location(x, 4, method=method, kernel=kernel)
    assert np.isfinite(sel.gains).all() and np.isfinite(sel.objective).all()
    assert np.all(np.diff(sel.objective) >= -1e-4 * np.abs(sel.objective[1:]))  # F never falls
    assert len(set(sel.indices.tolist())) == 4


@pytest.mark.parametrize("method", METHODS)
def test_constant_features_at_1e20_and_a_bandwidth_that_underflows(method):
    # the case hypothesis found: identical rows have no median distance (bandwidth 1.0), which
    # scaled with features of 1e20 squares to 0 in float32; coinciding points still have similarity 1
    x = np.full((20, 3), 1e20, np.float32)
    sel = kcover.facility_location(x, 3, method=method)
    np.testing.assert_array_equal(sel.objective, np.full(3, 20.0, np.float32))
    tiny = kcover.facility_location(_data(4, 20, 3, 0, "normal"), 3, method=method, bandwidth=1e-30)
    assert np.isfinite(tiny.gains).all() and tiny.objective[-1] == 3.0  # each pick covers itself only


@pytest.mark.parametrize("exponent", [-30, 30])
@pytest.mark.parametrize("kernel", ["rbf", "cosine"])
def test_scaled_features_give_the_same_picks_as_unit_features(exponent, kernel):
    # similarities are scale-free for cosine, and for rbf with the median bandwidth: the picks at
    # 1e30 or 1e-30 are those at scale 1 (features multiplied by a power of two: exact)
    x = _data(3, 60, 4, 0, "normal")
    scale = np.float32(2.0 ** round(exponent * np.log2(10)))
    unit = kcover.facility_location(x, 6, kernel=kernel)
    big = kcover.facility_location(x * scale, 6, kernel=kernel)
    assert big.indices.tolist() == unit.indices.tolist()
    np.testing.assert_array_equal(big.gains, unit.gains)


def test_median_bandwidth_data_at_1e20_used_to_give_nan():
    # the reported case: 50 x 8 features of magnitude ~1e20 hung lazy greedy and gave NaN naive gains
    rng = np.random.default_rng(0)
    x = (np.sign(rng.normal(size=(50, 8))) * 1e20 + rng.normal(size=(50, 8)) * 1e19).astype(np.float32)
    for method in METHODS:
        sel = kcover.facility_location(x, 2, method=method)
        assert np.isfinite(sel.gains).all()


def test_linear_kernel_overflow_is_an_error_naming_features():
    x = np.full((10, 4), 1e20, np.float32)
    for method in METHODS:
        with pytest.raises(ValueError, match="^features: .*overflow"):
            kcover.facility_location(x, 2, method=method, kernel="linear")


def test_nan_similarities_stop_lazy_greedy_with_an_error():
    # a kernel whose similarities are all NaN: lazy greedy's bounds never resolve, and it must stop
    x = _data(1, 30, 3, 0, "normal")
    bad = kcover.Kernel("rbf", float("nan"))
    for method in METHODS:
        with pytest.raises(ValueError, match="^features: .*NaN"):
            kcover.facility_location(x, 3, method=method, kernel=bad)


def test_power_of_two_scale_is_exact():
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32) * np.float32(3e25)
    s = power_of_two_scale(x)
    assert np.log2(s) == int(np.log2(s))
    assert 1.0 <= np.abs(x).max() / s < 2.0
    np.testing.assert_array_equal((x / np.float32(s)) * np.float32(s), x)
    assert power_of_two_scale(np.zeros((2, 2))) == 1.0


@pytest.mark.parametrize("exponent", [-30, 30])
def test_kcenter_distances_are_finite_and_scale_back(exponent):
    x = _data(2, 40, 3, 0, "normal")
    scale = np.float32(2.0 ** round(exponent * np.log2(10)))
    unit = kcover.k_center(x, 5, seed=1)
    big = kcover.k_center(x * scale, 5, seed=1)
    assert big.indices.tolist() == unit.indices.tolist()
    np.testing.assert_allclose(big.objective, unit.objective * scale, rtol=1e-6)


@pytest.mark.parametrize("bad", [[], [0, 3], [3, 11], [2.5], ["a"], [True], [[1, 2]]])
def test_budget_list_names_the_argument(bad):
    from kcover import checks

    with pytest.raises(ValueError, match="^ks:"):
        checks.budget_list(bad, 10, "ks")


def test_budget_list_keeps_order_and_accepts_one_budget():
    from kcover import checks

    assert checks.budget_list([5, 1, 5], 10).tolist() == [5, 1, 5]
    assert checks.budget_list(np.int64(3), 10).tolist() == [3]
