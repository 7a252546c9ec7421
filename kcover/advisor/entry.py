"""Should you pay for learner-geometry selection? :func:`advise`: a pilot that measures, and the a-priori rule.

The advantage of selecting in the learner's geometry over the cheap input geometry is a product
of three conditions (paper, section 3, Eq. 2): (A) the learner kernel differs from the input
kernel, (B) the labels are not readable from the input features (the probe gap), and (C) the
budget binds. :func:`advise` measures each on the data before selecting anything and, by
default, measures the advantage itself with a pilot (input-FL vs learner-FL with the fixed probe
on repeated stratified splits of the labelled pool), whose verdict decides; the a-priori verdict
(repaired on shipped data: docs/advise.md) stays beside it as the explanation. One concern a module:

* :mod:`kcover.advisor.measure` -- the measurements: probes and gap, alignment, spectra, label tails,
  nearest-neighbour label agreement;
* :mod:`kcover.advisor.rules` -- the a-priori verdict rules and their thresholds, numbers to words (no JAX);
* :mod:`kcover.advisor.pilot_rules` -- the pilot's verdict, budget and confidence (no JAX);
* :mod:`kcover.advisor.sweep` -- the realized sweep (input-FL vs learner-FL vs random) and the
  pilot (the same machinery, two selectors, repeated splits);
* :mod:`kcover.advisor.render` -- the JSON dict, the text report and the sweep figure;
* :mod:`kcover.labels` -- label encoding and the stratified split.

Cost, for N points, input width d_in, learner width d_l, C classes, m = min(N,
``spectral_points``): two full probes O(iterations N (d_in + d_l) C); (A) and (C) O(m^2 (d_in + d_l)
+ m^3) time and O(m^2) memory; the sweep O(N^2 (d_in + d_l)) once for the two N x N Gram matrices
(8 N^2 bytes; matrix-free above ``dense_limit``), then per seed two greedy runs on slices and
3 |budgets| small probe fits; the pilot the same on at most ``pilot_points`` rows, per split two
greedy runs and 2 |budgets| probe fits, 10 to ``pilot_max_splits`` splits.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from kcover import checks
from kcover.advisor.decide import with_decision
from kcover.advisor.measure import kernel_for, measure_geometry, probe_gap
from kcover.advisor.options import SUBPOOLS, AdviseOptions
from kcover.advisor.pilot_rules import pilot_verdict
from kcover.advisor.render import PATHS, advice_dict, advice_text
from kcover.advisor.rules import NN_MARGIN, BudgetAdvice, budget_verdict, default_budgets, with_pilot, with_realized
from kcover.advisor.sweep import Pilot, Sweep, realized_sweep, run_pilot
from kcover.labels import encode_labels, stratified_split


@dataclasses.dataclass(frozen=True)
class Advice:
    """The diagnostic's result. ``to_json()`` is the stable contract; ``summary()`` is for people.

    Attributes: the pool size ``n`` and split sizes; ``classes`` (names, sorted); condition (B):
    ``input_probe_acc``, ``learner_probe_acc``, ``gap`` (learner - input) and its paired
    standard error ``gap_se``; condition (A): ``alignment`` A(K_learner, K_input) (so
    ``alignment_gap`` = g = 1 - A) and ``centered_alignment`` (``misalignment`` = 1 - A_c);
    condition (C): ``r_eff`` (learner kernel) and ``r_eff_input``; ``budgets``, one
    :class:`BudgetAdvice` per k; ``sweep`` (or None); ``settings`` and ``timings`` (seconds);
    ``pilot`` (a :class:`Pilot`, or None with ``pilot=False``); ``nn_input`` and ``nn_learner``,
    the nearest-neighbour label agreement in each kernel.
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
    pilot: Pilot | None = None
    nn_input: float = float("nan")
    nn_learner: float = float("nan")

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

    def to_dict(self, paths: tuple[str, str] = PATHS) -> dict:
        """A JSON-ready dict: the keys documented for ``kcover advise --json`` are stable.

        ``paths``: the (input, learner) feature files the ``select_command`` of each budget names.
        """
        return advice_dict(self, paths)

    def to_json(self, indent: int | None = None) -> str:
        """One JSON object (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self, verbose: bool = False, paths: tuple[str, str] = PATHS) -> str:
        """A readable report: the three conditions, a verdict per budget (``verbose``: all reasons), the
        selection settings assumed and the ``kcover select`` command per budget (naming ``paths``)."""
        return advice_text(self, verbose, paths)


def _budgets(budgets: Any, num_classes: int, available: int) -> tuple[int, ...]:
    if budgets is None:
        return default_budgets(num_classes, available)
    return tuple(sorted({int(b) for b in checks.budget_list(budgets, available, "budgets")}))


def advise(
    input_features: Any,
    learner_features: Any,
    labels: Any,
    budgets: Sequence[int] | int | None = None,
    options: AdviseOptions | None = None,
    **changes: Any,
) -> Advice:
    """Measure conditions (A), (B), (C) and give a verdict per budget; optionally realize it.

    Args:
      input_features: (N, d_in) the cheap geometry (pixels, n-gram hashes).
      learner_features: (N, d_l) the learner's geometry (embeddings, gradients), same rows.
      labels: (N,) class labels, any ints or strings (mapped to 0..C-1 in sorted order).
      budgets: the k to advise on, each in [1, N_train]; default C, 2C, 4C, 8C capped by N_train.
      options: an :class:`~kcover.advisor.options.AdviseOptions` (default: its defaults);
        ``changes`` are applied on top (``advise(x, e, y, progress=False)``). Its fields:

      test_fraction: held-out share of each class for the probes.
      seeds: number of seeds (0..seeds-1) or the seeds; the first seeds the diagnostic's split
        and the spectral subsample, each seeds one split of the sweep.
      sweep: also run input-FL vs learner-FL vs random at the budgets (:mod:`kcover.advisor.sweep`).
      input_kernel, learner_kernel: "rbf" (default), "cosine" or "linear", the kernels you will
        select with in each geometry; used for alignment, r_eff, the pilot's and the sweep's selection.
      input_bandwidth, learner_bandwidth: the rbf bandwidths (default None: the median heuristic
        on the features, as ``kcover select`` computes it).
      method: the selector you will use, as ``kcover select --method``: "lazy" (default),
        "naive", "stochastic" (facility location) or "kcenter"; the pilot and the sweep select with it.
      l2: the probe's ridge penalty. lam: ridge for r_eff, relative to trace(K / n).
      spectral_points: rows (seeded subsample) on which the Gram matrices for (A) and (C) are
        computed (the rbf median-heuristic bandwidths are ``kcover select``'s, on the features).
      dense_limit: with ``sweep`` and N <= dense_limit, both N x N Gram matrices are formed once
        (4 N^2 bytes each) and every seed selects from slices of them; above it, selection is
        matrix-free (:func:`kcover.select`), recomputing similarities per seed.
      gap_threshold, misalignment_threshold, tail_threshold: the a-priori rule's thresholds
        (:mod:`kcover.advisor.rules`).
      pilot: measure ADV before deciding (:func:`kcover.advisor.sweep.run_pilot`): at each budget,
        input-FL vs learner-FL with the fixed probe on ``pilot_splits`` stratified splits of the
        labelled rows (selection on 1 - ``test_fraction`` of them, scoring on the rest), more
        rounds of ``pilot_splits`` while a budget is within two standard errors of the margin,
        up to ``pilot_max_splits``. The pilot's verdict (pay when the mean ADV exceeds
        ``pilot_margin``) becomes the budget's verdict; the a-priori verdict stays beside it.
        Budgets keep their fraction of the pool (``pool_size``).
      pilot_points: the pilot runs on a stratified subsample of at most this many rows.
      pilot_test_fraction: the scoring share of each pilot split (default ``test_fraction``); a
        smaller share selects from more points, closer to the pool you will select from.
      pool_size: the size of the pool the budgets are for (the pool you will select from, which
        may be larger than the labelled rows); default N.
      a_priori: "repaired" (default; :func:`kcover.advisor.rules.repaired_verdict`, using the
        nearest-neighbour label agreements) or "former" (the rule before the calibration, which
        could answer "borderline").
      pilot_extrapolate: also run the pilot's splits on sub-pools of 1/4, 1/2 and 3/4 of its
        selection part and extrapolate ADV = a + b ln n to ``pool_size`` (:meth:`Pilot.fit_at`);
        the decision then uses the extrapolated gain, its interval widened by the fit's error.
      pilot_budgets: how a budget k on ``pool_size`` maps to the pilot's selection part of n_sel
        points (:func:`kcover.advisor.pilot_rules.pilot_budget`): "same" k, or "fraction",
        round(k n_sel / pool_size) but at least min(k, C).
      reach: measure the reach gap D(k) of :func:`kcover.reach_gap` per budget on the spectral
        subsample (``BudgetAdvice.reach_*``; two more eigendecompositions of that size), a
        predictor shown beside the verdict (docs/product-law.md), not used by it.
      progress: tqdm bars on stderr for the sweep and the pilot.

    Returns:
      an :class:`Advice`.
    """
    t_start = time.perf_counter()
    opts = (options or AdviseOptions()).replace(**changes) if changes else (options or AdviseOptions())
    x_in = checks.features(input_features, "input_features", dtype=np.float32)
    x_l = checks.features(learner_features, "learner_features", dtype=np.float32)
    n = x_in.shape[0]
    if x_l.shape[0] != n:
        raise ValueError(f"learner_features: has {x_l.shape[0]} rows but input_features has {n}")
    y, classes = encode_labels(labels, n)
    c = len(classes)
    if opts.pilot and opts.pool_size is not None and opts.pool_size < n:
        raise ValueError(f"pool_size: must be an integer of at least the {n} labelled rows, got {opts.pool_size}")
    seed = opts.seed_values[0]
    train, test = stratified_split(y, opts.test_fraction, seed)
    if test.size == 0:
        raise ValueError("labels: every class has a single point, so there is nothing to hold out")
    budgets = _budgets(budgets, c, train.size)
    timings = {}

    # (B): full-budget probes on the same split, paired per test point.
    t0 = time.perf_counter()
    acc_in, acc_l, gap_se = probe_gap(x_in, x_l, y, train, test, c, opts.l2, seed)
    timings["probes_s"] = time.perf_counter() - t0

    # (A) and (C): Gram matrices on a seeded subsample, kernels fixed for the whole run.
    t0 = time.perf_counter()
    kernels = (
        kernel_for(opts.kernel_names[0], x_in, opts.input_bandwidth),
        kernel_for(opts.kernel_names[1], x_l, opts.learner_bandwidth),
    )
    full_grams = n <= opts.dense_limit and (opts.sweep or (opts.pilot and n <= opts.pilot_points))
    geo = measure_geometry(
        x_in, x_l, y, c, kernels, opts.spectral_points, seed, opts.lam, full_grams, budgets if opts.reach else ()
    )
    timings["spectral_s"] = time.perf_counter() - t0

    m = geo.points
    repaired = opts.a_priori == "repaired"
    verdicts = tuple(
        budget_verdict(
            k,
            c,
            acc_l - acc_in,
            gap_se,
            1.0 - geo.centered_alignment,
            geo.r_eff,
            geo.r_eff_input,
            geo.input_tails[min(k, m)],
            geo.learner_tails[min(k, m)],
            opts.gap_threshold,
            opts.misalignment_threshold,
            opts.tail_threshold,
            nn_input=geo.nn_input if repaired else None,
            nn_learner=geo.nn_learner if repaired else None,
        )
        for k in budgets
    )
    if geo.reach is not None:
        verdicts = tuple(
            v._replace(
                reach_input=float(geo.reach[0, i]),
                reach_learner=float(geo.reach[1, i]),
                reach_gap=float(geo.reach[2, i]),
            )
            for i, v in enumerate(verdicts)
        )

    result_pilot = None
    if opts.pilot:
        t0 = time.perf_counter()
        result_pilot = run_pilot(
            x_in,
            x_l,
            y,
            c,
            budgets,
            kernels,
            test_fraction=opts.scoring_fraction,
            splits=opts.pilot_splits,
            max_splits=opts.max_splits,
            points=opts.pilot_points,
            margin=opts.pilot_margin,
            seed=1000 * (seed + 1),
            l2=opts.l2,
            dense_limit=opts.dense_limit,
            full=geo.full,
            progress=opts.progress,
            pool_size=opts.pool_size,
            budget_rule=opts.pilot_budgets,
            method=opts.method,
            subpools=SUBPOOLS if opts.pilot_extrapolate else (),
        )
        timings["pilot_s"] = time.perf_counter() - t0
        if result_pilot is not None:
            rp = result_pilot
            verdicts = tuple(
                with_pilot(
                    v,
                    pilot_verdict(rp.advantage_at(v.k), opts.pilot_margin)._replace(
                        k=rp.pilot_budgets[rp.budgets.index(v.k)]
                    ),
                )
                if v.k in rp.budgets
                else v
                for v in verdicts
            )
            finite = repaired and np.isfinite(geo.nn_input) and np.isfinite(geo.nn_learner)
            label_local = bool(geo.nn_learner >= geo.nn_input - NN_MARGIN) if finite else None
            verdicts = tuple(
                with_decision(
                    v,
                    opts.pilot_margin,
                    label_local,
                    rp.fit_at(v.k) if opts.pilot_extrapolate and v.k in rp.budgets else None,
                )
                for v in verdicts
            )

    result_sweep = None
    if opts.sweep:
        t0 = time.perf_counter()
        result_sweep = realized_sweep(
            x_in,
            x_l,
            y,
            c,
            budgets,
            opts.seed_values,
            opts.test_fraction,
            kernels,
            geo.full,
            opts.l2,
            opts.progress,
            method=opts.method,
        )
        timings["sweep_s"] = time.perf_counter() - t0
        sw = result_sweep
        verdicts = tuple(
            with_realized(v, sw.mean("learner-fl")[i], sw.mean("input-fl")[i], sw.mean("random")[i], sw.advantage[i])
            for i, v in enumerate(verdicts)
        )
    timings["total_s"] = time.perf_counter() - t_start
    settings = opts.settings(m, n if opts.pool_size is None else opts.pool_size, kernels)
    return Advice(
        n,
        int(train.size),
        int(test.size),
        classes,
        acc_in,
        acc_l,
        acc_l - acc_in,
        gap_se,
        geo.alignment,
        geo.centered_alignment,
        geo.r_eff,
        geo.r_eff_input,
        verdicts,
        result_sweep,
        settings,
        timings,
        result_pilot,
        geo.nn_input,
        geo.nn_learner,
    )
