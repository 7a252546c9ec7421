import numpy as np
import pytest

import kcover
from _reference import gram as ref_gram
from kcover.learn.krr import solve_ridge


def test_vanishing_ridge_is_the_orthogonal_projection(x64):
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(6, 10))  # 6 support points in R^10: span is a 6-d subspace
    w_star = rng.normal(size=(10, 2))
    xt = rng.normal(size=(20, 10))
    model = kcover.krr_fit(xs, xs @ w_star, kernel="linear", lam=1e-12, float64=True)
    q, _ = np.linalg.qr(xs.T)  # orthonormal basis of the span of the support points
    proj = xt @ (q @ q.T) @ w_star
    np.testing.assert_allclose(np.asarray(kcover.krr_predict(model, xt)), proj, rtol=1e-7, atol=1e-9)


def test_fit_matches_float64_solve(x64):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 4))
    model = kcover.krr_fit(x, y, kernel="rbf", bandwidth=1.5, lam=0.1, float64=True, jitter=0.0)
    k = ref_gram(x, x, "rbf", 1.5)
    np.testing.assert_allclose(np.asarray(model.alpha), np.linalg.solve(k + 0.1 * np.eye(30), y), rtol=1e-9)
    xt = rng.normal(size=(8, 3))
    pred = ref_gram(xt, x, "rbf", 1.5) @ np.linalg.solve(k + 0.1 * np.eye(30), y)
    np.testing.assert_allclose(np.asarray(kcover.krr_predict(model, xt)), pred, rtol=1e-9)
    risk = np.mean(np.sum((pred - 1.0) ** 2, 1))
    assert kcover.krr_risk(model, xt, np.ones((8, 4))) == pytest.approx(risk, rel=1e-9)


def test_float32_fit_is_close_to_float64_and_one_hot_labels():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 5)).astype(np.float32)
    y = kcover.one_hot(rng.integers(3, size=50), 3)
    m32 = kcover.krr_fit(x, y, lam=1e-2, bandwidth=2.0)
    m64 = kcover.krr_fit(x, y, lam=1e-2, bandwidth=2.0, float64=True)
    assert m32.alpha.dtype == np.float32
    np.testing.assert_allclose(
        np.asarray(kcover.krr_predict(m32, x)), np.asarray(kcover.krr_predict(m64, x)), atol=2e-3
    )


def test_singular_gram_falls_back_to_a_finite_solution():
    g = np.ones((5, 5), np.float32)  # rank one
    alpha = np.asarray(solve_ridge(g, np.ones((5, 1), np.float32), np.float32(0.0), np.float32(0.0)))
    assert np.isfinite(alpha).all()
    np.testing.assert_allclose(g @ alpha, np.ones((5, 1)), rtol=1e-4)


def test_krr_bad_input():
    with pytest.raises(ValueError, match="y: has 3 rows"):
        kcover.krr_fit(np.ones((4, 2)), np.ones(3))
    with pytest.raises(ValueError, match="lam: must be >= 0"):
        kcover.krr_fit(np.ones((4, 2)), np.ones(4), lam=-1.0)
    with pytest.raises(ValueError, match="labels: must be a 1-d array of integer"):
        kcover.one_hot(np.array([0.5, 1.0]))
    m = kcover.krr_fit(np.eye(3), np.ones(3), kernel="linear")
    with pytest.raises(ValueError, match="x: has 2 columns"):
        kcover.krr_predict(m, np.ones((2, 2)))
