"""The linear probe against a float64 scipy reference, tiny and padded training sets, errors."""

import time

import jax
import numpy as np
import pytest
import scipy.optimize

from _jaxtools import count_compiles
from kcover.learn.probe import Probe, _fit, fit_probe, predict_probe, probe_accuracy

N, D, C = 120, 6, 3


def blobs(n=N, d=D, c=C, sep=1.2, seed=0):
    centers = np.random.default_rng(0).normal(size=(c, d))  # the same classes for every seed
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(c, size=n)
    x = centers[y] * sep + rng.normal(size=(n, d)) + 3.0  # offset: standardization matters
    return x, y


def reference_fit(x, y, c, l2, sample_weight=None):
    """Float64 minimizer of the documented objective (scipy L-BFGS-B, tight tolerances)."""
    x = np.asarray(x, np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    s = s / s.sum()
    mean = s @ x
    scale = np.sqrt(s @ (x - mean) ** 2)
    z = (x - mean) / scale
    onehot = np.eye(c)[y]
    d = x.shape[1]

    def f(p):
        w, b = p[: d * c].reshape(d, c), p[d * c :]
        logits = z @ w + b
        logits = logits - logits.max(1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        g = s[:, None] * (np.exp(logp) - onehot)
        val = -np.sum(s * (onehot * logp).sum(1)) + 0.5 * l2 * p @ p
        return val, np.concatenate([(z.T @ g).ravel(), g.sum(0)]) + l2 * p

    res = scipy.optimize.minimize(
        f, np.zeros(d * c + c), jac=True, method="L-BFGS-B", options=dict(maxiter=50_000, gtol=1e-13, ftol=1e-16)
    )
    return res.x[: d * c].reshape(d, c), res.x[d * c :], f, mean, scale


def flat(probe: Probe) -> np.ndarray:
    return np.concatenate([np.asarray(probe.weights, np.float64).ravel(), np.asarray(probe.bias, np.float64)])


def test_float32_fit_matches_float64_reference():
    x, y = blobs()
    l2 = 1e-2
    w_ref, b_ref, f, mean, scale = reference_fit(x, y, C, l2)
    probe = fit_probe(x.astype(np.float32), y, num_classes=C, l2=l2)
    assert probe.weights.dtype == np.float32
    np.testing.assert_allclose(np.asarray(probe.mean), mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(probe.scale), scale, rtol=1e-5)
    f_ref, f_ours = f(np.concatenate([w_ref.ravel(), b_ref]))[0], f(flat(probe))[0]
    assert abs(f_ours - f_ref) <= 1e-6 * f_ref  # objective
    assert np.linalg.norm(flat(probe) - np.concatenate([w_ref.ravel(), b_ref])) <= 1e-3 * np.linalg.norm(w_ref)
    x_test, _ = blobs(seed=1)
    z = (x_test - mean) / scale
    np.testing.assert_array_equal(predict_probe(probe, x_test), np.argmax(z @ w_ref + b_ref, axis=1))


def test_float64_fit_matches_reference_tightly(x64):
    x, y = blobs()
    l2 = 1e-2
    w_ref, b_ref, f, _, _ = reference_fit(x, y, C, l2)
    probe = fit_probe(x.astype(np.float64), y, num_classes=C, l2=l2, tol=1e-10, steps=2000)
    assert probe.weights.dtype == np.float64
    assert abs(f(flat(probe))[0] - f(np.concatenate([w_ref.ravel(), b_ref]))[0]) <= 1e-10
    np.testing.assert_allclose(flat(probe), np.concatenate([w_ref.ravel(), b_ref]), rtol=1e-5, atol=1e-6)


def test_zero_weight_rows_are_padding():
    x, y = blobs()
    keep = 90
    w_ref, b_ref, *_ = reference_fit(x[:keep], y[:keep], C, 1e-2)
    junk = x.copy()
    junk[keep:] = 1e3  # padding content must not matter
    weight = np.r_[np.ones(keep), np.zeros(N - keep)]
    probe = fit_probe(junk.astype(np.float32), y, num_classes=C, l2=1e-2, sample_weight=weight)
    np.testing.assert_allclose(flat(probe), np.concatenate([w_ref.ravel(), b_ref]), rtol=1e-2, atol=2e-3)


def test_one_point_per_class_with_absent_classes_is_deterministic():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 16)).astype(np.float32)
    y = np.array([0, 2, 4])  # classes 1 and 3 absent
    a = fit_probe(x, y, num_classes=5, seed=7)
    b = fit_probe(x, y, num_classes=5, seed=7)
    assert a.weights.shape == (16, 5) and a.bias.shape == (5,)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert np.all(np.isfinite(np.asarray(a.weights))) and np.all(np.isfinite(np.asarray(a.bias)))
    np.testing.assert_array_equal(predict_probe(a, x), y)  # it fits its three points
    bias = np.asarray(a.bias)
    assert bias[[1, 3]].max() < bias[[0, 2, 4]].min()  # absent classes are pushed down, not lost


def test_probe_accuracy_on_separable_blobs_and_class_count_default():
    x, y = blobs(sep=6.0)
    xt, yt = blobs(n=50, sep=6.0, seed=1)  # same class centers, fresh points
    assert probe_accuracy(x.astype(np.float32), y, xt, yt, l2=1e-2) == 1.0


def test_same_shapes_do_not_recompile():
    x, y = blobs()
    fit_probe(x.astype(np.float32), y, num_classes=C, l2=1e-2)
    with count_compiles() as compiles:
        fit_probe(x.astype(np.float32) + 1.0, (y + 1) % C, num_classes=C, l2=0.5, seed=3, steps=50)
    assert compiles == []


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x, y: fit_probe(x, y[:-1]), "y"),
        (lambda x, y: fit_probe(x, y, num_classes=2), "y"),
        (lambda x, y: fit_probe(x, y.astype(float) + 0.5), "y"),
        (lambda x, y: fit_probe(np.where(np.arange(N)[:, None] == 5, np.nan, x), y), "x"),
        (lambda x, y: fit_probe(x, y, sample_weight=np.zeros(N)), "sample_weight"),
        (lambda x, y: fit_probe(x, y, l2=-1.0), "l2"),
        (lambda x, y: predict_probe(fit_probe(x, y), x[:, :2]), "x"),
        (lambda x, y: probe_accuracy(x, y, x[:, :3], y), "x_test"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    x, y = blobs()
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(x.astype(np.float32), y)


@pytest.mark.slow
def test_speed_3000_by_4096():
    rng = np.random.default_rng(0)
    c = 20
    y = rng.integers(c, size=3000)
    x = (rng.normal(size=(c, 4096))[y] * 0.05 + rng.normal(size=(3000, 4096))).astype(np.float32)
    fit_probe(x, y, num_classes=c)  # compile
    t0 = time.perf_counter()
    import jax.numpy as jnp

    probe, iters = _fit(
        jnp.asarray(x),
        jnp.asarray(y, jnp.int32),
        jnp.ones(3000, jnp.float32),
        jnp.float32(1e-3),
        jnp.int32(500),
        jnp.float32(1e-5),
        jnp.zeros((4096, c), jnp.float32),
        num_classes=c,
        standardize=True,
    )
    jax.block_until_ready(probe)
    took = time.perf_counter() - t0
    print(f"probe 3000 x 4096, C = {c}: {int(iters)} iterations, {took:.2f} s")
    assert int(iters) < 500  # converged before the step limit (its time is printed, not asserted)
