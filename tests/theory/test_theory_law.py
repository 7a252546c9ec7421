"""Eq. 2 (kcover.theory.product_law): every term against the core's spectral functions, and the
violations it must report."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcover.spectral import alignment, effective_dimension, gram_eigenvalues, tail_energy
from kcover.theory.latent_mode import BlockKernel, input_gram, make_latent_modes
from kcover.theory.product_law import (
    ADV_TOL,
    BOUND_TOL,
    EmbeddingRBF,
    MixedKernel,
    RandomFeatureKernel,
    classify,
    law_rows,
    spectrum,
    summarize,
)

R = 5


@functools.cache
def inst(m: int, order: str = "mode-major", seed: int = 0):
    return make_latent_modes(R, m / R, n=3, s=2, order=order, seed=seed)


@functools.cache
def rows(m: int, kernel, order: str = "mode-major", seed: int = 0):
    # the budgets of test_theory_mode, so that the jitted selectors are shared
    return law_rows(inst(m, order, seed), kernel, np.arange(1, 16))


def test_spectrum_matches_core_tail_energy_and_r_eff():
    i = inst(3)
    k = MixedKernel(0.3)(i.x, i.mode, i.x, i.mode)
    mu, tail = spectrum(k, i.y, 8)
    k32, y32 = k.astype(np.float32), i.y.astype(np.float32)
    for kk in (0, 1, 4, 8):
        assert tail[kk] == pytest.approx(tail_energy(k32, y32, kk), rel=1e-4, abs=1e-5)
    core_mu = np.asarray(gram_eigenvalues(k32))
    np.testing.assert_allclose(mu[:10], core_mu[:10], rtol=1e-4, atol=1e-6)
    assert effective_dimension(mu, 1e-3) == pytest.approx(effective_dimension(core_mu, 1e-3), rel=1e-3)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(m=st.integers(0, R), seed=st.integers(0, 2))
def test_block_model_learner_risk_is_tail_energy(m, seed):
    """Exact block, distinct mode masses: greedy-K reaches the top-k eigenspace, R(S_K) = rho_tail(k)."""
    for row in rows(m, BlockKernel(), seed=seed):
        assert row["risk_learner"] == pytest.approx(row["rho_tail"], abs=1e-6)
        assert row["rho_tail"] == pytest.approx(max(R - row["k"], 0), abs=1e-6)


def test_terms_use_core_alignment():
    i = inst(R)
    k = BlockKernel()(i.x, i.mode, i.x, i.mode)
    row = rows(R, BlockKernel())[0]
    assert row["g"] == pytest.approx(1 - alignment(k.astype(np.float32), input_gram(i)), abs=1e-6)
    # exact block with s = 2 split of every mode: A = sqrt(r_in / (r - m + m s^2)) up to the size grading
    assert 0.2 < row["g"] < 0.35


def test_no_misalignment_no_gap():
    for row in rows(0, BlockKernel()):
        assert row["g"] < 1e-5 and abs(row["adv"]) <= ADV_TOL and classify(row) is None


def test_upper_bound_violation_is_reported_with_rho_tail_zero():
    """k in [r, r_in): rho_tail = 0 but input FL still misses modes."""
    rs = rows(R, BlockKernel())
    at_r = next(x for x in rs if x["k"] == R)
    assert at_r["rho_tail"] <= BOUND_TOL and at_r["adv"] > 0.5
    assert classify(at_r) == "upper, rho_tail = 0"
    summ = summarize(list(rs))
    assert any(v["kind"] == "upper, rho_tail = 0" and v["k"] == R for v in summ["violations"])


def test_k1_forces_c_to_zero():
    rs = list(rows(R, BlockKernel()))
    summ = summarize(rs)
    k1 = rs[0]
    assert k1["k"] == 1 and k1["bound"] > BOUND_TOL and abs(k1["adv"]) <= ADV_TOL
    assert classify(k1) == "lower, ADV <= 0"
    assert summ["c_empirical"] == pytest.approx(0.0, abs=1e-9)
    assert summ["c_empirical_positive"] > 0


def test_summary_lists_every_violation():
    rs = []
    kernels = (
        BlockKernel(),
        BlockKernel(1.0, 0.3),
        MixedKernel(0.3),
        EmbeddingRBF(),
        RandomFeatureKernel(q=4, r=R, d=2 * R),
    )
    for kern in kernels:
        for m in (0, R):
            rs.extend(dict(x, seed=0) for x in rows(m, kern))
    summ = summarize(rs)
    flagged = [x for x in rs if classify(x) is not None]
    assert len(summ["violations"]) == len(flagged)
    assert sum(e["rows"] for e in summ["per_kernel"].values()) == len(rs)
    for v in summ["violations"]:
        assert {"kind", "kernel", "order", "seed", "k", "adv", "rho_tail", "g", "bound", "delta_frac"} <= set(v)
    upper = [x for x in rs if x["adv"] > x["bound"] + ADV_TOL]
    assert sum(v["kind"].startswith("upper") for v in summ["violations"]) == len(upper)
    assert summ["c_empirical"] <= summ["c_empirical_positive"]


@pytest.mark.parametrize(
    "kern", [BlockKernel(1.0, 0.3), MixedKernel(0.5), EmbeddingRBF(), RandomFeatureKernel(q=4, r=R, d=2 * R)]
)
def test_general_kernels_are_valid_similarities(kern):
    i = inst(2)
    k = kern(i.x, i.mode, i.x, i.mode)
    assert k.shape == (i.x.shape[0],) * 2 and np.all(k >= 0)
    np.testing.assert_allclose(k, k.T, atol=1e-6)
    assert np.linalg.eigvalsh(k).min() > -1e-6 * np.abs(k).max()


def test_block_kernel_rejects_bad_weights():
    with pytest.raises(ValueError, match="^w_in:"):
        BlockKernel(0.2, 0.5)


def test_law_record_carries_the_reach_form():
    """The law record keeps the paper's keys and adds the reach form: 0 claimed violations, c = 1."""
    from kcover.theory.summaries import law_summary

    rec = law_summary(1, r=4, n=3, deltas=(0.0, 1.0), orders=("mode-major",), progress=False)
    assert "c_empirical" in rec and isinstance(rec["violations"], list) and rec["violations"]
    assert rec["reach_violations"] == []
    assert rec["reach_c_fit"] == pytest.approx(1.0, abs=1e-6)
    per = rec["reach_per_family"]
    assert per["exact block"]["upper_violations"] == 0 and per["exact block"]["ratio_median"] == pytest.approx(1.0)
    assert per["general"]["claimed"] == [] and per["exact block"]["claimed"] == ["upper", "lower"]
    assert all({"reach_upper", "reach_lower", "reach_gap", "claimed"} <= set(x) for x in rec["rows"])
