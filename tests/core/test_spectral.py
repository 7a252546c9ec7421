import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcover
from _reference import gram as ref_gram


def psd(seed, n=12, rank=None):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, rank or n))
    return f @ f.T


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(np.float64, (8, 3), elements=st.floats(-3, 3)), hnp.arrays(np.float64, (8, 2), elements=st.floats(-3, 3))
)
def test_alignment_is_symmetric_bounded_and_one_with_itself(a, b):
    k1, k2 = a @ a.T + np.eye(8), b @ b.T + np.eye(8)
    ab, ba = kcover.alignment(k1, k2), kcover.alignment(k2, k1)
    assert ab == pytest.approx(ba, rel=1e-5)
    assert -1 - 1e-6 <= ab <= 1 + 1e-6
    assert kcover.alignment(k1, k1) == pytest.approx(1.0, rel=1e-5)
    c = kcover.centered_alignment(k1, k2)
    assert -1 - 1e-6 <= c <= 1 + 1e-6


def test_alignment_matches_float64_formula(x64):
    k1, k2 = psd(0), psd(1)
    ref = np.sum(k1 * k2) / np.linalg.norm(k1) / np.linalg.norm(k2)
    assert kcover.alignment(k1, k2) == pytest.approx(ref, rel=1e-12)
    h = np.eye(12) - 1 / 12
    c1, c2 = h @ k1 @ h, h @ k2 @ h
    assert kcover.centered_alignment(k1, k2) == pytest.approx(
        np.sum(c1 * c2) / np.linalg.norm(c1) / np.linalg.norm(c2), rel=1e-10
    )
    y = np.random.default_rng(2).normal(size=12)
    assert kcover.target_alignment(k1, y) == pytest.approx(
        np.sum(k1 * np.outer(y, y)) / np.linalg.norm(k1) / np.linalg.norm(np.outer(y, y)), rel=1e-12
    )


def test_effective_dimension_decreases_in_lambda_and_tends_to_the_rank(x64):
    k = psd(3, n=20, rank=5)
    mu = np.asarray(kcover.gram_eigenvalues(k))
    assert np.all(np.diff(mu) <= 1e-12)
    np.testing.assert_allclose(np.sort(mu)[::-1], np.sort(np.linalg.eigvalsh(k / 20))[::-1], atol=1e-10)
    lams = np.logspace(-9, 2, 30)  # below ~1e-12 the numerically-zero eigenvalues count
    r = [kcover.effective_dimension(mu, lam) for lam in lams]
    assert np.all(np.diff(r) <= 1e-9)
    assert r[0] == pytest.approx(5.0, abs=1e-3)


def test_tail_energy_is_the_residual_outside_the_top_eigenspace(x64):
    k = psd(4, n=15)
    vals, vecs = np.linalg.eigh(k)
    vecs = vecs[:, ::-1]
    y = np.random.default_rng(5).normal(size=(15, 2))
    for kk in (0, 3, 15):
        u = vecs[:, :kk]
        ref = np.sum((y - u @ (u.T @ y)) ** 2) / 15
        assert kcover.tail_energy(k, y, kk) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert kcover.tail_energy(k, y, 15) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("centered", [False, True])
def test_feature_alignment_equals_dense_alignment(centered, x64):
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(37, 3)), rng.normal(size=(37, 5))
    k1, k2 = ref_gram(a, a, "rbf", kcover.median_bandwidth(a)), ref_gram(b, b, "cosine")
    dense = kcover.centered_alignment(k1, k2) if centered else kcover.alignment(k1, k2)
    got = kcover.feature_alignment(a, b, kernel1="rbf", kernel2="cosine", centered=centered, block=8)
    assert got == pytest.approx(dense, rel=1e-10)


def test_spectral_bad_input():
    with pytest.raises(ValueError, match="gram: must be square"):
        kcover.gram_eigenvalues(np.ones((3, 4)))
    with pytest.raises(ValueError, match="k2: shape"):
        kcover.alignment(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="k: must be an integer in"):
        kcover.tail_energy(np.eye(3), np.ones(3), 5)
    with pytest.raises(ValueError, match="lam: must be positive"):
        kcover.effective_dimension(np.ones(3), 0.0)
    with pytest.raises(ValueError, match="x2: has 4 rows"):
        kcover.feature_alignment(np.ones((3, 2)), np.ones((4, 2)))


def test_tail_energy_compiles_once_for_every_k():
    from _jaxtools import count_compiles

    k = psd(7, n=10)
    y = np.random.default_rng(8).normal(size=10)
    kcover.tail_energy(k, y, 1)
    with count_compiles() as compiles:
        vals = [kcover.tail_energy(k, y, kk) for kk in range(2, 10)]
    assert compiles == []
    assert np.all(np.diff(vals) <= 1e-6)  # more eigenvectors leave less outside
