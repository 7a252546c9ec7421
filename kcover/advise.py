"""Should you pay for learner-geometry selection? The paper's a-priori diagnostic.

The advantage of selecting in the learner's geometry over the cheap input geometry is a
*product* of three conditions (paper, section 3, Eq. 2), and is ~0 when any one fails. We
measure each on the data, before selecting anything:

* (A) representation non-locality: the learner kernel differs from the input kernel. Reported:
  the alignment A(K_learner, K_input) and the paper's g = 1 - A, and the centered alignment A_c.
  The verdict uses the misalignment 1 - A_c: uncentered alignment of two rbf kernels is close
  to 1 for almost any pair of views, because every entry is positive.
* (B) non-interpolability in the input geometry: as in section 5 / Table 2, the **gap** =
  held-out accuracy of the probe (:mod:`kcover.probe`) on learner features minus that on input
  features, both trained on the full training split; its standard error is paired over the
  test points.
* (C) a binding budget, per k. The learner kernel's effective dimension r_eff (the paper's
  number of modes; :func:`kcover.effective_dimension` of the Gram eigenvalues with ridge
  ``lam`` times trace(K / m)) and the number of classes C are reported against k. The budget
  binds when both
  (i) k < r_eff ln r_eff: picks made in a geometry blind to the learner's r_eff modes need
  about r ln r of them to cover every mode (coupon collector), past which the paper's wasted
  slots delta(Delta, k) vanish; and
  (ii) the input tail rho_in(k) >= ``tail_threshold`` (0.1): the fraction of the (centered,
  one-hot) label energy outside the top-k eigenspace of the input kernel (the paper's
  rho_tail(k) in the input geometry, :func:`kcover.tail_energy`). When the input kernel's top
  k directions already carry the labels, k input-geometry picks reach them too.

Verdict per budget k (thresholds are arguments):

1. (A) fails, 1 - A_c < ``misalignment_threshold`` (0.1): **do-not-pay**; both selectors cover
   the same structure.
2. (B) large, gap >= ``gap_threshold`` (0.05) and gap > 2 standard errors: **pay** if the budget
   binds, else **borderline** (the advantage shrinks with a loose budget but need not vanish;
   section 4 still saw +0.10 at k = 6C).
3. (B) moderate, neither large nor small: **borderline** if the budget binds, else **do-not-pay**.
4. (B) small, gap < ``gap_threshold`` / 2 (~0 or negative): **do-not-pay**, except
   **borderline** when the budget binds and is extremely tight, k <= 2C: the paper's Amazon-CF
   (gap +0.009) still gained +0.32 at k = 2C, condition (C) in extreme form, which a
   full-budget diagnostic cannot see.

Each verdict carries its reasons in words, naming the conditions that hold and fail.

The realized sweep (``sweep=True``) checks a verdict against reality: for each seed (a fresh
stratified split; the pool is its training part), k_max = max(budgets) points are picked by lazy
facility location in the input geometry and in the learner geometry (same kernels and bandwidths
as above), and uniformly at random. Greedy picks are nested, so the first k are the size-k
selection. The fixed probe, on learner features standardized with pool statistics and padded
to k_max rows with zero weights (one compilation), is fit on each subset and scored on the
held-out part. ADV = acc(learner-FL) - acc(input-FL), mean and spread over seeds.

Cost, for N points, input width d_in, learner width d_l, C classes, m = min(N,
``spectral_points``): two full probes O(iterations N (d_in + d_l) C); (A) and (C) O(m^2 (d_in + d_l)
+ m^3) time and O(m^2) memory; the sweep O(N^2 (d_in + d_l)) once for the two N x N Gram matrices
(8 N^2 bytes; matrix-free above ``dense_limit``), then per seed two greedy runs on slices and
3 |budgets| small probe fits.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from kcover import _checks
from kcover.facility_location import facility_location_dense
from kcover.kernels import KERNELS, Kernel, gram, make_kernel, median_bandwidth
from kcover.probe import _standardizer, fit_probe, predict_probe
from kcover.selection import select
from kcover.spectral import alignment, centered_alignment, effective_dimension

VERDICTS = ("pay", "do-not-pay", "borderline")
SELECTORS = ("input-fl", "learner-fl", "random")


class BudgetAdvice(NamedTuple):
    """The verdict at one budget ``k``; ``reasons`` in words, one condition each."""

    k: int
    per_class: float
    binds: bool
    very_tight: bool
    input_tail: float
    learner_tail: float
    verdict: str
    why: str
    reasons: tuple[str, ...]


class Sweep(NamedTuple):
    """Realized accuracies: ``accuracy`` (selectors, budgets, seeds) on held-out splits."""

    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    selectors: tuple[str, ...]
    accuracy: np.ndarray

    def mean(self, selector: str) -> np.ndarray:
        """Mean accuracy over seeds, (budgets,)."""
        return self.accuracy[self.selectors.index(selector)].mean(axis=1)

    def std(self, selector: str) -> np.ndarray:
        """Standard deviation over seeds, (budgets,)."""
        return self.accuracy[self.selectors.index(selector)].std(axis=1)

    @property
    def advantage(self) -> np.ndarray:
        """ADV = learner-FL - input-FL per budget and seed, (budgets, seeds)."""
        return self.accuracy[self.selectors.index("learner-fl")] - self.accuracy[self.selectors.index("input-fl")]


def _r(x: float, nd: int = 4) -> float:
    return float(round(float(x), nd))


@dataclasses.dataclass(frozen=True)
class Advice:
    """The diagnostic's result. ``to_json()`` is the stable contract; ``summary()`` is for people.

    Attributes: the pool size ``n`` and split sizes; ``classes`` (names, sorted); condition (B):
    ``input_probe_acc``, ``learner_probe_acc``, ``gap`` (learner - input) and its paired
    standard error ``gap_se``; condition (A): ``alignment`` A(K_learner, K_input) (so
    ``alignment_gap`` = g = 1 - A) and ``centered_alignment`` (``misalignment`` = 1 - A_c);
    condition (C): ``r_eff`` (learner kernel) and ``r_eff_input``; ``budgets``, one
    :class:`BudgetAdvice` per k; ``sweep`` (or None); ``settings`` and ``timings`` (seconds).
    """

    n: int
    n_train: int
    n_test: int
    classes: tuple[str, ...]
    input_probe_acc: float
    learner_probe_acc: float
    gap: float
    gap_se: float
    alignment: float
    centered_alignment: float
    r_eff: float
    r_eff_input: float
    budgets: tuple[BudgetAdvice, ...]
    sweep: Sweep | None
    settings: dict
    timings: dict

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def alignment_gap(self) -> float:
        """The paper's misalignment g = 1 - A(K_learner, K_input)."""
        return 1.0 - self.alignment

    @property
    def misalignment(self) -> float:
        """1 - centered alignment, the quantity the verdict thresholds."""
        return 1.0 - self.centered_alignment

    def verdict(self, k: int) -> str:
        """The verdict at budget ``k`` (one of the advised budgets)."""
        for b in self.budgets:
            if b.k == k:
                return b.verdict
        raise ValueError(f"k: {k} is not one of the advised budgets {[b.k for b in self.budgets]}")

    def to_dict(self) -> dict:
        """A JSON-ready dict: the keys documented in the README are stable."""
        budgets = []
        for i, b in enumerate(self.budgets):
            entry = {"k": b.k, "per_class": _r(b.per_class, 3), "binds": b.binds, "very_tight": b.very_tight,
                     "input_tail": _r(b.input_tail), "learner_tail": _r(b.learner_tail),
                     "verdict": b.verdict, "why": b.why, "reasons": list(b.reasons)}
            if self.sweep is not None:
                entry["realized"] = {s: {"mean": _r(self.sweep.mean(s)[i]), "std": _r(self.sweep.std(s)[i])}
                                     for s in self.sweep.selectors}
                adv = self.sweep.advantage[i]
                entry["realized"]["adv"] = {"mean": _r(adv.mean()), "std": _r(adv.std())}
            budgets.append(entry)
        return {
            "n": self.n, "n_train": self.n_train, "n_test": self.n_test,
            "num_classes": self.num_classes, "classes": list(self.classes),
            "input_probe_acc": _r(self.input_probe_acc), "learner_probe_acc": _r(self.learner_probe_acc),
            "gap": _r(self.gap), "gap_se": _r(self.gap_se),
            "alignment": _r(self.alignment), "alignment_gap": _r(self.alignment_gap),
            "centered_alignment": _r(self.centered_alignment), "misalignment": _r(self.misalignment),
            "r_eff": _r(self.r_eff, 2), "r_eff_input": _r(self.r_eff_input, 2),
            "budgets": budgets,
            "sweep": None if self.sweep is None else {
                "budgets": list(self.sweep.budgets), "seeds": list(self.sweep.seeds),
                "selectors": list(self.sweep.selectors),
                "accuracy": np.round(self.sweep.accuracy, 4).tolist(),
            },
            "settings": self.settings,
            "timings": {key: _r(v, 2) for key, v in self.timings.items()},
        }

    def to_json(self, indent: int | None = None) -> str:
        """One JSON object (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self, verbose: bool = False) -> str:
        """A readable report: the three conditions, then a verdict per budget (``verbose``: all reasons)."""
        s = self.settings
        lines = [
            f"kcover advise: {self.n} points, {self.num_classes} classes; held-out split {self.n_train} train / "
            f"{self.n_test} test (seed {s['seeds'][0]})",
            f"(B) full-budget probe accuracy: input {self.input_probe_acc:.3f}, learner {self.learner_probe_acc:.3f}, "
            f"gap {self.gap:+.3f} (se {self.gap_se:.3f})",
            f"(A) kernel alignment A(K_learner, K_input) = {self.alignment:.3f}, g = {self.alignment_gap:.3f}; "
            f"centered alignment {self.centered_alignment:.3f} (misalignment {self.misalignment:.3f})",
            f"(C) effective dimension r_eff: learner {self.r_eff:.1f} "
            f"(r_eff ln r_eff = {budget_limit(self.r_eff):.0f}), "
            f"input {self.r_eff_input:.1f} (lam {s['lam']:g} x trace, on {s['spectral_points']} points); "
            f"{self.num_classes} classes",
            "",
            f"{'budget':>7} {'k/C':>6} {'in-tail':>8}  {'verdict':<11} why",
        ]
        for b in self.budgets:
            lines.append(f"{b.k:>7} {b.per_class:>6.1f} {b.input_tail:>8.2f}  {b.verdict:<11} {b.why}")
            if verbose:
                lines.extend(f"{'':>26}- {r}" for r in b.reasons)
        if self.sweep is not None:
            sw = self.sweep
            lines += ["", f"realized sweep ({len(sw.seeds)} seeds; fixed probe on learner features; mean +- std):",
                      f"{'k':>7}  " + "  ".join(f"{name:>15}" for name in sw.selectors) + f"  {'ADV':>15}"]
            adv = sw.advantage
            for i, k in enumerate(sw.budgets):
                cells = [f"{sw.mean(name)[i]:.3f} +- {sw.std(name)[i]:.3f}" for name in sw.selectors]
                cells.append(f"{adv[i].mean():+.3f} +- {adv[i].std():.3f}")
                lines.append(f"{k:>7}  " + "  ".join(f"{c:>15}" for c in cells))
        return "\n".join(lines)


def encode_labels(labels: Any, n: int, name: str = "labels") -> tuple[np.ndarray, tuple[str, ...]]:
    """Map any 1-d labels (ints, strings) to ids 0..C-1 in sorted order; returns (ids (n,), names)."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name}: has {arr.shape[0]} rows but the features have {n}")
    if arr.dtype == object:
        raise ValueError(f"{name}: must be numbers or strings, got objects")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: contains NaN or inf (first at row {int(np.argmin(np.isfinite(arr)))})")
        if (arr != np.round(arr)).any():
            raise ValueError(f"{name}: are non-integer floats; pass class ids or names")
    classes, ids = np.unique(arr, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"{name}: has only {classes.size} class; need at least 2")
    names = tuple(str(c.item() if hasattr(c, "item") else c) for c in classes)
    return ids.astype(np.int32).reshape(-1), names


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of ids (n,) into sorted (train, test) indices.

    Each class with n_c >= 2 points puts clip(round(test_fraction n_c), 1, n_c - 1) of them in
    test; a class with one point stays in train.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        m = 0 if idx.size < 2 else int(np.clip(round(test_fraction * idx.size), 1, idx.size - 1))
        test.append(idx[:m])
        train.append(idx[m:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def default_budgets(num_classes: int, available: int) -> tuple[int, ...]:
    """C, 2C, 4C, 8C, capped by ``available`` (deduplicated)."""
    return tuple(sorted({min(m * num_classes, available) for m in (1, 2, 4, 8)}))


def _budgets(budgets: Any, num_classes: int, available: int) -> tuple[int, ...]:
    if budgets is None:
        return default_budgets(num_classes, available)
    vals = [budgets] if isinstance(budgets, (int, np.integer)) else list(budgets)
    if not vals:
        raise ValueError("budgets: is empty")
    out = []
    for b in vals:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
            raise ValueError(f"budgets: must be integers, got {b!r}")
        if not 1 <= b <= available:
            raise ValueError(f"budgets: {int(b)} is out of range; the training pool has {available} points "
                             f"(budgets must lie in [1, {available}])")
        out.append(int(b))
    return tuple(sorted(set(out)))


def _seeds(seeds: Any) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds: must be a positive count or a list of seeds, got {seeds}")
        return tuple(range(int(seeds)))
    vals = tuple(int(s) for s in seeds)
    if not vals:
        raise ValueError("seeds: is empty")
    return vals


def budget_limit(r_eff: float) -> float:
    """r_eff * max(1, ln r_eff): picks blind to r equal modes need about r ln r to cover them all."""
    return float(r_eff * max(1.0, np.log(max(r_eff, 1.0))))


def _verdict(k: int, c: int, gap: float, se: float, misalign: float, r_eff: float, r_in: float,
             input_tail: float, learner_tail: float, gap_threshold: float, misalignment_threshold: float,
             tail_threshold: float) -> BudgetAdvice:
    limit = budget_limit(r_eff)
    below = k < limit
    reach = input_tail >= tail_threshold
    binds = below and reach
    very_tight = k <= 2 * c
    if gap >= gap_threshold and gap > 2 * se:
        b_state = "large"
        b_text = (f"(B) holds: the learner probe beats the input probe by {gap:+.3f} (se {se:.3f}) at full budget, "
                  "so the input geometry misses label structure the learner sees")
    elif gap < gap_threshold / 2:
        b_state = "small"
        b_text = (f"(B) fails: gap {gap:+.3f} (se {se:.3f}) is below {gap_threshold / 2:.3f}, i.e. ~0 or negative; "
                  "the labels are already readable from the input features")
    else:
        b_state = "moderate"
        b_text = (f"(B) is uncertain: gap {gap:+.3f} (se {se:.3f}) is positive but below the {gap_threshold:.2f} "
                  "threshold or within two standard errors")
    a_ok = misalign >= misalignment_threshold
    a_text = (f"(A) holds: the kernels differ (centered alignment {1 - misalign:.3f}, misalignment {misalign:.3f})"
              if a_ok else
              f"(A) fails: the two kernels nearly agree (misalignment {misalign:.3f} < {misalignment_threshold:.2f}), "
              "so both selectors cover the same structure")
    tails = (f"the input kernel's top-{k} eigenspace leaves {input_tail:.0%} of the label energy out "
             f"(learner's: {learner_tail:.0%})")
    if binds:
        c_text = (f"(C) holds: k = {k} < r_eff ln r_eff = {limit:.0f} (learner r_eff {r_eff:.1f}; picks blind to its "
                  f"modes need about that many to cover them), and {tails}")
    elif not below:
        c_text = (f"(C) fails: k = {k} >= r_eff ln r_eff = {limit:.0f} (learner r_eff {r_eff:.1f}, input {r_in:.1f}); "
                  "even picks blind to the learner's modes cover them, and the advantage shrinks")
    else:
        c_text = (f"(C) fails: {tails}, below {tail_threshold:.0%}; k points in the input geometry already "
                  "reach the labels")
    reasons = [b_text, a_text, c_text]
    b_short = {"large": "gap large (B)", "moderate": "gap uncertain (B)", "small": "gap ~0 (B fails)"}[b_state]
    a_short = "kernels differ (A)" if a_ok else "kernels agree (A fails)"
    c_short = "budget binds (C)" if binds else ("k >= r_eff ln r_eff (C fails)" if not below
                                                 else "input top-k reaches labels (C fails)")
    why = f"{b_short}, {a_short}, {c_short}"
    if not a_ok:
        verdict = "do-not-pay"
    elif b_state == "large":
        verdict = "pay" if binds else "borderline"
    elif b_state == "moderate":
        verdict = "borderline" if binds else "do-not-pay"
    elif binds and very_tight:
        verdict = "borderline"
        why += "; but k <= 2C is extremely tight (Amazon-CF caveat)"
        reasons.append(f"k = {k} <= 2 x {c} classes is an extremely tight budget: the paper's Amazon-CF "
                       "(gap +0.009) still gained +0.32 at k = 2C, so run the realized sweep (--sweep) to check")
    else:
        verdict = "do-not-pay"
    return BudgetAdvice(k, k / c, bool(binds), bool(very_tight), float(input_tail), float(learner_tail), verdict,
                        why, tuple(reasons))


@jax.jit
def _label_spectrum(g: jax.Array, yc: jax.Array) -> tuple[jax.Array, jax.Array]:
    vals, vecs = jnp.linalg.eigh((g + g.T) / 2)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    return vals / g.shape[0], jnp.sum(jnp.square(vecs.T @ yc), axis=1)


def label_tails(g: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of g / m (m,) descending, and tails (m + 1,): tails[k] = rho_tail(k) / rho_tail(0).

    rho_tail(k) = (1/m) ||(I - U_k U_k^T) Y||^2 for the centered one-hot labels Y (m, C) of the
    rows of ``g`` (m, m), as :func:`kcover.tail_energy`, for every k from one jitted
    eigendecomposition (float32 unless x64 is enabled). Time O(m^3), memory O(m^2).
    """
    yc = np.eye(num_classes)[y]
    yc = yc - yc.mean(axis=0)
    dt = jax.dtypes.canonicalize_dtype(np.asarray(g).dtype)  # float32 unless x64 is enabled
    vals, energy = (np.asarray(a, np.float64) for a in _label_spectrum(jnp.asarray(g, dt), jnp.asarray(yc, dt)))
    # tails as suffix sums of the label energy on each eigenvector, not 1 - prefix sums: a small
    # tail keeps its relative accuracy, and tails[m] is exactly 0 (no cancellation in float32)
    suffix = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])
    if suffix[0] <= 0.0:  # constant labels: nothing to explain, every tail is the whole (zero) energy
        return vals, np.ones_like(suffix)
    return vals, suffix / suffix[0]


def _pad_fit_predict(e_pool, y_pool, picks, k_max, e_test, c, l2, seed) -> np.ndarray:
    k = picks.size
    rows = np.concatenate([picks, np.full(k_max - k, picks[0], picks.dtype)])
    weight = np.concatenate([np.ones(k, np.float32), np.zeros(k_max - k, np.float32)])
    probe = fit_probe(e_pool[rows], y_pool[rows], num_classes=c, l2=l2, seed=seed, standardize=False,
                      sample_weight=weight)
    return predict_probe(probe, e_test)


def advise(
    input_features: Any,
    learner_features: Any,
    labels: Any,
    budgets: Sequence[int] | int | None = None,
    *,
    test_fraction: float = 0.25,
    seeds: int | Sequence[int] = 3,
    sweep: bool = False,
    input_kernel: str = "rbf",
    learner_kernel: str = "rbf",
    l2: float = 1e-3,
    lam: float = 1e-2,
    spectral_points: int = 1000,
    dense_limit: int = 8000,
    gap_threshold: float = 0.05,
    misalignment_threshold: float = 0.1,
    tail_threshold: float = 0.1,
    progress: bool = True,
) -> Advice:
    """Measure conditions (A), (B), (C) and give a verdict per budget; optionally realize it.

    Args:
      input_features: (N, d_in) the cheap geometry (pixels, n-gram hashes).
      learner_features: (N, d_l) the learner's geometry (embeddings, gradients), same rows.
      labels: (N,) class labels, any ints or strings (mapped to 0..C-1 in sorted order).
      budgets: the k to advise on, each in [1, N_train]; default C, 2C, 4C, 8C capped by N_train.
      test_fraction: held-out share of each class for the probes.
      seeds: number of seeds (0..seeds-1) or the seeds; the first seeds the diagnostic's split
        and the spectral subsample, each seeds one split of the sweep.
      sweep: also run input-FL vs learner-FL vs random at the budgets (see the module docstring).
      input_kernel, learner_kernel: "rbf" (median-heuristic bandwidth), "cosine" or "linear";
        used for alignment, r_eff and the sweep's selection.
      l2: the probe's ridge penalty. lam: ridge for r_eff, relative to trace(K / n).
      spectral_points: rows (seeded subsample) on which the Gram matrices for (A) and (C), and the
        rbf median-heuristic bandwidths, are computed.
      dense_limit: with ``sweep`` and N <= dense_limit, both N x N Gram matrices are formed once
        (4 N^2 bytes each) and every seed selects from slices of them; above it, selection is
        matrix-free (:func:`kcover.select`), recomputing similarities per seed.
      gap_threshold, misalignment_threshold, tail_threshold: the verdict's thresholds (module
        docstring).
      progress: a tqdm bar on stderr for the sweep.

    Returns:
      an :class:`Advice`.
    """
    t_start = time.perf_counter()
    x_in = _checks.features(input_features, "input_features", dtype=np.float32)
    x_l = _checks.features(learner_features, "learner_features", dtype=np.float32)
    n = x_in.shape[0]
    if x_l.shape[0] != n:
        raise ValueError(f"learner_features: has {x_l.shape[0]} rows but input_features has {n}")
    y, classes = encode_labels(labels, n)
    c = len(classes)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: must lie in (0, 1), got {test_fraction}")
    _checks.choice(input_kernel, KERNELS, "input_kernel")
    _checks.choice(learner_kernel, KERNELS, "learner_kernel")
    seeds = _seeds(seeds)
    spectral_points = _checks.budget(spectral_points, 1 << 30, "spectral_points")
    train, test = stratified_split(y, test_fraction, seeds[0])
    if test.size == 0:
        raise ValueError("labels: every class has a single point, so there is nothing to hold out")
    budgets = _budgets(budgets, c, train.size)
    timings = {}

    # (B): full-budget probes on the same split, paired per test point.
    t0 = time.perf_counter()
    right = []
    for x in (x_in, x_l):
        probe = fit_probe(x[train], y[train], num_classes=c, l2=l2, seed=seeds[0])
        right.append(predict_probe(probe, x[test]) == y[test])
    acc_in, acc_l = float(right[0].mean()), float(right[1].mean())
    diff = right[1].astype(np.float64) - right[0].astype(np.float64)
    gap_se = float(diff.std() / np.sqrt(diff.size))
    timings["probes_s"] = time.perf_counter() - t0

    # (A) and (C): Gram matrices on a seeded subsample, kernels fixed for the whole run.
    t0 = time.perf_counter()
    k_in = _kernel(input_kernel, x_in, spectral_points, seeds[0])
    k_l = _kernel(learner_kernel, x_l, spectral_points, seeds[0])
    m = min(n, spectral_points)
    rows = np.sort(np.random.default_rng(seeds[0]).choice(n, m, replace=False))
    full = None
    if sweep and n <= dense_limit:  # the sweep needs every pool similarity; the spectral block is a slice
        full = (np.asarray(gram(x_in, kernel=k_in)), np.asarray(gram(x_l, kernel=k_l)))
        g_in, g_l = (np.asarray(g[np.ix_(rows, rows)], np.float64) for g in full)
    else:
        g_in = np.asarray(gram(x_in[rows], kernel=k_in), np.float64)
        g_l = np.asarray(gram(x_l[rows], kernel=k_l), np.float64)
    align, calign = alignment(g_l, g_in), centered_alignment(g_l, g_in)

    (mu_l, tail_l), (mu_in, tail_in) = label_tails(g_l, y[rows], c), label_tails(g_in, y[rows], c)
    r_l = effective_dimension(mu_l, lam * max(float(mu_l.sum()), 1e-30))
    r_in = effective_dimension(mu_in, lam * max(float(mu_in.sum()), 1e-30))
    timings["spectral_s"] = time.perf_counter() - t0

    verdicts = tuple(_verdict(k, c, acc_l - acc_in, gap_se, 1.0 - calign, r_l, r_in, tail_in[min(k, m)],
                              tail_l[min(k, m)], gap_threshold, misalignment_threshold, tail_threshold)
                     for k in budgets)

    result_sweep = None
    if sweep:
        t0 = time.perf_counter()
        result_sweep = _sweep(x_in, x_l, y, c, budgets, seeds, test_fraction, (k_in, k_l), full, l2, progress)
        timings["sweep_s"] = time.perf_counter() - t0
        verdicts = tuple(_with_realized(v, result_sweep, i) for i, v in enumerate(verdicts))
    timings["total_s"] = time.perf_counter() - t_start
    settings = {"test_fraction": test_fraction, "seeds": list(seeds), "input_kernel": input_kernel,
                "learner_kernel": learner_kernel, "l2": l2, "lam": lam, "spectral_points": m,
                "gap_threshold": gap_threshold, "misalignment_threshold": misalignment_threshold,
                "tail_threshold": tail_threshold}
    return Advice(n, int(train.size), int(test.size), classes, acc_in, acc_l, acc_l - acc_in, gap_se, align,
                  calign, r_l, r_in, verdicts, result_sweep, settings, timings)


def _with_realized(v: BudgetAdvice, sw: Sweep, i: int) -> BudgetAdvice:
    adv = sw.advantage[i]
    text = (f"realized: learner-FL {sw.mean('learner-fl')[i]:.3f} vs input-FL {sw.mean('input-fl')[i]:.3f} "
            f"(random {sw.mean('random')[i]:.3f}), ADV {adv.mean():+.3f} +- {adv.std():.3f} over {adv.size} seeds")
    return v._replace(reasons=v.reasons + (text,))


def _kernel(name: str, x: np.ndarray, points: int, seed: int) -> Kernel:
    """The named kernel; rbf with the median heuristic on a seeded subsample of ``points`` rows."""
    if name == "rbf":
        return make_kernel("rbf", median_bandwidth(x, max_points=points, seed=seed))
    return make_kernel(name)


def _fl_picks(x: np.ndarray, kernel: Kernel, full: np.ndarray | None, pool: np.ndarray, k: int) -> np.ndarray:
    """Lazy facility-location picks (k,) from the rows ``pool`` of ``x``, covering the pool."""
    if full is not None:
        return facility_location_dense(full[np.ix_(pool, pool)], k, method="lazy", floor=kernel.floor).indices
    return select(x[pool], k, method="lazy", kernel=kernel).indices


def _sweep(x_in, x_l, y, c, budgets, seeds, test_fraction, kernels, full, l2, progress) -> Sweep:
    from tqdm.auto import tqdm

    k_max = max(budgets)
    acc = np.zeros((len(SELECTORS), len(budgets), len(seeds)))
    bar = tqdm(total=len(seeds) * len(SELECTORS), desc="kcover sweep", file=sys.stderr, disable=not progress,
               leave=False)
    try:
        for j, seed in enumerate(seeds):
            train, test = stratified_split(y, test_fraction, seed)
            if k_max > train.size:
                raise ValueError(f"budgets: {k_max} exceeds the {train.size} training points of seed {seed}")
            e_pool = x_l[train]
            mean, scale = (np.asarray(a) for a in _standardizer(e_pool, np.full(train.size, 1.0 / train.size,
                                                                                   np.float32)))
            e_pool = (e_pool - mean) / scale
            e_test = (x_l[test] - mean) / scale
            for s, name in enumerate(SELECTORS):
                bar.set_postfix_str(f"seed {seed}, {name}")
                if name in ("input-fl", "learner-fl"):
                    v = 0 if name == "input-fl" else 1
                    try:
                        picks = _fl_picks((x_in, x_l)[v], kernels[v], None if full is None else full[v], train, k_max)
                    except ValueError as err:  # e.g. negative linear similarities
                        raise ValueError(f"{('input_kernel', 'learner_kernel')[v]}: {err}") from None
                else:
                    picks = np.random.default_rng([seed, 7]).permutation(train.size)[:k_max]
                for b, k in enumerate(budgets):
                    pred = _pad_fit_predict(e_pool, y[train], picks[:k], k_max, e_test, c, l2, seed)
                    acc[s, b, j] = float(np.mean(pred == y[test]))
                bar.update(1)
    finally:
        bar.close()
    return Sweep(tuple(budgets), tuple(seeds), SELECTORS, acc)


def plot_sweep(advice: Advice, path: str) -> str:
    """Draw the realized sweep (accuracy and ADV vs budget, mean +- std bands) to a PNG at ``path``."""
    if advice.sweep is None:
        raise ValueError("advice: has no sweep; call advise(..., sweep=True)")
    from matplotlib.figure import Figure  # no pyplot: no global backend state is touched
    from matplotlib.ticker import FixedLocator, NullLocator

    sw = advice.sweep
    ks = np.asarray(sw.budgets)
    fig = Figure(figsize=(10, 4), dpi=110)
    ax, ax2 = fig.subplots(1, 2)
    colors = {"input-fl": "tab:orange", "learner-fl": "tab:green", "random": "tab:gray"}
    for name in sw.selectors:
        mu, sd = sw.mean(name), sw.std(name)
        ax.plot(ks, mu, "o-", color=colors[name], label=name)
        ax.fill_between(ks, mu - sd, mu + sd, color=colors[name], alpha=0.2)
    ax.axhline(advice.learner_probe_acc, ls="--", color="tab:green", lw=1, label="learner probe, full budget")
    ax.axhline(advice.input_probe_acc, ls=":", color="tab:orange", lw=1, label="input probe, full budget")
    ax.set_xlabel("budget k")
    ax.set_ylabel("held-out accuracy (probe on learner features)")
    ax.set_title(f"selection geometry, {len(sw.seeds)} seeds")
    ax.legend(fontsize=8)
    adv = sw.advantage
    ax2.plot(ks, adv.mean(1), "o-", color="tab:purple")
    ax2.fill_between(ks, adv.mean(1) - adv.std(1), adv.mean(1) + adv.std(1), color="tab:purple", alpha=0.2)
    ax2.axhline(0.0, color="black", lw=0.8)
    for b in advice.budgets:
        ax2.annotate(b.verdict, (b.k, float(adv[sw.budgets.index(b.k)].mean())), textcoords="offset points",
                     xytext=(0, 8), ha="center", fontsize=8)
    for a in (ax, ax2):
        a.set_xscale("log")
        a.xaxis.set_major_locator(FixedLocator(ks))
        a.xaxis.set_minor_locator(NullLocator())
        a.set_xticklabels([str(k) for k in ks])
        a.margins(x=0.08)
    ax2.set_xlabel("budget k")
    ax2.set_ylabel("ADV = learner-FL - input-FL")
    ax2.set_title(f"gap {advice.gap:+.3f}, misalignment {advice.misalignment:.2f}, r_eff {advice.r_eff:.0f}")
    fig.tight_layout()
    fig.savefig(path)
    return path
