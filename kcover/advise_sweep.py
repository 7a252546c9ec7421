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

from kcover.facility_location import facility_location_dense
from kcover.kernels import Kernel
from kcover.labels import stratified_split
from kcover.probe import fit_probe, predict_probe, standardizer
from kcover.selection import select

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

    @property
    def advantage(self) -> np.ndarray:
        """ADV = learner-FL - input-FL per budget and seed, (budgets, seeds)."""
        return self.accuracy[self.selectors.index("learner-fl")] - self.accuracy[self.selectors.index("input-fl")]


def _pad_fit_predict(e_pool, y_pool, picks, k_max, e_test, c, l2, seed) -> np.ndarray:
    k = picks.size
    rows = np.concatenate([picks, np.full(k_max - k, picks[0], picks.dtype)])
    weight = np.concatenate([np.ones(k, np.float32), np.zeros(k_max - k, np.float32)])
    probe = fit_probe(e_pool[rows], y_pool[rows], num_classes=c, l2=l2, seed=seed, standardize=False,
                      sample_weight=weight)
    return predict_probe(probe, e_test)


def _fl_picks(x: np.ndarray, kernel: Kernel, full: np.ndarray | None, pool: np.ndarray, k: int) -> np.ndarray:
    """Lazy facility-location picks (k,) from the rows ``pool`` of ``x``, covering the pool."""
    if full is not None:
        return facility_location_dense(full[np.ix_(pool, pool)], k, method="lazy", floor=kernel.floor).indices
    return select(x[pool], k, method="lazy", kernel=kernel).indices


def realized_sweep(x_in: np.ndarray, x_l: np.ndarray, y: np.ndarray, num_classes: int, budgets: tuple[int, ...],
                   seeds: tuple[int, ...], test_fraction: float, kernels: tuple[Kernel, Kernel],
                   full: tuple[np.ndarray, np.ndarray] | None, l2: float, progress: bool) -> Sweep:
    """Input-FL vs learner-FL vs random at ``budgets`` over ``seeds``; see the module docstring.

    ``x_in`` (N, d_in), ``x_l`` (N, d_l), class ids ``y`` (N,); ``kernels`` and ``full`` (the two
    N x N Gram matrices, or None) are (input, learner). ``progress``: a tqdm bar on stderr.
    """
    from tqdm.auto import tqdm

    c = num_classes
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
            mean, scale = (np.asarray(a) for a in standardizer(e_pool, np.full(train.size, 1.0 / train.size,
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
