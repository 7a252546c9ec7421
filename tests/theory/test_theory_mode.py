"""Eq. 1 on the latent-mode model (kcover.theory.mode_simulation): property-based tests of the product law.

Tolerance: |ADV| <= 1e-6 counts as zero, and Eq. 1 must hold to 1e-6 (the float64 ridge of
1e-8 leaves ~1e-15). Instances are drawn with r = 5 modes and budgets k = 1 .. 15 so that the
jitted selectors compile for a handful of pool sizes only.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcover.theory.latent_mode import ORDERS, BlockKernel, make_latent_modes, misaligned_count
from kcover.theory.mode_simulation import predicted_delta, simulate_modes

TOL = 1e-6
R = 5
KS = np.arange(1, 16)
FAST = settings(max_examples=12, deadline=None, derandomize=True)


@functools.cache
def run(m: int, s: int = 2, n: int = 3, rho: float = 1.0, order: str = "mode-major", seed: int = 0, w_out: float = 0.0):
    inst = make_latent_modes(R, m / R, n=n, s=s, rho=rho, order=order, seed=seed)
    assert inst.m == m
    return inst, simulate_modes(inst, KS, kernel=BlockKernel(1.0, w_out))


def adv_at(res, k: int) -> float:
    return float(res.adv[k - 1])


ms = st.integers(0, R)
ss = st.just(2)  # s = 3 is covered by test_three_subclusters (one more pool size to compile)
rhos = st.sampled_from([0.25, 1.0, 2.5])
orders = st.sampled_from(ORDERS)
seeds = st.integers(0, 2)
budgets = st.integers(1, int(KS.max()))


@FAST
@given(s=ss, rho=rhos, order=orders, seed=seeds, k=budgets)
def test_adv_zero_without_misalignment(s, rho, order, seed, k):
    _, res = run(0, s, rho=rho, order=order, seed=seed)
    assert abs(adv_at(res, k)) <= TOL
    assert res.delta[k - 1] == 0


@FAST
@given(m=ms, s=ss, order=orders, seed=seeds, k=budgets)
def test_adv_zero_for_interpolable_task(m, s, order, seed, k):
    _, res = run(m, s, rho=0.0, order=order, seed=seed)
    assert abs(adv_at(res, k)) <= TOL


@FAST
@given(m=ms, s=ss, rho=rhos, order=orders, seed=seeds, k=budgets)
def test_adv_zero_once_budget_covers_input_clusters(m, s, rho, order, seed, k):
    inst, res = run(m, s, rho=rho, order=order, seed=seed)
    if k >= inst.r_in:
        assert abs(adv_at(res, k)) <= TOL
    if m == 0 and k >= R:  # the paper's k >= r, when the geometries agree
        assert abs(adv_at(res, k)) <= TOL


@FAST
@given(m=st.integers(1, R), s=ss, rho=rhos, seed=seeds, k=st.integers(2, R - 1))
def test_adv_positive_when_all_three_conditions_hold(m, s, rho, seed, k):
    """Delta > 0, rho > 0, 2 <= k < r, in the designed (mode-major) input order."""
    _, res = run(m, s, rho=rho, seed=seed)
    assert adv_at(res, k) > TOL
    assert abs(adv_at(res, k) - rho * res.delta[k - 1]) <= TOL


@FAST
@given(m=ms, s=ss, rho=rhos, order=orders, seed=seeds)
def test_one_pick_never_wastes(m, s, rho, order, seed):
    """Boundary of the 'iff': at k = 1 both geometries cover exactly one mode."""
    _, res = run(m, s, rho=rho, order=order, seed=seed)
    assert res.delta[0] == 0 and abs(adv_at(res, 1)) <= TOL


@FAST
@given(s=ss, rho=rhos, seed=seeds, k=budgets)
def test_adv_nondecreasing_in_delta(s, rho, seed, k):
    advs = [adv_at(run(m, s, 3, rho, "mode-major", seed)[1], k) for m in range(R + 1)]
    assert all(b >= a - TOL for a, b in zip(advs, advs[1:])), advs


@FAST
@given(m=ms, s=ss, order=orders, seed=seeds, k=budgets)
def test_adv_nondecreasing_in_rho(m, s, order, seed, k):
    advs = [adv_at(run(m, s, rho=rho, order=order, seed=seed)[1], k) for rho in (0.0, 0.25, 1.0, 2.5)]
    assert all(b >= a - TOL for a, b in zip(advs, advs[1:])), advs


@FAST
@given(m=ms, s=ss, rho=rhos, order=orders, seed=seeds)
def test_eq1_exact_in_block_model(m, s, rho, order, seed):
    _, res = run(m, s, rho=rho, order=order, seed=seed)
    np.testing.assert_allclose(res.adv, rho * res.delta, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.adv, res.adv_predicted, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.adv, res.adv_exact, rtol=0, atol=TOL)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(m=ms, order=orders, seed=seeds, rho=st.lists(st.floats(0.0, 3.0), min_size=R, max_size=R))
def test_eq1_exact_identity_with_unequal_rho(m, order, seed, rho):
    """With rho_j unequal, ADV is the rho-weighted difference of the covered sets (adv_exact);
    the paper's rho * delta with rho = min_j rho_j is then only the prediction, not an identity."""
    inst = make_latent_modes(R, m / R, n=3, s=2, rho=rho, order=order, seed=seed)
    res = simulate_modes(inst, KS)
    np.testing.assert_allclose(res.adv, res.adv_exact, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.adv_predicted, min(rho) * res.delta)


@FAST
@given(m=ms, s=ss, order=orders, seed=seeds, w_out=st.sampled_from([0.0, 0.3]))
def test_learner_greedy_covers_min_k_r_modes(m, s, order, seed, w_out):
    _, res = run(m, s, order=order, seed=seed, w_out=w_out)
    np.testing.assert_array_equal(res.covered_learner, np.minimum(KS, R))


@FAST
@given(m=ms, s=ss, seed=seeds, order=st.sampled_from(["mode-major", "round-robin"]))
def test_measured_delta_matches_closed_form(m, s, seed, order):
    _, res = run(m, s, order=order, seed=seed)
    assert res.delta.tolist() == [predicted_delta(R, m, s, int(k), order) for k in KS]


def test_three_subclusters():
    inst, res = run(R, 3)
    assert inst.r_in == 3 * R
    assert res.delta.tolist() == [predicted_delta(R, R, 3, int(k)) for k in KS]
    np.testing.assert_allclose(res.adv, res.delta, rtol=0, atol=TOL)
    assert adv_at(res, 2) > TOL and adv_at(res, R) > TOL and abs(adv_at(res, 3 * R)) <= TOL


def test_k_equal_r_does_not_close_the_gap_under_misalignment():
    """The paper's 'k >= r => ADV = 0' fails for Delta > 0: the input budget binds until r_in."""
    inst, res = run(2, 2)
    assert inst.r_in == R + 2
    assert adv_at(res, R) == pytest.approx(2.0, abs=TOL)  # rho * (r_in - k) for mode-major
    assert adv_at(res, R + 1) == pytest.approx(1.0, abs=TOL)
    assert abs(adv_at(res, inst.r_in)) <= TOL


@pytest.mark.parametrize("order", ORDERS)
def test_nested_selections_lemma(order):
    """If the first r input picks cover every mode, no budget k <= r wastes a slot."""
    for m in range(R + 1):
        _, res = run(m, 2, order=order, seed=1)
        if res.delta[R - 1] == 0:
            assert np.all(res.delta[:R] == 0)


def test_round_robin_is_not_monotone_in_delta():
    """Monotonicity in Delta is a property of the order; round-robin breaks it (recorded, not hidden)."""
    a = adv_at(run(2, 2, order="round-robin")[1], 4)
    b = adv_at(run(4, 2, order="round-robin")[1], 4)
    assert a == pytest.approx(2.0, abs=TOL) and abs(b) <= TOL


def test_soft_block_departs_from_eq1():
    _, res = run(3, 2, w_out=0.3)
    assert np.max(np.abs(res.adv - res.adv_predicted)) > 0.05


def test_generator_shapes_and_masses():
    inst = make_latent_modes(4, 0.5, n=3, s=3, rho=[1.0, 2.0, 0.0, 0.5], seed=3)
    assert inst.m == 2 and inst.r_in == 4 + 2 * 2
    assert inst.x.shape == (inst.mode.shape[0], 4 * 3)
    assert inst.x_test.shape[0] == 2 * inst.x.shape[0]
    np.testing.assert_allclose(inst.mass, np.bincount(inst.mode) / inst.mode.size)
    np.testing.assert_allclose(inst.mass * inst.target**2, inst.rho)
    np.testing.assert_allclose(np.bincount(inst.mode_test) / inst.mode_test.size, inst.mass)
    assert misaligned_count(8, 0.25) == 2 and misaligned_count(8, 1.0) == 8


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(delta=1.5), "delta"),
        (dict(s=1), "s"),
        (dict(order="random"), "order"),
        (dict(rho=-1.0), "rho"),
        (dict(n=0), "n"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, name):
    args = dict(r=4, delta=0.5) | kwargs
    with pytest.raises(ValueError, match=f"^{name}:"):
        make_latent_modes(**args)
