"""The realized check of :func:`kcover.advise` (``sweep=True``): does the verdict hold on real selections?

For each seed (a fresh stratified split; the pool is its training part), k_max = max(budgets)
points are picked by lazy facility location in the input geometry and in the learner geometry
(the kernels and bandwidths of the diagnostic), and uniformly at random. Greedy picks are
nested, so the first k are the size-k selection. The fixed probe, on learner features
standardized with pool statistics and padded to k_max rows with zero weights (one
compilation), is fit on each subset and scored on the held-out part.
ADV = acc(learner-FL) - acc(input-FL), mean and spread over seeds.

Cost: with the two N x N Gram matrices given (``full``), two greedy runs on slices per seed;
without, two matrix-free selections (:func:`kcover.select`) per seed; then 3 |budgets| small
probe fits per seed.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

from kcover.advisor.decide import PoolFit
from kcover.kernels import Kernel
from kcover.labels import stratified_split
from kcover.learn.probe import fit_probe, predict_probe, standardizer
from kcover.selection.entry import select
from kcover.selection.facility_location import facility_location_dense

SELECTORS = ("input-fl", "learner-fl", "random")


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

    def joined(self, other: Sweep) -> Sweep:
        """This sweep and ``other`` (same budgets and selectors, other seeds) as one, seeds side by side."""
        if other.budgets != self.budgets or other.selectors != self.selectors:
            raise ValueError("other: must have the same budgets and selectors")
        return Sweep(
            self.budgets,
            self.seeds + other.seeds,
            self.selectors,
            np.concatenate([self.accuracy, other.accuracy], axis=2),
        )

    @property
    def advantage(self) -> np.ndarray:
        """ADV = learner-FL - input-FL per budget and seed, (budgets, seeds)."""
        return self.accuracy[self.selectors.index("learner-fl")] - self.accuracy[self.selectors.index("input-fl")]


def _pad_fit_predict(e_pool, y_pool, picks, k_max, e_test, c, l2, seed) -> np.ndarray:
    k = picks.size
    rows = np.concatenate([picks, np.full(k_max - k, picks[0], picks.dtype)])
    weight = np.concatenate([np.ones(k, np.float32), np.zeros(k_max - k, np.float32)])
    probe = fit_probe(
        e_pool[rows], y_pool[rows], num_classes=c, l2=l2, seed=seed, standardize=False, sample_weight=weight
    )
    return predict_probe(probe, e_test)


def _fl_picks(
    x: np.ndarray,
    kernel: Kernel,
    full: np.ndarray | None,
    pool: np.ndarray,
    k: int,
    method: str = "lazy",
    seed: int = 0,
) -> np.ndarray:
    """Picks (k,) by ``method`` (as ``kcover select``) from the rows ``pool`` of ``x``, covering the pool.

    Facility location selects on the slice of ``full`` (the Gram matrix) when given; k-center and
    a missing ``full`` go through :func:`kcover.select` on the features.
    """
    if full is not None and method != "kcenter":
        return facility_location_dense(
            full[np.ix_(pool, pool)], k, method=method, floor=kernel.floor, seed=seed
        ).indices
    if method == "stochastic" or method == "kcenter":
        return select(x[pool], k, method=method, kernel=kernel, seed=seed).indices
    return select(x[pool], k, method=method, kernel=kernel).indices


def realized_sweep(
    x_in: np.ndarray,
    x_l: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    budgets: tuple[int, ...],
    seeds: tuple[int, ...],
    test_fraction: float,
    kernels: tuple[Kernel, Kernel],
    full: tuple[np.ndarray, np.ndarray] | None,
    l2: float,
    progress: bool,
    selectors: tuple[str, ...] = SELECTORS,
    desc: str = "kcover sweep",
    method: str = "lazy",
    subpool: float = 1.0,
) -> Sweep:
    """Input-FL vs learner-FL vs random at ``budgets`` over ``seeds``; see the module docstring.

    ``x_in`` (N, d_in), ``x_l`` (N, d_l), class ids ``y`` (N,); ``kernels`` and ``full`` (the two
    N x N Gram matrices, or None) are (input, learner). ``selectors``: a subset of
    :data:`SELECTORS` (the pilot of :func:`kcover.advise` runs the two facility locations only).
    ``progress``: a tqdm bar on stderr, labelled ``desc``. ``method``: the selector of both
    geometries (``kcover select --method``; its picks must nest, as greedy picks do). ``subpool``
    < 1: each seed selects from that share of its training part only (a seeded random subset,
    nested across shares: the prefix of one permutation) and scores on the same held-out part. Seeds are
    independent: a sweep over
    seeds a + b holds the sweeps over a and over b side by side.
    """
    from tqdm.auto import tqdm

    unknown = [s for s in selectors if s not in SELECTORS]
    if unknown or not selectors:
        raise ValueError(f"selectors: must be a non-empty subset of {SELECTORS}, got {selectors}")
    selectors = tuple(s for s in SELECTORS if s in selectors)
    c = num_classes
    k_max = max(budgets)
    acc = np.zeros((len(selectors), len(budgets), len(seeds)))
    bar = tqdm(total=len(seeds) * len(selectors), desc=desc, file=sys.stderr, disable=not progress, leave=False)
    try:
        for j, seed in enumerate(seeds):
            train, test = stratified_split(y, test_fraction, seed)
            if subpool < 1.0:
                order = np.random.default_rng([seed, 11]).permutation(train.size)
                train = np.sort(train[order[: max(1, round(subpool * train.size))]])
            if k_max > train.size:
                raise ValueError(f"budgets: {k_max} exceeds the {train.size} training points of seed {seed}")
            e_pool = x_l[train]
            mean, scale = (
                np.asarray(a) for a in standardizer(e_pool, np.full(train.size, 1.0 / train.size, np.float32))
            )
            e_pool = (e_pool - mean) / scale
            e_test = (x_l[test] - mean) / scale
            for s, name in enumerate(selectors):
                bar.set_postfix_str(f"seed {seed}, {name}")
                if name in ("input-fl", "learner-fl"):
                    v = 0 if name == "input-fl" else 1
                    try:
                        picks = _fl_picks(
                            (x_in, x_l)[v], kernels[v], None if full is None else full[v], train, k_max, method, seed
                        )
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
    return Sweep(tuple(budgets), tuple(seeds), selectors, acc)


class Pilot(NamedTuple):
    """The pilot of :func:`kcover.advise`: a two-selector sweep over repeated splits of the labelled pool.

    ``sweep`` holds input-FL and learner-FL accuracies (2, pilot budgets, splits); ``points`` rows
    took part (a stratified subsample of at most ``pilot_points``), each split selecting from about
    ``selection_points`` of them and scoring on ``scoring_points``; ``budgets`` are the user's
    budgets piloted (those whose pilot budget fits in the selection part) and ``pilot_budgets``
    the budget each ran at on the pilot (:func:`kcover.advisor.pilot_rules.pilot_budget`, for a user
    pool of ``pool_size`` points); ``seconds`` its wall time.
    """

    sweep: Sweep
    points: int
    selection_points: int
    scoring_points: int
    budgets: tuple[int, ...]
    seconds: float
    pilot_budgets: tuple[int, ...] = ()
    pool_size: int = 0
    subpools: tuple[tuple[int, Sweep], ...] = ()

    def fit_at(self, k: int) -> PoolFit | None:
        """ADV at the user's budget ``k`` extrapolated from the sub-pools to ``pool_size`` (None without two sizes).

        The points: the mean ADV over splits on each sub-pool holding the pilot's budget, and on the
        whole selection part; :func:`kcover.advisor.decide.extrapolate` fits a + b ln n.
        """
        from kcover.advisor.decide import extrapolate

        kp = self.pilot_budgets[self.budgets.index(k)] if self.pilot_budgets else k
        points = [(size, sw.advantage[sw.budgets.index(kp)]) for size, sw in self.subpools if kp in sw.budgets]
        points.append((self.selection_points, self.advantage_at(k)))
        if len({size for size, _ in points}) < 2:
            return None
        ses = [float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else 0.0 for _, a in points]
        return extrapolate(
            [size for size, _ in points],
            [float(a.mean()) for _, a in points],
            ses,
            max(self.pool_size, self.selection_points),
        )

    def advantage_at(self, k: int) -> np.ndarray:
        """ADV over the splits (splits,) for the user's budget ``k`` (one of ``budgets``)."""
        kp = self.pilot_budgets[self.budgets.index(k)] if self.pilot_budgets else k
        return self.sweep.advantage[self.sweep.budgets.index(kp)]


def pilot_rows(y: np.ndarray, points: int, seed: int) -> np.ndarray:
    """Sorted rows (m,) of a seeded stratified subsample of at most ``points`` of the labels ``y`` (N,)."""
    n = y.size
    if n <= points:
        return np.arange(n)
    _, rows = stratified_split(y, points / n, seed)
    return rows


def run_pilot(
    x_in: np.ndarray,
    x_l: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    budgets: tuple[int, ...],
    kernels: tuple[Kernel, Kernel],
    *,
    test_fraction: float,
    splits: int,
    max_splits: int,
    points: int,
    margin: float,
    seed: int,
    l2: float,
    dense_limit: int,
    full: tuple[np.ndarray, np.ndarray] | None,
    progress: bool,
    pool_size: int | None = None,
    budget_rule: str = "same",
    method: str = "lazy",
    subpools: tuple[float, ...] = (),
) -> Pilot | None:
    """Measure ADV at ``budgets`` on ``splits`` stratified splits, adding ``splits`` more while undecided.

    ``x_in`` (N, d_in), ``x_l`` (N, d_l), ids ``y`` (N,). The rows are a stratified subsample of at
    most ``points`` (all of them when N <= points, and then ``full``, the two N x N Gram matrices
    or None, is reused); split j has seed ``seed + j``. After each round, a budget whose mean ADV
    lies within two standard errors of ``margin`` (:func:`kcover.advisor.pilot_rules.pilot_undecided`)
    asks for another round of ``splits`` splits, up to ``max_splits`` in all. Budgets larger than
    the smallest selection part are not piloted; returns None when none fits. The user's budget
    k on a pool of ``pool_size`` points (default N) runs on the pilot at
    :func:`kcover.advisor.pilot_rules.pilot_budget` with ``budget_rule``. Both geometries select with
    ``method`` and their ``kernels``: the settings the user will select with. ``subpools`` (shares
    of the selection part, e.g. 1/4, 1/2, 3/4): the same splits again selecting from that share
    only, for the extrapolation of :meth:`Pilot.fit_at` (each costs about one more pilot).
    Cost per split: two lazy greedy runs on slices of the pilot's Gram matrices (formed once,
    8 m^2 bytes for m <= ``dense_limit`` rows; matrix-free above) and 2 |budgets| probe fits.
    """
    import time

    from kcover.advisor.pilot_rules import pilot_budget, pilot_undecided, pilot_verdict
    from kcover.kernels import gram

    t0 = time.perf_counter()
    rows = pilot_rows(y, points, seed)
    xi, xl, yp = x_in[rows], x_l[rows], y[rows]
    m = rows.size
    sizes = [stratified_split(yp, test_fraction, seed + j)[0].size for j in range(min(splits, 3))]
    n_sel = min(sizes)
    pool_size = y.size if pool_size is None else int(pool_size)
    scaled = {k: pilot_budget(k, num_classes, n_sel, pool_size, budget_rule) for k in budgets}
    piloted = tuple(k for k in budgets if scaled[k] <= n_sel)
    if not piloted:
        return None
    ks = tuple(sorted({scaled[k] for k in piloted}))
    if full is not None and m == y.size:
        grams = full
    elif m <= dense_limit:
        grams = (np.asarray(gram(xi, kernel=kernels[0])), np.asarray(gram(xl, kernel=kernels[1])))
    else:
        grams = None

    def measured(budgets: tuple[int, ...], seeds: tuple[int, ...], desc: str, subpool: float = 1.0) -> Sweep:
        """Both geometries' facility location on the pilot rows, at ``budgets``, one split a seed."""
        return realized_sweep(
            *(xi, xl, yp, num_classes, budgets, seeds, test_fraction, kernels, grams, l2, progress),
            selectors=("input-fl", "learner-fl"),
            desc=desc,
            method=method,
            subpool=subpool,
        )

    done = 0
    sweep = None
    while True:
        more = measured(ks, tuple(range(seed + done, seed + done + splits)), "kcover pilot")
        sweep = more if sweep is None else sweep.joined(more)
        done += splits
        undecided = any(pilot_undecided(pilot_verdict(a, margin)) for a in sweep.advantage)
        if not undecided or done + splits > max_splits:
            break
    seeds = sweep.seeds
    subs = []
    for share in subpools:
        size = round(share * n_sel)
        fits = tuple(k for k in ks if k <= size)
        if fits:
            subs.append((size, measured(fits, seeds, f"kcover pilot ({share:.2f} of the pool)", subpool=share)))
    return Pilot(
        sweep,
        int(m),
        int(n_sel),
        int(m - n_sel),
        piloted,
        time.perf_counter() - t0,
        tuple(scaled[k] for k in piloted),
        pool_size,
        tuple(subs),
    )
