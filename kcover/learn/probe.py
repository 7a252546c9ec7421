"""A linear probe: multinomial logistic regression on a feature matrix, fit by L-BFGS.

The probe is the fixed learner of the paper's experiments (sections 4 and 5): it scores how
much label information a geometry carries (the full-budget probe, condition B) and how good a
selected subset is (the probe fit on the subset, scored on held-out data).

Objective, for features x (n, d) standardized to z = (x - mean) / scale, labels y in
[0, C), and sample weights s (default ones)::

    L(W, b) = sum_i s_i * CE(softmax(z_i W + b), y_i) / sum_i s_i  +  (l2 / 2) (||W||^2 + ||b||^2)

The bias is penalized too, so the problem is strictly convex for l2 > 0 and a class that is
absent from the training set keeps a finite (low) bias instead of drifting to -inf. ``mean``
and ``scale`` are the weighted mean and standard deviation of the training rows; a column whose
standard deviation is below 1e-6 of the largest gets scale 1.

Optimization is full batch: optax L-BFGS with a backtracking (Armijo) line search (it
compiles in about half the time of the zoom line search; for l2 > 0 the objective is strictly
convex, so every curvature pair is positive), inside one jitted ``lax.while_loop`` that stops
when ||grad|| < ``tol``, when an iteration no longer lowers the objective (float32 round-off:
L-BFGS has stalled), or after ``steps`` iterations. Shapes are static: ``num_classes`` is a
compile-time constant, and callers fitting many small subsets pad them to one size with zero
sample weights (zero weight means padding). Deterministic for a given ``seed``, which seeds the
small random initial weights; converged fits agree across seeds to the tolerance.
Time O(iterations * n d C), memory O(n d).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from kcover import checks
from kcover.labels import class_ids

_INIT_SCALE = 1e-3


class Probe(NamedTuple):
    """A fitted probe (a pytree): weights (d, C), bias (C,), mean (d,), scale (d,)."""

    weights: jax.Array
    bias: jax.Array
    mean: jax.Array
    scale: jax.Array


def labels_array(y: Any, n: int | None, name: str, num_classes: int | None = None) -> np.ndarray:
    """Return ``y`` as non-negative int32 class ids (n,), or raise naming ``name`` (:func:`kcover.labels.class_ids`)."""
    return class_ids(y, name, n=n, num_classes=num_classes)


def standardizer(x: ArrayLike, s: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """Weighted column mean (d,) and scale (d,) of ``x`` (n, d) under weights ``s`` (n,) summing to 1.

    A column whose standard deviation is below 1e-6 times the largest keeps scale 1. Traceable
    (the probe calls it inside its jitted fit); O(n d).
    """
    x, s = jnp.asarray(x), jnp.asarray(s)
    mean = s @ x
    var = s @ jnp.square(x - mean)
    scale = jnp.sqrt(var)
    ok = scale > 1e-6 * jnp.max(scale)
    return mean, jnp.where(ok, scale, 1.0)


def probe_loss(probe: Probe, x: jax.Array, y: jax.Array, sample_weight: jax.Array, l2: jax.Array) -> jax.Array:
    """The probe objective L(W, b) above on raw features ``x`` (n, d), labels ``y`` (n,)."""
    z = (x - probe.mean) / probe.scale
    logits = z @ probe.weights + probe.bias
    s = sample_weight / jnp.sum(sample_weight)
    ce = -jnp.sum(s * jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0])
    return ce + 0.5 * l2 * (jnp.sum(jnp.square(probe.weights)) + jnp.sum(jnp.square(probe.bias)))


@functools.partial(jax.jit, static_argnames=("num_classes", "standardize"))
def _fit(
    x: jax.Array,
    y: jax.Array,
    sample_weight: jax.Array,
    l2: jax.Array,
    steps: jax.Array,
    tol: jax.Array,
    w0: jax.Array,
    *,
    num_classes: int,
    standardize: bool,
) -> tuple[Probe, jax.Array]:
    import optax  # here, not at the top: every command and every import of kcover would pay its import time
    import optax.tree_utils as otu

    n, d = x.shape
    s = sample_weight / jnp.sum(sample_weight)
    if standardize:
        mean, scale = standardizer(x, s)
    else:
        mean, scale = jnp.zeros(d, x.dtype), jnp.ones(d, x.dtype)
    z = (x - mean) / scale
    onehot = jax.nn.one_hot(y, num_classes, dtype=x.dtype)

    def unflatten(p):
        return p[: d * num_classes].reshape(d, num_classes), p[d * num_classes :]

    def fun(p):
        w, b = unflatten(p)
        logp = jax.nn.log_softmax(z @ w + b)
        return -jnp.sum(s * jnp.sum(onehot * logp, axis=1)) + 0.5 * l2 * jnp.sum(jnp.square(p))

    opt = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=30, store_grad=True))
    value_and_grad = optax.value_and_grad_from_state(fun)

    def step(carry):
        p, state, _ = carry
        value, grad = value_and_grad(p, state=state)
        updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=fun)
        return optax.apply_updates(p, updates), state, value

    def going(carry):
        _, state, before = carry
        count = otu.tree_get(state, "count")
        err = otu.tree_norm(otu.tree_get(state, "grad"))
        now = otu.tree_get(state, "value")
        stalled = (count > 1) & (now >= before)
        return (count == 0) | ((count < steps) & (err >= tol) & ~stalled)

    p0 = jnp.concatenate([w0.ravel(), jnp.zeros(num_classes, x.dtype)])
    p, state, _ = jax.lax.while_loop(going, step, (p0, opt.init(p0), jnp.asarray(jnp.inf, x.dtype)))
    w, b = unflatten(p)
    return Probe(w, b, mean, scale), otu.tree_get(state, "count")


def fit_probe(
    x: Any,
    y: Any,
    *,
    num_classes: int | None = None,
    l2: float = 1e-3,
    steps: int = 500,
    tol: float = 1e-5,
    seed: int = 0,
    standardize: bool = True,
    sample_weight: Any = None,
) -> Probe:
    """Fit the probe on features ``x`` (n, d) and integer labels ``y`` (n,).

    Args:
      x: (n, d) training features (float32 by default; float64 kept under ``jax.enable_x64``).
      y: (n,) class ids in [0, num_classes).
      num_classes: C; default max(y) + 1. Give it when some classes are absent from ``y`` (a
        small selected subset) so that the probe still has C outputs.
      l2: ridge penalty on weights and bias (> 0 keeps the problem strictly convex).
      steps: most L-BFGS iterations. tol: stop when the gradient norm falls below it.
      seed: seeds the initial weights, N(0, 1e-3^2) drawn with numpy.
      standardize: center and scale columns with the (weighted) training statistics.
      sample_weight: (n,) non-negative weights, default ones; zero marks a padding row.

    Returns:
      a :class:`Probe`: weights (d, C), bias (C,), mean (d,), scale (d,).
    """
    xa = checks.features(x, "x")
    if xa.dtype != np.float64:
        xa = xa.astype(np.float32)
    ya = labels_array(y, xa.shape[0], "y", num_classes)
    c = int(ya.max()) + 1 if num_classes is None else int(num_classes)
    if c < 1:
        raise ValueError(f"num_classes: must be positive, got {num_classes}")
    sw = checks.weights(sample_weight, xa.shape[0], "sample_weight")
    if not sw.sum() > 0:
        raise ValueError("sample_weight: all weights are zero")
    if not l2 >= 0 or not np.isfinite(l2):
        raise ValueError(f"l2: must be >= 0 and finite, got {l2}")
    steps = checks.positive_int(steps, "steps")
    dt = jnp.asarray(xa).dtype
    w0 = _INIT_SCALE * np.random.default_rng(seed).standard_normal((xa.shape[1], c))
    probe, _ = _fit(
        jnp.asarray(xa),
        jnp.asarray(ya),
        jnp.asarray(sw, dt),
        jnp.asarray(l2, dt),
        jnp.asarray(steps, jnp.int32),
        jnp.asarray(tol, dt),
        jnp.asarray(w0, dt),
        num_classes=c,
        standardize=bool(standardize),
    )
    return probe


@jax.jit
def _predict(probe: Probe, x: jax.Array) -> jax.Array:
    return jnp.argmax(((x - probe.mean) / probe.scale) @ probe.weights + probe.bias, axis=1)


def predict_probe(probe: Probe, x: Any) -> np.ndarray:
    """Predicted class ids (m,) int for features ``x`` (m, d)."""
    xa = checks.features(x, "x")
    if xa.shape[1] != probe.weights.shape[0]:
        raise ValueError(f"x: has {xa.shape[1]} columns but the probe was fit on {probe.weights.shape[0]}")
    return np.asarray(_predict(probe, jnp.asarray(xa, probe.weights.dtype))).astype(np.int64)


def probe_accuracy(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    *,
    num_classes: int | None = None,
    l2: float = 1e-3,
    seed: int = 0,
    steps: int = 500,
    tol: float = 1e-5,
    standardize: bool = True,
    sample_weight: Any = None,
) -> float:
    """Fit on (x_train (n, d), y_train (n,)), return accuracy on (x_test (m, d), y_test (m,)).

    ``num_classes`` defaults to 1 + the largest id in either label array.
    """
    xtr = checks.features(x_train, "x_train")
    xte = checks.features(x_test, "x_test")
    checks.same_width(xtr, xte, "x_train", "x_test")
    ytr = labels_array(y_train, xtr.shape[0], "y_train", num_classes)
    yte = labels_array(y_test, xte.shape[0], "y_test", num_classes)
    c = max(int(ytr.max()), int(yte.max())) + 1 if num_classes is None else int(num_classes)
    fit = functools.partial(fit_probe, l2=l2, steps=steps, tol=tol, seed=seed)  # the optimiser's settings
    probe = fit(xtr, ytr, num_classes=c, standardize=standardize, sample_weight=sample_weight)
    return float(np.mean(predict_probe(probe, xte) == yte))
