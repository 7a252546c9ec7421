"""The alpha knob of section 3 (Fig. 1): e_alpha(x) = (alpha |x|, (1 - alpha) x).

Data. P classes (modes); class j is a *pair* of isolated clusters at +c_j and -c_j in R^d
(c_j ~ N(0, I_d), per-point noise ``noise`` N(0, I_d)), n points per cluster. The task is hard in
the input geometry: the two clusters of a class are as far apart as two points of the data get,
and no linear function of x separates the classes. |x| (elementwise) folds each pair onto one
point, so e_1 makes the task easy and the two clusters of a class one mode.

Selection. Budget k = P (binding: one pick per class is needed). Input FL: greedy facility
location on x (RBF, median-heuristic bandwidth), the same for every alpha. Learner FL: the same
selector on e_alpha(x). Both with :func:`kcover.select`.

Measurement. One fixed probe (:func:`kcover.learn.probe.probe_accuracy`, multinomial logistic
regression, l2 = 1e-3) is fit on e_alpha of each selected subset and scored on fresh draws
(``test_per_cluster`` points per cluster); ADV(alpha) = acc(learner FL) - acc(input FL). The
probe does **not** standardize its columns: standardizing would rescale (alpha |x|, (1 - alpha) x)
to the same features for every 0 < alpha < 1 and erase the knob. At alpha = 0 the two
geometries coincide, so both selections and ADV are exactly 0.

Eq. 1 in accuracy units: if the probe is right on covered classes and wrong on the others,
acc = covered / P, so ADV = (covered_K - covered_in) / P; this is ``adv_eq1``.

``adv_own`` is a diagnostic, not the spec: the input arm's probe is fit on x (the input
geometry's own features) instead of e_alpha. It is there because it, not the spec, comes close
to the paper's +0.94 (see the command's summary).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from tqdm import tqdm

from kcover.learn.probe import probe_accuracy
from kcover.selection.entry import select


def embed(x: np.ndarray, alpha: float) -> np.ndarray:
    """e_alpha(x) = (alpha |x|, (1 - alpha) x): (n, 2d) float32 for x (n, d)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: must lie in [0, 1], got {alpha}")
    return np.concatenate([alpha * np.abs(x), (1.0 - alpha) * x], axis=1).astype(np.float32)


def make_pairs(
    classes: int = 16, dim: int = 16, *, n: int = 10, noise: float = 0.1, test_per_cluster: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pool x (2 P n, d), labels y (2 P n,), and fresh test draws x_test, y_test (2 P t, d)."""
    for name, v in (("classes", classes), ("dim", dim), ("n", n), ("test_per_cluster", test_per_cluster)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}: must be a positive integer, got {v!r}")
    if not noise >= 0:
        raise ValueError(f"noise: must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat(np.arange(classes), 2 * m)
        sign = np.tile(np.repeat([1.0, -1.0], m), classes)
        x = sign[:, None] * centres[y] + noise * rng.normal(size=(y.shape[0], dim))
        return x.astype(np.float32), y

    x, y = draw(n)
    xt, yt = draw(test_per_cluster)
    return x, y, xt, yt


class KnobRun(NamedTuple):
    """Per (seed, alpha) results, each (seeds, len(alphas))."""

    alphas: np.ndarray
    adv: np.ndarray
    acc_learner: np.ndarray
    acc_input: np.ndarray
    covered_learner: np.ndarray
    covered_input: np.ndarray
    adv_eq1: np.ndarray
    adv_own: np.ndarray


def knob_sweep(
    alphas: Any = None,
    seeds: int = 5,
    *,
    classes: int = 16,
    dim: int = 16,
    n: int = 10,
    noise: float = 0.1,
    test_per_cluster: int = 20,
    l2: float = 1e-3,
    progress: bool = False,
) -> KnobRun:
    """Sweep alpha (default 11 points on [0, 1]) over ``seeds`` data sets; budget k = classes."""
    alphas = np.linspace(0.0, 1.0, 11) if alphas is None else np.asarray(alphas, np.float64)
    if alphas.ndim != 1 or alphas.size == 0 or (alphas < 0).any() or (alphas > 1).any():
        raise ValueError(f"alphas: must be values in [0, 1], got {alphas}")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ValueError(f"seeds: must be a positive integer, got {seeds!r}")
    shape = (seeds, alphas.size)
    out = {
        k: np.zeros(shape) for k in ("adv", "acc_learner", "acc_input", "covered_learner", "covered_input", "adv_own")
    }
    bar = tqdm(total=seeds * alphas.size, desc="theory knob", disable=not progress, leave=False)
    for s in range(seeds):
        x, y, xt, yt = make_pairs(classes, dim, n=n, noise=noise, test_per_cluster=test_per_cluster, seed=s)
        pick_in = select(x, classes, method="lazy", kernel="rbf").indices
        own = probe_accuracy(x[pick_in], y[pick_in], xt, yt, num_classes=classes, l2=l2, standardize=False)
        for i, a in enumerate(alphas):
            ex, ext = embed(x, a), embed(xt, a)
            pick_k = select(ex, classes, method="lazy", kernel="rbf").indices
            acc_k = probe_accuracy(ex[pick_k], y[pick_k], ext, yt, num_classes=classes, l2=l2, standardize=False)
            acc_i = probe_accuracy(ex[pick_in], y[pick_in], ext, yt, num_classes=classes, l2=l2, standardize=False)
            out["acc_learner"][s, i], out["acc_input"][s, i] = acc_k, acc_i
            out["adv"][s, i] = acc_k - acc_i
            out["adv_own"][s, i] = acc_k - own
            out["covered_learner"][s, i] = np.unique(y[pick_k]).size
            out["covered_input"][s, i] = np.unique(y[pick_in]).size
            bar.update()
    bar.close()
    eq1 = (out["covered_learner"] - out["covered_input"]) / classes
    return KnobRun(
        alphas,
        out["adv"],
        out["acc_learner"],
        out["acc_input"],
        out["covered_learner"],
        out["covered_input"],
        eq1,
        out["adv_own"],
    )
