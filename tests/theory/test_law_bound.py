"""The reach form of the product law (kcover.theory.law_bound): property-based tests that try to break it.

Claimed (docs/product-law.md, Theorem 1): on the block class (exact and soft block learner kernels,
certified input clusters) L(k) <= ADV(k) <= U(k), an identity when no eigenvalues tie, so the lower
bound holds with c = 1. General kernels break it; the tests assert the documented exception (which
half broke, and that it is reported), not silence.

Every instance is drawn at random (r, Delta, s, n, rho scalar or per mode, order, seed, kernel
parameters) and checked at every budget k = 1 .. r_in, in float64. The default suite runs a few
small examples per family; ``-m slow`` runs 500 per family.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcover.theory.latent_mode import ORDERS, BlockKernel, make_latent_modes
from kcover.theory.law_bound import (
    ADV_TOL,
    C_LOWER,
    CLAIMED,
    UNTIED_ONLY,
    block_certificate,
    classify_reach,
    family,
    galerkin_tails,
    reach_rows,
    summarize_reach,
    tie_band,
)
from kcover.theory.mode_simulation import predicted_delta
from kcover.theory.product_law import EmbeddingRBF, MixedKernel, RandomFeatureKernel

LAM = 1e-9
"""KRR ridge: small enough that the ridge's own shrinkage (~LAM / (w_in - w_out)) stays below ADV_TOL."""
FAST = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SLOW = dict(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def instances(r_max: int, n_max: int, s_max: int):
    """Parameters of make_latent_modes (a dict, so that a failure prints a short example)."""

    def with_r(r):
        rho = st.one_of(st.floats(0.05, 3.0), st.tuples(*[st.floats(0.0, 3.0)] * r))
        return st.fixed_dictionaries(
            dict(
                r=st.just(r),
                delta=st.floats(0.0, 1.0),
                n=st.integers(1, n_max),
                s=st.integers(2, s_max),
                rho=rho,
                order=st.sampled_from(ORDERS),
                seed=st.integers(0, 2**16),
            )
        )

    return st.integers(2, r_max).flatmap(with_r)


def build(params: dict):
    return make_latent_modes(**{k: np.asarray(v) if k == "rho" else v for k, v in params.items()})


exact_kernels = st.builds(BlockKernel, st.floats(0.5, 2.0), st.just(0.0))
soft_kernels = st.floats(0.05, 2.0).flatmap(
    lambda w: st.builds(BlockKernel, st.just(w), st.floats(0.02, 0.9).map(lambda f: f * w))
)


def general_kernels(inst_r: int, d: int):
    return st.one_of(
        st.builds(MixedKernel, st.floats(0.05, 0.95)),
        st.builds(EmbeddingRBF, st.floats(0.3, 3.0), st.floats(0.02, 0.5)),
        st.builds(
            RandomFeatureKernel, st.integers(2, 8), st.just(inst_r), st.just(d), st.just(8.0), st.integers(0, 99)
        ),
    )


def _rows(inst, kern):
    rows = reach_rows(inst, kern, lam=LAM)
    assert [r["k"] for r in rows] == list(range(1, inst.r_in + 1))
    return rows


def check_block(params, kern, fam):
    """Theorem 1: the certificate holds, and L - tol <= ADV <= U + tol at every claimed k (= D without ties).

    Soft block, k in a tie band (not claimed, UNTIED_ONLY): a violation must be reported as ``tie band``.
    """
    inst = build(params)
    cert = block_certificate(inst)
    assert cert["holds"], cert
    for row in _rows(inst, kern):
        assert family(kern) == fam and row["certificate"]
        if not row["claimed"]:
            assert fam in UNTIED_ONLY and row["tied"]
            assert row["reach_kind"] in (None, "tie band")
            continue
        assert row["adv"] <= row["reach_upper"] + ADV_TOL, row
        assert row["adv"] >= C_LOWER * row["reach_lower"] - ADV_TOL, row
        if row["reach_upper"] == row["reach_lower"]:  # no tie: both halves of the identity
            assert abs(row["input_half"]) <= ADV_TOL and abs(row["learner_half"]) <= ADV_TOL, row
        assert classify_reach(row) is None


def check_general(params, draw):
    """Nothing is claimed: every violation is reported with the half that broke, and the halves add up."""
    inst = build(params)
    kern = draw(general_kernels(inst.r, inst.r * inst.s))
    rows = _rows(inst, kern)
    for row in rows:
        assert family(kern) == "general"
        assert row["adv"] - row["reach_gap"] == pytest.approx(row["input_half"] + row["learner_half"], abs=1e-9)
        kind = row["reach_kind"]
        assert not row["claimed"] and (kind is None) == (not row["reach_violation"])
        if kind in ("input half", "both halves"):
            assert row["input_half"] > ADV_TOL
        if kind in ("learner half", "both halves"):
            assert row["learner_half"] > ADV_TOL
    summ = summarize_reach(rows)
    assert summ["violations"] == []  # nothing claimed for this family ...
    assert len(summ["exceptions"]) == sum(r["reach_violation"] for r in rows)  # ... but every exception listed
    assert summ["per_family"]["general"]["claimed"] == []


# ------------------------------------------------------------------ default suite: small and few
@settings(max_examples=5, **FAST)
@given(params=instances(4, 2, 2), kern=exact_kernels)
def test_exact_block_identity(params, kern):
    check_block(params, kern, "exact block")


@settings(max_examples=4, **FAST)
@given(params=instances(4, 2, 2), kern=soft_kernels)
def test_soft_block_identity(params, kern):
    check_block(params, kern, "soft block")


@settings(max_examples=4, **FAST)
@given(data=st.data(), params=instances(4, 2, 2))
def test_general_kernels_report_exceptions(data, params):
    check_general(params, data.draw)


# ------------------------------------------------------------------ slow suite: 500 per family
@pytest.mark.slow
@settings(**SLOW)
@given(params=instances(6, 4, 3), kern=exact_kernels)
def test_exact_block_identity_slow(params, kern):
    check_block(params, kern, "exact block")


@pytest.mark.slow
@settings(**SLOW)
@given(params=instances(6, 4, 3), kern=soft_kernels)
def test_soft_block_slow(params, kern):
    check_block(params, kern, "soft block")


@pytest.mark.slow
@settings(**SLOW)
@given(data=st.data(), params=instances(6, 4, 3))
def test_general_kernels_slow(data, params):
    check_general(params, data.draw)


# ------------------------------------------------------------------ fixed cases
def test_reach_form_fixes_the_papers_failures():
    """Where Eq. 2 fails on the exact block model (k = 1, r <= k < r_in), the reach form is exact."""
    inst = make_latent_modes(5, 1.0, n=3, s=2, seed=0)
    rows = {r["k"]: r for r in reach_rows(inst, lam=LAM)}
    assert rows[1]["adv"] == pytest.approx(0, abs=ADV_TOL) and rows[1]["reach_gap"] == pytest.approx(0, abs=ADV_TOL)
    assert rows[1]["bound"] > 0.1  # the paper's rho_tail * g is positive at k = 1: c would have to be 0
    for k in range(5, inst.r_in):  # rho_tail = 0 but input FL still misses modes
        assert rows[k]["rho_tail"] < 1e-9
        assert rows[k]["adv"] == pytest.approx(predicted_delta(5, 5, 2, k), abs=ADV_TOL)
        assert rows[k]["reach_gap"] == pytest.approx(rows[k]["adv"], abs=ADV_TOL)


def test_documented_exceptions_exist():
    """The statement is not claimed on general kernels because it does break there, in both halves."""
    kinds = {
        r["reach_kind"]
        for seed in range(2)
        for o in ("mode-major", "shuffled")
        for r in reach_rows(
            make_latent_modes(6, 0.5, n=4, s=2, order=o, seed=seed),
            RandomFeatureKernel(q=6, r=6, d=12, seed=seed),
            lam=LAM,
        )
    }
    assert kinds & {"input half", "both halves"} and kinds & {"learner half", "both halves"}


def test_soft_block_needs_the_floored_gram():
    """Without flooring, the soft block's top eigenvector is near the constant and G_K(k) != R(S_K)."""
    inst = make_latent_modes(6, 0.0, n=4, s=2, seed=1)
    kern = BlockKernel(1.0, 0.2)
    k = kern(inst.x, inst.mode, inst.x, inst.mode)
    vals, vecs = np.linalg.eigh(k)
    raw = galerkin_tails(k, vecs[:, ::-1][:, :6], inst.y, LAM)
    rows = reach_rows(inst, kern, lam=LAM)
    risk = np.array([r["risk_learner"] for r in rows[:6]])
    assert np.abs(raw[1:] - risk).max() > 0.1  # raw eigenvectors: the learner half breaks
    np.testing.assert_allclose([r["tail_learner"] for r in rows[:6]], risk, atol=ADV_TOL)  # floored: exact


def test_tie_band():
    ev = np.array([5.0, 3.0, 3.0, 3.0, 1.0, 0.0, 0.0])
    assert tie_band(ev, 1) == (1, 1)
    assert tie_band(ev, 2) == (1, 4) and tie_band(ev, 3) == (1, 4)
    assert tie_band(ev, 4) == (4, 4)  # the whole tie group is inside the top 4
    assert tie_band(ev, 6) == (6, 6)  # zero eigenvalues never widen the band


def test_tied_mode_masses_are_bracketed():
    """Two modes of equal mass: greedy K may cover either; U and L bracket ADV instead of pinning it."""
    found = False
    for seed in range(40):
        inst = make_latent_modes(4, 1.0, n=2, s=2, order="shuffled", seed=seed, rho=np.array([0.3, 1.0, 2.0, 0.7]))
        if np.unique(np.bincount(inst.mode)).size < inst.r:
            rows = reach_rows(inst, lam=LAM)
            assert any(r["reach_upper"] > r["reach_lower"] + 1e-3 for r in rows)
            for r in rows:
                assert r["reach_lower"] - ADV_TOL <= r["adv"] <= r["reach_upper"] + ADV_TOL
            found = True
            break
    assert found


def test_soft_block_tie_band_is_a_documented_exception():
    """Two modes of equal mass under a soft block: greedy K covers the lower-index one, and covering the
    other would give a different risk (the interpolant's constant on uncovered modes moves), so the
    bracket fails; the row is not claimed and is reported as ``tie band``."""
    found = False
    for seed in range(60):
        inst = make_latent_modes(2, 1.0, n=1, s=2, rho=1.0, order="shuffled", seed=seed)
        if inst.mass[0] != inst.mass[1]:
            continue
        rows = reach_rows(inst, BlockKernel(1.0, 0.5), lam=LAM)
        assert rows[0]["tied"] and not rows[0]["claimed"]
        if rows[0]["reach_violation"] or rows[0]["reach_lower_violation"]:
            assert rows[0]["reach_kind"] in ("tie band", None)
            summ = summarize_reach(rows)
            assert summ["violations"] == []
            found = True
            break
    assert found


def test_claims_table():
    assert CLAIMED == {"upper": ("exact block", "soft block"), "lower": ("exact block", "soft block")}
